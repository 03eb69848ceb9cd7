# `polyarb journal ...`: inspect, verify, follow and seal journals. Thin wrappers over
# polyarb.journal; exit codes are part of the interface (verify, stats, tail: 0 clean, 1 corrupt,
# 2 unreadable).
from __future__ import annotations

import time
from pathlib import Path

import typer

journal_app = typer.Typer(
    help="Inspect, verify, follow and seal journals (journal/YYYY-MM-DD/ directories).",
    no_args_is_help=True,
)

DIR_ARG = typer.Argument(..., help="A journal root (journal/) or one day (journal/2025-12-27).")


@journal_app.command()
def verify(directory: Path = DIR_ARG) -> None:
    """Check every record's checksum, seq continuity, manifests and the day hash chains.

    Exit 0 when clean, 1 when corrupt (the first problem's file, line and seq are printed), 2 when
    the directory is not a readable journal. Never modifies anything.
    """
    from polyarb.journal import JournalUnreadable, verify_journal

    try:
        report = verify_journal(directory)
    except JournalUnreadable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if report.ok:
        typer.echo(f"ok: {report.records} records in {len(report.days)} day(s), no problems")
        return
    for problem in report.problems:
        typer.echo(f"corrupt: {problem}", err=True)
    raise typer.Exit(1)


@journal_app.command()
def stats(directory: Path = DIR_ARG) -> None:
    """Print days, records per kind, bytes, seq and time range, and run ids."""
    from polyarb.journal import JournalCorrupt, JournalUnreadable, journal_stats

    try:
        typer.echo(journal_stats(directory).render())
    except JournalUnreadable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except JournalCorrupt as exc:  # exit 1 like verify, which lists every problem
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@journal_app.command()
def tail(
    directory: Path = DIR_ARG,
    lines: int = typer.Option(10, "-n", "--lines", help="How many of the last records to show."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new records."),
    interval: float = typer.Option(0.2, help="Polling interval in seconds with --follow."),
) -> None:
    """Print the last records (as stored, one JSON line each); with -f, follow new ones."""
    from polyarb.journal import JournalCorrupt, JournalUnreadable, iter_lines

    try:
        last_seq = _print_last(directory, lines)
        while follow:
            time.sleep(interval)
            for _path, seq, line in iter_lines(directory, last_seq + 1):
                typer.echo(line.rstrip(b"\n").decode("utf-8", "replace"))
                last_seq = seq
    except JournalUnreadable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except JournalCorrupt as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


def _print_last(directory: Path, count: int) -> int:
    from collections import deque

    from polyarb.journal import iter_lines

    last: deque[tuple[int, bytes]] = deque(maxlen=max(count, 1))
    for _path, seq, line in iter_lines(directory):
        last.append((seq, line))
    shown = list(last)[-count:] if count > 0 else []
    for _seq, line in shown:
        typer.echo(line.rstrip(b"\n").decode("utf-8", "replace"))
    return last[-1][0] if last else 0


@journal_app.command()
def seal(
    day: Path = typer.Argument(..., help="A closed day directory, e.g. journal/2025-12-27."),
) -> None:
    """Write a Parquet copy of a closed day beside its segments; queries then prefer it."""
    from polyarb.journal.seal import SealError, seal_day

    try:
        info = seal_day(day)
    except SealError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"sealed {day}/{info.file}: {info.records} records, seq {info.first_seq}..{info.last_seq}"
    )
