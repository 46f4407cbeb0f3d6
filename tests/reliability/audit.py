"""Invariants checked from the simulator's own state against the journal (shared by chaos and crash runs)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import Confirmation, OrderRecord, TradeRecord
from tradebot.care.trader import CLOSE_PREFIX, close_link_reason, entry_link_id
from tradebot.states import CloseReason

CENT = Decimal("0.01")
ZERO = Decimal(0)


def rows(db: Engine, model: type) -> list[Any]:
    with session_scope(db) as s:
        out = list(s.exec(select(model)).all())
        for r in out:
            s.expunge(r)
        return out


def unprotected(state: dict[str, Any]) -> list[str]:
    """Open exchange positions with no stop that acts now: neither a stop-loss nor an ACTIVE trailing stop (one with
    an activation price does nothing until that price trades, position/trading-stop.mdx; the simulator says)."""
    bad = []
    for p in state["positions"]:
        trailing = Decimal(p["trailingStop"] or "0") > 0 and state["trailing_active"][p["symbol"]]
        if Decimal(p["size"] or "0") > 0 and not (Decimal(p["stopLoss"] or "0") > 0 or trailing):
            bad.append(f"{p['symbol']} {p['side']} {p['size']}")
    return bad


def expected_reason(stop_order_types: set[str], links: set[str], trade: TradeRecord) -> str:
    """The close reason the exchange's own executions imply (independent of the bot's reading)."""
    if "TrailingStop" in stop_order_types:
        return "trailing_stop"
    if "TakeProfit" in stop_order_types:
        return "take_profit"
    if "StopLoss" in stop_order_types:
        last = (trade.stop_history or [{}])[-1].get("reason")
        return {"trailing": "trailing_stop", "breakeven": "breakeven_stop"}.get(last, "stop_loss")
    bot = {close_link_reason(link) for link in links if link.startswith(CLOSE_PREFIX)}
    if bot:  # the bot's reduce-only close names its reason in its orderLinkId
        return "unprotected" if CloseReason.UNPROTECTED in bot else "manual"
    return "unknown"


def owner(row: dict[str, Any], closed: list[TradeRecord]) -> TradeRecord | None:
    """The closed trade a closed-pnl row belongs to: same symbol and position side, created from the trade's start
    (adoption) to its close (a hand reduction before the final close is the trade's too)."""
    created = int(row["createdTime"])
    side = "Buy" if row["side"] == "Sell" else "Sell"
    for t in closed:
        start = t.adopted_at or t.entry_time
        if (t.symbol == row["symbol"] and t.side == side and t.exit_time is not None
                and int(start.timestamp() * 1000) <= created <= int(t.exit_time.timestamp() * 1000)):
            return t
    return None


@dataclass
class Audit:
    """What the exchange says happened vs what the journal says; ``problems`` must be empty."""

    entry_orders: int = 0  # distinct entry orders that filled on the exchange
    duplicate_entries: int = 0  # extra entry orders for one intent (one orderLinkId root)
    entries_without_approval: int = 0
    confirmations: int = 0
    approved: int = 0
    conf_status: dict[str, int] = field(default_factory=dict)
    trades_closed: int = 0
    trades_open: int = 0
    adopted: int = 0
    journal_pnl: Decimal = ZERO
    sim_pnl: Decimal = ZERO
    closes_on_exchange: int = 0
    closes_unjournaled: int = 0
    closes_journaled_twice: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    reason_mismatches: list[str] = field(default_factory=list)
    open_mismatch: list[str] = field(default_factory=list)
    unprotected_now: list[str] = field(default_factory=list)
    orphan_entry_records: int = 0  # journal order rows still "Sent" with no outcome
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "entry orders on the exchange": self.entry_orders,
            "duplicate entries": self.duplicate_entries,
            "entries without an approved confirmation": self.entries_without_approval,
            "confirmations (approved)": f"{self.confirmations} ({self.approved})",
            "confirmation outcomes": dict(sorted(self.conf_status.items())),
            "closed trades (journal)": self.trades_closed,
            "closes on the exchange (closed-pnl rows)": self.closes_on_exchange,
            "closes not journaled / journaled twice": f"{self.closes_unjournaled} / {self.closes_journaled_twice}",
            "close reasons": dict(sorted(self.reasons.items())),
            "close reason mismatches vs exchange stopOrderType": len(self.reason_mismatches),
            "adopted (unknown) positions": self.adopted,
            "journal realised PnL": f"{self.journal_pnl.quantize(CENT)}",
            "simulator closed-pnl sum": f"{self.sim_pnl.quantize(CENT)}",
        }


