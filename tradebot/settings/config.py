"""Configuration: secrets from the environment/.env, strategy and risk from a TOML file, all validated at start."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from tradebot.bybit.hosts import is_loopback, standard_name
from tradebot.errors import ConfigError
from tradebot.optimize.settings import OptimizeSettings
from tradebot.settings.dburl import shown_url, url_problem, url_secrets
from tradebot.sizing.execution import ExecutionSettings
from tradebot.sizing.risk import RiskParams
from tradebot.states import AlertKind
from tradebot.strategy.params import StrategyParams, interval_rule

INTERVALS = ("1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D")
ENV_NAMES = ("paper", "mainnet", "testnet", "demo")
SECRET_KEYS = ("BYBIT_API_KEY", "BYBIT_API_SECRET", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}USDT$")


class AlertSettings(BaseModel):
    """Which alert types are pushed to the chat."""

    model_config = ConfigDict(extra="forbid")
    signal: bool = True
    filled: bool = True
    stop_moved: bool = True
    closed: bool = True
    protection: bool = True
    error: bool = True
    lifecycle: bool = True
    health: bool = True

    def on(self, kind: AlertKind) -> bool:
        """Whether alerts of ``kind`` are pushed."""
        switches: dict[AlertKind, bool] = {
            "signal": self.signal, "filled": self.filled, "stop_moved": self.stop_moved, "closed": self.closed,
            "protection": self.protection, "error": self.error, "lifecycle": self.lifecycle, "health": self.health}
        return switches[kind]


class BotSettings(BaseModel):
    """The ``[bot]`` table: what to trade and how the loop behaves."""

    model_config = ConfigDict(extra="forbid")
    symbols: list[str] = Field(default_factory=lambda: ["BTCUSDT"], min_length=1, max_length=50)
    interval: Annotated[Literal["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D"],
                        interval_rule(*INTERVALS)] = "15"
    loop_seconds: float = Field(60.0, ge=1, le=3600, description="seconds between trading ticks")
    candles: int = Field(300, ge=100, le=1000, description="candles fetched per tick")
    mode: Literal["confirm", "auto"] = "confirm"
    confirmation_expiry_seconds: int = Field(300, ge=30, le=86400)
    max_price_drift_atr: float = Field(0.5, gt=0, le=10, description="re-ask on Approve if price moved more")
    reconcile_minutes: float = Field(5, ge=0.1, le=1440)
    streams: bool = Field(True, description="listen to Bybit's WebSocket streams; REST polling stays the fallback")
    stream_grace_seconds: float = Field(60, ge=5, le=3600, description="alert when a stream is down this long")
    unknown_position: Literal["adopt", "close", "ignore"] = "adopt"
    unknown_position_wait_seconds: int = Field(120, ge=0, le=86400)
    digest_utc: str | None = Field(None, description="HH:MM for a daily digest, or unset")
    health_max_age_seconds: float | None = Field(None, ge=10, le=86400,
                                                 description="`bot.py health`: max heartbeat age")
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    heavy_workers: int = Field(1, ge=1, le=4, description="/backtest, /optimize, /chart running at once (processes)")
    heavy_queue: int = Field(3, ge=0, le=20, description="more of them that may wait; beyond: busy, try later")

    @property
    def health_age(self) -> float:
        """The heartbeat age `bot.py health` accepts: the configured one, else max(300 s, 3 trading loops)."""
        return self.health_max_age_seconds or max(300.0, 3 * self.loop_seconds)

    @property
    def health_tick_age(self) -> float:
        """The tick heartbeat's allowed age: with healthy streams the REST tick runs once per reconcile period."""
        streams = 2 * self.reconcile_minutes * 60 + self.loop_seconds if self.streams else 0.0
        return self.health_max_age_seconds or max(self.health_age, streams)

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, v: list[str]) -> list[str]:
        out = [s.strip().upper() for s in v]
        bad = [s for s in out if not _SYMBOL.match(s)]
        if bad:
            raise ValueError(f"each symbol must be a Bybit linear USDT perpetual like BTCUSDT, got {bad}")
        if len(set(out)) != len(out):
            raise ValueError("symbols must not repeat")
        return out

    @field_validator("digest_utc")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("must be HH:MM (UTC, 24h), e.g. 08:00")
        return v


