from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.wire import parse_frame, parse_lenient
from polyarb.core.wire_fast import parse_fast
from polyarb.core.wire_types import (
    BookSnapshot,
    BookUpdateLost,
    Control,
    LastTradePrice,
    ParseResult,
    PriceChange,
)
from tests.core.golden_ws import golden_files, run_file

TOKEN_A = "4270919463220185377013283616512880054612378540155226609853621906521187645120"
TOKEN_B = "9056217340183664902285419237749156025338471906637210248809136557214930881763"
MARKET = "0x5a1c0b7e9d2f43a18c6e05b7d94f2a3c81e6b0d47f5a29c3e18d6b40a7f9c2e51"


def _book(token: str = TOKEN_A, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "book",
        "asset_id": token,
        "market": MARKET,
        "bids": [{"price": "0.47", "size": "10"}, {"price": "0.48", "size": "5.5"}],
        "asks": [{"price": "0.53", "size": "7"}, {"price": "0.52", "size": "100"}],
        "timestamp": "1766790000000",
    }
    event.update(extra)
    return event


def _parse(value: Any) -> ParseResult:
    return parse_frame(orjson.dumps(value), None)


# --- golden payloads ---------------------------------------------------------------------


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: Path(p).stem)
def test_golden_ws_payload_matches_expected_parse_and_books(path: Path) -> None:
    # Arrange
    data = json.loads(path.read_text())

    # Act
    results, stats = run_file(data)

    # Assert
    for i, (step, result) in enumerate(zip(data["steps"], results, strict=True)):
        assert result == step["expect"], f"{path.name} step {i}: {step.get('note', '')}"
    assert stats == data["final_counters"]


def test_golden_ws_files_cover_every_event_type() -> None:
    text = "".join(path.read_text() for path in golden_files())

    for name in (
        "BookSnapshot", "PriceChange", "TickSizeChange", "LastTradePrice", "BestBidAsk",
        "NewMarket", "MarketResolved", "Control", "BookUpdateLost",
    ):  # fmt: skip
        assert f'"type": "{name}"' in text, name


# --- frames and elements -----------------------------------------------------------------


def test_parse_frame_single_book_levels_in_venue_order() -> None:
    result = _parse(_book())

    assert result.rejects == [] and result.unknown == 0
    (msg,) = result.messages
    assert isinstance(msg, BookSnapshot)
    assert msg.bids == ((470_000, 10_000_000), (480_000, 5_500_000))
    assert msg.asks == ((530_000, 7_000_000), (520_000, 100_000_000))
    assert msg.ts_venue_ns == 1_766_790_000_000_000_000


def test_parse_frame_bad_element_in_array_keeps_the_others() -> None:
    bad = _book(TOKEN_B, bids=[{"price": "0.5", "size": "abc"}])

    result = _parse([_book(), bad, {"event_type": "future_event"}, _book(TOKEN_B)])

    assert result.rejects == [("book: not a decimal: 'abc'", 1)]
    assert result.unknown == 1
    kinds = [type(m).__name__ for m in result.messages]
    assert kinds == ["BookSnapshot", "BookUpdateLost", "BookSnapshot"]
    lost = result.messages[1]
    assert isinstance(lost, BookUpdateLost) and lost.token_ids == (TOKEN_B,)


def test_parse_frame_unknown_event_type_counted_not_rejected() -> None:
    result = _parse({"event_type": "agg_orderbook", "asset_id": TOKEN_A})

    assert (result.messages, result.rejects, result.unknown) == ([], [], 1)


def test_parse_frame_extra_fields_ignored() -> None:
    event = _book(last_trade_price="0.5", tick_size="0.01", min_order_size="5", neg_risk=False)

    result = _parse(event)

    (msg,) = result.messages
    assert isinstance(msg, BookSnapshot) and msg.tick_size_micros == 10_000


@pytest.mark.parametrize("text", ["PONG", "INVALID OPERATION", " PONG\n"])
def test_parse_frame_control_text_is_a_message(text: str) -> None:
    result = parse_frame(None, text)

    assert result.messages == [Control(text.strip())] and result.rejects == []


def test_parse_frame_nothing_at_all_rejected() -> None:
    assert parse_frame(None, None).rejects == [("empty frame", None)]
    assert parse_frame(b"", None).rejects == [("empty frame", None)]
    assert parse_frame(msgspec.Raw(), None).rejects == [("empty frame", None)]


def test_parse_frame_accepts_raw_and_memoryview() -> None:
    raw = orjson.dumps(_book())

    expected = parse_frame(raw, None)

    assert parse_frame(msgspec.Raw(raw), None) == expected
    assert parse_frame(memoryview(raw), None) == expected


def test_parse_frame_price_change_current_format_entries() -> None:
    event = {
        "event_type": "price_change",
        "market": MARKET,
        "timestamp": "1766790000500",
        "price_changes": [
            {"asset_id": TOKEN_A, "price": "0.5", "size": "200", "side": "BUY",
             "hash": "0x1", "best_bid": "0.5", "best_ask": "1"},
            {"asset_id": TOKEN_B, "price": "0.5", "size": "0", "side": "SELL",
             "best_bid": "0", "best_ask": ""},
        ],
    }  # fmt: skip

    (msg,) = _parse(event).messages

    assert isinstance(msg, PriceChange) and not msg.legacy
    assert msg.changes == (
        (TOKEN_A, True, 500_000, 200_000_000, 500_000, 1_000_000),
        (TOKEN_B, False, 500_000, 0, 0, None),
    )


