# Exchange tests: validation errors with the venue's strings, order types, cancels, dead-man
# heartbeat, GTD expiry, match delay, tick changes, settlement progression and FAILED reversal,
# fees, queries and determinism.
from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from polyarb.events.inputs import FeeSchedule, MarketInfo
from polyarb.sim import Exchange, OrderEvent, SimError, TickSizeChange, Trade, TradeEvent
from polyarb.sim import errors as E
from tests.sim.helpers import (
    CID,
    CRYPTO,
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

S = 1_000_000_000
START = 1_000_000 * M


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "expected"),
    [(523_000, "Price (0.523) breaks minimum tick size rule: 0.01"),
     (0, "Price (0) breaks minimum tick size rule: 0.01"),
     (M, "Price (1) breaks minimum tick size rule: 0.01")],
)
def test_place_off_tick_price_rejected_with_venue_message(price: int, expected: str) -> None:
    ex = exchange()

    result = buy(ex, "a", YES, price, 10 * M, order_id="0xabc")

    assert (result.success, result.code) == (False, E.MIN_TICK_SIZE)
    assert result.error_msg == f"order 0xabc is invalid. {expected}"


def test_place_below_min_size_rejected_with_venue_message() -> None:
    ex = exchange()

    result = buy(ex, "a", YES, 500_000, 1_080_000, order_id="0xabc")

    assert result.error_msg == "order 0xabc is invalid. Size (1.08) lower than the minimum: 5"
    assert ex.take_events() == []


def test_place_market_order_uses_notional_minimum_not_shares() -> None:
    ex = exchange()
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 10 * M)

    small = buy(ex, "a", YES, 500_000, 1_900_000, order_type="FOK", order_id="0x1")
    ok = buy(ex, "a", YES, 500_000, 2 * M, order_type="FOK", order_id="0x2")

    assert (small.code, small.error_msg) == (
        E.MIN_SIZE, "order 0x1 is invalid. Amount (0.95) lower than the minimum: 1")
    assert ok.status == "matched"


def test_place_market_buy_minimum_uses_signed_amount() -> None:
    # $1 at 0.58 signs 1.7241 shares; 1.7241 * 0.58 = 0.999978 < 1
    ex = exchange()
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 580_000, 10 * M)

    unsigned = buy(ex, "a", YES, 580_000, 1_724_100, order_type="FOK")
    signed = buy(ex, "a", YES, 580_000, 1_724_100, order_type="FOK", amount_micros=M)

    assert unsigned.code == E.MIN_SIZE
    assert signed.status == "matched" and signed.making_amount_micros == 999_978


@pytest.mark.parametrize("order_type", ["FOK", "FAK"])
def test_place_post_only_with_market_type_rejected(order_type: str) -> None:
    ex = exchange()

    result = buy(ex, "a", YES, 500_000, 10 * M, order_type=order_type, post_only=True)

    assert result.error_msg == "invalid post-only order: only GTC and GTD order types are allowed"


def test_place_post_only_crossing_rejected_and_releases_balance() -> None:
    ex = exchange()
    buy(ex, "m", NO, 400_000, 10 * M)  # YES ask 0.60

    result = buy(ex, "a", YES, 600_000, 10 * M, post_only=True, order_id="0xp")

    assert (result.code, result.error_msg) == (E.POST_ONLY_CROSSES, "order 0xp crosses the book")
    assert ex.balance("a").available_micros == START
    assert ex.open_orders("a") == []


def test_place_post_only_not_crossing_rests() -> None:
    ex = exchange()
    buy(ex, "m", NO, 400_000, 10 * M)

    result = buy(ex, "a", YES, 590_000, 10 * M, post_only=True)

    assert result.status == "live"


def test_place_without_collateral_rejected() -> None:
    ex = exchange()
    ex.open_account("poor", collateral_micros=4_999_999)

    result = buy(ex, "poor", YES, 500_000, 10 * M)

    assert (result.code, result.error_msg) == (E.NOT_ENOUGH_BALANCE,
                                               "not enough balance / allowance")


def test_place_sell_without_tokens_rejected() -> None:
    ex = exchange()
    ex.split("a", CID, 5 * M)
    sell(ex, "a", YES, 600_000, 5 * M)

    result = sell(ex, "a", YES, 600_000, 5 * M)  # the first order holds them

    assert result.error_msg == E.NOT_ENOUGH_BALANCE_MSG


def test_place_duplicate_order_id_rejected() -> None:
    ex = exchange()
    buy(ex, "a", YES, 500_000, 10 * M, order_id="0xdup")

    result = buy(ex, "a", YES, 400_000, 10 * M, order_id="0xdup")

    assert result.error_msg == "order 0xdup is invalid. Duplicated."


