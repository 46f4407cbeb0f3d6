"""An indicator is one object: every table that names indicators agrees with the registry, and has no other.

The registry (``tradebot/strategy/indicators/``, one module per indicator) gives ``StrategyParams`` its
tables, the score order, each indicator's computation and vote and its /signal label; ``config.example.toml``
is the one TOML file that documents ``[strategy]`` (written by hand), so it is checked here against it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from handlers.render.readings import esc, reading
from tradebot.market import load_csv
from tradebot.strategy import StrategyParams, compute_series, compute_signal, vote_columns
from tradebot.strategy.params import INDICATOR_NAMES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
SAMPLE = ROOT / "data" / "sample" / "BTCUSDT_5m.csv"
NOT_INDICATORS = ("threshold", "atr_period", "higher_timeframes", "orderbook")


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_csv(SAMPLE)[0]


def test_the_example_config_documents_every_indicator_and_no_other() -> None:
    """Every indicator has its [strategy.<name>] table, in score order, with exactly its model's keys and
    values its model accepts; no table names an indicator the registry does not have."""
    path = EXAMPLE
    strategy = tomllib.loads(path.read_text(encoding="utf-8"))["strategy"]
    tables = [name for name, value in strategy.items() if isinstance(value, dict) and name != "orderbook"]
    assert tables == list(INDICATOR_NAMES), f"{path.name}: [strategy.X] tables differ from the registry"
    for name in INDICATOR_NAMES:
        model = StrategyParams.model_fields[name].annotation
        assert isinstance(model, type)
        assert set(strategy[name]) == set(model.model_fields), f"{path.name} [strategy.{name}]"
        model.model_validate(strategy[name])


def test_strategy_is_documented_in_one_toml_file_only() -> None:
    """Adding an indicator is its module plus its table in config.example.toml (and README's row): no second
    hand-written copy of [strategy] anywhere in the repository to keep equal."""
    import subprocess

    files = subprocess.run(["git", "ls-files", "*.toml"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    documenting = [f for f in files if "strategy" in tomllib.loads((ROOT / f).read_text(encoding="utf-8"))]
    assert documenting == [EXAMPLE.name]


def test_strategy_params_has_one_table_per_indicator_in_score_order() -> None:
    from tradebot.strategy.indicators import INDICATORS

    fields = StrategyParams.model_fields
    assert list(fields) == [*NOT_INDICATORS[:2], *INDICATOR_NAMES, *NOT_INDICATORS[2:]]
    assert INDICATOR_NAMES == tuple(i.name for i in INDICATORS)
    assert [i.order for i in INDICATORS] == sorted({i.order for i in INDICATORS})  # unique, ascending
    for indicator in INDICATORS:
        assert fields[indicator.name].annotation is indicator.params
        assert fields[indicator.name].default == indicator.params()
    every = StrategyParams.model_validate({name: {"enabled": True} for name in INDICATOR_NAMES})
    assert vote_columns(every)[: len(INDICATOR_NAMES)] == list(INDICATOR_NAMES)


def test_every_indicator_module_is_one_indicator_named_after_it() -> None:
    import pkgutil

    import tradebot.strategy.indicators as package

    modules = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    assert sorted(modules) == sorted(INDICATOR_NAMES)


@pytest.mark.parametrize("name", INDICATOR_NAMES)
def test_each_indicator_alone_computes_votes_and_reads(real: pd.DataFrame, name: str) -> None:
    """Switched on alone, an indicator's computation gives every array its vote reads (no key borrowed from
    another indicator), it votes on the last bar of the sample (warmed up), the live vote equals the
    vectorised one, and /signal names its value with its own label."""
    from tradebot.strategy.indicators import BY_NAME

    indicator = BY_NAME[name]
    off = {other: {"enabled": False} for other in INDICATOR_NAMES if other != name}
    p = StrategyParams.model_validate({**off, name: {"enabled": True}, "higher_timeframes": [],
                                       "orderbook": {"enabled": False}, "threshold": 0.01})
    df = real.iloc[-1500:]
    sig = compute_signal("BTCUSDT", df, p)
    (vote,) = sig.breakdown
    assert vote.name == name and not vote.abstained and vote.value is not None
    assert vote.vote == compute_series(df, p)[name].iloc[-1]
    label = indicator.label(indicator.of(p))
    assert label and indicator.label(None)
    assert reading(vote, "BTCUSDT", p).startswith(esc(label) + " = ")
    assert reading(vote, "BTCUSDT").startswith(esc(indicator.label(None)) + " = ")


def test_no_two_indicators_write_the_same_array(real: pd.DataFrame) -> None:
    """Each computation adds arrays under its own names: one indicator never overwrites another's."""
    from tradebot.strategy.engine import _candles
    from tradebot.strategy.indicators import compute_raw

    candles = _candles(real.iloc[-300:])[0]
    owner: dict[str, str] = {}
    for name in INDICATOR_NAMES:
        off = {other: {"enabled": False} for other in INDICATOR_NAMES if other != name}
        p = StrategyParams.model_validate({**off, "higher_timeframes": [], "threshold": 0.01})
        for key in set(compute_raw(candles, p)) - {"open", "close", "atr"}:
            assert key not in owner, f"{name} and {owner.get(key)} both write {key!r}"
            owner[key] = name
