"""Pure rendering: service views and core events → Telegram-HTML text (escaped) + button rows, split at 4096.

The plain numbers (``num``, ``usdt``, ``pct``) are the core's (tradebot/text.py): its outcome texts use them too."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from handlers.render.readings import reading
from tradebot.events import (
    ConfirmationNeeded,
    EntryFailed,
    EntryFilled,
    ErrorEvent,
    Event,
    Health,
    Lifecycle,
    PositionClosed,
    ProtectionTripped,
    SignalEvent,
    StopMoved,
    UnknownPosition,
)
from tradebot.intents import DECISION_WORDS, UNKNOWN_DECISIONS, Button, ButtonAction, Buttons
from tradebot.side import Side
from tradebot.sizing.execution import fee_words
from tradebot.states import ExitReason
from tradebot.strategy.signal import Signal
from tradebot.text import num, pct, usdt

if TYPE_CHECKING:
    from tradebot.bybit.account_models import Position, Wallet
    from tradebot.chat.views import Overview, PnLView, PositionView, StatusView, TradeView
    from tradebot.states import StopMove
    from tradebot.strategy.params import StrategyParams

MAX_LEN = 4096
FEE_WARN_SHARE = Decimal("0.25")  # a card warns when round-trip fees at the stop exceed this share of its risk
SIDE_WORD: dict[str, str] = {s: s.word.upper() for s in Side}  # LONG/SHORT; str keys: views carry Bybit's text
SIDE_ICON: dict[str, str] = {Side.BUY: "🟢", Side.SELL: "🔴"}
REASONS = {"take_profit": "take-profit hit", "stop_loss": "stop-loss hit", "breakeven_stop": "break-even stop hit",
           "trailing_stop": "trailing stop hit",
           "liquidation": "LIQUIDATED", "adl": "auto-deleveraged", "manual": "closed manually",
           "unknown": "closed (reason unknown)", "unprotected": "closed: no stop could be set"}


@dataclass(frozen=True)
class Rendered:
    """One chat message: HTML text, inline buttons and (for cards) the confirmation it belongs to."""

    text: str
    buttons: Buttons = field(default_factory=list)
    confirmation_id: str | None = None


def exit_name(reason: str | None, stop_moves: Sequence[StopMove] = ()) -> str:
    """How a close reads: by what the stop was when it filled. Journal rows from before ``breakeven_stop``
    existed say ``stop_loss`` for every stop; their stop history names the stop they really hit."""
    if reason == ExitReason.STOP_LOSS and stop_moves:
        reason = ExitReason.of_stop(stop_moves[-1].reason)
    return REASONS.get(reason or "unknown", reason or "")


def result_words(pnl: Decimal) -> str:
    return f"profit {usdt(pnl, True)} USDT" if pnl > 0 else f"loss {usdt(pnl)} USDT" if pnl < 0 else "break-even 0.00 USDT"


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def exit_num(exit_price: Decimal | None, entry_price: Decimal) -> str:
    """An exit price for the eye: the qty-weighted average of several closes (51,168.394293125810635538262) shown
    at the entry's precision plus two places (51,168.39); the journal keeps it exact."""
    if exit_price is None:
        return num(None)
    places = max(0, -int(entry_price.normalize().as_tuple().exponent)) + 2
    return num(exit_price.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize())


def when(t: datetime | None) -> str:
    return "—" if t is None else t.strftime("%Y-%m-%d %H:%M UTC")


