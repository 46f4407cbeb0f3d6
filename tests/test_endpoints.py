"""BYBIT_ENV: a base URL on Bybit's mainnet is labelled MAINNET in every startup line and /status (the hosts from
Bybit's guide, bybit-docs/guide.mdx "Authentication"; demo.mdx), the standard hosts are the named networks, and plain
http:// reaches only this machine (the simulator)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from handlers.render.formatting import render_help, render_status
from proving.telegram.hub import OfflineTelegram, build_offline_application
from storage.db import init_db, make_engine, session_scope
from storage.stats import pnl_summary
from tradebot.chat.service import env_label
from tradebot.chat.views import Overview, StatusView
from tradebot.logs import setup_logging
from tradebot.settings.config import ConfigErrors, load_config
from wiring import live

TOKEN = "123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK"
KEYS = {"BYBIT_API_KEY": "k" * 18, "BYBIT_API_SECRET": "s" * 36}
GOOD_ENV = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_CHAT_IDS": "42"} | KEYS
MAINNET_HOSTS = ["api.bybit.com", "api.bytick.com", "api.bybit.nl", "api.bybit.tr", "api.bybit.kz",
                 "api.bybitgeorgia.ge", "api.bybit.ae", "api.bybit.eu", "api.bybit.id", "api.manepa.jp"]


def cfg_for(env: str, tmp_path: Path):  # noqa: ANN201
    path = tmp_path / "config.toml"
    path.write_text("")
    return load_config(GOOD_ENV | {"BYBIT_ENV": env, "DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}"}, str(path))


@pytest.mark.parametrize("host", MAINNET_HOSTS)
@pytest.mark.parametrize("form", ["https://{h}", "https://{h}/", "HTTPS://{H}", "https://{h}:443"])
def test_every_mainnet_host_is_labelled_mainnet(tmp_path, host, form):
    label = env_label(cfg_for(form.format(h=host, H=host.upper()), tmp_path))
    assert label.startswith("Bybit MAINNET — real money"), label
    assert "custom" not in label


@pytest.mark.parametrize(("url", "named"), [("https://api.bybit.com", "mainnet"), ("https://api.bybit.com/", "mainnet"),
                                            ("https://API.BYBIT.COM:443", "mainnet"),
                                            ("https://api-testnet.bybit.com", "testnet"),
                                            ("https://api-demo.bybit.com", "demo")])
def test_the_standard_hosts_are_the_named_networks(tmp_path, url, named):
    """So REST, the streams (stream.bybit.com, not the REST host) and the label are that network's own."""
    assert cfg_for(url, tmp_path).exchange_env == named


@pytest.mark.parametrize(("url", "label"), [
    ("https://api-testnet.manepa.jp", "Bybit TESTNET (https://api-testnet.manepa.jp)"),
    ("https://api-demo-testnet.bybit.com", "Bybit demo trading (https://api-demo-testnet.bybit.com)"),
    ("https://api.bybit.com:8443", "Bybit MAINNET — real money (https://api.bybit.com:8443)"),
    ("http://127.0.0.1:8900", "custom Bybit endpoint http://127.0.0.1:8900"),
    ("https://bybit.example.com", "custom Bybit endpoint https://bybit.example.com"),
    ("https://api.bybit.com.example.com", "custom Bybit endpoint https://api.bybit.com.example.com"),
])
def test_other_endpoints_are_labelled_by_their_network(tmp_path, url, label):
    assert env_label(cfg_for(url, tmp_path)) == label


@pytest.mark.parametrize("url", ["http://api.bybit.com", "http://api-testnet.bybit.com", "http://10.0.0.5:8900",
                                 "http://192.168.1.20:8900", "http://sim.example.com:8900", "http://0.0.0.0:8900",
                                 "HTTP://api.bybit.nl"])
def test_plain_http_to_another_host_is_refused(tmp_path, url):
    with pytest.raises(ConfigErrors) as info:
        cfg_for(url, tmp_path)
    (err,) = info.value.errors
    assert err.key == "BYBIT_ENV" and err.value == url and "plain http:// only to this machine" in err.allowed


@pytest.mark.parametrize("url", ["http://127.0.0.1:8900", "http://localhost:8900", "http://[::1]:8900",
                                 "http://127.0.0.2:1", "https://10.0.0.5:8900"])
def test_plain_http_to_this_machine_and_https_anywhere_are_accepted(tmp_path, url):
    assert cfg_for(url, tmp_path).exchange_env == url


@pytest.mark.parametrize(("url", "ok"), [("http://127.0.0.1:8081", True), ("http://localhost:8081/x", True),
                                         ("https://tg.example.com", True), ("http://tg.example.com:8081", False),
                                         ("HTTP://10.0.0.5:8081", False)])
def test_a_bot_api_server_elsewhere_needs_https(tmp_path, url, ok):
    """The bot token is in every Bot API request's path: like BYBIT_ENV, plain http only to this machine."""
    path = tmp_path / "config.toml"
    path.write_text("")
    env = GOOD_ENV | {"TELEGRAM_API_URL": url, "DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}"}
    if ok:
        assert load_config(env, str(path)).env.TELEGRAM_API_URL == url.rstrip("/")
        return
    with pytest.raises(ConfigErrors) as info:
        load_config(env, str(path))
    (err,) = info.value.errors
    assert err.key == "TELEGRAM_API_URL" and "plain http:// only to this machine" in err.allowed


def test_bot_py_refuses_plain_http_to_another_host_in_one_line(tmp_path):
    from tests.reliability.test_bad_config import run_bot

    r = run_bot(tmp_path, "", GOOD_ENV | {"BYBIT_ENV": "http://api.bybit.com"})
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "Traceback" not in out, out
    assert "  BYBIT_ENV = 'http://api.bybit.com': plain http:// only to this machine" in r.stderr


def _status_line(label: str) -> str:
    engine = make_engine("sqlite://")
    init_db(engine)
    with session_scope(engine) as s:
        today = pnl_summary(session=s, since=datetime(2026, 1, 1, tzinfo=UTC), until=None)
    engine.dispose()
    ov = Overview(label, ["BTCUSDT"], "15", "confirm", False, Decimal("1"))
    return render_status(StatusView(ov, [], 0, today, [])).splitlines()[0] + "\n" + render_help(ov, []).splitlines()[0]


def test_status_and_help_show_mainnet(tmp_path):
    text = _status_line(env_label(cfg_for("https://api.bybit.nl", tmp_path)))
    assert text.count("Bybit MAINNET — real money (https://api.bybit.nl)") == 2, text


async def test_the_startup_line_says_mainnet(tmp_path, monkeypatch):
    """The live start's first line, for a mainnet base URL (Telegram kept unreachable; stopped after the line)."""
    monkeypatch.setattr(live, "BACKOFF_FIRST", 30.0)
    cfg = cfg_for("https://api.bybit.nl", tmp_path)
    logs = io.StringIO()
    setup_logging("INFO", cfg.secrets(), stream=logs)
    hub = OfflineTelegram()
    hub.fail_next("getMe", "network", n=5)
    stop = asyncio.Event()
    task = asyncio.create_task(live.serve(cfg, builder=build_offline_application(hub), stop=stop))
    try:
        await hub.wait_for_call("getMe", timeout=30)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0
    assert "starting on Bybit MAINNET — real money (https://api.bybit.nl) (polling)" in logs.getvalue()
