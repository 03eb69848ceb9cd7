# User-channel parsing, table-tested on our recorded frames: order and trade events (taker,
# maker, cross-asset, two of our makers), exact micro-units, fees in positions.py's units,
# status normalisation, timestamps by magnitude and ISO, lenient refusals, dedupe.
from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events.inputs import ConnectionOpened, OrderUpdated, TradeUpdated
from polyarb.venues.polymarket.user_parse import (
    Deduper,
    UserIdentity,
    _Bad,
    fee_micros,
    parse_rows,
    parse_user_frame,
    to_ns,
)
from tests.venues.polymarket.recorded.harness import (
    ADDRESS,
    API_KEY,
    TOKEN_N,
    TOKEN_Y,
    payload,
)

ME = UserIdentity(API_KEY, [ADDRESS])
A1, A5, C1, C2 = ("0x" + format(n, "064x") for n in (0xA1, 0xA5, 0xC1, 0xC2))
TS = 7


def _events(data: str | bytes) -> list[Any]:
    return list(parse_user_frame(data, TS, ME).events)


def _one(name: str) -> Any:
    parsed = parse_user_frame(payload(name).decode(), TS, ME)
    assert parsed.issues == []
    [event] = parsed.events
    return event


def test_parse_order_placement_gives_exact_update() -> None:
    assert _one("user_order_placement.json") == OrderUpdated(
        ts_recv_ns=TS, venue_order_id=A1, update_type="PLACEMENT", token_id=TOKEN_Y, side="BUY",
        price_micros=450_000, original_size_micros=20_000_000, size_matched_micros=0,
        status="LIVE", ts_venue_ns=1_776_000_001_234 * 10**6)


def test_parse_order_partial_fill_seconds_timestamp() -> None:
    ev = _one("user_order_partial.json")
    assert (ev.update_type, ev.status, ev.size_matched_micros) == ("UPDATE", "LIVE", 8_000_000)
    assert ev.ts_venue_ns == 1_776_000_015 * 10**9


def test_parse_order_killed_fok_keeps_status_and_empty_matched_is_zero() -> None:
    ev = _one("user_order_fok_killed.json")
    assert ev.update_type == "CANCELLATION" and ev.size_matched_micros == 0
    assert ev.status.startswith("CANCELED_order couldn't be fully filled")
    assert ev.token_id == TOKEN_N and ev.ts_venue_ns == 1_776_000_020 * 10**9


def test_parse_trade_taker_fill_with_buy_fee_in_shares() -> None:
    assert _one("user_trade_taker.json") == TradeUpdated(
        ts_recv_ns=TS, trade_id="0b7e61c2-93f4-4a1e-8d7b-3e0f5a9c2d41", venue_order_id=C1,
        token_id=TOKEN_Y, side="BUY", price_micros=520_000, size_micros=10_000_000,
        status="MATCHED", trader_side="TAKER", fee_micros=192_000,
        ts_venue_ns=1_776_000_010_500 * 10**6)


def test_parse_trade_two_own_makers_split_with_suffixed_ids() -> None:
    parsed = parse_user_frame(payload("user_trade_maker_two.json"), TS, ME)
    assert parsed.issues == []
    first, second = list[Any](parsed.events)
    tid = "2f9d3c1a-7a7e-4b0b-9a55-1c2d3e4f5a6b"
    assert (first.trade_id, first.venue_order_id, first.side, first.size_micros) == (
        f"{tid}#{A1}", A1, "BUY", 4_000_000)
    # matched by maker_address (lower case); no side given, other token: same side as taker
    assert (second.trade_id, second.token_id, second.side, second.price_micros) == (
        f"{tid}#{A5}", TOKEN_N, "SELL", 550_000)
    assert all(e.trader_side == "MAKER" and e.status == "MINED" and e.fee_micros == 0
               for e in (first, second))
    assert first.transaction_hash == "0x" + "ef" * 32


def test_parse_trade_maker_missing_side_same_token_is_opposite_of_taker() -> None:
    obj = orjson.loads(payload("user_trade_maker_two.json"))
    obj["maker_orders"] = [{**obj["maker_orders"][1], "side": None}]
    [ev] = _events(orjson.dumps(obj))
    assert (ev.trade_id, ev.side) == ("2f9d3c1a-7a7e-4b0b-9a55-1c2d3e4f5a6b", "BUY")


