"""State-file persistence across restarts and the ``python -m tradebot.sim`` CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal

import httpx
from websockets.sync.client import connect

from tests.sim.helpers import KEY, SECRET, SyncApi, make_sim


def test_state_file_round_trip(tmp_path):
    path = tmp_path / "paper.json"
    sim = make_sim(state_file=path)
    with httpx.Client(base_url="http://sim", transport=sim.sync_transport()) as c:
        api = SyncApi(c)
        api.ok("POST", "/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
               qty="0.01", stopLoss="59000", orderLinkId="persist-1")
        api.ok("POST", "/v5/position/set-leverage", category="linear", symbol="BTCUSDT", buyLeverage="5",
               sellLeverage="5")
    sim.step(2)
    before = sim.state()
    sim.close()
    assert path.exists()
    again = make_sim(state_file=path)
    after = again.state()
    for k in ("time", "prices", "wallet", "positions", "executions", "closed_pnl"):
        assert after[k] == before[k], k
    with httpx.Client(base_url="http://sim", transport=again.sync_transport()) as c:
        api = SyncApi(c)
        dup = api.post("/v5/order/create", category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                       qty="0.01", orderLinkId="persist-1")
        assert dup["retCode"] == 110072
        assert api.ok("GET", "/v5/position/list", category="linear", symbol="BTCUSDT")["list"][0]["leverage"] == "5"
    again.step(1)
    assert again.market_time() == before["time"] + 300_000
    assert make_sim().exchange.wallet == Decimal("10000")  # nothing survives without a state file


def test_cli_serves_and_stops_cleanly(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(
        f"{1_700_000_100_000 + i * 300_000},{100 + i},{101 + i},{99 + i},{100.5 + i},5" for i in range(30)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradebot.sim", "--host", "127.0.0.1", "--port", "0", "--api-key", KEY,
         "--api-secret", SECRET, "--symbol", "SOLUSDT", "--symbol", "BTCUSDT", "--price", "60000",
         "--data", f"SOLUSDT={csv}", "--warmup", "5", "--seed", "7"],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:") and not line.endswith(":0")
        url = line.split(" ", 2)[2]
        ws_line = proc.stdout.readline().strip()
        assert ws_line.startswith("websocket on ws://127.0.0.1:") and not ws_line.endswith(":0")
        ws_url = ws_line.split(" ", 2)[2]
        with connect(ws_url + "/v5/public/linear", open_timeout=5) as ws:
            ws.send(json.dumps({"op": "ping"}))
            assert json.loads(ws.recv(timeout=5))["ret_msg"] == "pong"
        with httpx.Client(base_url=url, timeout=5) as c:
            assert c.get("/sim/ws").json() == {"url": ws_url}
            assert c.get("/v5/market/time").json()["retCode"] == 0
            st = c.get("/sim/state").json()
            assert st["prices"]["SOLUSDT"] == "105" and st["time"] == 1_700_000_100_000 + 5 * 300_000
            r = c.post("/sim/step", json={"n": 2}).json()
            assert r["stepped"] == 2 and r["prices"]["SOLUSDT"] == "107"
            assert json.loads(c.get("/sim/state").text)["prices"]["SOLUSDT"] == "107"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_replay_at_speed_steps_in_background():
    import time

    sim = make_sim()
    t0 = sim.market_time()
    sim.start_replay(speed=6000)  # one 5m candle every 0.05 s
    try:
        deadline = time.monotonic() + 3
        while sim.market_time() < t0 + 3 * 300_000 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sim.stop_replay()
    assert sim.market_time() >= t0 + 3 * 300_000


def test_state_file_directory_is_created(tmp_path):
    path = tmp_path / "state" / "nested" / "paper.json"
    sim = make_sim(state_file=path)
    sim.step(1)
    sim.close()
    assert path.exists() and json.loads(path.read_text())
