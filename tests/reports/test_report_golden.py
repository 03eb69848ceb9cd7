# Golden rows of every shipped report (polyarb/reports/sql/*.sql) on one small fixed journal:
# tests/replay/journal_builder.standard_journal, two days written the way the runtime writes
# them (fills with fees, a void, resolutions by markets_loaded and by the feed, a legged
# opportunity, reconnects, a stale period, a rejected frame, an operator halt).
#
# Expected rows are committed as CSV under tests/golden/reports/<case>.csv. After an intended
# change, run with POLYARB_UPDATE_GOLDEN=1, then review the diff by hand before committing.
# Changes so far: pnl*.csv gained the `mark` column when unrealized P&L started marking at the
# book like the engine; no value changed (this run only ever holds hedged sets: `set`).
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from polyarb.reports.run_report import Window, make_window, open_report_db, query, render
from tests.replay.journal_builder import standard_journal

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "reports"
UPDATE = os.environ.get("POLYARB_UPDATE_GOLDEN") == "1"

CASES: dict[str, tuple[str, Window, str | None]] = {
    "pnl": ("pnl", Window(), None),
    "pnl_day2": ("pnl", make_window(day="2025-12-28"), None),
    "fills": ("fills", Window(), None),
    "opportunities": ("opportunities", Window(), None),
    "breaker": ("breaker", Window(), None),
    "latency": ("latency", Window(), None),
    "feed": ("feed", Window(), None),
    "feed_window": ("feed", make_window(since="2025-12-28T01:00:01.05Z",
                                        until="2025-12-28T01:01:03Z"), None),
    "audit_rejected_leg": ("audit", Window(), "run-o7"),
    "audit_voided_fill": ("audit", Window(), "0xv-run-o5"),
}


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden") / "journal"
    standard_journal(root)
    return root


@pytest.fixture(scope="module")
def con(journal: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_report_db([journal])
    yield connection
    connection.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_golden_rows_match_the_committed_csv(con: duckdb.DuckDBPyConnection,
                                                    case: str) -> None:
    # Arrange
    name, window, order_id = CASES[case]
    path = GOLDEN / f"{case}.csv"

    # Act
    got = render(query(con, name, window, order_id), "csv")

    # Assert
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with POLYARB_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text(encoding="utf-8")


def test_report_golden_every_report_has_a_case() -> None:
    from polyarb.reports.run_report import REPORTS

    assert {name for name, _, _ in CASES.values()} == set(REPORTS)
