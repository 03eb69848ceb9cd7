# Every fault class, observed from a client (rates 1.0 or a fixed seed), plus the spec parser
# and the determinism of the fault schedule.
from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import websockets

from polyarb.sim.server import FaultConfig, FaultSpecError, parse_faults
from polyarb.sim.server.faults import Faults
from polyarb.sim.server.scenario import MM_OWNER
from tests.sim.server.helpers import (
    config,
    market_socket,
    recv_json,
    recv_until,
    run,
    scenario,
    serving,
    tokens,
    trader,
    user_socket,
)


def _faulty(**rates: Any) -> Any:
    return config(faults=FaultConfig(**rates))


def _sub(ids: list[str]) -> str:
    return orjson.dumps({"assets_ids": ids, "type": "market"}).decode()


def _price(micros: int) -> str:
    return str(Decimal(micros) / 10**6)


# --- spec and schedule -----------------------------------------------------------------------


def test_parse_faults_reads_rates_durations_and_seed() -> None:
    cfg = parse_faults("disconnect=0.01, http503=0.05,lost_response=1,stall_s=2.5,seed=x,")
    assert (cfg.disconnect, cfg.http503, cfg.lost_response, cfg.stall_s, cfg.seed) == (
        0.01, 0.05, 1.0, 2.5, "x")
    assert parse_faults("") == FaultConfig()


@pytest.mark.parametrize(("spec", "message"), [
    ("explode=0.1", "unknown fault 'explode'"),
    ("http500", "needs a value"),
    ("http500=lots", "is not a number"),
    ("http500=1.5", "outside [0, 1]"),
    ("stall_s=-1", "outside [0, 86400)"),
])
def test_parse_faults_rejects_bad_specs_naming_the_part(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=re.escape(message)):
        parse_faults(spec)


def test_faults_same_seed_same_schedule_and_classes_independent() -> None:
    a = Faults(FaultConfig(http500=0.3), "s")
    b = Faults(FaultConfig(http500=0.3, disconnect=0.7), "s")
    c = Faults(FaultConfig(http500=0.3), "t")
    rolls_a = [a.hit("http500") for _ in range(200)]
    rolls_b = [(b.hit("disconnect"), b.hit("http500"))[1] for _ in range(200)]
    rolls_c = [c.hit("http500") for _ in range(200)]
    assert rolls_a == rolls_b and rolls_a != rolls_c
    assert 30 < sum(rolls_a) < 90 and a.counts["http500"] == sum(rolls_a)
    assert not any(Faults(FaultConfig(), "s").hit("http500") for _ in range(100))


# --- websocket faults ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _feed(cfg: Any, scen: Any = None) -> AsyncIterator[tuple[Any, Any]]:
    async with serving(cfg, scen) as server, await market_socket(server) as ws:
        yield server, ws


def test_fault_disconnect_drops_the_connection_without_close_frame() -> None:
    async def main() -> Any:
        async with _feed(_faulty(disconnect=1.0)) as (server, ws):
            await ws.send(_sub(tokens(server)))
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd, server.venue.faults.counts["disconnect"]
    rcvd, count = run(main)
    assert rcvd is None and count == 1


def test_fault_stall_answers_pong_but_sends_no_data() -> None:
    async def main() -> list[Any]:
        churn = scenario(churn_per_s=500.0, taker_share=0.0)
        async with _feed(_faulty(stall=1.0, stall_s=60.0), churn) as (server, ws):
            await ws.send(_sub(tokens(server)))
            await asyncio.sleep(0.2)  # the feed keeps changing meanwhile
            replies = []
            for _ in range(3):
                await ws.send("PING")
                replies.append(await recv_json(ws))
            return replies
    assert run(main) == ["PONG"] * 3


def test_fault_malformed_and_unknown_frames_come_before_the_real_one() -> None:
    async def main() -> list[Any]:
        async with _feed(_faulty(malformed=1.0, unknown=1.0)) as (server, ws):
            await ws.send(_sub(tokens(server)[:1]))
            return [await ws.recv() for _ in range(3)]
    bad, unknown, real = run(main)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad)
    assert orjson.loads(unknown)["event_type"] == "sim_unknown_event"
    assert orjson.loads(real)[0]["event_type"] == "book"


def test_fault_delay_holds_data_but_not_pong() -> None:
    async def main() -> list[Any]:
        async with _feed(_faulty(delay=1.0, delay_s=1.0)) as (server, ws):
            await ws.send(_sub(tokens(server)[:1]))
            await ws.send("PING")
            return [await recv_json(ws), await recv_json(ws)]
    pong, snapshot = run(main)
    assert pong == "PONG" and snapshot[0]["event_type"] == "book"


# --- HTTP faults -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status", "error"), [
    ("http429", 429, "Too Many Requests"),
    ("http500", 500, "Internal server error"),
])
def test_fault_http_errors_on_any_route(fault: str, status: int, error: str) -> None:
    async def main() -> Any:
        async with serving(_faulty(**{fault: 1.0})) as server, \
                httpx.AsyncClient(base_url=server.url) as http:
            return await http.get("/time")
    r = run(main)
    assert r.status_code == status and r.json() == {"error": error}


