"""Confirmations: ask (card), approve (claim once, re-check price, enter), reject, expire, settle after a crash."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlmodel import col, select

from storage import repo
from storage.db import session_scope
from storage.models import TERMINAL_ORDER_STATUSES, Confirmation
from tradebot.errors import ExchangeError
from tradebot.events import ConfirmationExpired, ConfirmationNeeded, ErrorEvent
from tradebot.formatting import num
from tradebot.instruments import round_price
from tradebot.risk import Sizing, cross_liquidation_price, maintenance_margin, size_position
from tradebot.strategy import Signal
from tradebot.trader import entry_link_id

if TYPE_CHECKING:
    from tradebot.engine import TradingEngine

log = logging.getLogger("tradebot.engine")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    """Result of a user action (approve, reject, close...): ``status`` for logic, ``text`` for the chat."""

    status: str
    text: str
    confirmation_id: str | None = None


class ConfirmationsMixin:
    """The confirmation flow of :class:`~tradebot.engine.TradingEngine` (uses its locks, trader and journal)."""

    async def _ask(self: TradingEngine, symbol: str, signal: Signal, sizing: Sizing, signal_id: int | None, now: datetime,
                   replaces: str | None = None) -> str:
        ttl = timedelta(seconds=self.cfg.bot.confirmation_expiry_seconds)
        with session_scope(self.db) as s:
            conf = repo.create_confirmation(session=s, symbol=symbol, side=sizing.side, qty=sizing.qty,
                                            price=sizing.entry_price, ttl=ttl, now=now, sl=sizing.sl, tp=sizing.tp,
                                            risk_usdt=sizing.risk_usdt, signal_id=signal_id)
            conf_id, expires = conf.id, conf.expires_at
        await self.bus.emit(ConfirmationNeeded(conf_id, symbol, sizing.side, sizing.entry_price, sizing.qty,
                                               sizing.sl, sizing.tp, sizing.risk_usdt, sizing.risk_pct_of_balance,
                                               sizing.reward_risk, await self._card_liquidation(symbol, sizing),
                                               sizing.notional, signal, expires, replaces, sizing.fees_usdt,
                                               sizing.fee_rate, sizing.risk_base))
        return conf_id

    async def _card_liquidation(self: TradingEngine, symbol: str, sizing: Sizing) -> Decimal | None:
        """The card's cross-margin liquidation estimate: 0 when none, None when the wallet cannot be read."""
        try:
            wallet = await self.client.wallet()
            others = [p for p in await self.client.positions() if p.is_open and p.symbol != symbol]
        except ExchangeError as exc:
            log.warning("%s: no liquidation estimate for the card: %s", symbol, exc)
            return None
        opening_fee = sizing.notional * self.risk.taker_fee_rate  # the equity right after the fill
        liq = cross_liquidation_price(sizing.side, sizing.entry_price, sizing.qty,  # type: ignore[arg-type]
                                      wallet.total_equity - opening_fee, other_maintenance=maintenance_margin(others))
        return ZERO if liq is None else round_price(liq, self.instruments[symbol], "nearest")

    async def approve(self: TradingEngine, conf_id: str, user_id: int) -> Outcome:
        """Approve a confirmation: exactly one order however often it is tapped, from however many devices."""
        now = self.clock()
        with session_scope(self.db) as s:
            conf = repo.get_confirmation(session=s, id=conf_id)
            if conf is None:
                return Outcome("unknown", "This confirmation does not exist (any more).")
            claimed = repo.claim_confirmation(session=s, id=conf_id, user_id=user_id, now=now)
            status, symbol, side = conf.status, conf.symbol, conf.side
            qty, price, sl, tp, signal_id = conf.qty, conf.price, conf.sl, conf.tp, conf.signal_id
        if claimed is None:
            if status == "pending":  # still pending but not claimable: it has expired
                with session_scope(self.db) as s:
                    repo.expire_confirmations(session=s, now=now)
                return Outcome("expired", "Too late: this confirmation has expired. Nothing was traded.", conf_id)
            return Outcome("already", f"Already handled ({status}). Nothing more was done.", conf_id)
        async with self._locks[symbol]:
            return await self._execute(conf_id, symbol, side, qty, price, sl, tp, signal_id, now)

    async def _execute(self: TradingEngine, conf_id: str, symbol: str, side: str, qty: Decimal, price: Decimal,
                       sl: Decimal | None, tp: Decimal | None, signal_id: int | None, now: datetime) -> Outcome:
        def finish(status: str, text: str) -> Outcome:
            with session_scope(self.db) as s:
                repo.set_confirmation_status(session=s, id=conf_id, status=status, result_text=text[:500])
            return Outcome(status, text, conf_id)

        block = self.entry_block(symbol, self.now_for(symbol))
        if block is not None:
            return finish("failed", f"Not traded: {block}.")
        if symbol not in self.instruments:  # start() failed (exchange down at launch): load the rules now
            try:
                self.instruments[symbol] = await self.client.instrument(symbol)
            except ExchangeError as exc:
                return finish("failed", f"Not traded: the exchange is not reachable ({exc}).")
        signal = self.last_signals.get(symbol)
        if signal is None:  # a fresh process (tap right after a restart): read the market now, under our lock
            try:
                signal = (await self._snapshot(symbol)).signal
                self.last_signals[symbol], self.atrs[symbol] = signal, signal.atr
            except ExchangeError:
                signal = None
        atr = signal.atr if signal else self.atrs.get(symbol, ZERO)
        try:
            last = (await self.client.ticker(symbol)).last_price
        except ExchangeError as exc:
            return finish("failed", f"Not traded: could not re-check the price ({exc}).")
        drift = abs(last - price)
        limit = atr * Decimal(str(self.cfg.bot.max_price_drift_atr))
        stale_after = timedelta(seconds=self.cfg.bot.confirmation_expiry_seconds)
        sign = 1 if side == "Buy" else -1  # a card whose SL/TP the price already crossed cannot be placed as is
        crossed = bool((sl and sign * (last - sl) <= 0) or (tp and sign * (tp - last) <= 0))
        if (atr > 0 and drift > limit) or crossed or now - self._created(conf_id) > stale_after:
            finish("stale", f"Price moved {drift} since the card ({price} → {last}); asking again with fresh numbers.")
            available, _ = await self._balance(self.now_for(symbol))
            sizing = size_position(side=side, entry_price=last, atr=atr, available_balance=available,  # type: ignore[arg-type]
                                   inst=self.instruments[symbol], params=self.risk, fee_rate=self.fee_rate(symbol))
            if not sizing.ok or signal is None:
                return Outcome("stale", f"Price moved {drift}; not re-asking: {sizing.refused or 'no signal'}.")
            new_id = await self._ask(symbol, signal, sizing, signal_id, now, replaces=conf_id)
            return Outcome("stale", f"Price moved from {price} to {last} (more than "
                           f"{self.cfg.bot.max_price_drift_atr} ATR). A fresh confirmation was sent.", new_id)
        with session_scope(self.db) as s:
            repo.set_confirmation_status(session=s, id=conf_id, status="executing", expected="approved",
                                         order_link_id=entry_link_id(conf_id))
        async with self._entry_lock:
            res = await self.trader.enter(symbol=symbol, side=side, qty=qty, sl=sl or ZERO, tp=tp or ZERO, atr=atr,
                                          inst=self.instruments[symbol], risk=self.risk, link_root=conf_id,
                                          confirmation_id=conf_id, signal_id=signal_id)
        if res.ok:
            return finish("executed", f"Filled {num(res.qty)} {symbol} @ {num(res.price)}.")
        if res.unknown:  # not "unknown" in the text: an unknown retCode is a plain rejection
            return Outcome("executing", f"Order sent; {res.text}", conf_id)
        return finish("failed", f"Not traded: {res.text}")

    def _created(self: TradingEngine, conf_id: str) -> datetime:
        with session_scope(self.db) as s:
            conf = repo.get_confirmation(session=s, id=conf_id)
            return conf.created_at if conf else self.clock()

    async def reject(self: TradingEngine, conf_id: str, user_id: int) -> Outcome:
        with session_scope(self.db) as s:
            ok = repo.set_confirmation_status(session=s, id=conf_id, status="rejected", expected="pending",
                                              now=self.clock(), decided_by=user_id)
            conf = repo.get_confirmation(session=s, id=conf_id)
        if ok:
            return Outcome("rejected", "Rejected. Nothing was traded.", conf_id)
        if conf is None:
            return Outcome("unknown", "This confirmation does not exist (any more).")
        return Outcome("already", f"Already handled ({conf.status}).", conf_id)

    async def expire_confirmations(self) -> list[str]:
        with session_scope(self.db) as s:
            expired = [(cid, c.symbol) for cid in repo.expire_confirmations(session=s, now=self.clock())
                       if (c := repo.get_confirmation(session=s, id=cid)) is not None]
        for cid, symbol in expired:
            await self.bus.emit(ConfirmationExpired(cid, symbol))
        return [cid for cid, _ in expired]

    async def _settle_interrupted(self: TradingEngine, before: datetime) -> None:
        """Confirmations a previous process claimed (approved/executing) and died on: settle them from the journal
        once reconciliation has resolved their orders, so none stays "approved" forever. Nothing is re-sent."""
        with session_scope(self.db) as s:
            stuck = [(c.id, c.symbol) for c in s.exec(select(Confirmation).where(
                col(Confirmation.status).in_(("approved", "executing")))).all()
                if c.decided_at is None or c.decided_at < before]
        for conf_id, symbol in stuck:
            with session_scope(self.db) as s:
                order = repo.get_order_by_link_id(session=s, order_link_id=entry_link_id(conf_id))
                if order is not None and order.trade_id is not None:
                    status, text = "executed", f"Filled {num(order.cum_exec_qty)} {symbol} @ {num(order.avg_price)}."
                elif order is None or (order.status in TERMINAL_ORDER_STATUSES and order.status != "Filled"
                                       and order.cum_exec_qty == 0):
                    status, text = "failed", "Interrupted by a restart before the order filled; nothing was traded."
                else:
                    continue  # outcome still unknown: reconciliation keeps checking the order
                repo.set_confirmation_status(session=s, id=conf_id, status=status, result_text=text,
                                             expected=("approved", "executing"))
            log.warning("confirmation %s was cut off by a restart: %s", conf_id, status)
            if status == "failed":
                await self.bus.emit(ErrorEvent(f"{symbol}: an approved entry was interrupted by a restart before "
                                               "its order filled; nothing was traded.", symbol))

