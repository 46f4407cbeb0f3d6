"""The money invariants, as plain functions of the exchange's books (:mod:`tests.money.ledger`), the journal's rows
and what the machine recorded. Each returns the problems it finds (empty: the promise held).

Each kind of broken promise raises its own exception class, so hypothesis keeps (and shrinks) one failing example
per promise instead of folding them into one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from storage.models import Confirmation, TradeRecord
from tests.money.ledger import Books, Lifetime
from tradebot.care.stops import next_stop, update_best
from tradebot.care.trader import close_link_reason
from tradebot.events import ConfirmationExpired, ConfirmationNeeded, EntryFilled, PositionClosed
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument
from tradebot.sizing.risk import RiskParams
from tradebot.states import CloseReason, ExitReason

CENT = Decimal("0.01")
ENTRY_PREFIX = "en-"


class Broken(AssertionError):
    """A money promise did not hold."""


class Unprotected(Broken):
    """An open position without an active stop-loss on the exchange after a management cycle."""


class StopLoosened(Broken):
    """The stop-loss moved away from the price (not by the person)."""


class StopLate(Broken):
    """A price the streams brought left break-even or trailing undone on the exchange (no REST tick ran)."""


class CloseWrong(Broken):
    """A journaled close differs from the exchange's: PnL (to the cent), reason, or no such close there."""


class CloseMissing(Broken):
    """A close the exchange shows (all its closed-PnL rows visible) not journaled within a management cycle."""


class CloseTwice(Broken):
    """One exchange position journaled as more than one closed trade."""


class Untracked(Broken):
    """An open exchange position not tracked by exactly one open trade of its side and size, or a phantom trade."""


class RiskOverCard(Broken):
    """An approved entry that can lose more at its stop than its card said (after fees, one qtyStep of slack)."""


class RiskOverBalance(Broken):
    """An entry that can lose more at its stop than risk_pct of the balance at its approval (after fees)."""


class Duplicate(Broken):
    """An order or an alert sent twice, or an entry nobody approved."""


@dataclass(frozen=True)
class Approval:
    """What the machine saw when it approved an entry (a tap, or a signal in auto mode)."""

    available: Decimal  # the exchange's available balance at that moment
    risk_pct: Decimal  # the risk % the person set (config, /risk, Apply) at that moment
    conf_id: str | None  # the card tapped (None: auto mode)


@dataclass
class Record:
    """What the machine knows beyond the exchange and the journal."""

    risk_pct: Decimal
    approvals: dict[str, Approval] = field(default_factory=dict)  # by the entry's orderLinkId
    known: set[str] = field(default_factory=set)  # lifetimes the bot could see open (nothing lagging)
    floor: tuple[str, Decimal | None] | None = None  # (lifetime, the stop-loss level it may not loosen from)


def cent(x: Decimal | None) -> Decimal:
    return (x or Decimal(0)).quantize(CENT)


def differs(journal: Decimal | None, exchange: Decimal) -> bool:
    """Not equal to the cent (the wire's 10 decimals leave the sums a few 1e-10 apart, never half a cent)."""
    return abs((journal or Decimal(0)) - exchange) >= CENT / 2


# -- protection -------------------------------------------------------------------------------------------
def unprotected(b: Books) -> list[str]:
    """stopLoss set, or a trailing stop that is ACTIVE: one waiting for its activePrice does nothing until that
    price trades (position/trading-stop.mdx), so it protects nothing."""
    if not b.position_size or b.stop_loss > 0 or (b.trailing > 0 and b.trail_active):
        return []
    waiting = f" (trailing stop {b.trailing} waiting for its activePrice)" if b.trailing else ""
    return [f"{b.position_side} {b.position_size} has no stop-loss{waiting}"]


def tighter(side: Side, new: Decimal, old: Decimal) -> bool:
    """``new`` is at least as close to the price as ``old`` (higher for a long's stop)."""
    return new >= old if side is Side.BUY else new <= old


