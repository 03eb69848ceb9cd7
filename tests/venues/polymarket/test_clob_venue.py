# PolymarketVenue over httpx.MockTransport: one result event per intent (accepted / rejected /
# unknown), batching, exact signed amounts, the id map, order_version_mismatch, cancels, the
# REST reads and the heartbeat timer. No secret reaches an event.
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events.decisions import CancelOrders, OpportunityBlocked
from polyarb.events.inputs import (
    CancelFailed,
    HeartbeatResult,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    RestSnapshot,
    TradeUpdated,
)
from polyarb.venues.base import Venue, execute, sweep
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.amounts import AmountError
from polyarb.venues.polymarket.clob import ClobError
from polyarb.venues.polymarket.order_builder import parse_wire_order
from polyarb.venues.polymarket.venue import GTD_SECURITY_S, Heartbeater, intent_amounts
from tests.venues.polymarket.recorded.harness import (
    ADDRESS,
    API_KEY,
    PASSPHRASE,
    SECRET,
    T0_NS,
    FakeClock,
    FakeSleep,
    Router,
    batch,
    has_marker,
    intent,
    make_venue,
    order_hashes,
    order_reply,
    payload,
    run,
    texts,
)

A1, A2, A3 = ("0x" + format(n, "064x") for n in (0xA1, 0xA2, 0xA3))


def _router() -> Router:
    return Router(FakeClock())


def _orders(seen_body: bytes) -> list[dict[str, Any]]:
    obj = orjson.loads(seen_body)
    return obj if isinstance(obj, list) else [obj]


def test_venue_place_single_gtc_posts_one_signed_order() -> None:
    router = _router().add("POST", "/order", order_reply("order_live.json"))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("c1", price=520_000, size=100_000_000))))
    [seen] = router.seen
    [entry] = _orders(seen.body)
    assert seen.auth == "l2" and entry["owner"] == API_KEY and entry["orderType"] == "GTC"
    assert entry["postOnly"] is False
    order = entry["order"]
    assert (order["makerAmount"], order["takerAmount"], order["side"]) == (
        "52000000", "100000000", "BUY")
    assert order["maker"] == order["signer"] == ADDRESS and order["expiration"] == "0"
    assert order["timestamp"] == str(T0_NS // 1_000_000)
    assert ev == OrderAccepted(ts_recv_ns=T0_NS, client_order_id="c1",
                               venue_order_id=order_hashes(seen.body)[0], status="live")
    assert venue.venue_order_id("c1") == ev.venue_order_id
    assert venue.client_order_id(ev.venue_order_id) == "c1"


def test_venue_place_batch_maps_each_result_in_intent_order() -> None:
    router = _router().add("POST", "/orders", order_reply("batch_mixed.json"))
    venue = make_venue(router)
    evs = run(lambda: venue.place(batch(intent("c1"), intent("c2", side="SELL"),
                                        intent("c3", order_type="FOK"))))
    assert [type(e) for e in evs] == [OrderAccepted, OrderRejected, OrderAccepted]
    assert [e.client_order_id for e in evs] == ["c1", "c2", "c3"]
    assert [e["orderType"] for e in _orders(router.seen[0].body)] == ["GTC", "GTC", "FOK"]
    assert venue.venue_order_id("c2") == order_hashes(router.seen[0].body)[1]


def test_venue_place_more_than_15_splits_into_batches() -> None:
    router = _router().add("POST", "/orders", lambda r: httpx.Response(
        200, content=orjson.dumps([{"success": True, "orderID": h, "status": "live"}
                                   for h in order_hashes(r.content)])))
    venue = make_venue(router)
    evs = run(lambda: venue.place(batch(*(intent(f"c{i}") for i in range(20)))))
    assert [len(_orders(s.body)) for s in router.seen] == [15, 5]
    assert [e.client_order_id for e in evs] == [f"c{i}" for i in range(20)]
    assert all(isinstance(e, OrderAccepted) for e in evs)


def test_venue_place_unsignable_intents_rejected_locally_others_sent() -> None:
    router = _router().add("POST", "/orders", order_reply("batch_shuffled.json"))
    venue = make_venue(router)
    evs = run(lambda: venue.place(batch(
        intent("bad-price", price=555_000), intent("ok-1"), intent("bad-size", size=1_234_567),
        intent("ok-2"), intent("bad-tick", tick=7))))
    kinds = [(e.client_order_id, type(e).__name__) for e in evs]
    assert kinds == [("bad-price", "OrderRejected"), ("ok-1", "OrderAccepted"),
                     ("bad-size", "OrderRejected"), ("ok-2", "OrderAccepted"),
                     ("bad-tick", "OrderRejected")]
    assert all(e.reason.startswith("not sent: ") and e.http_status is None
               and e.reason_code == "invalid" for e in evs if isinstance(e, OrderRejected))
    assert len(_orders(router.seen[0].body)) == 2


def test_venue_place_only_unsignable_sends_nothing() -> None:
    router = _router()
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("x", price=0))))
    assert isinstance(ev, OrderRejected) and router.seen == []


