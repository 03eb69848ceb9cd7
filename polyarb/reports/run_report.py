# `polyarb report`: run the shipped SQL reports (polyarb/reports/sql/*.sql) over the journal
# views, and render their rows as a table, CSV, JSON or Markdown, or draw a chart.
#
# Rules:
# 1. The SQL is the report: each `<name>.sql` is one query whose header comment says what it
#    answers and its columns; `_common.sql` holds the shared macros and views and runs first.
#    Python only sets the variables (since_ns / until_ns for the window, order_id for audit),
#    runs the query and formats what comes back; `--sql` prints exactly what runs.
# 2. Windows select rows, not files: every report reads the whole journal (P&L needs every
#    earlier fill, a causal chain every earlier record) and shows the rows inside the window.
# 3. Exact output: integers stay integers, decimals print as they are (never through float),
#    NULL is empty (null in JSON). Rows come in the query's ORDER BY, so output is stable.
# 4. Charts are self-contained HTML (or bare SVG) drawn here, with no plotting dependency;
#    PNG would need a rasterizer and is refused with a clear error.
# 5. Reports read lines through DuckDB without checking their CRCs: a flipped byte that keeps
#    the JSON valid changes numbers silently. verify_roots (`polyarb report --verify`) runs
#    polyarb.journal.verify_journal over every root first and refuses on any problem; it reads
#    every byte again, so it is asked for, not the default.
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from polyarb.journal import JournalUnreadable, layout, verify_journal
from polyarb.reports.views import open_journal_db, snapshot_kinds

REPORTS = ("pnl", "fills", "opportunities", "breaker", "latency", "feed", "audit")
FORMATS = ("table", "csv", "json", "markdown")
_NS = 1_000_000_000


class ReportError(ValueError):
    """A report asked for in a way that cannot be answered (bad name, day, window, id)."""


class Window(msgspec.Struct, frozen=True):
    """Rows whose time is in [since_ns, until_ns); None is unbounded."""

    since_ns: int | None = None
    until_ns: int | None = None


class ReportResult(msgspec.Struct):
    """A report's rows: column names and one tuple per row, in the query's order."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


# ---- the SQL ------------------------------------------------------------------------------------


def sql_text(name: str) -> str:
    """The text of one shipped .sql file (`_common`, a report, or `_pnl_curve`).

    Raises:
        ReportError: no such report.
    """
    if name not in REPORTS and name not in ("_common", "_pnl_curve"):
        raise ReportError(f"no report {name!r}; reports: {', '.join(REPORTS)}")
    return (resources.files("polyarb.reports") / "sql" / f"{name}.sql").read_text("utf-8")


def describe(name: str) -> str:
    """The first line of a report's header comment: the question it answers."""
    first = sql_text(name).splitlines()[0]
    return first.removeprefix("-- ").removeprefix(f"{name}: ")


def variables_sql(window: Window, order_id: str | None = None) -> str:
    """SET VARIABLE statements for a window (and an order id)."""
    out = [f"SET VARIABLE since_ns = {_sql_int(window.since_ns)};",
           f"SET VARIABLE until_ns = {_sql_int(window.until_ns)};"]
    if order_id is not None:
        out.append("SET VARIABLE order_id = '" + order_id.replace("'", "''") + "';")
    return "\n".join(out)


def full_sql(name: str, window: Window, order_id: str | None = None) -> str:
    """Everything `polyarb report NAME` runs, in order: variables, _common.sql, the report."""
    return "\n\n".join([f"-- polyarb report {name}", variables_sql(window, order_id),
                        sql_text("_common").rstrip(), sql_text(name).rstrip()]) + "\n"


def _sql_int(value: int | None) -> str:
    return "NULL" if value is None else str(int(value))


# ---- windows -------------------------------------------------------------------------------------


