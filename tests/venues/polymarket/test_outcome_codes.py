# Reason codes and venue ids as the live client's outcomes.py sets them (its rules 7-8): the only
# place that reads the venue's words. A refusal of the whole request is rate_limited (429) or
# venue_unavailable (425, 503 trading off) for every order of it; other 4xx are invalid; a batch
# entry is killed / other / invalid by its text. An unknown entry that names an orderID carries
# it as venue_order_id; a request that got no readable reply does not.
from __future__ import annotations

from typing import Any

import orjson
import pytest

from polyarb.events.inputs import OrderOutcomeUnknown, OrderRejected, RejectCode
from polyarb.venues.polymarket.outcomes import (
    Redactor,
    Reply,
    SentOrder,
    entry_code,
    place_events,
    request_code,
)
from tests.venues.polymarket.recorded.harness import payload

H0, H1, H2 = ("0x" + format(n, "064x") for n in (0xA0, 0xA1, 0xA2))
SENT = [SentOrder("c0", H0), SentOrder("c1", H1), SentOrder("c2", H2)]
NO = Redactor()
TS = 123


def _events(reply: Reply, n: int = 1, batch: bool = False) -> list[Any]:
    return place_events(SENT[:n], reply, TS, NO, batch=batch)


@pytest.mark.parametrize(("name", "status", "code"), [
    ("error_429.json", 429, "rate_limited"),
    ("error_425.json", 425, "venue_unavailable"),
    ("error_503_disabled.json", 503, "venue_unavailable"),
    ("error_503_cancel_only.json", 503, "venue_unavailable"),
    ("error_400_tick.json", 400, "invalid"),
    ("error_400_min_size.json", 400, "invalid"),
    ("error_400_owner.json", 400, "invalid"),
    ("error_400_too_many.json", 400, "invalid"),
    ("error_401.json", 401, "invalid"),
    ("error_404.json", 404, "invalid"),
])
def test_place_events_batch_refused_as_a_whole_gives_every_order_the_request_code(
        name: str, status: int, code: RejectCode) -> None:
    # Act
    evs = _events(Reply(status, payload(name, hash0=H0)), 3, batch=True)

    # Assert
    assert [type(e) for e in evs] == [OrderRejected] * 3
    assert {(e.reason_code, e.http_status) for e in evs} == {(code, status)}


@pytest.mark.parametrize(("error", "code"), [
    ("order couldn't be fully filled. FOK orders are fully filled or killed.", "killed"),
    ("FOK orders are filled or killed", "killed"),
    ("no orders found to match with FAK order. FAK orders are partially filled or killed if no "
     "match is found.", "killed"),
    ("there are no matching orders", "killed"),
    ("not enough balance / allowance", "invalid"),
    ("order 0x1 is invalid. Price (0.123) breaks minimum tick size rule: 0.01", "invalid"),
    ("invalid post-only order: order crosses book", "invalid"),
    ("could not run the execution", "other"),
    ("the market is not yet ready to process new orders", "other"),
])
def test_place_events_batch_entry_rejection_is_coded_by_its_text(error: str,
                                                                 code: RejectCode) -> None:
    # Arrange: entry 1 refused inside a 200 reply; the others accepted
    body = orjson.dumps([
        {"success": True, "errorMsg": "", "orderID": H0, "status": "matched"},
        {"success": False, "errorMsg": error, "orderID": H1},
        {"success": True, "errorMsg": "", "orderID": H2, "status": "live"},
    ])

    # Act
    evs = _events(Reply(200, body), 3, batch=True)

    # Assert
    assert isinstance(evs[1], OrderRejected) and evs[1].reason_code == code
    assert evs[1].http_status == 200 and entry_code(error) == code


def test_place_events_entry_refused_without_text_is_other() -> None:
    body = orjson.dumps([{"success": False, "orderID": H0}])

    [ev] = _events(Reply(200, body), 1, batch=True)

    assert isinstance(ev, OrderRejected) and ev.reason_code == "other"


def test_place_events_503_without_the_trading_off_text_stays_unknown() -> None:
    # A bare 503 proves nothing about the order (rule 1): no rejection, so no code at all
    evs = _events(Reply(503, b"<html>upstream unavailable</html>"), 2, batch=True)

    assert [type(e) for e in evs] == [OrderOutcomeUnknown] * 2


def test_request_code_table() -> None:
    assert request_code(429, b"") == "rate_limited"
    assert request_code(425, b"") == "venue_unavailable"
    assert request_code(503, b'{"error":"Trading is currently cancel-only. New orders..."}') == (
        "venue_unavailable")
    assert request_code(400, b'{"error":"Invalid order payload"}') == "invalid"


def test_place_events_unknown_entry_with_order_id_carries_venue_order_id() -> None:
    # Arrange: the venue named the order but its success flag is unreadable
    body = orjson.dumps([{"success": "maybe", "errorMsg": "", "orderID": H0}])

    # Act
    [ev] = _events(Reply(200, body), 1, batch=True)

    # Assert
    assert isinstance(ev, OrderOutcomeUnknown) and ev.venue_order_id == H0
    assert "unreadable success flag" in ev.reason


@pytest.mark.parametrize("reply", [
    Reply(None, b"", "timeout: ReadTimeout: timed out"),
    Reply(500, b'{"error":"Internal server error"}'),
    Reply(200, b"[]"),
])
def test_place_events_unknown_without_a_venue_answer_has_no_venue_order_id(
        reply: Reply) -> None:
    evs = _events(reply, 2, batch=True)

    assert all(isinstance(e, OrderOutcomeUnknown) and e.venue_order_id is None for e in evs)
    assert evs[0].reason.endswith(f"order hash {H0}")  # our own hash: in the reason only


def test_place_events_entry_without_order_id_is_unknown_without_venue_order_id() -> None:
    body = orjson.dumps([{"success": True, "errorMsg": ""}])

    [ev] = _events(Reply(200, body), 1, batch=True)

    assert isinstance(ev, OrderOutcomeUnknown) and ev.venue_order_id is None
