# End-to-end: `polyarb run` on the embedded simulator trades through the real websocket and HTTP
# clients, journals everything in order and leaves a clean journal (issue 6).
from __future__ import annotations

from collections import Counter
from pathlib import Path

import msgspec

from polyarb.config import RunConfig, engine_config_of
from polyarb.events import (
    MarketsLoaded,
    OpportunityDetected,
    PlaceOrders,
    RawFrame,
    Record,
    RunStarted,
    RunStopped,
    SubscriptionSent,
    TradeUpdated,
)
from polyarb.journal import iter_records, verify_journal
from tests.runtime.conftest import SimRun


def _records(journal: Path) -> list[Record]:
    return list(iter_records(journal))


def test_run_sim_executes_an_opportunity_with_fills(sim_run_journal: Path) -> None:
    records = _records(sim_run_journal)

    detected = {r.event.opp_id: r.seq for r in records if isinstance(r.event, OpportunityDetected)}
    placed = [r for r in records if isinstance(r.event, PlaceOrders)]
    fills = [r for r in records
             if isinstance(r.event, TradeUpdated) and r.event.status == "MATCHED"]

    assert placed, "no opportunity was placed"
    first = placed[0]
    assert isinstance(first.event, PlaceOrders)
    assert detected[first.event.opp_id] < first.seq  # detected, then placed
    assert any(f.seq > first.seq for f in fills)  # and filled


def test_run_sim_at_least_one_opportunity_is_executed_in_full(sim_run: SimRun) -> None:
    stats = next(line for line in sim_run.stdout.splitlines() if line.startswith("updates "))

    executed = int(stats.split("| executed ")[1].split(" ")[0])
    assert executed >= 1, stats


def test_run_sim_journal_verifies_clean(sim_run_journal: Path) -> None:
    report = verify_journal(sim_run_journal)

    assert report.ok, report.problems


def test_run_sim_journal_order_of_the_start(sim_run_journal: Path) -> None:
    kinds = [type(r.event).__name__ for r in _records(sim_run_journal)]

    first_input = kinds.index("RunStarted")
    assert kinds.index("MarketsLoaded") == first_input + 1
    assert kinds.index("MarketsLoaded") < kinds.index("SubscriptionSent")
    assert kinds.index("SubscriptionSent") < kinds.index("RawFrame")
    assert kinds[-1] == "RunStopped"


def test_run_sim_subscribes_every_loaded_token(sim_run_journal: Path) -> None:
    records = _records(sim_run_journal)
    loaded = next(r.event for r in records if isinstance(r.event, MarketsLoaded))
    subs = [r.event for r in records if isinstance(r.event, SubscriptionSent)
            and r.event.conn.startswith("market-")]

    tokens = {t.token_id for m in loaded.markets for t in m.tokens}
    subscribed = {a for s in subs for a in s.asset_ids}

    assert tokens and tokens == subscribed
    assert any(m.neg_risk for m in loaded.markets)


def test_run_sim_run_started_holds_the_redacted_config_and_its_hash(sim_run_journal: Path) -> None:
    started = next(r.event for r in _records(sim_run_journal) if isinstance(r.event, RunStarted))
    raw = bytes(started.config)

    config = msgspec.json.decode(raw, type=RunConfig)

    assert started.venue == "sim" and started.config_hash == config.config_hash()
    assert engine_config_of(raw) == config.engine
    assert started.run_id.startswith("r-")


def test_run_sim_exits_0_with_a_summary(sim_run: SimRun) -> None:
    assert sim_run.returncode == 0, sim_run.stderr
    assert "stopped: duration" in sim_run.stdout
    assert "updates " in sim_run.stdout and "| pnl " in sim_run.stdout  # core.stats.render
    assert f"journal: {sim_run.journal}" in sim_run.stdout


def test_run_sim_every_decision_follows_its_input(sim_run_journal: Path) -> None:
    last_input = 0
    counts: Counter[str] = Counter()
    for rec in _records(sim_run_journal):
        role = rec.event.ROLE
        if role == "input":
            last_input = rec.seq
        elif role == "decision":
            counts[type(rec.event).__name__] += 1
            assert rec.event.cause_seq == last_input  # type: ignore[attr-defined]

    assert counts["OpportunityDetected"] >= 1


def test_run_sim_run_stopped_names_the_reason(sim_run_journal: Path) -> None:
    stopped = [r.event for r in _records(sim_run_journal) if isinstance(r.event, RunStopped)]

    assert [s.reason for s in stopped] == ["duration"]


def test_run_sim_market_frames_are_journaled_verbatim_per_connection(
        sim_run_journal: Path) -> None:
    frames = [r.event for r in _records(sim_run_journal) if isinstance(r.event, RawFrame)]

    market = [f for f in frames if f.channel == "market"]
    assert market and all(f.conn.startswith("market-") for f in market)
    assert all(f.conn == "user-0" for f in frames if f.channel == "user")


def test_run_sim_rebuild_agrees_with_replay(sim_run_journal: Path) -> None:
    from polyarb.replay import replay_journal
    from polyarb.runtime.rebuild import rebuild

    replayed = replay_journal(sim_run_journal)
    rebuilt = rebuild(sim_run_journal)

    assert replayed.ok, replayed.divergence
    assert rebuilt.engine is not None and rebuilt.mismatches == 0 and rebuilt.missing == []
    assert rebuilt.engine.stats() == replayed.stats


def test_run_sim_journal_holds_no_api_key(sim_run_journal: Path) -> None:
    # The simulator echoes our API key as `owner`; the runtime journals it as REDACTED_API_KEY.
    # Keys are UUID-shaped; the scenario's own accounts ("scenario:...") are not credentials.
    import re

    data = b"".join(p.read_bytes() for p in sim_run_journal.rglob("*.ndjson"))
    owners = set(re.findall(rb'"owner":"([^"]*)"', data))
    uuid = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    assert not [o for o in owners if uuid.match(o)]
    assert b"REDACTED_API_KEY" in data
