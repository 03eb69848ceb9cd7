# `polyarb report NAME`: the shipped SQL reports (polyarb/reports/sql/*.sql) over one or more
# journal roots. Thin: options are parsed here, polyarb.reports.run_report runs and formats.
# Exit codes: 0 done, 1 an audit whose order is not in the journal, 2 bad input (unknown day,
# bad window or format, a journal root that is missing, empty or damaged, or that fails
# --verify, a chart type not supported).
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import duckdb

    from polyarb.reports.run_report import ReportResult, Window

report_app = typer.Typer(
    help=(
        "SQL reports over the journal (DuckDB): pnl, fills, opportunities, breaker, latency, "
        "feed, audit. Each is a readable .sql file; --sql prints exactly what runs."
    ),
    no_args_is_help=True,
)

JOURNAL_DIRS = typer.Option(
    ["journal"], "--journal-dir", help="Journal root; repeat it to union several (shards)."
)
DAY = typer.Option(None, "--day", help="Only this UTC day (YYYY-MM-DD).", show_default=False)
SINCE = typer.Option(None, "--since", help="Rows at or after this ISO-8601 time (UTC unless "
                     "it names an offset).", show_default=False)
UNTIL = typer.Option(None, "--until", help="Rows before this ISO-8601 time.", show_default=False)
FORMAT = typer.Option("table", "--format", help="table, csv, json or markdown.")
SQL = typer.Option(False, "--sql", help="Print the SQL that runs (variables, shared views, "
                   "report) instead of running it.")
VERIFY = typer.Option(
    False, "--verify", help="First check every line's CRC, the seqs and the manifests of each "
    "journal root (`polyarb journal verify`) and refuse to report (exit 2) on any problem. "
    "Reports do not check CRCs, so a flipped byte can change numbers silently; use it before "
    "an audit, on a copied journal, or when numbers look wrong. Not the default: it reads "
    "every byte again (on 100K events about as long as the report itself).")
CHART = typer.Option(None, "--chart", help="Also draw a chart into this .html (or .svg) file.",
                     show_default=False)


