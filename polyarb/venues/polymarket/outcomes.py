# What a CLOB reply proves: the pure classification of HTTP outcomes, and the events the order,
# cancel and heartbeat replies become.
#
# Rules:
# 1. A reply proves rejection only when it says so: `success: false`, a non-empty `errorMsg`,
#    or a 4xx status (the venue documents 400/401/404 with `{"error": ...}`, 425 while the
#    engine restarts, 429 when throttled). Timeouts, transport errors, 5xx, 408, 3xx and
#    unreadable 2xx bodies prove nothing: the order may exist, so the outcome is UNKNOWN and
#    reconciliation (user channel, /data/orders, /data/trades) decides. The one 5xx that
#    proves a refusal is the venue's documented 503 "Trading is currently disabled/cancel-only"
#    text on an order post.
# 2. Which replies are retried lives here, in `verdict` and RETRY_STATUSES, and nowhere else:
#    an idempotent call (GET, DELETE) retries no response, 425, 429, 500, 502, 503 and 504
#    (on a read or a cancel they prove nothing and are usually transient); a call that is not
#    idempotent (an order post) never gets "retry", so its 500 or lost reply stays UNKNOWN
#    (rule 1) for reconciliation to settle. clob_replies.should_retry only asks `verdict`.
# 3. Per-order results of a 200 batch map back to client ids by order hash (the orderID the
#    venue returns is the EIP-712 digest we computed before sending); entries that carry no
#    known hash map by position when the reply has exactly one entry per order sent; anything
#    left over is UNKNOWN, never guessed.
# 4. An entry with an orderID whose status is `delayed` (or whose errorMsg is the venue's
#    ORDER_DELAYED text) is ACCEPTED: the order exists and may still match.
# 5. Every text that reaches an event passes through a Redactor, so a secret echoed by a
#    server or a library never lands in the journal. Texts are truncated to MAX_TEXT.
# 6. Pure: no I/O, no clock (ts_recv_ns is an argument), never raises on venue input.
# 7. Every OrderRejected gets its RejectCode here, the one place that reads the venue's words
#    (the core reads only the code): a refusal of the whole request is `rate_limited` (429) or
#    `venue_unavailable` (425, the 503 trading-disabled/cancel-only texts); any other 4xx is
#    `invalid`; a per-order entry is `killed` when its text says a FOK/FAK found no (or not
#    enough) liquidity (KILLED_TEXTS), `other` for the venue's own failures (VENUE_SIDE_TEXTS)
#    or no text, else `invalid`.
# 8. An UNKNOWN entry that carries an orderID gives OrderOutcomeUnknown that venue_order_id (the
#    venue named the order); a request without a readable reply gives none: the order hash we
#    signed stays in the reason only, since the venue never confirmed it as the order's id.
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal, NamedTuple

import orjson

from polyarb.core.numbers import NumberError, parse_micros
from polyarb.events.base import Input
from polyarb.events.inputs import (
    CancelFailed,
    HeartbeatResult,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    RejectCode,
)

Verdict = Literal["ok", "rejected", "unknown", "retry"]
# The statuses an idempotent call retries (rule 2); never consulted for an order post.
RETRY_STATUSES: Final = frozenset({425, 429, 500, 502, 503, 504})
MAX_TEXT: Final = 300
_CLIPPED: Final = "..."  # what clip() puts after a cut text
VERSION_MISMATCH: Final = "order_version_mismatch"
TRADING_OFF: Final = ("Trading is currently disabled", "Trading is currently cancel-only")
_DELAYED: Final = "order match delayed"
# The venue's words for a marketable order killed for lack of liquidity (protocol §3.3)
KILLED_TEXTS: Final = (
    "FOK orders are filled or killed",
    "FOK orders are fully filled or killed",
    "order couldn't be fully filled",
    "no orders found to match with FAK order",
    "there are no matching orders",
)
# Per-order failures on the venue's side, not a judgement of the order (protocol §3.3)
VENUE_SIDE_TEXTS: Final = (
    "could not run the execution",
    "error delaying the order",
    "the market is not yet ready",
)
_REDACTED: Final = "<redacted>"
_NO_TEXT: Final = "success: false"  # the reason of a refused entry without an errorMsg


