from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.marketdata import MarketData
from polyarb.core.wire import parse_frame
from polyarb.events.decisions import ContinuityBroken, ContinuityRestored, FrameRejected

A = "4270919463220185377013283616512880054612378540155226609853621906521187645120"
B = "9056217340183664902285419237749156025338471906637210248809136557214930881763"
C = "3318826450771902364485512907163348109925471308861753492016685703340298117549"
TOKENS = (A, B, C)
SEC = 1_000_000_000


def _px(micros: int) -> str:
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


def _book(token: str, bids: dict[int, int], asks: dict[int, int]) -> dict[str, Any]:
    return {
        "event_type": "book",
        "asset_id": token,
        "bids": [{"price": _px(p), "size": _px(s)} for p, s in sorted(bids.items())],
        "asks": [{"price": _px(p), "size": _px(s)} for p, s in sorted(asks.items(), reverse=True)],
        "timestamp": "1766790000000",
    }


def _change(token: str, price: int, size: int, side: str, bid: int, ask: int) -> dict[str, str]:
    return {"asset_id": token, "price": _px(price), "size": _px(size), "side": side,
            "best_bid": _px(bid), "best_ask": _px(ask)}  # fmt: skip


def _pc(*entries: dict[str, str]) -> dict[str, Any]:
    return {"event_type": "price_change", "market": "0xm", "price_changes": list(entries)}


class _Feed:
    """Feeds JSON values as frames with increasing seq and ts_recv_ns; collects decisions."""

    def __init__(self, store: MarketData | None = None) -> None:
        self.store = store or MarketData()
        self.seq = 0

    def send(self, value: Any) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        self.seq += 1
        return self.store.apply_frame(
            parse_frame(orjson.dumps(value), None), self.seq * SEC, self.seq
        )


def test_marketdata_tick_size_change_drops_book_until_snapshot_with_new_epoch() -> None:
    # Arrange
    feed = _Feed()
    feed.send(_book(A, {950_000: 10}, {970_000: 5}))
    tick = {"event_type": "tick_size_change", "asset_id": A, "old_tick_size": "0.01",
            "new_tick_size": "0.001"}  # fmt: skip

    # Act
    touched, decisions = feed.send(tick)
    ignored = feed.send(_pc(_change(A, 955_000, 3, "BUY", 955_000, 970_000)))
    restored = feed.send(_book(A, {961_000: 10}, {970_000: 5}))

    # Assert
    assert touched == (A,)
    assert decisions == (
        ContinuityBroken(ts_recv_ns=2 * SEC, cause_seq=2, token_id=A, epoch=1,
                         reason="tick_size_change"),
    )  # fmt: skip
    assert ignored == ((), ())
    assert restored == ((A,), (ContinuityRestored(ts_recv_ns=4 * SEC, cause_seq=4, token_id=A,
                                                  epoch=2),))  # fmt: skip
    book = feed.store.book(A)
    assert book is not None and book.usable and book.epoch == 2
    assert (book.best_bid(), book.tick_size_micros) == (961_000, 1_000)
    assert feed.store.counters["ignored_broken"] == 1


def test_marketdata_crossing_update_breaks_and_later_updates_ignored() -> None:
    feed = _Feed()
    feed.send(_book(A, {480_000: 10}, {520_000: 10}))

    _, decisions = feed.send(_pc(_change(A, 530_000, 1, "BUY", 530_000, 520_000)))
    touched, later = feed.send(_pc(_change(A, 470_000, 1, "BUY", 530_000, 520_000)))

    assert [(d.token_id, d.reason, d.epoch) for d in decisions] == [(A, "crossed", 1)]
    assert (touched, later) == ((), ())
    book = feed.store.book(A)
    assert book is not None and not book.usable


