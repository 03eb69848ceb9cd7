# Subscription frames, the asset-id scan and close-reason wording of the market feed.
from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from polyarb.venues.polymarket.feed_wire import (
    describe_close,
    describe_error,
    initial_frame,
    operation_frame,
    scan_asset_ids,
)

BIG = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def test_initial_frame_has_the_documented_fields_in_order() -> None:
    frame = initial_frame((BIG, "2"), custom_feature_enabled=True, initial_dump=True)
    assert frame == (f'{{"assets_ids":["{BIG}","2"],"type":"market","initial_dump":true,'
                     f'"custom_feature_enabled":true}}')


def test_initial_frame_flags_follow_arguments() -> None:
    parsed = orjson.loads(initial_frame(("1",), custom_feature_enabled=False, initial_dump=False))
    assert parsed["custom_feature_enabled"] is False and parsed["initial_dump"] is False


def test_operation_frame_keeps_ids_as_strings() -> None:
    frame = operation_frame("unsubscribe", (BIG,), custom_feature_enabled=True)
    assert orjson.loads(frame) == {"operation": "unsubscribe", "assets_ids": [BIG],
                                   "custom_feature_enabled": True}


def test_scan_asset_ids_finds_entries_of_price_change_and_book_arrays() -> None:
    frame = ('{"event_type":"price_change","market":"0x1","price_changes":['
             '{"asset_id":"11","price":"0.5"},{"asset_id": "22","price":"0.5"}]}')
    assert scan_asset_ids(frame) == ["11", "22"]
    books = orjson.dumps([{"event_type": "book", "asset_id": a} for a in ("1", "2")]).decode()
    assert scan_asset_ids(books) == ["1", "2"]


def test_scan_asset_ids_ignores_new_market_assets_ids() -> None:
    frame = '{"event_type":"new_market","assets_ids":["1","2"],"market":"0x1"}'
    assert scan_asset_ids(frame) == []


@given(st.text(max_size=200))
def test_scan_asset_ids_never_raises_on_garbage(text: str) -> None:
    assert isinstance(scan_asset_ids(text), list)


def test_describe_close_names_who_closed() -> None:
    remote = ConnectionClosedOK(Close(1001, "going away"), Close(1001, "going away"), True)
    assert describe_close(remote) == ("remote_close: going away", 1001)
    local = ConnectionClosedError(None, Close(1011, "keepalive ping timeout"), None)
    assert describe_close(local) == ("local_close: keepalive ping timeout", 1011)
    assert describe_close(ConnectionClosedError(None, None, None)) == ("connection_lost", None)


def test_describe_error_is_bounded() -> None:
    text = describe_error("connect_failed", OSError("x" * 10_000))
    assert text.startswith("connect_failed: OSError: x") and len(text) < 400
    assert describe_error("connect_failed", TimeoutError()) == "connect_failed: TimeoutError"
