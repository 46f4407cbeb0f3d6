"""Walk-forward windows: rolling train/test pairs over the searched period, then an untouched hold-out."""

from __future__ import annotations

from dataclasses import dataclass

from tradebot.market import ms_to_datetime

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Span:
    """Half-open market-time range [start_ms, end_ms)."""

    start_ms: int
    end_ms: int

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / DAY_MS

    def label(self) -> str:
        return f"{ms_to_datetime(self.start_ms):%Y-%m-%d %H:%M} .. {ms_to_datetime(self.end_ms):%Y-%m-%d %H:%M}"

    def as_dict(self) -> dict[str, str]:
        return {"start": ms_to_datetime(self.start_ms).isoformat(), "end": ms_to_datetime(self.end_ms).isoformat()}


@dataclass(frozen=True)
class Window:
    """One walk-forward step: the trial is scored in-sample on ``train`` and out-of-sample on ``test``."""

    train: Span
    test: Span


@dataclass(frozen=True)
class Plan:
    windows: tuple[Window, ...]
    holdout: Span | None

    @property
    def oos(self) -> Span:
        """The out-of-sample stretch: every test part, back to back."""
        return Span(self.windows[0].test.start_ms, self.windows[-1].test.end_ms)


def plan(start_ms: int, end_ms: int, step_ms: int, windows: int, train_ratio: float, holdout_pct: float) -> Plan:
    """Split [start, end) into ``windows`` rolling (train, test) pairs and a final hold-out of ``holdout_pct`` %.

    The test parts follow each other without gaps; each train part is the ``train_ratio`` × test length right
    before its test part. Boundaries fall on bar starts (multiples of ``step_ms`` from ``start_ms``).
    """
    bars = (end_ms - start_ms) // step_ms
    hold = int(bars * holdout_pct / 100)
    walk = bars - hold
    test = int(walk / (windows + train_ratio))
    train = int(test * train_ratio)
    if test < 2 or train < 2:
        raise ValueError(f"too little data for {windows} walk-forward window(s) with train = {train_ratio:g} × test "
                         f"(only {walk} bar(s) before the hold-out): use more days, fewer windows or a smaller "
                         "hold-out")
    first_test = start_ms + (walk - windows * test) * step_ms  # any rounding slack goes to the first train part
    out = []
    for w in range(windows):
        t0 = first_test + w * test * step_ms
        out.append(Window(Span(t0 - train * step_ms, t0), Span(t0, t0 + test * step_ms)))
    holdout = Span(start_ms + walk * step_ms, start_ms + bars * step_ms) if hold >= 2 else None
    return Plan(tuple(out), holdout)
