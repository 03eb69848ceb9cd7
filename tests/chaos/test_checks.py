# The chaos run's invariant checks on small hand-built journals: each passes on a sound journal
# and fails, naming the problem, on one that breaks its invariant.
from __future__ import annotations

from pathlib import Path

import msgspec

from polyarb.chaos.checks import (
    check_breaker_halts,
    check_journal,
    check_naked_legs,
    check_pnl,
    check_replay,
    check_risk_limits,
    check_seqs,
    check_unknown_resolved,
    compare_pnl,
)
from polyarb.core.breaker import BreakerConfig
from polyarb.core.config import EngineConfig, RiskSizes
from polyarb.events.base import Decision, Record
from polyarb.events.decisions import (
    BreakerTransitioned,
    CancelOrders,
    OpportunityBlocked,
    PlaceOrders,
    Unwind,
)
from polyarb.journal import iter_records
from tests.chaos.helpers import RecordRun, complete_set, legged, resolved_set, write_journal
from tests.core.engine_helpers import SEC, USD, market, rejected
from tests.replay.journal_builder import standard_journal

# --- journal_verify ------------------------------------------------------------------------------


def test_check_seqs_contiguous_passes() -> None:
    assert check_seqs([1, 2, 3]).ok


def test_check_seqs_gap_or_empty_fails() -> None:
    gap = check_seqs([1, 2, 4])
    assert not gap.ok and gap.details == ("seq 4 at position 3",)
    assert not check_seqs([]).ok


def test_check_journal_standard_journal_passes(tmp_path: Path) -> None:
    standard_journal(tmp_path / "j")
    seqs = [r.seq for r in iter_records(tmp_path / "j")]

    assert check_journal(tmp_path / "j", seqs).ok


def test_check_journal_corrupted_segment_fails(tmp_path: Path) -> None:
    root = tmp_path / "j"
    standard_journal(root)
    seqs = [r.seq for r in iter_records(root)]
    segment = sorted(root.glob("*/seg-*.ndjson"))[0]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the first segment
    segment.write_bytes(bytes(data))

    result = check_journal(root, seqs)

    assert not result.ok and result.details


# --- replay --------------------------------------------------------------------------------------


def test_check_replay_standard_journal_passes(tmp_path: Path) -> None:
    standard_journal(tmp_path / "j")

    assert check_replay(tmp_path / "j").ok


def test_check_replay_journal_missing_a_decision_fails(tmp_path: Path) -> None:
    dropped = {"done": False}

    def drop_first_batch(seq: int, out: list) -> list:  # type: ignore[type-arg]
        if not dropped["done"] and any(type(d) is PlaceOrders for d in out):
            dropped["done"] = True
            return [d for d in out if type(d) is not PlaceOrders]
        return out

    standard_journal(tmp_path / "j", journal_filter=drop_first_batch)

    result = check_replay(tmp_path / "j")

    assert not result.ok and "exit 1" in result.details[0]


# --- risk_limits ---------------------------------------------------------------------------------


def test_check_risk_limits_orders_within_limits_pass() -> None:
    run = RecordRun()
    run.started()
    complete_set(run)

    result = check_risk_limits(run.records)

    assert result.ok and result.summary == "2 orders checked"


def test_check_risk_limits_order_above_journaled_max_size_fails() -> None:
    # the engine sized with the default limits, but the run journaled a 10-share maximum
    run = RecordRun()
    run.started(EngineConfig(risk=RiskSizes(max_order_size_micros=10 * USD)))
    complete_set(run)

    result = check_risk_limits(run.records)

    assert not result.ok and "> max 10000000" in result.details[0]


def test_check_risk_limits_exposure_above_journaled_limit_fails() -> None:
    run = RecordRun()
    run.started(EngineConfig(breaker=BreakerConfig(max_total_exposure_micros=5 * USD)))
    complete_set(run)

    result = check_risk_limits(run.records)

    assert not result.ok and any("total exposure" in d for d in result.details)


# --- naked_legs ----------------------------------------------------------------------------------


def test_check_naked_legs_escalated_at_the_timeout_passes() -> None:
    run = RecordRun()
    run.started()
    legged(run)

    result = check_naked_legs(run.records)

    assert any(type(d) is CancelOrders for d in run.decisions)
    assert result.ok and result.summary.startswith("1 legging episode(s);")


def test_check_naked_legs_no_repair_journaled_fails() -> None:
    run = RecordRun(keep=lambda d: type(d) not in (CancelOrders, Unwind))
    run.started()
    legged(run)

    result = check_naked_legs(run.records)

    assert not result.ok and "no unwind or cancel decided" in result.details[0]