def split_message(text: str, limit: int = MAX_LEN) -> list[str]:
    """Split at line breaks so each part fits ``limit`` (renderers never let a tag span lines)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single huge line: cut it, never inside an &entity;
            cut = limit
            amp = line.rfind("&", 0, cut)
            if amp >= 0 and ";" not in line[amp:cut]:
                cut = amp
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:limit]]


def top_votes(signal: Signal, n: int = 3) -> str:
    """The largest contributions for the signal's own side: a BUY lists only votes for it (+), a SELL only votes
    for it (−); a HOLD the largest either way."""
    sign = {"BUY": 1, "SELL": -1}.get(signal.action, 0)
    votes = [v for v in sorted(signal.breakdown, key=lambda v: -abs(v.contribution))
             if v.contribution and (sign == 0 or v.contribution * sign > 0)][:n]
    return ", ".join(f"{esc(v.name)} {v.contribution:+.2f}" for v in votes) or "no strong contributors"


def _signed(x: float) -> str:
    return f"{round(x, 2) + 0.0:+.2f}"  # + 0.0: never "-0.00"


def signal_block(signal: Signal, detail: bool = False, params: StrategyParams | None = None) -> str:
    """The signal's head; with ``detail`` every indicator's reading (name, value, unit) and vote."""
    head = (f"<b>{esc(signal.symbol)}</b> {esc(signal.action)} · score <b>{signal.score:+.2f}</b> "
            f"(threshold ±{signal.threshold:g})")
    lines = [head, f"Bar {when(signal.time)} · close {num(signal.price)} USDT · ATR {num(signal.atr, 2)} USDT"]
    if not detail:
        lines.append(f"Top: {top_votes(signal)}")
        return "\n".join(lines)
    lines.append("Breakdown (weight × vote = contribution):")
    for v in sorted(signal.breakdown, key=lambda v: -abs(v.contribution)):
        note = f" — {esc(v.note)}" if v.note else ""
        state = "abstains" if v.abstained else f"{v.weight:g} × {_signed(v.vote)} = {_signed(v.contribution)}"
        lines.append(f"• {reading(v, signal.symbol, params)} → {state}{note}")
    return "\n".join(lines)


def confirmation_card(e: ConfirmationNeeded) -> Rendered:
    base = e.symbol.removesuffix("USDT")
    lines = [f"{SIDE_ICON.get(e.side, '')} <b>{SIDE_WORD.get(e.side, esc(e.side))} {esc(e.symbol)}</b> — approve?"]
    if e.manual_by is not None:
        by = f" (asked by {esc(e.manual_by)})" if e.manual_by else ""
        lines.append(f"✋ <b>Manual trade</b>{by}: sized, protected and managed as a signal's")
    if e.replaces:
        lines.append("<i>Fresh numbers: the price moved since the previous card.</i>")
    lines += [
        f"Price {num(e.price)} · size {num(e.qty)} {esc(base)} (notional {usdt(e.notional)} USDT)",
        f"Risk after fees <b>{usdt(e.risk_usdt)} USDT</b> ({pct(e.risk_pct)} of {esc(e.risk_base)}): a stop-out "
        "loses this",
        f"Fees in it {usdt(e.fees_usdt)} USDT ({esc(fee_words(e.maker, e.entry_fee_rate or e.fee_rate, e.fee_rate))})",
        f"SL {num(e.sl)} · TP {num(e.tp)} · reward:risk after fees {num(e.reward_risk, 2)}",
        *card_warnings(e),
        f"Liquidation {liquidation(e.liq_price, 'estimate')}",
        f"{'Signal now: ' if e.manual_by is not None else ''}Score {e.signal.score:+.2f} "
        f"(threshold ±{e.signal.threshold:g}): {top_votes(e.signal)}",
        f"Expires {e.expires_at.strftime('%H:%M:%S UTC')}",
    ]
    buttons = [[("✅ Approve", Button(ButtonAction.APPROVE, e.confirmation_id)),
                ("❌ Reject", Button(ButtonAction.REJECT, e.confirmation_id))]]
    return Rendered("\n".join(lines), buttons, e.confirmation_id)


def card_warnings(e: ConfirmationNeeded) -> list[str]:
    """The ⚠ lines a card must show: a size capped below the asked risk, a reward that does not pay the risk after
    fees, fees that eat more than FEE_WARN_SHARE of the risk."""
    out = []
    if e.capped and e.asked_pct is not None:
        out.append(f"⚠ Capped by leverage/margin: {pct(e.risk_pct)} instead of {pct(e.asked_pct)} "
                   f"(the size balance × leverage allows)")
    if e.reward_risk < 1:
        out.append(f"⚠ Reward:risk after fees {num(e.reward_risk, 2)} is below 1: the take-profit pays less than a "
                   "stop-out costs")
    if e.risk_usdt > 0 and e.fees_usdt > FEE_WARN_SHARE * e.risk_usdt:
        out.append(f"⚠ Fees take {pct(e.fees_usdt / e.risk_usdt * 100)} of the risk (over "
                   f"{pct(FEE_WARN_SHARE * 100)}): the stop is tight for the fees")
    return out


def liquidation(price: Decimal | None, source: str) -> str:
    """A liquidation price and where it comes from: Bybit's own ``liqPrice`` or our cross-margin estimate."""
    if source == "exchange":
        return f"{num(price)} (the exchange's figure)"
    if price is None:
        return "unknown (the wallet could not be read)"
    if price == 0:
        return "none: the wallet covers a fall to 0 (estimate, cross margin)"
    return f"≈ {num(price)} (estimate, cross margin)"


