# An OrderOutcomeUnknown that names the venue's order id: late venue events with that id resolve
# exactly that order (polyarb/core/orders.py rule 4), even when another order of ours has the
# same token, side and price and would win the oldest-first guess. The hint is in the snapshot
# only while there is one, so states without hints hash as before.
from __future__ import annotations

import msgspec
import pytest

from polyarb.core.exec_common import ExecutionConfig
from polyarb.core.execution import Execution
from polyarb.events.inputs import OrderCancelled, OrderOutcomeUnknown, OrderUpdated
from tests.core.exec_helpers import (
    T0,
    USD,
    Ctx,
    StubBook,
    accepted,
    opportunity,
    rejected,
    trade,
)

Y, N = "Y1", "N1"
PAIR = [(Y, "BUY", 450_000, 10 * USD), (N, "BUY", 520_000, 10 * USD)]
OLD_Y, NEW_Y = "r1-o1", "r1-o3"  # same token, side, price and size: twin orders


def _twins() -> tuple[Execution, Ctx]:
    """Two opportunities with the same legs: r1-o1/r1-o2 and r1-o3/r1-o4."""
    ex = Execution(ExecutionConfig(client_id_prefix="r1"))
    ctx = Ctx([StubBook(Y, [(440_000, 50 * USD)], [(450_000, 50 * USD)]),
               StubBook(N, [(510_000, 50 * USD)], [(520_000, 50 * USD)])])
    ex.place(opportunity("opp1", PAIR), ctx)
    ex.place(opportunity("opp2", PAIR), ctx)
    return ex, ctx


def _unknown(cid: str, vid: str | None = None) -> OrderOutcomeUnknown:
    return OrderOutcomeUnknown(ts_recv_ns=T0, client_order_id=cid, reason="timeout",
                               venue_order_id=vid)


def _update(vid: str, matched: int = 0) -> OrderUpdated:
    return OrderUpdated(ts_recv_ns=T0, venue_order_id=vid, update_type="PLACEMENT", token_id=Y,
                        side="BUY", price_micros=450_000, original_size_micros=10 * USD,
                        size_matched_micros=matched, status="LIVE")


def _vid(ex: Execution, cid: str) -> str:
    rec = ex.orders.get(cid)
    assert rec is not None
    return rec.venue_order_id


def test_unknown_with_venue_id_late_update_resolves_that_order_not_the_older_twin() -> None:
    # Arrange: both twins unknown; only the newer one's venue id is known
    ex, ctx = _twins()
    ex.handle(_unknown(OLD_Y), ctx, 2)
    ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 3)

    # Act
    step = ex.handle(_update("0xv3"), ctx, 4)

    # Assert
    assert [(r.kind, r.client_order_id) for r in step.results][:1] == [("accepted", NEW_Y)]
    assert (_vid(ex, NEW_Y), _vid(ex, OLD_Y)) == ("0xv3", "")
    assert ex.orders.unknown_outstanding() == 1
    assert "venue_id_guessed" not in ex.orders.counters()


def test_unknown_with_venue_id_late_trade_fills_that_order_not_the_older_twin() -> None:
    # Arrange
    ex, ctx = _twins()
    ex.handle(_unknown(OLD_Y), ctx, 2)
    ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 3)

    # Act
    step = ex.handle(trade("t1", "0xv3", Y, "BUY", 450_000, 10 * USD), ctx, 4)

    # Assert
    fills = [r for r in step.results if r.kind == "fill"]
    assert [r.client_order_id for r in fills] == [NEW_Y]
    rec = ex.orders.get(NEW_Y)
    assert rec is not None and ex.orders.state_of(rec) == "filled"
    assert _vid(ex, OLD_Y) == ""