def audit(state: dict[str, Any], db: Engine) -> Audit:
    """Compare ``sim.state()`` with the journal in ``db`` (confirm mode: every entry needs an approval)."""
    a = Audit()
    trades = rows(db, TradeRecord)
    confs = rows(db, Confirmation)
    orders = rows(db, OrderRecord)
    execs = [e for e in state["executions"] if e["execType"] == "Trade"]

    # -- entries: one exchange order per approved confirmation (auto-mode roots are symbol+bar)
    by_link: dict[str, set[str]] = defaultdict(set)
    for e in execs:
        if e["orderLinkId"].startswith("en-"):
            by_link[e["orderLinkId"]].add(e["orderId"])
    a.entry_orders = sum(len(v) for v in by_link.values())
    a.duplicate_entries = sum(len(v) - 1 for v in by_link.values())
    approved_links = {entry_link_id(c.id): c for c in confs if c.decided_by is not None}
    a.confirmations, a.approved = len(confs), sum(1 for c in confs if c.decided_by is not None)
    for c in confs:
        a.conf_status[c.status] = a.conf_status.get(c.status, 0) + 1
    a.entries_without_approval = sum(1 for link in by_link if link not in approved_links)
    if a.duplicate_entries:
        a.problems.append(f"{a.duplicate_entries} duplicate entry orders: "
                          f"{ {k: sorted(v) for k, v in by_link.items() if len(v) > 1} }")
    if a.entries_without_approval:
        a.problems.append(f"{a.entries_without_approval} entries without an approved confirmation")
    executed_twice = [c.id for c in confs if sum(1 for t in trades if t.confirmation_id == c.id) > 1]
    if executed_twice:
        a.problems.append(f"confirmations with more than one trade: {executed_twice}")

    # -- closes: every closed-pnl row journaled once, with the exchange's reason and PnL
    closed = [t for t in trades if t.status == "closed"]
    a.trades_closed, a.trades_open = len(closed), len(trades) - len(closed)
    a.adopted = sum(1 for t in trades if t.adopted)
    a.journal_pnl = sum((t.pnl or ZERO for t in closed), ZERO)
    a.sim_pnl = sum((Decimal(r["closedPnl"]) for r in state["closed_pnl"]), ZERO)
    a.closes_on_exchange = len(state["closed_pnl"])
    exit_ids = [t.exit_order_id for t in closed]
    a.closes_journaled_twice = len(exit_ids) - len(set(exit_ids))
    a.closes_unjournaled = sum(1 for r in state["closed_pnl"] if owner(r, closed) is None)
    if a.journal_pnl.quantize(CENT) != a.sim_pnl.quantize(CENT):
        a.problems.append(f"journal PnL {a.journal_pnl} != simulator closed-pnl {a.sim_pnl}")
    if a.closes_unjournaled or a.closes_journaled_twice:
        a.problems.append(f"closes not journaled: {a.closes_unjournaled}, twice: {a.closes_journaled_twice}")
    exec_by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in execs:
        exec_by_order[e["orderId"]].append(e)
    for t in closed:
        a.reasons[t.reason or "?"] = a.reasons.get(t.reason or "?", 0) + 1
        ex = exec_by_order.get(t.exit_order_id or "", [])
        want = expected_reason({e["stopOrderType"] for e in ex if e["stopOrderType"]},
                               {e["orderLinkId"] for e in ex if e["orderLinkId"]}, t)
        if want != t.reason:
            a.reason_mismatches.append(f"trade {t.id}: journal {t.reason}, exchange says {want}")
    if a.reason_mismatches:
        a.problems.append(f"close reasons differ from the exchange: {a.reason_mismatches[:5]}")

    # -- what is open now: every exchange position tracked by exactly one open trade, and protected
    live = {p["symbol"]: p for p in state["positions"] if Decimal(p["size"] or "0") > 0}
    open_by_symbol: dict[str, list[TradeRecord]] = defaultdict(list)
    for t in trades:
        if t.status == "open":
            open_by_symbol[t.symbol].append(t)
    for sym in set(live) | set(open_by_symbol):
        p, ts = live.get(sym), open_by_symbol.get(sym, [])
        if p is None or len(ts) != 1 or ts[0].side != p["side"] or ts[0].qty != Decimal(p["size"]):
            a.open_mismatch.append(f"{sym}: exchange {p and (p['side'], p['size'])}, "
                                   f"journal {[(t.side, str(t.qty)) for t in ts]}")
    a.unprotected_now = unprotected(state)
    a.orphan_entry_records = sum(1 for o in orders if o.purpose == "entry" and o.status in ("Sent", "Unknown"))
    return a


def settle_problems(a: Audit) -> list[str]:
    """Problems including the end state (call when the bot has had a chance to catch up)."""
    out = list(a.problems)
    if a.open_mismatch:
        out.append(f"exchange positions vs open journal trades: {a.open_mismatch}")
    if a.unprotected_now:
        out.append(f"unprotected positions: {a.unprotected_now}")
    return out
