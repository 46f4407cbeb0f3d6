"""Orders journal, trade lifecycle (stop history, idempotent close) and funding."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from storage import repo, session_scope

D = Decimal


def test_order_record_update_and_open_orders(engine, now):
    with session_scope(engine) as s:
        repo.record_order(session=s, order_link_id="tb-e-1", symbol="BTCUSDT", side="Buy", order_type="Market",
                          qty=D("0.002"), purpose="entry", now=now)
        repo.record_order(session=s, order_link_id="tb-c-1", symbol="ETHUSDT", side="Sell", order_type="Limit",
                          qty=D("0.5"), price=D("3000.5"), reduce_only=True, purpose="close", now=now)
    with session_scope(engine) as s:
        assert [o.order_link_id for o in repo.open_orders(session=s)] == ["tb-e-1", "tb-c-1"]
        o = repo.update_order(session=s, order_link_id="tb-e-1", order_id="abc", status="Filled",
                              avg_price=D("65432.1"), cum_exec_qty=D("0.002"), fee=D("0.0719753"),
                              now=now + timedelta(seconds=1))
        assert o is not None and o.updated_at == now + timedelta(seconds=1)
        assert repo.update_order(session=s, order_link_id="missing", status="Filled") is None
    with session_scope(engine) as s:
        o = repo.get_order_by_link_id(session=s, order_link_id="tb-e-1")
        assert (o.order_id, o.status, o.avg_price, o.cum_exec_qty, o.fee) == (
            "abc", "Filled", D("65432.1"), D("0.002"), D("0.0719753"))
        assert o.created_at == now and o.reduce_only is False and o.price is None
        assert [x.order_link_id for x in repo.open_orders(session=s)] == ["tb-c-1"]
        assert [x.order_link_id for x in repo.open_orders(session=s, symbol="BTCUSDT")] == []
        assert repo.get_order_by_link_id(session=s, order_link_id="tb-c-1").reduce_only is True


def test_late_order_reports_do_not_regress(engine, now):
    with session_scope(engine) as s:
        repo.record_order(session=s, order_link_id="x", symbol="BTCUSDT", side="Sell", order_type="Market",
                          qty=D("1"), purpose="close", now=now)
        repo.update_order(session=s, order_link_id="x", status="Filled", cum_exec_qty=D("1"))
        o = repo.update_order(session=s, order_link_id="x", status="New", cum_exec_qty=D("0.4"))
        assert (o.status, o.cum_exec_qty) == ("Filled", D("1"))
        o = repo.update_order(session=s, order_link_id="x", status="Cancelled")
        assert o.status == "Cancelled"  # terminal -> terminal is allowed (exchange knows best)


def test_order_link_id_unique(engine, now):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as s:
            for _ in range(2):
                repo.record_order(session=s, order_link_id="dup", symbol="BTCUSDT", side="Buy",
                                  order_type="Market", qty=D("1"), purpose="entry")


def test_order_values_validated(engine):
    with session_scope(engine) as s:
        with pytest.raises(ValueError, match="purpose"):
            repo.record_order(session=s, order_link_id="a", symbol="X", side="Buy", order_type="Market",
                              qty=D("1"), purpose="hedge")
        with pytest.raises(ValueError, match="side"):
            repo.record_order(session=s, order_link_id="a", symbol="X", side="BUY", order_type="Market",
                              qty=D("1"), purpose="entry")


def _open(s, now, symbol="BTCUSDT", **kw):
    return repo.open_trade(session=s, symbol=symbol, side=kw.pop("side", "Buy"), qty=kw.pop("qty", D("0.01")),
                           entry_price=kw.pop("entry_price", D("65000")), entry_time=now,
                           entry_fee=kw.pop("entry_fee", D("0.3575")), **kw)


def test_trade_lifecycle_and_stop_history(engine, now):
    with session_scope(engine) as s:
        t = _open(s, now, sl=D("64000"), tp=D("68000"), trailing_distance=D("500"), entry_order_link_id="tb-e-1")
        tid = t.id
        assert t.best_price == D("65000") and t.status == "open"
    with session_scope(engine) as s:
        repo.update_trade(session=s, trade_id=tid, best_price=D("65600"), trailing_active_price=D("65500"))
        repo.update_trade_stop(session=s, trade_id=tid, sl=D("65000"), reason="breakeven",
                               now=now + timedelta(minutes=5), breakeven=True)
    with session_scope(engine) as s:
        repo.update_trade_stop(session=s, trade_id=tid, sl=D("65100.5"), reason="trailing",
                               now=now + timedelta(minutes=9))
    with session_scope(engine) as s:
        t = repo.get_open_trade(session=s, symbol="BTCUSDT")
        assert t.id == tid and t.sl == D("65100.5") and t.breakeven_done is True
        assert (t.best_price, t.trailing_active_price, t.tp) == (D("65600"), D("65500"), D("68000"))
        assert t.stop_history == [
            {"time": now, "sl": D("64000"), "reason": "initial"},
            {"time": now + timedelta(minutes=5), "sl": D("65000"), "reason": "breakeven"},
            {"time": now + timedelta(minutes=9), "sl": D("65100.5"), "reason": "trailing"},
        ]
        assert [x.id for x in repo.open_trades(session=s)] == [tid]


def test_one_open_trade_per_symbol(engine, now):
    with session_scope(engine) as s:
        _open(s, now)
        with pytest.raises(ValueError, match="already has an open trade"):
            _open(s, now)
        _open(s, now, symbol="ETHUSDT", side="Sell")
        assert len(repo.open_trades(session=s)) == 2


def test_close_trade_idempotent(engine, now):
    with session_scope(engine) as s:
        tid = _open(s, now, sl=D("64000")).id
    close = dict(trade_id=tid, exit_price=D("66000"), exit_time=now + timedelta(hours=1), pnl=D("9.2795"),
                 reason="take_profit", exit_order_id="ex-1", exit_fee=D("0.363"))
    with session_scope(engine) as s:
        t = repo.close_trade(session=s, **close)
        assert t is not None and t.status == "closed" and t.exit_qty == D("0.01")
    with session_scope(engine) as s:
        assert repo.close_trade(session=s, **close) is None
        assert repo.close_trade(session=s, **{**close, "pnl": D("999")}) is None
    with session_scope(engine) as s:
        t = repo.get_trade(session=s, id=tid)
        assert (t.pnl, t.exit_price, t.exit_fee, t.reason, t.exit_order_id) == (
            D("9.2795"), D("66000"), D("0.363"), "take_profit", "ex-1")
        assert t.exit_time == now + timedelta(hours=1)
        assert repo.get_open_trade(session=s, symbol="BTCUSDT") is None
        with pytest.raises(ValueError, match="already closed"):
            repo.close_trade(session=s, **{**close, "exit_order_id": "ex-2"})
        with pytest.raises(ValueError, match="reason"):
            repo.close_trade(session=s, **{**close, "reason": "tp"})
    with session_scope(engine) as s:  # symbol is free again, and a second closed trade is allowed
        t2 = _open(s, now + timedelta(hours=2), side="Sell")
        repo.close_trade(session=s, trade_id=t2.id, exit_price=D("1"), exit_time=now + timedelta(hours=3),
                         pnl=D("-1"), reason="stop_loss", exit_order_id="ex-3", exit_qty=D("0.004"))
        assert repo.get_trade(session=s, id=t2.id).exit_qty == D("0.004")


def test_known_exit_order_id_never_closes_another_trade(engine, now):
    with session_scope(engine) as s:
        a, b = _open(s, now).id, _open(s, now, symbol="ETHUSDT").id
    with session_scope(engine) as s:
        repo.close_trade(session=s, trade_id=a, exit_price=D("1"), exit_time=now, pnl=D("1"),
                         reason="manual", exit_order_id="same")
    with session_scope(engine) as s:  # the closed-pnl row is already journalled: no second trade closed
        assert repo.close_trade(session=s, trade_id=b, exit_price=D("1"), exit_time=now, pnl=D("1"),
                                reason="manual", exit_order_id="same") is None
        assert repo.get_trade(session=s, id=b).status == "open"


def test_closed_trades_filters_and_order(engine, now):
    with session_scope(engine) as s:
        for i, sym in enumerate(["BTCUSDT", "ETHUSDT", "BTCUSDT"]):
            t = _open(s, now, symbol=sym)
            repo.close_trade(session=s, trade_id=t.id, exit_price=D("1"), exit_time=now + timedelta(hours=i),
                             pnl=D(i), reason="unknown", exit_order_id=f"x{i}")
    with session_scope(engine) as s:
        ids = lambda ts: [t.exit_order_id for t in ts]  # noqa: E731
        assert ids(repo.closed_trades(session=s)) == ["x2", "x1", "x0"]
        assert ids(repo.closed_trades(session=s, newest_first=False)) == ["x0", "x1", "x2"]
        assert ids(repo.closed_trades(session=s, limit=2)) == ["x2", "x1"]
        assert ids(repo.closed_trades(session=s, symbol="BTCUSDT")) == ["x2", "x0"]
        assert ids(repo.closed_trades(session=s, since=now + timedelta(hours=1))) == ["x2", "x1"]
        assert ids(repo.closed_trades(session=s, until=now + timedelta(hours=1))) == ["x0"]


def test_record_funding_idempotent(engine, now):
    with session_scope(engine) as s:
        assert repo.record_funding(session=s, exec_id="f1", symbol="BTCUSDT", fee=D("0.0123"), time=now)
        assert not repo.record_funding(session=s, exec_id="f1", symbol="BTCUSDT", fee=D("9"), time=now)
    with session_scope(engine) as s:
        assert not repo.record_funding(session=s, exec_id="f1", symbol="BTCUSDT", fee=D("9"), time=now)
        assert repo.record_funding(session=s, exec_id="f2", symbol="BTCUSDT", fee=D("-0.5"), time=now)
        rows = repo.funding_records(session=s)
    assert [(r.exec_id, r.fee) for r in rows] == [("f1", D("0.0123")), ("f2", D("-0.5"))]