def test_marketdata_entry_best_mismatch_breaks_only_that_token() -> None:
    feed = _Feed()
    feed.send([_book(A, {480_000: 10}, {520_000: 10}), _book(B, {400_000: 1}, {600_000: 1})])

    touched, decisions = feed.send(_pc(
        _change(A, 490_000, 1, "BUY", 490_000, 520_000),
        _change(B, 410_000, 1, "BUY", 400_000, 600_000),  # the venue says 0.40: we disagree
    ))  # fmt: skip

    assert touched == (A, B)
    assert [(d.token_id, d.reason) for d in decisions] == [(B, "price_change_best_mismatch")]
    book_a, book_b = feed.store.book(A), feed.store.book(B)
    assert book_a is not None and book_a.usable and book_a.best_bid() == 490_000
    assert book_b is not None and not book_b.usable


def test_marketdata_last_trade_recorded_not_touched() -> None:
    feed = _Feed()
    feed.send(_book(A, {480_000: 10}, {520_000: 10}))
    trade = {"event_type": "last_trade_price", "asset_id": A, "price": "0.52", "size": "3",
             "side": "BUY", "timestamp": "1766790000001"}  # fmt: skip

    assert feed.send(trade) == ((), ())

    book = feed.store.book(A)
    assert book is not None
    assert book.last_trade == (520_000, 3_000_000, "BUY", 1_766_790_000_001_000_000)


def test_marketdata_rejects_become_frame_rejected_decisions() -> None:
    store = MarketData()
    frame = orjson.dumps([{"event_type": "book"}, {"event_type": "nope"}, 3])

    touched, decisions = store.apply_frame(parse_frame(frame, None), 5, 9)

    assert touched == ()
    assert decisions == (
        FrameRejected(ts_recv_ns=5, cause_seq=9, reason="book: missing field 'asset_id'",
                      element=0),
        FrameRejected(ts_recv_ns=5, cause_seq=9, reason="element is not a JSON object: 3",
                      element=2),
    )  # fmt: skip
    stats = store.stats()
    assert (stats["frames"], stats["rejects"], stats["unknown_types"]) == (1, 2, 1)


def test_marketdata_check_stale_sorted_once_per_break() -> None:
    # Arrange: C and A go quiet, B keeps talking.
    feed = _Feed()
    feed.send([_book(t, {480_000: 1}, {520_000: 1}) for t in (C, A, B)])  # seq 1
    for _ in range(5):
        feed.send(_pc(_change(B, 470_000, 1, "BUY", 480_000, 520_000)))  # seq 2..6

    # Act
    first = feed.store.check_stale(7 * SEC, 3 * SEC, cause_seq=7)
    second = feed.store.check_stale(8 * SEC, 3 * SEC, cause_seq=8)

    # Assert
    assert [(d.token_id, d.reason, d.cause_seq) for d in first] == [
        (C, "stale", 7), (A, "stale", 7),  # sorted by token id ("3318..." < "4270...")
    ]  # fmt: skip
    assert second == []
    feed.send(_book(A, {480_000: 1}, {520_000: 1}))
    book = feed.store.book(A)
    assert book is not None and book.usable and book.epoch == 2


def test_marketdata_update_lost_breaks_named_live_book() -> None:
    feed = _Feed()
    feed.send(_book(A, {480_000: 10}, {520_000: 10}))
    bad = _pc({"asset_id": A, "price": "0.49", "size": "-1", "side": "BUY"})

    touched, decisions = feed.send(bad)

    assert touched == (A,)
    assert [type(d).__name__ for d in decisions] == ["FrameRejected", "ContinuityBroken"]
    assert decisions[1].reason == "update_lost"


def test_marketdata_snapshot_restore_round_trip_json() -> None:
    feed = _Feed()
    feed.send([_book(A, {480_000: 10}, {520_000: 10}), _book(B, {1: 1}, {})])
    feed.send(_pc(_change(A, 520_000, 0, "SELL", 480_000, 1_000_000)))
    feed.send(_pc(_change(B, 2, 1, "BUY", 3, 1_000_000)))  # B breaks

    data = json.loads(json.dumps(feed.store.snapshot()))
    again = MarketData.restore(data)

    assert again.snapshot() == feed.store.snapshot()
    assert again.stats() == feed.store.stats()


# --- properties ----------------------------------------------------------------------------


