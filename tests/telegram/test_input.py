"""Chat input read strictly: ASCII digits only, long arguments cut before they are echoed (reason and usage whole),
and nothing a handler sends can exceed Telegram's limits ("Message is too long" is impossible)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.commands import COMMAND_BY_NAME
from handlers.outgoing import MARK, fit, units
from handlers.render.formatting import esc
from proving.telegram.types import parse_html
from tests.engine.conftest import SYMBOL
from tests.telegram.conftest import CHAT, Rig

RISK_USAGE = ("Usage: /risk PCT — PCT: % of the balance risked per trade, a number above 0 and at most 10 "
              "(e.g. /risk 1.5).")


async def _no_error_report(rig: Rig) -> None:
    await rig.hub.wait_idle(quiet=0.1)
    assert not [m for m in rig.hub.sent() if "went wrong" in m.plain or "Error while handling" in m.plain]


@pytest.mark.parametrize(("line", "expected"), [
    ("/trades ²", "'²' is not a whole number. Usage: /trades [N]"),  # str.isdigit() is True for superscripts
    ("/trades ١٠", "'١٠' is not a whole number. Usage: /trades [N]"),  # Arabic-Indic digits: int() reads 10
    ("/trades 1_0", "'1_0' is not a whole number. Usage: /trades [N]"),  # int() reads 10
    ("/risk ١٠", "'١٠' is not a number. " + RISK_USAGE),  # Decimal() reads 10
    ("/risk 1_0", "'1_0' is not a number. " + RISK_USAGE),  # Decimal() reads 10
    ("/risk ٢", "'٢' is not a number. " + RISK_USAGE),
    ("/risk 1e0", "'1e0' is not a number. " + RISK_USAGE),
    ("/chart BTC ²h", "'²h' is not an interval. Usage: /chart SYMBOL [interval]"),
    ("/chart BTC ١٥", "'١٥' is not an interval. Usage: /chart SYMBOL [interval]"),
    ("/backtest BTCUSDT ١٠", "DAYS must be a whole number, not '١٠'. Usage: /backtest SYMBOL DAYS"),
    ("/backtest BTCUSDT 1_0", "DAYS must be a whole number, not '1_0'. Usage: /backtest SYMBOL DAYS"),
    ("/optimize BTCUSDT ٣٠ 5", "DAYS and TRIALS must be whole numbers"),
])
async def test_numbers_are_ascii_digits_only(rig: Rig, line: str, expected: str) -> None:
    risk = rig.deps.engine.settings.risk.risk_pct
    reply = (await rig.send(line)).plain
    assert expected in reply and "\n" not in reply, reply
    assert rig.deps.engine.settings.risk.risk_pct == risk
    await _no_error_report(rig)


async def test_plain_numbers_still_work(rig: Rig) -> None:
    assert "Risk per trade set to 1.5%" in (await rig.send("/risk 1.5%")).plain
    assert "Risk per trade set to 0.5%" in (await rig.send("/risk .5")).plain
    assert rig.deps.engine.settings.risk.risk_pct == Decimal("0.5")
    assert (await rig.send("/trades 07")).plain == "No closed trades yet."


@pytest.mark.parametrize("line", [f"/risk {'9' * 1000}", f"/risk {'A' * 1000}", f"/signal {'<b>' * 400}",
                                  f"/pnl {'x' * 3000}", f"/backtest BTCUSDT {'1' * 2000}"])
async def test_a_long_argument_is_cut_and_the_reason_and_usage_stay_whole(rig: Rig, line: str) -> None:
    name = line.split()[0][1:]
    usage = COMMAND_BY_NAME[name].usage
    reply = (await rig.send(line)).plain
    assert reply.endswith(usage), reply  # the whole usage, to its last character
    assert "is too long" in reply and "characters" in reply and "\n" not in reply
    assert len(reply) < 200 + len(usage), len(reply)
    await _no_error_report(rig)


@pytest.mark.parametrize("text", ["/" + "x" * 5000, "/" + "<" * 4000, "/" + "&" * 4095, "/" + "é" * 4095])
async def test_a_huge_unknown_command_gets_one_short_hint(rig: Rig, text: str) -> None:
    replies = await rig.replies(text)
    assert len(replies) == 1 and replies[0].plain.startswith("Unknown command /")
    assert "/help" in replies[0].plain and len(replies[0].plain) < 200
    await _no_error_report(rig)


async def test_anything_sent_is_cut_at_telegrams_limits_in_one_place(rig: Rig) -> None:
    """Whatever a handler sends passes the one guard: text at 4096, captions at 1024, callback answers at 200,
    cut outside HTML tags and entities (the offline API parses the HTML as Telegram does)."""
    bot = rig.app.bot
    long_html = "<b>" + "a &amp; b " * 1000 + "</b>\n" + "<code>x</code>" * 500
    sent = await bot.send_message(CHAT, long_html, parse_mode="HTML")
    assert len(sent.text) <= 4096 and sent.text.endswith("…")
    plain = await bot.send_message(CHAT, "é" * 5000)
    assert len(plain.text) <= 4096
    edited = await bot.edit_message_text("<i>" + "y" * 6000 + "</i>", CHAT, plain.message_id, parse_mode="HTML")
    assert not isinstance(edited, bool) and len(edited.text) <= 4096
    photo = await bot.send_photo(CHAT, b"\x89PNG\r\n\x1a\nfake", caption="<pre>" + "z" * 2000 + "</pre>",
                                 parse_mode="HTML")
    assert photo.caption is not None and len(photo.caption) <= 1024
    assert len((await rig.send(f"/signal {SYMBOL}")).plain) <= 4096


_pieces = st.one_of(st.text(max_size=30).map(esc), st.sampled_from(["\n", "😀", "&amp;", "&#128512;"]))


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    """Valid Telegram HTML as the renderers write it: escaped text, nested tags, entities, emoji."""
    parts = draw(st.lists(_pieces, max_size=6))
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            tag = draw(st.sampled_from(["b", "i", "code", "pre", 'a href="https://example.com/?a=1&amp;b=2"']))
            name = tag.split()[0]
            parts.insert(draw(st.integers(0, len(parts))), f"<{tag}>{draw(_html(depth + 1))}</{name}>")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(text=_html(), limit=st.integers(8, 300))
def test_fit_keeps_valid_html_within_the_limit(text: str, limit: int) -> None:
    out = fit(text, limit, html=True)
    assert units(out) <= limit
    plain, _ = parse_html(out)  # Telegram would accept it: no tag or entity cut in half, every tag closed
    if units(text) <= limit:
        assert out == text
    else:
        assert out.endswith(">") or out.endswith(MARK)
        assert parse_html(text)[0].startswith(plain.removesuffix(MARK))  # what is kept is the start of the text


@given(text=st.text(max_size=400), limit=st.integers(2, 300))
def test_fit_plain_text(text: str, limit: int) -> None:
    out = fit(text, limit, html=False)
    assert units(out) <= limit and (out == text or (out.endswith(MARK) and text.startswith(out[:-1])))