class FileConfig(BaseModel):
    """Everything from the TOML config file."""

    model_config = ConfigDict(extra="forbid")
    bot: BotSettings = Field(default_factory=BotSettings)
    risk: RiskParams = Field(default_factory=RiskParams)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    strategy: StrategyParams = Field(default_factory=StrategyParams)
    optimize: OptimizeSettings = Field(default_factory=OptimizeSettings)


class EnvSettings(BaseModel):
    """Secrets and deployment settings from the environment (never from the config file)."""

    model_config = ConfigDict(extra="ignore")
    BYBIT_API_KEY: SecretStr | None = None
    BYBIT_API_SECRET: SecretStr | None = None
    TELEGRAM_BOT_TOKEN: SecretStr | None = None
    TELEGRAM_ALLOWED_CHAT_IDS: list[int] = Field(default_factory=list)
    TELEGRAM_OWNER_IDS: list[int] = Field(default_factory=list)  # user ids that may trade and change settings
    TELEGRAM_VIEWER_IDS: list[int] = Field(default_factory=list)  # user ids that may read in a private chat
    TELEGRAM_API_URL: str | None = None  # a self-hosted Bot API server, e.g. http://127.0.0.1:8081
    DATABASE_URL: str = "sqlite:///tradebot.db"
    BYBIT_ENV: str = "paper"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # webhook mode (instead of polling) when TELEGRAM_WEBHOOK_URL is set
    TELEGRAM_WEBHOOK_URL: str | None = None
    TELEGRAM_WEBHOOK_SECRET: SecretStr | None = None
    TELEGRAM_WEBHOOK_LISTEN: str = "127.0.0.1"
    TELEGRAM_WEBHOOK_PORT: int = Field(8443, ge=1, le=65535)

    @field_validator("TELEGRAM_ALLOWED_CHAT_IDS", mode="before")
    @classmethod
    def _ids(cls, v: Any) -> Any:
        if isinstance(v, str):
            parts = [p.strip() for p in v.replace(";", ",").split(",") if p.strip()]
            if not all(re.fullmatch(r"-?[0-9]{1,19}", p) for p in parts):  # ASCII: int("١٢") is 12
                raise ValueError("must be comma-separated numeric Telegram chat/user ids, e.g. 12345,-100987")
            return [int(p) for p in parts]
        return v

    @field_validator("TELEGRAM_OWNER_IDS", "TELEGRAM_VIEWER_IDS", mode="before")
    @classmethod
    def _user_ids(cls, v: Any) -> Any:
        parts = [p.strip() for p in v.replace(";", ",").split(",") if p.strip()] if isinstance(v, str) else v
        if isinstance(parts, list) and not all(re.fullmatch(r"[0-9]{1,19}", str(p)) and int(p) > 0 for p in parts):
            raise ValueError("must be comma-separated Telegram user ids (positive numbers, e.g. 12345,67890); a "
                             "group's id (-100...) belongs in TELEGRAM_ALLOWED_CHAT_IDS")
        return [int(p) for p in parts] if isinstance(parts, list) else parts

    @property
    def owner_ids(self) -> frozenset[int]:
        """Who may trade and change settings: TELEGRAM_OWNER_IDS, and every private chat listed in
        TELEGRAM_ALLOWED_CHAT_IDS (a private chat's id is its user's id) unless listed in TELEGRAM_VIEWER_IDS:
        configs from before the roles keep working."""
        chats = {i for i in self.TELEGRAM_ALLOWED_CHAT_IDS if i > 0 and i not in self.TELEGRAM_VIEWER_IDS}
        return frozenset(self.TELEGRAM_OWNER_IDS) | chats

    @field_validator("BYBIT_ENV")
    @classmethod
    def _env(cls, v: str) -> str:
        v = v.strip()
        if v.lower() in ENV_NAMES:
            return v.lower()
        if not re.fullmatch(r"https?://[^\s/]+(:\d+)?/?", v, re.IGNORECASE):
            raise ValueError("must be paper, mainnet, testnet, demo or a base URL like http://127.0.0.1:8900")
        try:
            parts = urlsplit(v)
            host, _ = parts.hostname, parts.port
        except ValueError:
            raise ValueError("must be a base URL like https://api.bybit.com or http://127.0.0.1:8900 (the "
                             "simulator); its port a number from 1 to 65535") from None
        if parts.scheme.lower() == "http" and not is_loopback(host):
            raise ValueError("plain http:// only to this machine (127.0.0.1, localhost, ::1: the simulator); use "
                             "https:// for any other host, or mainnet/testnet/demo (the API key must not travel "
                             "unencrypted)")
        return standard_name(v) or v.rstrip("/")

    @field_validator("TELEGRAM_API_URL")
    @classmethod
    def _tg_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", v, re.IGNORECASE):
            if v.lower().startswith("http://") and not is_loopback(urlsplit(v).hostname):
                # the bot token travels in every request's path: plain http only to this machine
                raise ValueError("plain http:// only to this machine (like http://127.0.0.1:8081); "
                                 "a Bot API server elsewhere needs https://")
            return v.rstrip("/")
        raise ValueError("must be the base URL of a Telegram Bot API server, like http://127.0.0.1:8081")

    @field_validator("TELEGRAM_WEBHOOK_URL")
    @classmethod
    def _hook_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", v):
            return v
        raise ValueError("must be the public https:// URL Telegram posts updates to, e.g. "
                         "https://bot.example.com/telegram (your reverse proxy forwards it to the bot)")

    @field_validator("TELEGRAM_WEBHOOK_SECRET")
    @classmethod
    def _hook_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v.get_secret_value()):
            raise ValueError("must be 1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's secret_token rule)")
        return v

    @field_validator("DATABASE_URL")
    @classmethod
    def _db(cls, v: str) -> str:
        if (problem := url_problem(v)) is not None:
            raise ValueError(problem)
        return v


