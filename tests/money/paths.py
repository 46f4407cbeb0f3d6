"""Paths the machine found (its shrunk examples, cut to the steps that matter), replayed step by step through the
same rules and checks in CI: each broke a money promise on the code at the start of issue 19.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.money.machine import MoneyMachine
from tests.money.world import Setup
from tradebot.side import Side

Step = tuple[str, dict[str, Any]]
APPROVE = ("tap", {"answer": "approve", "pick": 0, "delay": 5})
LONG = ("signal", {"side": Side.BUY})

PATHS: dict[str, tuple[Setup, list[Step]]] = {
    # issue 19 bug 1: the bot shrank the trade to the remainder, then took the reduce's row alone for the close
    "a partly closed long stopped out while the stop's closed-PnL row lags": (Setup(lag=True), [
        LONG, APPROVE, ("web_order", {"kind": "reduce", "tenths": 6}),
        ("price_moves", {"quarters": -12, "gap": False})]),
    # issue 19 bug 1 as the hunt shrank it (auto mode): days later the first week's rows cover the remainder
    "a long reduced by 80 % by hand, then nine days pass": (Setup(
        mode="auto", trailing_mode="exchange", risk_pct=Decimal("0.5"), sl_atr=Decimal("1"),
        funding_rate=Decimal(0), lag=True), [
        LONG, ("web_order", {"kind": "reduce", "tenths": 8}), ("days_pass", {"days": 9})]),
    # issue 19 bug 2: the card's qty and stop traded from a price 0.25 ATR worse (the hunt's path with its five
    # price moves summed: +1/4 ATR)
    "a card approved after the price drifted against it": (Setup(), [
        LONG, ("price_moves", {"quarters": 1, "gap": False}), APPROVE]),
    # issue 19 bug 2 (the card's size kept): /risk lowered between the card and the tap
    "a card approved after /risk was lowered": (Setup(), [
        LONG, ("chat_command", {"command": ("/risk", "0.5")}), APPROVE]),
    # issue 19 bug 3: a trailing stop waiting for its activePrice was counted as protection
    "the stop-loss removed by hand while the exchange trailing stop waits": (Setup(trailing_mode="exchange"), [
        LONG, APPROVE, ("web_stop_loss", {"how": "remove", "quarters": 1, "trigger": "LastPrice"})]),
    # issue 19 bug 3 as the hunt shrank it: the person's own waiting trailing stop, then the SL order cancelled
    "a trailing stop set by hand, then the stop-loss order cancelled": (Setup(mode="auto", risk_pct=Decimal("0.5")), [
        ("signal", {"side": Side.SELL}), ("web_trailing_stop", {"active": 4, "distance": 1}),
        ("web_stop_loss", {"how": "cancel", "quarters": 3, "trigger": "LastPrice"})]),
    # issue 19 bug 6: "/risk 1e-30" answered as set, stored as 0 (no override): entries at the config's 1 %
    "/risk 1e-30 then a trade": (Setup(risk_pct=Decimal("1")), [
        ("chat_command", {"command": ("/risk", "1e-30")}), LONG, APPROVE]),
    # issue 19 bug 6: a flip seen before the old close's closed-PnL row: adoption fails, and after a second flip the
    # first position's close is never journaled
    "two flips by hand while closed-PnL rows lag": (Setup(
        mode="auto", trailing_mode="exchange", risk_pct=Decimal("0.5"), sl_atr=Decimal("1"),
        funding_rate=Decimal(0), lag=True), [
        ("candles_close", {"n": 3, "signal": Side.BUY}), ("web_order", {"kind": "flip", "tenths": 1}),
        ("web_order", {"kind": "flip", "tenths": 1})]),
    # issue 19 bug 4: break-even and trailing ran only in the REST tick (every reconcile period while the streams
    # are live): a price past the trigger brought by the ticker stream left the stop where it was
    "a long's price runs past break-even, then trailing, on the stream": (Setup(), [
        LONG, APPROVE, ("price_runs_on_the_stream", {"quarters": 6}),
        ("price_runs_on_the_stream", {"quarters": 4}), ("price_runs_on_the_stream", {"quarters": 4})]),
}


def replay(setup: Setup, steps: list[Step]) -> None:
    """Run ``steps`` as hypothesis would: initialize, then each rule followed by the checks."""
    machine = MoneyMachine()
    try:
        machine.start(setup)
        machine.money_holds()
        for name, args in steps:
            getattr(machine, name)(**args)
            machine.money_holds()
    finally:
        machine.teardown()
