"""Validated strategy configuration (``[strategy]`` TOML table): threshold, indicators, HTF, order book."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def interval_rule(*allowed: str) -> BeforeValidator:
    """Accept an interval as the README writes it: a number of minutes (15) or text ("15", "d" → "D")."""

    def check(value: Any) -> Any:
        text = str(value).strip().upper() if isinstance(value, int | str) and not isinstance(value, bool) else None
        if text not in allowed:
            minutes = " ".join(a for a in allowed if a.isdigit())
            letters = " or ".join(a for a in allowed if not a.isdigit())
            raise ValueError(f"must be one of {minutes} (minutes, a number or a string) or {letters}")
        return text

    return BeforeValidator(check)


Interval = Annotated[Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"],
                     interval_rule("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M")]

# name -> (TA-Lib function, direction); direction 0 means "use the sign TA-Lib returns",
# "doji" means "against the previous bar's body" (indecision after a move hints at a reversal).
PATTERNS: dict[str, tuple[str, int | str]] = {
    "engulfing": ("CDLENGULFING", 0),
    "harami": ("CDLHARAMI", 0),
    "hammer": ("CDLHAMMER", 1),
    "inverted_hammer": ("CDLINVERTEDHAMMER", 1),
    "hanging_man": ("CDLHANGINGMAN", -1),
    "shooting_star": ("CDLSHOOTINGSTAR", -1),
    "morning_star": ("CDLMORNINGSTAR", 1),
    "evening_star": ("CDLEVENINGSTAR", -1),
    "three_white_soldiers": ("CDL3WHITESOLDIERS", 1),
    "three_black_crows": ("CDL3BLACKCROWS", -1),
    "dragonfly_doji": ("CDLDRAGONFLYDOJI", 1),
    "gravestone_doji": ("CDLGRAVESTONEDOJI", -1),
    "doji": ("CDLDOJI", "doji"),
}
PatternName = Literal[
    "engulfing", "harami", "hammer", "inverted_hammer", "hanging_man", "shooting_star", "morning_star",
    "evening_star", "three_white_soldiers", "three_black_crows", "dragonfly_doji", "gravestone_doji", "doji",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Indicator(_Model):
    """Common switch and weight of a voting indicator."""

    enabled: bool = True
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)


class _Band(Indicator):
    """Oscillator voting +1 at/below ``low``, -1 at/above ``high``, linear in between."""

    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _low_below_high(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class EMAParams(Indicator):
    fast: int = Field(9, ge=2, le=1000)
    slow: int = Field(21, ge=2, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if not self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class SMAParams(Indicator):
    period: int = Field(200, ge=2, le=5000)


class RSIParams(_Band):
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(30.0, ge=0.0, le=100.0)
    high: float = Field(70.0, ge=0.0, le=100.0)


class StochRSIParams(_Band):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    fastk: int = Field(14, ge=1, le=1000)
    fastd: int = Field(3, ge=1, le=1000)
    low: float = Field(20.0, ge=0.0, le=100.0)
    high: float = Field(80.0, ge=0.0, le=100.0)


class MACDParams(Indicator):
    fast: int = Field(12, ge=2, le=1000)
    slow: int = Field(26, ge=2, le=1000)
    signal: int = Field(9, ge=1, le=1000)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if not self.fast < self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self


class BBandsParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    nbdev: float = Field(2.0, gt=0.0, le=10.0)


class ADXParams(Indicator):
    period: int = Field(14, ge=2, le=1000)
    min_adx: float = Field(20.0, ge=0.0, lt=100.0)
    strong_adx: float = Field(40.0, gt=0.0, le=100.0)

    @model_validator(mode="after")
    def _min_below_strong(self) -> Self:
        if not self.min_adx < self.strong_adx:
            raise ValueError(f"min_adx ({self.min_adx}) must be below strong_adx ({self.strong_adx})")
        return self


class CCIParams(_Band):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    low: float = Field(-100.0, ge=-1000.0, le=1000.0)
    high: float = Field(100.0, ge=-1000.0, le=1000.0)


class WillRParams(_Band):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(-80.0, ge=-100.0, le=0.0)
    high: float = Field(-20.0, ge=-100.0, le=0.0)


class MFIParams(_Band):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(14, ge=2, le=1000)
    low: float = Field(20.0, ge=0.0, le=100.0)
    high: float = Field(80.0, ge=0.0, le=100.0)


class OBVParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)


class SARParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    acceleration: float = Field(0.02, gt=0.0, le=1.0)
    maximum: float = Field(0.2, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _acc_le_max(self) -> Self:
        if self.acceleration > self.maximum:
            raise ValueError(f"acceleration ({self.acceleration}) must not exceed maximum ({self.maximum})")
        return self


class ROCParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(10, ge=1, le=1000)
    full_pct: float = Field(1.0, gt=0.0, le=100.0, description="ROC (%) that earns a full vote")


class KeltnerParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    atr_period: int = Field(10, ge=1, le=1000)
    multiplier: float = Field(2.0, gt=0.0, le=10.0)


class PatternParams(Indicator):
    patterns: tuple[PatternName, ...] = (
        "engulfing", "hammer", "shooting_star", "morning_star", "evening_star", "doji",
    )

    @model_validator(mode="after")
    def _some_unique(self) -> Self:
        if len(set(self.patterns)) != len(self.patterns):
            raise ValueError("patterns must not repeat")
        if self.enabled and not self.patterns:
            raise ValueError("patterns is empty: list at least one or set enabled = false")
        return self


class VWAPParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    mode: Literal["session", "rolling"] = "session"
    window: int = Field(288, ge=2, le=100_000, description="bars in the rolling window (mode=rolling)")
    atr_scale: float = Field(1.0, gt=0.0, le=100.0, description="distance in ATRs that earns a full vote")


class VolumeParams(Indicator):
    weight: float = Field(0.5, ge=0.0, le=100.0, allow_inf_nan=False)
    period: int = Field(20, ge=2, le=1000)
    full_ratio: float = Field(2.0, gt=1.0, le=100.0, description="relative volume that earns a full vote")


class HTFParams(_Model):
    """One higher timeframe: trend by EMA slope or by close vs SMA, sideways inside ``flat_pct``."""

    interval: Interval
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    method: Literal["ema_slope", "sma"] = "ema_slope"
    period: int = Field(20, ge=2, le=1000)
    flat_pct: float = Field(0.05, ge=0.0, le=100.0, allow_inf_nan=False)


class OrderBookParams(_Model):
    enabled: bool = True
    weight: float = Field(1.0, ge=0.0, le=100.0, allow_inf_nan=False)
    depth: int = Field(20, ge=1, le=500)
    full_imbalance: float = Field(0.5, gt=0.0, le=1.0, description="imbalance that earns a full vote")


def _default_htf() -> list[HTFParams]:
    return [
        HTFParams(interval="60", weight=1.0, method="ema_slope", period=20, flat_pct=0.02),
        HTFParams(interval="240", weight=1.0, method="ema_slope", period=20, flat_pct=0.05),
        HTFParams(interval="D", weight=1.0, method="sma", period=20, flat_pct=0.5),
    ]


class StrategyParams(_Model):
    """Everything the signal engine reads; unknown keys are errors (typos fail loudly).

    Score = Σ weight × vote over the enabled indicators, each higher timeframe and the order book; BUY
    when score ≥ ``threshold``, SELL when score ≤ -``threshold``, else HOLD. Defaults (weight, params):
    ema 1.0 (9/21), sma 1.0 (200), rsi 1.0 (14, 30/70), stochrsi 0.5 (14/14/3, 20/80), macd 1.0
    (12/26/9), bbands 0.5 (20, 2σ), adx 1.0 (14, 20→40), cci 0.5 (20, ±100), willr 0.5 (14, -80/-20),
    mfi 0.5 (14, 20/80), obv 0.5 (SMA 20), sar 0.5 (0.02/0.2), roc 0.5 (10, full at 1 %), keltner 0.5
    (EMA 20 ± 2×ATR 10), patterns 1.0, vwap 0.5 (session, full at 1 ATR), volume 0.5 (SMA 20, full at
    2×), higher timeframes 60/240 (EMA-20 slope) and D (close vs SMA 20) at 1.0 each, orderbook 1.0
    (20 levels, full at 0.5 imbalance); threshold 6.0 of a 15.5 total; atr_period 14.

    Vote rules (implemented in :mod:`tradebot.strategy.votes`); every vote is clipped to [-1, 1] and an
    indicator without enough history abstains (vote 0, note "warming up"):

    "band(x, low, high)" means ``clip(1 - 2·(x - low)/(high - low), -1, 1)``: +1 at/below ``low``, -1
    at/above ``high``, linear in between (oscillators vote mean reversion; trend indicators vote with it).

    =========  ==========================================  ===================================================
    name       value shown                                 vote
    =========  ==========================================  ===================================================
    ema        EMA(fast) - EMA(slow)                       close > fast > slow: +1; fast > slow otherwise: +0.5;
                                                           close < fast < slow: -1; fast < slow otherwise: -0.5
    sma        SMA(period)                                 sign(close - SMA): +1 above, -1 below (trend filter)
    rsi        RSI(period)                                 band(RSI, low=30, high=70): oversold is bullish
    stochrsi   STOCHRSI fast %K                            band(%K, low=20, high=80)
    macd       MACD histogram                              0.5·sign(MACD line) + 0.5·sign(histogram)
    bbands     %B = (close - lower)/(upper - lower)        band(%B, 0, 1): at lower band +1, upper band -1
    adx        ADX(period)                                 sign(+DI - -DI) · clip((ADX - min_adx)/(strong_adx -
                                                           min_adx), 0, 1): no vote in a trendless market
    cci        CCI(period)                                 band(CCI, low=-100, high=100)
    willr      Williams %R(period)                         band(%R, low=-80, high=-20)
    mfi        MFI(period)                                 band(MFI, low=20, high=80)
    obv        OBV - SMA(OBV, period)                      sign(OBV - SMA(OBV)): volume flowing in is bullish
    sar        Parabolic SAR                               sign(close - SAR)
    roc        ROC(period) in %                            clip(ROC / full_pct, -1, 1): momentum
    keltner    (close - EMA)/(multiplier·ATR)              clip of the value: +1 at/above the upper channel
    patterns   Σ pattern directions                        clip(Σ, -1, 1): engulfing/harami/morning-evening
                                                           star use TA-Lib's sign; hammer +1, shooting star -1
                                                           ...; doji votes against the previous bar's body
    vwap       VWAP (session = UTC day, or rolling)        clip((close - VWAP)/(atr_scale·ATR), -1, 1)
    volume     relative volume = vol / SMA(vol)[t-1]       sign(close - open) · clip((rel - 1)/(full_ratio - 1),
                                                           0, 1): a big-volume bar confirms its direction
    =========  ==========================================  ===================================================

    Higher timeframe (``htf_<interval>``): +1 up, -1 down, 0 sideways, where ``ema_slope`` measures the
    % change of EMA(period) over the last closed HTF candle and ``sma`` the % distance of its close from
    SMA(period); sideways while |value| ≤ flat_pct. Order book: imbalance = (bid size - ask size) /
    (bid size + ask size) over the best ``depth`` levels, vote = clip(imbalance / full_imbalance).
    """

    threshold: float = Field(6.0, gt=0.0, le=1000.0, allow_inf_nan=False)
    atr_period: int = Field(14, ge=1, le=1000)
    ema: EMAParams = EMAParams()
    sma: SMAParams = SMAParams()
    rsi: RSIParams = RSIParams()
    stochrsi: StochRSIParams = StochRSIParams()
    macd: MACDParams = MACDParams()
    bbands: BBandsParams = BBandsParams()
    adx: ADXParams = ADXParams()
    cci: CCIParams = CCIParams()
    willr: WillRParams = WillRParams()
    mfi: MFIParams = MFIParams()
    obv: OBVParams = OBVParams()
    sar: SARParams = SARParams()
    roc: ROCParams = ROCParams()
    keltner: KeltnerParams = KeltnerParams()
    patterns: PatternParams = PatternParams()
    vwap: VWAPParams = VWAPParams()
    volume: VolumeParams = VolumeParams()
    higher_timeframes: list[HTFParams] = Field(default_factory=_default_htf, max_length=8)
    orderbook: OrderBookParams = OrderBookParams()

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        intervals = [h.interval for h in self.higher_timeframes]
        if len(set(intervals)) != len(intervals):
            raise ValueError(f"higher_timeframes repeats an interval: {intervals}")
        total = self.total_weight()
        if self.threshold > total:
            raise ValueError(
                f"threshold ({self.threshold}) exceeds the total enabled weight ({total}): no signal could fire"
            )
        return self

    def indicators(self) -> dict[str, Indicator]:
        """Enabled per-bar indicators in evaluation order (name -> sub-model)."""
        subs = self.__dict__
        return {name: subs[name] for name in INDICATOR_NAMES if subs[name].enabled}

    def total_weight(self) -> float:
        """Σ weights of everything that can vote: the score always lies in [-total, +total]."""
        total = sum(sub.weight for sub in self.indicators().values())
        total += sum(h.weight for h in self.higher_timeframes)
        return total + (self.orderbook.weight if self.orderbook.enabled else 0.0)


INDICATOR_NAMES: tuple[str, ...] = (
    "ema", "sma", "rsi", "stochrsi", "macd", "bbands", "adx", "cci", "willr", "mfi", "obv", "sar", "roc",
    "keltner", "patterns", "vwap", "volume",
)
