# Shared pieces of the fuzz tests: the hypothesis settings every fuzz test uses, hostile leaf
# values, and near-valid market-channel and user-channel frames.
#
# Rules:
# 1. Reproducible and bounded: every fuzz test runs with `fuzz(n)` (derandomize=True, no example
#    database, deadline=None, modest n), so CI sees the same examples on every run and the whole
#    tests/fuzz directory stays well under a minute on a busy machine.
# 2. Near-valid beats random: random bytes rarely pass the first check of a parser, so frames
#    start from a valid event and are then damaged (a key deleted, a value replaced by a wrong
#    type, a huge or negative number, a NaN-like or odd-unicode string, deep nesting, a giant
#    array, an unknown key), or are damaged as text (truncated, padded, split by a newline).
# 3. Only our own payloads: nothing here is copied from the venue's fixtures.
from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from polyarb.events.inputs import FeeSchedule, MarketInfo, MarketsLoaded, TokenInfo

TOKENS = ["11", "12", "21", "22"]
"""Token ids of the fuzz markets (YES/NO of 0xm1 and 0xm2)."""
MARKETS = {"0xm1": ("11", "12"), "0xm2": ("21", "22")}
EVENT_TYPES = [
    "book", "price_change", "tick_size_change", "last_trade_price", "best_bid_ask",
    "new_market", "market_resolved",
]  # fmt: skip


def fuzz(max_examples: int) -> settings:
    """The settings of every fuzz test (rule 1)."""
    return settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck), print_blob=True,
    )


def markets_loaded(ts_recv_ns: int) -> MarketsLoaded:
    """The fuzz markets (0xm1, 0xm2: binary, tick 0.01) as the engine's input."""
    infos = tuple(
        MarketInfo(condition_id=cid, question=cid,
                   tokens=(TokenInfo(token_id=yes, outcome="Yes"),
                           TokenInfo(token_id=no, outcome="No")),
                   tick_size_micros=10_000, min_order_size_micros=5_000_000, fees=FeeSchedule())
        for cid, (yes, no) in MARKETS.items())
    return MarketsLoaded(ts_recv_ns=ts_recv_ns, source="fuzz", markets=infos)


def opening_frames() -> list[str]:
    """Live, uncrossed books for every token, so damaged updates have something to damage."""
    out = []
    for yes, no in MARKETS.values():
        for token, bid, ask in ((yes, 400_000, 450_000), (no, 500_000, 560_000)):
            out.append(orjson.dumps({
                "event_type": "book", "asset_id": token, "market": "0xm1",
                "bids": [{"price": price_text(bid), "size": "100"}],
                "asks": [{"price": price_text(ask), "size": "100"}],
                "timestamp": "1766793600000"}).decode())
    return out


# --- hostile leaves ---------------------------------------------------------------------------

NUMBERISH = st.sampled_from([
    "0.5", "0", "1", "", "-1", "-0.5", "+0.5", "1e-3", "1e400", "1E+99", "0.1234567",
    "1" * 39, "1" * 41, "9" * 19, "NaN", "nan", "-nan", "Infinity", "-Infinity", "inf", "sNaN",
    " 0.5", "0.5 ", "0x1A", "1_000", "\u0663", "\uff11", "0.5\u200b", "\u00bd", "1e", "e5", ".",
    "..", "0..5", "0" * 30 + ".5", "5.", ".5", "0.000001", "0.0000001", "1e-7", "-0", "00",
])  # fmt: skip
HUGE_INTS = st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63), 10**30, -(10**30), -1, 0, 1])
ODD_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["\u0000", "\u202e", "\U0001d7d9", "\u00e4", "\ufeff", "\x7f", "A" * 300,
                     "\"", "\\", "\n", "PONG", "{}", "[]"]),
)
LEAF = st.one_of(
    st.none(), st.booleans(), HUGE_INTS, st.integers(),
    st.floats(allow_nan=False, allow_infinity=False), NUMBERISH, ODD_TEXT,
    st.sampled_from([*TOKENS, "BUY", "SELL", "buy", *EVENT_TYPES]),
)
JSON = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=12,
)
"""Any JSON-shaped value (ints beyond 64 bits included: see `encodable`)."""


def encodable(value: Any) -> bytes | None:
    """orjson's encoding of `value`, or None when orjson refuses it (ints beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return None


# --- valid market-channel events --------------------------------------------------------------

def price_text(micros: int) -> str:
    """Micros as the venue's decimal text: 520_000 -> "0.52"."""
    whole, frac = divmod(micros, 1_000_000)
    text = f"{frac:06d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


