"""Chat text of the manual commands' questions and answers: (partial) close, stop and target moves, pickers."""

from __future__ import annotations

from handlers.render.formatting import SIDE_WORD, esc
from tradebot.bybit.account_models import Position
from tradebot.chat.manual import ClosePlan, LevelPlan
from tradebot.text import num, usdt


def render_close_plan(p: ClosePlan) -> str:
    """The close question: how much, and what it would bring at the book's price (else the mark) after fees."""
    part = "the whole position" if p.whole else f"{num(p.qty)} of {num(p.size)} (the rest stays open, protected)"
    return (f"Close <b>{esc(p.symbol)}</b> {SIDE_WORD.get(p.side, '')}: {part}, reduce-only at market now?\n"
            f"At {'the book' if p.at == 'book' else 'the mark'} ≈ {num(p.price)}: gross {usdt(p.gross, True)} USDT · exit fee ≈ {usdt(p.exit_fee)} USDT · "
            f"its share of the entry fee {usdt(p.entry_fee_share)} USDT\n"
            f"<b>Net ≈ {usdt(p.net, True)} USDT</b> (estimate: the book moves until the order fills)")


def render_level_ask(p: LevelPlan) -> str:
    """The question before a stop is loosened: the loss at the new stop, after fees, and the old one."""
    old = f"{usdt(p.old_loss)} USDT at {num(p.old)}" if p.old_loss is not None else "no stop so far"
    return (f"⚠️ Move the <b>{esc(p.symbol)}</b> stop further away, to <b>{num(p.price)}</b>? (mark {num(p.mark)})\n"
            f"A stop-out would then lose <b>{usdt(p.loss_at_stop)} USDT</b> after fees (now: {old}).\n"
            "The bot's own management only tightens a stop: it will not undo this.")


def render_picker(positions: list[Position], what: str) -> str:
    if not positions:
        return "No open positions."
    verb = "close" if what == "close" else "move the stop of"
    lines = [f"Which position do you want to {verb}?"]
    lines += [f"• {esc(p.symbol)} {SIDE_WORD.get(p.side or '', '')} {num(p.size)} @ {num(p.avg_price)} · "
              f"SL {num(p.stop_loss or None)} · TP {num(p.take_profit or None)}" for p in positions]
    return "\n".join(lines)


def render_stop_hint(p: Position) -> str:
    return (f"<b>{esc(p.symbol)}</b> {SIDE_WORD.get(p.side or '', '')} {num(p.size)} @ {num(p.avg_price)} · mark "
            f"{num(p.mark_price)}\nStop {num(p.stop_loss or None)} · target {num(p.take_profit or None)}\n"
            f"Move them with /sl {esc(p.symbol)} PRICE or /tp {esc(p.symbol)} PRICE.")