def test_unknown_with_venue_id_other_id_is_guessed_onto_the_twin_without_a_hint() -> None:
    # Arrange: the older twin is the hinted one this time
    ex, ctx = _twins()
    ex.handle(_unknown(OLD_Y, "0xv1"), ctx, 2)
    ex.handle(_unknown(NEW_Y), ctx, 3)

    # Act: an id nobody named: the guess skips the hinted order (its id is known and different)
    ex.handle(_update("0xvX"), ctx, 4)

    # Assert
    assert (_vid(ex, OLD_Y), _vid(ex, NEW_Y)) == ("", "0xvX")
    assert ex.orders.venue_hint(OLD_Y) == "0xv1"


def test_unknown_with_venue_id_late_cancellation_resolves_that_order() -> None:
    # Arrange
    ex, ctx = _twins()
    ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 2)

    # Act
    ex.handle(OrderCancelled(ts_recv_ns=T0, venue_order_id="0xv3"), ctx, 3)

    # Assert
    rec = ex.orders.get(NEW_Y)
    assert rec is not None and ex.orders.state_of(rec) == "cancelled"
    assert ex.orders.venue_hint(NEW_Y) == ""


def test_unknown_with_venue_id_after_a_parked_update_maps_at_once() -> None:
    # Arrange: the user channel reported the order (at a price no order of ours has) before
    # the reply, so nothing matched it then and it was parked
    ex, ctx = _twins()
    parked = msgspec.structs.replace(_update("0xv3"), price_micros=449_000)
    ex.handle(parked, ctx, 3)

    # Act
    step = ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 4)

    # Assert
    assert [r.kind for r in step.results][:2] == ["outcome_unknown", "accepted"]
    assert _vid(ex, NEW_Y) == "0xv3" and ex.orders.unknown_outstanding() == 0


def test_unknown_with_venue_id_already_mapped_elsewhere_is_a_counted_conflict() -> None:
    # Arrange
    ex, ctx = _twins()
    ex.handle(accepted(OLD_Y, "0xv1"), ctx, 2)

    # Act
    ex.handle(_unknown(NEW_Y, "0xv1"), ctx, 3)

    # Assert: no hint; the order stays unknown for reconciliation
    assert ex.orders.venue_hint(NEW_Y) == "" and _vid(ex, OLD_Y) == "0xv1"
    assert ex.orders.counters()["venue_id_conflict"] == 1


def test_unknown_with_venue_id_then_rejected_drops_the_hint() -> None:
    # Arrange
    ex, ctx = _twins()
    ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 2)

    # Act: reconciliation found it absent; a late event with the id must not revive it
    ex.handle(rejected(NEW_Y, reason="not found at the venue", code="absent"), ctx, 3)
    ex.handle(_update("0xv3"), ctx, 4)

    # Assert
    rec = ex.orders.get(NEW_Y)
    assert rec is not None and rec.status == "rejected" and rec.venue_order_id == ""
    assert "venue_hints" not in ex.orders.snapshot()


def test_unknown_with_venue_id_hint_survives_snapshot_and_restore() -> None:
    # Arrange
    ex, ctx = _twins()
    ex.handle(_unknown(OLD_Y), ctx, 2)
    ex.handle(_unknown(NEW_Y, "0xv3"), ctx, 3)
    snap = ex.snapshot()

    # Act
    again = Execution.restore(snap, ex.config)
    again.handle(_update("0xv3"), ctx, 4)

    # Assert
    assert snap["orders"]["venue_hints"] == {"0xv3": NEW_Y}
    assert (_vid(again, NEW_Y), _vid(again, OLD_Y)) == ("0xv3", "")
    assert "venue_hints" not in again.snapshot()["orders"]


@pytest.mark.parametrize("vid", [None, ""])
def test_unknown_without_venue_id_keeps_the_snapshot_shape(vid: str | None) -> None:
    # Arrange
    ex, ctx = _twins()

    # Act
    ex.handle(_unknown(NEW_Y, vid), ctx, 2)

    # Assert: no key at all, so an old journal's checkpoints hash the same
    assert sorted(ex.snapshot()["orders"]) == ["orders", "trades"]