PRICE = st.integers(1, 99).map(lambda c: price_text(c * 10_000))
SIZE = st.integers(0, 10_000).map(lambda n: price_text(n * 100_000))
SIDE = st.sampled_from(["BUY", "SELL"])
TOKEN = st.sampled_from(TOKENS)
TS = st.integers(1_700_000_000_000, 1_800_000_000_000).map(str)
LEVEL = st.fixed_dictionaries({"price": PRICE, "size": SIZE})
ENTRY = st.fixed_dictionaries(
    {"asset_id": TOKEN, "price": PRICE, "size": SIZE, "side": SIDE},
    optional={"best_bid": PRICE, "best_ask": PRICE, "hash": ODD_TEXT},
)

VALID_EVENT = st.one_of(
    st.fixed_dictionaries({
        "event_type": st.just("book"), "asset_id": TOKEN, "market": st.just("0xm1"),
        "bids": st.lists(LEVEL, max_size=5), "asks": st.lists(LEVEL, max_size=5),
        "timestamp": TS, "hash": st.just("ab" * 20),
    }, optional={"tick_size": st.just("0.01")}),
    st.fixed_dictionaries({
        "event_type": st.just("price_change"), "market": st.just("0xm1"),
        "price_changes": st.lists(ENTRY, min_size=1, max_size=4), "timestamp": TS,
    }),
    st.fixed_dictionaries({
        "event_type": st.just("price_change"), "market": st.just("0xm1"), "asset_id": TOKEN,
        "changes": st.lists(st.fixed_dictionaries({"price": PRICE, "size": SIZE, "side": SIDE}),
                            min_size=1, max_size=3),
    }),
    st.fixed_dictionaries({
        "event_type": st.just("tick_size_change"), "asset_id": TOKEN, "market": st.just("0xm1"),
        "old_tick_size": st.just("0.01"), "new_tick_size": st.sampled_from(["0.001", "0.01"]),
    }),
    st.fixed_dictionaries({
        "event_type": st.just("last_trade_price"), "asset_id": TOKEN, "price": PRICE,
        "size": SIZE, "side": SIDE, "fee_rate_bps": st.sampled_from(["0", "200", 0]),
        "timestamp": TS,
    }),
    st.fixed_dictionaries({
        "event_type": st.just("best_bid_ask"), "asset_id": TOKEN, "best_bid": PRICE,
        "best_ask": PRICE, "timestamp": TS,
    }),
    st.fixed_dictionaries({
        "event_type": st.just("new_market"), "market": st.just("0xm3"), "id": st.just("7"),
        "question": ODD_TEXT, "assets_ids": st.just(["31", "32"]),
        "outcomes": st.just(["Yes", "No"]), "order_price_min_tick_size": st.just("0.01"),
    }),
    st.fixed_dictionaries({
        "event_type": st.just("market_resolved"), "market": st.sampled_from(list(MARKETS)),
        "assets_ids": st.just(["11", "12"]), "winning_asset_id": TOKEN,
        "winning_outcome": st.just("Yes"),
    }),
)

# --- damage -----------------------------------------------------------------------------------

