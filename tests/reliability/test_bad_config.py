"""Bad configuration and environment, generated: every field of every table, wrong types, unknown and missing
keys → ConfigErrors naming the key (in-process, many cases); ``bot.py`` → exit 2, the key named, no traceback
(subprocess, a handful of generated cases)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tradebot.settings.config import BotSettings, ConfigErrors, FileConfig, load_config
from tradebot.sizing.risk import RiskParams
from tradebot.strategy.params import StrategyParams

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK"
GOOD_ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42", "BYBIT_ENV": "paper"}


def fields(model: Any, table: str) -> list[str]:
    return [f"{table}.{name}" for name in model.model_fields]


KEYS = fields(BotSettings, "bot") + fields(RiskParams, "risk") + fields(StrategyParams, "strategy")
WRONG_TYPES = st.one_of(st.text(max_size=6), st.integers(-10**9, 10**9), st.floats(allow_nan=False),
                        st.booleans(), st.lists(st.integers(-5, 5), max_size=3),
                        st.dictionaries(st.sampled_from(["x", "enabled", "weight"]), st.integers(), max_size=2))


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + "".join(_toml_char(c) for c in v) + '"'
    return repr(v) if isinstance(v, float) else json.dumps(v)


def _toml_char(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    return f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c


def toml_for(key: str, value: Any) -> str:
    table, name = key.split(".", 1)
    return f"[{table}]\n{name} = {toml_value(value)}\n"


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None, demo: bool = False) -> Any:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return load_config(GOOD_ENV if env is None else env, str(p), demo=demo)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=WRONG_TYPES)
def test_any_value_for_any_key_loads_or_names_that_key(tmp_path, key, value):
    try:
        load(tmp_path, toml_for(key, value))
    except ConfigErrors as exc:
        assert exc.errors and all(e.key and e.allowed for e in exc.errors)
        assert any(e.key == key or e.key.startswith(key + ".") for e in exc.errors), (key, value, exc.errors)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["bot", "risk", "strategy", "bot.alerts"]),
       name=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
def test_unknown_keys_are_named(tmp_path, table, name):
    known = {"bot": BotSettings, "risk": RiskParams, "strategy": StrategyParams}.get(table)
    if known is not None and name in known.model_fields or table == "bot.alerts" and name in (
            "signal", "filled", "stop_moved", "closed", "protection", "error", "lifecycle", "health"):
        return
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, f"[{table}]\n{name} = 1\n")
    assert any(e.key == f"{table}.{name}" and "unknown key" in e.allowed for e in info.value.errors)


ENV_BAD = {
    "TELEGRAM_ALLOWED_CHAT_IDS": st.one_of(st.just(""), st.from_regex(r"[a-z@ ]{1,8}", fullmatch=True),
                                           st.just("12,abc"), st.just("1.5")),
    "BYBIT_ENV": st.from_regex(r"[a-z]{1,8}", fullmatch=True).filter(
        lambda s: s not in ("paper", "mainnet", "testnet", "demo")),
    "DATABASE_URL": st.sampled_from(["mysql://x", "tradebot.db", "", "sqlite:/x", "http://db"]),
    "LOG_LEVEL": st.sampled_from(["LOUD", "debugg", "5", "", "TRACE"]),
    "TELEGRAM_BOT_TOKEN": st.sampled_from(["", "nonsense", "123:short", "abc:" + "A" * 30]),
    "TELEGRAM_API_URL": st.sampled_from(["127.0.0.1:8081", "ftp://h", "http://", "http://a b", "api.telegram.org"]),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), key=st.sampled_from(sorted(ENV_BAD)))
def test_bad_environment_values_are_named_and_secrets_not_echoed(tmp_path, data, key):
    value = data.draw(ENV_BAD[key])
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, "", GOOD_ENV | {key: value})
    named = [e for e in info.value.errors if e.key == key]
    assert named, info.value.errors
    if key == "TELEGRAM_BOT_TOKEN" and value:
        assert value not in str(info.value)


@pytest.mark.parametrize("missing", ["TELEGRAM_BOT_TOKEN", "TELEGRAM_ALLOWED_CHAT_IDS"])
def test_missing_required_keys_are_named(tmp_path, missing):
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, "", {k: v for k, v in GOOD_ENV.items() if k != missing})
    assert [e for e in info.value.errors if e.key == missing and e.value == "<missing>"]


@pytest.mark.parametrize("env", ["testnet", "mainnet", "demo", "http://127.0.0.1:8900"])
def test_exchange_keys_required_off_paper(tmp_path, env):
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, "", GOOD_ENV | {"BYBIT_ENV": env})
    assert {e.key for e in info.value.errors} >= {"BYBIT_API_KEY", "BYBIT_API_SECRET"}


def test_demo_needs_no_token_keys_or_chat(tmp_path):
    assert load(tmp_path, "", {}, demo=True).exchange_env == "paper"


def run_bot(tmp_path: Path, toml: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(cfg)], env=base | env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def generated_cases(n: int, seed: int = 11) -> list[tuple[str, str, dict[str, str], str]]:
    """(id, toml, env, key expected in the message): wrong types/ranges for random keys, env and missing keys."""
    rng = random.Random(seed)
    values = ["'x'", "-1", "1e9", "[1, 2]", "{a = 1}", "true", "''", "0"]
    cases: list[tuple[str, str, dict[str, str], str]] = []
    pool = [k for k in KEYS if not k.endswith(("alerts", "higher_timeframes", "orderbook"))]
    picked = [k for table in ("bot", "risk", "strategy") for k in rng.sample(
        [k for k in pool if k.startswith(table + ".")], n // 3 + (table != "strategy"))]
    for key in picked:
        for v in rng.sample(values, len(values)):
            table, name = key.split(".", 1)
            toml = f"[{table}]\n{name} = {v}\n"
            try:
                FileConfig.model_validate(tomllib.loads(toml))
            except ValidationError:  # this value is bad for this key: use it
                cases.append((f"{key}={v}", toml, GOOD_ENV, key))
                break
    cases.append(("missing-token", "", {"TELEGRAM_ALLOWED_CHAT_IDS": "42"}, "TELEGRAM_BOT_TOKEN"))
    cases.append(("bad-chat-ids", "", GOOD_ENV | {"TELEGRAM_ALLOWED_CHAT_IDS": "me"}, "TELEGRAM_ALLOWED_CHAT_IDS"))
    cases.append(("bad-env", "", GOOD_ENV | {"BYBIT_ENV": "moon"}, "BYBIT_ENV"))
    cases.append(("bad-toml", "[bot\n", GOOD_ENV, "CONFIG_FILE"))
    return cases


CASES = generated_cases(5)


@pytest.mark.parametrize(("case", "toml", "env", "key"), CASES, ids=[c[0] for c in CASES])
def test_bot_py_exits_2_naming_the_key_without_traceback(tmp_path, case, toml, env, key):
    r = run_bot(tmp_path, toml, env)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out
    assert f"  {key}" in r.stderr and "the bot did not start" in r.stderr, r.stderr
    assert TOKEN not in out
