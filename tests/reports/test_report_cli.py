# `polyarb report NAME` through typer's CliRunner: formats, windows, shards, --sql, charts, the
# audit argument, and clear errors (exit 2) for bad input: an unknown day or format, a day in
# the wrong format, a missing journal, an unsupported chart type.
from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.reports.run_report import (
    REPORTS,
    ReportError,
    ReportResult,
    Window,
    make_window,
    open_report_db,
    parse_instant,
    query,
    render,
)
from tests.replay.journal_builder import standard_journal

runner = CliRunner()


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report_cli") / "journal"
    standard_journal(root)
    return root


def _report(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["report", *args])
    return result.exit_code, result.output


def test_report_help_lists_every_report() -> None:
    code, out = _report("--help")

    assert code == 0
    for name in REPORTS:
        assert name in out


def test_report_pnl_help_mentions_the_chart_and_options() -> None:
    code, out = _report("pnl", "--help")

    assert code == 0
    for option in ("--journal-dir", "--day", "--since", "--until", "--format", "--sql",
                   "--chart"):
        assert option in out


@pytest.fixture(scope="module")
def results(journal: Path) -> dict[str, ReportResult]:
    con = open_report_db([journal])
    try:
        return {name: query(con, name, Window(), "run-o7") for name in REPORTS}
    finally:
        con.close()


