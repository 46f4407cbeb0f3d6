"""Trading by hand from the chat: /long and /short cards through the signal's own desk, partial closes, stop and
target moves. No Telegram here: the chat layer parses, calls these, and renders what they return."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from tradebot.bybit.account_models import Position
from tradebot.bybit.orders import NewOrder, TradingStop
from tradebot.care.maker_entry import limit_take_profit_price, move_limit_take_profit
from tradebot.care.trader import close_link_id
from tradebot.errors import ArgumentError, ExchangeError, OrderRejected, UserError, no_position
from tradebot.market_model.book import walk_levels
from tradebot.money import ZERO
from tradebot.outcome import Outcome
from tradebot.parsing import decimal, shown
from tradebot.side import Side
from tradebot.sizing.instruments import Instrument, is_multiple, round_qty
from tradebot.sizing.risk import RiskParams, Sizing, size_position
from tradebot.sizing.stopspec import StopSpec, at_distance
from tradebot.states import CloseReason, StopMoveReason
from tradebot.states import OutcomeStatus as OS
from tradebot.text import num
from tradebot.tick.engine import TradingEngine


def manual_sizing(*, side: Side, price: Decimal, atr: Decimal, stop: StopSpec | None, inst: Instrument,
                  params: RiskParams, available: Decimal, fee_rate: Decimal, entry_fee_rate: Decimal | None = None,
                  tp_fee_rate: Decimal | None = None) -> Sizing:
    """The signal's sizing (risk after fees, every cap and refusal) with the stop given by hand: an ATR multiple
    replaces ``sl_atr``; a price is the stop itself (the target stays ``tp_atr`` ATRs away)."""
    if stop is not None and stop.atr_mult is not None:
        params = params.model_copy(update={"sl_atr": stop.atr_mult})
    elif stop is not None and stop.price is not None:
        dist = side.sign * (price - stop.price)
        if dist <= 0:
            where = "below" if side is Side.BUY else "above"
            raise UserError(f"A {side.word} stop must be {where} the price: {num(stop.price)} vs {num(price)}.")
        if not is_multiple(stop.price, inst.tick_size):
            raise UserError(f"Stop {num(stop.price)} is not on {inst.symbol}'s price tick {num(inst.tick_size)}.")
        if atr <= 0:
            raise UserError(f"ATR of {inst.symbol} is unknown: the target cannot be set.")
        atr, params = at_distance(params, atr, dist)
    return size_position(side=side, entry_price=price, atr=atr, available_balance=available, inst=inst,
                         params=params, fee_rate=fee_rate, entry_fee_rate=entry_fee_rate, tp_fee_rate=tp_fee_rate)


@dataclass(frozen=True)
class Amount:
    """How much of a position a /close takes: a percentage, or a quantity in coins."""

    value: Decimal
    percent: bool


def parse_amount(raw: str) -> Amount:
    text = raw.strip()
    try:
        value = decimal(text.removesuffix("%"))
    except ValueError:
        raise ArgumentError(f"{shown(raw)} is neither a percentage like 50% nor a quantity.") from None
    if text.endswith("%"):
        if not ZERO < value <= 100:
            raise ArgumentError(f"{shown(raw)}: a percentage must be above 0 and at most 100.")
        return Amount(value, True)
    if value <= 0:
        raise ArgumentError(f"{shown(raw)}: a quantity must be above 0.")
    return Amount(value, False)


def close_qty(amount: Amount | None, pos: Position, inst: Instrument) -> Decimal:
    """The qty a close takes, rounded down to the qty step: the whole position when nothing is given, when it is
    that much or more, or when the rest would be below the minimum qty."""
    if amount is None:
        return pos.size
    qty = pos.size * amount.value / 100 if amount.percent else amount.value
    if qty >= pos.size:
        return pos.size
    qty = round_qty(qty, inst, market=True)
    if qty < inst.min_qty:
        raise UserError(f"{num(qty)} is below {inst.symbol}'s minimum order quantity {num(inst.min_qty)}.")
    return pos.size if pos.size - qty < inst.min_qty else qty


@dataclass(frozen=True)
class ClosePlan:
    """What a (partial) close would do, for the question: estimates at the price a market order of ``qty`` would
    get from the order book now (``at`` = "book"), else at the mark (``at`` = "mark"), after the taker fee."""

    symbol: str
    side: Side
    qty: Decimal
    size: Decimal
    price: Decimal
    gross: Decimal
    exit_fee: Decimal
    entry_fee_share: Decimal
    at: str = "mark"

    @property
    def net(self) -> Decimal:
        return self.gross - self.exit_fee - self.entry_fee_share

    @property
    def whole(self) -> bool:
        return self.qty >= self.size


def market_exit_price(levels: tuple[tuple[Decimal, Decimal], ...], qty: Decimal) -> Decimal | None:
    """The average price a market order of ``qty`` fills at against ``levels`` (best first: the bids for a
    long's close, the asks for a short's); None when the listed depth is less than ``qty``."""
    paid, left, _ = walk_levels(levels, qty)
    return paid / qty if left <= 0 else None


@dataclass(frozen=True)
class LevelPlan:
    """A stop or target move, validated: ``looser`` when it adds risk (then ``loss_at_stop`` is the loss a
    stop-out would take after fees, before: ``old_loss``)."""

    symbol: str
    which: str  # "sl" | "tp"
    price: Decimal
    old: Decimal | None
    mark: Decimal
    looser: bool
    loss_at_stop: Decimal | None = None
    old_loss: Decimal | None = None
    size: Decimal = ZERO  # the position's, now


def loss_at(side: Side, entry: Decimal, stop: Decimal, qty: Decimal, fee: Decimal, slippage_pct: Decimal) -> Decimal:
    """What a stop-out at ``stop`` loses after taker fees in and out, the stop filling ``slippage_pct`` worse (the
    sizing's formula, tradebot/sizing/risk.py); negative when the stop locks in a profit."""
    s = side.sign
    exit_at = stop * (1 - s * slippage_pct / 100)
    return (s * (entry - exit_at) + fee * entry + fee * exit_at) * qty


class ManualDesk:
    """The chat's hand on the engine; every action takes the symbol's lock as a tick does."""

    def __init__(self, engine: TradingEngine) -> None:
        self.engine = engine

    def traded(self, symbol: str) -> None:
        watched = self.engine.settings.symbols
        if symbol not in watched:
            raise UserError(f"{symbol} is not on the watch list ({', '.join(watched)}; /symbols add {symbol}).")

    async def ask_entry(self, symbol: str, side: Side, stop: StopSpec | None, by: str) -> str:
        """A manual card (the same card a signal gets, marked manual): its Approve is the signal's entry path.
        Refused with the reason when an entry is not allowed now: a manual trade overrides no protection."""
        self.traded(symbol)
        e = self.engine
        now = e.market.now_for(symbol)
        block = await e.gate.block(symbol, now) or await e.desk.waiting(symbol)
        if block is not None:
            raise UserError(f"Not asked: {block}. A manual trade does not override this.")
        inst = await e.market.instrument(symbol)
        async with e.locks.symbol(symbol):
            snap = await e.market.snapshot(symbol)
            e.market.remember(snap.signal)  # what the approval re-checks the price against (its ATR)
        fees = e.gate.sizing_fees(symbol)  # as a signal's entry is sized (maker first: the maker rate in)
        sizing = manual_sizing(side=side, price=snap.price, atr=snap.signal.atr, stop=stop, inst=inst,
                               params=e.settings.risk, available=await e.gate.available(now), fee_rate=fees.stop,
                               entry_fee_rate=fees.entry, tp_fee_rate=fees.tp)
        if not sizing.ok:
            raise UserError(f"Not asked: {sizing.refused}.")
        return await e.desk.ask(symbol, snap.signal, sizing, None, e.clock(), manual_by=by)

    async def position(self, symbol: str) -> tuple[Position, Instrument]:
        found = [p for p in await self.engine.client.positions(symbol) if p.is_open]
        if not found:
            raise UserError(no_position(symbol, await self.engine.journal.cards.entering(symbol)))
        return await self._with_target(found[0]), await self.engine.market.instrument(symbol)

    async def open_positions(self) -> list[Position]:
        return [await self._with_target(p) for p in await self.engine.client.positions() if p.is_open]

    async def _with_target(self, p: Position) -> Position:
        """The position with its target: a maker-first trade's is a limit order, not on the position row."""
        if p.take_profit is not None:
            return p
        return replace(p, take_profit=await limit_take_profit_price(self.engine.client, p.symbol))

    async def plan_close(self, symbol: str, amount: Amount | None) -> ClosePlan:
        pos, inst = await self.position(symbol)
        qty = close_qty(amount, pos, inst)
        side = pos.held
        try:  # what a market close of qty gets: the book's other side walked (the mark can be far from it)
            book = await self.engine.client.orderbook(symbol)
            walked = market_exit_price(book.bids if side is Side.BUY else book.asks, qty)
            if walked is not None:  # an average: shown at the tick's precision plus two places
                places = max(0, -int(inst.tick_size.normalize().as_tuple().exponent)) + 2
                walked = walked.quantize(Decimal(1).scaleb(-places)).normalize()
        except ExchangeError:
            walked = None
        price = walked if walked is not None else (pos.mark_price or pos.avg_price)
        trade = await self.engine.journal.trades.open_for(symbol)
        opened = (trade.entry_qty or trade.qty) if trade is not None else None
        share = trade.entry_fee * qty / opened if trade is not None and opened else ZERO
        return ClosePlan(symbol, side, qty, pos.size, price, side.sign * (price - pos.avg_price) * qty,
                         qty * price * self.engine.gate.fee_rate(symbol), share, "book" if walked is not None else "mark")

    async def close_part(self, symbol: str, qty: Decimal) -> Outcome:
        """Reduce-only market close of ``qty`` (the whole position when it is that much or more). The journal's
        trade keeps the rest; its PnL is the whole trade's when it closes (tradebot/care/closes.py)."""
        e = self.engine
        async with e.locks.symbol(symbol):
            found = [p for p in await e.client.positions(symbol) if p.is_open]
            if not found:
                return Outcome(OS.NOOP, f"{symbol}: no open position.")
            pos = found[0]
            if qty >= pos.size:
                text = await e.trader.close(symbol, reason=CloseReason.MANUAL)
                await e.positions.record_close_if_flat(symbol)
                return Outcome(OS.OK, text)
            link = close_link_id(symbol, CloseReason.MANUAL, await e.client.server_time_ms())
            side = pos.held.opposite
            await e.journal.trades.close_sent(link=link, symbol=symbol, side=side, qty=qty)
            try:
                ack = await e.client.place(NewOrder(symbol=symbol, side=side, qty=qty, order_link_id=link,
                                                    reduce_only=True))
            except OrderRejected as exc:
                await e.journal.trades.order_update(link, status="Rejected", error=str(exc)[:500])
                return Outcome(OS.FAILED, f"{symbol}: close rejected: {exc}")
            order = await e.client.wait_order(symbol, order_id=ack.order_id or None, order_link_id=link)
            if order is None or order.status != "Filled":
                return Outcome(OS.EXECUTING, f"{symbol}: close sent, status {order.status if order else 'unknown'}")
            await e.journal.trades.order_update(link, order_id=order.order_id, status=order.status,
                                                avg_price=order.avg_price, cum_exec_qty=order.cum_exec_qty)
            trade = await e.journal.trades.open_for(symbol)
            if trade is not None and trade.id is not None:
                await e.journal.trades.update(trade.id, qty=pos.size - order.cum_exec_qty)
        return Outcome(OS.OK, f"{symbol}: closed {num(order.cum_exec_qty)} @ {num(order.avg_price)}; "
                              f"{num(pos.size - order.cum_exec_qty)} still open, still protected.")

    async def plan_level(self, symbol: str, which: str, price: Decimal) -> LevelPlan:
        """Validate a stop (``sl``) or target (``tp``) move against the mark price and the tick."""
        pos, inst = await self.position(symbol)
        side = pos.held
        mark = pos.mark_price or pos.avg_price
        if not is_multiple(price, inst.tick_size):
            raise UserError(f"{num(price)} is not on {symbol}'s price tick {num(inst.tick_size)}.")
        if which == "sl":
            if side.sign * (mark - price) <= 0:
                where = "below" if side is Side.BUY else "above"
                raise UserError(f"A {side.word}'s stop must be {where} the mark price {num(mark)}.")
            old = pos.stop_loss or None
            looser = old is None or side.sign * (old - price) > 0
            risk = self.engine.settings.risk
            fee = self.engine.gate.fee_rate(symbol)
            new_loss = loss_at(side, pos.avg_price, price, pos.size, fee, risk.slippage_pct)
            old_loss = loss_at(side, pos.avg_price, old, pos.size, fee, risk.slippage_pct) if old else None
            return LevelPlan(symbol, which, price, old, mark, looser, new_loss, old_loss, pos.size)
        if side.sign * (price - mark) <= 0:
            where = "above" if side is Side.BUY else "below"
            raise UserError(f"A {side.word}'s target must be {where} the mark price {num(mark)}.")
        return LevelPlan(symbol, which, price, pos.take_profit or None, mark, False, size=pos.size)

    async def move_level(self, symbol: str, which: str, price: Decimal, by: str) -> Outcome:
        """Set the stop or the target on the exchange, and journal a stop move with who made it. The bot's own
        management only ever tightens from there (tradebot/care/stops.py): a stop loosened by hand stays."""
        e = self.engine
        async with e.locks.symbol(symbol):
            plan = await self.plan_level(symbol, which, price)  # again under the lock: the mark moves
            if which == "sl":
                await e.client.trading_stop(TradingStop(symbol=symbol, stop_loss=price))
            elif not await move_limit_take_profit(e.client, symbol, price, plan.size):  # maker first: its limit TP
                await e.client.trading_stop(TradingStop(symbol=symbol, take_profit=price))
            trade = await e.journal.trades.open_for(symbol)
            if trade is not None and trade.id is not None:
                if which == "sl":
                    when = max(e.market.now_for(symbol), trade.entry_time)  # the history stays in order
                    await e.journal.trades.stop_moved(trade.id, sl=price, reason=StopMoveReason.MANUAL, now=when,
                                                      by=by)
                else:
                    await e.journal.trades.update(trade.id, tp=price)
        word = "Stop" if which == "sl" else "Target"
        return Outcome(OS.OK, f"{symbol}: {word} {num(plan.old)} → {num(price)} (by {by}).")