def test_parse_trade_maker_without_our_entry_is_an_issue() -> None:
    obj = orjson.loads(payload("user_trade_maker_two.json"))
    obj["maker_orders"] = obj["maker_orders"][:1]
    parsed = parse_user_frame(orjson.dumps(obj), TS, ME)
    assert parsed.events == [] and "without a maker entry of ours" in parsed.issues[0]


def test_parse_trade_without_trader_side_infers_from_maker_entries() -> None:
    obj = orjson.loads(payload("user_trade_taker.json"))
    del obj["trader_side"]
    [ev] = _events(orjson.dumps(obj))
    assert ev.trader_side == "TAKER"
    obj["maker_orders"][0]["owner"] = API_KEY
    [ev] = _events(orjson.dumps(obj))
    assert ev.trader_side == "MAKER" and ev.venue_order_id == obj["maker_orders"][0]["order_id"]


@pytest.mark.parametrize(("word", "status"), [
    ("MATCHED", "MATCHED"), ("mined", "MINED"), ("TRADE_STATUS_CONFIRMED", "CONFIRMED"),
    ("RETRYING", "RETRYING"), ("FAILED", "FAILED"), ("MATCHED_NOT_BROADCASTED", "MATCHED"),
])
def test_parse_trade_status_normalised(word: str, status: str) -> None:
    obj = {**orjson.loads(payload("user_trade_taker.json")), "status": word}
    [ev] = _events(orjson.dumps(obj))
    assert ev.status == status


def test_parse_batch_frame_keeps_good_elements_and_reports_the_rest() -> None:
    parsed = parse_user_frame(payload("user_batch.json"), TS, ME)
    [ev] = parsed.events
    assert isinstance(ev, OrderUpdated) and ev.side == "SELL" and ev.ts_venue_ns is not None
    unknown, bad_size, not_object = parsed.issues
    assert unknown == "[1] unknown event_type 'last_trade_price'"
    assert bad_size.startswith("[2] trade: size") and not_object == "[3] not an object: str"


