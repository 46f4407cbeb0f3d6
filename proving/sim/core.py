"""The Simulator facade: feeds + matching engine + router behind one lock, with step/price/fault controls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradebot.market_model.book import BookParams
from tradebot.market_model.feed import BASE_MS, FUNDING_MS, SymbolFeed, load_candles
from tradebot.market_model.instruments import INSTRUMENTS

from .exchange import Exchange, Fees
from .faults import Faults
from .ledger import settle_funding
from .liquidation import position_row
from .models import fmt
from .streamfaults import StreamFaults

if TYPE_CHECKING:
    from .server import SimServer
    from .transport import AsyncSimTransport, SyncSimTransport
    from .wsserver import StreamServer


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Simulator:
    """An in-memory Bybit v5 linear exchange. See the package docstring for the full facade description."""

    def __init__(self, symbols: Iterable[str] = ("BTCUSDT",), price: Decimal | Mapping[str, Decimal] | None = None,
                 balance: Decimal = Decimal("10000"), candles: Mapping[str, Any] | None = None, seed: int = 0,
                 api_key: str = "sim-key", api_secret: str = "sim-secret", fees: Fees | None = None,
                 rate_limits: bool = True, state_file: str | Path | None = None, book: BookParams | None = None,
                 leverage: Decimal = Decimal(10), warmup: int = 0, start_ms: int | None = None,
                 funding_rate: Decimal = Decimal(0), wall_clock: Callable[[], int] = wall_ms) -> None:
        syms = list(dict.fromkeys([*symbols, *(candles or {})]))
        for s in syms:
            if s not in INSTRUMENTS:
                raise ValueError(f"unknown symbol {s}; built-in: {sorted(INSTRUMENTS)}")
        self.symbols = syms
        self.lock = threading.RLock()
        self.api_keys = {api_key: api_secret}
        self.rate_limits = rate_limits
        self.funding_rate = Decimal(funding_rate)
        self.account_settings: dict[str, Any] = {}  # /v5/account/info overrides (e.g. marginMode) for tests
        self.wall_ms = wall_clock
        self.faults = Faults()
        self.stream_faults = StreamFaults()
        self.ws_url: str | None = None  # set while a StreamServer runs (GET /sim/ws answers it)
        self.closed_pnl_hidden_from: int | None = None  # closed-pnl rows from this index on lag (see lag_closed_pnl)
        self.book = book or BookParams()
        self.state_file = Path(state_file) if state_file else None
        self.feeds: dict[str, SymbolFeed] = {}
        replay = {s: load_candles(c) for s, c in (candles or {}).items()}
        for s, data in replay.items():
            self.feeds[s] = SymbolFeed(s, INSTRUMENTS[s].tick_size, candles=data, warmup=warmup)
        self._align()
        if start_ms is None:
            start_ms = (next(iter(self.feeds.values())).forming.start if self.feeds
                        else wall_ms() // BASE_MS * BASE_MS)
        for i, s in enumerate(syms):
            if s not in self.feeds:
                p = price.get(s) if isinstance(price, Mapping) else (price if i == 0 else None)
                self.feeds[s] = SymbolFeed(s, INSTRUMENTS[s].tick_size, seed=seed, start_ms=start_ms,
                                           price=Decimal(p) if p is not None else INSTRUMENTS[s].default_price)
        self.exchange = Exchange({s: INSTRUMENTS[s] for s in syms}, Decimal(balance), self.market_time,
                                 fees=fees or Fees(), book=self.book, seed=seed, leverage=Decimal(leverage))
        self.exchange.visible_at = lambda: self.wall_ms() + int(self.faults.closed_pnl_lag_ms)
        for s in syms:
            self.exchange.on_price(s, self.feeds[s].last)
        from .api import Router
        from .publish import Publisher

        self.router = Router(self)
        self._replay_thread: threading.Thread | None = None
        self._stop = threading.Event()
        if self.state_file and self.state_file.exists():
            from .state import restore

            restore(self, self.state_file)
        self.publisher = Publisher(self)  # WebSocket messages for every state change (flushed below)

    def _align(self) -> None:
        """Advance replay feeds (before any trading) so all symbols' forming candles share one start."""
        if len(self.feeds) < 2:
            return
        target = max(f.forming.start for f in self.feeds.values())
        for f in self.feeds.values():
            while f.forming.start < target and f.has_next():
                f.open_next()

    # -- clocks & prices ---------------------------------------------------------------------------
    def market_time(self) -> int:
        """Market clock: the time of the current candle path point (all business timestamps use it)."""
        return self.feeds[self.symbols[0]].time_ms()

    def prices(self) -> dict[str, Decimal]:
        return {s: self.feeds[s].last for s in self.symbols}

    def set_price(self, symbol: str, price: Decimal | str, *, gap: bool = False) -> Decimal:
        """Walk ``symbol``'s last price to ``price`` (stops and limits in between trigger at their level); with
        ``gap`` the price jumps there instead (a stop it crosses fills at ``price``, as at a candle's gapped open)."""
        with self.lock:
            if symbol not in self.feeds:
                raise ValueError(f"unknown symbol {symbol}")
            tick = INSTRUMENTS[symbol].tick_size
            p = (Decimal(str(price)) / tick).to_integral_value() * tick
            if p <= 0:
                raise ValueError("price must be positive")
            self.exchange.on_price(symbol, p, continuous=not gap)
            self.feeds[symbol].move(p)
            self.publisher.flush(moved=True)
            self.save()
            return p

    def step(self, n: int = 1) -> int:
        """Advance every symbol by ``n`` candles (rest of the path, close, next open). Returns candles stepped."""
        done = 0
        with self.lock:
            for _ in range(n):
                if not all(f.has_next() for f in self.feeds.values()):
                    break
                paths = {s: f.remaining_path() for s, f in self.feeds.items()}
                for j in range(max((len(p) for p in paths.values()), default=0)):
                    for s, pts in paths.items():
                        if j < len(pts):
                            idx, p, _ = pts[j]
                            self.feeds[s].at_point(idx)
                            self.exchange.on_price(s, p, continuous=True)
                            self.feeds[s].move(p)
                    self.publisher.flush(moved=True)
                before = self.market_time()
                for s, f in self.feeds.items():
                    f.open_next()
                    self.exchange.on_price(s, f.last, continuous=False)
                self.publisher.flush(closed=True)
                after = self.market_time()
                if self.funding_rate:  # every 00:00/08:00/16:00 UTC crossed (market/history-fund-rate.mdx)
                    for at in range((before // FUNDING_MS + 1) * FUNDING_MS, after + 1, FUNDING_MS):
                        for s in self.symbols:
                            settle_funding(self.exchange, s, self.funding_rate, at)
                        self.publisher.flush()  # funding executions on the private streams
                done += 1
            if done:
                self.save()
        return done

    def advance_ms(self, ms: int) -> int:
        """Let ``ms`` of market time pass without a price move (capped before the candle path's next point, which
        only :meth:`step` reaches): orders, fills and closes in between get distinct times. Returns the time."""
        with self.lock:
            for f in self.feeds.values():
                f.advance_ms(ms)
            return self.market_time()

    def lag_closed_pnl(self) -> None:
        """Closed-PnL rows created from now on are not listed by ``/v5/position/closed-pnl`` until
        :meth:`release_closed_pnl`: Bybit writes them a moment after the fill and the position message."""
        with self.lock:
            if self.closed_pnl_hidden_from is None:
                self.closed_pnl_hidden_from = len(self.exchange.closed)

    def release_closed_pnl(self) -> None:
        with self.lock:
            self.closed_pnl_hidden_from = None

    # -- replay at speed ---------------------------------------------------------------------------
    def start_replay(self, speed: float) -> None:
        """Step one base candle every ``interval/speed`` wall seconds in a background thread."""
        interval_s = self.feeds[self.symbols[0]].interval_ms / 1000 / speed

        def run() -> None:
            while not self._stop.wait(interval_s):
                if not self.step(1):
                    break

        self._replay_thread = threading.Thread(target=run, name="sim-replay", daemon=True)
        self._replay_thread.start()

    def stop_replay(self) -> None:
        self._stop.set()
        if self._replay_thread:
            self._replay_thread.join(timeout=5)

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Snapshot: wallet, positions, open orders, executions, closed pnl, market time and prices (wire form), and
        whether each symbol's trailing stop has activated (the simulator's own truth: Bybit's position does not say)."""
        from .account import wallet_row

        with self.lock:
            ex = self.exchange
            return {
                "time": self.market_time(),
                "prices": {s: fmt(p) for s, p in self.prices().items()},
                "marks": {s: fmt(ex.mark[s]) for s in self.symbols},
                "wallet": wallet_row(self),
                "positions": [position_row(ex, s) for s in self.symbols],
                "open_orders": [o.wire() for o in reversed(ex.open_orders())],
                "executions": [e.wire() for e in reversed(ex.executions)],
                "closed_pnl": [c.wire() for c in reversed(ex.closed)],
                "trailing_active": {s: ex.positions[s].trail_active for s in self.symbols},
                "faults": self.faults.as_dict(),
            }

    def save(self) -> None:
        """Persist to ``state_file`` (if configured); called after every mutating request and step."""
        if self.state_file is not None:
            from .state import save

            with self.lock:
                save(self, self.state_file)

    # -- transports --------------------------------------------------------------------------------
    def transport(self) -> AsyncSimTransport:
        """In-process ``httpx.AsyncBaseTransport`` (no sockets): ``httpx.AsyncClient(transport=sim.transport())``."""
        from .transport import AsyncSimTransport

        return AsyncSimTransport(self)

    def sync_transport(self) -> SyncSimTransport:
        from .transport import SyncSimTransport

        return SyncSimTransport(self)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SimServer:
        """Start the HTTP/1.1 server in a background thread; returns a handle with ``.url`` and ``.close()``."""
        from .server import SimServer

        return SimServer(self, host, port)

    def serve_streams(self, host: str = "127.0.0.1", port: int = 0, idle_seconds: float | None = None
                      ) -> StreamServer:
        """Start the WebSocket server (second port, own thread): ``/v5/private`` and ``/v5/public/linear``."""
        from .wsserver import IDLE_SECONDS, StreamServer

        return StreamServer(self, host, port, IDLE_SECONDS if idle_seconds is None else idle_seconds)

    def close(self) -> None:
        self.stop_replay()
        self.save()
