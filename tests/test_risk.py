"""Tests for RiskParams validation and ATR position sizing (formula, caps, refusals, invariants)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from decimal import localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.test_instruments import BTC, instruments
from tradebot.sizing.instruments import Instrument, is_multiple
from tradebot.sizing.risk import RiskParams, Sizing, liquidation_price_estimate, size_position

HYPO = settings(deadline=None, max_examples=200)
# The formulas below were worked by hand with the risk geometry before issue 21 (1.5/3 ATR stops, fees at most
# half the risk): pinned here, so the defaults may change without touching the arithmetic.
P = RiskParams(sl_atr=D("1.5"), tp_atr=D("3.0"), max_fee_share=D("0.5"))
NOFEE = P.model_copy(update={"taker_fee_rate": D("0"), "slippage_pct": D("0")})  # before fees: the stop alone sets the qty


def size(
    side: str = "Buy", entry: str = "50000", atr: str = "500", balance: str = "1000", **kw: object
) -> Sizing:
    params = kw.pop("params", P)
    inst = kw.pop("inst", BTC)
    return size_position(
        side=side,  # type: ignore[arg-type]
        entry_price=D(entry),
        atr=D(atr),
        available_balance=D(balance),
        inst=inst,  # type: ignore[arg-type]
        params=params,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# --- params ------------------------------------------------------------------------------------------------


def test_defaults() -> None:
    P = RiskParams()
    assert P.risk_pct == D("1.0") and P.sl_atr == D("2.0") and P.tp_atr == D("4.0")  # issue 21's defaults
    assert P.max_fee_share == D("0.25")
    assert P.breakeven_trigger_atr == D("1.0") and P.breakeven_offset_atr == D("0.1")
    assert P.trail_trigger_atr == D("1.5") and P.trail_atr == D("1.0") and P.trailing_mode == "exchange"
    assert P.leverage == D("5") and P.max_open_positions == 3 and P.max_position_pct == D("100")
    assert P.daily_loss_limit_pct == D("5") and P.cooldown_minutes == 30 and P.max_consecutive_losses == 4
    assert P.taker_fee_rate == D("0.00055") and P.maker_fee_rate == D("0.0002")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("risk_pct", "0", "greater than 0"),
        ("risk_pct", "10.5", "less than or equal to 10"),
        ("leverage", "0.5", "greater than or equal to 1"),
        ("leverage", "101", "less than or equal to 100"),
        ("max_open_positions", 0, "greater than or equal to 1"),
        ("max_consecutive_losses", -1, "greater than or equal to 0"),
        ("trailing_mode", "wallet", "'exchange' or 'bot'"),
        ("sl_atr", "-1", "greater than 0"),
        ("surprise", 1, "Extra inputs are not permitted"),
    ],
)
def test_params_are_validated_with_clear_messages(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        RiskParams(**{field: value})
    assert message in str(exc.value) and field in str(exc.value)


def test_breakeven_offset_must_be_below_trigger() -> None:
    with pytest.raises(ValidationError, match="breakeven_offset_atr"):
        RiskParams(breakeven_offset_atr="1", breakeven_trigger_atr="1")


def test_params_parse_strings_exactly_and_are_frozen() -> None:
    p = RiskParams(risk_pct="0.3", leverage="3")
    assert p.risk_pct == D("0.3") and p.leverage == D(3)
    with pytest.raises(ValidationError):
        p.risk_pct = D("2")  # type: ignore[misc]


# --- the formula -------------------------------------------------------------------------------------------


def test_formula_pinned() -> None:
    # risk 1% of 1000 = 10 USDT AFTER fees (issue 11 §2). Stop 1.5 × 500 = 750 below 50000 = 49250; the stop may
    # fill 0.02% worse: 49240.15 (9.85 more); taker 0.055% on entry and exit: 0.00055 × (50000 + 49240.15) =
    # 54.5820825. Loss per coin 750 + 9.85 + 54.5820825 = 814.4320825 -> 10 / 814.4320825 = 0.01228 BTC -> 0.012
    # (rounded DOWN to the qty step).
    # (Before fees it was 0.013 BTC, and a stop-out lost 10.46 USDT: 1.046% "at 1%".)
    s = size()
    assert s.refused is None
    assert s.qty == D("0.012")
    assert s.sl == D("49250") and s.tp == D("51500")
    assert s.notional == D("600") and s.margin == D("120")
    assert s.fees_usdt == D("0.012") * D("54.5820825") and s.fee_rate == D("0.00055")
    assert s.risk_usdt == D("0.012") * D("814.4320825") == D("9.77318499")
    assert s.risk_pct_of_balance == s.risk_usdt / 10 and s.risk_base == "available balance"
    assert s.risk_usdt <= 10 and 10 - s.risk_usdt < BTC.qty_step * D("814.4320825")  # within one qty step
    # reward after fees: 0.012 × (1500 − 0.00055 × (50000 + 51500)) = 17.3301 USDT over the 9.77318499 risk
    assert abs(s.reward_risk - D("17.3301") / D("9.77318499")) < D("1e-20")
    assert s.liq_price_estimate == D("40250") and not s.capped


def test_exchange_fee_rate_overrides_config() -> None:
    s = size(fee_rate=D("0.0002"))  # the fee-rate endpoint's takerFeeRate
    assert s.fee_rate == D("0.0002")
    assert s.risk_usdt == s.qty * (750 + D("9.85") + D("0.0002") * D("99240.15"))
    assert size(fee_rate=D("0")).fees_usdt == 0


@pytest.mark.parametrize("entry", ["10000", "20000", "50000", "100000"])
def test_qty_does_not_depend_on_price(entry: str) -> None:
    # The seed script divided by the price a second time: qty = risk / (ATR×k) / price. That is the bug.
    # Before fees (fees are a share of the price, so they do depend on it) qty is risk / stop distance.
    s = size(entry=entry, balance="10000", params=NOFEE.model_copy(update={"leverage": D("10")}))
    assert s.refused is None
    assert s.qty == D("0.133")  # 100 USDT / 750 USDT per coin, whatever the price
    assert s.qty != round(D(100) / 750 / D(entry), 3) or s.qty == 0


def test_short_levels_mirror_long() -> None:
    s = size(side="Sell")
    assert s.qty == D("0.012") and s.sl == D("50750") and s.tp == D("48500")
    # the stop fills 0.02% HIGHER for a short: 50760.15; fees 0.00055 × (50000 + 50760.15)
    assert s.risk_usdt == D("0.012") * (750 + D("10.15") + D("0.00055") * D("100760.15"))
    assert s.liq_price_estimate == D("59750")


def test_levels_round_toward_entry() -> None:
    # entry 100, ATR 0.33: SL distance 0.495, TP distance 0.99, tick 0.1.
    long, short = size(entry="100", atr="0.33", balance="100000"), size("Sell", "100", "0.33", "100000")
    assert (long.sl, long.tp) == (D("99.6"), D("100.9"))
    assert (short.sl, short.tp) == (D("100.4"), D("99.1"))


def test_tiny_atr_keeps_stop_one_tick_away_and_sizes_on_that_distance() -> None:
    s = size(entry="100", atr="0.01", balance="1000", params=RiskParams(leverage="50"))
    assert s.sl == D("99.9") and s.tp == D("100.1")
    assert s.qty * (100 - s.sl) <= 10  # sized on the real 0.1 stop, not the 0.015 one


def test_wallet_equity_is_the_risk_base() -> None:
    s = size(balance="1000", wallet_equity=D("3000"))
    assert s.qty == D("0.036") and s.risk_base == "equity"  # 30 USDT / 814.43 per coin after fees


def test_position_capped_by_balance_and_leverage() -> None:
    # 10% risk with a tight stop would want 20 coins at 100 = 2000 USDT; 100 USDT × 5x allows < 500.
    p = RiskParams(risk_pct="10", leverage="5")
    s = size(
        entry="100",
        atr="0.333",
        balance="100",
        params=p,
        inst=Instrument("XUSDT", D("0.01"), D("0.01"), D("0.01"), D("1e6"), D("1e5"), D("5"), D("50")),
    )
    assert s.refused is None
    assert s.notional <= D("500")
    assert s.margin + s.notional * 2 * p.taker_fee_rate <= D("100")
    assert s.qty == D("4.97") and s.capped  # 100×5/(1+2×0.00055×5)/100 = 4.9726 -> 4.97
    half = size(
        entry="100",
        atr="0.333",
        balance="100",
        inst=Instrument("XUSDT", D("0.01"), D("0.01"), D("0.01"), D("1e6"), D("1e5"), D("5"), D("50")),
        params=RiskParams(risk_pct="10", max_position_pct="50"),
    )
    assert half.qty == D("2.5")


def test_capped_at_max_market_qty() -> None:
    inst = Instrument("XUSDT", D("0.01"), D("1"), D("1"), D("1000"), D("10"), D("5"), D("50"))
    s = size(entry="1", atr="0.01", balance="1000000", inst=inst)
    assert s.qty == D("10")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"atr": "0"}, "ATR is 0: cannot place a stop-loss without volatility (need ATR > 0)"),
        ({"atr": "-5"}, "ATR is -5"),
        ({"entry": "0"}, "entry price 0 must be greater than 0"),
        ({"balance": "0"}, "balance 0 USDT leaves nothing to trade with"),
        ({"balance": "-3"}, "balance -3 USDT"),
        (
            {"balance": "10"},
            "qty 0.00012278495 is below BTCUSDT's minimum order qty 0.001 (risking 0.1 USDT over a 750 stop)",
        ),
        ({"atr": "40000"}, "stop-loss -10000 would be at or below zero"),
        ({"params": P.model_copy(update={"leverage": D("100")})}, "leverage 100 is outside BTCUSDT's allowed 1-50"),
        (
            {"params": P.model_copy(update={"leverage": D("100")}), "inst": BTC},
            "estimated liquidation 49750 comes before the stop-loss 49250",
        ),
    ],
)
def test_refusals(kwargs: dict[str, object], reason: str) -> None:
    kwargs.setdefault(
        "inst", Instrument("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), D("1190"), D("500"), D("5"), D("50"))
    )
    s = size(**kwargs)  # type: ignore[arg-type]
    assert s.refused is not None and s.refused.startswith(reason), s.refused
    assert s.qty == 0 and s.notional == 0 and s.risk_usdt == 0 and not s.ok


def test_min_notional_refusal() -> None:
    inst = Instrument("XUSDT", D("0.01"), D("1"), D("1"), D("1000"), D("1000"), D("5"), D("50"))
    s = size(entry="3.2", atr="0.1", balance="20", inst=inst)  # 0.2 USDT / 0.15 -> 1 coin -> 3.2 USDT
    assert (
        s.refused
        == "order value 3.2 USDT is below the 5 USDT minimum for XUSDT (risking 0.2 USDT over a 0.15 stop)"
    )
    assert s.qty == 0


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        size_position(
            side="Buy",
            entry_price=50000.0,
            atr=D("500"),
            available_balance=D("1000"),  # type: ignore[arg-type]
            inst=BTC,
            params=P,
        )


@pytest.mark.parametrize(
    ("side", "lev", "expected"),
    [
        ("Buy", "5", "40250"),
        ("Sell", "5", "59750"),
        ("Buy", "1", "250"),
        ("Sell", "100", "50250"),
        ("Buy", "100", "49750"),
    ],
)
def test_liquidation_estimate(side: str, lev: str, expected: str) -> None:
    assert liquidation_price_estimate(side, D("50000"), D(lev)) == D(expected)  # type: ignore[arg-type]


# --- invariants --------------------------------------------------------------------------------------------

entries = st.decimals(min_value=D("0.01"), max_value=D("150000"), places=2)
atr_fracs = st.decimals(min_value=D("0.0001"), max_value=D("0.2"), places=4)  # ATR as a fraction of price
balances = st.decimals(min_value=D("1"), max_value=D("1000000"), places=2)
risk_params = st.builds(
    RiskParams,
    risk_pct=st.decimals(min_value=D("0.1"), max_value=D("10"), places=2),
    sl_atr=st.sampled_from([D("0.5"), D("1"), D("1.5"), D("3")]),
    tp_atr=st.sampled_from([D("1"), D("3"), D("5")]),
    trail_trigger_atr=st.just(D("1")),
    leverage=st.sampled_from([D("1"), D("3"), D("5"), D("10"), D("25")]),
    max_position_pct=st.sampled_from([D("10"), D("50"), D("100")]),
    taker_fee_rate=st.sampled_from([D("0"), D("0.0002"), D("0.00055"), D("0.001")]),
    slippage_pct=st.sampled_from([D("0"), D("0.02"), D("0.1")]),
    max_fee_share=st.sampled_from([D("0.3"), D("1")]),
)
fee_rates = st.one_of(st.none(), st.decimals(min_value=D("0"), max_value=D("0.002"), places=6))


@HYPO
@given(
    inst=instruments(),
    entry=entries,
    frac=atr_fracs,
    balance=balances,
    params=risk_params,
    side=st.sampled_from(["Buy", "Sell"]),
    equity_extra=st.sampled_from([None, D("0"), D("500")]),
    fee_rate=fee_rates,
    in_fee=fee_rates,
    tp_fee=fee_rates,
)
def test_sizing_invariants(
    inst: Instrument, entry: D, frac: D, balance: D, params: RiskParams, side: str, equity_extra: D | None,
    fee_rate: D | None, in_fee: D | None, tp_fee: D | None,
) -> None:
    """risk_pct is what a stop-out loses AFTER fees (issue 11 §2): price loss at the (slipped) stop + entry fee +
    exit fee ≤ risk_pct of the balance, and within one qty step of it when no cap binds. The entry fee is the
    entry's own rate (maker for a PostOnly limit, issue 21), the stop's always the taker rate."""
    atr = entry * frac
    equity = None if equity_extra is None else balance + equity_extra
    s = size_position(
        side=side,  # type: ignore[arg-type]
        entry_price=entry,
        atr=atr,
        available_balance=balance,
        inst=inst,
        params=params,
        wallet_equity=equity,
        fee_rate=fee_rate,
        entry_fee_rate=in_fee,
        tp_fee_rate=tp_fee,
    )
    if s.refused is not None:
        assert s.qty == 0 and s.refused
        share = re.search(r"fees would take ([\d.]+)% of the risk", s.refused)
        assert share is None or re.fullmatch(r"\d+\.\d", share.group(1)), s.refused  # 31.2%, not 31.169464%
        return
    sign = 1 if side == "Buy" else -1
    base = balance if equity is None else equity
    tick = inst.tick_size
    f = params.taker_fee_rate if fee_rate is None else fee_rate
    e = f if in_fee is None else in_fee
    t = f if tp_fee is None else tp_fee
    with localcontext() as ctx:
        ctx.prec = 80  # exact checks
        budget = base * params.risk_pct / 100
        exit_px = s.sl * (1 - sign * params.slippage_pct / 100)  # the stop fills this much worse
        price_loss = s.qty * sign * (entry - exit_px)
        entry_fee, exit_fee = s.qty * entry * e, s.qty * exit_px * f
        loss = price_loss + entry_fee + exit_fee
        assert 0 < loss <= budget  # a stop-out never loses more than risk_pct, fees included
        assert s.risk_usdt >= loss and s.risk_usdt <= budget  # (≥: a stop pushed out to one tick counts in full)
        assert s.fees_usdt == entry_fee + exit_fee and s.fee_rate == f and s.entry_fee_rate == e
        assert s.fees_usdt <= params.max_fee_share * s.risk_usdt
        if not s.capped:
            assert budget - s.risk_usdt < inst.qty_step * (s.risk_usdt / s.qty)  # within one qty step
        assert s.notional <= balance * params.leverage * params.max_position_pct / 100
        assert s.margin + s.notional * 2 * f <= balance
        reward = s.qty * (sign * (s.tp - entry) - e * entry - t * s.tp)
        assert abs(s.reward_risk - reward / s.risk_usdt) < D("1e-20") * abs(s.reward_risk) + D("1e-20")  # reward:risk after fees
    assert s.qty >= inst.min_qty and s.qty <= inst.max_mkt_qty and is_multiple(s.qty, inst.qty_step)
    assert s.notional >= inst.min_notional
    assert is_multiple(s.sl, tick) and is_multiple(s.tp, tick)
    assert sign * (entry - s.sl) >= tick  # SL at least one tick on the losing side
    assert sign * (s.tp - entry) >= tick  # TP at least one tick on the winning side
    assert s.sl > 0 and s.tp > 0
    assert sign * (s.sl - s.liq_price_estimate) > 0  # the stop comes before the estimated liquidation


@HYPO
@given(
    step=st.sampled_from([D("0.001"), D("0.01"), D("0.1"), D("1")]),
    tick=st.sampled_from([D("0.01"), D("0.5"), D("1")]),
    atr=st.decimals(min_value=D("1"), max_value=D("500"), places=2),
    m1=st.decimals(min_value=D("4"), max_value=D("1000"), places=3),
    m2=st.decimals(min_value=D("4"), max_value=D("1000"), places=3),
    side=st.sampled_from(["Buy", "Sell"]),
)
def test_qty_is_independent_of_price(step: D, tick: D, atr: D, m1: D, m2: D, side: str) -> None:
    # Entries on the tick grid (like a last price), 4 to 1000 ATRs; no cap binds (1e6 balance, 0.1% risk,
    # 1x), so before fees qty = 1000 / (1.5 × ATR) rounded down, whatever the price.
    inst = Instrument("XUSDT", tick, step, step, D("1e9"), D("1e9"), D("5"), D("100"))
    params = NOFEE.model_copy(update={"risk_pct": D("0.1"), "leverage": D("1")})
    results = [
        size_position(
            side=side,
            entry_price=atr * m // tick * tick,
            atr=atr,
            available_balance=D("1000000"),  # type: ignore[arg-type]
            inst=inst,
            params=params,
        )
        for m in (m1, m2)
    ]
    assert results[0].refused is None and results[1].refused is None
    assert results[0].qty == results[1].qty == (D(1000) / (D("1.5") * atr)) // step * step
