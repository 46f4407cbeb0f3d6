"""The chat's manual trading as rules of the money model (issue 22): /long and /short cards (approved by the
machine's own ``tap`` rule, through the signal's entry path), /sl moves (a stop loosened by hand resets the
person's floor, as a move on the website does) and partial /close. Called as the handlers call them
(``BotService.manual``); a refusal (UserError) or an exchange error changes nothing the promises rely on.

Registered by mixing :class:`ManualRules` into :class:`tests.money.machine.MoneyMachine`."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.engine.conftest import SYMBOL
from tests.money import actions as act
from tests.money.invariants import Record
from tests.money.ledger import read
from tests.money.stats import counted
from tests.money.world import World
from tradebot.chat.manual import Amount
from tradebot.errors import ExchangeError, UserError
from tradebot.side import Side
from tradebot.sizing.stopspec import parse_stop

STOPS = (None, "1atr", "2.5atr")


def manual_entry(world: World, side: Side, stop: str | None) -> None:
    try:
        world.run(world.bot.service.manual.ask_entry(SYMBOL, side, parse_stop(stop) if stop else None,
                                                     act.USER_NAME))
    except (UserError, ExchangeError):  # refused with the reason (a protection, a card or position open...)
        return


def chat_stop(world: World, rec: Record, quarters: int, unit: Decimal) -> None:
    """/sl ``quarters`` quarter-ATRs from the price on the losing side; a looser one is confirmed (Move it)."""
    if (p := act.position(world)) is None:
        return
    level = act.step_price(world, -p[0].sign * quarters, unit)
    manual = world.bot.service.manual
    try:
        world.run(manual.plan_level(SYMBOL, "sl", level))
        world.run(manual.move_level(SYMBOL, "sl", level, act.USER_NAME))
    except (UserError, ExchangeError):
        return
    b = read(world.sim, SYMBOL)  # the person's own level: the bot tightens from there
    lt = b.open_lifetime
    rec.floor = (lt.key, b.stop_loss or None) if lt is not None else None


def chat_close(world: World, percent: int) -> None:
    manual = world.bot.service.manual
    try:
        plan = world.run(manual.plan_close(SYMBOL, Amount(Decimal(percent), True)))
        world.run(manual.close_part(SYMBOL, plan.qty))
    except (UserError, ExchangeError):
        return


class ManualRules:
    """The rules; ``w``, ``rec`` and ``unit`` are the machine's."""

    w: World
    rec: Record
    unit: Decimal

    @rule(side=st.sampled_from([Side.BUY, Side.SELL]), stop=st.sampled_from(STOPS))
    @counted
    def chat_long_short(self, side: Side, stop: str | None) -> None:
        manual_entry(self.w, side, stop)

    @rule(quarters=st.integers(1, 12))
    @counted
    def chat_sl(self, quarters: int) -> None:
        chat_stop(self.w, self.rec, quarters, self.unit)

    @rule(percent=st.sampled_from([25, 50, 75, 100]))
    @counted
    def chat_partial_close(self, percent: int) -> None:
        chat_close(self.w, percent)