def test_parse_frame_last_trade_optional_fields_none() -> None:
    event = {"event_type": "last_trade_price", "asset_id": TOKEN_A, "price": "0.456"}

    (msg,) = _parse(event).messages

    assert msg == LastTradePrice(TOKEN_A, "", 456_000, None, None, None, None)


@pytest.mark.parametrize(
    ("ts", "ns"),
    [
        ("1766790000000", 1_766_790_000_000_000_000),  # milliseconds, the usual
        ("1766790000", 1_766_790_000_000_000_000),  # seconds (seen on some fields)
        (1766790000000, 1_766_790_000_000_000_000),  # a JSON number
        ("1766790000000000", 1_766_790_000_000_000_000),  # microseconds
        ("", None),
        (None, None),
    ],
)
def test_parse_frame_timestamp_unit_by_magnitude(ts: object, ns: int | None) -> None:
    (msg,) = _parse(_book(timestamp=ts)).messages

    assert isinstance(msg, BookSnapshot) and msg.ts_venue_ns == ns


def test_parse_frame_text_json_with_newline_parsed() -> None:
    text = json.dumps(_book(), indent=2)

    result = parse_frame(None, text)

    assert result == _parse(_book())


# --- never raises, fast path agrees with the reference ----------------------------------

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["0.5", "0", "1", "", "-1", "1e-3", "0.1234567", "BUY", "SELL", TOKEN_A]),
)  # fmt: skip
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_EVENT_TYPES = [
    "book", "price_change", "tick_size_change", "last_trade_price", "best_bid_ask",
    "new_market", "market_resolved", "mystery",
]  # fmt: skip
_KEYS = [
    "asset_id", "market", "bids", "asks", "buys", "price_changes", "changes", "price", "size",
    "side", "best_bid", "best_ask", "timestamp", "hash", "tick_size", "new_tick_size",
    "old_tick_size", "fee_rate_bps", "assets_ids", "outcomes", "winning_asset_id", "id",
]  # fmt: skip
_value = st.one_of(
    _json_leaf,
    st.lists(
        st.fixed_dictionaries(
            {}, optional={k: _json_leaf for k in ("price", "size", "side", "asset_id", "best_bid")}
        ),
        max_size=3,
    ),
)
_event = st.builds(
    lambda et, fields: {"event_type": et, **fields},
    st.sampled_from(_EVENT_TYPES),
    st.dictionaries(st.sampled_from(_KEYS), _value, max_size=8),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_parse_frame_any_bytes_never_raises(data: bytes) -> None:
    result = parse_frame(data, None)

    assert isinstance(result, ParseResult)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_parse_frame_any_text_never_raises(text: str) -> None:
    result = parse_frame(None, text)

    assert isinstance(result, ParseResult)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _event, st.lists(st.one_of(_event, _json), max_size=4)))
def test_parse_frame_any_json_never_raises_and_fast_path_agrees(value: Any) -> None:
    frame = orjson.dumps(value)

    result = parse_frame(frame, None)
    reference = parse_lenient(frame)

    assert result == reference


def _price_text(micros: int) -> str:
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


_price = st.integers(1, 999_999).map(_price_text)
_size = st.one_of(st.integers(0, 10**9).map(_price_text), st.sampled_from(["0", "100", "5.5"]))
_side = st.sampled_from(["BUY", "SELL", "buy", "sell"])
_level = st.fixed_dictionaries({"price": _price, "size": _size})
_valid_event = st.one_of(
    st.builds(
        lambda t, b, a, ts: {
            "event_type": "book", "asset_id": t, "bids": b, "asks": a, "timestamp": ts
        },
        st.sampled_from([TOKEN_A, TOKEN_B]), st.lists(_level, max_size=5),
        st.lists(_level, max_size=5), st.integers(0, 2**62).map(str),
    ),
    st.builds(
        lambda entries: {"event_type": "price_change", "market": MARKET, "price_changes": entries},
        st.lists(st.fixed_dictionaries({
            "asset_id": st.sampled_from([TOKEN_A, TOKEN_B]), "price": _price, "size": _size,
            "side": _side,
        }, optional={"best_bid": st.one_of(_price, st.just("0")),
                     "best_ask": st.one_of(_price, st.just("1"))}), max_size=4),
    ),
    st.builds(
        lambda p, s, side: {"event_type": "last_trade_price", "asset_id": TOKEN_A, "price": p,
                            "size": s, "side": side, "fee_rate_bps": "0"},
        _price, _size, _side,
    ),
    st.builds(
        lambda b, a: {
            "event_type": "best_bid_ask", "asset_id": TOKEN_B, "best_bid": b, "best_ask": a
        },
        _price, _price,
    ),
    st.builds(
        lambda t: {"event_type": "tick_size_change", "asset_id": TOKEN_A, "old_tick_size": "0.01",
                   "new_tick_size": t},
        st.sampled_from(["0.001", "0.01", "0.005", "0.0025"]),
    ),
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_valid_event, st.lists(_valid_event, max_size=4)))
def test_parse_fast_valid_frames_taken_and_equal_reference(value: Any) -> None:
    frame = orjson.dumps(value)

    fast = parse_fast(frame)
    reference = parse_lenient(frame)

    assert reference.rejects == [] and reference.unknown == 0
    assert fast == reference.messages
