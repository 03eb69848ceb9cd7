# Journals written before order_rejected / order_outcome_unknown went to schema v2 replay
# identically. The writer here writes those kinds as the v1 writer did ("v":1, no reason_code,
# no venue_order_id) while the engine folds what the v1 core decided on: a kill text did not
# count toward the rejected-order rate, every other rejection did, 429 and 503 included. The
# decode path then has to upcast every such line to a code that gives the same decisions.
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from polyarb.core.breaker import BreakerConfig
from polyarb.core.config import EngineConfig
from polyarb.events import OrderOutcomeUnknown, OrderRejected, Record, decode_record
from polyarb.events.base import Decision, Input
from polyarb.events.decisions import BreakerTransitioned, PlaceOrders
from polyarb.journal import fastscan, iter_lines, iter_records, reader
from polyarb.replay import replay_journal
from tests.core.engine_helpers import SEC, USD, market, of
from tests.replay.journal_builder import JournalRun, standard_journal

V1_KINDS = (OrderRejected, OrderOutcomeUnknown)


@contextmanager
def v1_writer() -> Iterator[None]:
    """While writing, lines of the two kinds carry "v":1, as an older polyarb wrote them."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in V1_KINDS:
            mp.setattr(cls, "SCHEMA_VERSION", 1)
        yield


class V1Run(JournalRun):
    """Journals each rejection as the v1 writer did; the engine folds it with `folded_code`."""

    def reject_v1(self, cid: str, reason: str, status: int | None, folded_code: str
                  ) -> list[Decision]:
        ts = self.next_ts()
        journaled = OrderRejected(ts_recv_ns=ts, client_order_id=cid, reason=reason,
                                  http_status=status)  # reason_code at default: not written
        folded = msgspec.structs.replace(journaled, reason_code=folded_code)
        return self._feed_as(journaled, folded)

    def _feed_as(self, journaled: Input, folded: Input) -> list[Decision]:
        self._ts = journaled.ts_recv_ns
        seq = self.writer.append(journaled)
        out = self.engine.apply(seq, folded)
        for decision in out:
            self.writer.append(decision)
        self.seq = seq
        self.inputs.append((seq, journaled))
        self.decisions.extend(out)
        return out


def _pair(run: V1Run, size: int) -> PlaceOrders:
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, size)])
    batches: list[PlaceOrders] = of(run.book("N1", [(400_000, 100 * USD)],
                                             [(500_000, size)]), PlaceOrders)
    return batches[0]


def _old_run(root: Path) -> V1Run:
    """Kills that did not count, then 429 refusals that did and tripped the rejection rate."""
    breaker = BreakerConfig(max_rejections=1, max_consecutive_failures=10,
                            max_unknown_outcomes=1)
    run = V1Run(root, msgspec.structs.replace(EngineConfig(), breaker=breaker))
    run.run_started("r1")
    run.load(market("0xm1", "Y1", "N1"))
    y, n = _pair(run, 40 * USD).orders
    run.reject_v1(y.client_order_id, "FOK orders are filled or killed", 400, "killed")
    run.feed(OrderOutcomeUnknown(ts_recv_ns=run.next_ts(), client_order_id=n.client_order_id,
                                 reason="timeout; order hash 0xabc"))
    run.reject_v1(n.client_order_id, "not found at the venue", None, "absent")
    run.clock(SEC)
    for intent in _pair(run, 41 * USD).orders:
        run.reject_v1(intent.client_order_id, "http 429: Too Many Requests", 429, "other")
    run.clock(SEC)
    run.close()
    return run


def _records(root: Path) -> list[Record]:
    return list(iter_records(root))


def test_replay_v1_journal_with_kills_unknowns_and_429s_is_identical(tmp_path: Path) -> None:
    # Arrange
    root = tmp_path / "journal"
    with v1_writer():
        run = _old_run(root)
    trips: list[BreakerTransitioned] = of(run.decisions, BreakerTransitioned)
    assert [(t.gate, t.to_state) for t in trips] == [("order_rejections", "HALTED")]
    data = b"".join(p.read_bytes() for p in sorted(root.glob("*/seg-*.ndjson")))
    assert data.count(b'"v":1,"kind":"order_rejected"') == 4
    assert b'"v":1,"kind":"order_outcome_unknown"' in data and b"reason_code" not in data

    # Act: read with the real (v2) classes
    result = replay_journal(root)

    # Assert
    assert result.ok, result.divergence
    codes = [r.event.reason_code for r in _records(root) if isinstance(r.event, OrderRejected)]
    assert codes == ["killed", "absent", "other", "other"]


def test_replay_v1_standard_journal_with_checkpoints_is_identical(tmp_path: Path) -> None:
    # Arrange: the two-day journal of the replay tests, its rejections written as v1 lines
    root = tmp_path / "journal"
    with v1_writer():
        standard_journal(root)

    # Act
    result = replay_journal(root)

    # Assert
    data = b"".join(p.read_bytes() for p in sorted(root.glob("*/seg-*.ndjson")))
    assert b'"v":1,"kind":"order_rejected"' in data
    assert result.ok, result.divergence
    assert result.checkpoints >= 1


def test_fastscan_v1_lines_of_bumped_kinds_take_the_reference_path_only(tmp_path: Path) -> None:
    # Arrange
    root = tmp_path / "journal"
    with v1_writer():
        standard_journal(root)

    # Act
    blocks = list(reader.iter_blocks(root))

    # Assert: every other line stays on the fast path; the v1 lines are upcast one by one
    slow = [line for b in blocks if not b.fast for line in b.lines]
    assert slow and all(b'"v":1,"kind":"order_rejected"' in line
                        or b'"v":1,"kind":"order_outcome_unknown"' in line for line in slow)
    reference = [decode_record(line) for _p, _s, line in iter_lines(root)]
    assert list(iter_records(root)) == reference


def test_fastscan_v2_lines_of_bumped_kinds_are_fast(tmp_path: Path) -> None:
    # Arrange: today's writer
    root = tmp_path / "journal"
    standard_journal(root)

    # Act
    blocks = list(reader.iter_blocks(root))

    # Assert
    data = b"".join(p.read_bytes() for p in sorted(root.glob("*/seg-*.ndjson")))
    assert b'"v":2,"kind":"order_rejected"' in data
    assert fastscan.CURRENT_VERSIONS[b"order_rejected"] == b"2"
    assert all(b.fast for b in blocks)