@pytest.mark.parametrize(
    ("order_type", "expiration_s"),
    [("GTD", 0), ("GTD", 1_000 + 59), ("GTC", 2_000)],
)
def test_place_bad_expiration_rejected(order_type: str, expiration_s: int) -> None:
    ex = exchange()

    result = buy(ex, "a", YES, 500_000, 10 * M, now=1_000 * S, order_type=order_type,
                 expiration_s=expiration_s)

    assert (result.code, result.error_msg) == (E.EXPIRATION, "invalid expiration")


def test_place_unknown_token_not_found() -> None:
    ex = exchange()

    result = buy(ex, "a", "999", 500_000, 10 * M)

    assert result.code == E.NOT_FOUND and "not found" in result.error_msg


def test_place_market_not_accepting_or_closed_rejected() -> None:
    ex = exchange()
    ex.set_market_status(CID, 0, accepting_orders=False)
    paused = buy(ex, "a", YES, 500_000, 10 * M)
    ex.set_market_status(CID, 0, accepting_orders=False, closed=True)
    closed = buy(ex, "a", YES, 500_000, 10 * M)

    assert paused.error_msg == "the market is not yet ready to process new orders"
    assert closed.code == E.MARKET_CLOSED


def test_place_bad_payload_rejected() -> None:
    ex = exchange()

    bad_side = ex.place(order("a", YES, "HOLD", 500_000, 10 * M), 0)
    bad_price = ex.place(order("a", YES, "BUY", "0.5", 10 * M), 0)  # type: ignore[arg-type]
    bad_token = ex.place(order("a", [YES], "BUY", 500_000, 10 * M), 0)  # type: ignore[arg-type]

    assert bad_side.error_msg == bad_price.error_msg == "Invalid order payload"
    assert bad_token.code == E.NOT_FOUND


# --- order types --------------------------------------------------------------------------------


def test_fok_fills_completely_across_levels() -> None:
    ex = exchange()
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 6 * M)
    sell(ex, "m", YES, 510_000, 6 * M)

    result = buy(ex, "a", YES, 510_000, 10 * M, order_type="FOK")

    assert result.status == "matched"
    assert ex.order(result.order_id).size_matched_micros == 10 * M  # type: ignore[union-attr]
    assert result.making_amount_micros == 3 * M + 4 * 510_000


def test_fok_insufficient_liquidity_killed_without_any_fill() -> None:
    # Arrange
    ex = exchange()
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 6 * M)
    sell(ex, "m", YES, 520_000, 6 * M)  # beyond the limit
    ex.take_events()

    # Act
    result = buy(ex, "a", YES, 510_000, 10 * M, order_type="FOK")

    # Assert
    assert (result.success, result.error_msg) == (False, "FOK orders are filled or killed")
    (event,) = ex.take_events()
    assert isinstance(event, OrderEvent)
    assert (event.type, event.order.status, event.order.size_matched_micros) == (
        "CANCELLATION", "CANCELED", 0)
    assert event.reason == E.FOK_KILLED_STATUS_MSG
    assert holdings(ex, "a") == (START, 0, 0)
    assert ex.balance("a").available_micros == START


def test_fak_partial_fill_kills_rest() -> None:
    ex = exchange()
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 6 * M)

    result = buy(ex, "a", YES, 500_000, 10 * M, order_type="FAK")

    view = ex.order(result.order_id)
    assert view is not None and (view.status, view.size_matched_micros) == ("MATCHED", 6 * M)
    assert ex.open_orders("a") == []
    assert ex.balance("a").available_micros == START - 3 * M


def test_fak_without_match_rejected_with_venue_message() -> None:
    ex = exchange()

    result = buy(ex, "a", YES, 500_000, 10 * M, order_type="FAK")

    assert result.error_msg == (
        "no orders found to match with FAK order. FAK orders are partially filled or killed "
        "if no match is found.")
    assert ex.balance("a").available_micros == START


def test_gtc_rest_then_cancel_restores_balance_and_book() -> None:
    ex = exchange()
    placed = buy(ex, "a", YES, 500_000, 10 * M)
    ex.take_events()

    result = ex.cancel("a", placed.order_id, 5)

    assert result.canceled == (placed.order_id,)
    assert ex.balance("a").available_micros == START
    assert ex.best_prices(YES) == (0, M)
    kinds = [(type(e).__name__, getattr(e, "type", "")) for e in ex.take_events()]
    assert kinds == [("OrderEvent", "CANCELLATION"), ("PriceChange", "")]