@dataclass(frozen=True)
class Config:
    """The validated configuration the whole app runs on."""

    env: EnvSettings
    file: FileConfig
    source: str  # where the file config came from (path or "defaults")
    demo: bool = False

    @property
    def bot(self) -> BotSettings:
        return self.file.bot

    @property
    def risk(self) -> RiskParams:
        return self.file.risk

    @property
    def execution(self) -> ExecutionSettings:
        return self.file.execution

    @property
    def strategy(self) -> StrategyParams:
        return self.file.strategy

    @property
    def optimize(self) -> OptimizeSettings:
        return self.file.optimize

    @property
    def exchange_env(self) -> str:
        return "paper" if self.demo else self.env.BYBIT_ENV

    def secrets(self) -> list[str]:
        """Every secret value, for log redaction."""
        vals = [self.env.BYBIT_API_KEY, self.env.BYBIT_API_SECRET, self.env.TELEGRAM_BOT_TOKEN,
                self.env.TELEGRAM_WEBHOOK_SECRET]
        out = [s.get_secret_value() for s in vals if s is not None and s.get_secret_value()]
        return out + url_secrets(self.env.DATABASE_URL)


def _errors(exc: ValidationError, prefix: str = "") -> list[ConfigError]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        value = err.get("input")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        elif err["type"] == "missing":
            value = "<missing>"
        elif isinstance(value, dict):  # a cross-field rule of a table: name the key it is about
            named = [k for k in value if re.search(rf"\b{re.escape(str(k))}\b", msg)]
            if named:
                key, value = f"{key}.{named[0]}" if key else named[0], value[named[0]]
        if key in SECRET_KEYS and value != "<missing>":
            value = "<hidden>"
        elif key == "DATABASE_URL" and isinstance(value, str):
            value = shown_url(value)
        if isinstance(value, dict | list) and len(repr(value)) > 80:
            value = type(value).__name__
        out.append(ConfigError(f"{prefix}{key}" if key else prefix.rstrip("."), value, msg))
    return out