def test_check_naked_legs_exit_died_and_nothing_decided_fails() -> None:
    # the exit of the filled leg is rejected; the engine's next exit never reaches the journal
    def keep(d: Decision) -> bool:
        return not (type(d) is Unwind and d.orders[0].client_order_id != "run-o3")

    run = RecordRun(keep=keep)
    run.started()
    y, n = complete_set(run).orders
    run.accept(y)
    run.fill(y)
    run.reject(n)  # legged: exit run-o3 (journaled)
    run.feed(rejected("run-o3", run.next_ts()))  # the exit dies; its successor is dropped
    for _ in range(11):
        run.clock(SEC)

    result = check_naked_legs(run.records)

    assert not result.ok and "run-x1 legged without a repair order" in result.details[0]


# --- unknown_resolved ----------------------------------------------------------------------------


def test_check_unknown_resolved_later_answer_passes() -> None:
    run = RecordRun()
    run.started()
    y, n = complete_set(run).orders
    run.unknown(y)
    run.accept(y)
    run.reject(n)

    result = check_unknown_resolved(run.records)

    assert result.ok and result.summary == "1 unknown outcome(s)"


def test_check_unknown_resolved_by_a_fill_the_engine_maps_passes() -> None:
    # no later event names the client id: the fill on an unseen venue id is mapped to it
    run = RecordRun()
    run.started()
    y, n = complete_set(run).orders
    run.unknown(y)
    run.fill(y, vid="0xvenue-unseen")
    run.reject(n)

    result = check_unknown_resolved(run.records)

    assert result.ok and result.summary == "1 unknown outcome(s)"


def test_check_unknown_resolved_never_answered_fails() -> None:
    run = RecordRun()
    run.started()
    y, n = complete_set(run).orders
    run.unknown(y)
    run.reject(n)

    result = check_unknown_resolved(run.records)

    assert not result.ok and y.client_order_id in result.details[0]


# --- breaker_halts -------------------------------------------------------------------------------


def _halted_then_blocked(run: RecordRun) -> None:
    run.started()
    run.operator("halt", "test")
    run.load(market("0xm1", "Y1", "N1"))
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    run.book("N1", [(400_000, 100 * USD)], [(500_000, 40 * USD)])  # blocked: breaker_halted


def test_check_breaker_halts_block_inside_a_halt_passes() -> None:
    run = RecordRun()
    _halted_then_blocked(run)

    result = check_breaker_halts(run.records)

    assert any(type(d) is OpportunityBlocked for d in run.decisions)
    assert result.ok and result.summary == "1 breaker block(s), 1 transition(s)"


def test_check_breaker_halts_block_without_a_transition_fails() -> None:
    run = RecordRun(keep=lambda d: type(d) is not BreakerTransitioned)
    _halted_then_blocked(run)

    result = check_breaker_halts(run.records)

    assert not result.ok and "while the journaled breaker was ACTIVE" in result.details[0]


def test_check_breaker_halts_transition_from_the_wrong_state_fails() -> None:
    records = [Record(1, BreakerTransitioned(ts_recv_ns=1, cause_seq=0, from_state="HALTED",
                                             to_state="ACTIVE", gate="operator_resume",
                                             limit=0, observed=0))]  # type: ignore[arg-type]

    result = check_breaker_halts(records)

    assert not result.ok and "the breaker was ACTIVE" in result.details[0]


# --- pnl -----------------------------------------------------------------------------------------


def test_check_pnl_resolved_set_sql_equals_engine(tmp_path: Path) -> None:
    run = RecordRun()
    run.started()
    resolved_set(run)
    write_journal(tmp_path / "j", run.records)

    result = check_pnl(tmp_path / "j")

    assert result.ok and result.summary == "realized 2000000 micros (engine), 2000000 (SQL)"


def test_compare_pnl_one_micro_off_fails() -> None:
    sql = (100, {"2025-12-27": 100}, {"0xm1": 100})
    engine = (101, {"2025-12-27": 101}, {"0xm1": 101})

    problems = compare_pnl(sql, engine)

    assert problems == ["total: SQL 100 != engine 101", "day 2025-12-27: SQL 100 != engine 101",
                        "market 0xm1: SQL 100 != engine 101"]
    assert compare_pnl(sql, sql) == []


def test_check_results_are_named_and_serializable() -> None:
    result = check_seqs([1])

    assert msgspec.json.decode(msgspec.json.encode(result.__dict__))["name"] == "journal_verify"
