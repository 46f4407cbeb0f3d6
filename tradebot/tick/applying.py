"""Settings applied from the chat (/optimize → Apply) under open positions: a new leverage is set on the exchange
before anything is sized with it (or the change is refused), and a trailing-mode change converts the open trades
so they stay protected and trailed."""

from __future__ import annotations

import logging
from decimal import Decimal

from storage.journal import Journal
from tradebot.bybit.client import BybitClient
from tradebot.bybit.orders import TradingStop
from tradebot.care.stops import exchange_trailing
from tradebot.errors import BybitAPIError, ExchangeError, UserError
from tradebot.outcome import Outcome
from tradebot.settings.overrides import apply_changes
from tradebot.side import Side
from tradebot.sizing.risk import RiskParams
from tradebot.states import OutcomeStatus as OS
from tradebot.text import num
from tradebot.tick.locks import TradeLocks
from tradebot.tick.reader import MarketReader
from tradebot.tick.saved import SavedSettings

log = logging.getLogger("tradebot.tick.engine")


class SettingsApplier:
    """Apply validated changes: exchange first (leverage), then the journal, then the open trades (trailing).
    UserError when the exchange refuses the leverage (nothing is changed)."""

    def __init__(self, *, settings: SavedSettings, client: BybitClient, journal: Journal, market: MarketReader,
                 locks: TradeLocks, symbols: list[str]) -> None:
        self.settings, self.client, self.journal, self.market = settings, client, journal, market
        self.locks, self.symbols = locks, symbols

    async def apply(self, changes: dict[str, object], by: str = "") -> Outcome:
        old = self.settings.risk
        new, _ = apply_changes(old, self.settings.strategy, changes)  # ValidationError/KeyError: nothing is saved
        if new.leverage != old.leverage:
            refused = await self._set_leverage(new.leverage, old.leverage)
            if refused is not None:  # the chat shows it as a refusal (the button's alert)
                raise UserError(f"Not applied: {refused}. Nothing was changed.")
        await self.settings.apply(changes)
        log.info("settings changed%s: %s", f" by {by}" if by else "", changes)
        notes = []
        if new.leverage != old.leverage:
            notes.append(f"Leverage {num(new.leverage)}x is set on the exchange for {', '.join(self.symbols)}.")
        if new.trailing_mode != old.trailing_mode:
            notes.append(await self._convert_trailing(new))
        extra = "".join(f" {n}" for n in notes if n)
        return Outcome(OS.OK, f"Applied {len(changes)} setting(s); they stay in force across restarts.{extra}")

    async def _set_leverage(self, leverage: Decimal, previous: Decimal) -> str | None:
        """Set ``leverage`` (each symbol's maximum at most) on every symbol, position/leverage.mdx; 110043 "not
        modified" is already set. On a refusal the symbols set so far go back to ``previous``: None or why."""
        done: list[str] = []
        for symbol in self.symbols:
            try:
                inst = await self.market.instrument(symbol)
                lev = inst.leverage(leverage)
                async with self.locks.symbol(symbol):
                    await self.client.set_leverage(symbol, lev)
            except ExchangeError as exc:
                why = exc.meaning if isinstance(exc, BybitAPIError) and exc.meaning else str(exc)
                for s in done:
                    try:
                        await self.client.set_leverage(s, (await self.market.instrument(s)).leverage(previous))
                    except ExchangeError as back:
                        log.error("%s: leverage could not be set back to %s: %s", s, previous, back)
                code = f" (retCode {exc.code})" if isinstance(exc, BybitAPIError) else ""
                return f"the exchange refused leverage {num(leverage)}x on {symbol}{code}: {why}"
            done.append(symbol)
        return None

    async def _convert_trailing(self, risk: RiskParams) -> str:
        """The open trades follow the new mode. To ``exchange``: Bybit's trailing stop is set on each open trade
        (its distance and activation from the trade's entry and ATR, as at entry); the bot stops trailing and its
        stop-loss stays. To ``bot``: the bot trails each open trade's stop-loss from now; a trailing stop already on
        the exchange stays (it only ever tightens too). Either way the stop-loss never moves back."""
        trades = await self.journal.trades.open()
        if not trades:
            return f"Trailing is now done by the {risk.trailing_mode} for new trades (none is open)."
        if risk.trailing_mode == "bot":
            return (f"Open trades ({', '.join(t.symbol for t in trades)}): the bot now trails their stop-loss; a "
                    "trailing stop already set on the exchange stays.")
        out = []
        for t in trades:
            if t.id is None or not t.atr or t.atr <= 0:
                out.append(f"{t.symbol}: no ATR on record, the bot's stop-loss stays (no exchange trailing stop)")
                continue
            try:
                inst = await self.market.instrument(t.symbol)
                spec = exchange_trailing(side=Side(t.side), entry=t.entry_price, atr=t.atr, inst=inst, params=risk)
                async with self.locks.symbol(t.symbol):
                    await self.client.trading_stop(TradingStop(symbol=t.symbol, trailing_stop=spec.distance,
                                                               active_price=spec.active_price))
                    await self.journal.trades.update(t.id, trailing_distance=spec.distance,
                                                     trailing_active_price=spec.active_price)
                out.append(f"{t.symbol}: exchange trailing stop {num(spec.distance)} from {num(spec.active_price)}")
            except (ExchangeError, ValueError) as exc:
                out.append(f"{t.symbol}: exchange trailing stop not set ({exc}); its stop-loss still protects it")
        return "Open trades converted to exchange trailing: " + "; ".join(out) + "."
