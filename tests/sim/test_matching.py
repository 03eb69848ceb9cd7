# Matching tests: the YES-space book, price-time priority across the direct and complementary
# books, MINT/MERGE matches, partial fills, trade buckets, price_change and book rendering.
from __future__ import annotations

import msgspec

from polyarb.sim import Exchange, LastTradePrice, OrderEvent, PriceChange, TradeEvent
from polyarb.sim.matching import MarketBook
from polyarb.sim.model import Market, Order
from tests.sim.helpers import (
    CID,
    NO,
    YES,
    M,
    buy,
    exchange,
    holdings,
    market_info,
    of_kind,
    order,
    sell,
)

START = 1_000_000 * M


def _order(market: Market, side: str, token: str, price: int, size: int, seq: int) -> Order:
    return Order(order("x", token, side, price, size), f"o{seq}", "0x", market, seq, 0)


# --- MarketBook ---------------------------------------------------------------------------------


def test_book_orders_file_under_yes_space_view() -> None:
    # Arrange
    ex = exchange()
    market = ex.markets.get(CID)
    book: MarketBook = market.book

    # Act: BUY YES 0.40, SELL NO 0.55 (= YES bid 0.45), BUY NO 0.30 (= YES ask 0.70)
    for i, (side, token, price) in enumerate(
            [("BUY", YES, 400_000), ("SELL", NO, 550_000), ("BUY", NO, 300_000)]):
        book.add(_order(market, side, token, price, 10 * M, i))

    # Assert
    assert book.depth(True) == [(400_000, 10 * M), (450_000, 10 * M)]
    assert book.depth(False) == [(700_000, 10 * M)]
    assert (book.best_bid(), book.best_ask()) == (450_000, 700_000)


def test_book_empty_sides_report_zero_and_one() -> None:
    book = MarketBook()

    assert (book.best_bid(), book.best_ask()) == (0, M)


def test_book_lazy_cancel_compacts_dead_queue() -> None:
    # Arrange: one order stays, many come and go at the same level
    ex = exchange()
    market = ex.markets.get(CID)
    book = market.book
    keeper = _order(market, "BUY", YES, 400_000, M, 0)
    book.add(keeper)

    # Act
    for i in range(1, 200):
        o = _order(market, "BUY", YES, 400_000, M, i)
        book.add(o)
        book.remove(o)

    # Assert: the queue stayed bounded and the level is intact
    level = book.bids[400_000]
    assert len(level.queue) < 40
    assert (level.total, level.live) == (M, 1)


def test_book_available_stops_at_limit_price() -> None:
    ex = exchange()
    market = ex.markets.get(CID)
    book = market.book
    book.add(_order(market, "SELL", YES, 500_000, 3 * M, 1))
    book.add(_order(market, "BUY", NO, 400_000, 4 * M, 2))  # YES ask 0.60
    taker = _order(market, "BUY", YES, 550_000, 100 * M, 3)

    assert book.available(taker, 100 * M) == 3 * M
    assert book.crosses(taker)


# --- priority -----------------------------------------------------------------------------------


def test_match_better_price_fills_first_regardless_of_time() -> None:
    # Arrange
    ex = exchange()
    ex.split("m1", CID, 100 * M)
    ex.split("m2", CID, 100 * M)
    worse = sell(ex, "m1", YES, 610_000, 10 * M, now=1)
    better = sell(ex, "m2", YES, 600_000, 10 * M, now=2)

    # Act
    result = buy(ex, "t", YES, 610_000, 10 * M, now=3)

    # Assert
    trade = ex.trade(result.trade_ids[0])
    assert trade is not None
    assert [m.order_id for m in trade.maker_orders] == [better.order_id]
    assert ex.order(worse.order_id).size_matched_micros == 0  # type: ignore[union-attr]


