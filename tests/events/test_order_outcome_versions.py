# order_rejected and order_outcome_unknown v1 -> v2. A v1 order_rejected line decodes to the v2
# event with the reason_code the core of that time effectively used (its kill texts did not count
# toward the rejected-order rate, everything else did), so old journals replay to the decisions
# they hold; a v1 order_outcome_unknown has no venue_order_id. Test lines are built by hand (v1
# as an older polyarb wrote them) with their own CRC.
from __future__ import annotations

import zlib
from typing import get_args

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.engine_breaker import counts_as_rejection
from polyarb.events import (
    MalformedRecord,
    OrderOutcomeUnknown,
    OrderRejected,
    UnsupportedVersion,
    decode_record,
    encode_record,
)
from polyarb.events.inputs import RejectCode

# The v1 core's kill test, verbatim: the oracle the upcast must agree with.
V1_KILLED = ("FOK orders are filled or killed", "no orders found to match with FAK order",
             "there are no matching orders")


def _line(body: bytes) -> bytes:
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def _v1_rejected(reason: str, http_status: int | None = None) -> bytes:
    fields = b'"client_order_id":"r1-o7","reason":' + orjson.dumps(reason)
    if http_status is not None:
        fields += b',"http_status":%d' % http_status
    return _line(b'{"seq":42,"v":1,"kind":"order_rejected","ts_recv_ns":7,' + fields)


@pytest.mark.parametrize(("reason", "status", "code"), [
    ("FOK orders are filled or killed", 400, "killed"),
    ("no orders found to match with FAK order. FAK orders are partially filled or killed if no "
     "match is found.", None, "killed"),
    ("there are no matching orders", 200, "killed"),
    ("not found at the venue after restart", None, "absent"),
    ("not found at the venue", None, "absent"),
    ("not enough balance / allowance", 200, "other"),  # an entry of a 200 batch reply
    ("http 400: Invalid order payload", 400, "invalid"),
    # counted by the v1 core, so counted after the upcast (not rate_limited/venue_unavailable)
    ("http 429: Too Many Requests", 429, "other"),
    ("http 425", 425, "other"),
    ("http 503: Trading is currently disabled. Check polymarket.com for updates", 503, "other"),
    # the older wording was not among the v1 kill texts: it counted then
    ("order couldn't be fully filled. FOK orders are fully filled or killed.", 400, "invalid"),
    ("not sent: shutting down", None, "other"),
])
def test_decode_record_v1_order_rejected_gets_the_code_the_v1_core_used(
        reason: str, status: int | None, code: RejectCode) -> None:
    # Act
    record = decode_record(_v1_rejected(reason, status))

    # Assert
    assert record.seq == 42
    assert record.event == OrderRejected(ts_recv_ns=7, client_order_id="r1-o7", reason=reason,
                                         http_status=status, reason_code=code)


@settings(max_examples=300, deadline=None)
@given(reason=st.one_of(st.text(max_size=60),
                        st.sampled_from(V1_KILLED).map(lambda k: f"order x: {k}.")),
       status=st.one_of(st.none(), st.integers(100, 599)))
def test_decode_record_v1_order_rejected_counts_exactly_as_the_v1_core(
        reason: str, status: int | None) -> None:
    # Act
    event = decode_record(_v1_rejected(reason, status)).event

    # Assert
    assert isinstance(event, OrderRejected)
    assert counts_as_rejection(event.reason_code) == (not any(k in reason for k in V1_KILLED))


def test_decode_record_v1_order_outcome_unknown_has_no_venue_id() -> None:
    line = _line(b'{"seq":5,"v":1,"kind":"order_outcome_unknown","ts_recv_ns":7,'
                 b'"client_order_id":"r1-o2","reason":"timeout; order hash 0xabc"')

    event = decode_record(line).event

    assert event == OrderOutcomeUnknown(ts_recv_ns=7, client_order_id="r1-o2",
                                        reason="timeout; order hash 0xabc")
    assert isinstance(event, OrderOutcomeUnknown) and event.venue_order_id is None


@pytest.mark.parametrize("event", [
    OrderRejected(ts_recv_ns=7, client_order_id="c", reason="r", http_status=429,
                  reason_code="rate_limited"),
    OrderRejected(ts_recv_ns=7, client_order_id="c", reason="r"),
    OrderOutcomeUnknown(ts_recv_ns=7, client_order_id="c", reason="r", venue_order_id="0xv"),
    OrderOutcomeUnknown(ts_recv_ns=7, client_order_id="c", reason="r"),
])
def test_encode_record_v2_round_trips(event: OrderRejected | OrderOutcomeUnknown) -> None:
    line = encode_record(3, event)

    assert line.startswith(b'{"seq":3,"v":2,')
    assert decode_record(line).event == event


def test_encode_record_default_code_is_omitted_and_reads_back_as_other() -> None:
    line = encode_record(3, OrderRejected(ts_recv_ns=7, client_order_id="c", reason="r"))

    assert b"reason_code" not in line
    event = decode_record(line).event
    assert isinstance(event, OrderRejected) and event.reason_code == "other"


def test_decode_record_v2_unknown_reason_code_is_malformed() -> None:
    line = _line(b'{"seq":4,"v":2,"kind":"order_rejected","ts_recv_ns":7,'
                 b'"client_order_id":"c","reason":"r","reason_code":"because"')

    with pytest.raises(MalformedRecord, match="order_rejected") as info:
        decode_record(line)

    assert info.value.seq == 4


def test_decode_record_v3_order_rejected_is_unsupported() -> None:
    line = _line(b'{"seq":4,"v":3,"kind":"order_rejected","ts_recv_ns":7,'
                 b'"client_order_id":"c","reason":"r"')

    with pytest.raises(UnsupportedVersion, match="v3"):
        decode_record(line)


def test_reject_codes_are_the_documented_closed_set() -> None:
    assert get_args(RejectCode) == ("killed", "rate_limited", "venue_unavailable", "invalid",
                                    "absent", "other")
