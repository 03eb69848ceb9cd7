from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from polyarb.core.book import Book, apply_changes, top_disagrees
from polyarb.core.types import BookView

TOKEN = "4270919463220185377013283616512880054612378540155226609853621906521187645120"


def _book(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> Book:
    book = Book(TOKEN)
    book.replace(bids, asks)
    return book


def test_book_new_unusable_until_snapshot() -> None:
    book = Book(TOKEN)

    assert not book.usable and book.epoch == 0 and book.state == "empty"
    assert book.best_bid() is None and book.best_ask() is None


def test_book_satisfies_bookview() -> None:
    view: BookView = _book([(480_000, 1)], [(520_000, 1)])

    assert view.usable and view.epoch == 1 and view.token_id == TOKEN


def test_book_replace_best_regardless_of_order() -> None:
    # Arrange: the venue sends worst to best; never trust the order.
    bids = [(460_000, 5), (480_000, 3), (470_000, 9)]
    asks = [(530_000, 2), (510_000, 4), (520_000, 1)]

    # Act
    book = _book(bids, asks)

    # Assert
    assert (book.best_bid(), book.best_ask()) == (480_000, 510_000)
    assert book.bids_descending() == [(480_000, 3), (470_000, 9), (460_000, 5)]
    assert book.asks_ascending() == [(510_000, 4), (520_000, 1), (530_000, 2)]


def test_book_replace_drops_zero_sizes_and_keeps_last_duplicate() -> None:
    book = _book([(480_000, 0), (470_000, 1), (470_000, 7)], [])

    assert book.bids_descending() == [(470_000, 7)]
    assert book.best_ask() is None


def test_book_replace_bumps_epoch_and_restores_usable() -> None:
    book = _book([(480_000, 1)], [])
    book.break_continuity("stale")

    book.replace([(490_000, 1)], [])

    assert book.usable and book.epoch == 2 and book.break_reason is None


def test_book_set_level_absolute_size_and_delete() -> None:
    book = _book([(480_000, 10)], [(520_000, 10)])

    book.set_level(True, 480_000, 4)  # absolute, not a delta
    book.set_level(True, 490_000, 2)  # new best bid
    book.set_level(False, 520_000, 0)  # delete the only ask
    book.set_level(False, 600_000, 0)  # delete a missing level: nothing happens

    assert book.bids_descending() == [(490_000, 2), (480_000, 4)]
    assert book.best_ask() is None and book.asks_ascending() == []


def test_book_depth_cache_invalidated_on_change() -> None:
    book = _book([(480_000, 10)], [(520_000, 10)])
    before = book.asks_ascending()

    book.set_level(False, 510_000, 3)

    assert before == [(520_000, 10)]
    assert book.asks_ascending() == [(510_000, 3), (520_000, 10)]


def test_book_drop_forgets_levels_and_breaks() -> None:
    book = _book([(480_000, 10)], [(520_000, 10)])

    book.drop("tick_size_change")

    assert not book.usable and book.state == "broken" and book.break_reason == "tick_size_change"
    assert book.bids_descending() == [] and book.asks_ascending() == []


def test_top_disagrees_uses_zero_and_one_for_empty_sides() -> None:
    empty = _book([], [])
    one_sided = _book([(480_000, 1)], [])

    assert top_disagrees(empty, 0, 1_000_000) is None
    assert top_disagrees(one_sided, 480_000, 1_000_000) is None
    assert top_disagrees(one_sided, 480_000, 990_000) == "mismatch"
    assert top_disagrees(_book([(520_000, 1)], [(520_000, 1)]), None, None) == "crossed"


def test_apply_changes_skips_missing_and_not_live_books() -> None:
    live = _book([(480_000, 1)], [(520_000, 1)])
    broken = Book("b")
    broken.replace([], [])
    broken.break_continuity("stale")
    books = {TOKEN: live, "b": broken}
    changes = [
        (TOKEN, True, 490_000, 5, None, None),
        ("b", True, 490_000, 5, None, None),
        ("nobody", False, 510_000, 5, None, None),
        (TOKEN, False, 510_000, 5, 490_000, 510_000),
    ]

    touched, failed, missing, not_live = apply_changes(books, changes, 7, 8)

    assert (touched, failed, missing, not_live) == ((TOKEN,), None, 1, 1)
    assert (live.best_bid(), live.best_ask(), live.last_update_ns, live.ts_venue_ns) == (
        490_000, 510_000, 7, 8,
    )  # fmt: skip
    assert broken.bids_descending() == []


_price = st.integers(1, 99).map(lambda c: c * 10_000)
_op = st.tuples(st.booleans(), _price, st.integers(0, 3))


@given(st.lists(st.tuples(_price, st.integers(0, 3)), max_size=6),
       st.lists(st.tuples(_price, st.integers(0, 3)), max_size=6),
       st.lists(_op, max_size=40))  # fmt: skip
def test_book_best_and_depth_equal_naive_recomputation(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], ops: list[tuple[bool, int, int]]
) -> None:
    # Arrange
    book = _book(bids, asks)
    naive = {True: dict(bids), False: dict(asks)}

    for is_bid, price, size in ops:
        # Act
        book.set_level(is_bid, price, size)
        naive[is_bid][price] = size

        # Assert
        live_bids = sorted((p, s) for p, s in naive[True].items() if s)
        live_asks = sorted((p, s) for p, s in naive[False].items() if s)
        assert book.best_bid() == (live_bids[-1][0] if live_bids else None)
        assert book.best_ask() == (live_asks[0][0] if live_asks else None)
        assert book.bids_descending() == live_bids[::-1]
        assert book.asks_ascending() == live_asks


@given(st.lists(st.tuples(_price, st.integers(1, 10**9)), max_size=8),
       st.lists(st.tuples(_price, st.integers(1, 10**9)), max_size=8),
       st.sampled_from(["empty", "live", "broken"]))  # fmt: skip
def test_book_snapshot_restore_round_trip(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], state: str
) -> None:
    book = Book(TOKEN)
    if state != "empty":
        book.replace(bids, asks)
        book.last_trade = (500_000, None, "BUY", 17)
        book.venue_quote = (0, 1_000_000)
        book.tick_size_micros = 10_000
    if state == "broken":
        book.break_continuity("crossed")

    data = json.loads(json.dumps(book.snapshot()))  # plain JSON, canonical
    again = Book.restore(data)

    assert again.snapshot() == book.snapshot()
    assert (again.usable, again.epoch, again.best_bid(), again.best_ask()) == (
        book.usable, book.epoch, book.best_bid(), book.best_ask(),
    )  # fmt: skip