def test_match_same_price_fills_in_arrival_order() -> None:
    ex = exchange()
    ex.split("m1", CID, 100 * M)
    ex.split("m2", CID, 100 * M)
    a = sell(ex, "m1", YES, 600_000, 10 * M, now=1)
    b = sell(ex, "m2", YES, 600_000, 10 * M, now=2)

    result = buy(ex, "t", YES, 600_000, 15 * M, now=3)

    makers = ex.trade(result.trade_ids[0]).maker_orders  # type: ignore[union-attr]
    assert [(m.order_id, m.matched_amount_micros) for m in makers] == [
        (a.order_id, 10 * M), (b.order_id, 5 * M)]


def test_match_complementary_and_direct_share_one_fifo_at_equal_price() -> None:
    # Arrange: BUY NO @0.40 (a YES ask at 0.60) arrives before SELL YES @0.60
    ex = exchange()
    ex.split("m2", CID, 100 * M)
    comp = buy(ex, "m1", NO, 400_000, 10 * M, now=1)
    direct = sell(ex, "m2", YES, 600_000, 10 * M, now=2)

    # Act
    result = buy(ex, "t", YES, 600_000, 12 * M, now=3)

    # Assert: the earlier complementary order fills first, then the direct one
    makers = ex.trade(result.trade_ids[0]).maker_orders  # type: ignore[union-attr]
    assert [(m.order_id, m.asset_id, m.side, m.matched_amount_micros) for m in makers] == [
        (comp.order_id, NO, "BUY", 10 * M), (direct.order_id, YES, "SELL", 2 * M)]


def test_match_complementary_with_better_effective_price_wins() -> None:
    # Arrange: SELL YES @0.60 first, then BUY NO @0.45 (YES ask 0.55: better)
    ex = exchange()
    ex.split("m1", CID, 100 * M)
    sell(ex, "m1", YES, 600_000, 10 * M, now=1)
    comp = buy(ex, "m2", NO, 450_000, 10 * M, now=2)

    # Act
    result = buy(ex, "t", YES, 600_000, 10 * M, now=3)

    # Assert
    trade = ex.trade(result.trade_ids[0])
    assert trade is not None and trade.price_micros == 550_000
    assert [m.order_id for m in trade.maker_orders] == [comp.order_id]


# --- mint / merge / direct ------------------------------------------------------------------------


def test_mint_buy_yes_060_meets_buy_no_040() -> None:
    # Arrange
    ex = exchange()
    buy(ex, "no_buyer", NO, 400_000, 10 * M, now=1)

    # Act
    result = buy(ex, "yes_buyer", YES, 600_000, 10 * M, now=2)

    # Assert: collateral split into a pair, 6 + 4 = 10 locked, each side got its token
    assert result.status == "matched"
    assert holdings(ex, "yes_buyer") == (START - 6 * M, 10 * M, 0)
    assert holdings(ex, "no_buyer") == (START - 4 * M, 0, 10 * M)
    assert ex.ledger.locked[CID] == 10 * M
    assert ex.problems() == []


def test_mint_taker_gets_price_improvement() -> None:
    ex = exchange()
    buy(ex, "no_buyer", NO, 400_000, 10 * M, now=1)

    result = buy(ex, "yes_buyer", YES, 650_000, 10 * M, now=2)

    assert result.making_amount_micros == 6 * M
    assert holdings(ex, "yes_buyer") == (START - 6 * M, 10 * M, 0)
    assert ex.balance("yes_buyer").available_micros == START - 6 * M  # reservation released


def test_merge_sell_yes_meets_sell_no() -> None:
    # Arrange: two holders of pairs
    ex = exchange()
    ex.split("a", CID, 10 * M)
    ex.split("b", CID, 10 * M)
    sell(ex, "a", YES, 600_000, 10 * M, now=1)

    # Act: SELL NO @0.40 crosses the YES ask at 0.60 seen as a NO bid at 0.40
    result = sell(ex, "b", NO, 400_000, 10 * M, now=2)

    # Assert: 10 pairs merged, a got 6, b got 4, locked collateral released
    assert result.status == "matched"
    assert holdings(ex, "a") == (START - 10 * M + 6 * M, 0, 10 * M)
    assert holdings(ex, "b") == (START - 10 * M + 4 * M, 10 * M, 0)
    assert ex.ledger.locked[CID] == 10 * M
    trade = ex.trade(result.trade_ids[0])
    assert trade is not None and trade.maker_orders[0].side == "SELL"
    assert trade.maker_orders[0].asset_id == YES
    assert ex.problems() == []