def resting_note(seconds: float) -> str:
    """The answer to an Approve whose entry rests as a maker limit first (the result comes as a card edit)."""
    return f"Approved. The entry rests as a PostOnly limit for up to {seconds:g} s; this card shows the result."


def card_result(card_text: str, status: str, text: str, by: str = "") -> str:
    """The card with its outcome appended (buttons are dropped by the edit)."""
    icon = {"executed": "✅", "rejected": "🚫", "expired": "⌛", "stale": "♻️", "failed": "❌",
            "executing": "⏳", "already": "ℹ️", "unknown": "ℹ️"}.get(status, "ℹ️")
    who = f" ({esc(by)})" if by else ""
    return f"{card_text}\n\n{icon} <b>{esc(status.capitalize())}</b>{who}: {esc(text)}"


def render_event(event: Event, card: str | None = None) -> Rendered | None:
    """Alert text for a core event; None for events that are not a new message (e.g. expiry edits). ``card``: the
    single-use token of a card whose buttons need one (an unknown position's)."""
    match event:
        case ConfirmationNeeded():
            return confirmation_card(event)
        case SignalEvent(signal=s, not_traded=why):
            after = f"\nNo card: {esc(why)}." if why else ""
            return Rendered(f"📡 Signal {signal_block(s)}{after}")
        case EntryFilled():
            trail = (f"\nTrailing: {num(event.trailing_distance)} from {num(event.trailing_active_price)}"
                     if event.trailing_distance else "")
            return Rendered(f"{SIDE_ICON.get(event.side, '')} <b>Filled</b> {SIDE_WORD.get(event.side, '')} "
                            f"{num(event.qty)} {esc(event.symbol)} @ {num(event.price)} (fee {usdt(event.fee)})\n"
                            f"SL {num(event.sl)} · TP {num(event.tp)}{trail}")
        case EntryFailed():
            return Rendered(f"❌ <b>{esc(event.symbol)} entry failed</b>: {esc(event.reason)}")
        case StopMoved():
            moved = {"breakeven": "moved to break-even", "trailing": "trailing"}.get(event.reason, event.reason)
            return Rendered(f"🛡 <b>{esc(event.symbol)}</b> stop {esc(moved)}: {num(event.old_sl)} → "
                            f"<b>{num(event.new_sl)}</b> (price {num(event.price)})")
        case PositionClosed():
            icon = "💰" if event.pnl > 0 else "🔻"
            return Rendered(f"{icon} <b>{esc(event.symbol)} closed</b> — {esc(exit_name(event.reason))}: "
                            f"{esc(result_words(event.pnl))}"
                            f"\n{SIDE_WORD.get(event.side, '')} {num(event.qty)} {num(event.entry_price)} → "
                            f"{exit_num(event.exit_price, event.entry_price)} · PnL <b>{usdt(event.pnl, True)} USDT</b> "
                            f"(fees {usdt(event.fees)}{f', funding {usdt(event.funding)}' if event.funding else ''})")
        case UnknownPosition():
            return Rendered(
                f"❓ <b>Unknown position {esc(event.symbol)}</b>: {SIDE_WORD.get(event.side, '')} {num(event.size)} @ "
                f"{num(event.avg_price)} (not opened by the bot). It has been protected with a stop.\n"
                f"Default if you do not answer by {when(event.decide_by)}: {esc(event.default_action)}",
                [[(DECISION_WORDS[a], Button(a, card)) for a in UNKNOWN_DECISIONS]] if card else [])
        case ProtectionTripped():
            until = f" until {when(event.resume_at)}" if event.resume_at else ""
            return Rendered(f"⛔ <b>Protection</b>: new entries blocked{until}: {esc(event.reason)}")
        case ErrorEvent():
            icon = "🚨" if event.critical else "⚠️"
            return Rendered(f"{icon} {'<b>CRITICAL</b> ' if event.critical else ''}{esc(event.message)}")
        case Lifecycle():
            return Rendered(f"ℹ️ {esc(event.message)}")
        case Health():
            return Rendered(f"🩺 {esc(event.message)}")
    return None


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a monospace table (one <code> per line so splitting never breaks a tag)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return [f"<code>{esc('  '.join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())}</code>"
            for r in rows]