@pytest.mark.parametrize(("data", "issues"), [
    ("PONG", 0), (b"PONG", 0), (" PONG\n", 0), ("INVALID OPERATION", 1), ("", 1),
    ("{", 1), ("[]", 0), ("null", 1), ("42", 1), (b"\xff\xfe", 1),
    ('{"event_type":"order","id":"x"}', 1),
    ('{"event_type":"trade","id":"t","status":"MATCHED","asset_id":"1","side":"BUY",'
     '"price":"0.5","size":"1","fee_rate_bps":"10000","taker_order_id":"0x1"}', 1),
])
def test_parse_user_frame_odd_input_never_raises(data: str | bytes, issues: int) -> None:
    parsed = parse_user_frame(data, TS, ME)
    assert parsed.events == [] and len(parsed.issues) == issues


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.sampled_from(["order", "trade", "BUY", "SELL", "0.5", "MAKER", "TAKER", API_KEY]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["event_type", "id", "type", "status", "asset_id", "side", "price",
                         "size", "original_size", "size_matched", "maker_orders", "owner",
                         "trader_side", "taker_order_id", "matched_amount", "order_id",
                         "fee_rate_bps", "timestamp", "maker_address"]), inner, max_size=10),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parse_user_frame_any_json_never_raises(obj: Any) -> None:
    parsed = parse_user_frame(json.dumps(obj), TS, ME)  # stdlib: big ints too
    assert all(isinstance(e, OrderUpdated | TradeUpdated) for e in parsed.events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_parse_user_frame_any_bytes_never_raises(data: bytes) -> None:
    parse_user_frame(data, TS, ME)


@pytest.mark.parametrize(("value", "ns"), [
    ("1776000000", 1_776_000_000 * 10**9),
    ("1776000000123", 1_776_000_000_123 * 10**6),
    ("1776000000123456", 1_776_000_000_123_456 * 10**3),
    ("1776000000123456789", 1_776_000_000_123_456_789),
    (1_776_000_000, 1_776_000_000 * 10**9),
    ("2026-04-12T13:20:11Z", 1_776_000_011 * 10**9),
    ("2026-04-12T15:20:11.5+02:00", 1_776_000_011_500 * 10**6),
    ("2026-04-12T13:20:11", 1_776_000_011 * 10**9),
    ("", None), ("0", None), (0, None), (-5, None), ("abc", None), (True, None),
    ("2026-13-40T00:00:00Z", None), (1.5e9, None), (None, None),
])
def test_to_ns_units_by_magnitude_and_iso(value: Any, ns: int | None) -> None:
    assert to_ns(value) == ns


@pytest.mark.parametrize(("side", "size", "price", "bps", "fee"), [
    ("BUY", 10_000_000, 520_000, "400", 192_000),      # 0.09984 collateral = 0.192 shares
    ("SELL", 8_000_000, 600_000, "400", 76_800),       # 8 * 0.04 * 0.24 collateral
    ("SELL", 1_000_000, 500_000, "1", 30),             # 0.000025 rounded UP to 5 decimals
    ("BUY", 10_000_000, 520_000, "", 0),
    ("BUY", 10_000_000, 520_000, "0", 0),
    ("BUY", 10_000_000, 520_000, None, 0),
    ("SELL", 10_000_000, 520_000, 0, 0),
])
def test_fee_micros_in_positions_units(side: str, size: int, price: int, bps: Any,
                                       fee: int) -> None:
    assert fee_micros(side, size, price, bps) == fee  # type: ignore[arg-type]


@pytest.mark.parametrize("bps", ["10000", "abc", "-4", "4.5", 12.5])
def test_fee_micros_bad_rate_raises_internal_refusal(bps: Any) -> None:
    with pytest.raises(_Bad):
        fee_micros("BUY", 1_000_000, 500_000, bps)


def test_parse_rows_rest_listing_rows() -> None:
    rows = orjson.loads(payload("open_orders_page2.json"))["data"]
    parsed = parse_rows(rows, "order", TS, ME)
    [ev] = list[Any](parsed.events)
    assert ev.update_type == "UPDATE" and ev.size_matched_micros == 0
    assert parsed.issues == ["row 1: order: side 'HOLD'"]
    assert parse_rows([1], "order", TS, ME).issues == ["row 0: not an object: int"]


def test_parse_rows_cancelled_rest_row_is_a_cancellation() -> None:
    row = {**orjson.loads(payload("open_orders_page2.json"))["data"][0], "status": "CANCELED"}
    [ev] = list[Any](parse_rows([row], "order", TS, ME).events)
    assert ev.update_type == "CANCELLATION"


def test_user_identity_matches_key_or_address_and_hides_key() -> None:
    assert ME.is_ours(API_KEY, None) and ME.is_ours(None, ADDRESS.lower())
    assert not ME.is_ours("other", "0x" + "0" * 40) and not ME.is_ours("", None)
    assert API_KEY not in repr(ME)


def test_deduper_drops_repeats_keeps_partial_fills_and_other_events() -> None:
    dedupe = Deduper()
    placed = _one("user_order_placement.json")
    partial = _one("user_order_partial.json")
    trade = _one("user_trade_taker.json")
    mined = TradeUpdated(**{**{f: getattr(trade, f) for f in trade.__struct_fields__},
                            "status": "MINED"})
    opened = ConnectionOpened(ts_recv_ns=1, conn="user-0", url="u")
    got = dedupe.fresh([placed, partial, trade, placed, trade, mined, opened, opened])
    assert got == [placed, partial, trade, mined, opened, opened]
    assert dedupe.dropped == 2


def test_deduper_bounded_memory_forgets_oldest() -> None:
    dedupe = Deduper(capacity=2)
    evs = [_one("user_order_placement.json"), _one("user_order_partial.json"),
           _one("user_trade_taker.json")]
    assert dedupe.fresh(evs) == evs
    assert dedupe.fresh(evs[:1]) == evs[:1]  # forgotten: the core dedupes again
    assert dedupe.fresh(evs[2:]) == []
