# Outcome classification, table-tested: what each reply proves (accepted / rejected / unknown /
# retry), per-order mapping inside batch replies, cancel and heartbeat replies, redaction.
from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events.inputs import (
    CancelFailed,
    HeartbeatResult,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
)
from polyarb.venues.polymarket.outcomes import (
    MAX_TEXT,
    RETRY_STATUSES,
    Entry,
    Redactor,
    Reply,
    SentOrder,
    cancel_events,
    error_text,
    heartbeat_result,
    is_version_mismatch,
    parse_entry,
    place_events,
    verdict,
)
from tests.venues.polymarket.recorded.harness import payload

H0, H1, H2 = ("0x" + format(n, "064x") for n in (0xF0, 0xF1, 0xF2))
SENT = [SentOrder("c0", H0), SentOrder("c1", H1), SentOrder("c2", H2)]
NO = Redactor()
TS = 123


@pytest.mark.parametrize(("status", "idempotent", "expected"), [
    (200, False, "ok"), (201, True, "ok"),
    (400, False, "rejected"), (401, False, "rejected"), (404, True, "rejected"),
    (425, False, "rejected"), (429, False, "rejected"),
    (425, True, "retry"), (429, True, "retry"), (503, True, "retry"), (502, True, "retry"),
    (504, True, "retry"),
    (500, True, "retry"), (None, True, "retry"),
    (408, False, "unknown"), (500, False, "unknown"), (408, True, "unknown"),
    (501, True, "unknown"), (505, True, "unknown"),
    (503, False, "unknown"), (502, False, "unknown"), (504, False, "unknown"),
    (301, False, "unknown"), (None, False, "unknown"),
])
def test_verdict_table_status_gives_documented_class(status: int | None, idempotent: bool,
                                                     expected: str) -> None:
    assert verdict(status, idempotent=idempotent) == expected


@given(status=st.one_of(st.none(), st.integers(100, 599)))
def test_verdict_idempotent_call_differs_from_a_post_only_by_retrying(status: int | None) -> None:
    # rule 2: the idempotent flag only turns some replies into "retry"; an order post's
    # classification (what its reply proves) is the same table without that column
    post, read = verdict(status, idempotent=False), verdict(status, idempotent=True)

    assert post != "retry"
    assert read == post or read == "retry"
    assert (read == "retry") is (status is None or status in RETRY_STATUSES)
    assert (read == "retry") is (status in (None, 425, 429, 500, 502, 503, 504))


@pytest.mark.parametrize(("obj", "expected"), [
    ({"success": True, "errorMsg": "", "orderID": H0, "status": "live", "makingAmount": "",
      "takingAmount": ""}, Entry("accepted", H0, "live")),
    ({"success": True, "errorMsg": None, "orderID": H0, "status": "matched",
      "makingAmount": "5.2", "takingAmount": "10"},
     Entry("accepted", H0, "matched", 5_200_000, 10_000_000)),
    ({"success": True, "errorMsg": "", "orderID": H0}, Entry("accepted", H0, "accepted")),
    ({"success": False, "errorMsg": "not enough balance / allowance", "orderID": None},
     Entry("rejected", "", reason="not enough balance / allowance")),
    ({"success": False, "orderID": H0}, Entry("rejected", H0, reason="success: false")),
    ({"success": True, "errorMsg": "order is invalid. Duplicated.", "orderID": H0},
     Entry("rejected", H0, reason="order is invalid. Duplicated.")),
    ({"success": True, "errorMsg": "order match delayed due to market conditions",
      "orderID": H0, "status": "delayed"},
     Entry("accepted", H0, "delayed", reason="order match delayed due to market conditions")),
    ({"success": False, "errorMsg": "order match delayed due to market conditions",
      "orderID": H0}, Entry("accepted", H0, "delayed",
                            reason="order match delayed due to market conditions")),
    ({"success": False, "errorMsg": "order match delayed due to market conditions",
      "orderID": ""}, Entry("rejected", "", reason="order match delayed due to market conditions")),
    ({"success": True, "orderID": ""}, Entry("unknown", "", reason="result without orderID")),
    ({"errorMsg": "", "orderID": H0}, Entry("accepted", H0, "accepted")),
    ({"success": "yes", "orderID": H0}, Entry("unknown", H0, reason="unreadable success flag")),
    ({"success": True, "orderID": H0, "makingAmount": "x", "takingAmount": 1.5},
     Entry("accepted", H0, "accepted")),
    ([1, 2], Entry("unknown", "", reason="malformed order result")),
    (None, Entry("unknown", "", reason="malformed order result")),
])
def test_parse_entry_table_gives_expected_entry(obj: Any, expected: Entry) -> None:
    assert parse_entry(obj) == expected


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["success", "errorMsg", "orderID",
                                                       "status", "makingAmount"]), inner,
                                      max_size=5), max_leaves=12))
def test_parse_entry_any_json_never_raises(obj: Any) -> None:
    assert parse_entry(obj).kind in ("accepted", "rejected", "unknown")