def loosened(b: Books, rec: Record) -> list[str]:
    """The open position's stop-loss never moves away from the price, except by the person (who resets the floor);
    updates the floor to the current level."""
    lt = b.open_lifetime
    if lt is None or b.position_side is None:
        rec.floor = None
        return []
    level = b.stop_loss if b.stop_loss > 0 else None
    key, floor = rec.floor if rec.floor and rec.floor[0] == lt.key else (lt.key, None)
    out = []
    if floor is not None and level is not None and not tighter(b.position_side, level, floor):
        out.append(f"{b.position_side} stop-loss {floor} → {level}")
    if level is not None and (floor is None or tighter(b.position_side, level, floor)):
        floor = level
    rec.floor = (key, floor)
    return out


def stop_late(b: Books, trade: TradeRecord | None, price: Decimal, params: RiskParams, inst: Instrument,
              fee: Decimal) -> list[str]:
    """After the streams delivered ``price`` (and nothing else ran): the open trade's stop-loss on the exchange is
    where break-even and trailing put it for this price (``tradebot.care.stops.next_stop`` moves it no further), judged
    from the journal's best price, which the bot's own (it also saw the stream's) can only exceed."""
    if (trade is None or not trade.atr or trade.atr <= 0 or b.position_side is None or b.lagging
            or str(b.position_side) != trade.side or b.position_size != trade.qty):
        return []
    best = update_best(b.position_side, trade.best_price, price)
    upd = next_stop(side=b.position_side, entry=trade.entry_price, current_sl=b.stop_loss or None, best_price=best,
                    last_price=price, atr=trade.atr, inst=inst, params=params, breakeven_done=trade.breakeven_done,
                    fee_rate=fee)
    if upd is None:
        return []
    return [f"{trade.side} at {price}: stop-loss {b.stop_loss or 'none'}, {upd.reason} wants {upd.new_sl}"]


# -- closes -----------------------------------------------------------------------------------------------
def expected_reason(lt: Lifetime, trade: TradeRecord) -> str:
    """Why the exchange says the position ended: the fill that flattened it."""
    last = lt.closes[-1]
    if last.exec_type == "BustTrade":
        return ExitReason.LIQUIDATION
    if last.stop_order_type == "TrailingStop":
        return ExitReason.TRAILING_STOP
    if last.stop_order_type == "TakeProfit":
        return ExitReason.TAKE_PROFIT
    if last.stop_order_type == "StopLoss":
        return ExitReason.of_stop((trade.stop_history or [{}])[-1].get("reason"))
    if close_link_reason(last.link_id) is CloseReason.UNPROTECTED:  # the bot's own close: a stop that could not be
        return ExitReason.UNPROTECTED  # set (the price already past it), named by its orderLinkId
    return ExitReason.MANUAL


def closes(b: Books, trades: list[TradeRecord], rec: Record) -> dict[type[Broken], list[str]]:
    """Each exchange position journaled once, with the exchange's closed PnL (every close row of it, to the cent)
    and reason; every close the bot could see journaled; Σ journal = Σ closedPnl."""
    out: dict[type[Broken], list[str]] = {CloseWrong: [], CloseTwice: [], CloseMissing: []}
    mapped: dict[str, list[TradeRecord]] = {}
    closed = [t for t in trades if t.status == "closed"]
    for t in closed:
        lt = b.lifetime_of(t.exit_order_id)
        if lt is None:
            out[CloseWrong].append(f"trade {t.id} journaled closed by {t.exit_order_id}, which closed nothing")
        else:
            mapped.setdefault(lt.key, []).append(t)
    for lt in b.lifetimes:
        ts = mapped.get(lt.key, [])
        if len(ts) > 1:
            out[CloseTwice].append(f"{lt.side} position journaled as trades {[t.id for t in ts]}")
        if ts:
            t = ts[0]
            if not lt.ended:
                out[CloseWrong].append(f"trade {t.id} journaled closed; the exchange still holds {lt.size}")
            elif differs(t.pnl, lt.pnl):
                out[CloseWrong].append(
                    f"trade {t.id} {t.side}: journal PnL {cent(t.pnl)} ({t.reason}, exit qty {t.exit_qty}) != the "
                    f"exchange's closedPnl {cent(lt.pnl)} over {len(lt.rows)} close(s) of "
                    f"{[str(e.closed_size) for e in lt.closes]}")
            elif t.reason != (want := expected_reason(lt, t)):
                out[CloseWrong].append(f"trade {t.id}: journal reason {t.reason}, the exchange's executions: {want}")
        elif lt.ended and lt.key in rec.known and lt.visible(b.hidden_from):
            out[CloseMissing].append(f"{lt.side} position closed on the exchange (closedPnl {cent(lt.pnl)}) "
                                     "not journaled")
    complete = all(lt.key in rec.known and lt.visible(b.hidden_from) for lt in b.lifetimes if lt.ended)
    journal = sum((t.pnl or Decimal(0) for t in closed), Decimal(0))
    exchange = sum((lt.pnl for lt in b.lifetimes if lt.ended), Decimal(0))
    if complete and not any(out.values()) and differs(journal, exchange):
        out[CloseWrong].append(f"Σ journal net PnL {cent(journal)} != Σ the exchange's closedPnl {cent(exchange)}")
    return out


