# ClobClient retries (clob.py rule 3, clob_replies.should_retry, which is outcomes.verdict's
# "retry") over httpx.MockTransport:
# idempotent calls (GET, DELETE) retry 425/429/500/502/503/504 and transport failures with
# backoff (honouring Retry-After) up to RetryPolicy.attempts, then fail with a clear ClobError;
# POSTs (orders, heartbeats, API keys) are sent exactly once whatever the answer.
from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.venues.base import VenueError
from polyarb.venues.polymarket.clob import ClobError
from polyarb.venues.polymarket.clob_replies import should_retry
from polyarb.venues.polymarket.outcomes import verdict
from tests.venues.polymarket.recorded.harness import (
    API_KEY,
    PASSPHRASE,
    SECRET,
    TOKEN_Y,
    FakeClock,
    FakeSleep,
    Router,
    make_client,
    payload,
    run,
)


def _router() -> Router:
    return Router(FakeClock())


@pytest.mark.parametrize("status", [425, 429, 500, 502, 503, 504])
def test_clob_get_retryable_status_retries_with_backoff(status: int) -> None:
    router = _router().add("GET", "/version", (status, b'{"error":"x"}'), (status, b""),
                           (200, payload("version_2.json")))
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep)
    assert run(client.version) == 2
    assert len(router.seen) == 3 and sleep.delays == [1.0, 2.0]


def test_clob_get_retries_exhausted_raises_clob_error() -> None:
    router = _router().reply("GET", "/version", 503, "error_503_disabled.json")
    client = make_client(router, attempts=3)
    with pytest.raises(ClobError) as info:
        run(client.version)
    assert info.value.status == 503 and "Trading is currently disabled" in str(info.value)
    assert isinstance(info.value, VenueError) and len(router.seen) == 3


def test_clob_retry_after_header_lengthens_the_delay() -> None:
    router = _router().add("GET", "/time", lambda r: httpx.Response(
        429, headers={"Retry-After": "7"}, content=payload("error_429.json")))
    router.add("GET", "/time", (200, payload("time.json")))
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep)
    assert run(client.server_time) == 1_776_000_000
    assert sleep.delays == [7.0]


@pytest.mark.parametrize("status", [425, 429, 500, 503])
def test_clob_delete_cancel_retries_retryable_status(status: int) -> None:
    router = _router().add("DELETE", "/order", (status, b""), (200, payload("cancel_one.json")))
    client = make_client(router)
    reply = run(lambda: client.cancel(["0x" + "a1".rjust(64, "0")]))
    assert reply.status == 200 and len(router.seen) == 2


@pytest.mark.parametrize(("path", "call"), [
    ("/order", lambda c: c.post_order("{}")),
    ("/orders", lambda c: c.post_orders("[]")),
    ("/v1/heartbeats", lambda c: c.heartbeat("")),
])
@pytest.mark.parametrize("status", [425, 429, 503, 500])
def test_clob_post_never_retried(path: str, call: Any, status: int) -> None:
    router = _router().add("POST", path, (status, b'{"error":"x"}'), (200, b"{}"))
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep)
    reply = run(lambda: call(client))
    assert reply.status == status and len(router.seen) == 1 and sleep.delays == []


def test_clob_transport_error_on_get_is_retried() -> None:
    router = _router().add("GET", "/version", httpx.ConnectError("refused"),
                           (200, payload("version_2.json")))
    client = make_client(router)
    assert run(client.version) == 2 and len(router.seen) == 2


@pytest.mark.parametrize(("exc", "kind"), [
    (httpx.ReadTimeout("timed out"), "timeout: ReadTimeout"),
    (httpx.ConnectTimeout("connect timed out"), "timeout: ConnectTimeout"),
    (httpx.ConnectError("refused"), "transport: ConnectError"),
    (httpx.RemoteProtocolError("peer closed"), "transport: RemoteProtocolError"),
    (httpx.ReadError("reset"), "transport: ReadError"),
    (RuntimeError("odd transport"), "transport: RuntimeError"),
])
def test_clob_post_transport_failure_is_an_unknown_reply(exc: Exception, kind: str) -> None:
    router = _router().add("POST", "/order", exc)
    client = make_client(router)
    reply = run(lambda: client.post_order("{}"))
    assert reply.status is None and reply.error.startswith(kind) and len(router.seen) == 1


def test_clob_get_500_then_200_is_retried_and_succeeds() -> None:
    router = _router().add("GET", "/neg-risk", (500, payload("error_500.json")),
                           (200, payload("neg_risk.json")))
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep)

    assert run(lambda: client.neg_risk(TOKEN_Y)) is True

    assert len(router.seen) == 2 and sleep.delays == [1.0]


def test_clob_get_500_forever_raises_clob_error_after_the_attempts() -> None:
    router = _router().reply("GET", "/neg-risk", 500, "error_500.json")
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep, attempts=3)

    with pytest.raises(ClobError, match="http 500: Internal server error") as info:
        run(lambda: client.neg_risk(TOKEN_Y))

    assert info.value.status == 500 and isinstance(info.value, VenueError)
    assert len(router.seen) == 3 and sleep.delays == [1.0, 2.0]


def test_clob_delete_500_is_retried() -> None:
    router = _router().add("DELETE", "/cancel-all", (500, payload("error_500.json")),
                           (200, payload("cancel_all.json")))
    client = make_client(router)

    reply = run(client.cancel_all)

    assert reply.status == 200 and len(router.seen) == 2


def test_clob_create_api_key_500_on_derive_get_is_retried() -> None:
    router = (_router().add("POST", "/auth/api-key", (500, payload("error_500.json")))
              .add("GET", "/auth/derive-api-key", (500, payload("error_500.json")),
                   (200, payload("api_key.json", api_key=API_KEY, secret=SECRET,
                                 passphrase=PASSPHRASE))))
    client = make_client(router, with_api=False)

    api = run(client.create_or_derive_api_key)

    assert api.api_key.reveal() == API_KEY
    assert [(s.method, s.path) for s in router.seen] == [
        ("POST", "/auth/api-key"), ("GET", "/auth/derive-api-key"),
        ("GET", "/auth/derive-api-key")]


@pytest.mark.parametrize(("status", "idempotent", "expected"), [
    (None, True, True), (None, False, False),
    (500, True, True), (500, False, False),
    (425, True, True), (429, True, True), (502, True, True), (503, True, True),
    (504, True, True), (503, False, False),
    (200, True, False), (400, True, False), (404, True, False), (501, True, False),
])
def test_should_retry_idempotent_only_transient_statuses(status: int | None, idempotent: bool,
                                                         expected: bool) -> None:
    assert should_retry(status, idempotent=idempotent) is expected


@given(status=st.one_of(st.none(), st.integers(100, 599)), idempotent=st.booleans())
def test_should_retry_is_exactly_the_verdict_retry(status: int | None, idempotent: bool) -> None:
    # one table (outcomes.py rule 2): should_retry adds no status of its own
    retried = should_retry(status, idempotent=idempotent)

    assert retried is (verdict(status, idempotent=idempotent) == "retry")
    assert not retried or idempotent
