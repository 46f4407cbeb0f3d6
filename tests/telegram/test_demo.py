"""`bot.py --demo` as a newcomer sees it: piped and at a terminal (a pty), pacing, pauses, stale buttons, Ctrl-C, files."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "PTB_TIMEDELTA": "true", "TMPDIR": str(tmp)}
    env.pop("CONFIG_FILE", None)
    return env


def _demo_dir(out: str) -> Path:
    match = re.search(r"=== files in (\S+):", out)
    assert match, out[:2000]
    return Path(match.group(1))


def test_piped_demo_runs_its_commands_while_the_first_position_is_open(tmp_path: Path) -> None:
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--demo", "--speed", "20"],
                          input="/status\n/positions\n/pnl\n/chart BTC\n", capture_output=True, text=True, cwd=cwd,
                          env=_env(tmp_path), timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == ""  # logs go to the demo's log file, never into the terminal chat
    assert "demo: auto-approving" in out and "Executed" in out
    commands = out[out.index("you ▸ /status"):out.index("you ▸ /pnl")]
    assert "Open positions: 1" in commands and "Replay: candle" in commands
    assert "Open positions (1)" in commands and "BTCUSDT LONG" in commands  # /positions shows the open trade
    assert out.index("you ▸ /pnl") < out.index("closed —")  # the first position closed only after the commands
    assert out.count("replay finished — all 130 candles played") == 1  # said once
    assert "=== DEMO SUMMARY ===" in out and "Candles replayed: 130 of 130 (replay finished)" in out
    work = _demo_dir(out)
    assert work.parent == tmp_path and (work / "demo.log").exists() and (work / "demo.db").exists()
    charts = list((work / "charts").glob("*.png"))
    assert len(charts) == 1 and f"saved to {charts[0]}" in out  # the chart is in the demo's folder...
    assert not (cwd / "demo-charts").exists() and list(cwd.iterdir()) == []  # ...never in the checkout
    assert "Traceback" not in out


def test_piped_demo_sigint_prints_the_summary(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "--demo", "--speed", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env(tmp_path))
    try:
        assert proc.stdout is not None
        seen = ""
        while "Started on offline demo" not in seen:
            line = proc.stdout.readline()
            assert line, seen
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = seen + out
    assert proc.returncode == 0, err
    assert "interrupted" in out and "=== DEMO SUMMARY ===" in out
    assert "Traceback" not in out + err and err == ""


def test_speed_out_of_range_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--demo", "--speed", "0"], input="",
                          capture_output=True, text=True, cwd=ROOT, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 2 and "--speed 0 is out of range" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--speed", "3"], capture_output=True, text=True,
                          cwd=ROOT, env=_env(tmp_path), timeout=60)
    assert proc.returncode == 2 and "only apply with --demo" in proc.stderr


class Terminal:
    """The demo at a pseudo-terminal, so it is interactive (stdin is a tty), read line by line."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.master, slave = pty.openpty()
        # its own process group: a failed test kills the demo and its worker processes (a heavy-queue worker
        # left alive would hold the output pipe open and hang the test)
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "--demo", *args], stdin=slave,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_env(tmp),
                                     start_new_session=True)
        os.close(slave)
        self.out = ""
        self.seen = 0  # where the last expected text ended: the next expect searches from there

    def expect(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The next `pattern` after the last match. Not after what was read: one read can hold the text a later
        expect waits for (on a loaded machine the fill and the wait notice came in one chunk)."""
        deadline = time.monotonic() + timeout
        while True:
            if match := re.compile(pattern).search(self.out, self.seen):
                self.seen = match.end()
                return match
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.out[-3000:]}"
            assert self.proc.stdout is not None
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"exited; no {pattern!r} in:\n{self.out[-3000:]}"
                self.out += chunk.decode()

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, sig: int | None = None) -> tuple[int, str, str]:
        if sig is not None:
            self.proc.send_signal(sig)
        else:
            os.write(self.master, b"\x04")  # Ctrl-D
        out, err = self.proc.communicate(timeout=30)
        os.close(self.master)
        self.out += out.decode()
        return self.proc.returncode, self.out, err.decode()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the demo and whatever it started
        if self.proc.returncode is None:
            self.proc.communicate(timeout=30)


@pytest.fixture
def terminal(tmp_path: Path):  # noqa: ANN201
    made: list[Terminal] = []

    def start(*args: str) -> Terminal:
        made.append(Terminal(tmp_path, *args))
        return made[-1]

    yield start
    for t in made:
        t.kill()


def test_terminal_demo_pauses_on_cards_stale_buttons_end_and_ctrl_c(terminal) -> None:  # noqa: ANN001
    t = terminal("--speed", "20")
    t.expect(r"The replay pauses while an entry card or a /close question is open, and after a fill until you "
             r"press Enter")
    t.expect(r"\[1\] ✅ Approve  \[2\] ❌ Reject")
    t.type("/status")
    first = t.expect(r"Replay: candle (\d+) of 130").group(1)
    time.sleep(1.5)  # 30 candles' worth at --speed 20: the replay must not move while the card is open
    t.type("/status")
    assert t.expect(r"Replay: candle (\d+) of 130").group(1) == first
    t.type("2")  # reject
    t.expect(r"Rejected")
    t.expect(r"\[3\] ✅ Approve  \[4\] ❌ Reject")  # the next card: numbers are never reused
    t.type("2")
    t.expect(r"⚠ \[2\] ❌ Reject belongs to a card that is no longer open .*stale, nothing was sent")
    t.type("3")  # approve the new card through its own number
    t.expect(r"Executed")
    t.expect(r"a position is open, so the replay waits: try /positions and /close BTCUSDT\. Press Enter")
    t.type("")  # Enter: let the market run
    t.type("/stop")  # pausing new entries lets the replay run to its end without more cards
    t.expect(r"Paused")
    t.expect(r"replay finished — all 130 candles played; no new candles will come\. The bot still answers", 90)
    t.type("/status")
    t.expect(r"Replay finished: all 130 candles played")
    time.sleep(0.5)
    code, out, err = t.finish(signal.SIGINT)
    assert code == 0, err
    assert out.count("replay finished — all 130") == 1
    assert "interrupted" in out and "=== DEMO SUMMARY ===" in out and "Candles replayed: 130 of 130" in out
    assert "Traceback" not in out + err and err == ""


def test_terminal_demo_ctrl_d_prints_the_summary(terminal) -> None:  # noqa: ANN001
    t = terminal("--speed", "5")
    t.expect(r"Started on offline demo")
    code, out, err = t.finish()
    assert code == 0 and "=== DEMO SUMMARY ===" in out and "Traceback" not in out + err


def test_terminal_demo_close_card_holds_the_replay(terminal) -> None:  # noqa: ANN001
    t = terminal("--speed", "1")
    t.expect(r"\[1\] ✅ Approve  \[2\] ❌ Reject")
    t.type("approve")
    t.expect(r"Filled LONG")  # the entry rests as a maker limit first (the replay runs meanwhile)
    t.type("/close BTC")  # a candle per second: the position is still open
    number = t.expect(r"\[(\d+)\] Close BTCUSDT  \[\d+\] Cancel").group(1)
    t.type("/status")
    held = t.expect(r"Replay: candle (\d+) of 130").group(1)
    time.sleep(2.5)
    t.type("/status")
    assert t.expect(r"Replay: candle (\d+) of 130").group(1) == held  # the open close card holds the replay
    t.type(number)
    t.expect(r"closed manually")
    t.type("/status")
    t.expect(r"Open positions: 0")
    code, out, err = t.finish()
    assert code == 0 and "=== DEMO SUMMARY ===" in out and "Traceback" not in out + err


def test_terminal_demo_waits_with_an_open_position_until_enter(terminal) -> None:  # noqa: ANN001
    """At a terminal a fresh position holds the replay until the user presses Enter: /positions and /close can be
    tried on it (it used to last 2–6 s at --speed 1). The summary names its side like every other screen."""
    t = terminal("--speed", "20")
    t.expect(r"\[1\] ✅ Approve  \[2\] ❌ Reject")
    t.type("1")
    t.expect(r"Filled")
    t.expect(r"a position is open, so the replay waits")
    t.type("/status")
    held = t.expect(r"Replay: candle (\d+) of 130").group(1)
    time.sleep(1.5)  # 30 candles' worth at --speed 20
    t.type("/positions")
    t.expect(r"Open positions \(1\)")
    t.type("/status")
    assert t.expect(r"Replay: candle (\d+) of 130[^\n]*\n[^\n]*\n\s*Open positions: 1").group(1) == held
    t.type("/stop")  # no more cards: what follows is only the market
    t.expect(r"Paused")
    t.type("")  # Enter: the market runs again
    time.sleep(1.0)
    t.type("/status")
    moved = t.expect(r"Replay(?:: candle (\d+) of 130| finished)").group(1)
    assert moved is None or int(moved) > int(held)
    code, out, err = t.finish()
    assert code == 0 and "=== DEMO SUMMARY ===" in out and "Traceback" not in out + err
    summary = out[out.index("=== DEMO SUMMARY ==="):]
    assert " Buy " not in summary and " Sell " not in summary  # LONG/SHORT, as on every other screen
    if "Open positions: 1" in summary:
        assert "BTCUSDT LONG " in summary


OPTIMIZE_CFG = """
[optimize]
seed = 1
min_trades = 1

[optimize.params]
"strategy.threshold" = { choices = [3.0, 3.5] }
"""


def test_terminal_demo_goes_on_while_the_optimiser_offers_apply(terminal, tmp_path: Path) -> None:  # noqa: ANN001
    """The optimiser's Apply… is not a trade decision: the replay never waits for it (it froze at candle 107).
    A seeded search over low thresholds, so the study always has a result to apply."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(OPTIMIZE_CFG)
    t = terminal("--speed", "0.3", "--config", str(cfg))  # slow: the replay still runs when the study ends
    t.expect(r"Started on offline demo")
    t.type("/stop")  # no more cards from here on
    t.expect(r"Paused")
    time.sleep(1.0)  # a card asked before the pause has arrived by now
    if re.search(r"\[\d+\] ✅ Approve", t.out):  # answer it: an entry card rightly holds the replay
        t.type("reject")
        t.expect(r"Rejected")
    t.type("/optimize BTCUSDT 7 3")
    apply = t.expect(r"\[(\d+)\] (?:⚠ Apply anyway…|Apply…)", 400).group(1)  # a loaded machine: minutes
    t.type("/status")
    first = t.expect(r"Replay(?:: candle (\d+) of 130| finished)").group(1)
    t.type(apply)
    t.expect(r"Apply these settings to the live bot\?")
    time.sleep(10)  # three candles' worth at --speed 0.3
    t.type("/status")
    later = t.expect(r"Replay(?:: candle (\d+) of 130| finished)").group(1)
    assert first is not None and (later is None or int(later) > int(first)), (first, later)
    code, out, err = t.finish()
    assert code == 0 and "=== DEMO SUMMARY ===" in out and "Traceback" not in out + err


def test_logs_and_warnings_go_to_the_demo_log_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import logging
    import warnings

    from tradebot.logs import setup_logging
    from wiring.demo import _log_to_file

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("WARNING", ["s3cr3t-api-key"])
        _log_to_file(tmp_path / "demo.log")
        logging.getLogger("tradebot.tick.engine").warning("exchange slow; key s3cr3t-api-key")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("something deprecated", UserWarning, stacklevel=1)
        for h in root.handlers:
            h.flush()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing in the terminal chat
    text = (tmp_path / "demo.log").read_text()
    assert "exchange slow; key ***" in text and "s3cr3t" not in text  # redaction kept
    assert "something deprecated" in text
