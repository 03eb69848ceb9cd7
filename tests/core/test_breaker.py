# Circuit breaker: every trip, its release policy, operator control, the UTC day roll, and the
# state-machine properties (no self-transitions, determinism, snapshot/restore continuity).
#
# Rules: time is event time only (no sleeps); every case drives a fresh Breaker through explicit
# observations at explicit timestamps and asserts the exact BreakerTransitioned it returns.
from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.breaker import (
    NS_PER_DAY,
    NS_PER_S,
    OPERATOR_RESUME,
    TRIPS,
    Breaker,
    BreakerConfig,
    to_decimal,
)
from polyarb.events.decisions import BreakerTransitioned

S = NS_PER_S
DAY0 = 19_700 * NS_PER_DAY  # a UTC midnight
T0 = DAY0 + 12 * 3600 * S  # noon, far from the day roll
COOL = BreakerConfig().cooldown_ns

Step = tuple[str, tuple[Any, ...]]


class Driver:
    """A breaker plus a cause_seq counter: call(step, at) returns the transitions."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.b = Breaker(config)
        self.seq = 0

    def __call__(self, method: str, *args: Any, at: int) -> list[BreakerTransitioned]:
        self.seq += 1
        result: list[BreakerTransitioned] = getattr(self.b, method)(*args, at, self.seq)
        return result

    def run(self, steps: list[Step], start: int) -> list[BreakerTransitioned]:
        out: list[BreakerTransitioned] = []
        for i, (method, args) in enumerate(steps):
            out += self(method, *args, at=start + i * S)
        return out


def _one(events: list[BreakerTransitioned]) -> BreakerTransitioned:
    assert len(events) == 1, events
    return events[0]


# gate, setup steps, tripping step, same step just within the limit, to_state, limit, observed
TRIP_CASES: list[tuple[str, list[Step], Step, Step, str, str, str]] = [
    ("daily_loss", [], ("observe_realized_pnl", (-100_000_001,)),
     ("observe_realized_pnl", (-100_000_000,)), "HALTED", "100", "100.000001"),
    ("max_open_positions", [], ("observe_open_positions", (4,)),
     ("observe_open_positions", (3,)), "REDUCING", "3", "4"),
    ("max_market_exposure", [], ("observe_exposure", ("m1", 50_000_001, None, 0, 50_000_001)),
     ("observe_exposure", ("m1", 50_000_000, None, 0, 50_000_000)), "REDUCING", "50",
     "50.000001"),
    ("max_group_exposure", [], ("observe_exposure", ("m1", 1, "g1", 100_000_001, 100_000_001)),
     ("observe_exposure", ("m1", 1, "g1", 100_000_000, 100_000_000)), "REDUCING", "100",
     "100.000001"),
    ("max_total_exposure", [], ("observe_exposure", ("m1", 1, None, 0, 150_000_001)),
     ("observe_exposure", ("m1", 1, None, 0, 150_000_000)), "REDUCING", "150", "150.000001"),
    ("execution_failures", [("observe_execution", (False,))] * 2,
     ("observe_execution", (False,)), ("observe_execution", (True,)), "HALTED", "2", "3"),
    ("order_rejections", [("observe_rejection", ())] * 5, ("observe_rejection", ()),
     ("tick", ()), "HALTED", "5", "6"),
    ("unknown_outcomes", [], ("observe_unknown_outcomes", (1,)),
     ("observe_unknown_outcomes", (0,)), "HALTED", "0", "1"),
    ("feed_broken", [], ("observe_feed", ("tok", True)), ("observe_feed", ("tok", False)),
     "REDUCING", "0", "1"),
    ("operator_halt", [], ("observe_operator", ("halt", "by hand")),
     ("observe_operator", ("resume", "")), "HALTED", "0", "1"),
]
CASE_IDS = [case[0] for case in TRIP_CASES]


@pytest.mark.parametrize("case", TRIP_CASES, ids=CASE_IDS)
def test_breaker_trip_over_limit_emits_one_transition(case: tuple[Any, ...]) -> None:
    # Arrange
    gate, setup, trip, _, to_state, limit, observed = case
    drive = Driver()
    assert drive.run(setup, T0) == []
    # Act
    event = _one(drive(trip[0], *trip[1], at=T0 + 10 * S))
    # Assert
    assert (event.from_state, event.to_state, event.gate) == ("ACTIVE", to_state, gate)
    assert (event.limit, event.observed) == (Decimal(limit), Decimal(observed))
    assert event.ts_recv_ns == T0 + 10 * S and event.cause_seq == drive.seq
    assert drive.b.state == to_state and drive.b.armed_gates() == (gate,)


@pytest.mark.parametrize("case", TRIP_CASES, ids=CASE_IDS)
def test_breaker_value_within_limit_no_transition(case: tuple[Any, ...]) -> None:
    _, setup, _, within, *_ = case
    drive = Driver()
    assert drive.run([*setup, within], T0) == []
    assert drive.b.state == "ACTIVE"


@pytest.mark.parametrize("case", TRIP_CASES, ids=CASE_IDS)
def test_breaker_same_trip_observed_again_no_double_emit(case: tuple[Any, ...]) -> None:
    _, setup, trip, *_ = case
    drive = Driver()
    drive.run(setup, T0)
    _one(drive(trip[0], *trip[1], at=T0 + 10 * S))
    assert drive(trip[0], *trip[1], at=T0 + 10 * S) == []
    assert drive(trip[0], *trip[1], at=T0 + 11 * S) == []


def test_breaker_trip_table_covers_every_gate_tested() -> None:
    assert set(CASE_IDS) | {"heartbeat_lost"} == set(TRIPS)


# gate, steps that trip it, a step that clears its condition (None: latched, nothing to clear)
COOLDOWN_CASES: list[tuple[str, list[Step], Step | None]] = [
    ("unknown_outcomes", [("observe_unknown_outcomes", (2,))],
     ("observe_unknown_outcomes", (0,))),
    ("heartbeat_lost", [("observe_resting_orders", (1,)), ("tick", ())] + [("tick", ())] * 10,
     ("observe_resting_orders", (0,))),  # the venue's dead-man switch cancelled them
    ("execution_failures", [("observe_execution", (False,))] * 3, None),
    ("order_rejections", [("observe_rejection", ())] * 6, None),
]


@pytest.mark.parametrize("case", COOLDOWN_CASES, ids=[c[0] for c in COOLDOWN_CASES])
def test_breaker_halted_trip_cleared_recovers_after_cooldown_by_event_time(
    case: tuple[Any, ...],
) -> None:
    # Arrange: trip, then clear the condition at `cleared`
    gate, steps, clear = case
    drive = Driver()
    armed = drive.run(steps, T0)
    assert [e.gate for e in armed] == [gate]
    cleared = T0 + len(steps) * S
    if clear is None:
        cleared = armed[0].ts_recv_ns  # latched trips count from their arming
    else:
        assert drive(clear[0], *clear[1], at=cleared) == []
    # Act / Assert: still halted one ns before the cooldown ends, active at its end
    assert drive("tick", at=cleared + COOL - 1) == []
    event = _one(drive("tick", at=cleared + COOL))
    assert (event.from_state, event.to_state, event.gate) == ("HALTED", "ACTIVE", gate)
    assert drive("tick", at=cleared + COOL + 1) == []


def test_breaker_latched_failures_reset_after_release() -> None:
    drive = Driver()
    drive.run([("observe_execution", (False,))] * 3, T0)
    event = _one(drive("tick", at=T0 + 2 * S + COOL))
    assert event.observed == 0  # the release reports today's count, not the arming one
    assert drive.run([("observe_execution", (False,))] * 2, T0 + 2 * S + COOL) == []


def test_breaker_latched_retrip_during_cooldown_restarts_it() -> None:
    drive = Driver()
    drive.run([("observe_execution", (False,))] * 3, T0)
    drive.run([("observe_execution", (False,))] * 3, T0 + 100 * S)  # re-arms at T0 + 102 s
    assert drive("tick", at=T0 + 2 * S + COOL) == []
    assert _one(drive("tick", at=T0 + 102 * S + COOL)).to_state == "ACTIVE"


def test_breaker_execution_success_resets_consecutive_failures() -> None:
    steps: list[Step] = [("observe_execution", (ok,)) for ok in (False, False, True, False, False)]
    assert Driver().run(steps, T0) == []


def test_breaker_rejections_outside_window_age_out() -> None:
    drive = Driver()
    drive.run([("observe_rejection", ())] * 5, T0)  # T0 .. T0 + 4 s
    assert drive("observe_rejection", at=T0 + 60 * S + 1) == []  # T0 has left the window
    assert _one(drive("observe_rejection", at=T0 + 60 * S + 2)).gate == "order_rejections"


@pytest.mark.parametrize(
    ("trip", "clear"),
    [
        (("observe_open_positions", (5,)), ("observe_open_positions", (3,))),
        (("observe_feed", ("t", True)), ("observe_feed", ("t", False))),
        (("observe_exposure", ("m", 60_000_000, "g", 1, 1)),
         ("observe_exposure", ("m", 0, "g", 1, 1))),
    ],
    ids=["positions", "feed", "exposure"],
)
def test_breaker_reducing_trip_releases_as_soon_as_clear(trip: Step, clear: Step) -> None:
    drive = Driver()
    drive(trip[0], *trip[1], at=T0)
    event = _one(drive(clear[0], *clear[1], at=T0 + 1))
    assert (event.from_state, event.to_state) == ("REDUCING", "ACTIVE")
    assert event.observed == 0 or event.gate == "max_open_positions"


def test_breaker_feed_broken_counts_tokens_until_all_restored() -> None:
    drive = Driver()
    assert _one(drive("observe_feed", "a", True, at=T0)).observed == 1
    assert drive("observe_feed", "b", True, at=T0 + 1) == []
    assert drive("observe_feed", "a", False, at=T0 + 2) == []
    assert _one(drive("observe_feed", "b", False, at=T0 + 3)).to_state == "ACTIVE"


def test_breaker_market_exposure_holds_while_any_market_over() -> None:
    drive = Driver()
    drive("observe_exposure", "m1", 60_000_000, None, 0, 1, at=T0)
    drive("observe_exposure", "m2", 70_000_000, None, 0, 1, at=T0 + 1)
    assert drive("observe_exposure", "m2", 0, None, 0, 1, at=T0 + 2) == []
    event = _one(drive("observe_exposure", "m1", 0, None, 0, 1, at=T0 + 3))
    assert (event.to_state, event.gate) == ("ACTIVE", "max_market_exposure")


def test_breaker_escalates_reducing_to_halted_and_back() -> None:
    drive = Driver()
    drive("observe_open_positions", 4, at=T0)
    up = _one(drive("observe_unknown_outcomes", 1, at=T0 + 1))
    assert (up.from_state, up.to_state, up.gate) == ("REDUCING", "HALTED", "unknown_outcomes")
    assert drive("observe_feed", "t", True, at=T0 + 2) == []  # no transition while HALTED
    drive("observe_unknown_outcomes", 0, at=T0 + 3)
    down = _one(drive("tick", at=T0 + 3 + COOL))
    assert (down.from_state, down.to_state, down.gate) == ("HALTED", "REDUCING", "unknown_outcomes")
    assert "still held by: feed_broken, max_open_positions" in down.reason


def test_breaker_one_call_arming_two_trips_names_the_first_in_table_order() -> None:
    event = _one(Driver()("observe_exposure", "m", 60_000_000, "g", 110_000_000, 160_000_000,
                          at=T0))
    assert event.gate == "max_market_exposure"
    assert "also armed: max_group_exposure, max_total_exposure" in event.reason


def test_breaker_heartbeat_kept_alive_no_trip() -> None:
    drive = Driver()
    drive("observe_resting_orders", 2, at=T0)
    events = [e for k in range(1, 40) for e in drive("observe_heartbeat", True, at=T0 + 5 * k * S)]
    assert events == [] and drive("tick", at=T0 + 205 * S) == []


def test_breaker_heartbeat_lapse_via_tick_while_orders_rest() -> None:
    # Arrange: orders rest from T0, last ok heartbeat at T0 + 3 s, a failure does not reset it
    drive = Driver()
    drive("observe_resting_orders", 1, at=T0)
    drive("observe_heartbeat", True, at=T0 + 3 * S)
    assert drive("observe_heartbeat", False, at=T0 + 8 * S) == []
    # Act / Assert: exactly at the timeout is tolerated, one ns later trips
    assert drive("tick", at=T0 + 13 * S) == []
    event = _one(drive("tick", at=T0 + 13 * S + 1))
    assert (event.gate, event.to_state) == ("heartbeat_lost", "HALTED")
    assert (event.limit, event.observed) == (Decimal(10), Decimal("10.000000001"))


def test_breaker_heartbeat_back_with_orders_resting_recovers_after_cooldown() -> None:
    drive = Driver()
    drive("observe_resting_orders", 1, at=T0)
    _one(drive("tick", at=T0 + 11 * S))
    beats = [e for k in range(0, COOL // S, 5)
             for e in drive("observe_heartbeat", True, at=T0 + 20 * S + k * S)]
    assert beats == []
    assert _one(drive("observe_heartbeat", True, at=T0 + 20 * S + COOL)).to_state == "ACTIVE"


def test_breaker_heartbeat_irrelevant_without_resting_orders() -> None:
    drive = Driver()
    drive("observe_resting_orders", 1, at=T0)
    drive("observe_resting_orders", 0, at=T0 + S)
    assert drive("tick", at=T0 + 3600 * S) == []
    # Orders resting again start a fresh timeout from when they started resting.
    drive("observe_resting_orders", 3, at=T0 + 4000 * S)
    assert drive("tick", at=T0 + 4010 * S) == []
    assert _one(drive("tick", at=T0 + 4010 * S + 1)).gate == "heartbeat_lost"


def test_breaker_daily_loss_holds_past_cooldown_and_pnl_recovery() -> None:
    drive = Driver()
    drive("observe_realized_pnl", -150_000_000, at=T0)
    assert drive("observe_realized_pnl", 0, at=T0 + S) == []
    assert drive("tick", at=T0 + 10 * COOL) == []
    assert drive.b.state == "HALTED"


def test_breaker_daily_loss_resets_at_utc_midnight_by_event_time() -> None:
    drive = Driver()
    drive("observe_realized_pnl", -150_000_000, at=T0)
    midnight = DAY0 + NS_PER_DAY
    assert drive("tick", at=midnight - 1) == []
    event = _one(drive("tick", at=midnight))
    assert (event.gate, event.from_state, event.to_state) == ("daily_loss", "HALTED", "ACTIVE")
    assert event.observed == 0 and "1970" not in event.reason


def test_breaker_daily_loss_is_per_utc_day() -> None:
    # $60 lost late on day 0 and $60 early on day 1 never trip; $100.000001 within day 1 does.
    drive = Driver()
    midnight = DAY0 + NS_PER_DAY
    assert drive("observe_realized_pnl", -60_000_000, at=midnight - S) == []
    assert drive("observe_realized_pnl", -120_000_000, at=midnight + S) == []
    event = _one(drive("observe_realized_pnl", -160_000_001, at=midnight + 2 * S))
    assert (event.gate, event.observed) == ("daily_loss", Decimal("100.000001"))


def test_breaker_operator_halt_holds_until_resume() -> None:
    drive = Driver()
    _one(drive("observe_operator", "halt", "check fills", at=T0))
    assert drive("observe_operator", "halt", "again", at=T0 + 1) == []
    assert drive("tick", at=T0 + 10 * COOL) == []
    event = _one(drive("observe_operator", "resume", "all good", at=T0 + 10 * COOL + 1))
    assert (event.gate, event.to_state) == (OPERATOR_RESUME, "ACTIVE")
    assert event.reason.startswith("all good")
    assert drive("observe_operator", "resume", "", at=T0 + 10 * COOL + 2) == []


def test_breaker_resume_gives_daily_loss_a_fresh_budget() -> None:
    drive = Driver()
    drive("observe_realized_pnl", -150_000_000, at=T0)
    assert _one(drive("observe_operator", "resume", "", at=T0 + S)).to_state == "ACTIVE"
    assert drive("observe_realized_pnl", -150_000_000, at=T0 + 2 * S) == []
    assert drive("observe_realized_pnl", -250_000_000, at=T0 + 3 * S) == []
    assert _one(drive("observe_realized_pnl", -250_000_001, at=T0 + 4 * S)).gate == "daily_loss"


def test_breaker_resume_when_active_keeps_the_loss_budget() -> None:
    drive = Driver()
    drive("observe_realized_pnl", -90_000_000, at=T0)
    assert drive("observe_operator", "resume", "", at=T0 + S) == []
    assert _one(drive("observe_realized_pnl", -100_000_001, at=T0 + 2 * S)).gate == "daily_loss"


def test_breaker_resume_skips_cooldown_but_not_a_holding_condition() -> None:
    drive = Driver()
    drive("observe_unknown_outcomes", 1, at=T0)
    drive("observe_open_positions", 9, at=T0 + 1)
    assert drive("observe_operator", "resume", "", at=T0 + 2) == []  # unknown still outstanding
    drive("observe_unknown_outcomes", 0, at=T0 + 3)
    event = _one(drive("observe_operator", "resume", "reconciled", at=T0 + 4))
    assert (event.from_state, event.to_state) == ("HALTED", "REDUCING")
    assert "released: unknown_outcomes" in event.reason
    assert "still held by: max_open_positions" in event.reason


def test_breaker_earlier_timestamp_never_winds_the_clock_back() -> None:
    drive = Driver()
    drive("observe_unknown_outcomes", 1, at=T0)
    drive("observe_unknown_outcomes", 0, at=T0 + COOL - 1)
    assert drive("tick", at=T0) == []
    assert _one(drive("tick", at=T0 + 2 * COOL)).to_state == "ACTIVE"


def test_breaker_custom_limits_apply() -> None:
    drive = Driver(BreakerConfig(max_open_positions=0, cooldown_ns=S))
    assert _one(drive("observe_open_positions", 1, at=T0)).limit == 0


def test_breaker_config_rejects_negative_and_unknown_fields() -> None:
    with pytest.raises(ValueError, match="max_open_positions"):
        BreakerConfig(max_open_positions=-1)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"max_open_positon": 3}, BreakerConfig)


def test_breaker_to_decimal_is_exact_per_unit() -> None:
    assert to_decimal("usd", 1) == Decimal("0.000001")
    assert to_decimal("secs", 1) == Decimal("1E-9")
    assert to_decimal("count", 7) == Decimal(7)


def test_breaker_snapshot_is_sorted_json_and_restores_exactly() -> None:
    drive = Driver()
    drive("observe_exposure", "z", 60_000_000, "g", 1, 1, at=T0)
    drive("observe_exposure", "a", 60_000_000, "g", 1, 1, at=T0 + 1)
    drive("observe_operator", "halt", "", at=T0 + 2)
    snap = drive.b.snapshot()
    text = orjson.dumps(snap)
    assert text == orjson.dumps(snap, option=orjson.OPT_SORT_KEYS)
    restored = Breaker.restore(orjson.loads(text))
    assert restored.snapshot() == snap and restored.state == "HALTED"


def test_breaker_restore_refuses_inconsistent_snapshot() -> None:
    snap = Breaker().snapshot()
    snap["state"] = "HALTED"
    with pytest.raises(ValueError, match="disagrees"):
        Breaker.restore(snap)
    with pytest.raises(msgspec.ValidationError):
        Breaker.restore({"state": "PANIC"})


# ---- properties ---------------------------------------------------------------------------

_IDEMPOTENT = {"observe_realized_pnl", "observe_open_positions", "observe_exposure",
               "observe_unknown_outcomes", "observe_feed", "observe_resting_orders",
               "observe_heartbeat", "observe_operator", "tick"}
_MONEY = st.integers(-200_000_000, 200_000_000)
_STEP: st.SearchStrategy[Step] = st.one_of(
    st.tuples(st.just("observe_realized_pnl"), st.tuples(_MONEY)),
    st.tuples(st.just("observe_open_positions"), st.tuples(st.sampled_from([0, 1, 3, 4]))),
    st.tuples(st.just("observe_exposure"), st.tuples(
        st.sampled_from(["m1", "m2", "m3"]), _MONEY, st.sampled_from([None, "g1", "g2"]),
        _MONEY, _MONEY)),
    st.tuples(st.just("observe_execution"), st.tuples(st.booleans())),
    st.tuples(st.just("observe_rejection"), st.just(())),
    st.tuples(st.just("observe_unknown_outcomes"), st.tuples(st.sampled_from([0, 0, 0, 1, 2]))),
    st.tuples(st.just("observe_feed"), st.tuples(st.sampled_from(["t1", "t2"]), st.booleans())),
    st.tuples(st.just("observe_resting_orders"), st.tuples(st.sampled_from([0, 0, 1, 2]))),
    st.tuples(st.just("observe_heartbeat"), st.tuples(st.booleans())),
    st.tuples(st.just("observe_operator"), st.tuples(st.sampled_from(["halt", "resume"]),
                                                     st.just("op"))),
    st.tuples(st.just("tick"), st.just(())),
)
_GAP = st.one_of(st.integers(0, 20 * S), st.integers(COOL // 2, 2 * COOL),
                 st.just(NS_PER_DAY), st.integers(-5 * S, 0))
_SEQUENCE = st.lists(st.tuples(_STEP, _GAP), max_size=60)


def _replay(b: Breaker, seq: list[tuple[Step, int]], start: int) -> list[list[BreakerTransitioned]]:
    out, ts = [], T0 + 23 * 3600 * S  # start an hour before midnight to cross day rolls
    for i, ((method, args), gap) in enumerate(seq[start:], start):
        ts += gap
        out.append(getattr(b, method)(*args, ts + i, i))  # + i: distinct stamps per index
    return out


@settings(max_examples=300, deadline=None)
@given(_SEQUENCE)
def test_breaker_any_sequence_transitions_chain_without_self_loops(
    seq: list[tuple[Step, int]],
) -> None:
    b = Breaker()
    state = "ACTIVE"
    for events in _replay(b, seq, 0):
        assert len(events) <= 1
        for event in events:
            assert event.from_state == state != event.to_state
            assert event.gate in TRIPS or event.gate == OPERATOR_RESUME
            state = event.to_state
    assert b.state == state


@settings(max_examples=200, deadline=None)
@given(_SEQUENCE)
def test_breaker_same_sequence_replayed_gives_same_transitions_and_state(
    seq: list[tuple[Step, int]],
) -> None:
    first, second = Breaker(), Breaker()
    assert _replay(first, seq, 0) == _replay(second, seq, 0)
    assert first.snapshot() == second.snapshot()


@settings(max_examples=200, deadline=None)
@given(_SEQUENCE, st.integers(0, 60))
def test_breaker_snapshot_restore_mid_sequence_continues_identically(
    seq: list[tuple[Step, int]], cut: int,
) -> None:
    # Arrange: a reference run, and a run that snapshots at `cut` through JSON and restores
    cut = min(cut, len(seq))
    reference = _replay(Breaker(), seq, 0)
    head = Breaker()
    ts = T0 + 23 * 3600 * S
    for i, ((method, args), gap) in enumerate(seq[:cut]):
        ts += gap
        getattr(head, method)(*args, ts + i, i)
    restored = Breaker.restore(orjson.loads(orjson.dumps(head.snapshot())))
    # Act: continue the restored breaker from the same timestamps
    tail = []
    for i, ((method, args), gap) in enumerate(seq[cut:], cut):
        ts += gap
        tail.append(getattr(restored, method)(*args, ts + i, i))
    # Assert
    assert tail == reference[cut:]


@settings(max_examples=200, deadline=None)
@given(_SEQUENCE, _STEP)
def test_breaker_repeating_a_level_observation_never_emits(
    seq: list[tuple[Step, int]], step: Step,
) -> None:
    b = Breaker()
    _replay(b, seq, 0)
    method, args = step
    ts = b.snapshot()["now_ns"]
    getattr(b, method)(*args, ts, 1)
    if method in _IDEMPOTENT:
        assert getattr(b, method)(*args, ts, 2) == []
