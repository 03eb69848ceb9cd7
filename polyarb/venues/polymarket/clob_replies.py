# The CLOB client's reply side: its error and policy types, which replies an idempotent call
# retries, and the pure decoders that turn a Reply into JSON, amounts, API credentials or a
# journaled RestSnapshot. ClobClient (clob.py) does the I/O and calls these.
#
# Rules:
# 1. Pure: no I/O, no clock (a snapshot's ts_recv_ns is an argument). Nothing here sends.
# 2. Retries (clob.py rule 3): `should_retry` is outcomes.verdict's "retry" and keeps no table
#    of its own (outcomes.py rule 2 holds the statuses): only idempotent calls (GET, DELETE)
#    retry, on no response and on 425/429/500/502/503/504. A POST is never retried: its lost
#    reply is an UNKNOWN outcome that reconciliation settles.
# 3. JSON numbers are decoded exactly (int or Decimal, never float) when a caller reads amounts;
#    amounts must be exact decimal text or base-unit digits, else a ClobError.
# 4. Errors never quote a body that may hold secrets (API key replies) and every reason passes
#    the client's Redactor.
from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import httpx
import msgspec
import orjson

from polyarb.core.numbers import NumberError, parse_micros
from polyarb.events.codec import frame_is_embeddable
from polyarb.events.inputs import RestSnapshot
from polyarb.venues.base import VenueError
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.outcomes import Redactor, Reply, reply_reason, verdict

_EXACT_JSON: Final = msgspec.json.Decoder(float_hook=Decimal)  # JSON numbers never via float


class ClobError(VenueError):
    """A CLOB call without a usable answer. `status` is the HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of idempotent calls (rule 2): attempts in total, backoff bounds in seconds."""

    attempts: int = 4
    initial_s: float = 1.0
    max_s: float = 30.0


class BalanceAllowance(msgspec.Struct, frozen=True, kw_only=True):
    """GET /balance-allowance: base units (micro-units) of balance and per-spender allowance."""

    balance_micros: int
    allowances: dict[str, int]


def should_retry(status: int | None, *, idempotent: bool) -> bool:
    """Whether a reply with `status` (None: no response) is retried (rule 2).

    Args:
        status: the HTTP status, or None when no response arrived.
        idempotent: the call was a GET or DELETE.
    """
    return verdict(status, idempotent=idempotent) == "retry"


def retry_after_s(response: httpx.Response) -> float:
    """The Retry-After header in whole seconds (0.0 when absent or not digits)."""
    text = response.headers.get("Retry-After", "")
    return float(text) if text.isascii() and text.isdigit() else 0.0


def rest_snapshot(endpoint: str, params: Mapping[str, str] | None, reply: Reply,
                  ts_ns: int) -> RestSnapshot:
    """A RestSnapshot of a reply: the body verbatim when it is one line of JSON, else the
    body's text as a JSON string (so the journal line always reads back)."""
    body = reply.body
    raw = body if body and frame_is_embeddable(body) else orjson.dumps(
        body.decode("utf-8", "replace") if body else reply.error)
    query = urllib.parse.urlencode(sorted((params or {}).items()))
    return RestSnapshot(ts_recv_ns=ts_ns, endpoint=endpoint, params=query,
                        status_code=reply.status if reply.status is not None else 0,
                        body=msgspec.Raw(raw))


def failure(what: str, reply: Reply, redact: Redactor) -> ClobError:
    """The ClobError for a reply without a usable answer (redacted reason)."""
    return ClobError(f"{what}: {reply_reason(reply, redact)}", reply.status)


def decode_reply(what: str, reply: Reply, redact: Redactor, exact: bool = False) -> Any:
    """The JSON of a 2xx reply (exact=True keeps numbers as int/Decimal, never float).

    Raises:
        ClobError: no 2xx reply, or a body that is not JSON.
    """
    if verdict(reply.status, idempotent=False) != "ok":
        raise failure(what, reply, redact)
    try:
        return (_EXACT_JSON.decode(reply.body) if exact
                else orjson.loads(reply.body))
    except (orjson.JSONDecodeError, msgspec.DecodeError):
        pass
    raise ClobError(f"{what}: reply is not JSON", reply.status)


def api_credentials(body: bytes) -> ApiCredentials | None:
    """The credentials of an API key reply, or None (the body is never echoed: rule 4)."""
    try:
        obj = orjson.loads(body)
        return ApiCredentials.of(obj["apiKey"], obj["secret"], obj["passphrase"])
    except Exception:  # never echo a body holding secrets
        return None


def micros_field(obj: Any, name: str, what: str) -> int:
    """The exact decimal field `name` of a JSON object in micro-units.

    Raises:
        ClobError: missing, or not an exact decimal.
    """
    value = obj.get(name) if isinstance(obj, dict) else None
    try:
        if isinstance(value, Decimal):
            value = format(value, "f")
        return parse_micros(value)
    except NumberError:
        pass
    raise ClobError(f"{what}: {name} is not an exact decimal")


def base_units(value: object) -> int:
    """Base units (non-negative digits) of a balance or allowance.

    Raises:
        ValueError: anything but ASCII digits.
    """
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise ValueError("not base units")
    return int(text)


def balance_allowance_of(obj: Any, path: str) -> BalanceAllowance:
    """A BalanceAllowance from GET /balance-allowance's JSON.

    Raises:
        ClobError: amounts that are not exact base units, or not an object.
    """
    try:
        allowances = obj.get("allowances") or {}
        return BalanceAllowance(
            balance_micros=base_units(obj.get("balance")),
            allowances={str(k): base_units(v) for k, v in sorted(allowances.items())})
    except (AttributeError, TypeError, ValueError):
        pass
    raise ClobError(f"GET {path}: unreadable balance")
