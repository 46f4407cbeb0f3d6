"""/chart picture: lines from the first candle, volume panel, last price, SL/TP of position and card, marker legend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from handlers.render.chart import build_figure, render_chart
from tradebot.bybit.account_models import Position
from tradebot.chat.views import ChartData
from tradebot.market import load_csv

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "BTCUSDT_5m.csv"


def chart_data(shown: int = 150, warmup: int = 84) -> ChartData:
    df, _ = load_csv(SAMPLE)
    frame = df.iloc[-(shown + warmup):]
    t = frame.index[-shown:]
    win = SimpleNamespace(side="Buy", entry_time=t[10], entry_price=D(str(frame["close"].iloc[-140])),
                          exit_time=t[20], exit_price=D(str(frame["close"].iloc[-130])), pnl=D("55.1"))
    loss = SimpleNamespace(side="Sell", entry_time=t[60], entry_price=D(str(frame["close"].iloc[-90])),
                           exit_time=t[70] + timedelta(minutes=2), exit_price=D(str(frame["high"].iloc[-80])),
                           pnl=D("-31.4"))
    position = Position.from_api({"symbol": "BTCUSDT", "side": "Buy", "size": "0.4", "avgPrice": "109000",
                                  "markPrice": "109385.4", "stopLoss": "108700", "takeProfit": "109900"})
    card = SimpleNamespace(side="Buy", price=D("109385.4"), sl=D("109050.5"), tp=D("110050.3"))
    return ChartData("BTCUSDT", "15", frame, [win, loss], position, shown, [card])  # type: ignore[list-item]


def test_chart_has_everything_a_trader_reads() -> None:
    fig = build_figure(chart_data())
    price, volume = fig.axes
    assert "15m" in price.get_title() and "· 15 ·" not in price.get_title()
    assert volume.get_ylabel() == "volume (BTC)" and len(volume.patches) == 150  # a volume bar per candle
    labels = price.get_legend_handles_labels()[1]
    for wanted in ("EMA 9", "EMA 21", "Bollinger 20/2", "entry long", "entry short", "exit, profit", "exit, loss",
                   "entry 109,000", "SL 108,700", "TP 109,900", "card SL 109,050.5", "card TP 110,050.3"):
        assert wanted in labels, (wanted, labels)
    for line in price.get_lines():  # the indicator lines start at the first candle shown (warm-up fetched)
        if line.get_label() in ("EMA 9", "EMA 21", "Bollinger 20/2"):
            assert not np.isnan(np.asarray(line.get_ydata(), dtype=float)).any(), line.get_label()
    exits = {c.get_label(): c.get_facecolor()[0][:3] for c in price.collections if c.get_label().startswith("exit")}
    assert exits["exit, profit"][1] > exits["exit, profit"][0] and exits["exit, loss"][0] > exits["exit, loss"][1]
    last = [t.get_text() for t in price.texts if t.get_text().startswith("last ")]
    assert last == ["last 109,385.4"]


def test_png_is_written() -> None:
    png = render_chart(chart_data())
    assert png.startswith(b"\x89PNG") and len(png) > 30_000
