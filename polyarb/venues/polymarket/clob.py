# The async CLOB V2 HTTP client (httpx): L1/L2 auth, every REST endpoint the engine needs,
# retries and rate limits. PolymarketVenue (venue.py) turns its replies into events.
#
# Rules:
# 1. One keep-alive httpx.AsyncClient per ClobClient; its transport is injectable
#    (httpx.MockTransport in tests). The base URL is the venue's or the simulator's.
# 2. The error boundary (httpx's map_*_errors idea) is `ClobClient._exchange`: every httpx
#    (or transport) exception becomes a Reply with status None and a redacted one-line reason,
#    built outside the except block so no exception object (whose request holds the POLY_*
#    headers) survives. Reads raise ClobError; order entry and cancels turn replies into
#    events (outcomes.py). No httpx exception leaves this module.
# 3. Idempotent calls (GET, DELETE) retry 425/429/500/502/503/504 and transport failures with
#    exponential backoff (honouring Retry-After), at most RetryPolicy.attempts times: a single
#    transient 500 at startup must not stop a run. POSTs (orders, API keys, heartbeats) are sent
#    exactly once: a lost reply is an UNKNOWN outcome. clob_replies.should_retry decides, by
#    outcomes.verdict (the one table of retried statuses, outcomes.py rule 2).
# 4. L2 requests sign timestamp + METHOD + path (no query) + the exact body bytes sent; the
#    timestamp is the injected clock plus the offset learned by `sync_time`. Every request
#    first waits for its rate-limit slot (ratelimit.py).
# 5. Secrets: the redactor knows the API key, secret, passphrase and private key; logs carry
#    method, path and status only; reprs show addresses only.
# 6. Reply decoding, the error and policy types and the retry decision live in clob_replies.py
#    (pure); they are re-exported here, so `clob.ClobError` etc. keep working.
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, Literal

import httpx
import orjson

from polyarb.events.inputs import RestSnapshot
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.backoff import Backoff, BackoffPolicy
from polyarb.venues.polymarket.clob_replies import (
    BalanceAllowance,
    ClobError,
    RetryPolicy,
    api_credentials,
    balance_allowance_of,
    decode_reply,
    micros_field,
    rest_snapshot,
    retry_after_s,
    should_retry,
)
from polyarb.venues.polymarket.credentials import ApiCredentials, PolymarketCredentials
from polyarb.venues.polymarket.l2auth import build_l2_headers
from polyarb.venues.polymarket.outcomes import Redactor, Reply, clip, verdict
from polyarb.venues.polymarket.ratelimit import RateLimiter
from polyarb.venues.polymarket.signing import build_l1_headers

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "https://clob.polymarket.com"
INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="
MAX_PAGES: Final = 1_000
Auth = Literal["none", "l1", "l2"]


