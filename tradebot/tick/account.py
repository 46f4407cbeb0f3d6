"""The account settings the bot relies on (unified account, cross margin, one-way mode), checked at start."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from tradebot.bybit.account_models import AccountInfo
from tradebot.bybit.client import BybitClient
from tradebot.errors import ExchangeError

log = logging.getLogger("tradebot.tick.account")
RISK_BASE = "available balance"  # risk_pct is a % of the USDT available balance (totalAvailableBalance)
STATUS = {1: "classic account", 3: "Unified Trading Account 1.0", 4: "Unified Trading Account 1.0 (pro)",
          5: "Unified Trading Account 2.0", 6: "Unified Trading Account 2.0 (pro)"}  # enum.mdx#unifiedmarginstatus
MARGIN = {"REGULAR_MARGIN": "cross margin", "PORTFOLIO_MARGIN": "portfolio margin",
          "ISOLATED_MARGIN": "isolated margin"}


def account_problems(info: AccountInfo, position_idxs: dict[str, set[int]]) -> list[str]:
    """What the bot does not support, each naming the setting and how to change it ([] = fine).

    account/account-info.mdx gives ``unifiedMarginStatus`` and ``marginMode``; position/position.mdx tells the
    position mode by ``positionIdx``: 0 one-way, 1/2 the Buy/Sell sides of hedge mode.
    """
    problems = []
    if not info.unified:
        problems.append(
            f"the account is a {STATUS.get(info.unified_margin_status, 'non-unified account')} (unifiedMarginStatus "
            f"{info.unified_margin_status}); the bot trades only on a Unified Trading Account: upgrade it on Bybit "
            "(Assets → Unified Trading Account → Upgrade)")
    if info.margin_mode == "ISOLATED_MARGIN":
        problems.append(
            "margin mode is ISOLATED_MARGIN; the bot sizes and protects positions for cross margin: switch to Cross "
            "Margin on Bybit (Derivatives → margin mode) or POST /v5/account/set-margin-mode "
            "setMarginMode=REGULAR_MARGIN")
    for symbol, idxs in sorted(position_idxs.items()):
        if idxs & {1, 2}:
            problems.append(
                f"{symbol} is in hedge mode (positionIdx 1/2); the bot places one-way orders (positionIdx 0): switch "
                f"{symbol} to One-Way Mode on Bybit (Derivatives → Settings → Position Mode) or POST "
                "/v5/position/switch-mode mode=0 (only with no position or open order on it)")
    return problems


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


@dataclass(frozen=True)
class AccountCheck:
    """What start found: problems that stop new entries, a summary for the chat, the taker rates read."""

    problems: list[str] = field(default_factory=list)
    summary: str = ""
    taker_fees: dict[str, Decimal] = field(default_factory=dict)
    maker_fees: dict[str, Decimal] = field(default_factory=dict)

    @property
    def refusal(self) -> str | None:
        return None if not self.problems else "not trading: " + "; ".join(self.problems)


async def check_account(client: BybitClient, symbols: list[str], fallback_taker: Decimal) -> AccountCheck:
    """Read account info, each symbol's position mode and fee rates. A read that fails is reported and skipped:
    the settings are then not verified, and sizing uses ``fallback_taker`` (the configured taker_fee_rate)."""
    notes: list[str] = []
    problems: list[str] = []
    try:
        info = await client.account_info()
        idxs = {s: await client.position_idxs(s) for s in symbols}
        problems = account_problems(info, idxs)
        mode = "hedge mode" if any(i & {1, 2} for i in idxs.values()) else "one-way mode"
        notes.append(f"{STATUS.get(info.unified_margin_status, 'account')}, "
                     f"{MARGIN.get(info.margin_mode, info.margin_mode)}, {mode}")
    except ExchangeError as exc:
        log.warning("account settings could not be read: %s", exc)
        notes.append(f"account settings NOT verified ({exc})")
    taker: dict[str, Decimal] = {}
    maker: dict[str, Decimal] = {}
    for s in symbols:
        try:
            rates = await client.fee_rates(s)
        except ExchangeError as exc:
            log.warning("%s fee rate could not be read (%s): using taker_fee_rate from the config", s, exc)
            continue
        if s in rates:
            taker[s], maker[s] = rates[s].taker, rates[s].maker
    fees = ", ".join(f"{s} {_pct(taker[s])}" if s in taker else f"{s} {_pct(fallback_taker)} (config)"
                     for s in symbols)
    notes.append(f"taker fee {fees}; risk_pct is a % of the {RISK_BASE}, after fees")
    return AccountCheck(problems, "Account: " + "; ".join(notes) + ".", taker, maker)
