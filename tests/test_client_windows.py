"""The client asks closed-pnl, executions and order history at most 7 days per request (issue 11 §1).

position/close-pnl.mdx, order/execution.mdx, order/order-list.mdx: "If both are passed, the rule is
endTime - startTime <= 7 days"; only startTime returns [startTime, startTime + 7 days].
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.test_bybit_client import client, ok, path_re  # noqa: F401  (the client fixture)
from tradebot.bybit.client import WEEK_MS

DAY = 86_400_000


def windows(httpx_mock, path: str) -> list[tuple[int, int]]:
    out = []
    for r in httpx_mock.get_requests():
        if urlparse(str(r.url)).path == path:
            q = parse_qs(urlparse(str(r.url)).query)
            out.append((int(q["startTime"][0]), int(q["endTime"][0])))
    return out


@pytest.mark.parametrize(("path", "call"), [
    ("/v5/position/closed-pnl", lambda c, a, b: c.closed_pnl("BTCUSDT", start_ms=a, end_ms=b)),
    ("/v5/execution/list", lambda c, a, b: c.executions("BTCUSDT", exec_type="Funding", start_ms=a, end_ms=b)),
    ("/v5/order/history", lambda c, a, b: c.order_history("BTCUSDT", start_ms=a, end_ms=b)),
])
async def test_a_90_day_range_is_asked_in_7_day_windows(client, httpx_mock, path, call):  # noqa: F811
    httpx_mock.add_response(url=path_re(path), json=ok({"category": "linear", "list": [], "nextPageCursor": ""}),
                            is_reusable=True)
    start, end = 1_700_000_000_000, 1_700_000_000_000 + 90 * DAY
    await call(client, start, end)
    got = windows(httpx_mock, path)
    assert all(0 <= hi - lo <= WEEK_MS for lo, hi in got)  # each request within Bybit's 7 days
    spans = sorted(got)
    assert spans[0][0] == start and spans[-1][1] == end  # the whole range ...
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:], strict=False))  # ... without gaps or overlaps
    assert len(got) == 13


async def test_only_a_start_is_refused(client):  # noqa: F811
    with pytest.raises(ValueError, match="both start_ms and end_ms"):
        await client.closed_pnl("BTCUSDT", start_ms=1)