def _events(reply: Reply, n: int = 1, batch: bool = False) -> list[Any]:
    return place_events(SENT[:n], reply, TS, NO, batch=batch)


def test_place_events_single_ok_accepts_with_venue_id() -> None:
    [ev] = _events(Reply(200, payload("order_matched.json", hash0=H0)))
    assert ev == OrderAccepted(ts_recv_ns=TS, client_order_id="c0", venue_order_id=H0,
                               status="matched", making_amount_micros=5_200_000,
                               taking_amount_micros=10_000_000)


@pytest.mark.parametrize(("name", "status", "reason"), [
    ("order_success_false.json", 200, "not enough balance / allowance"),
    ("order_errormsg_success_true.json", 200, "order is invalid. Duplicated."),
    ("error_400_tick.json", 400, "http 400: order 0x"),
    ("error_400_min_size.json", 400, "Size (1.08) lower than the minimum: 5"),
    ("error_400_owner.json", 400, "the order owner has to be the owner of the API KEY"),
    ("error_400_too_many.json", 400, "Too many orders in payload: 16"),
    ("error_401.json", 401, "http 401: Unauthorized/Invalid api key"),
    ("error_404.json", 404, "market not found"),
    ("error_425.json", 425, "http 425"),
    ("error_429.json", 429, "http 429: Too Many Requests"),
    ("error_503_disabled.json", 503, "Trading is currently disabled"),
    ("error_503_cancel_only.json", 503, "cancel-only"),
])
def test_place_events_refusals_are_rejections(name: str, status: int, reason: str) -> None:
    [ev] = _events(Reply(status, payload(name, hash0=H0)))
    assert isinstance(ev, OrderRejected) and reason in ev.reason
    assert ev.http_status == status and ev.client_order_id == "c0"


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply(500, payload("error_500.json")), "http 500: Internal server error"),
    (Reply(503, b"<html>upstream unavailable</html>"), "http 503"),
    (Reply(502, b""), "http 502"),
    (Reply(408, b""), "http 408"),
    (Reply(None, b"", "timeout: ReadTimeout: timed out"), "timeout: ReadTimeout"),
    (Reply(None, b"", "transport: ConnectError: refused"), "transport: ConnectError"),
    (Reply(200, b"<html>ok</html>"), "unreadable order response"),
    (Reply(200, b"[]"), "unreadable order response"),
    (Reply(200, payload("order_no_success_flag.json")), "result without orderID"),
])
def test_place_events_unproven_outcomes_are_unknown_with_hash(reply: Reply, reason: str) -> None:
    [ev] = _events(reply)
    assert isinstance(ev, OrderOutcomeUnknown)
    assert reason in ev.reason and ev.reason.endswith(f"order hash {H0}")


def test_place_events_batch_mixed_maps_per_order() -> None:
    body = payload("batch_mixed.json", hash0=H0, hash1=H1, hash2=H2)
    evs = _events(Reply(200, body), 3, batch=True)
    assert [type(e) for e in evs] == [OrderAccepted, OrderRejected, OrderAccepted]
    assert [e.client_order_id for e in evs] == ["c0", "c1", "c2"]
    assert evs[1].reason.startswith(f"order {H1} is invalid") and evs[1].http_status == 200
    assert evs[2].taking_amount_micros == 5_000_000


def test_place_events_batch_shuffled_maps_by_hash_not_position() -> None:
    body = payload("batch_shuffled.json", hash0=H0, hash1=H1)
    evs = _events(Reply(200, body), 2, batch=True)
    assert [(e.client_order_id, e.venue_order_id) for e in evs] == [("c0", H0), ("c1", H1)]


def test_place_events_batch_short_reply_leaves_missing_orders_unknown() -> None:
    evs = _events(Reply(200, payload("batch_short.json", hash1=H1)), 2, batch=True)
    assert isinstance(evs[0], OrderOutcomeUnknown) and "no result" in evs[0].reason
    assert isinstance(evs[1], OrderAccepted) and evs[1].venue_order_id == H1


def test_place_events_batch_positional_entry_with_foreign_id_is_accepted_under_venue_id() -> None:
    other = "0x" + "ee" * 32
    body = orjson.dumps([{"success": True, "errorMsg": "", "orderID": other, "status": "live"}])
    [ev] = list[Any](place_events(SENT[:1], Reply(200, body), TS, NO, batch=True))
    assert isinstance(ev, OrderAccepted) and ev.venue_order_id == other


def test_place_events_batch_whole_request_refused_rejects_all() -> None:
    evs = _events(Reply(400, payload("error_400_too_many.json")), 3, batch=True)
    assert all(isinstance(e, OrderRejected) for e in evs)


def test_place_events_batch_5xx_makes_all_unknown() -> None:
    evs = _events(Reply(500, payload("error_500.json")), 3, batch=True)
    assert [type(e) for e in evs] == [OrderOutcomeUnknown] * 3
    assert [e.reason.rsplit(" ", 1)[1] for e in evs] == [H0, H1, H2]