def test_direct_trade_on_no_token() -> None:
    ex = exchange()
    ex.split("a", CID, 10 * M)
    sell(ex, "a", NO, 300_000, 10 * M, now=1)

    result = buy(ex, "b", NO, 300_000, 10 * M, now=2)

    assert holdings(ex, "b") == (START - 3 * M, 0, 10 * M)
    assert holdings(ex, "a") == (START - 10 * M + 3 * M, 10 * M, 0)
    assert ex.ledger.locked[CID] == 10 * M
    assert result.making_amount_micros == 3 * M


def test_partial_fill_maker_keeps_rest_and_taker_remainder_rests() -> None:
    # Arrange
    ex = exchange()
    ex.split("m", CID, 100 * M)
    maker = sell(ex, "m", YES, 500_000, 30 * M, now=1)

    # Act: a 10-share taker, then a 50-share taker that rests its remaining 30
    buy(ex, "t1", YES, 500_000, 10 * M, now=2)
    big = buy(ex, "t2", YES, 500_000, 50 * M, now=3)

    # Assert
    maker_view = ex.order(maker.order_id)
    assert maker_view is not None and maker_view.status == "MATCHED"
    assert maker_view.size_matched_micros == 30 * M
    taker_view = ex.order(big.order_id)
    assert taker_view is not None and taker_view.status == "LIVE"
    assert taker_view.size_matched_micros == 20 * M
    assert ex.best_prices(YES) == (500_000, M)
    assert ex.balance("t2").available_micros == START - 10 * M - 15 * M  # paid 10, holds 15


# --- trades and events ---------------------------------------------------------------------


def test_sweep_makes_one_trade_per_price_level() -> None:
    ex = exchange()
    ex.split("m", CID, 100 * M)
    for price in (500_000, 510_000, 520_000):
        sell(ex, "m", YES, price, 5 * M, now=1)
    ex.take_events()

    result = buy(ex, "t", YES, 520_000, 15 * M, now=2)

    trades = [ex.trade(t) for t in result.trade_ids]
    assert [(t.price_micros, t.size_micros, t.bucket_index) for t in trades if t] == [
        (500_000, 5 * M, 0), (510_000, 5 * M, 1), (520_000, 5 * M, 2)]
    assert len({t.taker_order_id for t in trades if t}) == 1


def test_trade_splits_into_buckets_over_max_makers() -> None:
    ex = exchange(max_makers_per_trade=2)
    ex.split("m", CID, 100 * M)
    for i in range(5):
        sell(ex, "m", YES, 500_000, 5 * M, now=i)

    result = buy(ex, "t", YES, 500_000, 25 * M, now=9)

    trades = [ex.trade(t) for t in result.trade_ids]
    assert [len(t.maker_orders) for t in trades if t] == [2, 2, 1]
    assert [t.bucket_index for t in trades if t] == [0, 1, 2]


def test_events_order_trades_then_orders_then_market_data() -> None:
    ex = exchange()
    buy(ex, "no_buyer", NO, 400_000, 10 * M, now=1)
    ex.take_events()

    buy(ex, "yes_buyer", YES, 600_000, 6 * M, now=2)
    events = ex.take_events()

    kinds = [type(e).__name__ for e in events]
    assert kinds == ["TradeEvent", "OrderEvent", "OrderEvent", "LastTradePrice",
                     "LastTradePrice", "PriceChange"]
    maker_event, taker_event = of_kind(events, OrderEvent)
    assert (maker_event.type, maker_event.order.status) == ("UPDATE", "LIVE")
    assert maker_event.order.size_matched_micros == 6 * M
    assert (taker_event.type, taker_event.order.status) == ("UPDATE", "MATCHED")
    lasts = of_kind(events, LastTradePrice)
    assert [(x.asset_id, x.price_micros, x.side) for x in lasts] == [
        (YES, 600_000, "BUY"), (NO, 400_000, "SELL")]
    assert of_kind(events, TradeEvent)[0].trade.status == "MATCHED"
    assert ex.last_trade_price(NO) == lasts[1]
    assert ex.book_json(YES, 0)["last_trade_price"] == "0.6"