@pytest.mark.parametrize(("side", "order_type", "price", "size", "maker", "taker"), [
    ("BUY", "GTC", 530_000, 10_370_000, 5_496_100, 10_370_000),
    ("BUY", "FOK", 500_000, 10_000_000, 5_000_000, 10_000_000),     # whole cents: exact
    ("BUY", "FOK", 530_000, 10_370_000, 5_490_000, 10_358_400),     # cents rounded down
    ("BUY", "FAK", 3_000, 1_000_000_000, 3_000_000, 1_000_000_000),
    ("SELL", "FOK", 530_000, 10_370_000, 10_370_000, 5_496_100),    # market SELL: limit rule
    ("SELL", "GTC", 71_000, 12_340_000, 12_340_000, 876_140),
])
def test_intent_amounts_table(side: str, order_type: str, price: int, size: int, maker: int,
                              taker: int) -> None:
    tick = 1_000 if price % 10_000 else 10_000
    got = intent_amounts(intent("c", side=side, order_type=order_type, price=price, size=size,
                                tick=tick))
    assert (got.maker_amount, got.taker_amount) == (maker, taker)


@settings(max_examples=300, deadline=None)
@given(ticks=st.integers(1, 99), cents=st.integers(1, 100_000),
       tick=st.sampled_from([10_000, 1_000]))
def test_intent_amounts_market_buy_never_exceeds_the_decision(ticks: int, cents: int,
                                                              tick: int) -> None:
    price = ticks * tick if tick == 10_000 else ticks * 10 * tick
    size = cents * 10_000
    order = intent("c", order_type="FOK", price=price, size=size, tick=tick)
    if size * price < 10_000 * 1_000_000:  # worth less than a cent: refused, never rounded up
        with pytest.raises(AmountError):
            intent_amounts(order)
        return
    got = intent_amounts(order)
    assert got.maker_amount % 10_000 == 0 and got.taker_amount % 100 == 0  # 2 and 4 decimals
    assert got.maker_amount <= size * price // 1_000_000 and got.taker_amount <= size
    # implied price maker/taker: at least the limit (the venue floors a market BUY's price to
    # the tick) and above it by less than one 0.0001-share step
    assert 0 <= got.maker_amount * 1_000_000 - got.taker_amount * price < price * 100
    assert size - got.taker_amount <= 10_000 * 1_000_000 // price + 100


def test_venue_place_gtd_and_post_only_options() -> None:
    router = _router().add("POST", "/orders", order_reply("batch_shuffled.json"))
    venue = make_venue(router)
    venue.post_only, venue.gtd_ttl_s = True, 90
    run(lambda: venue.place(batch(intent("gtd", order_type="GTD"),
                                  intent("fok", order_type="FOK"))))
    gtd, fok = _orders(router.seen[0].body)
    assert gtd["order"]["expiration"] == str(T0_NS // 10**9 + GTD_SECURITY_S + 90)
    assert (gtd["postOnly"], fok["postOnly"]) == (True, False)
    assert fok["order"]["expiration"] == "0"


def test_venue_place_neg_risk_signs_for_the_neg_risk_exchange() -> None:
    router = _router().add("POST", "/order", order_reply("order_live.json", neg_risk=True))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("nr", neg_risk=True))))
    order, signature = parse_wire_order(_orders(router.seen[0].body)[0]["order"])
    assert sg.verify_order_signature(order, signature, sg.order_domain(137, True)) == ADDRESS
    assert ev.venue_order_id == order_hashes(router.seen[0].body, neg_risk=True)[0]


