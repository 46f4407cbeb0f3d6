"""Cards and answers that tell the truth (issue 21): ⚠ lines for a reward that does not pay the risk after fees,
fees that eat the risk and a size capped below /risk; the /close question's exit fee and net result; a signal's
top contributors are votes for its own side; a signal without a card says why; backtest refusals show figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from handlers.render.formatting import FEE_WARN_SHARE, confirmation_card, render_event, top_votes
from tradebot.events import ConfirmationNeeded, SignalEvent
from tradebot.side import Side
from tradebot.strategy.signal import Signal, Vote

T = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)


def _signal(action: str = "BUY", votes: tuple[tuple[str, float], ...] = (("ema", 1.0), ("sma", 1.0), ("rsi", -1.0),
                                                                           ("macd", 1.0), ("adx", 0.5))) -> Signal:
    breakdown = tuple(Vote(n, 1.0, c, 1.0, c, False) for n, c in votes)
    return Signal("BTCUSDT", T, D("60000"), action, sum(c for _, c in votes), 2.0, D("100"),  # type: ignore[arg-type]
                  breakdown)


def _card(**kw: object) -> ConfirmationNeeded:
    base: dict[str, object] = dict(
        confirmation_id="c1", symbol="BTCUSDT", side=Side.BUY, price=D("60000"), qty=D("0.5"), sl=D("59800"),
        tp=D("60400"), risk_usdt=D("99.94"), risk_pct=D("1"), reward_risk=D("1.6"), liq_price=D(0),
        notional=D("30000"), signal=_signal(), expires_at=T, fees_usdt=D("10"), fee_rate=D("0.00055"))
    base.update(kw)
    return ConfirmationNeeded(**base)  # type: ignore[arg-type]


def test_a_sound_card_has_no_warning() -> None:
    assert "⚠" not in confirmation_card(_card()).text


def test_reward_below_risk_after_fees_is_flagged() -> None:
    text = confirmation_card(_card(reward_risk=D("0.52"))).text
    assert "⚠ Reward:risk after fees 0.52 is below 1: the take-profit pays less than a stop-out costs" in text


def test_fees_over_the_set_share_of_the_risk_are_flagged() -> None:
    text = confirmation_card(_card(fees_usdt=D("43.91"))).text  # the card: 43.91 of 99.94
    assert "⚠ Fees take 43.94% of the risk (over 25.00%): the stop is tight for the fees" in text
    at_limit = confirmation_card(_card(fees_usdt=FEE_WARN_SHARE * D("99.94"))).text
    assert "Fees take" not in at_limit  # the share itself is allowed; only above it warns


def test_a_capped_size_says_what_it_risks_instead_of_what_risk_asks() -> None:
    text = confirmation_card(_card(risk_pct=D("1.48"), capped=True, asked_pct=D("2"))).text
    assert "⚠ Capped by leverage/margin: 1.48% instead of 2.00%" in text
    assert "Capped" not in confirmation_card(_card(risk_pct=D("2"), asked_pct=D("2"))).text


def test_top_of_a_buy_lists_only_votes_for_it() -> None:
    assert top_votes(_signal()) == "ema +1.00, sma +1.00, macd +1.00"  # was: ema, sma, rsi -1.00
    sell = _signal("SELL", (("ema", -1.0), ("rsi", 1.0), ("sma", -0.5)))
    assert top_votes(sell) == "ema -1.00, sma -0.50"
    assert top_votes(_signal("BUY", (("rsi", -1.0),))) == "no strong contributors"


@given(st.lists(st.tuples(st.sampled_from(["ema", "sma", "rsi", "macd", "adx", "obv"]),
                          st.floats(-2, 2, allow_nan=False)), min_size=1, max_size=6),
       st.sampled_from(["BUY", "SELL"]))
def test_top_never_lists_a_vote_against_the_action(votes: list[tuple[str, float]], action: str) -> None:
    shown = top_votes(_signal(action, tuple(votes)))
    against = "-" if action == "BUY" else "+"
    for part in shown.split(", "):
        if part != "no strong contributors":
            assert not part.rsplit(" ", 1)[1].startswith(against), shown


def test_a_signal_without_a_card_says_why_in_the_same_message() -> None:
    out = render_event(SignalEvent(_signal(), not_traded="a BTCUSDT position is already open"))
    assert out is not None and out.text.startswith("📡 Signal")
    assert out.text.endswith("No card: a BTCUSDT position is already open.")
    traded = render_event(SignalEvent(_signal()))
    assert traded is not None and "No card" not in traded.text


def test_one_word_for_a_side() -> None:
    from handlers.render.formatting import SIDE_WORD

    assert (Side.BUY.word.upper(), Side.SELL.word.upper()) == ("LONG", "SHORT")
    assert SIDE_WORD == {"Buy": "LONG", "Sell": "SHORT"}