KEYS = [
    "event_type", "asset_id", "market", "bids", "asks", "buys", "sells", "price_changes",
    "changes", "price", "size", "side", "best_bid", "best_ask", "timestamp", "hash",
    "tick_size", "new_tick_size", "old_tick_size", "fee_rate_bps", "assets_ids", "outcomes",
    "winning_asset_id", "id", "order_price_min_tick_size", "unknown_field",
]  # fmt: skip
BAD_VALUE = st.one_of(
    LEAF, JSON,
    st.lists(st.fixed_dictionaries({}, optional={
        "price": st.one_of(PRICE, NUMBERISH, LEAF), "size": st.one_of(SIZE, NUMBERISH, LEAF),
        "side": st.one_of(SIDE, LEAF), "asset_id": st.one_of(TOKEN, LEAF),
        "best_bid": NUMBERISH, "best_ask": NUMBERISH,
    }), max_size=4),
    st.integers(1_000, 3_000).map(lambda n: [{"price": "0.5", "size": "1"}] * n),  # giant array
    st.integers(1, 40).map(lambda d: _nest(["0.5"], d)),
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def damaged_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with 0-3 keys replaced, deleted or added (rule 2)."""
    event = dict(draw(VALID_EVENT))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*event, *KEYS]))
        if draw(st.booleans()) and key in event:
            del event[key]
        else:
            event[key] = draw(BAD_VALUE)
    for field in ("bids", "asks", "price_changes", "changes"):  # damage one level or entry
        inner = event.get(field)
        if type(inner) is list and inner and type(inner[0]) is dict and draw(st.booleans()):
            entry = dict(inner[0])
            entry[draw(st.sampled_from(["price", "size", "side", "asset_id", "best_bid"]))] = (
                draw(st.one_of(NUMBERISH, LEAF)))
            event[field] = [entry, *inner[1:]]
    return event


EVENT = st.one_of(VALID_EVENT, damaged_event(), damaged_event())
FRAME_VALUE = st.one_of(EVENT, EVENT, st.lists(st.one_of(EVENT, EVENT, LEAF), max_size=4), JSON)


@st.composite
def text_frame(draw: st.DrawFn) -> str:
    """A market-channel text frame: near-valid JSON, damaged as text, deep, or junk (rule 2)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.one_of(ODD_TEXT, st.text(max_size=60),
                              st.sampled_from(["PONG", " PONG\n", "INVALID OPERATION", ""])))
    if kind == 1:  # nested far deeper than any parser allows, or just at the limits
        depth = draw(st.sampled_from([200, 511, 512, 513, 1023, 1024, 1025, 5000]))
        inner = draw(st.sampled_from(["", "{}", '"0.5"']))
        return ('{"event_type":"book","asset_id":"11","bids":' + "[" * depth + inner
                + "]" * depth + ',"asks":[]}')
    value = draw(FRAME_VALUE)
    data = encodable(value)
    if data is None:
        return "[" + str(value)[:200]  # not JSON either way
    text = data.decode()
    if kind == 2 and text:  # truncated
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind == 3:  # padded or split: still JSON, but not storable verbatim on one line
        pad = draw(st.sampled_from([" ", "\n", "\r\n", "\t"]))
        return draw(st.sampled_from([pad + text, text + pad, text.replace(",", "," + pad, 1)]))
    if kind == 4:  # two values back to back, or a stray byte
        return text + draw(st.sampled_from([text, "}", "]", "x", "\u0000"]))
    return text


# --- user channel -----------------------------------------------------------------------------

VALID_USER_EVENT = st.one_of(
    st.fixed_dictionaries({
        "event_type": st.just("order"), "id": st.just("0xo1"), "asset_id": TOKEN,
        "side": SIDE, "price": PRICE, "original_size": SIZE, "size_matched": SIZE,
        "status": st.just("LIVE"), "type": st.sampled_from(["PLACEMENT", "UPDATE"]),
        "timestamp": TS, "owner": st.just("key-1"),
    }),
    st.fixed_dictionaries({
        "event_type": st.just("trade"), "id": st.just("t1"), "asset_id": TOKEN, "side": SIDE,
        "price": PRICE, "size": SIZE, "status": st.sampled_from(["MATCHED", "CONFIRMED"]),
        "taker_order_id": st.just("0xo1"), "trader_side": st.sampled_from(["TAKER", "MAKER"]),
        "fee_rate_bps": st.just("0"), "match_time": TS,
        "maker_orders": st.lists(st.fixed_dictionaries({
            "order_id": st.just("0xo2"), "owner": st.sampled_from(["key-1", "other"]),
            "asset_id": TOKEN, "price": PRICE, "matched_amount": SIZE, "side": SIDE,
            "maker_address": st.just("0xabc"), "fee_rate_bps": st.just("0"),
        }), max_size=3),
    }),
)
USER_KEYS = [
    "event_type", "id", "asset_id", "side", "price", "original_size", "size_matched", "status",
    "type", "timestamp", "created_at", "size", "taker_order_id", "trader_side", "fee_rate_bps",
    "maker_orders", "match_time", "last_update", "transaction_hash",
]  # fmt: skip
ISO_TIMES = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "2025-01-01T00:00:00Z",
    "2025-13-01T00:00:00", "T", "2025-01-01T25:00:00", "1" * 24, "0",
])


@st.composite
def damaged_user_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid user-channel event with 0-3 keys replaced or deleted."""
    event = dict(draw(VALID_USER_EVENT))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*event, *USER_KEYS]))
        if draw(st.booleans()) and key in event:
            del event[key]
        else:
            event[key] = draw(st.one_of(BAD_VALUE, ISO_TIMES))
    makers = event.get("maker_orders")
    if type(makers) is list and makers and type(makers[0]) is dict and draw(st.booleans()):
        entry = dict(makers[0])
        entry[draw(st.sampled_from(["price", "matched_amount", "side", "owner", "fee_rate_bps",
                                    "order_id", "asset_id"]))] = draw(LEAF)
        event["maker_orders"] = [entry, *makers[1:]]
    return event
