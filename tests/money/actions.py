"""What the machine's rules do, as plain functions of the world: the market, the chat, the network and the person
on the website. A new rule (``/long``, ``/sl``, ``/close SYMBOL PCT``...) is one more function here and a few
lines in :mod:`tests.money.machine`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.engine.conftest import SYMBOL
from tests.money import invariants
from tests.money.invariants import Approval, Record
from tests.money.ledger import read
from tests.money.person import Answer
from tests.money.world import INST, World
from tradebot.care.trader import entry_link_id
from tradebot.errors import ExchangeError, UserError
from tradebot.outcome import Outcome
from tradebot.side import Side

USER, USER_NAME = 4242, "money-model"


def step_price(world: World, quarters: int, unit: Decimal) -> Decimal:
    """The price ``quarters`` × ¼ ``unit`` away from the last price, on the tick grid and above zero."""
    raw = world.price() + unit * quarters / 4
    return max(INST.tick_size, (raw / INST.tick_size).to_integral_value() * INST.tick_size)


def move(world: World, quarters: int, unit: Decimal, gap: bool) -> None:
    """The last price walks (or gaps) there; the mark price follows behind it (a mean of the last points)."""
    world.sim.set_price(SYMBOL, step_price(world, quarters, unit), gap=gap)


# -- the chat ---------------------------------------------------------------------------------------------
async def _signal(world: World, rec: Record, side: Side) -> None:
    """A strategy signal on the last closed bar, through the engine's own entry path (gate, sizing from the
    balance read now, then a card in confirm mode or the order in auto mode), under the symbol's lock."""
    engine = world.bot.engine
    async with engine.locks.symbol(SYMBOL):
        snap = await engine.market.snapshot(SYMBOL)
        engine.market.remember(snap.signal)
        action = "BUY" if side is Side.BUY else "SELL"
        signal = replace(snap.signal, action=action, score=side.sign * snap.signal.threshold)
        if engine.settings.mode == "auto":  # the engine's auto-mode intent: one entry per bar
            approving(world, rec, entry_link_id(f"a{SYMBOL}{int(signal.time.timestamp())}"), None)
        await engine._consider_entry(SYMBOL, signal, snap.price, None)


def approving(world: World, rec: Record, link: str, conf_id: str | None) -> None:
    """Remember the balance and risk % now for the entry ``link`` may send (not once it was sent: a later tap or
    signal of the same intent sends nothing more)."""
    with world.sim.lock:
        sent = link in world.sim.exchange.link_ids
    if not sent:
        rec.approvals[link] = Approval(world.available(), rec.risk_pct, conf_id)


def signal(world: World, rec: Record, side: Side) -> None:
    world.run(_signal(world, rec, side))


def tap(world: World, rec: Record, conf_id: str, delay_s: float, answer: str) -> Outcome:
    """Approve (or Reject) after ``delay_s``: what the exchange shows when Approve is tapped is what the entry may
    risk."""
    world.pass_seconds(delay_s)
    if answer == "reject":
        return world.run(world.bot.service.desk.reject(conf_id, USER))
    approving(world, rec, entry_link_id(conf_id), conf_id)
    return world.run(world.bot.service.desk.approve(conf_id, USER))


APPLY = ({"risk.trailing_mode": "exchange"}, {"risk.trailing_mode": "bot"}, {"risk.leverage": "20"},
         {"risk.leverage": "3"}, {"risk.risk_pct": "0.5"}, {"risk.sl_atr": "2"})
COMMANDS: tuple[tuple[str, ...], ...] = (
    *(("/risk", raw) for raw in ("1", "0.5", "2", "0.25", "1e-30")), ("/mode", "auto"), ("/mode", "confirm"),
    ("/stop",), ("/stop all",), ("/resume",), ("/close",),
    *(("apply", *(f"{k}={v}" for k, v in c.items())) for c in APPLY))