@pytest.mark.parametrize(("fault", "status"), [("http425", 425), ("http503", 503)])
def test_fault_trading_unavailable_only_on_order_routes(fault: str, status: int) -> None:
    async def main() -> tuple[Any, Any, list[Any]]:
        async with serving(_faulty(**{fault: 1.0})) as server, trader(server) as t:
            yes = tokens(server)[0]
            book = await t.http.get("/book", params={"token_id": yes})
            order = await t.place(yes, "BUY", "0.05", "10")
            return book, order, server.venue.exchange.open_orders(t.api_key)
    book, order, open_orders = run(main)
    assert book.status_code == 200 and order.status_code == status and open_orders == []


def test_fault_lost_response_order_exists_but_client_gets_500() -> None:
    async def main() -> tuple[Any, Any]:
        async with serving(_faulty(lost_response=1.0)) as server, trader(server) as t:
            r = await t.place(tokens(server)[0], "BUY", "0.05", "10")
            listed = await t.call("GET", "/data/orders")
            return r, listed
    r, listed = run(main)
    assert r.status_code == 500 and r.json() == {"error": "Internal server error"}
    assert [o["price"] for o in listed.json()["data"]] == ["0.05"]


def test_fault_timeout_drops_the_connection_after_accepting() -> None:
    async def main() -> tuple[str, Any]:
        async with serving(_faulty(timeout=1.0, timeout_s=0.1)) as server, trader(server) as t:
            try:
                await t.place(tokens(server)[0], "BUY", "0.05", "10")
                outcome = "answered"
            except httpx.TransportError as exc:
                outcome = type(exc).__name__
            return outcome, server.venue.exchange.open_orders(t.api_key)
    outcome, open_orders = run(main)
    assert outcome == "RemoteProtocolError" and len(open_orders) == 1


# --- exchange faults -------------------------------------------------------------------------


def test_fault_partial_fill_kills_fok_and_thins_fak() -> None:
    async def main() -> tuple[Any, Any, int]:
        async with serving(_faulty(partial_fill=1.0)) as server, trader(server) as t:
            yes = tokens(server)[0]
            ex = server.venue.exchange
            before = len(ex.open_orders(MM_OWNER))
            asks = ex.book_json(yes, 0)["asks"]  # 100, 200, 300 shares; best last
            # FOK 150 up to the second level: 300 could fill it, the 200 level vanishes first
            fok = await t.place(yes, "BUY", asks[-2]["price"], "150", "FOK")
            # FAK 150 up to the third level: the 300 level vanishes, 100 of 150 fill
            fak = await t.place(yes, "BUY", asks[-3]["price"], "150", "FAK")
            return fok, fak, before - len(ex.open_orders(MM_OWNER))
    fok, fak, gone = run(main)
    assert fok.status_code == 400 and fok.json() == {"error": "FOK orders are filled or killed"}
    assert fak.status_code == 200 and fak.json()["takingAmount"] == "100"
    assert gone == 3  # two levels cancelled under the orders, one filled


def test_fault_settle_fail_and_retry_show_on_the_user_channel() -> None:
    async def main(rates: dict[str, float]) -> list[str]:
        async with serving(_faulty(settle_after_s=0.02, **rates)) as server, \
                trader(server) as t:
            yes = tokens(server)[0]
            _, ask = server.venue.exchange.best_prices(yes)
            async with await user_socket(server) as ws:
                assert t.creds is not None
                await ws.send(orjson.dumps({"auth": {
                    "apiKey": t.api_key, "secret": t.creds.secret.reveal(),
                    "passphrase": t.creds.passphrase.reveal()}}).decode())
                await t.place(yes, "BUY", _price(ask), "10")
                seen = await recv_until(ws, lambda e: e.get("status") in ("FAILED", "CONFIRMED"))
            return [e["status"] for e in seen if e["event_type"] == "trade"]
    failed = asyncio.run(main({"settle_fail": 1.0}))
    retried = asyncio.run(main({"settle_retry": 1.0}))
    assert failed[0] == "MATCHED" and failed[-1] == "FAILED"
    assert "RETRYING" in retried and retried[-1] == "CONFIRMED"


def test_fault_heartbeat_lapse_cancels_resting_orders_and_answers_500() -> None:
    async def main() -> tuple[Any, Any, list[Any], list[Any]]:
        async with serving(_faulty(heartbeat_lapse=1.0)) as server, trader(server) as t:
            await t.place(tokens(server)[0], "BUY", "0.05", "10")
            ex = server.venue.exchange
            before = ex.open_orders(t.api_key)
            beat = await t.call("POST", "/v1/heartbeats", '{"heartbeat_id": ""}')
            stats = await t.http.get("/sim/stats")
            return beat, stats, before, ex.open_orders(t.api_key)
    beat, stats, before, after = run(main)
    assert beat.status_code == 500 and len(before) == 1 and after == []
    assert stats.status_code == 200 and stats.json()["faults"]["heartbeat_lapse"] == 1


def test_sim_stats_counts_faults_and_is_never_faulted_itself() -> None:
    async def main() -> tuple[Any, Any]:
        async with serving(_faulty(http500=1.0)) as server, \
                httpx.AsyncClient(base_url=server.url) as http:
            faulted = await http.get("/time")
            return faulted, await http.get("/sim/stats")
    faulted, stats = run(main)
    assert faulted.status_code == 500
    assert stats.status_code == 200 and stats.json()["faults"]["http500"] == 1