class Reply(NamedTuple):
    """One HTTP exchange as seen by the client: a status and body, or a transport failure.

    `status` is None when no response arrived; `error` then says why ("timeout: ...",
    "transport: ..."), already redacted. `retry_after_s` is the Retry-After header (0: none).
    """

    status: int | None
    body: bytes = b""
    error: str = ""
    retry_after_s: float = 0.0


class SentOrder(NamedTuple):
    """An order that went out: our client id and the order hash we signed."""

    client_order_id: str
    order_hash: str


class Entry(NamedTuple):
    """One per-order result of POST /order(s)."""

    kind: Literal["accepted", "rejected", "unknown"]
    order_id: str
    status: str = ""
    making_micros: int | None = None
    taking_micros: int | None = None
    reason: str = ""


class Redactor:
    """Replaces known secret values in any text (rule 5). Its repr shows a count only."""

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is replaced whole
        self._values = tuple(sorted({v for v in values if len(v) >= 4}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, _REDACTED)
        if text.endswith(_CLIPPED):  # clip() may have cut a secret: its head ends the text
            text = self._redact_cut_tail(text[:-len(_CLIPPED)]) + _CLIPPED
        return text

    def _redact_cut_tail(self, body: str) -> str:
        for value in self._values:
            for n in range(len(value) - 1, 3, -1):
                if body.endswith(value[:n]):
                    return body[:-n] + _REDACTED
        return body

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"


def verdict(status: int | None, *, idempotent: bool) -> Verdict:
    """Classify an HTTP status per rules 1-2: what the reply proves, or that it is retried.

    Args:
        status: the HTTP status, or None when no response arrived.
        idempotent: the call was a GET or DELETE. Only such a call ever gets "retry" (no
            response, or a status in RETRY_STATUSES); an order post's same reply is "unknown"
            (or "rejected" for a 4xx), never retried.
    """
    if idempotent and (status is None or status in RETRY_STATUSES):
        return "retry"
    if status is None:
        return "unknown"
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500 and status != 408:
        return "rejected"
    return "unknown"


def clip(text: str) -> str:
    """One line of at most MAX_TEXT printable characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return flat if len(flat) <= MAX_TEXT else flat[:MAX_TEXT - 3] + _CLIPPED


def error_text(body: bytes) -> str:
    """The venue's error message of a body: `error`, `errorMsg` or `error_msg`, else the text."""
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return clip(body[:MAX_TEXT * 2].decode("utf-8", "replace"))
    if isinstance(obj, dict):
        for key in ("error", "errorMsg", "error_msg", "message"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                return clip(value)
    return clip(body[:MAX_TEXT * 2].decode("utf-8", "replace"))


def request_code(status: int, body: bytes) -> RejectCode:
    """The RejectCode of a refused request (rule 7): every order of it gets this code."""
    if status == 429:
        return "rate_limited"
    if status == 425 or (status == 503 and error_text(body).startswith(TRADING_OFF)):
        return "venue_unavailable"
    return "invalid"


def entry_code(reason: str) -> RejectCode:
    """The RejectCode of one refused entry of a 200 reply, from the venue's text (rule 7)."""
    if any(k in reason for k in KILLED_TEXTS):
        return "killed"
    if not reason or reason == _NO_TEXT or any(k in reason for k in VENUE_SIDE_TEXTS):
        return "other"
    return "invalid"


def reply_reason(reply: Reply, redact: Redactor) -> str:
    """A short account of a failed reply for an event's reason."""
    if reply.status is None:
        return redact(clip(reply.error or "no response"))
    text = error_text(reply.body)
    return redact(f"http {reply.status}: {text}" if text else f"http {reply.status}")


def _micros(value: object) -> int | None:
    try:
        return parse_micros(value) if value not in (None, "") else None
    except NumberError:
        return None


def parse_entry(obj: object) -> Entry:
    """Classify one POST /order(s) result object (rules 1 and 4); never raises."""
    if not isinstance(obj, dict):
        return Entry("unknown", "", reason="malformed order result")
    raw_id = obj.get("orderID", obj.get("orderId"))
    order_id = raw_id if isinstance(raw_id, str) else ""
    raw_error = obj.get("errorMsg")
    error = clip(raw_error) if isinstance(raw_error, str) else ""
    success = obj.get("success")
    status = str(obj.get("status") or "").lower()
    if order_id and (status == "delayed" or error.lower().startswith(_DELAYED)):
        return Entry("accepted", order_id, "delayed", _micros(obj.get("makingAmount")),
                     _micros(obj.get("takingAmount")), error)
    if success is False or error:
        return Entry("rejected", order_id, reason=error or _NO_TEXT)
    if not order_id:
        return Entry("unknown", "", reason="result without orderID")
    if success is True or success is None:
        return Entry("accepted", order_id, status or "accepted",
                     _micros(obj.get("makingAmount")), _micros(obj.get("takingAmount")))
    return Entry("unknown", order_id, reason="unreadable success flag")


def entry_event(sent: SentOrder, entry: Entry, ts_ns: int, redact: Redactor,
                http_status: int) -> Input:
    """The event of one classified entry for one sent order."""
    if entry.kind == "accepted":
        return OrderAccepted(ts_recv_ns=ts_ns, client_order_id=sent.client_order_id,
                             venue_order_id=entry.order_id or sent.order_hash,
                             status=entry.status, making_amount_micros=entry.making_micros,
                             taking_amount_micros=entry.taking_micros)
    if entry.kind == "rejected":
        return OrderRejected(ts_recv_ns=ts_ns, client_order_id=sent.client_order_id,
                             reason=redact(entry.reason), http_status=http_status,
                             reason_code=entry_code(entry.reason))
    return unknown_event(sent, redact(entry.reason), ts_ns, entry.order_id or None)


def unknown_event(sent: SentOrder, reason: str, ts_ns: int,
                  venue_order_id: str | None = None) -> OrderOutcomeUnknown:
    """OrderOutcomeUnknown with the order hash in its reason and the venue's id if it named one.

    Args:
        sent: the order.
        reason: why the outcome is unknown (already redacted).
        ts_ns: receive time.
        venue_order_id: the orderID the venue returned for this order, if any (rule 8).
    """
    return OrderOutcomeUnknown(ts_recv_ns=ts_ns, client_order_id=sent.client_order_id,
                               reason=f"{reason}; order hash {sent.order_hash}",
                               venue_order_id=venue_order_id)


def _match_batch(sent: Sequence[SentOrder], entries: list[object]) -> list[Entry | None]:
    parsed = [parse_entry(e) for e in entries]
    by_hash = {p.order_id.lower(): p for p in parsed if p.order_id}
    out: list[Entry | None] = [by_hash.get(s.order_hash.lower()) for s in sent]
    if len(parsed) == len(sent):
        hashes = {s.order_hash.lower() for s in sent}
        for i, p in enumerate(parsed):
            if out[i] is None and p.order_id.lower() not in hashes:
                out[i] = p  # rule 3: positional only for entries naming no order we sent
    return out


def place_events(sent: Sequence[SentOrder], reply: Reply, ts_ns: int, redact: Redactor,
                 *, batch: bool) -> list[Input]:
    """One event per sent order from the reply of POST /order (batch=False) or POST /orders.

    Args:
        sent: the orders in the request, in order.
        reply: what came back.
        ts_ns: receive time stamped by the caller.
        redact: removes secrets from reasons.
        batch: whether the body was an array (POST /orders).
    """
    status = reply.status
    reason = reply_reason(reply, redact)
    kind = verdict(status, idempotent=False)
    if kind == "unknown" and status == 503 and error_text(reply.body).startswith(TRADING_OFF):
        kind = "rejected"
    if kind == "rejected" and status is not None:
        code = request_code(status, reply.body)
        return [OrderRejected(ts_recv_ns=ts_ns, client_order_id=s.client_order_id,
                              reason=reason, http_status=status, reason_code=code) for s in sent]
    if kind != "ok" or status is None:
        return [unknown_event(s, reason, ts_ns) for s in sent]
    try:
        obj = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        obj = None
    entries: list[object] | None = obj if batch and isinstance(obj, list) else (
        [obj] if not batch and isinstance(obj, dict) else None)
    if entries is None:
        return [unknown_event(s, f"http {status}: unreadable order response", ts_ns)
                for s in sent]
    matched = _match_batch(sent, entries)
    return [entry_event(s, m, ts_ns, redact, status) if m is not None
            else unknown_event(s, "no result for this order in the batch response", ts_ns)
            for s, m in zip(sent, matched, strict=True)]


def is_version_mismatch(event: Input) -> bool:
    """Whether a rejection names the venue's order_version_mismatch."""
    return isinstance(event, OrderRejected) and VERSION_MISMATCH in event.reason


def cancel_events(requested: Sequence[str], reply: Reply, client_of: Mapping[str, str],
                  ts_ns: int, redact: Redactor) -> list[Input]:
    """Events of a cancel reply (`{"canceled": [...], "not_canceled": {id: reason}}`).

    A failed or unreadable reply gives CancelFailed for every requested id (reason says
    whether the outcome is unknown); `"*"` stands for "all orders" when none were named.
    Ids the reply does not mention are CancelFailed "not reported", never assumed cancelled.
    """
    obj: object = None
    if reply.status is not None and 200 <= reply.status < 300:
        try:
            obj = orjson.loads(reply.body)
        except orjson.JSONDecodeError:
            obj = None
    if not isinstance(obj, dict):
        kind = verdict(reply.status, idempotent=False)
        why = reply_reason(reply, redact) if reply.status is None or reply.status >= 300 else (
            f"http {reply.status}: unreadable cancel response")
        prefix = "refused" if kind == "rejected" else "outcome unknown"
        return [CancelFailed(ts_recv_ns=ts_ns, venue_order_id=vid, reason=f"{prefix}: {why}")
                for vid in (requested or ["*"])]
    canceled = [c for c in obj.get("canceled") or [] if isinstance(c, str)]
    not_canceled = obj.get("not_canceled")
    refused = not_canceled if isinstance(not_canceled, dict) else {}
    out: list[Input] = [OrderCancelled(ts_recv_ns=ts_ns, venue_order_id=vid,
                                       client_order_id=client_of.get(vid)) for vid in canceled]
    for vid, why in refused.items():
        out.append(CancelFailed(ts_recv_ns=ts_ns, venue_order_id=str(vid),
                                reason=redact(clip(str(why))) or "not canceled"))
    seen = {*canceled, *map(str, refused)}
    out += [CancelFailed(ts_recv_ns=ts_ns, venue_order_id=vid, reason="not reported by the venue")
            for vid in dict.fromkeys(requested) if vid not in seen]
    return out


def heartbeat_result(reply: Reply, ts_ns: int, redact: Redactor) -> HeartbeatResult:
    """HeartbeatResult of a POST /v1/heartbeats reply (ok only on 2xx without error_msg)."""
    if reply.status is None or not 200 <= reply.status < 300:
        return HeartbeatResult(ts_recv_ns=ts_ns, ok=False, error=reply_reason(reply, redact))
    try:
        obj = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return HeartbeatResult(ts_recv_ns=ts_ns, ok=False, error="unreadable heartbeat reply")
    hb_id = obj.get("heartbeat_id")
    err = obj.get("error_msg") or obj.get("error")
    if isinstance(err, str) and err:
        return HeartbeatResult(ts_recv_ns=ts_ns, ok=False,
                               heartbeat_id=hb_id if isinstance(hb_id, str) else "",
                               error=redact(clip(err)))
    return HeartbeatResult(ts_recv_ns=ts_ns, ok=True,
                           heartbeat_id=hb_id if isinstance(hb_id, str) else "")