def _run(name: str, journal_dirs: list[Path], day: str | None, since: str | None,
         until: str | None, fmt: str, sql: bool, verify: bool, chart: Path | None = None,
         order_id: str | None = None) -> None:
    import duckdb

    from polyarb.reports import JournalQueryError
    from polyarb.reports import run_report as rr

    try:
        window = rr.make_window(day, since, until)
        if fmt not in rr.FORMATS:
            raise rr.ReportError(f"unknown format {fmt!r}; formats: {', '.join(rr.FORMATS)}")
        if sql:
            typer.echo(rr.full_sql(name, window, order_id), nl=False)
            return
        if day is not None:
            rr.check_day_exists(journal_dirs, day)
        if verify:
            for note in rr.verify_roots(journal_dirs):
                typer.echo(f"note: {note}", err=True)
        if chart is not None:
            from polyarb.reports.run_report_chart import chart_format

            chart_format(chart)
        result = _query(name, journal_dirs, window, order_id, chart)
    except (rr.ReportError, JournalQueryError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
        # a damaged journal (bytes that are not JSON, a value out of range): DuckDB names the
        # file and byte; `journal verify` lists every problem
        first = str(exc).splitlines()[0]
        typer.echo(f"error: cannot read the journal: {first} (run `polyarb journal verify`)",
                   err=True)
        raise typer.Exit(2) from None
    if name == "audit" and not result.rows:
        typer.echo(f"error: no order {order_id!r} in the journal (client or venue order id)",
                   err=True)
        raise typer.Exit(1)
    typer.echo(rr.render(result, fmt), nl=False)
    if chart is not None:
        typer.echo(f"chart written to {chart}", err=True)


def _query(name: str, roots: list[Path], window: Window, order_id: str | None,
           chart: Path | None) -> ReportResult:
    from polyarb.reports import run_report as rr

    if name == "audit" and not order_id:
        raise rr.ReportError("audit needs an order id (client or venue order id)")
    con = rr.open_report_db(roots)
    try:
        result = rr.query(con, name, window, order_id)
        if chart is not None:
            _chart(con, name, result, window, chart)
        return result
    finally:
        con.close()


def _chart(con: duckdb.DuckDBPyConnection, name: str, result: ReportResult, window: Window,
           path: Path) -> None:
    from polyarb.core.stats import dollars
    from polyarb.reports import run_report as rr
    from polyarb.reports import run_report_chart as ch

    if name == "pnl":
        curve = rr.query(con, "_pnl_curve", window)
        points = [(int(r[0]), int(r[2])) for r in curve.rows]
        final = dollars(points[-1][1]) if points else dollars(0)
        ch.write_chart(path, "Equity curve (realized P&L)", ch.equity_svg(points, "Equity"),
                       f"{len(points)} realizing events; realized P&L {final}")
        return
    edges = [int(r[result.columns.index("expected_edge_micros")]) for r in result.rows]
    ch.write_chart(path, "Expected edge per opportunity", ch.histogram_svg(edges, "Edges"),
                   f"{len(edges)} opportunities")


@report_app.command()
def pnl(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY, since: str | None = SINCE,
        until: str | None = UNTIL, fmt: str = FORMAT, sql: bool = SQL, verify: bool = VERIFY,
        chart: Path | None = CHART) -> None:
    """P&L by UTC day, market and strategy: realized (equal to the engine's), fees, unrealized.

    --chart FILE.html draws the equity curve (cumulative realized P&L).
    """
    _run("pnl", journal_dir, day, since, until, fmt, sql, verify, chart)


@report_app.command()
def fills(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY,
          since: str | None = SINCE, until: str | None = UNTIL, fmt: str = FORMAT,
          sql: bool = SQL, verify: bool = VERIFY) -> None:
    """Every fill of our orders: order, opportunity, price, size, fee, settlement, voids."""
    _run("fills", journal_dir, day, since, until, fmt, sql, verify)


@report_app.command()
def opportunities(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY,
                  since: str | None = SINCE, until: str | None = UNTIL, fmt: str = FORMAT,
                  sql: bool = SQL, verify: bool = VERIFY, chart: Path | None = CHART) -> None:
    """Opportunities detected, placed or blocked (by which gate), expected vs captured edge.

    --chart FILE.html draws the distribution of expected edges.
    """
    _run("opportunities", journal_dir, day, since, until, fmt, sql, verify, chart)


@report_app.command()
def breaker(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY,
            since: str | None = SINCE, until: str | None = UNTIL, fmt: str = FORMAT,
            sql: bool = SQL, verify: bool = VERIFY) -> None:
    """Circuit-breaker transitions with their gate, limit, observed value and duration."""
    _run("breaker", journal_dir, day, since, until, fmt, sql, verify)


@report_app.command()
def latency(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY,
            since: str | None = SINCE, until: str | None = UNTIL, fmt: str = FORMAT,
            sql: bool = SQL, verify: bool = VERIFY) -> None:
    """Percentiles of frame -> decision, decision -> venue answer and answer -> fill."""
    _run("latency", journal_dir, day, since, until, fmt, sql, verify)


@report_app.command()
def feed(journal_dir: list[Path] = JOURNAL_DIRS, day: str | None = DAY, since: str | None = SINCE,
         until: str | None = UNTIL, fmt: str = FORMAT, sql: bool = SQL,
         verify: bool = VERIFY) -> None:
    """Feed health: connections and reconnects, stale and broken books, rejected frames."""
    _run("feed", journal_dir, day, since, until, fmt, sql, verify)


@report_app.command()
def audit(order_id: str = typer.Argument(..., help="A client order id (run-o7) or a venue "
                                         "order id.", show_default=False),
          journal_dir: list[Path] = JOURNAL_DIRS, fmt: str = FORMAT, sql: bool = SQL,
          verify: bool = VERIFY) -> None:
    """The causal chain of one order: trigger frame, opportunity, order, answers, fills, settlement.

    Exit 1 when the order is not in the journal.
    """
    _run("audit", journal_dir, None, None, None, fmt, sql, verify, order_id=order_id)