@pytest.mark.parametrize("responder", [
    (500, payload("error_500.json")), httpx.ReadTimeout("slow"),
    httpx.RemoteProtocolError("peer closed")])
def test_venue_place_unknown_outcome_keeps_hash_for_cancel(responder: Any) -> None:
    router = _router().add("POST", "/order", responder).reply("DELETE", "/order", 200,
                                                              "cancel_one.json")
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("u1"))))
    sent_hash = order_hashes(router.seen[0].body)[0]
    assert isinstance(ev, OrderOutcomeUnknown) and ev.reason.endswith(sent_hash)
    assert len(router.calls("POST", "/order")) == 1  # never re-sent
    run(lambda: venue.cancel(["u1"]))
    assert orjson.loads(router.calls("DELETE", "/order")[0].body) == {"orderID": sent_hash}


def test_venue_version_mismatch_rereads_version_and_resends_once() -> None:
    router = (_router().reply("POST", "/order", 400, "error_400_version.json")
              .add("POST", "/order", order_reply("order_live.json"))
              .reply("GET", "/version", 200, "version_2.json"))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("v1"))))
    first, second = router.calls("POST", "/order")
    assert isinstance(ev, OrderAccepted) and venue.resent == 1
    assert order_hashes(first.body) != order_hashes(second.body)  # fresh salt: new order
    assert ev.venue_order_id == order_hashes(second.body)[0] == venue.venue_order_id("v1")
    assert venue.client_order_id(order_hashes(first.body)[0]) is None


def test_venue_version_mismatch_twice_stays_rejected() -> None:
    router = (_router().reply("POST", "/order", 400, "error_400_version.json")
              .reply("GET", "/version", 200, "version_2.json"))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("v1"))))
    assert isinstance(ev, OrderRejected) and "order_version_mismatch" in ev.reason
    assert len(router.calls("POST", "/order")) == 2


def test_venue_version_mismatch_newer_version_blocks_later_orders() -> None:
    router = (_router().reply("POST", "/order", 400, "error_400_version.json")
              .reply("GET", "/version", 200, "version_3.json"))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("v1"))))
    assert isinstance(ev, OrderRejected) and "venue order version 3, not re-sent" in ev.reason
    assert ev.reason_code == "invalid"  # the 400's code survives the rewrite
    assert venue.blocked_version == 3
    [later] = run(lambda: venue.place(batch(intent("v2"))))
    assert isinstance(later, OrderRejected) and later.reason.startswith("not sent: venue order")
    assert len(router.calls("POST", "/order")) == 1


def test_venue_version_mismatch_unreadable_version_not_resent() -> None:
    router = (_router().reply("POST", "/order", 400, "error_400_version.json")
              .reply("GET", "/version", 500, "error_500.json"))
    venue = make_venue(router)
    [ev] = run(lambda: venue.place(batch(intent("v1"))))
    assert "venue order version unreadable" in ev.reason and venue.blocked_version is None


def test_venue_version_mismatch_in_batch_resends_only_that_order() -> None:
    router = (_router().add("POST", "/orders", order_reply("batch_version_mismatch.json"))
              .add("POST", "/order", order_reply("order_live.json"))
              .reply("GET", "/version", 200, "version_2.json"))
    venue = make_venue(router)
    evs = run(lambda: venue.place(batch(intent("b1"), intent("b2", side="SELL"))))
    assert [type(e) for e in evs] == [OrderAccepted, OrderAccepted]
    resent = _orders(router.calls("POST", "/order")[0].body)
    assert len(resent) == 1 and resent[0]["order"]["side"] == "SELL"


