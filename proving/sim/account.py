"""Account endpoints (wallet-balance, account info, fee rate) and the wallet row used by /sim/state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tradebot.money import ZERO

from .host import SimHost
from .liquidation import position_mm
from .models import fmt
from .params import Params, Result, err


def wallet_row(sim: SimHost) -> dict[str, Any]:
    ex = sim.exchange
    upl, pim, oim = ex.upl(), ex.position_im(), ex.order_im()
    mm = position_mm(ex)
    equity = ex.wallet + upl
    im_rate = (pim + oim) / equity if equity > 0 else ZERO
    mm_rate = mm / equity if equity > 0 else ZERO
    cum = sum((pos.cum_realised for pos in ex.positions.values()), ZERO)
    q = Decimal("1e-8")
    coin = {
        "coin": "USDT", "equity": fmt(equity), "usdValue": fmt(equity), "walletBalance": fmt(ex.wallet),
        "free": "", "locked": "0", "spotHedgingQty": "0", "borrowAmount": "0", "accruedInterest": "0",
        "totalOrderIM": fmt(oim), "totalPositionIM": fmt(pim), "totalPositionMM": fmt(mm),
        "unrealisedPnl": fmt(upl), "cumRealisedPnl": fmt(cum), "bonus": "0", "marginCollateral": True,
        "collateralSwitch": True, "availableToWithdraw": "", "availableToBorrow": "", "spotBorrow": "0",
    }
    return {
        "accountType": "UNIFIED", "totalEquity": fmt(equity), "totalWalletBalance": fmt(ex.wallet),
        "totalMarginBalance": fmt(equity), "totalAvailableBalance": fmt(ex.available()),
        "totalPerpUPL": fmt(upl), "totalInitialMargin": fmt(pim + oim), "totalInitialMarginByMp": fmt(pim + oim),
        "totalMaintenanceMargin": fmt(mm), "totalMaintenanceMarginByMp": fmt(mm),
        "accountIMRate": fmt(im_rate.quantize(q)), "accountIMRateByMp": fmt(im_rate.quantize(q)),
        "accountMMRate": fmt(mm_rate.quantize(q)), "accountMMRateByMp": fmt(mm_rate.quantize(q)),
        "accountLTV": "0", "coin": [coin],
    }


def wallet_balance(sim: SimHost, p: Params) -> Result:
    acct = p.str("accountType", required=True)
    if acct not in ("UNIFIED", "CONTRACT"):
        raise err("accountType only support UNIFIED.")
    row = wallet_row(sim)
    coins = [c.strip() for c in p.str("coin").split(",") if c.strip()]
    if coins and "USDT" not in coins:
        row["coin"] = []
    return {"list": [row]}


def account_info(sim: SimHost, p: Params) -> Result:
    """account/account-info.mdx, shaped like its example; ``sim.account_settings`` may override
    unifiedMarginStatus / marginMode (the simulator itself always trades as a UTA 2.0 in cross margin)."""
    return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(sim.market_time()), "unifiedMarginStatus": 5,
            "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
            "spotHedgingStatus": "OFF", **getattr(sim, "account_settings", {})}


def fee_rate(sim: SimHost, p: Params) -> Result:
    p.category()
    sym = p.symbol(sim, required=False)
    fees = sim.exchange.fees
    # account/fee-rate.mdx: derivatives rows carry symbol, takerFeeRate, makerFeeRate (no category, no baseCoin)
    return {"list": [{"symbol": s, "takerFeeRate": fmt(fees.taker), "makerFeeRate": fmt(fees.maker)}
                     for s in ([sym] if sym else sim.symbols)]}
