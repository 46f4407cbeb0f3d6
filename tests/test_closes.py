"""A trade's close from the exchange's closed-pnl rows, pure (tradebot/care/closes.py): every reduction counts, the close
is complete only when the rows cover all the trade opened, and the order that closed the rest names it."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.bybit.account_models import ClosedPnl, Execution
from tradebot.care.closes import close_reason, lifetime, trade_close
from tradebot.care.trader import close_link_id, close_link_reason
from tradebot.states import CloseReason


def row(order: str, size: D, price: D, pnl: D, at: int, exec_type: str = "Trade") -> ClosedPnl:
    return ClosedPnl("BTCUSDT", order, "Sell", size, size, D("50000"), price, pnl, pnl / 10, pnl / 20, exec_type,
                     "Market", D("5"), at, at)


parts = st.lists(st.tuples(st.integers(1, 500), st.integers(40000, 60000), st.integers(-5000, 5000)),
                 min_size=1, max_size=8)


@settings(deadline=None, max_examples=200)
@given(parts=parts, adds=st.lists(st.integers(1, 300), max_size=3), seen=st.integers(0, 8))
def test_the_close_is_whole_or_not_yet(parts: list[tuple[int, int, int]], adds: list[int], seen: int) -> None:
    """Rows split what was opened (entry + adds) in any sizes; with only ``seen`` of them listed (the rest lag) the
    close is not complete; with all of them it is, and its figures are the sums of every row."""
    step = D("0.001")
    opened = sum(q for q, _, _ in parts) * step
    added = [a * step for a in adds if a * step < opened]
    rows = [row(f"o{i}", q * step, D(p), D(n) / 100, 1000 + i) for i, (q, p, n) in enumerate(parts)]
    newest_first = list(reversed(rows))
    whole = trade_close(newest_first, added, opened - sum(added, D(0)))
    assert whole.covered and whole.qty == opened and whole.opened == opened
    assert whole.pnl == sum((r.closed_pnl for r in rows), D(0))
    assert whole.exit_price == sum((r.closed_size * r.avg_exit_price for r in rows), D(0)) / opened  # size-weighted
    assert whole.open_fee == sum((r.open_fee for r in rows), D(0))
    assert whole.last is rows[-1] and whole.final == (rows[-1],)
    if seen < len(rows):
        part = trade_close(list(reversed(rows[:seen])), added, opened - sum(added, D(0)))
        assert not part.covered


def test_the_final_order_names_the_close_not_an_earlier_reduction() -> None:
    """A partial liquidation (BustTrade) then the stop-loss takes the rest: the close is the stop's."""
    liq = row("liq", D("0.5"), D("49000"), D("-80"), 1000, "BustTrade")
    stop = row("stop", D("0.3"), D("49500"), D("-40"), 2000)
    close = trade_close([stop, liq], [], D("0.8"))
    assert close.final == (stop,) and close.covered
    trade = SimpleNamespace(stop_moves=[])
    assert close_reason({"StopLoss"}, {r.exec_type for r in close.final}, set(), trade) == "stop_loss"
    assert close_reason(set(), {"BustTrade"}, set(), trade) == "liquidation"


def test_a_close_for_a_missing_stop_is_named_by_its_link() -> None:
    trade = SimpleNamespace(stop_moves=[])
    for symbol in ("BTCUSDT", "1000000BABYDOGEUSDT"):  # a long symbol's link is hashed: the reason stays readable
        link = close_link_id(symbol, CloseReason.UNPROTECTED, 1_750_000_000_000)
        assert len(link) <= 36 and close_link_reason(link) is CloseReason.UNPROTECTED
        assert close_reason(set(), {"Trade"}, {link}, trade) == "unprotected"
        manual = close_link_id(symbol, CloseReason.MANUAL, 1_750_000_000_000)
        assert close_reason(set(), {"Trade"}, {manual}, trade) == "manual"
    assert close_link_reason("cl-BTCUSDT-unprotec-1750000000000") is None  # an older link: read as manual
    assert close_reason(set(), {"Trade"}, {"cl-BTCUSDT-unprotec-1750000000000"}, trade) == "manual"


def fill(order: str, side: str, qty: D, closed: D, at: int, link: str = "") -> Execution:
    return Execution(f"x{order}", order, link, "BTCUSDT", side, "Trade", D("50000"), qty, qty * 50000, D(0), D(0),
                     False, closed, "", "Market", at)


def test_a_flip_back_by_hand_opens_a_new_position_not_an_add() -> None:
    """Long 0.13 flipped to short 0.013 by hand, then flipped back to long 0.001: the last fill closed a short (its
    closedSize) and opened a new long, so the trade's position ended at the first flip and the 0.001 is not an add
    (on the old code it was counted as one: 0.13 closed never covered 0.131 opened, so the close was never
    journaled while the new long was managed as the old trade: the money model's "two flips by hand")."""
    execs = [fill("b2", "Buy", D("0.014"), D("0.013"), 3000), fill("s1", "Sell", D("0.143"), D("0.13"), 2000),
             fill("e0", "Buy", D("0.13"), D(0), 1000, "en-x")]  # newest first, as Bybit lists them
    adds, ended = lifetime(execs, "Buy", D("0.13"), "en-x", 1000, qty_known=True)
    assert adds == [] and ended == (2000, "s1")
    stop = row("s1", D("0.13"), D("49000"), D("-130"), 2000)
    later = row("s9", D("0.001"), D("48000"), D("-2"), 9000)  # the new long's own close, days later
    close = trade_close([later, stop], adds, D("0.13"), ended)
    assert close.covered and close.rows == (stop,) and close.pnl == D("-130")


def test_a_hand_reduction_and_an_add_keep_the_position_going() -> None:
    execs = [fill("b2", "Buy", D("0.2"), D(0), 3000), fill("s1", "Sell", D("0.1"), D("0.1"), 2000)]
    adds, ended = lifetime(execs, "Buy", D("0.13"), "en-x", 1000, qty_known=True)
    assert adds == [D("0.2")] and ended is None
    # a position closed in full, then opened again the same way by hand: the new one is not the trade's
    execs = [fill("b2", "Buy", D("0.2"), D(0), 3000), fill("s1", "Sell", D("0.13"), D("0.13"), 2000)]
    assert lifetime(execs, "Buy", D("0.13"), None, 1000, qty_known=True) == ([], (2000, "s1"))
    # without the entry qty on record (older trades), only a flip ends it
    assert lifetime(execs, "Buy", D("0.13"), None, 1000, qty_known=False)[1] is None