def test_venue_cancel_maps_ids_and_splits_large_requests() -> None:
    router = (_router().add("POST", "/order", order_reply("order_live.json"))
              .reply("DELETE", "/orders", 200, "cancel_mixed.json"))
    venue = make_venue(router)
    run(lambda: venue.place(batch(intent("c1"))))
    venue.remember("c-a1", A1)
    evs = run(lambda: venue.cancel(["c-a1", "nope"], venue_order_ids=[A2, A3]))
    assert evs[0] == CancelFailed(ts_recv_ns=T0_NS, venue_order_id="",
                                  reason="not sent: unknown client order id nope")
    assert OrderCancelled(ts_recv_ns=T0_NS, venue_order_id=A1, client_order_id="c-a1") in evs
    assert orjson.loads(router.calls("DELETE", "/orders")[0].body) == [A1, A2, A3]
    many = [f"0x{i:064x}" for i in range(3001)]
    run(lambda: venue.cancel(venue_order_ids=many))
    assert len(orjson.loads(router.calls("DELETE", "/orders")[1].body)) == 3000
    assert orjson.loads(router.calls("DELETE", "/order")[0].body) == {"orderID": many[-1]}


def test_venue_cancel_malformed_venue_ids_refused_locally() -> None:
    router = _router().reply("DELETE", "/order", 200, "cancel_one.json")
    venue = make_venue(router)
    evs = run(lambda: venue.cancel(venue_order_ids=["0x'; drop", "", A1]))
    assert [type(e).__name__ for e in evs] == ["CancelFailed", "CancelFailed", "OrderCancelled"]
    assert evs[0].reason == "not sent: malformed venue order id"
    assert len(router.seen) == 1


def test_clob_l2_body_with_quote_is_refused_not_sent() -> None:
    router = _router()
    venue = make_venue(router)
    with pytest.raises(ClobError, match="not sent"):
        run(lambda: venue.client.post_order("{\"owner\":\"o'k\"}"))
    assert router.seen == []


def test_venue_cancel_all_success_and_failure() -> None:
    router = (_router().reply("DELETE", "/cancel-all", 200, "cancel_all.json")
              .reply("DELETE", "/cancel-all", 401, "error_401.json"))
    venue = make_venue(router)
    ok = run(venue.cancel_all)
    assert [type(e) for e in ok] == [OrderCancelled] * 3
    [failed] = run(venue.cancel_all)
    assert isinstance(failed, CancelFailed) and failed.venue_order_id == "*"
    assert failed.reason.startswith("refused: http 401")


def test_venue_open_orders_journals_pages_then_updates() -> None:
    router = (_router().reply("GET", "/data/orders", 200, "open_orders_page1.json")
              .reply("GET", "/data/orders", 200, "open_orders_page2.json"))
    venue = make_venue(router)
    evs = run(venue.open_orders)
    assert [type(e).__name__ for e in evs] == [
        "RestSnapshot", "OrderUpdated", "OrderUpdated", "RestSnapshot", "OrderUpdated"]
    second = evs[2]
    assert isinstance(second, OrderUpdated)
    assert (second.venue_order_id, second.side, second.size_matched_micros,
            second.ts_venue_ns) == (A2, "SELL", 5_250_000, 1_776_000_002 * 10**9)
    assert venue.parse_issues == 1  # the HOLD row: logged, its page journaled


def test_venue_trades_parse_fills_with_fees_and_after_filter() -> None:
    router = _router().reply("GET", "/data/trades", 200, "trades_page.json")
    venue = make_venue(router)
    evs = run(lambda: venue.trades(after_s=1_776_000_000))
    assert router.seen[0].query == {"after": "1776000000", "next_cursor": "MA=="}
    snap, taker, maker = evs
    assert isinstance(snap, RestSnapshot) and isinstance(taker, TradeUpdated)
    assert (taker.status, taker.trader_side, taker.side, taker.size_micros,
            taker.fee_micros) == ("CONFIRMED", "TAKER", "BUY", 10_000_000, 192_000)
    assert isinstance(maker, TradeUpdated) and maker.trader_side == "MAKER"
    assert (maker.venue_order_id, maker.side, maker.fee_micros) == (A1, "BUY", 0)
    assert maker.ts_venue_ns == 1_776_000_015 * 10**9  # ISO last_update, exact
    assert venue.parse_issues == 1  # the SETTLING row


def test_venue_sweep_reads_orders_then_trades() -> None:
    router = (_router().reply("GET", "/data/orders", 200, "open_orders_page2.json")
              .reply("GET", "/data/trades", 200, "trades_page.json"))
    evs = run(lambda: sweep(make_venue(router), None))
    assert [s.path for s in router.seen] == ["/data/orders", "/data/trades"]
    assert "after" not in router.seen[1].query
    assert sum(isinstance(e, RestSnapshot) for e in evs) == 2


