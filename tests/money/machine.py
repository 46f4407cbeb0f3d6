"""The model-based test of the money invariants: a hypothesis ``RuleBasedStateMachine`` driving the real bot against
the simulator over HTTP and its streams (:mod:`tests.money.world`).

Rules: the market (price walks and gaps, mark ≠ last, candles closing with or without a signal, days passing over
funding times; per example, closed-PnL rows that lag a cycle), the chat (signals, cards approved after a delay or
rejected or left to expire, ``/risk``, ``/mode``, ``/stop``, ``/stop all``, ``/resume``, ``/close``, ``/optimize`` →
Apply), the network (stream messages dropped or lost, outages) and restarts over the same journal, and the person on
the website with the same account (reduce, add, close, flip; remove, cancel or move the stop-loss; the take-profit
and the trailing stop; leverage).

No rule has a precondition: what a rule may do depends on the bot and the streams, whose timing varies between runs,
and hypothesis needs the same choices to replay an example; a rule with nothing to act on (no position, no waiting
card) does nothing.

After every step the bot runs one management cycle, then every promise is checked (:mod:`tests.money.invariants`).
A new rule is a method here calling a function in :mod:`tests.money.actions`, decorated ``@rule(...)`` then
``@counted`` (run counts and the example's trace, which ``python -m tests.money --find`` replays to shrink).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from storage.models import Confirmation, TradeRecord
from tests.engine.conftest import SYMBOL
from tests.money import actions as act
from tests.money.invariants import (
    Broken,
    Duplicate,
    Record,
    StopLate,
    StopLoosened,
    Unprotected,
    Untracked,
    closes,
    duplicate_alerts,
    loosened,
    risk,
    unprotected,
    untracked,
)
from tests.money.ledger import read
from tests.money.manual_rules import ManualRules
from tests.money.stats import STATS, Found, counted
from tests.money.world import INST, Setup, World
from tests.reliability.audit import rows
from tradebot.events import ConfirmationNeeded
from tradebot.side import Side

SETUPS = st.builds(
    Setup, mode=st.sampled_from(["confirm", "auto"]), trailing_mode=st.sampled_from(["bot", "exchange"]),
    risk_pct=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("2")]),
    sl_atr=st.sampled_from([Decimal("1.5"), Decimal("1")]),
    funding_rate=st.sampled_from([Decimal("0.0001"), Decimal("-0.0003"), Decimal(0)]), lag=st.booleans())
QUARTERS = st.integers(-12, 12).filter(bool)
PROMISES = 10  # the checks after each step (Duplicate is two: unapproved entries, alerts)


class MoneyMachine(ManualRules, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None
        self.steps = 0
        self.setup: Setup | None = None
        self.trace: list[tuple[str, dict[str, object]]] = []
        STATS.examples += 1
        if STATS.on_example is not None:
            STATS.on_example(STATS.examples)

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    def pending(self) -> list[str]:
        """The cards waiting for an answer (expired ones too, until the bot's next cycle says so), oldest first."""
        waiting = {c.id for c in rows(self.w.bot.db, Confirmation) if c.status == "pending"}
        return [e.confirmation_id for e in self.w.alerts.of(ConfirmationNeeded) if e.confirmation_id in waiting]

    @initialize(setup=SETUPS)
    def start(self, setup: Setup) -> None:
        self.setup = setup
        self.world = World(setup)
        self.rec = Record(setup.risk_pct)
        self.w.run(self.w.cycle())
        atr = self.w.bot.engine.market.atrs[SYMBOL]
        self.unit = max(INST.tick_size, (atr / INST.tick_size).to_integral_value() * INST.tick_size)

    def teardown(self) -> None:
        if self.world is not None:
            self.world.close()

    # -- the market ----------------------------------------------------------------------------------
    @rule(quarters=QUARTERS, gap=st.booleans())
    @counted
    def price_moves(self, quarters: int, gap: bool) -> None:
        act.move(self.w, quarters, self.unit, gap)

    @rule(quarters=QUARTERS)
    @counted
    def price_runs_on_the_stream(self, quarters: int) -> None:
        """The price walks and only the streams act (no REST tick): break-even and trailing are done at once."""
        faults, runner = self.w.sim.stream_faults, self.w.bot.runner
        clean = not faults.down and not any(faults.next_n.values()) and runner.healthy() and self.w.bot.engine.started
        act.move(self.w, quarters, self.unit, False)
        self.w.run(self.w.settle())
        if clean and runner.healthy():
            self._check(StopLate, act.stop_late(self.w))

    @rule(n=st.integers(1, 3), signal=st.sampled_from([None, Side.BUY, Side.SELL]))
    @counted
    def candles_close(self, n: int, signal: Side | None) -> None:
        """``n`` candles close; the strategy may signal on the last one (the engine's entry path)."""
        self.w.pass_bars(n)
        if signal is not None:
            act.signal(self.w, self.rec, signal)

    @rule(days=st.integers(1, 9))
    @counted
    def days_pass(self, days: int) -> None:
        self.w.pass_bars(6 * days)

    # -- the chat ------------------------------------------------------------------------------------
    @rule(side=st.sampled_from([Side.BUY, Side.SELL]))
    @counted
    def signal(self, side: Side) -> None:
        """A signal on the bar that closed last (as a tick that missed it would see it)."""
        act.signal(self.w, self.rec, side)

    @rule(answer=st.sampled_from(["approve", "reject"]), pick=st.integers(0, 3),
          delay=st.sampled_from([0, 5, 30, 120, 290, 400]))
    @counted
    def tap(self, answer: str, pick: int, delay: int) -> None:
        """Approve or Reject a waiting card (the newest, or an older one) after ``delay`` seconds."""
        if cards := self.pending():
            act.tap(self.w, self.rec, cards[-1 - pick % len(cards)], delay, answer)

    @rule(seconds=st.sampled_from([10, 60, 301, 3600]))
    @counted
    def time_passes(self, seconds: int) -> None:
        self.w.pass_seconds(seconds)

    @rule(command=st.sampled_from(act.COMMANDS))
    @counted
    def chat_command(self, command: tuple[str, ...]) -> None:
        act.command(self.w, self.rec, command)

    # -- the network and the process -----------------------------------------------------------------
    @rule()
    @counted
    def restart(self) -> None:
        self.w.restart()

    @rule(fault=st.sampled_from(["drop", "lose", "down", "up"]), n=st.integers(1, 4))
    @counted
    def streams_fail(self, fault: str, n: int) -> None:
        """The next ``n`` messages cut their connection (drop) or vanish (lose); or both streams go down / come
        back (503 at connect, open connections cut)."""
        faults = self.w.sim.stream_faults
        if fault in ("down", "up"):
            faults.configure(down=fault == "down")
        else:
            faults.configure(down=faults.down, next_n={fault: n})

    # -- the person on the website -------------------------------------------------------------------
    @rule(kind=st.sampled_from(["reduce", "add", "close", "flip"]), tenths=st.integers(1, 9))
    @counted
    def web_order(self, kind: str, tenths: int) -> None:
        """A market order on the website: reduce or add ``tenths`` of the position, close it, or flip it (an order
        1.``tenths`` times its size the other way)."""
        act.web_order(self.w, kind, tenths)

    @rule(how=st.sampled_from(["remove", "cancel", "move"]), quarters=st.integers(1, 12),
          trigger=st.sampled_from(["LastPrice", "MarkPrice"]))
    @counted
    def web_stop_loss(self, how: str, quarters: int, trigger: str) -> None:
        answer = act.stop_loss(self.w, how, quarters, self.unit, trigger)
        if answer is not None and answer.ok:  # the person's own level: the bot tightens from there
            b = read(self.w.sim, SYMBOL)
            lt = b.open_lifetime
            self.rec.floor = (lt.key, b.stop_loss or None) if lt is not None else None

    @rule(how=st.sampled_from(["remove", "move"]), quarters=st.integers(1, 16))
    @counted
    def web_take_profit(self, how: str, quarters: int) -> None:
        act.take_profit(self.w, how, quarters, self.unit)

    @rule(distance=st.integers(0, 8), active=st.integers(0, 8))
    @counted
    def web_trailing_stop(self, distance: int, active: int) -> None:
        act.trailing(self.w, distance, active, self.unit)

    @rule(leverage=st.sampled_from([10, 1, 2, 5, 25, 50, 100]))
    @counted
    def web_leverage(self, leverage: int) -> None:
        self.w.web.leverage(Decimal(leverage))

    # -- the promises --------------------------------------------------------------------------------
    def _check(self, kind: type[Broken], problems: list[str]) -> None:
        if not problems:
            return
        text, name = "; ".join(problems), kind.__name__
        STATS.broken[name] += 1
        if name not in STATS.found:
            found = Found(STATS.examples, STATS.steps, self.steps, self.setup, list(self.trace), text)
            STATS.found[name] = found
            if STATS.on_first is not None:
                STATS.on_first(name, found)
        if STATS.hunt:
            assume(False)  # the negative control: this example is done, the run goes on
        raise kind(text)

    @invariant()
    def money_holds(self) -> None:
        """After one management cycle of the bot."""
        if self.world is None:
            return
        STATS.steps += 1
        self.steps += 1
        self.w.pass_seconds(1)  # actions take time: no two steps share a market millisecond
        self.w.run(self.w.cycle())
        self.w.pass_seconds(1)
        b = read(self.w.sim, SYMBOL)
        trades = rows(self.w.bot.db, TradeRecord)
        cards = {c.id: c for c in rows(self.w.bot.db, Confirmation)}
        self._check(Unprotected, unprotected(b))
        self._check(StopLoosened, loosened(b, self.rec))
        for kind, problems in closes(b, trades, self.rec).items():
            self._check(kind, problems)
        self._check(Untracked, untracked(b, trades))
        for kind, problems in risk(b, self.rec, cards, INST.qty_step).items():
            self._check(kind, problems)
        self._check(Duplicate, duplicate_alerts(self.w.alerts.events))
        if not b.lagging and (lt := b.open_lifetime) is not None:
            self.rec.known.add(lt.key)
        self.w.moment_passes()


__all__ = ["PROMISES", "STATS", "MoneyMachine"]