def test_price_change_mirrors_both_tokens_with_best_prices() -> None:
    ex = exchange()
    buy(ex, "a", YES, 450_000, 10 * M, now=1)
    ex.take_events()

    result = buy(ex, "b", NO, 400_000, 7 * M, now=2)  # a YES ask at 0.60
    (change,) = of_kind(ex.take_events(), PriceChange)

    entries = [(c.asset_id, c.price_micros, c.size_micros, c.side, c.best_bid_micros,
                c.best_ask_micros, c.order_id) for c in change.changes]
    assert entries == [
        (YES, 600_000, 7 * M, "SELL", 450_000, 600_000, result.order_id),
        (NO, 400_000, 7 * M, "BUY", 400_000, 550_000, result.order_id),
    ]
    assert change.market == CID and change.trade is False


def test_price_change_on_fill_reports_removed_level_size_zero() -> None:
    ex = exchange()
    buy(ex, "a", NO, 400_000, 10 * M, now=1)
    ex.take_events()

    buy(ex, "b", YES, 600_000, 10 * M, now=2)
    (change,) = of_kind(ex.take_events(), PriceChange)

    assert change.trade is True
    assert [(c.asset_id, c.size_micros, c.best_bid_micros, c.best_ask_micros)
            for c in change.changes] == [(YES, 0, 0, M), (NO, 0, 0, M)]


# --- rendering ---------------------------------------------------------------------------------


def _book_ex() -> Exchange:
    ex = exchange()
    ex.split("s", CID, 100 * M)
    buy(ex, "a", YES, 480_000, 30 * M, now=1)
    buy(ex, "a", YES, 500_000, 15 * M, now=1)
    sell(ex, "s", YES, 540_000, 10 * M, now=1)
    buy(ex, "b", NO, 470_000, 25 * M, now=1)  # YES ask 0.53
    return ex


def test_book_json_best_last_on_both_sides() -> None:
    ex = _book_ex()

    book = ex.book_json(YES, 1_757_908_892_351_000_000)

    assert book["bids"] == [{"price": "0.48", "size": "30"}, {"price": "0.5", "size": "15"}]
    assert book["asks"] == [{"price": "0.54", "size": "10"}, {"price": "0.53", "size": "25"}]
    assert book["timestamp"] == "1757908892351"
    assert (book["tick_size"], book["min_order_size"], book["neg_risk"]) == ("0.01", "5", False)
    assert book["last_trade_price"] == "0.5"
    assert len(book["hash"]) == 40


def test_book_json_no_token_is_the_mirror() -> None:
    ex = _book_ex()

    book = ex.book_json(NO, 0)

    assert book["bids"] == [{"price": "0.46", "size": "10"}, {"price": "0.47", "size": "25"}]
    assert book["asks"] == [{"price": "0.52", "size": "30"}, {"price": "0.5", "size": "15"}]


def test_book_hash_is_venue_summary_hash() -> None:
    import hashlib

    ex = _book_ex()
    book = ex.book_json(YES, 5_000_000)

    blank = {**book, "hash": ""}
    text = msgspec.json.encode(blank)
    assert book["hash"] == hashlib.sha1(text).hexdigest()
    assert list(book)[:6] == ["market", "asset_id", "timestamp", "hash", "bids", "asks"]


def test_book_ws_message_shape() -> None:
    ex = _book_ex()

    msg = ex.book_ws(NO, 5_000_000)

    assert msg["event_type"] == "book"
    assert (msg["asset_id"], msg["market"], msg["timestamp"]) == (NO, CID, "5")
    assert msg["hash"] == ex.book_json(NO, 5_000_000)["hash"]


def test_market_info_round_trips_registration() -> None:
    ex = exchange()

    assert ex.market_info(CID) == market_info()
