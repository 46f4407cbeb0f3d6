"""Config validation: every bad key is reported with its value and what is allowed; bot.py exits 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.config import ConfigErrors, load_config

ROOT = Path(__file__).resolve().parents[1]
GOOD_ENV = {"TELEGRAM_BOT_TOKEN": "123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK", "TELEGRAM_ALLOWED_CHAT_IDS": "42",
            "BYBIT_ENV": "paper"}


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return str(p)


def errors_of(env: dict, path: str | None = None, demo: bool = False) -> dict[str, str]:
    with pytest.raises(ConfigErrors) as info:
        load_config(env, path, demo=demo)
    return {e.key: f"{e.value!r} {e.allowed}" for e in info.value.errors}


def test_defaults_load(tmp_path):
    cfg = load_config(GOOD_ENV, write(tmp_path, ""))
    assert cfg.bot.symbols == ["BTCUSDT"] and cfg.bot.mode == "confirm"
    assert cfg.exchange_env == "paper"


def test_example_config_is_valid():
    cfg = load_config(GOOD_ENV, str(ROOT / "config.example.toml"))
    assert cfg.source.endswith("config.example.toml")


@pytest.mark.parametrize(("toml", "key", "words"), [
    ("[risk]\nrisk_pct = 50\n", "risk.risk_pct", "less than or equal to 10"),
    ("[risk]\nrisk_pct = -1\n", "risk.risk_pct", "greater than 0"),
    ("[risk]\ntrailing_mode = 'sometimes'\n", "risk.trailing_mode", "'exchange' or 'bot'"),
    ("[risk]\nleverage = 500\n", "risk.leverage", "100"),
    ("[bot]\nsymbols = ['btc-usd']\n", "bot.symbols", "BTCUSDT"),
    ("[bot]\ninterval = '7'\n", "bot.interval", "must be one of 1 3 5 15 30 60 120 240 360 720 (minutes, a number or a "
                                                "string) or D"),
    ("[bot]\ninterval = 7\n", "bot.interval", "must be one of 1 3 5 15"),
    ("[bot]\ninterval = true\n", "bot.interval", "must be one of 1 3 5 15"),
    ("[strategy]\nhigher_timeframes = [{interval = 45}]\n", "strategy.higher_timeframes.0.interval",
     "(minutes, a number or a string) or D or W or M"),
    ("[bot]\nmode = 'yolo'\n", "bot.mode", "'confirm' or 'auto'"),
    ("[bot]\nloop_seconds = 0\n", "bot.loop_seconds", "greater than or equal to 1"),
    ("[bot]\ndigest_utc = '25:00'\n", "bot.digest_utc", "HH:MM"),
    ("[bot]\nsymbls = ['BTCUSDT']\n", "bot.symbls", "unknown key"),
    ("[strategy]\nthreshold = 'high'\n", "strategy.threshold", "number"),
    ("[risk]\nmax_fee_share = 2\n", "risk.max_fee_share", "less than or equal to 1"),
    ("[risk]\nmax_fee_share = 0\n", "risk.max_fee_share", "greater than 0"),
    ("[risk]\nslippage_pct = -0.1\n", "risk.slippage_pct", "greater than or equal to 0"),
    ("[risk]\ntrail_trigger_atr = 5\n", "risk.trail_trigger_atr", "must not exceed tp_atr (3.0)"),
])
def test_bad_file_values_name_key_value_and_allowed(tmp_path, toml, key, words):
    errs = errors_of(GOOD_ENV, write(tmp_path, toml))
    assert key in errs, errs
    assert words in errs[key]


def test_bad_toml_and_missing_file(tmp_path):
    assert "not valid TOML" in errors_of(GOOD_ENV, write(tmp_path, "[bot\n"))["CONFIG_FILE"]
    assert "file not found" in errors_of(GOOD_ENV, str(tmp_path / "nope.toml"))["CONFIG_FILE"]


@pytest.mark.parametrize(("env", "key", "words"), [
    ({"BYBIT_ENV": "moon"}, "BYBIT_ENV", "paper, mainnet, testnet, demo"),
    ({"TELEGRAM_ALLOWED_CHAT_IDS": "alice"}, "TELEGRAM_ALLOWED_CHAT_IDS", "numeric"),
    ({"TELEGRAM_ALLOWED_CHAT_IDS": ""}, "TELEGRAM_ALLOWED_CHAT_IDS", "at least one"),
    ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN", "BotFather"),
    ({"TELEGRAM_BOT_TOKEN": "nonsense"}, "TELEGRAM_BOT_TOKEN", "123456789:AA"),
    ({"BYBIT_ENV": "testnet"}, "BYBIT_API_KEY", "required when BYBIT_ENV=testnet"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", "postgresql"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "DEBUG"),
])
def test_bad_env_values(tmp_path, env, key, words):
    errs = errors_of(GOOD_ENV | env, write(tmp_path, ""))
    assert key in errs and words in errs[key], errs


def test_token_value_never_echoed(tmp_path):
    errs = errors_of(GOOD_ENV | {"TELEGRAM_BOT_TOKEN": "oops-secret-token"}, write(tmp_path, ""))
    assert "oops-secret-token" not in " ".join(errs.values())


def test_demo_needs_no_telegram_or_keys(tmp_path):
    cfg = load_config({}, write(tmp_path, ""), demo=True)
    assert cfg.exchange_env == "paper"


def test_all_errors_reported_at_once(tmp_path):
    errs = errors_of({"BYBIT_ENV": "moon"}, write(tmp_path, "[risk]\nrisk_pct = 99\n[bot]\nmode = 'x'\n"))
    assert {"BYBIT_ENV", "risk.risk_pct", "bot.mode", "TELEGRAM_BOT_TOKEN"} <= set(errs) or "BYBIT_ENV" in errs


def run_bot(args: list[str], env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], env=base | env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_bot_exits_2_without_traceback_on_bad_config(tmp_path):
    cfg = write(tmp_path, "[risk]\nrisk_pct = 50\n")
    r = run_bot(["--config", cfg], GOOD_ENV, tmp_path)
    assert r.returncode == 2
    assert "risk.risk_pct = 50: Input should be less than or equal to 10" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_bot_exits_2_when_token_missing(tmp_path):
    r = run_bot([], {"TELEGRAM_ALLOWED_CHAT_IDS": "1"}, tmp_path)
    assert r.returncode == 2 and "TELEGRAM_BOT_TOKEN" in r.stderr and "Traceback" not in r.stderr


_bad_values = st.one_of(st.text(max_size=8), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                        st.booleans(), st.lists(st.integers(), max_size=2))
_keys = st.sampled_from([("risk", "risk_pct"), ("risk", "sl_atr"), ("risk", "leverage"), ("bot", "loop_seconds"),
                         ("bot", "mode"), ("bot", "interval"), ("bot", "symbols"), ("risk", "max_open_positions"),
                         ("bot", "confirmation_expiry_seconds"), ("risk", "trailing_mode")])


def _toml_value(v) -> str:
    import json
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v != v:
        return "nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, str):
        return '"' + "".join(_toml_char(c) for c in v) + '"'
    return json.dumps(v, ensure_ascii=False)


def _toml_char(c: str) -> str:
    if c in ('"', "\\"):
        return "\\" + c
    if ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF:
        return f"\\u{ord(c):04x}" if not 0xD800 <= ord(c) <= 0xDFFF else "?"
    return c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=_keys, value=_bad_values)
def test_property_any_value_either_loads_or_names_the_key(tmp_path, key, value):
    table, name = key
    path = write(tmp_path, f"[{table}]\n{name} = {_toml_value(value)}\n")
    try:
        load_config(GOOD_ENV, path)
    except ConfigErrors as exc:
        assert all(e.key and e.allowed for e in exc.errors)
        assert any(e.key.startswith(f"{table}.{name}") for e in exc.errors), exc.errors


def test_intervals_as_numbers_like_the_readme(tmp_path):
    """README writes intervals as numbers (1 3 5 15 ...): interval = 15 and interval = "15" mean the same."""
    cfg = load_config(GOOD_ENV, str(write(tmp_path, "[bot]\ninterval = 15\n[strategy]\nhigher_timeframes = "
                                               "[{interval = 60}, {interval = 240}, {interval = 'd'}]\n")))
    assert cfg.bot.interval == "15"
    assert [h.interval for h in cfg.strategy.higher_timeframes] == ["60", "240", "D"]
    assert load_config(GOOD_ENV, str(write(tmp_path, "[bot]\ninterval = 'd'\n"))).bot.interval == "D"