def test_venue_heartbeat_chains_ids_and_resets_after_failure() -> None:
    router = (_router().reply("POST", "/v1/heartbeats", 200, "heartbeat_ok.json")
              .reply("POST", "/v1/heartbeats", 200, "heartbeat_error.json")
              .reply("POST", "/v1/heartbeats", 200, "heartbeat_next.json"))
    venue = make_venue(router)

    async def main() -> list[HeartbeatResult]:
        return [await venue.heartbeat() for _ in range(3)]

    results = run(main)
    assert [r.ok for r in results] == [True, False, True]
    assert [orjson.loads(s.body)["heartbeat_id"] for s in router.seen] == [
        "", "7b1f0c2e9a4d4e21b3c5d6e7f8091a2b", ""]


def test_heartbeater_beats_only_while_active() -> None:
    router = (_router().reply("POST", "/v1/heartbeats", 200, "heartbeat_ok.json")
              .reply("POST", "/v1/heartbeats", 503, "error_503_disabled.json"))
    venue = make_venue(router)
    active = iter([True, False, True, True])
    got: list[Any] = []
    sleep = FakeSleep()
    beater = Heartbeater(venue, got.append, interval_s=5.0, active=lambda: next(active),
                         sleep=sleep)
    run(lambda: beater.run(beats=4))
    assert [r.ok for r in got] == [True, False, False]
    assert (beater.sent, beater.failures) == (3, 2) and sleep.delays == [5.0] * 4


def test_heartbeater_start_and_stop_task() -> None:
    router = _router().reply("POST", "/v1/heartbeats", 200, "heartbeat_ok.json")
    venue = make_venue(router)
    got: list[Any] = []

    async def main() -> None:
        beater = Heartbeater(venue, got.append, interval_s=0.001)
        task = beater.start()
        assert beater.start() is task
        while not got:
            await asyncio.sleep(0.001)
        await beater.stop()
        assert task.cancelled()

    run(main)


def test_execute_dispatches_decisions() -> None:
    router = (_router().add("POST", "/order", order_reply("order_live.json"))
              .add("DELETE", "/order", lambda r: httpx.Response(
                  200, content=orjson.dumps({"canceled": [orjson.loads(r.content)["orderID"]]}))))
    venue = make_venue(router)
    assert isinstance(venue, Venue)

    async def main() -> list[Any]:
        placed = await execute(venue, batch(intent("e1")))
        cancelled = await execute(venue, CancelOrders(ts_recv_ns=0, cause_seq=1,
                                                      client_order_ids=("e1",), reason="t"))
        other = await execute(venue, OpportunityBlocked(
            ts_recv_ns=0, cause_seq=2, opp_id="o", gate="g", limit=Decimal(0),
            observed=Decimal(0)))
        return [placed, cancelled, other]

    placed, cancelled, other = run(main)
    assert isinstance(placed[0], OrderAccepted) and other == []
    assert router.calls("DELETE", "/order")[0].body == orjson.dumps(
        {"orderID": placed[0].venue_order_id})
    assert cancelled == [OrderCancelled(ts_recv_ns=T0_NS, client_order_id="e1",
                                        venue_order_id=placed[0].venue_order_id)]


def test_venue_events_and_repr_never_hold_secrets() -> None:
    leak = orjson.dumps({"error": f"echo {API_KEY} {SECRET} {PASSPHRASE}"})
    router = (_router().add("POST", "/orders", (400, leak))
              .add("DELETE", "/cancel-all", (500, leak))
              .add("POST", "/v1/heartbeats", (401, leak))
              .reply("GET", "/data/trades", 200, "trades_page.json"))
    venue = make_venue(router)

    async def main() -> list[Any]:
        out = await venue.place(batch(intent("s1"), intent("s2"), intent("s3", price=1)))
        out += await venue.cancel_all()
        out.append(await venue.heartbeat())
        out += await venue.trades()
        return out

    evs = run(main)
    journal = texts([e for e in evs if not isinstance(e, RestSnapshot)])
    assert "<redacted>" in journal and not has_marker(journal)
    assert not has_marker(repr(venue)) and not has_marker(repr(venue.identity()))