def _draw_frame(data: st.DataObject, naive: dict[str, dict[bool, dict[int, int]]]) -> Any:
    """A snapshot, a price_change (usually honest about the venue's top) or noise."""
    kind = data.draw(st.sampled_from(["book", "change", "change", "change", "noise"]))
    token = data.draw(st.sampled_from(TOKENS))
    price = st.integers(1, 20).map(lambda c: c * 50_000)
    if kind == "book":
        bids = data.draw(st.dictionaries(price, st.integers(1, 5_000_000), max_size=4))
        asks = data.draw(st.dictionaries(price, st.integers(1, 5_000_000), max_size=4))
        naive[token] = {True: dict(bids), False: dict(asks)}
        return _book(token, bids, asks)
    if kind == "noise":
        return data.draw(st.sampled_from([
            {"event_type": "best_bid_ask", "asset_id": token, "best_bid": "0.5", "best_ask": "1"},
            {"event_type": "tick_size_change", "asset_id": token, "new_tick_size": "0.001"},
            {"event_type": "last_trade_price", "asset_id": token, "price": "0.5"},
            [{"event_type": "price_change", "price_changes": [{"asset_id": token}]}],
        ]))  # fmt: skip
    entries = []
    for _ in range(data.draw(st.integers(1, 3))):
        is_bid = data.draw(st.booleans())
        level_price, size = data.draw(price), data.draw(st.sampled_from([0, 1_000_000, 7]))
        model = naive.setdefault(token, {True: {}, False: {}})
        model[is_bid][level_price] = size
        bid = max((p for p, s in model[True].items() if s), default=0)
        ask = min((p for p, s in model[False].items() if s), default=1_000_000)
        if data.draw(st.integers(0, 9)) == 0:
            bid = data.draw(price)  # the venue's top disagrees with the levels
        side = "BUY" if is_bid else "SELL"
        entries.append(_change(token, level_price, size, side, bid, ask))
    return _pc(*entries)


def _check_against_naive(store: MarketData, naive: dict[str, Any]) -> None:
    for token in store.token_ids():
        book = store.book(token)
        assert book is not None
        bids = sorted((p, s) for p, s in naive[token][True].items() if s)
        asks = sorted((p, s) for p, s in naive[token][False].items() if s)
        if bids and asks and bids[-1][0] >= asks[0][0]:
            assert not book.usable  # the feed sent a crossing: continuity is broken
        if book.usable:
            assert book.bids_descending() == bids[::-1]
            assert book.asks_ascending() == asks
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is None or ask is None or bid < ask


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_marketdata_random_feed_usable_books_match_naive_and_never_cross(
    data: st.DataObject,
) -> None:
    naive: dict[str, dict[bool, dict[int, int]]] = {}
    feed = _Feed()
    for _ in range(data.draw(st.integers(1, 30))):
        feed.send(_draw_frame(data, naive))
        _check_against_naive(feed.store, naive)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_marketdata_replay_deterministic_and_restore_resumes_identically(
    data: st.DataObject,
) -> None:
    # Arrange
    naive: dict[str, dict[bool, dict[int, int]]] = {}
    frames = [_draw_frame(data, naive) for _ in range(data.draw(st.integers(1, 25)))]
    cut = data.draw(st.integers(0, len(frames)))

    # Act: two full runs, and one restored from a snapshot taken at `cut`.
    full_1, full_2, head = _Feed(), _Feed(), _Feed()
    out_1 = [full_1.send(f) for f in frames]
    out_2 = [full_2.send(f) for f in frames]
    for f in frames[:cut]:
        head.send(f)
    state = json.loads(json.dumps(head.store.snapshot()))
    tail = _Feed(MarketData.restore(state))
    tail.seq = head.seq
    out_tail = [tail.send(f) for f in frames[cut:]]

    # Assert
    assert out_1 == out_2
    assert full_1.store.snapshot() == full_2.store.snapshot()
    assert out_tail == out_1[cut:]
    assert tail.store.snapshot() == full_1.store.snapshot()
    stale_full = full_1.store.check_stale(10**12 * SEC, SEC, 999)
    assert tail.store.check_stale(10**12 * SEC, SEC, 999) == stale_full