def load_file_config(path: Path | None) -> tuple[FileConfig, str]:
    if path is None:
        return FileConfig(), "defaults"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # (a UTF-8 byte order mark is skipped)
    except FileNotFoundError as exc:
        raise ConfigErrors([ConfigError("CONFIG_FILE", str(path), "file not found")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigErrors([ConfigError("CONFIG_FILE", str(path), (
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}): save the file as UTF-8, "
            "the encoding TOML requires"))]) from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise ConfigErrors([ConfigError("CONFIG_FILE", str(path), f"cannot be read: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigErrors([ConfigError("CONFIG_FILE", str(path), f"not valid TOML: {exc}")]) from exc
    try:
        return FileConfig.model_validate(raw), str(path)
    except ValidationError as exc:
        raise ConfigErrors(_errors(exc)) from exc


class ConfigErrors(Exception):
    """One or more configuration problems, each naming its key, value and what is allowed."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def load_config(environ: Mapping[str, str] | None = None, config_path: str | None = None,
                *, demo: bool = False) -> Config:
    """Validate environment + config file. Raises ConfigErrors listing every problem found."""
    environ = dict(os.environ if environ is None else environ)
    errors: list[ConfigError] = []
    env = None
    try:
        env = EnvSettings.model_validate({k: v for k, v in environ.items() if k in EnvSettings.model_fields})
    except ValidationError as exc:
        errors += _errors(exc)
    path_str = config_path or environ.get("CONFIG_FILE")
    if path_str is None and Path("config.toml").exists():
        path_str = "config.toml"
    file_cfg = None
    try:
        file_cfg, source = load_file_config(Path(path_str) if path_str else None)
    except ConfigErrors as exc:
        errors += exc.errors
    if env is not None and not demo:
        errors += _check_deployment(env)
    if errors:
        raise ConfigErrors(errors)
    assert env is not None and file_cfg is not None
    return Config(env=env, file=file_cfg, source=source, demo=demo)


def _check_deployment(env: EnvSettings) -> list[ConfigError]:
    errs = []
    if env.TELEGRAM_BOT_TOKEN is None or not env.TELEGRAM_BOT_TOKEN.get_secret_value():
        errs.append(ConfigError("TELEGRAM_BOT_TOKEN", "<missing>", "required (from @BotFather); or run --demo"))
    elif not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", env.TELEGRAM_BOT_TOKEN.get_secret_value()):
        errs.append(ConfigError("TELEGRAM_BOT_TOKEN", "<hidden>", "must look like 123456789:AA... from @BotFather"))
    if not env.TELEGRAM_ALLOWED_CHAT_IDS:
        errs.append(ConfigError("TELEGRAM_ALLOWED_CHAT_IDS", "<missing>",
                                "at least one chat id; nobody else can use the bot"))
    elif not env.owner_ids:
        errs.append(ConfigError("TELEGRAM_OWNER_IDS", "<missing>",
                                "at least one owner: your Telegram user id (or your private chat id in "
                                "TELEGRAM_ALLOWED_CHAT_IDS); in a group only owners may trade and change settings"))
    if both := sorted(set(env.TELEGRAM_OWNER_IDS) & set(env.TELEGRAM_VIEWER_IDS)):
        errs.append(ConfigError("TELEGRAM_VIEWER_IDS", ",".join(map(str, both)),
                                "an id may not be both an owner and a viewer: remove it from one of the two lists"))
    if env.TELEGRAM_WEBHOOK_URL and env.TELEGRAM_WEBHOOK_SECRET is None:
        errs.append(ConfigError("TELEGRAM_WEBHOOK_SECRET", "<missing>",
                                "required with TELEGRAM_WEBHOOK_URL: 1-256 characters A-Z, a-z, 0-9, _ and -"))
    if env.BYBIT_ENV != "paper":
        for key in ("BYBIT_API_KEY", "BYBIT_API_SECRET"):
            val = getattr(env, key)
            if val is None or not val.get_secret_value():
                errs.append(ConfigError(key, "<missing>", f"required when BYBIT_ENV={env.BYBIT_ENV}"))
    return errs
