# `polyarb replay DIR`: re-fold a journal through the core and compare every decision, or, with
# --config, replay it under another config with simulated fills (what-if).
# Exit codes are part of the interface: 0 identical, 1 divergent (the first divergent seq and a
# field-by-field diff are printed), 2 unreadable journal or bad input (missing, not a journal,
# corrupt, bad config). A progress bar goes to stderr for large journals when it is a terminal.
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from polyarb.replay import ReplayResult
    from polyarb.replay_whatif import WhatIfResult

PROGRESS_MIN_RECORDS = 200_000

def replay(
    directory: Path = typer.Argument(
        ..., help="A journal root (journal/) or one day (journal/2025-12-27).", show_default=False
    ),
    config: Path | None = typer.Option(
        None, "--config", help="What-if: an engine config (.toml or .json) to replay under; "
        "decisions are regenerated, not compared.", show_default=False
    ),
    out: Path | None = typer.Option(
        None, "--out", help="With --config: journal the what-if run into this new directory.",
        show_default=False
    ),
) -> None:
    """Replay a journal and check that every decision is identical.

    Exit 0 when every regenerated decision equals the journaled one, 1 at the first divergence
    (its seq and a field-by-field diff are printed), 2 when the journal is unreadable. A day
    replays on its own from its state checkpoint; a day without one replays from the nearest
    earlier day that has one (or from the start of the journal).

    With --config it is a what-if instead: the same market data under another config, the new
    orders filled by the simulator against the recorded books, and a summary of what changed.
    """
    from polyarb.journal import JournalCorrupt, JournalUnreadable
    from polyarb.replay_config import ConfigError, load_engine_config
    from polyarb.replay_plan import ReplayError

    if out is not None and config is None:
        _fail("--out needs --config (it writes the what-if run)")
    try:
        if config is None:
            with _progress(directory) as tick:
                result = _run_replay(directory, tick)
            raise typer.Exit(_report_replay(result))
        engine_config = load_engine_config(config)
        with _progress(directory) as tick:
            whatif = _run_what_if(directory, engine_config, out, tick)
        typer.echo(render_what_if(whatif))
    except (JournalUnreadable, JournalCorrupt, ReplayError, ConfigError) as exc:
        _fail(str(exc))


def _run_replay(directory: Path, tick: Callable[[int], None] | None) -> ReplayResult:
    from polyarb.replay import replay_journal

    return replay_journal(directory, on_progress=tick)


def _run_what_if(directory: Path, config: object, out: Path | None,
                 tick: Callable[[int], None] | None) -> WhatIfResult:
    from polyarb.core.config import EngineConfig
    from polyarb.replay_whatif import what_if

    assert isinstance(config, EngineConfig)
    return what_if(directory, config, out=out, on_progress=tick)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _report_replay(result: ReplayResult) -> int:
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.divergence is None:
        typer.echo(render_ok(result))
        return 0
    typer.echo(render_divergence(result))
    return 1


def render_ok(r: ReplayResult) -> str:
    """The summary of an identical replay."""
    from polyarb.core.stats import dollars, render

    days = r.days[0] if len(r.days) == 1 else f"{r.days[0]}..{r.days[-1]}"
    speed = r.records / r.elapsed_s if r.elapsed_s > 0 else 0.0
    return "\n".join([
        f"replay ok: {r.decisions:,} decisions identical",
        f"  journal     {r.root} ({days}), seq {r.first_seq}..{r.last_seq}",
        f"  started at  {r.start}",
        f"  records     {r.records:,} ({r.inputs:,} inputs, {r.decisions:,} decisions, "
        f"{r.notes:,} journal notes)",
        f"  checkpoints {r.checkpoints} verified",
        f"  stats       {render(r.stats)}",
        f"  realized    {dollars(r.realized_micros)}",
        f"  speed       {speed:,.0f} events/s ({r.elapsed_s:.3f} s)",
    ])


def render_divergence(r: ReplayResult) -> str:
    """The first divergence: where, why, and the differing fields."""
    from polyarb.replay_diff import render_diff

    d = r.divergence
    assert d is not None
    where = "at the end of the journal" if d.seq is None else f"at seq {d.seq}"
    lines = [f"replay DIVERGED {where} ({d.kind})", f"  {d.message}"]
    if d.diffs:
        lines.append(render_diff(list(d.diffs)))
    lines.append(f"  replayed {r.records:,} records from {r.start}")
    return "\n".join(lines)


def render_what_if(w: WhatIfResult) -> str:
    """The what-if summary: decision diff, statistics and P&L of both sides."""
    from polyarb.core.stats import dollars, render
    from polyarb.replay_whatif import tally_rows

    rows = [("", "original", "what-if", "diff")]
    rows += [(name, f"{a:,}", f"{b:,}", f"{b - a:+,}") for name, a, b in tally_rows(w)]
    rows.append(("realized P&L", dollars(w.original_realized_micros),
                 dollars(w.whatif_realized_micros),
                 _signed(w.whatif_realized_micros - w.original_realized_micros)))
    o, n = w.original_stats.total_pnl_micros, w.whatif_stats.total_pnl_micros
    rows.append(("total P&L", dollars(o), dollars(n), _signed(n - o)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"what-if replay: {w.records:,} records, {w.venue_events:,} simulated venue events"]
    lines += [f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  "
              f"{r[3]:>{widths[3]}}" for r in rows]
    lines.append(f"  original: {render(w.original_stats)}")
    lines.append(f"  what-if:  {render(w.whatif_stats)}")
    if w.out is not None:
        lines.append(f"  what-if journal written to {w.out}")
    lines += [f"  warning: {x}" for x in w.warnings]
    return "\n".join(lines)


def _signed(micros: int) -> str:
    from polyarb.core.stats import dollars

    return dollars(micros) if micros < 0 else "+" + dollars(micros)


@contextmanager
def _progress(directory: Path) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for large journals when stderr is a terminal."""
    total = _total_records(directory) if sys.stderr.isatty() else 0
    if total < PROGRESS_MIN_RECORDS:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replaying", total=total)
        yield lambda done: bar.update(task, completed=done)


def _total_records(directory: Path) -> int:
    """Records the manifests announce under the directory (an estimate for the bar)."""
    from polyarb.journal import JournalUnreadable
    from polyarb.journal.scan import locate, read_manifest_or_none

    try:
        root, days = locate(directory)
    except JournalUnreadable:
        return 0
    total = 0
    for day in days:
        manifest, _ = read_manifest_or_none(root / day)
        total += 0 if manifest is None else manifest.records
    return total