def parse_day(text: str) -> dt.date:
    """A `YYYY-MM-DD` day.

    Raises:
        ReportError: anything else (wrong format or no such date).
    """
    if not layout.is_day_name(text):
        raise ReportError(f"not a day (YYYY-MM-DD): {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"not a day (YYYY-MM-DD): {text!r}") from None


def parse_instant(text: str) -> int:
    """An ISO-8601 date or date-time (UTC when it names no offset) as ns since the epoch.

    Raises:
        ReportError: not ISO-8601.
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"not an ISO-8601 date or time: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1_000


def make_window(day: str | None = None, since: str | None = None,
                until: str | None = None) -> Window:
    """The window of `--day` or `--since/--until`.

    Raises:
        ReportError: a bad day or instant, both kinds given, or since not before until.
    """
    if day is not None:
        if since is not None or until is not None:
            raise ReportError("give either --day or --since/--until, not both")
        start = parse_instant(parse_day(day).isoformat())
        return Window(start, start + 86_400 * _NS)
    window = Window(None if since is None else parse_instant(since),
                    None if until is None else parse_instant(until))
    if None not in (window.since_ns, window.until_ns) and window.since_ns >= window.until_ns:  # type: ignore[operator]
        raise ReportError("--since must be before --until")
    return window


# ---- running -------------------------------------------------------------------------------------


def verify_roots(roots: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Verify every journal root (rule 5) before reporting from it.

    A torn tail of the newest segment is not refused: a running writer's half-written last
    line looks the same, and the reports ignore it too. It comes back as a note.

    Returns:
        Notes for the operator (the torn tails that were let through).

    Raises:
        ReportError: a root that is unreadable or has any other problem; the message names the
            root, the count and the first problem's file, line and seq.
    """
    notes: list[str] = []
    for root in roots:
        try:
            report = verify_journal(Path(root))
        except JournalUnreadable as exc:
            raise ReportError(f"cannot verify {root}: {exc}") from None
        problems = [p for p in report.problems if p != report.torn_tail]
        if problems:
            count = len(problems) + report.omitted
            raise ReportError(
                f"journal {root} failed verification, nothing reported: {count} problem(s), "
                f"the first at {problems[0]} (`polyarb journal verify {root}` lists them all)")
        if report.torn_tail is not None:
            notes.append(f"{root}: ignored a torn last line ({report.torn_tail})")
    return notes


def open_report_db(roots: Sequence[str | os.PathLike[str]], *, use_sealed: bool = True,
                   memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection over the journal roots (shards) with _common.sql loaded.

    Days read from NDJSON have their non-frame kinds read once into a table first
    (views.snapshot_kinds): _common.sql's tables would otherwise each parse every segment again.
    Those tables are compressed in memory, and DuckDB spills past memory_limit (views rule 8).

    Args:
        roots: the journal roots (shards).
        use_sealed: read sealed days from their Parquet copy (false: from their segments).
        memory_limit: DuckDB's memory limit (`2GB`, `512MB`); None: views.memory_limit.

    Raises:
        JournalQueryError: a root that does not exist or holds no days.
    """
    con = open_journal_db(list(roots), use_sealed=use_sealed, memory_limit=memory_limit)
    try:
        snapshot_kinds(con)
        con.execute(sql_text("_common"))
    except BaseException:
        con.close()
        raise
    return con


def query(con: duckdb.DuckDBPyConnection, name: str, window: Window,
          order_id: str | None = None) -> ReportResult:
    """Run one report (or `_pnl_curve`) on an open report connection."""
    con.execute(variables_sql(window, order_id))
    rel = con.sql(sql_text(name))
    return ReportResult(name=name, columns=list(rel.columns), rows=rel.fetchall())


def run_report(name: str, roots: Sequence[str | os.PathLike[str]], window: Window | None = None,
               order_id: str | None = None) -> ReportResult:
    """Open the journal(s), run one report over the window and return its rows (rules 1-2).

    Raises:
        ReportError: unknown report, audit without an order id.
        JournalQueryError: a root that does not exist or holds no days.
    """
    sql_text(name)  # unknown names fail before any file is read
    if name == "audit" and not order_id:
        raise ReportError("audit needs an order id (client or venue order id)")
    con = open_report_db(roots)
    try:
        return query(con, name, Window() if window is None else window, order_id)
    finally:
        con.close()


def check_day_exists(roots: Sequence[str | os.PathLike[str]], day: str) -> None:
    """Refuse a --day that no journal root holds (a typo would otherwise print nothing).

    Raises:
        ReportError: the day is in none of the roots.
    """
    if not any((Path(root) / day).is_dir() for root in roots):
        raise ReportError(f"no day {day} in {', '.join(str(r) for r in roots)}")


# ---- formats -------------------------------------------------------------------------------------


def cell(value: Any) -> str:
    """One value as text: exact numbers, ISO dates, empty for NULL."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    return cell(value)  # decimals stay exact strings, dates ISO


def render(result: ReportResult, fmt: str) -> str:
    """The rows in one of FORMATS.

    Raises:
        ReportError: an unknown format.
    """
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([cell(v) for v in row] for row in result.rows)
        return buf.getvalue()
    if fmt == "json":
        rows = [{c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
                for row in result.rows]
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        lines = ["| " + " | ".join(result.columns) + " |",
                 "|" + "|".join(" --- " for _ in result.columns) + "|"]
        lines += ["| " + " | ".join(cell(v).replace("|", "\\|") for v in row) + " |"
                  for row in result.rows]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        return _table(result)
    raise ReportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _table(result: ReportResult) -> str:
    texts = [[cell(v) for v in row] for row in result.rows]
    numeric = [all(isinstance(r[i], int | Decimal) or r[i] is None for r in result.rows)
               for i in range(len(result.columns))]
    widths = [max([len(c)] + [len(t[i]) for t in texts]) for i, c in enumerate(result.columns)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(result.columns), "  ".join("-" * w for w in widths)]
    out += [line(t) for t in texts]
    out.append(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})")
    return "\n".join(out) + "\n"
