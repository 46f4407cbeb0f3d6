"""Optional JSON state-file persistence of the paper account (wallet, positions, orders, fills, feed cursor)."""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradebot.market_model.feed import Candle
from tradebot.market_model.instruments import INSTRUMENTS
from tradebot.side import Side

from .host import SimHost
from .margin import push_mark
from .models import ClosedPnl, Execution, Order, Position

VERSION = 1
KEEP_CANDLES = 1000  # closed candles persisted per symbol (the rest of a replay comes from the data file)


def _dump(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, Side):
        return obj.value
    return obj


def _value(hint: Any, v: Any) -> Any:
    """A stored field value as its dataclass field's type: Decimal strings, and sides ("" = a flat position)."""
    if hint is Decimal:
        return Decimal(v)
    if hint is Side:
        return Side(v)
    if hint == Side | None:
        return Side(v) if v else None
    return v


def _load(cls: type, data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {f.name: _value(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    return cls(**kwargs)


def snapshot(sim: SimHost) -> dict[str, Any]:
    ex = sim.exchange
    feeds = {}
    for s, f in sim.feeds.items():
        feeds[s] = {"index": f.index, "point": f.point, "last": str(f.last), "forming": _dump(f.forming),
                    "target": _dump(f.target), "closed": [_dump(c) for c in f.closed[-KEEP_CANDLES:]],
                    "n_closed": len(f.closed), "rng": f._rng.getstate() if f.data is None else None}
    return {
        "version": VERSION, "symbols": sim.symbols, "wallet": str(ex.wallet), "counter": ex.counter,
        "seq": ex.seq, "last": {s: str(p) for s, p in ex.last.items()},
        "mark_window": {s: [str(p) for p in w] for s, w in ex.mark_window.items()},
        "positions": {s: {**_dump(p), "side": p.side.value if p.side else ""}  # "" = flat, as on the wire
                      for s, p in ex.positions.items()},
        "orders": [_dump(o) for o in ex.orders.values()],
        "executions": [_dump(e) for e in ex.executions], "closed_pnl": [_dump(c) for c in ex.closed],
        "feeds": feeds,
    }


def save(sim: SimHost, path: Path) -> None:
    """Atomically write the state file (temp file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)  # --state-file state/paper.json works on a fresh checkout
    tmp.write_text(json.dumps(snapshot(sim)))
    os.replace(tmp, path)


def restore(sim: SimHost, path: Path) -> None:
    """Load a state file written by :func:`save` into a freshly built simulator (same symbols/data)."""
    data = json.loads(path.read_text())
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: unsupported state version {data.get('version')}")
    ex = sim.exchange
    ex.wallet, ex.counter, ex.seq = Decimal(data["wallet"]), data["counter"], data["seq"]
    for s, p in data["positions"].items():
        if s in ex.positions:
            ex.positions[s] = _load(Position, p)
    ex.orders = {o["order_id"]: _load(Order, o) for o in data["orders"]}
    ex.link_ids = {o.link_id: o.order_id for o in ex.orders.values() if o.link_id}
    ex.executions = [_load(Execution, e) for e in data["executions"]]
    ex.closed = [_load(ClosedPnl, c) for c in data["closed_pnl"]]
    ex.stops.orders = ex.orders
    ex.stops.rebuild()
    for s, fd in data["feeds"].items():
        f = sim.feeds.get(s)
        if f is None:
            continue
        closed = [_load(Candle, c) for c in fd["closed"]]
        if f.data is not None:
            if fd["index"] >= len(f.data):
                raise ValueError(f"{path}: feed cursor for {s} is beyond the replay data")
            f.closed = [*f.data[:fd["n_closed"] - len(closed)], *closed]
        else:
            f.closed = closed
            rng = fd["rng"]
            f._rng.setstate((rng[0], tuple(rng[1]), rng[2]))
        f.index, f.point, f.last = fd["index"], fd["point"], Decimal(fd["last"])
        f.forming, f.target = _load(Candle, fd["forming"]), _load(Candle, fd["target"])
        ex.last[s] = f.last
        window = [Decimal(p) for p in data.get("mark_window", {}).get(s, [])]  # older files: flat at the last
        ex.mark_window[s] = window
        ex.mark[s] = push_mark(window, window.pop() if window else f.last, INSTRUMENTS[s].tick_size)
