"""Config validation: every bad key is reported with its value and what is allowed; bot.py exits 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.settings.config import ConfigErrors, load_config

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
    ("[bot]\nheavy_workers = 0\n", "bot.heavy_workers", "greater than or equal to 1"),
    ("[bot]\nheavy_queue = 50\n", "bot.heavy_queue", "less than or equal to 20"),
    ("[bot]\ndigest_utc = '25:00'\n", "bot.digest_utc", "HH:MM"),
    ("[bot]\nsymbls = ['BTCUSDT']\n", "bot.symbls", "unknown key"),
    ("[strategy]\nthreshold = 'high'\n", "strategy.threshold", "number"),
    ("[risk]\nmax_fee_share = 2\n", "risk.max_fee_share", "less than or equal to 1"),
    ("[risk]\nmax_fee_share = 0\n", "risk.max_fee_share", "greater than 0"),
    ("[risk]\nslippage_pct = -0.1\n", "risk.slippage_pct", "greater than or equal to 0"),
    ("[risk]\ntrail_trigger_atr = 5\n", "risk.trail_trigger_atr", "must not exceed tp_atr (4.0)"),
    ("[execution]\nmode = 'limit'\n", "execution.mode", "'market' or 'maker_first'"),
    ("[execution]\nfallback = 'wait'\n", "execution.fallback", "'market' or 'skip'"),
    ("[execution]\nreprice_max = -1\n", "execution.reprice_max", "greater than or equal to 0"),
    ("[execution]\nreprice_max = 50\n", "execution.reprice_max", "less than or equal to 20"),
    ("[execution]\nreprice_window_s = 0\n", "execution.reprice_window_s", "greater than or equal to 1"),
    ("[execution]\nrepricemax = 2\n", "execution.repricemax", "unknown key"),
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
    ({"TELEGRAM_ALLOWED_CHAT_IDS": "١٢"}, "TELEGRAM_ALLOWED_CHAT_IDS", "numeric"),  # int("١٢") would be 12
    ({"TELEGRAM_OWNER_IDS": "-100123"}, "TELEGRAM_OWNER_IDS", "user ids (positive numbers"),
    ({"TELEGRAM_OWNER_IDS": "alice"}, "TELEGRAM_OWNER_IDS", "belongs in TELEGRAM_ALLOWED_CHAT_IDS"),
    ({"TELEGRAM_VIEWER_IDS": "7,x"}, "TELEGRAM_VIEWER_IDS", "user ids (positive numbers"),
    ({"TELEGRAM_OWNER_IDS": "7", "TELEGRAM_VIEWER_IDS": "8,7"}, "TELEGRAM_VIEWER_IDS", "both an owner and a viewer"),
    ({"TELEGRAM_ALLOWED_CHAT_IDS": "-100123"}, "TELEGRAM_OWNER_IDS", "at least one owner"),  # nobody could act
    ({"TELEGRAM_VIEWER_IDS": "42"}, "TELEGRAM_OWNER_IDS", "at least one owner"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "DEBUG"),
])
def test_bad_env_values(tmp_path, env, key, words):
    errs = errors_of(GOOD_ENV | env, write(tmp_path, ""))
    assert key in errs and words in errs[key], errs


def test_owners_and_viewers(tmp_path):
    """A private chat listed in TELEGRAM_ALLOWED_CHAT_IDS is an owner (configs from before roles keep working)
    unless it is a viewer; TELEGRAM_OWNER_IDS adds owners by user id; a group id is never an owner."""
    env = load_config(GOOD_ENV | {"TELEGRAM_ALLOWED_CHAT_IDS": "42,-100123,43"}, write(tmp_path, "")).env
    assert env.owner_ids == {42, 43} and env.TELEGRAM_VIEWER_IDS == []
    env = load_config(GOOD_ENV | {"TELEGRAM_ALLOWED_CHAT_IDS": "-100123, 43", "TELEGRAM_OWNER_IDS": "7; 8",
                                  "TELEGRAM_VIEWER_IDS": "43,9"}, write(tmp_path, "")).env
    assert env.owner_ids == {7, 8} and env.TELEGRAM_VIEWER_IDS == [43, 9]


def test_bot_exits_2_when_a_group_has_no_owner(tmp_path):
    r = run_bot([], GOOD_ENV | {"TELEGRAM_ALLOWED_CHAT_IDS": "-100123"}, tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "TELEGRAM_OWNER_IDS = '<missing>': at least one owner" in r.stderr, r.stderr


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


def test_execution_section_loads_and_defaults_to_maker_first(tmp_path):
    cfg = load_config(GOOD_ENV, write(tmp_path, "[execution]\nmode = 'market'\nfallback = 'skip'\n"))
    assert (cfg.execution.mode, cfg.execution.fallback) == ("market", "skip")
    ex = load_config(GOOD_ENV, write(tmp_path, "")).execution
    assert (ex.mode, ex.reprice_max, ex.reprice_window_s, ex.fallback) == ("maker_first", 2, 10.0, "market")


def test_bot_exits_2_on_a_bad_execution_value(tmp_path):
    r = run_bot(["--config", write(tmp_path, "[execution]\nmode = 'limit'\n")], GOOD_ENV, tmp_path)
    assert r.returncode == 2 and "execution.mode = 'limit'" in r.stderr and "'market' or 'maker_first'" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_bot_exits_2_without_traceback_on_bad_config(tmp_path):
    cfg = write(tmp_path, "[risk]\nrisk_pct = 50\n")
    r = run_bot(["--config", cfg], GOOD_ENV, tmp_path)
    assert r.returncode == 2
    assert "risk.risk_pct = 50: Input should be less than or equal to 10" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize(("data", "words"), [
    (b'[bot]\nmode = "confirm" # caf\xe9\n', "not UTF-8 text (byte 0xe9 at offset 28)"),  # Latin-1
    ("[bot]\nmode = 'confirm'\n".encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0)"),  # Notepad's "Unicode"
    (b"\x00\x01\x02\xfe", "not UTF-8 text (byte 0xfe at offset 3)"),
])
def test_a_config_file_that_is_not_utf8_is_named(tmp_path, data, words):
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    errs = errors_of(GOOD_ENV, str(path))
    assert words in errs["CONFIG_FILE"] and "save the file as UTF-8" in errs["CONFIG_FILE"], errs


def test_a_utf8_config_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes("[bot]\nmode = 'auto' # café\n".encode("utf-8-sig"))
    assert load_config(GOOD_ENV, str(path)).bot.mode == "auto"


def test_a_config_path_that_is_a_directory_is_named(tmp_path):
    assert errors_of(GOOD_ENV, str(tmp_path))["CONFIG_FILE"].endswith("cannot be read: Is a directory")


@pytest.mark.parametrize(("args", "env", "line"), [
    (["--config", "latin1.toml"], {}, "  CONFIG_FILE = 'latin1.toml': not UTF-8 text (byte 0xe9 at offset 11)"),
    ([], {"DATABASE_URL": "postgresql://bot:pw@db:5432x/tradebot"},
     "  DATABASE_URL = 'postgresql://bot:***@db:5432x/tradebot': the port after the host must be a number"),
    ([], {"DATABASE_URL": "postgresql://bot:pw@db:70000/tradebot"},
     "  DATABASE_URL = 'postgresql://bot:***@db:70000/tradebot': the port after the host must be a number"),
])
def test_bot_exits_2_in_one_line_on_a_non_utf8_config_or_a_bad_database_port(tmp_path, args, env, line):
    (tmp_path / "latin1.toml").write_bytes(b"[bot] # caf\xe9\n")
    for command in ([], ["health"]):
        r = run_bot(args + command, GOOD_ENV | env, tmp_path)
        assert r.returncode == (1 if command else 2), r.stderr  # health: Docker reserves exit code 2
        assert "Traceback" not in r.stderr + r.stdout and ":pw@" not in r.stderr + r.stdout
        assert r.stderr.splitlines() == ["Configuration error — the bot did not start:", r.stderr.splitlines()[1]]
        assert r.stderr.splitlines()[1].startswith(line), r.stderr


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