def test_is_version_mismatch_detects_the_venue_code() -> None:
    [ev] = _events(Reply(400, payload("error_400_version.json")))
    assert is_version_mismatch(ev)
    assert not is_version_mismatch(_events(Reply(401, payload("error_401.json")))[0])


def test_cancel_events_mixed_reply_maps_client_ids_and_unreported() -> None:
    body = payload("cancel_mixed.json")
    a1, a2, a3, a9 = ("0x" + format(n, "064x") for n in (0xA1, 0xA2, 0xA3, 0xA9))
    evs = cancel_events([a1, a2, a3, a9], Reply(200, body), {a1: "c-1"}, TS, NO)
    assert evs == [
        OrderCancelled(ts_recv_ns=TS, venue_order_id=a1, client_order_id="c-1"),
        OrderCancelled(ts_recv_ns=TS, venue_order_id=a2),
        CancelFailed(ts_recv_ns=TS, venue_order_id=a3,
                     reason="order can't be found - already canceled or matched"),
        CancelFailed(ts_recv_ns=TS, venue_order_id=a9, reason="not reported by the venue"),
    ]


@pytest.mark.parametrize(("reply", "prefix"), [
    (Reply(400, payload("error_400_owner.json")), "refused: http 400"),
    (Reply(401, payload("error_401.json")), "refused: http 401"),
    (Reply(500, payload("error_500.json")), "outcome unknown: http 500"),
    (Reply(None, b"", "timeout: ReadTimeout"), "outcome unknown: timeout"),
    (Reply(200, b"not json"), "outcome unknown: http 200: unreadable"),
])
def test_cancel_events_failed_reply_fails_every_id(reply: Reply, prefix: str) -> None:
    evs: list[Any] = cancel_events(["0xa", "0xb"], reply, {}, TS, NO)
    assert [e.venue_order_id for e in evs] == ["0xa", "0xb"]
    assert all(isinstance(e, CancelFailed) and e.reason.startswith(prefix) for e in evs)


def test_cancel_events_cancel_all_failure_names_star() -> None:
    [ev] = cancel_events([], Reply(503, payload("error_503_disabled.json")), {}, TS, NO)
    assert isinstance(ev, CancelFailed) and ev.venue_order_id == "*"


@pytest.mark.parametrize(("reply", "expected"), [
    (Reply(200, payload("heartbeat_ok.json")),
     HeartbeatResult(ts_recv_ns=TS, ok=True, heartbeat_id="7b1f0c2e9a4d4e21b3c5d6e7f8091a2b")),
    (Reply(200, payload("heartbeat_error.json")),
     HeartbeatResult(ts_recv_ns=TS, ok=False, error="Invalid Heartbeat ID")),
    (Reply(200, b'{"status":"ok"}'), HeartbeatResult(ts_recv_ns=TS, ok=True)),
    (Reply(200, b"[]"), HeartbeatResult(ts_recv_ns=TS, ok=False,
                                        error="unreadable heartbeat reply")),
    (Reply(401, payload("error_401.json")),
     HeartbeatResult(ts_recv_ns=TS, ok=False, error="http 401: Unauthorized/Invalid api key")),
    (Reply(None, b"", "timeout: ReadTimeout"),
     HeartbeatResult(ts_recv_ns=TS, ok=False, error="timeout: ReadTimeout")),
])
def test_heartbeat_result_table(reply: Reply, expected: HeartbeatResult) -> None:
    assert heartbeat_result(reply, TS, NO) == expected


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"error":"Invalid order payload"}', "Invalid order payload"),
    (b'{"errorMsg":"x"}', "x"),
    (b'{"error_msg":"y"}', "y"),
    (b'{"error":""}', '{"error":""}'),
    (b"plain\ntext\x00", "plain text"),
    (b"", ""),
])
def test_error_text_extracts_the_message(body: bytes, expected: str) -> None:
    assert error_text(body) == expected


def test_error_text_long_body_is_clipped() -> None:
    assert len(error_text(b"x" * 5000)) == MAX_TEXT


def test_redactor_replaces_every_secret_and_hides_itself() -> None:
    redact = Redactor(["SECRET-123", "SECRET-123-LONGER", "ab"])
    assert redact("a SECRET-123-LONGER and SECRET-123") == "a <redacted> and <redacted>"
    assert redact("ab stays: too short to be a secret") == "ab stays: too short to be a secret"
    assert "SECRET" not in repr(redact)


def test_place_events_reason_with_echoed_secret_is_redacted() -> None:
    redact = Redactor(["PASS-MARKER-1"])
    body = orjson.dumps({"error": "bad passphrase PASS-MARKER-1"})
    [ev] = list[Any](place_events(SENT[:1], Reply(400, body), TS, redact, batch=False))
    assert "PASS-MARKER-1" not in ev.reason and "<redacted>" in ev.reason