class ClobClient:
    """Authenticated access to the CLOB REST API (rules 1-5)."""

    def __init__(
        self,
        credentials: PolymarketCredentials,
        *,
        base_url: str = DEFAULT_URL,
        chain_id: int = c.POLYGON,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.credentials = credentials
        self.chain_id = chain_id
        self.base_url = base_url.rstrip("/")
        self.clock_ns = clock_ns
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter if limiter is not None else RateLimiter(clock=monotonic,
                                                                       sleep=sleep)
        self._sleep = sleep
        self._signer = credentials.signer()
        self._offset_s = 0
        self.redact = self._redactor()
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                       timeout=timeout_s, headers={"Accept": "*/*"})

    def _redactor(self) -> Redactor:
        creds = self.credentials
        values = [creds.private_key.reveal(), creds.private_key.reveal().removeprefix("0x")]
        if creds.api is not None:
            api = creds.api
            values += [api.api_key.reveal(), api.secret.reveal(), api.passphrase.reveal()]
        return Redactor(values)

    @property
    def api(self) -> ApiCredentials:
        """The L2 credentials (CredentialsError when none are set or derived)."""
        return self.credentials.require_api()

    def now_s(self) -> int:
        """Unix seconds for auth headers: the injected clock plus the server offset."""
        return self.clock_ns() // 1_000_000_000 + self._offset_s

    def _headers(self, method: str, path: str, body: bytes | None, auth: Auth,
                 nonce: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth == "l1":
            headers |= build_l1_headers(self._signer, chain_id=self.chain_id,
                                        timestamp=self.now_s(), nonce=nonce)
        elif auth == "l2":
            try:
                headers |= build_l2_headers(self.credentials.address, self.api,
                                            timestamp=self.now_s(), method=method, path=path,
                                            body=body)
            except ValueError as exc:  # a body holding ' (l2auth rule 2): refuse, send nothing
                message = str(exc)
            else:
                return headers
            raise ClobError(f"not sent: {message}")
        return headers

    async def _exchange(self, method: str, path: str, params: Mapping[str, str] | None,
                        body: bytes | None, auth: Auth, nonce: int) -> Reply:
        """One request/response; the error boundary of rule 2."""
        headers = self._headers(method, path, body, auth, nonce)
        error = ""
        try:
            response = await self._http.request(method, path, params=params, content=body,
                                                headers=headers)
        except httpx.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}: {exc}"
        except Exception as exc:  # any transport failure: outcome unknown, never a crash
            error = f"transport: {type(exc).__name__}: {exc}"
        if error:
            return Reply(None, b"", self.redact(clip(error)))
        return Reply(response.status_code, response.content,
                     retry_after_s=retry_after_s(response))

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      body: str | None = None, auth: Auth = "none", nonce: int = 0) -> Reply:
        """Send one request (with rule 3's retries when idempotent) and return the reply.

        Args:
            method: GET, POST or DELETE.
            path: request path without query (the signed part).
            params: query parameters.
            body: exact JSON text to send (signed as is for L2).
            auth: none, l1 (ClobAuth) or l2 (HMAC).
            nonce: the L1 nonce.
        """
        data = body.encode("utf-8") if body is not None else None
        idempotent = method in ("GET", "DELETE")
        backoff = Backoff(BackoffPolicy(initial_s=self.retry.initial_s, max_s=self.retry.max_s,
                                        jitter=0.0))
        attempt = 0
        while True:
            await self.limiter.acquire(method, path)
            reply = await self._exchange(method, path, params, data, auth, nonce)
            attempt += 1
            log.debug("%s %s -> %s", method, path, reply.status)
            if not should_retry(reply.status, idempotent=idempotent) or (
                    attempt >= self.retry.attempts):
                return reply
            delay = max(backoff.next_delay(), min(reply.retry_after_s, self.retry.max_s))
            log.info("%s %s: %s, retry %d in %.1f s", method, path,
                     reply.status or reply.error, attempt, delay)
            await self._sleep(delay)

    async def get_json(self, path: str, params: Mapping[str, str] | None = None, *,
                       auth: Auth = "none", exact: bool = False) -> Any:
        """GET and decode JSON (exact=True keeps JSON numbers as int/Decimal, never float).

        Raises:
            ClobError: no 2xx reply, or a body that is not JSON.
        """
        reply = await self.request("GET", path, params=params, auth=auth)
        return self._decode(f"GET {path}", reply, exact)

    def _decode(self, what: str, reply: Reply, exact: bool = False) -> Any:
        return decode_reply(what, reply, self.redact, exact)

    # --- authentication --------------------------------------------------------------------

    async def create_or_derive_api_key(self, nonce: int = 0) -> ApiCredentials:
        """L1: create the API key (POST /auth/api-key), else derive it (GET derive-api-key).

        The credentials are kept for L2 calls and returned. Their bodies are never logged
        and never quoted in an error.

        Raises:
            ClobError: neither call returned credentials.
        """
        reply = await self.request("POST", "/auth/api-key", auth="l1", nonce=nonce)
        if verdict(reply.status, idempotent=False) != "ok":
            reply = await self.request("GET", "/auth/derive-api-key", auth="l1", nonce=nonce)
        api = api_credentials(reply.body) if reply.status == 200 else None
        if api is None:
            raise ClobError(f"API key create/derive failed (http {reply.status})", reply.status)
        self.credentials = replace(self.credentials, api=api)
        self.redact = self._redactor()
        return api

    async def sync_time(self) -> int:
        """Learn the offset of the server's clock (GET /time) for auth timestamps."""
        server = await self.server_time()
        self._offset_s = server - self.clock_ns() // 1_000_000_000
        return self._offset_s

    # --- public market data ----------------------------------------------------------------

    async def version(self) -> int:
        """GET /version: the order version the venue expects (2 today)."""
        obj = await self.get_json("/version")
        value = obj.get("version") if isinstance(obj, dict) else None
        if not isinstance(value, int):
            raise ClobError("GET /version: no integer version")
        return value

    async def server_time(self) -> int:
        """GET /time: unix seconds."""
        value = await self.get_json("/time", exact=True)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ClobError("GET /time: not an integer")
        return value

    async def snapshot(self, method: str, path: str, params: Mapping[str, str] | None = None,
                       body: str | None = None, *, auth: Auth = "none") -> RestSnapshot:
        """Any call as a journaled RestSnapshot (book resync, listings); never raises."""
        reply = await self.request(method, path, params=params, body=body, auth=auth)
        return rest_snapshot(path, params, reply, self.clock_ns())

    async def book(self, token_id: str) -> RestSnapshot:
        """GET /book?token_id= as a RestSnapshot."""
        return await self.snapshot("GET", "/book", {"token_id": token_id})

    async def books(self, token_ids: Sequence[str]) -> RestSnapshot:
        """POST /books for several tokens as one RestSnapshot."""
        body = orjson.dumps([{"token_id": t} for t in token_ids]).decode()
        return await self.snapshot("POST", "/books", body=body)

    async def tick_size(self, token_id: str) -> int:
        """GET /tick-size: the minimum tick in micro-units (exact, the venue sends a number)."""
        obj = await self.get_json("/tick-size", {"token_id": token_id}, exact=True)
        return micros_field(obj, "minimum_tick_size", "GET /tick-size")

    async def neg_risk(self, token_id: str) -> bool:
        """GET /neg-risk: whether the token's market is neg-risk."""
        obj = await self.get_json("/neg-risk", {"token_id": token_id})
        value = obj.get("neg_risk") if isinstance(obj, dict) else None
        if not isinstance(value, bool):
            raise ClobError("GET /neg-risk: no boolean neg_risk")
        return value

    async def fee_rate_bps(self, token_id: str) -> int:
        """GET /fee-rate: the market's base fee in bps (a V1-era parameter; see 7.4)."""
        obj = await self.get_json("/fee-rate", {"token_id": token_id}, exact=True)
        value = obj.get("base_fee") if isinstance(obj, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise ClobError("GET /fee-rate: no integer base_fee")
        return value

    # --- trading (L2) ----------------------------------------------------------------------

    async def post_order(self, body: str) -> Reply:
        """POST /order with an exact body (order_builder.order_body); sent once."""
        return await self.request("POST", "/order", body=body, auth="l2")

    async def post_orders(self, body: str) -> Reply:
        """POST /orders with an exact body (order_builder.orders_body, <= 15); sent once."""
        return await self.request("POST", "/orders", body=body, auth="l2")

    async def cancel(self, order_ids: Sequence[str]) -> Reply:
        """DELETE /order (one id) or DELETE /orders (several, <= 3000)."""
        if len(order_ids) == 1:
            body = orjson.dumps({"orderID": order_ids[0]}).decode()
            return await self.request("DELETE", "/order", body=body, auth="l2")
        return await self.request("DELETE", "/orders", body=orjson.dumps(list(order_ids))
                                  .decode(), auth="l2")

    async def cancel_all(self) -> Reply:
        """DELETE /cancel-all."""
        return await self.request("DELETE", "/cancel-all", auth="l2")

    async def cancel_market(self, market: str | None = None,
                            asset_id: str | None = None) -> Reply:
        """DELETE /cancel-market-orders for a condition id and/or token id."""
        fields = {k: v for k, v in (("market", market), ("asset_id", asset_id)) if v}
        return await self.request("DELETE", "/cancel-market-orders",
                                  body=orjson.dumps(fields).decode(), auth="l2")

    async def pages(self, path: str, params: Mapping[str, str] | None = None
                    ) -> list[tuple[RestSnapshot, list[Any]]]:
        """Every page of a cursor-paginated L2 listing (/data/orders, /data/trades).

        Returns:
            (snapshot, rows) per page, first page first.

        Raises:
            ClobError: a page failed or the cursor never ends (MAX_PAGES).
        """
        out: list[tuple[RestSnapshot, list[Any]]] = []
        cursor = INITIAL_CURSOR
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "next_cursor": cursor}
            reply = await self.request("GET", path, params=query, auth="l2")
            snap = rest_snapshot(path, query, reply, self.clock_ns())
            obj = self._decode(f"GET {path}", reply)
            rows = obj.get("data") if isinstance(obj, dict) else None
            if not isinstance(rows, list):
                raise ClobError(f"GET {path}: page without a data list", reply.status)
            out.append((snap, rows))
            cursor = obj.get("next_cursor") or END_CURSOR
            if cursor == END_CURSOR:
                return out
        raise ClobError(f"GET {path}: more than {MAX_PAGES} pages")

    async def order(self, order_id: str) -> Any:
        """GET /data/order/{id}: one order of ours (None when the venue has none)."""
        return await self.get_json(f"/data/order/{order_id}", auth="l2")

    async def heartbeat(self, heartbeat_id: str = "") -> Reply:
        """POST /v1/heartbeats (the dead-man switch); sent once."""
        body = orjson.dumps({"heartbeat_id": heartbeat_id}).decode()
        return await self.request("POST", "/v1/heartbeats", body=body, auth="l2")

    async def balance_allowance(self, asset_type: str = "COLLATERAL", token_id: str | None = None,
                                *, update: bool = False) -> BalanceAllowance:
        """GET /balance-allowance (or its /update form, which refreshes the venue's cache).

        Raises:
            ClobError: no answer or amounts that are not exact base units.
        """
        params = {"asset_type": asset_type,
                  "signature_type": str(self.credentials.signature_type)}
        if token_id is not None:
            params["token_id"] = token_id
        path = "/balance-allowance/update" if update else "/balance-allowance"
        return balance_allowance_of(await self.get_json(path, params, auth="l2"), path)

    async def aclose(self) -> None:
        """Close the keep-alive connections."""
        await self._http.aclose()

    def __repr__(self) -> str:
        return (f"ClobClient(base_url={self.base_url!r}, address={self.credentials.address}, "
                f"api={'<set>' if self.credentials.api is not None else 'None'})")



__all__ = [
    "DEFAULT_URL",
    "END_CURSOR",
    "INITIAL_CURSOR",
    "MAX_PAGES",
    "Auth",
    "BalanceAllowance",
    "ClobClient",
    "ClobError",
    "RetryPolicy",
    "rest_snapshot",
]
