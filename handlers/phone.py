"""Trading by hand from the chat: /long, /short, /close (partial, or a position picker), /sl and /tp; the taps of
their single-use cards (a close, a loosened stop, a picked position). Parse → tradebot/chat/manual.py → render."""

from __future__ import annotations

from decimal import Decimal

from telegram import Update
from telegram.ext import ContextTypes

from handlers.chat import chat_of, reply, who
from handlers.deps import Deps
from handlers.render.formatting import esc
from handlers.render.manual_views import render_close_plan, render_level_ask, render_picker, render_stop_hint
from tradebot.chat.manual import Amount, parse_amount
from tradebot.chat.service import TOKEN_TTL, parse_symbol
from tradebot.chat.tokens import CardData
from tradebot.errors import ArgumentError, AuthError, BybitAPIError, RetryableError, UserError
from tradebot.intents import Button, ButtonAction, Buttons
from tradebot.outcome import Outcome
from tradebot.parsing import decimal, shown
from tradebot.side import Side
from tradebot.sizing.stopspec import parse_stop
from tradebot.states import OutcomeStatus

Context = ContextTypes.DEFAULT_TYPE


def _chats(update: Update) -> list[int] | None:
    chat = chat_of(update)
    return None if chat is None else [chat]


async def _entry(update: Update, deps: Deps, args: list[str], side: Side) -> str:
    symbol = parse_symbol(args[0])
    stop = parse_stop(args[1]) if len(args) > 1 else None
    conf_id = await deps.service.manual.ask_entry(symbol, side, stop, who(update))
    return f"card {conf_id}"  # the card itself comes through the outbox, as a signal's does, to every chat


async def cmd_long(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    return await _entry(update, deps, args, Side.BUY)


async def cmd_short(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    return await _entry(update, deps, args, Side.SELL)


async def _picker(update: Update, deps: Deps, what: str) -> str:
    positions = await deps.service.manual.open_positions()
    if not positions:
        raise UserError("No open positions.")
    buttons: Buttons = []
    for p in positions:
        token = await deps.service.tokens.issue([ButtonAction.PICK], TOKEN_TTL, _chats(update),
                                                CardData(symbol=p.symbol, what=what))
        buttons.append([(f"{p.symbol} {p.held.word}", Button(ButtonAction.PICK, token))])
    await reply(update, render_picker(positions, what), buttons)
    return f"picker: {len(positions)} position(s)"


async def _ask_close(update: Update, deps: Deps, symbol: str, amount: Amount | None) -> None:
    try:
        plan = await deps.service.manual.plan_close(symbol, amount)
    except BybitAPIError as exc:  # e.g. a symbol the exchange does not list: a one-line answer, not an error report
        if symbol in deps.cfg.bot.symbols or isinstance(exc, AuthError | RetryableError):
            raise
        raise UserError(f"No open {symbol} position: {symbol} is not traded by this bot "
                        f"(traded: {', '.join(deps.cfg.bot.symbols)}).") from exc
    token = await deps.service.tokens.issue([ButtonAction.CLOSE, ButtonAction.CANCEL], TOKEN_TTL, _chats(update),
                                            CardData(symbol=symbol, qty=None if plan.whole else plan.qty))
    label = f"Close {symbol}" if plan.whole else f"Close {plan.qty} {symbol}"
    await reply(update, render_close_plan(plan), [[(label, Button(ButtonAction.CLOSE, token)),
                                                   ("Cancel", Button(ButtonAction.CANCEL, token))]])


async def cmd_close(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if not args:
        return await _picker(update, deps, "close")
    symbol = parse_symbol(args[0])
    await _ask_close(update, deps, symbol, parse_amount(args[1]) if len(args) > 1 else None)
    return "asked"


def _price(raw: str) -> Decimal:
    try:
        value = decimal(raw.strip())
    except ValueError:
        raise ArgumentError(f"{shown(raw)} is not a price.") from None
    if value <= 0:
        raise ArgumentError(f"{shown(raw)}: a price must be above 0.")
    return value


async def _level(update: Update, deps: Deps, args: list[str], which: str) -> str:
    symbol, price = parse_symbol(args[0]), _price(args[1])
    plan = await deps.service.manual.plan_level(symbol, which, price)
    if not plan.looser:
        out = await deps.service.manual.move_level(symbol, which, price, who(update))
        await reply(update, esc(out.text))
        return out.text
    token = await deps.service.tokens.issue([ButtonAction.MOVE_LEVEL, ButtonAction.CANCEL], TOKEN_TTL,
                                            _chats(update), CardData(symbol=symbol, which=which, price=price))
    await reply(update, render_level_ask(plan), [[("⚠️ Move it", Button(ButtonAction.MOVE_LEVEL, token)),
                                                  ("Cancel", Button(ButtonAction.CANCEL, token))]])
    return "asked"


async def cmd_sl(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    if not args:
        return await _picker(update, deps, "sl")
    if len(args) != 2:
        raise ArgumentError("Give the symbol and the new stop price.")
    return await _level(update, deps, args, "sl")


async def cmd_tp(update: Update, context: Context, deps: Deps, args: list[str]) -> str:
    return await _level(update, deps, args, "tp")


async def act(update: Update, deps: Deps, button: Button, card: CardData, by: str) -> Outcome | None:
    """What a winning tap on one of these cards does; None: not one of theirs."""
    symbol = card.symbol
    if button.action is ButtonAction.CLOSE and card.qty is not None:
        return await deps.service.manual.close_part(symbol, card.qty)
    if button.action is ButtonAction.MOVE_LEVEL:
        if not card.which or card.price is None:
            raise ValueError(f"{symbol}: a level card without its level")
        return await deps.service.manual.move_level(symbol, card.which, card.price, by)
    if button.action is ButtonAction.PICK:
        if card.what == "close":
            await _ask_close(update, deps, symbol, None)
            return Outcome(OutcomeStatus.OK, f"{symbol}: see the question below.")
        position, _ = await deps.service.manual.position(symbol)
        await reply(update, render_stop_hint(position))
        return Outcome(OutcomeStatus.OK, f"{symbol}: see below.")
    return None