# ---------------------------------------------------------------- command replies (views from tradebot.chat.views)


def render_help(ov: Overview, commands: Sequence[tuple[str, str, str]], you: str = "") -> str:
    """``commands``: (name, args, one-line help), those the asker may use (the handler table is the single source);
    ``you``: a line (HTML) saying what the asker may do."""
    state = "⏸ paused (no new entries)" if ov.paused else "▶️ running"
    lines = [f"<b>Trading bot</b> — {esc(ov.env)}",
             f"Symbols: {esc(', '.join(ov.symbols))} · {esc(ov.interval)}m candles · {state}",
             f"Mode: <b>{esc(ov.mode)}</b> ({'trades on its own' if ov.mode == 'auto' else 'asks you first'})"
             f" · risk {pct(ov.risk_pct)} per trade", *([you] if you else []), "", "<b>Commands</b>"]
    lines += [f"/{name}{' ' + esc(args) if args else ''} — {esc(text)}" for name, args, text in commands]
    return "\n".join(lines)


def render_status(v: StatusView) -> str:
    ov = v.overview
    state = "⏸ <b>PAUSED</b> (no new entries; positions still managed)" if ov.paused else "▶️ <b>running</b>"
    lines = [f"{state} · {esc(ov.env)} · mode {esc(ov.mode)} · risk {pct(ov.risk_pct)} of available balance "
             "per trade, after fees"]
    if v.market_note:
        lines.append(f"<i>{esc(v.market_note)}</i>")
    for s in v.symbols:
        if s.last_tick is None:
            lines.append(f"• {esc(s.symbol)}: no tick yet")
            continue
        score = f"score {s.score:+.2f}" if s.score is not None else "no score"
        thr = f" / ±{s.threshold:g}" if s.threshold is not None else ""
        ok = "" if s.ok else f" ⚠️ {esc(s.error or 'failed')}"
        lines.append(f"• {esc(s.symbol)}: last tick {s.last_tick:%H:%M:%S} UTC · {score}{thr} · "
                     f"{esc(s.action or 'HOLD')}{ok}")
        if s.refused:
            lines.append(f"  ↳ not traded: {esc(s.refused)}")
    n = "unknown (exchange unreachable)" if v.open_positions < 0 else str(v.open_positions)
    t = v.today
    lines.append(f"Open positions: {n}")
    lines.append(f"Today: PnL <b>{usdt(t.net_pnl, True)} USDT</b> over {t.trades} closed trade(s)")
    lines.append("Protections: " + ("; ".join(esc(p) for p in v.protections) if v.protections else "none tripped"))
    if v.streams:
        lines.append("Streams: " + "; ".join(esc(s) for s in v.streams))
    return "\n".join(lines)


