# What bounds a report's memory (polyarb.reports.views rule 8, and the mark joins of the
# shipped SQL): the connection's tables live in a compressed in-memory database, DuckDB has a
# memory limit and a private spill directory, no query hashes a journal file scan, and none of it
# changes a byte of any report (a tiny memory limit that forces spilling included).
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from polyarb.reports import open_journal_db
from polyarb.reports.run_report import REPORTS, Window, open_report_db, query, render, sql_text
from polyarb.reports.views import (
    DATABASE,
    MEMORY_BASE_MB,
    MEMORY_PER_THREAD_MB,
    SNAPSHOT_TABLE,
)
from tests.replay.journal_builder import standard_journal

ORDER_ID = "run-o7"


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("memory") / "journal"
    standard_journal(root)
    return root


@pytest.fixture(scope="module")
def con(journal: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_report_db([journal])
    yield con
    con.close()


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    row = con.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def _all_reports(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {name: render(query(con, name, Window(), ORDER_ID), "csv") for name in REPORTS}


def test_open_report_db_tables_are_in_the_compressed_database(
        con: duckdb.DuckDBPyConnection) -> None:
    tables = dict(con.execute("SELECT table_name, database_name FROM duckdb_tables()").fetchall())

    assert _setting(con, "memory_limit") != ""
    assert _setting(con, "enable_progress_bar") == "False"  # never drawn into a report's stdout
    assert con.execute("SELECT current_database()").fetchone() == (DATABASE,)
    assert tables[SNAPSHOT_TABLE] == DATABASE
    assert {tables[t] for t in ("r_fills", "r_orders", "r_position_steps")} == {DATABASE}


def test_open_journal_db_compressed_database_shrinks_a_table_at_checkpoint(
        journal: Path) -> None:
    con = open_journal_db(journal)
    try:
        con.execute("CREATE TABLE zeros AS SELECT CAST(0 AS BIGINT) AS z FROM range(2000000)")
        before = _table_bytes(con)
        con.execute("CHECKPOINT")
        after = _table_bytes(con)
    finally:
        con.close()

    assert before >= 8 * 2_000_000  # uncompressed BIGINT
    assert after * 10 < before


def _table_bytes(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory() "
                      "WHERE tag = 'IN_MEMORY_TABLE'").fetchone()
    assert row is not None
    return int(row[0])


def test_open_journal_db_memory_limit_is_set_and_spills_to_a_private_directory(
        journal: Path) -> None:
    reference = duckdb.connect()
    threads = int(_setting(reference, "threads"))
    reference.execute(f"SET memory_limit = '{MEMORY_BASE_MB + MEMORY_PER_THREAD_MB * threads}MB'")
    first, second = open_journal_db(journal), open_journal_db(journal, memory_limit="64MB")
    try:
        spill = Path(_setting(first, "temp_directory"))

        assert _setting(first, "memory_limit") == _setting(reference, "memory_limit")
        assert _setting(second, "memory_limit") != _setting(first, "memory_limit")
        assert spill.parent == Path(tempfile.gettempdir())
        assert spill.name.startswith(f"polyarb-report-{os.getpid()}-")
        assert not spill.exists()  # created on the first spill only
        assert Path(_setting(second, "temp_directory")) != spill
    finally:
        for c in (reference, first, second):
            c.close()


def test_open_report_db_spilling_leaves_every_report_unchanged_and_cleans_up(
        journal: Path, con: duckdb.DuckDBPyConnection) -> None:
    # (no less than the JSON readers' buffers: views.MEMORY_PER_THREAD_MB)
    threads = int(_setting(con, "threads"))
    tight = open_report_db([journal], memory_limit=f"{MEMORY_PER_THREAD_MB * threads + 64}MB")
    spill = Path(_setting(tight, "temp_directory"))
    try:
        tight.execute("SET threads = 1; SET memory_limit = '200MB'")  # one JSON reader's buffers
        tight.execute("CREATE TABLE big AS SELECT range AS i, CAST(range AS VARCHAR) AS s "
                      "FROM range(12000000)")  # ~300 MB uncompressed: must spill
        spilled = spill.is_dir() and any(spill.iterdir())
        got = _all_reports(tight)
    finally:
        tight.close()

    assert spilled
    assert not spill.exists()  # DuckDB removes the directory it created
    assert got == _all_reports(con)


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("children", []):
        yield from _walk(child)


def _scans_all_records(node: dict[str, Any]) -> bool:
    # a journal file scan that reaches this node unfiltered: under a mark join only its build
    # side (the keys) counts, the probe side is what the mark join filters
    if node["name"] in ("READ_JSON", "READ_PARQUET"):
        return True
    children = node.get("children", [])
    if _join_type(node) == "MARK":
        children = children[1:]
    return any(_scans_all_records(c) for c in children)


def _join_type(node: dict[str, Any]) -> str:
    return str(node.get("extra_info", {}).get("Join Type", ""))


@pytest.mark.parametrize("name", ["latency", "breaker", "audit"])
def test_reports_that_read_the_files_never_hash_a_whole_journal_scan(
        con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"SET VARIABLE order_id = '{ORDER_ID}'")
    row = con.execute("EXPLAIN (FORMAT JSON) " + sql_text(name)).fetchone()
    assert row is not None
    plan = json.loads(row[1])

    joins = [n for root in plan for n in _walk(root) if "JOIN" in n["name"]]
    assert any(_join_type(n) == "MARK" for n in joins)
    for join in joins:  # children[1] is the side DuckDB builds its hash table from
        assert not _scans_all_records(join["children"][1]), join["extra_info"]


def test_report_memory_bench_hashes_each_report_as_the_command_prints_it(
        journal: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from polyarb.bench import reportbench
    from polyarb.reports import run_report

    monkeypatch.setattr(run_report, "REPORTS", ("breaker", "audit"))
    rows = reportbench.report_memory(journal, sealed=False, order_id=ORDER_ID)

    assert [r["report"] for r in rows] == ["breaker", "audit"]
    for row in rows:
        text = render(query(con, row["report"], Window(), ORDER_ID), "csv")
        assert row["sha256"] == hashlib.sha256(text.encode()).hexdigest()[:16]
        assert row["peak_rss_mb"] > 0 and row["cpu_s"] > 0
    assert "breaker" in reportbench.render_memory(rows, "ndjson")
