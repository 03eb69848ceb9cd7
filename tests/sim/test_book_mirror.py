# The shared book mirror (polyarb/sim/book_mirror.py) on its own: frames become the owner's
# resting orders in YES space, adjustments and skips are counted, other messages come back.
from __future__ import annotations

from typing import Any

import orjson

from polyarb.core.wire_types import LastTradePrice
from polyarb.sim import Exchange, SimConfig
from polyarb.sim.book_mirror import BOOK_COLLATERAL_MICROS, BookMirror
from tests.sim.helpers import CID, NO, YES, market_info

OWNER = "test:book"
M = 1_000_000


def _mirror() -> tuple[BookMirror, Exchange]:
    ex = Exchange(SimConfig())
    mirror = BookMirror(ex, OWNER)
    assert mirror.load_markets([market_info()]) == []
    return mirror, ex


def _book(token: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
          **extra: Any) -> bytes:
    return orjson.dumps([{"event_type": "book", "asset_id": token, "market": CID,
                          "timestamp": "1766793600000", "hash": "",
                          "bids": [{"price": p, "size": s} for p, s in bids],
                          "asks": [{"price": p, "size": s} for p, s in asks], **extra}])


def _change(*entries: tuple[str, str, str, str]) -> bytes:
    return orjson.dumps({"event_type": "price_change", "market": CID,
                         "timestamp": "1766793600000",
                         "price_changes": [{"asset_id": t, "price": p, "size": s, "side": side,
                                            "hash": ""} for t, p, s, side in entries]})


def test_book_mirror_constructor_opens_the_owner_once() -> None:
    ex = Exchange(SimConfig())
    BookMirror(ex, OWNER)
    BookMirror(ex, OWNER)  # an existing account is reused, not an error
    assert ex.balance(OWNER).balance_micros == BOOK_COLLATERAL_MICROS


def test_book_mirror_no_book_maps_to_yes_space() -> None:
    mirror, ex = _mirror()
    assert mirror.apply(_book(NO, [("0.40", "10")], [("0.55", "20")]), None, 1) == []
    assert ex.best_prices(YES) == (450_000, 600_000)
    assert ex.book_json(NO, 1)["bids"] == [{"price": "0.4", "size": "10"}]
    assert mirror.counters == {"frames": 1, "books": 1}


def test_book_mirror_small_levels_round_up_and_crossing_bids_drop() -> None:
    mirror, ex = _mirror()
    mirror.apply(_book(YES, [("0.50", "1"), ("0.56", "10")], [("0.55", "10")]), None, 1)
    assert ex.best_prices(YES) == (500_000, 550_000)
    assert ex.book_json(YES, 1)["bids"] == [{"price": "0.5", "size": "5"}]  # min size 5
    assert mirror.counters["levels_rounded_up"] == 1
    assert mirror.counters["crossed_levels_dropped"] == 1


def test_book_mirror_finer_price_and_tick_change_set_the_tick() -> None:
    mirror, ex = _mirror()
    mirror.apply(_change((YES, "0.505", "10", "BUY")), None, 1)
    assert ex.markets.get(CID).tick_micros == 5_000  # the largest venue tick dividing it
    assert ex.best_prices(YES)[0] == 505_000
    mirror.apply(_book(YES, [], [], tick_size="0.01"), None, 2)
    assert ex.markets.get(CID).tick_micros == 10_000
    assert mirror.counters["tick_inferred"] == 1 and mirror.counters["level_changes"] == 1


def test_book_mirror_unknown_tokens_and_bad_frames_are_counted() -> None:
    mirror, _ = _mirror()
    mirror.apply(_change(("123", "0.5", "10", "BUY")), None, 1)
    mirror.apply(b"{not json", None, 2)
    mirror.apply(None, "PONG", 3)
    assert mirror.counters["unknown_token"] == 1 and mirror.counters["frame_rejects"] == 1
    assert mirror.counters["frames"] == 3 and not mirror.knows("123") and mirror.knows(NO)


def test_book_mirror_other_messages_come_back_to_the_caller() -> None:
    mirror, _ = _mirror()
    frame = orjson.dumps({"event_type": "last_trade_price", "asset_id": YES, "market": CID,
                          "price": "0.5", "size": "10", "side": "BUY", "fee_rate_bps": "0",
                          "timestamp": "1766793600000"})
    rest = mirror.apply(frame, None, 1)
    assert [type(m) for m in rest] == [LastTradePrice]


def test_book_mirror_refused_and_repeated_markets() -> None:
    mirror, _ = _mirror()
    assert mirror.add_market(market_info()) is None  # already mirrored: a no-op
    clash = market_info(cid="0x" + "d2" * 32)  # same tokens under another condition id
    assert mirror.load_markets([clash]) == [(clash.condition_id, mirror.add_market(clash))]
    assert mirror.rejects() == {}
