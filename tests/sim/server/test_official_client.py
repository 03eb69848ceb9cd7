# The official py-clob-client-v2, unmodified, trading on the simulator over loopback: the bar
# of issue 4. The sync client runs in the test thread, the server in a ServerThread.
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

pytest.importorskip("py_clob_client_v2")

from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import (
    AssetType,
    BalanceAllowanceParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderPayload,
    OrderType,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException

from polyarb.sim.server import DEV_PRIVATE_KEY, ServerThread, SimServer
from tests.sim.server.helpers import OTHER_KEY, config, scenario

Served = tuple[ServerThread, SimServer]


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    thread = ServerThread(SimServer(config(), scenario()))
    srv = thread.start()
    yield thread, srv
    thread.stop()


def _client(srv: SimServer, key: str) -> ClobClient:
    client = ClobClient(srv.url, chain_id=137, key=key)
    client.set_api_creds(client.create_or_derive_api_key())
    return client


def _best_ask(client: ClobClient, token: str) -> float:
    book = client.get_order_book(token)
    return min(float(level["price"]) for level in book["asks"])


def test_official_client_create_then_derive_same_credentials(server: Served) -> None:
    _, srv = server
    client = ClobClient(srv.url, chain_id=137, key=OTHER_KEY)
    created = client.create_api_key()
    with pytest.raises(PolyApiException) as err:
        client.create_api_key()
    derived = client.derive_api_key()
    assert err.value.status_code == 400
    assert "Could not create api key" in str(err.value.error_msg)
    assert (derived.api_key, derived.api_secret, derived.api_passphrase) == (
        created.api_key, created.api_secret, created.api_passphrase)


def test_official_client_limit_order_lifecycle_rests_lists_and_cancels(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[0].tokens[0].token_id
    book = client.get_order_book(token)
    assert book["asset_id"] == token and book["bids"] and book["asks"]
    posted = client.create_and_post_order(OrderArgsV2(token_id=token, price=0.05, size=10,
                                                      side="BUY"))
    listed = client.get_open_orders(OpenOrderParams(asset_id=token))
    cancelled = client.cancel_order(OrderPayload(orderID=posted["orderID"]))
    after = client.get_open_orders(OpenOrderParams(asset_id=token))
    assert posted["success"] is True and posted["status"] == "live"
    assert [o["id"] for o in listed] == [posted["orderID"]]
    assert listed[0]["price"] == "0.05" and listed[0]["original_size"] == "10"
    assert cancelled == {"canceled": [posted["orderID"]], "not_canceled": {}}
    assert after == []


def test_official_client_batch_of_three_all_live_then_cancel_all(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[1].tokens[1].token_id
    args = [PostOrdersV2Args(order=client.create_order(
        OrderArgsV2(token_id=token, price=0.03, size=5 + i, side="BUY")),
        orderType=OrderType.GTC) for i in range(3)]
    results = client.post_orders(args)
    listed = client.get_open_orders(OpenOrderParams(asset_id=token))
    cancelled = client.cancel_all()
    assert [r["status"] for r in results] == ["live"] * 3
    assert sorted(o["id"] for o in listed) == sorted(r["orderID"] for r in results)
    assert sorted(cancelled["canceled"]) == sorted(r["orderID"] for r in results)


def test_official_client_crossing_order_fills_and_settles(server: Served) -> None:
    thread, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[0].tokens[0].token_id
    ask = _best_ask(client, token)
    before = int(client.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))["balance"])
    posted = client.create_and_post_order(OrderArgsV2(token_id=token, price=ask, size=10,
                                                      side="BUY"))
    trades = client.get_trades(TradeParams(id=posted["tradeIDs"][0]))
    shares = client.get_balance_allowance(BalanceAllowanceParams(
        asset_type=AssetType.CONDITIONAL, token_id=token))
    after = int(client.get_balance_allowance(
        BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))["balance"])
    assert posted["status"] == "matched" and posted["takingAmount"] == "10"
    assert posted["transactionsHashes"]  # the client polled /data/trades until MINED
    assert trades[0]["status"] in ("MINED", "CONFIRMED") and trades[0]["trader_side"] == "TAKER"
    assert int(shares["balance"]) == 10_000_000
    assert before - after == int(Decimal(str(ask)) * 10 * 1_000_000)
    assert thread.call(lambda s: s.venue.exchange.problems()) == []  # conservation holds


def test_official_client_market_order_resolves_market_info_by_token(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[1].tokens[0].token_id
    posted = client.create_and_post_market_order(
        MarketOrderArgsV2(token_id=token, amount=5, side="BUY"), order_type=OrderType.FAK)
    assert posted["success"] is True and posted["status"] == "matched"
    assert float(posted["makingAmount"]) <= 5.0


def test_official_client_neg_risk_order_signed_for_the_neg_risk_exchange(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[-1].tokens[0].token_id
    assert client.get_neg_risk(token) is True
    posted = client.create_and_post_order(OrderArgsV2(token_id=token, price=0.02, size=5,
                                                      side="BUY"))
    assert posted["success"] is True and posted["status"] == "live"
    client.cancel_orders([posted["orderID"]])


def test_official_client_rejection_is_a_400_with_the_venue_message(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    token = scenario().markets()[0].tokens[0].token_id
    with pytest.raises(PolyApiException) as err:
        client.create_and_post_order(OrderArgsV2(token_id=token, price=0.5, size=1, side="BUY"))
    assert err.value.status_code == 400
    assert "lower than the minimum: 5" in str(err.value.error_msg)


def test_official_client_heartbeat_and_market_reads(server: Served) -> None:
    _, srv = server
    client = _client(srv, DEV_PRIVATE_KEY)
    info = scenario().markets()[0]
    token = info.tokens[0].token_id
    hb = client.post_heartbeat("")
    markets = client.get_markets()
    assert isinstance(hb["heartbeat_id"], str) and hb["heartbeat_id"]
    assert client.get_tick_size(token) == "0.01"
    assert client.get_market(info.condition_id)["tokens"][0]["token_id"] == token
    assert client.get_clob_market_info(info.condition_id)["c"] == info.condition_id
    assert markets["next_cursor"] == "LTE=" and len(markets["data"]) == 4
    assert float(client.get_midpoint(token)["mid"]) > 0
    assert client.get_server_time() > 1_600_000_000
