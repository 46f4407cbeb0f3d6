"""Walk-forward windows: rolling train parts before back-to-back test parts, then the hold-out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradebot.optimize.windows import plan

STEP = 300_000


@given(bars=st.integers(200, 50_000), windows=st.integers(1, 8), ratio=st.floats(0.5, 6),
       hold=st.floats(0, 50))
def test_windows_tile_the_period(bars: int, windows: int, ratio: float, hold: float) -> None:
    start = 1_700_000_000_000
    end = start + bars * STEP
    try:
        p = plan(start, end, STEP, windows, ratio, hold)
    except ValueError as exc:
        assert "too little data" in str(exc)
        return
    assert len(p.windows) == windows
    for w in p.windows:
        assert start <= w.train.start_ms < w.train.end_ms == w.test.start_ms < w.test.end_ms
        assert (w.train.end_ms - w.train.start_ms) % STEP == 0 and (w.test.end_ms - w.test.start_ms) % STEP == 0
    for a, b in zip(p.windows, p.windows[1:], strict=False):
        assert a.test.end_ms == b.test.start_ms  # out-of-sample parts follow each other
        assert b.train.start_ms > a.train.start_ms  # rolling, not anchored
    last = p.windows[-1].test.end_ms
    if p.holdout is not None:
        assert p.holdout.start_ms == last and p.holdout.end_ms <= end  # never searched: after every test part
    else:
        assert end - last < 2 * STEP


def test_known_split() -> None:
    p = plan(0, 1000 * STEP, STEP, 4, 3.0, 20)
    assert [(w.train.start_ms // STEP, w.test.start_ms // STEP, w.test.end_ms // STEP) for w in p.windows] == [
        (2, 344, 458), (116, 458, 572), (230, 572, 686), (344, 686, 800)]
    assert p.holdout is not None and (p.holdout.start_ms // STEP, p.holdout.end_ms // STEP) == (800, 1000)


def test_too_little_data_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="use more days, fewer windows or a smaller hold-out"):
        plan(0, 10 * STEP, STEP, 4, 3.0, 20)