@pytest.mark.parametrize("name", REPORTS)
def test_report_every_format_renders_the_same_rows(results: dict[str, ReportResult],
                                                   name: str) -> None:
    result = results[name]

    rows = list(csv.DictReader(io.StringIO(render(result, "csv"))))
    objects = json.loads(render(result, "json"))
    markdown = render(result, "markdown").splitlines()
    table = render(result, "table")

    assert len(rows) == len(objects) == len(markdown) - 2 == len(result.rows) > 0
    assert [{k: "" if v is None else str(v) for k, v in o.items()} for o in objects] == rows
    assert markdown[0] == "| " + " | ".join(result.columns) + " |"
    assert table.rstrip().endswith(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")


def test_report_cli_prints_the_table(journal: Path) -> None:
    code, out = _report("opportunities", "--journal-dir", str(journal))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["seq", "at", "opp_id", "strategy"]
    assert "in_flight" in lines[-2] and lines[-1] == "(4 rows)"


def test_report_json_keeps_integers_exact_and_decimals_as_strings(journal: Path) -> None:
    code, out = _report("breaker", "--journal-dir", str(journal), "--format", "json")

    assert code == 0
    rows = json.loads(out)
    assert rows[1]["seq"] == 71 and rows[1]["held_seconds"] == "0.001000"
    assert rows[0]["held_seconds"] is None


def test_report_day_selects_rows_but_pnl_keeps_the_history(journal: Path) -> None:
    code, out = _report("fills", "--journal-dir", str(journal), "--day", "2025-12-28",
                        "--format", "csv")

    assert code == 0
    assert [r["trade_id"] for r in csv.DictReader(io.StringIO(out))] == ["t-y2", "t-n2"]


def test_report_since_until_window(journal: Path) -> None:
    code, out = _report("fills", "--journal-dir", str(journal), "--since",
                        "2025-12-27T00:00:00.260Z", "--until", "2025-12-28", "--format", "csv")

    assert code == 0
    assert [r["trade_id"] for r in csv.DictReader(io.StringIO(out))] == ["t-g1", "t-g2", "t-g3"]


def test_report_several_journal_dirs_are_unioned(journal: Path, tmp_path: Path) -> None:
    other = tmp_path / "shard2"
    shutil.copytree(journal, other)

    code, out = _report("pnl", "--journal-dir", str(journal), "--journal-dir", str(other),
                        "--format", "json")

    assert code == 0
    assert sum(int(r["realized_micros"]) for r in json.loads(out)) == 2 * 17_800_000


def test_report_sql_prints_what_runs_and_it_runs(journal: Path) -> None:
    code, out = _report("pnl", "--sql", "--day", "2025-12-28")

    assert code == 0
    assert out.startswith("-- polyarb report pnl\n")
    assert "SET VARIABLE since_ns = 1766880000000000000;" in out
    assert "CREATE OR REPLACE TABLE r_position_steps AS" in out
    assert "-- pnl: how much did the run make or lose" in out
    from polyarb.reports import open_journal_db

    con = open_journal_db(journal)
    *setup, last = [s for s in out.split(";\n") if s.strip()]
    for statement in setup:
        con.execute(statement)
    assert len(con.sql(last).fetchall()) == 4


def test_report_audit_by_client_and_venue_id(journal: Path) -> None:
    code, by_client = _report("audit", "run-o7", "--journal-dir", str(journal), "--format", "csv")
    code2, by_venue = _report("audit", "0xv-run-o6", "--journal-dir", str(journal),
                              "--format", "csv")

    assert (code, code2) == (0, 0)
    kinds = [r["kind"] for r in csv.DictReader(io.StringIO(by_client))]
    assert kinds == ["raw_frame", "opportunity_detected", "place_orders", "order_rejected",
                     "unwind"]
    assert "trade_updated" in by_venue


def test_report_audit_unknown_order_exits_1(journal: Path) -> None:
    code, out = _report("audit", "nope-o1", "--journal-dir", str(journal))

    assert code == 1
    assert "no order 'nope-o1'" in out


def test_report_charts_html_and_svg(journal: Path, tmp_path: Path) -> None:
    html_path, svg_path = tmp_path / "pnl.html", tmp_path / "edges.svg"

    code, _ = _report("pnl", "--journal-dir", str(journal), "--chart", str(html_path))
    code2, _ = _report("opportunities", "--journal-dir", str(journal), "--chart", str(svg_path))

    assert (code, code2) == (0, 0)
    page = html_path.read_text()
    assert page.startswith("<!doctype html>") and "<polyline" in page and "$17.80" in page
    svg = ET.fromstring(svg_path.read_text())
    assert svg.tag.endswith("svg") and len(svg.findall("{http://www.w3.org/2000/svg}rect")) == 12


@pytest.mark.parametrize(("args", "message"), [
    (["--day", "27-12-2025"], "not a day (YYYY-MM-DD): '27-12-2025'"),
    (["--day", "2025-13-40"], "not a day (YYYY-MM-DD)"),
    (["--day", "2025-12-29"], "no day 2025-12-29"),
    (["--since", "yesterday"], "not an ISO-8601 date or time"),
    (["--since", "2025-12-28", "--until", "2025-12-27"], "--since must be before --until"),
    (["--day", "2025-12-28", "--since", "2025-12-28"], "either --day or --since/--until"),
    (["--format", "xml"], "unknown format 'xml'"),
    (["--chart", "pnl.png"], "PNG charts need an image library"),
    (["--chart", "pnl.jpg"], "charts are written as .html or .svg"),
])
def test_report_bad_input_exits_2_with_a_clear_message(journal: Path, args: list[str],
                                                       message: str) -> None:
    code, out = _report("pnl", "--journal-dir", str(journal), *args)

    assert code == 2, out
    assert "error:" in out and message in out


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_report_missing_or_empty_journal_exits_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "journal"
    if make == "empty":
        target.mkdir()

    code, out = _report("fills", "--journal-dir", str(target))

    assert code == 2
    assert "error:" in out and str(target) in out


def test_report_windows_parse_exactly() -> None:
    assert parse_instant("2025-12-27") == 1_766_793_600 * 10**9
    assert parse_instant("2025-12-27T00:00:00.000001+01:00") == (1_766_793_600 - 3600) * 10**9 \
        + 1000
    assert make_window(day="2025-12-27") == Window(1_766_793_600 * 10**9,
                                                   1_766_880_000 * 10**9)
    with pytest.raises(ReportError):
        make_window(until="2025-12-27", since="2025-12-27")


def test_report_sql_files_have_a_header_naming_their_columns() -> None:
    from polyarb.reports.run_report import sql_text

    for name in REPORTS:
        text = sql_text(name)
        assert text.startswith(f"-- {name}: "), name
        assert "-- Columns:" in text, name