def command(world: World, rec: Record, command: tuple[str, ...]) -> None:
    """A chat command (through the service, as the handler calls it), or /optimize's Apply button with its
    changes. When the bot says the risk is set, that is the risk the person now expects."""
    service, name, args = world.bot.service, command[0], command[1:]
    changes: dict[str, object] = dict(a.split("=", 1) for a in args) if name == "apply" else {}
    calls = {"/risk": lambda: service.set_risk(args[0]), "/mode": lambda: service.set_mode(args[0]),
             "/stop": lambda: service.engine.pause(USER_NAME), "/stop all": lambda: service.stop_all(USER_NAME),
             "/resume": lambda: service.engine.resume(USER_NAME), "/close": lambda: service.engine.close(SYMBOL),
             "apply": lambda: service.apply_settings(changes, USER_NAME)}
    try:
        out = world.run(calls[name]())
    except (UserError, ExchangeError):  # the chat shows a refusal or the exchange's error: nothing changed
        return
    risk = args[0] if name == "/risk" else changes.get("risk.risk_pct")
    if out.status == "ok" and risk is not None:
        rec.risk_pct = Decimal(str(risk))


def stop_late(world: World) -> list[str]:
    """Break-even/trailing the streams' last price calls for and the exchange does not show (see invariants)."""
    engine = world.bot.engine
    trade = world.run(engine.journal.trades.open_for(SYMBOL))
    return invariants.stop_late(read(world.sim, SYMBOL), trade, world.price(), engine.settings.risk, engine.market.instruments[SYMBOL],
                     engine.gate.fee_rate(SYMBOL))


# -- the person on the website ----------------------------------------------------------------------------
def position(world: World) -> tuple[Side, Decimal] | None:
    with world.sim.lock:
        pos = world.sim.exchange.positions[SYMBOL]
        return (pos.side, pos.size) if pos.size and pos.side else None


def web_order(world: World, kind: str, tenths: int) -> Answer | None:
    """reduce/add ``tenths`` of the position, close it, or flip it with an order 1.``tenths`` times its size."""
    if (p := position(world)) is None:
        return None
    side, size = p
    if kind == "reduce":
        return world.web.market(side.opposite, size * tenths / 10, reduce_only=True)
    if kind == "add":
        return world.web.market(side, size * tenths / 10)
    if kind == "close":
        return world.web.market(side.opposite, size, reduce_only=True)
    return world.web.market(side.opposite, size * (10 + tenths) / 10)


def stop_loss(world: World, how: str, quarters: int, unit: Decimal, trigger: str) -> Answer | None:
    """Remove the stop-loss (trading-stop ``0``, or cancelling its order), or move it ``quarters`` from the price
    on the losing side (by last or mark price)."""
    if (p := position(world)) is None:
        return None
    if how == "remove":
        return world.web.trading_stop(stopLoss="0")
    if how == "cancel":
        with world.sim.lock:
            order = world.sim.exchange.stops.get(SYMBOL, "StopLoss")
        return world.web.cancel(order.order_id) if order is not None else None
    level = step_price(world, -p[0].sign * quarters, unit)
    return world.web.trading_stop(stopLoss=str(level), slTriggerBy=trigger)


def take_profit(world: World, how: str, quarters: int, unit: Decimal) -> Answer | None:
    if (p := position(world)) is None:
        return None
    if how == "remove":
        return world.web.trading_stop(takeProfit="0")
    return world.web.trading_stop(takeProfit=str(step_price(world, p[0].sign * quarters, unit)))


def trailing(world: World, distance_q: int, active_q: int, unit: Decimal) -> Answer | None:
    """Set a trailing stop ``distance_q`` quarters wide, waiting for a price ``active_q`` quarters in favour
    (0: active at once); ``distance_q`` 0 removes it."""
    if (p := position(world)) is None:
        return None
    if distance_q == 0:
        return world.web.trading_stop(trailingStop="0")
    distance = max(INST.tick_size, (unit * distance_q / 4 / INST.tick_size).to_integral_value() * INST.tick_size)
    fields = {"trailingStop": str(distance)}
    if active_q:
        fields["activePrice"] = str(step_price(world, p[0].sign * active_q, unit))
    return world.web.trading_stop(**fields)
