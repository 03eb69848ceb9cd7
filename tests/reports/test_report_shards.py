# `polyarb report` over several journal roots (shards) with distinct markets, as
# docs/scaling.md runs them: the combined report is the union of the per-shard reports (P&L
# sums both), each row keeps its market (a market, and a neg-risk group, lives in one shard),
# the `shard` column tells rows with the same seq apart in SQL, sealed and unsealed shards mix,
# and a DuckDB glob over the shards' sealed Parquet reads every record once.
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import msgspec
import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.core.config import EngineConfig
from polyarb.journal import iter_records, layout
from polyarb.journal.seal import seal_day
from polyarb.reports.run_report import open_report_db, run_report
from tests.core.engine_helpers import SEC, T0, USD
from tests.core.engine_helpers import market as market_info
from tests.replay.journal_builder import DAY_NS, JournalRun, batches

DAY1 = "2025-12-27"


def _shard(root: Path, tag: str, no_ask: int) -> None:
    """One run trading one market `0x<tag>`: a complete set bought (YES ask 0.45, NO ask
    no_ask), filled, resolved to YES; then a second UTC day, so the first one is closed. The
    shard's client ids carry its own prefix (`<tag>-o1`), as docs/scaling.md advises."""
    base = EngineConfig()
    config = msgspec.structs.replace(base, execution=msgspec.structs.replace(
        base.execution, client_id_prefix=tag))
    run = JournalRun(root, config)
    run.run_started(f"run-{tag}")
    run.load(market_info(f"0x{tag}", f"Y-{tag}", f"N-{tag}"))
    run.book(f"Y-{tag}", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    [pair] = batches(run.book(f"N-{tag}", [(400_000, 100 * USD)], [(no_ask, 40 * USD)]))
    for order in pair.orders:
        run.accept(order)
        run.fill(order, tid=f"t-{tag}-{order.token_id}")
    run.clock(10 * SEC)
    run.send({"event_type": "market_resolved", "market": f"0x{tag}",
              "assets_ids": [f"Y-{tag}", f"N-{tag}"], "winning_asset_id": f"Y-{tag}",
              "winning_outcome": "Yes"})
    run.now = T0 + DAY_NS + 3_600 * SEC
    run.clock(SEC)  # 2025-12-28: the writer closes 2025-12-27
    run.close()


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("shards")
    a, b = base / "shard-a", base / "shard-b"
    _shard(a, "aa", 500_000)  # edge 0.05 a share
    _shard(b, "bb", 480_000)  # edge 0.07 a share
    return a, b


def _rows(name: str, roots: list[Path]) -> list[tuple[object, ...]]:
    return run_report(name, roots).rows


def test_report_shards_pnl_sums_both_and_each_market_is_one_shards(
        shards: tuple[Path, Path]) -> None:
    a, b = shards

    combined, only_a, only_b = _rows("pnl", [a, b]), _rows("pnl", [a]), _rows("pnl", [b])

    cols = run_report("pnl", [a]).columns
    realized, market = cols.index("realized_micros"), cols.index("market_id")
    assert Counter(combined) == Counter(only_a) + Counter(only_b)
    total = sum(int(r[realized]) for r in combined)
    assert total == sum(int(r[realized]) for r in only_a) + sum(int(r[realized]) for r in only_b)
    assert {r[market] for r in only_a} == {"0xaa"} and {r[market] for r in only_b} == {"0xbb"}
    assert total == 2 * USD + 28 * USD // 10  # 40 sets at edge 0.05 and 0.07


@pytest.mark.parametrize("name", ["fills", "opportunities"])
def test_report_shards_other_reports_are_the_union_of_the_shards(
        name: str, shards: tuple[Path, Path]) -> None:
    a, b = shards

    combined, only_a, only_b = _rows(name, [a, b]), _rows(name, [a]), _rows(name, [b])

    assert only_a and only_b and not set(only_a) & set(only_b)  # rows tell their shard apart
    assert Counter(combined) == Counter(only_a) + Counter(only_b)


def test_report_shards_shard_column_keeps_equal_seqs_apart(shards: tuple[Path, Path]) -> None:
    a, b = shards
    con = open_report_db([a, b])
    try:
        per_shard = dict(con.execute(
            "SELECT shard, count(*) FROM events GROUP BY shard ORDER BY shard").fetchall())
        keys = con.execute("SELECT count(*), count(DISTINCT (shard, seq)), "
                           "count(DISTINCT seq) FROM events").fetchone()
    finally:
        con.close()

    assert per_shard == {str(a.resolve()): sum(1 for _ in iter_records(a)),
                         str(b.resolve()): sum(1 for _ in iter_records(b))}
    assert keys is not None
    total, distinct_keys, distinct_seqs = keys
    assert total == distinct_keys and distinct_seqs < total  # both shards start at seq 1


def test_report_shards_sealed_and_unsealed_mix_with_the_same_result(
        tmp_path: Path, shards: tuple[Path, Path]) -> None:
    a, b = shards
    before = _rows("pnl", [a, b])
    sealed_a = tmp_path / "a"
    _shard(sealed_a, "aa", 500_000)
    seal_day(sealed_a / DAY1)

    after = _rows("pnl", [sealed_a, b])

    assert Counter(after) == Counter(before)
    con = open_report_db([sealed_a, b])
    try:
        kinds = con.execute("SELECT shard, day, source FROM journal_sources "
                            "ORDER BY shard, day").fetchall()
    finally:
        con.close()
    assert (str(sealed_a.resolve()), DAY1, "parquet") in kinds
    assert (str(b.resolve()), DAY1, "ndjson") in kinds


def test_report_shards_duckdb_glob_over_sealed_parquet_reads_each_record_once(
        tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for tag, ask in (("aa", 500_000), ("bb", 480_000), ("cc", 470_000)):
        _shard(lake / f"shard-{tag}", tag, ask)
        seal_day(lake / f"shard-{tag}" / DAY1)
    expected = sum(layout.read_manifest(d).records for d in lake.glob(f"*/{DAY1}"))

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT regexp_extract(filename, 'shard-[a-z]+') AS shard, count(*), min(seq) "
            "FROM read_parquet(?, filename = true) GROUP BY ALL ORDER BY shard",
            [str(lake / "*" / "*" / layout.SEALED_NAME)]).fetchall()
    finally:
        con.close()

    assert [r[0] for r in rows] == ["shard-aa", "shard-bb", "shard-cc"]
    assert sum(r[1] for r in rows) == expected and all(r[2] == 1 for r in rows)


def test_report_cli_several_journal_dirs_sum_and_name_a_missing_one(
        shards: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = shards
    runner = CliRunner()

    done = runner.invoke(app, ["report", "pnl", "--journal-dir", str(a), "--journal-dir",
                               str(b), "--format", "json"])
    missing = runner.invoke(app, ["report", "pnl", "--journal-dir", str(a), "--journal-dir",
                                  str(tmp_path / "nope")])

    assert done.exit_code == 0, done.output
    rows = json.loads(done.output)
    assert {r["market_id"] for r in rows} == {"0xaa", "0xbb"}
    assert sum(int(r["realized_micros"]) for r in rows) == 2 * USD + 28 * USD // 10
    assert missing.exit_code == 2 and "nope" in missing.output


def test_report_shards_audit_finds_an_order_in_its_own_shard_only(
        shards: tuple[Path, Path]) -> None:
    a, b = shards

    chain = run_report("audit", [a, b], order_id="bb-o1")

    assert chain.rows and run_report("audit", [a], order_id="bb-o1").rows == []
    assert Counter(chain.rows) == Counter(run_report("audit", [b], order_id="bb-o1").rows)