def render_positions(rows: Sequence[PositionView]) -> str:
    if not rows:
        return "No open positions."
    lines = [f"<b>Open positions ({len(rows)})</b>"]
    for p in rows:
        lines += ["", f"{SIDE_ICON.get(p.side, '')} <b>{esc(p.symbol)}</b> {SIDE_WORD.get(p.side, esc(p.side))} "
                  f"{num(p.size)} × {num(p.leverage)}x{'' if p.managed else ' (not managed by the bot)'}",
                  f"Entry {num(p.entry)} · mark {num(p.mark)}",
                  f"Liquidation {liquidation(p.liq, p.liq_source)}",
                  f"Unrealised <b>{usdt(p.upnl, True)} USDT</b>: {pct(p.roi_pct, True)} of margin "
                  f"({usdt(p.margin)} USDT), {pct(p.upnl_pct, True)} of notional",
                  f"SL {num(p.sl)} · TP {num(p.tp)} · trailing: {esc(p.trailing)}"]
    return "\n".join(lines)


def render_pnl(v: PnLView) -> str:
    s = v.summary
    if not s.trades and not s.funding_settled:
        return f"<b>PnL {esc(v.period)}</b>: no closed trades."
    pf = "∞" if s.profit_factor is None and s.wins else num(s.profit_factor, 2)
    lines = [f"<b>PnL {esc(v.period)}</b> (realised, after trading fees and funding: Bybit's closed PnL)",
             f"Net <b>{usdt(s.net_pnl, True)} USDT</b> = gross {usdt(s.gross_pnl, True)} − fees "
             f"{usdt(s.trading_fees)} − funding {usdt(s.funding_fees)} (funding + = paid, − = received)",
             f"Trades {s.trades} · wins {s.wins} · losses {s.losses} · win rate "
             f"{pct(s.win_rate * 100) if s.win_rate is not None else '—'}",
             f"Profit factor {pf} · max drawdown {usdt(s.max_drawdown)} USDT",
             f"Best {usdt(s.best, True)} · worst {usdt(s.worst, True)}",
             f"Funding settled in the period, open positions included: {usdt(s.funding_settled, True)} USDT"]
    if s.by_symbol:
        lines.append("Per symbol:")
        lines += [f"• {esc(b.symbol)}: {usdt(b.net_pnl, True)} over {b.trades} ({b.wins}W/{b.losses}L), "
                  f"funding {usdt(b.funding_fees)}" for b in s.by_symbol.values()]
    return "\n".join(lines)


def render_balance(w: Wallet) -> str:
    return "\n".join([
        "<b>Balance</b> (USDT)",
        f"Equity <b>{usdt(w.total_equity)}</b> · wallet {usdt(w.wallet_balance)}",
        f"Available {usdt(w.available)} · margin in use {usdt(w.initial_margin)}",
        f"Unrealised PnL {usdt(w.unrealised_pnl, True)}",
    ])


def render_trades(rows: Sequence[TradeView]) -> str:
    if not rows:
        return "No closed trades yet."
    lines = [f"<b>Last {len(rows)} closed trade(s)</b>"]
    for t in rows:
        lines.append(f"• {t.exit_time:%m-%d %H:%M} {esc(t.symbol)} {SIDE_WORD.get(t.side, t.side)} {num(t.qty)} "
                     f"{num(t.entry_price)} → {exit_num(t.exit_price, t.entry_price)} · <b>{usdt(t.pnl, True)}</b> · "
                     f"{esc(exit_name(t.reason, t.stop_moves))}")
    return "\n".join(lines)


def render_stop_all_ask(positions: Sequence[Position]) -> str:
    names = ", ".join(f"{p.symbol} {SIDE_WORD.get(p.side or '', '')} {num(p.size)}" for p in positions) or "none open"
    return (f"⚠️ <b>Stop all</b>: pause new entries and close <b>every</b> position at market?\n"
            f"Positions: {esc(names)}")
