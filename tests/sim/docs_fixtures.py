"""Builds tests/fixtures/bybit_docs/*.json from Bybit's docs pages: each page's response example + field table.

The pages themselves are copied into ``tests/fixtures/bybit_docs/pages/`` (Bybit's docs, bybit-exchange/docs at
commit 072c197d0, as the team's reference snapshot holds them), so the suite reads nothing outside the repository.
Run ``python -m tests.sim.docs_fixtures [BYBIT_DOCS_DIR]`` (default ``../shared/reference/bybit-docs``) to copy
the pages again and rewrite the fixtures; ``test_conformance`` checks that the committed fixtures still equal what
this extracts from the committed pages.
Each fixture is the docs' JSON example with one added top-level key, ``_source`` (stripped by the tests):
``{"page": <path under bybit-docs>, "example": <which example>, "documented": {field: type}}`` where
``documented`` is the page's "Response Parameters" table (first tab, i.e. linear/inverse); a field's name is
prefixed by its nesting depth in ``>`` as in the table (``">symbol"``: a field of the objects in ``list``).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bybit_docs"
DOCS = FIXTURES / "pages"  # the copied pages the fixtures are extracted from
SOURCE = ROOT.parent / "shared" / "reference" / "bybit-docs"  # where they are copied from (main() only)

# fixture name -> (page, which example (index among the JSON values of the first example tab), note)
SPECS: dict[str, tuple[str, int, str]] = {
    "market_time": ("market/time.mdx", 0, "Response Example"),
    "market_kline": ("market/kline.mdx", 0, "Response Example (the page's only one is inverse BTCUSD; "
                                            "linear rows have the same 7-string shape)"),
    "market_tickers": ("market/tickers.mdx", 0, "Response Example, first tab (Inverse): the page's only "
                                                "Linear/Inverse example; its table covers both"),
    "market_orderbook": ("market/orderbook.mdx", 0, "Response Example"),
    "market_instruments_info": ("market/instrument.mdx", 0, "Response Example, Linear tab, first object "
                                                            "(official USDT Perpetual, not the pre-market one)"),
    "market_funding_history": ("market/history-fund-rate.mdx", 0, "Response Example"),
    "order_create": ("order/create-order.mdx", 0, "Response Example"),
    "order_cancel": ("order/cancel-order.mdx", 0, "Response Example"),
    "order_amend": ("order/amend-order.mdx", 0, "Response Example"),
    "order_cancel_all": ("order/cancel-all.mdx", 0, "Response Example"),
    "order_realtime": ("order/open-order.mdx", 0, "Response Example (a New Limit order with TP/SL)"),
    "order_history": ("order/order-list.mdx", 0, "Response Example (a Cancelled PostOnly Limit order)"),
    "execution_list": ("order/execution.mdx", 0, "Response Example (an opening Market fill)"),
    "position_list": ("position/position.mdx", 0, "Response Example (an open Sell position; inverse, the "
                                                  "page's only one)"),
    "position_trading_stop": ("position/trading-stop.mdx", 0, "Response Example"),
    "position_set_leverage": ("position/leverage.mdx", 0, "Response Example"),
    "position_closed_pnl": ("position/close-pnl.mdx", 0, "Response Example"),
    "account_wallet_balance": ("account/wallet-balance.mdx", 0, "Response Example"),
    "account_info": ("account/account-info.mdx", 0, "Response Example"),
    "account_fee_rate": ("account/fee-rate.mdx", 0, "Response Example"),
}

# WebSocket pages (their examples are pushed messages, not REST answers): fixture name -> (page, which message)
WS_SPECS: dict[str, tuple[str, str]] = {
    "ws_order": ("websocket/private/order.mdx", "the first message"),
    "ws_execution": ("websocket/private/execution.mdx", "the first message"),
    "ws_position": ("websocket/private/position.mdx", "the first message"),
    "ws_wallet": ("websocket/private/wallet.mdx", "the first message"),
    "ws_kline": ("websocket/public/kline.mdx", "the first message"),
    "ws_tickers": ("websocket/public/ticker.mdx", "the BTCUSDT message (the linear one)"),
    "ws_orderbook": ("websocket/public/orderbook.mdx", "the first message"),
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# endpoint -> page whose Request Parameters' ``category`` row lists the product types it accepts
# (categories.json: the simulator answers the non-linear ones with an account that holds nothing there)
CATEGORY_PAGES: dict[str, str] = {
    "/v5/position/list": "position/position.mdx",
    "/v5/order/realtime": "order/open-order.mdx",
    "/v5/order/history": "order/order-list.mdx",
    "/v5/execution/list": "order/execution.mdx",
    "/v5/position/closed-pnl": "position/close-pnl.mdx",
    "/v5/order/cancel-all": "order/cancel-all.mdx",
    "/v5/account/fee-rate": "account/fee-rate.mdx",
    "/v5/market/instruments-info": "market/instrument.mdx",
    "/v5/market/tickers": "market/tickers.mdx",
}


def _first_tab(section: str) -> str:
    starts = [m.start() for m in re.finditer(r"<TabItem", section)]
    return section[:starts[1]] if len(starts) > 1 else section


def examples(page: str) -> list[Any]:
    """Every JSON value in the first tab of the page's "Response Example" (``//`` comment lines dropped)."""
    text = (DOCS / page).read_text()
    section = _first_tab(text[text.index("Response Example"):])
    block = re.search(r"```json\s*\n(.*?)```", section, re.S)
    assert block, f"{page}: no JSON response example"
    src = "\n".join(line for line in block.group(1).splitlines() if not line.lstrip().startswith("//"))
    out, dec, i = [], json.JSONDecoder(), 0
    while i < len(src):
        if src[i].isspace():
            i += 1
            continue
        value, i = dec.raw_decode(src, i)
        out.append(value)
    return out