def test_cancel_unknown_foreign_and_finished_orders_reported() -> None:
    ex = exchange()
    mine = buy(ex, "a", YES, 500_000, 10 * M)
    ex.cancel("a", mine.order_id, 1)

    result = ex.cancel_many("a", ["0xnope", mine.order_id, "0xnope"], 2)
    foreign = ex.cancel("b", buy(ex, "a", YES, 500_000, 10 * M).order_id, 3)

    assert result.not_canceled == {"0xnope": "order not found",
                                   mine.order_id: "already canceled or matched"}
    assert list(foreign.not_canceled.values()) == ["order not found"]


def test_cancel_all_and_cancel_market_filters() -> None:
    ex = exchange()
    ex.add_market(market_info("0x" + "d2" * 32, "31", "32"))
    a = buy(ex, "a", YES, 500_000, 10 * M)
    b = buy(ex, "a", NO, 300_000, 10 * M)
    c = buy(ex, "a", "31", 300_000, 10 * M)

    by_token = ex.cancel_market("a", 1, asset_id=NO)
    by_market = ex.cancel_market("a", 1, market=CID)
    rest = ex.cancel_all("a", 1)

    assert (by_token.canceled, by_market.canceled, rest.canceled) == (
        (b.order_id,), (a.order_id,), (c.order_id,))


# --- time -------------------------------------------------------------------------------------


def test_heartbeat_lapse_cancels_orders_of_that_account_only() -> None:
    ex = exchange()
    buy(ex, "a", YES, 500_000, 10 * M, now=0)
    buy(ex, "b", YES, 490_000, 10 * M, now=0)
    ex.heartbeat("a", 1 * S)
    ex.take_events()

    ex.advance(11 * S)  # exactly the timeout: still fine
    assert len(ex.open_orders("a")) == 1
    ex.advance(11 * S + 1)

    assert ex.open_orders("a") == []
    assert len(ex.open_orders("b")) == 1  # never sent a heartbeat: never cancelled
    reasons = [e.reason for e in of_kind(ex.take_events(), OrderEvent)]
    assert reasons == [E.HEARTBEAT_CANCEL_MSG]


def test_heartbeat_kept_alive_keeps_orders() -> None:
    ex = exchange()
    buy(ex, "a", YES, 500_000, 10 * M, now=0)
    for t in range(0, 60, 5):
        ex.heartbeat("a", t * S)
        ex.advance(t * S + 4 * S)

    assert len(ex.open_orders("a")) == 1


def test_gtd_order_expires_at_its_expiration() -> None:
    ex = exchange()
    result = buy(ex, "a", YES, 500_000, 10 * M, now=100 * S, order_type="GTD",
                 expiration_s=200)

    ex.advance(200 * S - 1)
    assert len(ex.open_orders("a")) == 1
    ex.advance(200 * S)

    assert ex.order(result.order_id).status == "CANCELED"  # type: ignore[union-attr]
    assert ex.balance("a").available_micros == START


def test_match_delay_parks_marketable_order_then_matches() -> None:
    ex = exchange(delay_ns=3 * S)
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 10 * M)

    result = buy(ex, "a", YES, 500_000, 10 * M, now=1 * S)
    assert result.status == "delayed"
    assert ex.order(result.order_id).status == "DELAYED"  # type: ignore[union-attr]
    ex.advance(4 * S)

    assert ex.order(result.order_id).status == "MATCHED"  # type: ignore[union-attr]
    assert holdings(ex, "a") == (START - 5 * M, 10 * M, 0)


def test_match_delay_unmatched_when_liquidity_left() -> None:
    ex = exchange(delay_ns=3 * S)
    ex.split("m", CID, 100 * M)
    maker = sell(ex, "m", YES, 500_000, 10 * M)
    result = buy(ex, "a", YES, 500_000, 10 * M, now=1 * S)

    ex.cancel("m", maker.order_id, 2 * S)
    ex.advance(4 * S)

    view = ex.order(result.order_id)
    assert view is not None and view.status == "UNMATCHED"
    assert ex.open_orders("a") == [view]


def test_tick_size_change_emits_events_and_enforces_new_grid() -> None:
    ex = exchange()

    ex.set_tick_size(CID, 1_000, 7)
    fine = buy(ex, "a", YES, 523_000, 10 * M)
    ex.set_tick_size(CID, 10_000, 8)
    coarse = buy(ex, "a", YES, 523_000, 10 * M)

    changes = of_kind(ex.take_events(), TickSizeChange)
    assert [(c.asset_id, c.old_tick_micros, c.new_tick_micros) for c in changes] == [
        (YES, 10_000, 1_000), (NO, 10_000, 1_000), (YES, 1_000, 10_000), (NO, 1_000, 10_000)]
    assert fine.success and coarse.code == E.MIN_TICK_SIZE
    with pytest.raises(SimError):
        ex.set_tick_size(CID, 3_000, 9)


