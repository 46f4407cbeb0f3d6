"""The validated ``[optimize]`` TOML table: search space, objective, walk-forward windows, hold-out, workers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tradebot.settings.overrides import current_value
from tradebot.sizing.risk import RiskParams
from tradebot.strategy.params import StrategyParams

Objective = Literal["net_pnl", "sharpe", "calmar"]
Choice = str | bool | int | float
_SPEC_KEYS = {"low", "high", "step", "log", "choices"}


class ParamSpec(BaseModel):
    """One searched setting: a numeric range ``low..high`` (optional ``step`` or ``log``) or a list of ``choices``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float | None = Field(None, allow_inf_nan=False)
    high: float | None = Field(None, allow_inf_nan=False)
    step: float | None = Field(None, gt=0, allow_inf_nan=False)
    log: bool = False
    choices: list[Choice] | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or low/high (with step or log), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("needs low and high (a range), or choices (a list)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.step is not None:
            raise ValueError("log and step cannot be combined (Optuna samples a log range without steps)")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self

    def describe(self) -> str:
        if self.choices is not None:
            return " | ".join(str(c) for c in self.choices)
        extra = f" step {self.step:g}" if self.step else (" log" if self.log else "")
        return f"{self.low:g}..{self.high:g}{extra}"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"strategy": {"ema": {"fast": {...}}}}`` and ``{"strategy.ema.fast": {...}}`` → flat dotted keys."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and not (set(value) & _SPEC_KEYS):
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def check_spec(path: str, spec: ParamSpec, risk: RiskParams, strategy: StrategyParams) -> str | None:
    """Why ``spec`` cannot drive the setting at ``path`` (None when it can)."""
    try:
        like = current_value(path, risk, strategy)
    except KeyError as exc:
        return (f"unknown setting {path} (at {exc.args[0]!r}): use risk.KEY or strategy.KEY[.SUBKEY] "
                "as in config.example.toml")
    numeric = isinstance(like, int | float | Decimal) and not isinstance(like, bool)
    if spec.choices is None and not numeric:
        return f"{path} is {type(like).__name__} ({like!r}): search it with choices = [...]"
    if isinstance(like, int) and not isinstance(like, bool) and spec.choices is None:
        assert spec.low is not None and spec.high is not None
        if not (spec.low.is_integer() and spec.high.is_integer() and float(spec.step or 1).is_integer()):
            return f"{path} is a whole number: low, high and step must be whole numbers"
    return None


def default_params() -> dict[str, ParamSpec]:
    return {
        "strategy.threshold": ParamSpec(low=3.0, high=10.0, step=0.5),
        "strategy.ema.fast": ParamSpec(low=5, high=20),
        "strategy.ema.slow": ParamSpec(low=21, high=80),
        "risk.sl_atr": ParamSpec(low=1.0, high=3.0, step=0.25),
        "risk.tp_atr": ParamSpec(low=1.5, high=6.0, step=0.5),
        "risk.breakeven_trigger_atr": ParamSpec(low=0.5, high=3.0, step=0.25),
        "risk.trail_atr": ParamSpec(low=0.5, high=3.0, step=0.25),
        "risk.trailing_mode": ParamSpec(choices=["exchange", "bot"]),
    }


class OptimizeSettings(BaseModel):
    """``[optimize]``: what ``bot.py optimize`` searches and how it scores a trial (see config.example.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: Objective = "net_pnl"
    min_trades: int = Field(10, ge=0, le=1_000_000, description="out-of-sample trades a trial needs to count")
    windows: int = Field(4, ge=1, le=50, description="walk-forward windows (rolling train/test pairs)")
    train_ratio: float = Field(3.0, gt=0, le=20, allow_inf_nan=False, description="train length / test length")
    holdout_pct: float = Field(20.0, ge=0, lt=90, allow_inf_nan=False,
                               description="% of the period kept untouched for the final check (0 = none)")
    top: int = Field(5, ge=1, le=50, description="best trials in the report")
    holdout_top: int = Field(3, ge=1, le=50, description="best trials evaluated on the hold-out")
    overfit_ratio: float = Field(0.5, ge=0, le=1, allow_inf_nan=False,
                                 description="warn when out-of-sample < this × in-sample")
    balance: Decimal = Field(Decimal("10000"), gt=0, le=Decimal("1e12"), description="starting USDT per run")
    heartbeat_seconds: int = Field(10, ge=1, le=3600, description="worker heartbeat; a silent worker's trial "
                                   "is failed and retried after 2× this")
    seed: int | None = Field(None, ge=0, description="sampler seed (worker i uses seed + i)")
    params: dict[str, ParamSpec] = Field(default_factory=default_params, min_length=1, max_length=100)

    @field_validator("params", mode="before")
    @classmethod
    def _flat(cls, v: Any) -> Any:
        return _flatten(v) if isinstance(v, dict) else v

    @field_validator("params")
    @classmethod
    def _known(cls, v: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        risk, strategy = RiskParams(), StrategyParams()
        for path, spec in v.items():
            problem = check_spec(path, spec, risk, strategy)
            if problem:
                raise ValueError(problem)
        return v