def _cell(raw: str) -> str:
    raw = re.sub(r"<[^>]+>", " ", raw).replace("&gt;", ">").replace("&lt;", "<")
    raw = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    return re.sub(r"\s+", "", raw) if raw.strip().startswith(">") else raw.strip()


def documented(page: str) -> dict[str, str]:
    """Field name -> type from the page's Response Parameters table (first tab), nesting flattened."""
    text = (DOCS / page).read_text()
    start = text.index("Response Parameters")
    section = _first_tab(text[start:text.find("Request Example", start)])
    rows: list[tuple[str, str]] = []
    for chunk in re.split(r"</?tr>", section):  # HTML tables: the first two cells of each row
        cells = re.findall(r"<td>(.*?)</td>", chunk, re.S)
        if len(cells) >= 2:
            rows.append((cells[0], cells[1]))
    for line in section.splitlines():  # markdown tables
        cells = line.strip().strip("|").split("|")
        if line.lstrip().startswith("|") and len(cells) >= 2:
            rows.append((cells[0], cells[1]))
    out: dict[str, str] = {}
    for name_cell, type_cell in rows:
        name, kind = _cell(name_cell), _cell(type_cell).lower()
        depth = len(name) - len(name.lstrip(">"))
        name = name.lstrip(">").split(":")[-1].strip()  # "list[0]: startTime" -> "startTime"
        m = _NAME.match(name)
        if m and kind and not set(kind) <= set(":-") and m.group(0) not in ("Parameter",):
            out.setdefault(">" * depth + m.group(0), kind.split()[0])
    return out


def categories(page: str) -> list[str]:
    """The product types in the ``category`` row of the page's Request Parameters table (backticked values)."""
    text = (DOCS / page).read_text()
    section = text[text.index("Request Parameters"):text.index("Response Parameters")]
    for line in section.splitlines():
        cells = line.strip().strip("|").split("|")
        if len(cells) >= 4 and "category" in cells[0]:
            return re.findall(r"`(spot|linear|inverse|option)`", cells[3])
    raise AssertionError(f"{page}: no category row in Request Parameters")


def build_categories() -> dict[str, Any]:
    return {path: {"page": page, "categories": categories(page)} for path, page in CATEGORY_PAGES.items()}


def build(name: str) -> dict[str, Any]:
    page, index, note = SPECS[name]
    example = examples(page)[index]
    assert isinstance(example, dict)
    return {"_source": {"page": page, "example": note, "documented": documented(page)}, **example}


def ws_examples(page: str) -> list[dict[str, Any]]:
    """Every JSON example with a ``topic`` on a WebSocket docs page ('...' elisions, // comments and trailing
    commas removed; "LinearPerpetual"-style captions split the blocks)."""
    text = (DOCS / page).read_text()
    out = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        lines = [ln for ln in block.splitlines() if ln.strip() not in ("...,", "...")
                 and not ln.strip().startswith("//")]
        for part in re.split(r"^[A-Za-z]+$", "\n".join(lines), flags=re.M):
            part = re.sub(r",(\s*[\]}])", r"\1", part.strip())
            if part.startswith("{"):
                obj = json.loads(part)
                if isinstance(obj, dict) and "topic" in obj:
                    out.append(obj)
    return out


def build_ws(name: str) -> dict[str, Any]:
    page, note = WS_SPECS[name]
    rows = ws_examples(page)
    if name == "ws_tickers":
        rows = [r for r in rows if r["data"].get("symbol") == "BTCUSDT"]
    return {"_source": {"page": page, "example": note}, **rows[0]}


def pages() -> list[str]:
    """Every docs page the fixtures are extracted from."""
    return sorted({p for p, _, _ in SPECS.values()} | {p for p, _ in WS_SPECS.values()} | set(CATEGORY_PAGES.values()))


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else SOURCE
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for page in pages():
        (DOCS / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / page, DOCS / page)
    print(f"copied {len(pages())} pages from {source}")
    for name in [*SPECS, *WS_SPECS]:
        data = build(name) if name in SPECS else build_ws(name)
        (FIXTURES / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {name}.json")
    (FIXTURES / "categories.json").write_text(json.dumps(build_categories(), indent=2) + "\n")
    print("wrote categories.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