def test_suggested_tick_follows_extreme_prices() -> None:
    ex = exchange()
    buy(ex, "a", YES, 500_000, 10 * M)
    assert ex.markets.suggested_tick(CID) == 10_000

    buy(ex, "a", YES, 970_000, 10 * M)

    assert ex.markets.suggested_tick(CID) == 1_000


def test_closing_market_cancels_everything() -> None:
    ex = exchange()
    buy(ex, "a", YES, 500_000, 10 * M)
    buy(ex, "b", NO, 300_000, 10 * M)

    ex.set_market_status(CID, 5, accepting_orders=False, closed=True)

    assert ex.open_orders("a") == ex.open_orders("b") == []
    assert ex.problems() == []


# --- settlement -------------------------------------------------------------------------------


def _one_trade(fees: FeeSchedule | None = None) -> tuple[Exchange, str]:
    ex = exchange(fees=fees)
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 600_000, 10 * M, now=0)
    result = buy(ex, "t", YES, 600_000, 10 * M, now=1 * S)
    ex.take_events()
    return ex, result.trade_ids[0]


def _trade(ex: Exchange, trade_id: str) -> Trade:
    trade = ex.trade(trade_id)
    assert trade is not None
    return trade


def test_settlement_progresses_matched_mined_confirmed() -> None:
    ex, trade_id = _one_trade()

    ex.advance(3 * S - 1)
    assert _trade(ex, trade_id).status == "MATCHED"
    ex.advance(3 * S)
    mined = _trade(ex, trade_id)
    ex.advance(13 * S)

    assert mined.status == "MINED" and mined.transaction_hash.startswith("0x")
    final = _trade(ex, trade_id)
    assert (final.status, final.last_update_ns) == ("CONFIRMED", 13 * S)
    events = of_kind(ex.take_events(), TradeEvent)
    assert [e.trade.status for e in events] == ["MINED", "CONFIRMED"]


def test_settlement_retry_then_mined_again() -> None:
    ex, trade_id = _one_trade()

    ex.retry_trade(trade_id, 2 * S)
    ex.advance(5 * S)  # the original MINED slot (3 s) is void now
    assert _trade(ex, trade_id).status == "RETRYING"
    ex.advance(6 * S)

    assert _trade(ex, trade_id).status == "MINED"
    statuses = [e.trade.status for e in of_kind(ex.take_events(), TradeEvent)]
    assert statuses == ["RETRYING", "MINED"]


def test_settlement_failed_reverses_balances() -> None:
    ex, trade_id = _one_trade(CRYPTO)
    before_fail = holdings(ex, "t")

    ex.fail_trade(trade_id, 2 * S)

    assert before_fail[1] < 10 * M  # the fee was withheld in shares
    assert holdings(ex, "t") == (START, 0, 0)
    assert holdings(ex, "m") == (START - 100 * M, 100 * M, 100 * M)
    assert ex.ledger.fees.tokens.get(YES, 0) == 0
    assert _trade(ex, trade_id).status == "FAILED"
    assert ex.problems() == []
    ex.advance(60 * S)
    assert _trade(ex, trade_id).status == "FAILED"


def test_settlement_fail_refused_when_tokens_spent_or_confirmed() -> None:
    ex, trade_id = _one_trade()
    sell(ex, "t", YES, 700_000, 10 * M, now=2 * S)  # holds the bought shares

    with pytest.raises(SimError, match="cannot fail"):
        ex.fail_trade(trade_id, 2 * S)
    ex.advance(100 * S)
    with pytest.raises(SimError, match="CONFIRMED"):
        ex.fail_trade(trade_id, 101 * S)


# --- fees -------------------------------------------------------------------------------------


def test_taker_sell_fee_in_collateral_maker_free() -> None:
    ex = exchange(fees=CRYPTO)
    ex.split("t", CID, 100 * M)
    buy(ex, "m", YES, 500_000, 100 * M)

    result = sell(ex, "t", YES, 500_000, 100 * M)

    trade = ex.trade(result.trade_ids[0])
    assert trade is not None
    assert (trade.fee_collateral_micros, trade.fee_shares_micros, trade.fee_rate_bps) == (
        1_750_000, 0, 700)
    assert result.taking_amount_micros == 50 * M - 1_750_000
    assert holdings(ex, "m") == (START - 50 * M, 100 * M, 0)
    assert ex.ledger.fees.collateral == 1_750_000
    assert ex.problems() == []