def untracked(b: Books, trades: list[TradeRecord]) -> list[str]:
    """After a cycle with nothing lagging: the open position is tracked by exactly one open trade of its side and
    size, and no trade is open while the exchange is flat."""
    if b.lagging:
        return []
    have = [(str(t.side), t.qty) for t in trades if t.status == "open"]
    want = [(str(b.position_side), b.position_size)] if b.position_size else []
    if have == want:  # Decimal equality: 0.010 == 0.01
        return []
    return [f"exchange {[(s, str(q)) for s, q in want] or 'flat'}, journal open trades {[(s, str(q)) for s, q in have]}"]


# -- entries ----------------------------------------------------------------------------------------------
def risk(b: Books, rec: Record, cards: dict[str, Confirmation], step: Decimal) -> dict[type[Broken], list[str]]:
    """Loss at the entry's own stop-loss: qty × |entry − stop| + the entry's fee + the exit fee at the stop, against
    risk_pct × the balance at the approval and against the card, each with one qtyStep's worth of slack."""
    out: dict[type[Broken], list[str]] = {RiskOverCard: [], RiskOverBalance: [], Duplicate: []}
    for link, order in b.orders.items():
        fills = b.fills_of(order.order_id)
        if not link.startswith(ENTRY_PREFIX) or not fills:
            continue
        approval = rec.approvals.get(link)
        if approval is None:
            out[Duplicate].append(f"entry {link} filled without an approval")
            continue
        if not order.stop_loss:
            out[RiskOverBalance].append(f"entry {link} sent without a stop-loss")
            continue
        qty = sum((e.exec_qty for e in fills), Decimal(0))
        entry = sum((e.exec_qty * e.exec_price for e in fills), Decimal(0)) / qty
        sl, s = order.stop_loss, order.side.sign
        per_coin = s * (entry - sl) + b.taker * (entry + sl)
        loss = s * (entry - sl) * qty + sum((e.exec_fee for e in fills), Decimal(0)) + qty * sl * b.taker
        slack = step * per_coin
        allowed = approval.risk_pct / 100 * approval.available
        what = f"entry {link}: {order.side} {qty} @ {entry:.1f}, stop {sl}: loses {cent(loss)} at the stop"
        if loss > allowed + slack:
            out[RiskOverBalance].append(f"{what}, over {approval.risk_pct}% of {cent(approval.available)} "
                                        f"= {cent(allowed)} (+{cent(slack)} for one qtyStep)")
        card = cards.get(approval.conf_id or "")
        if card is not None and card.risk_usdt is not None and loss > card.risk_usdt + slack:
            out[RiskOverCard].append(f"{what}, the card said {cent(card.risk_usdt)} at {card.price} "
                                     f"(qty {card.qty}, stop {card.sl})")
    return out


def duplicate_alerts(events: list[Any]) -> list[str]:
    """Each card, fill, close and expiry is alerted once (over every process of the bot)."""
    keys: Counter[tuple[str, object]] = Counter()
    for e in events:
        if isinstance(e, ConfirmationNeeded | ConfirmationExpired):
            keys[(type(e).__name__, e.confirmation_id)] += 1
        elif isinstance(e, EntryFilled | PositionClosed):
            keys[(type(e).__name__, e.trade_id)] += 1
    return [f"{kind} {key} alerted {n} times" for (kind, key), n in keys.items() if n > 1]
