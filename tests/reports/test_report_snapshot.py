# The report connection's snapshot of the non-frame kinds (polyarb.reports.views.snapshot_kinds,
# used by open_report_db): the kind views read from it must show exactly what the live views
# over the files show (types, rows, defaults), raw_frame must stay on the files, sealed days are
# never snapshotted, and every shipped report must come out byte for byte the same.
from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events import ALL_KINDS
from polyarb.journal.seal import seal_day
from polyarb.reports import journal_schema, open_journal_db
from polyarb.reports.run_report import (
    REPORTS,
    Window,
    make_window,
    open_report_db,
    query,
    render,
    sql_text,
)
from polyarb.reports.views import LIVE_KINDS, SNAPSHOT_TABLE, snapshot_kinds
from tests.replay.journal_builder import standard_journal


def _described(con: duckdb.DuckDBPyConnection, kind: str) -> list[tuple[Any, ...]]:
    return [tuple(r[:2]) for r in con.execute(f'DESCRIBE "{kind}"').fetchall()]


def _rows(con: duckdb.DuckDBPyConnection, kind: str) -> list[tuple[Any, ...]]:
    return con.execute(f'SELECT * FROM "{kind}" ORDER BY shard, seq').fetchall()


def _view_sql(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    row = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [kind]).fetchone()
    assert row is not None
    return str(row[0])


def _every_kind_journal(root: Path, kit: Any, minimal: bool, seed: int = 0) -> None:
    events = [kit.sample_event(cls, kit.DAY0_NS + i, minimal=minimal, seed=seed)
              for i, cls in enumerate(ALL_KINDS.values())]
    kit.write_journal(root, events)


@pytest.fixture(scope="module")
def golden_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshot") / "journal"
    standard_journal(root)
    return root


@pytest.fixture(scope="module")
def cons(golden_journal: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, ...]]:
    live = open_journal_db(golden_journal)
    live.execute(sql_text("_common"))
    snap = open_report_db([golden_journal])
    yield live, snap
    live.close()
    snap.close()


@pytest.mark.parametrize("minimal", [False, True])
def test_snapshot_kinds_every_kind_views_match_the_live_views(
        tmp_path: Path, kit: Any, minimal: bool) -> None:
    # Arrange: every kind once, fully set or with only required fields (defaults filled in)
    _every_kind_journal(tmp_path / "j", kit, minimal)
    live, snap = open_journal_db(tmp_path / "j"), open_journal_db(tmp_path / "j")

    # Act
    taken = snapshot_kinds(snap)

    # Assert
    assert taken
    for kind in journal_schema().kinds:
        assert _described(snap, kind) == _described(live, kind), kind
        assert _rows(snap, kind) == _rows(live, kind), kind


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), minimal=st.booleans())
def test_snapshot_kinds_any_sample_values_views_match_the_live_views(
        tmp_path_factory: pytest.TempPathFactory, kit: Any, seed: int, minimal: bool) -> None:
    root = tmp_path_factory.mktemp("prop") / "j"
    _every_kind_journal(root, kit, minimal, seed)
    live, snap = open_journal_db(root), open_journal_db(root)

    snapshot_kinds(snap)

    for kind in journal_schema().kinds:
        assert _rows(snap, kind) == _rows(live, kind), kind


def test_snapshot_kinds_table_holds_no_raw_frames_and_raw_frame_reads_the_files(
        tmp_path: Path, kit: Any, rng: random.Random) -> None:
    kit.write_journal(tmp_path / "j", kit.interleave(kit.frames(5), kit.trades(3, rng)))
    con = open_journal_db(tmp_path / "j")

    snapshot_kinds(con)

    kinds = con.execute(f"SELECT DISTINCT kind FROM {SNAPSHOT_TABLE} ORDER BY kind").fetchall()
    assert ("raw_frame",) not in kinds and ("trade_updated",) in kinds
    for kind in LIVE_KINDS:
        assert SNAPSHOT_TABLE not in _view_sql(con, kind)
    assert SNAPSHOT_TABLE in _view_sql(con, "trade_updated")
    assert con.execute("SELECT count(*) FROM raw_frame").fetchone() == (5,)


def test_snapshot_kinds_sealed_days_are_not_snapshotted(
        tmp_path: Path, kit: Any, rng: random.Random) -> None:
    root = tmp_path / "j"
    kit.write_journal(root, kit.trades(4, rng))
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        seal_day(day)
    sealed, unsealed = open_journal_db(root), open_journal_db(root, use_sealed=False)

    taken = snapshot_kinds(sealed), snapshot_kinds(unsealed)

    assert taken == (False, True)
    assert SNAPSHOT_TABLE not in _view_sql(sealed, "trade_updated")
    assert _rows(sealed, "trade_updated") == _rows(unsealed, "trade_updated")


def test_open_report_db_use_sealed_false_reads_the_segments(
        tmp_path: Path, kit: Any, rng: random.Random) -> None:
    root = tmp_path / "j"
    kit.write_journal(root, kit.trades(4, rng))
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        seal_day(day)

    con = open_report_db([root], use_sealed=False)

    sources = con.execute("SELECT DISTINCT source FROM journal_sources").fetchall()
    assert sources == [("ndjson",)]
    assert con.execute("SELECT count(*) FROM r_fills").fetchone() == (4,)


@pytest.mark.parametrize(("name", "window", "order_id"), [
    *[(n, Window(), None) for n in REPORTS if n != "audit"],
    ("pnl", make_window(day="2025-12-28"), None),
    ("feed", make_window(since="2025-12-28T01:00:01.05Z", until="2025-12-28T01:01:03Z"), None),
    ("audit", Window(), "run-o7"),
    ("audit", Window(), "0xv-run-o5"),
    ("_pnl_curve", Window(), None),
])
def test_open_report_db_snapshot_reports_equal_the_live_views(
        cons: tuple[duckdb.DuckDBPyConnection, ...], name: str, window: Window,
        order_id: str | None) -> None:
    live, snap = cons

    got = render(query(snap, name, window, order_id), "csv")

    assert got == render(query(live, name, window, order_id), "csv")
    assert got.count("\n") > 1  # the journal has rows for every case