def test_taker_buy_fee_withheld_in_shares() -> None:
    ex = exchange(fees=CRYPTO)
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 100 * M)

    result = buy(ex, "t", YES, 500_000, 100 * M)

    assert result.taking_amount_micros == 100 * M - 3_500_000  # 1.75 / 0.5 shares
    assert ex.ledger.fees.tokens[YES] == 3_500_000
    assert ex.problems() == []


# --- queries, ids, determinism ------------------------------------------------------------------


def test_trades_query_covers_taker_and_maker() -> None:
    ex = exchange()
    buy(ex, "m", NO, 400_000, 10 * M)
    buy(ex, "t", YES, 600_000, 10 * M)

    assert [t.trader_side("t") for t in ex.trades("t")] == ["TAKER"]
    assert [t.trader_side("m") for t in ex.trades("m", asset_id=NO)] == ["MAKER"]
    assert ex.trades("m", market="0xother") == []


def test_generated_ids_have_venue_shapes() -> None:
    ex, trade_id = _one_trade()
    order_id = _trade(ex, trade_id).taker_order_id

    assert order_id.startswith("0x") and len(order_id) == 66
    assert [len(p) for p in trade_id.split("-")] == [8, 4, 4, 4, 12]


def test_closed_orders_forgotten_beyond_retention() -> None:
    ex = exchange(order_retention=2)
    ids = [buy(ex, "a", YES, 500_000, 10 * M).order_id for _ in range(3)]
    for order_id in ids:
        ex.cancel("a", order_id, 1)

    assert [ex.order(i) is None for i in ids] == [True, False, False]


def _script() -> list[bytes]:
    ex = exchange(fees=CRYPTO, delay_ns=0)
    ex.split("m", CID, 100 * M)
    out: list[bytes] = []
    for i in range(30):
        side, token = (("BUY", YES), ("SELL", YES), ("BUY", NO))[i % 3]
        ex.place(order("m" if side == "SELL" else f"u{i % 4}", token, side,
                       400_000 + 10_000 * (i % 7), (5 + i % 4) * M), i * S)
        ex.advance(i * S)
        out.extend(msgspec.json.encode(e) for e in ex.take_events())
    return out


def test_same_calls_same_events() -> None:
    assert _script() == _script()


def test_neg_risk_markets_grouped_by_event() -> None:
    ex = exchange()
    ex.add_market(market_info("0x" + "e1" * 32, "41", "42", group="0xevent"))
    ex.add_market(market_info("0x" + "e2" * 32, "43", "44", group="0xevent"))

    assert ex.neg_risk_events() == {"0xevent": ("0x" + "e1" * 32, "0x" + "e2" * 32)}
    assert ex.market_info("0x" + "e2" * 32).neg_risk
    assert [m.condition_id for m in ex.all_markets()] == [CID, "0x" + "e1" * 32, "0x" + "e2" * 32]


@pytest.mark.parametrize(
    "info",
    [market_info(yes=YES, no=YES), market_info(tick=3_000), market_info(min_size=0),
     market_info(fees=FeeSchedule(rate=Decimal("1.5")))],
)
def test_add_market_refuses_malformed(info: MarketInfo) -> None:
    ex = Exchange()

    with pytest.raises(SimError):
        ex.add_market(info)


def test_add_market_refuses_clashing_ids() -> None:
    ex = exchange()

    with pytest.raises(SimError, match="registered"):
        ex.add_market(market_info())
    with pytest.raises(SimError, match="another market"):
        ex.add_market(market_info("0x" + "f0" * 32, "77", NO))


def test_ids_depend_on_seed_only() -> None:
    a, b, c = exchange(), exchange(), exchange(seed="other")

    ids = [buy(x, "u", YES, 500_000, 10 * M).order_id for x in (a, b, c)]

    assert ids[0] == ids[1] != ids[2]


def test_settled_trades_forgotten_beyond_retention() -> None:
    ex = exchange(trade_retention=1)
    ex.split("m", CID, 100 * M)
    sell(ex, "m", YES, 500_000, 20 * M)
    first = buy(ex, "t", YES, 500_000, 10 * M).trade_ids[0]
    second = buy(ex, "t", YES, 500_000, 10 * M).trade_ids[0]

    ex.advance(60 * S)

    assert ex.trade(first) is None
    assert _trade(ex, second).status == "CONFIRMED"
    assert [t.id for t in ex.trades("t")] == [second]
