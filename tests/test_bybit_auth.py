"""Known-answer tests for Bybit v5 signing (vectors from shared/reference/bybit-v5.md §1)."""

from decimal import Decimal

from tradebot.bybit.auth import encode_body, encode_query, sign, verify, ws_auth_signature

SECRET, KEY, TS, RECV = "test-secret", "test-key", "1700000000000", "5000"


def test_get_vector():
    sig = sign(SECRET, TS, KEY, RECV, "category=linear&symbol=BTCUSDT")
    assert sig == "9a7c8cfd6ba1a7c498aa4dd5a7f9cfbba01fcb6eebae734ffe0d775870a1a3fb"


def test_post_vector():
    body = '{"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.001"}'
    assert sign(SECRET, TS, KEY, RECV, body) == "a38963abf4bc889dc46f952676e869dfdb87fd48a8650b041e1a2967d7d02352"


def test_ws_vector():
    assert ws_auth_signature(SECRET, 1700000001000) == (
        "e7062a96990cc1676f387a02bdc7e57a49e7965357a1faf97594b308ad957e39")


def test_verify_accepts_own_and_rejects_tampered():
    sig = sign(SECRET, TS, KEY, RECV, "a=1")
    assert verify(SECRET, TS, KEY, RECV, "a=1", sig)
    assert not verify(SECRET, TS, KEY, RECV, "a=2", sig)


def test_query_sorted_drops_none_and_formats_bools():
    assert encode_query({"symbol": "BTCUSDT", "category": "linear", "cursor": None, "flag": True}) == (
        "category=linear&flag=true&symbol=BTCUSDT")


def test_body_compact_and_decimal_as_string():
    assert encode_body({"qty": Decimal("0.010"), "reduceOnly": True, "x": None}) == '{"qty":"0.010","reduceOnly":true}'
