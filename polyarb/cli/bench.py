# `polyarb bench ...`: benchmarks that ship with the package.
#
# Rules:
# 1. `feed` writes a deterministic generated feed (polyarb.bench.feedgen); `pipeline` measures a
#    feed file through the full in-process path of `polyarb run` (polyarb.bench.pipeline).
#    `replay`, `sign`, `report`, `memory` and `startup` wrap polyarb.bench.replaybench,
#    signbench, reportbench, memory and startup: the measuring lives there, not here; `ws`
#    wraps polyarb.bench.ws (simulator -> loopback websocket -> `polyarb run`'s feed and loop).
# 2. A missing or unreadable input (or markets) file is a usage error: exit 2 with the reason.
# 3. Numbers are printed, never judged: no timing threshold decides the exit code. Each command
#    prints the target next to the measured value, or with --json one JSON object.
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

bench_app = typer.Typer(
    help="Benchmarks: generate a synthetic market feed; measure the full pipeline, the loopback "
    "websocket path, replay, order signing, report queries, engine memory and CLI start-up "
    "against their targets.",
    no_args_is_help=True,
)


@bench_app.command("feed")
def feed(
    out: Path = typer.Option(..., "--out", help="NDJSON file to write (one frame per line)."),
    markets: int = typer.Option(50, "--markets", min=0, help="Plain binary markets."),
    neg_risk_events: int = typer.Option(0, "--neg-risk-events", min=0,
                                        help="Neg-risk events (3-5 outcome markets each)."),
    frames: int = typer.Option(10_000, "--frames", min=1, help="Frames to write."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same bytes)."),
    window_rate: float = typer.Option(0.005, "--window-rate",
                                      help="Share of frames opening an arbitrage window."),
    markets_out: Path | None = typer.Option(
        None, "--markets-out", help="Also write the markets as JSON (for pipeline --markets)."),
) -> None:
    """Write a deterministic market-channel feed (book, price_change, trades, tick changes)."""
    from polyarb.bench.feedgen import FeedGenerator, write_feed, write_markets

    try:
        gen = FeedGenerator(markets, neg_risk_events, seed=seed, window_rate=window_rate)
        if markets_out is not None:
            write_markets(markets_out, gen)
        n = write_feed(out, gen, frames)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except OSError as exc:
        typer.echo(f"error: cannot write: {exc}", err=True)
        raise typer.Exit(2) from exc
    tokens = 2 * len(gen.markets)
    typer.echo(f"wrote {n:,} frames ({len(gen.markets):,} markets, {tokens:,} tokens) to {out}")


@bench_app.command("pipeline")
def pipeline(
    input_file: Path = typer.Option(..., "--input", help="NDJSON feed, one text frame a line."),
    markets_file: Path | None = typer.Option(
        None, "--markets", help="JSON list of MarketInfo (default: inferred from the frames; "
        "neg-risk groups only come from this file)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Run a feed through journal -> engine -> detection -> journal, as `polyarb run` does."""
    from polyarb.bench.pipeline import InputError, load_markets, read_frames, render, run_pipeline

    try:
        frames = read_frames(input_file)
        infos = None if markets_file is None else load_markets(markets_file)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    result = run_pipeline(frames, infos)
    typer.echo(json.dumps(result, sort_keys=True) if as_json else render(result))


def _emit(result: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    typer.echo(json.dumps(result, sort_keys=True) if as_json else render(result))


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@bench_app.command("replay")
def replay(
    directory: Path | None = typer.Argument(
        None, help="A journal root or one day; omitted: generate one from a synthetic feed.",
        show_default=False),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Timed replays (median counts)."),
    frames: int = typer.Option(100_000, "--frames", min=1,
                               help="Without DIR: frames in the generated feed."),
    markets: int = typer.Option(100, "--markets", min=1,
                                help="Without DIR: binary markets in the generated feed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Replay throughput: frames/s and records/s through `polyarb replay`'s own path.

    Times replay_journal (fold, decision comparison, planning) over the journal, median of
    --repeats runs after a warm-up, next to a bare read of the same records. Without DIR a
    generated feed is first journaled through the `polyarb run` pipeline into a temporary
    directory. Target: >= 150,000 frames/s. Exit 1 if the replay diverges (no measurement).
    """
    from polyarb.bench.replaybench import render, run_replay
    from polyarb.journal import JournalCorrupt, JournalUnreadable
    from polyarb.replay_plan import ReplayError

    try:
        result = run_replay(directory, repeats, frames, markets)
    except (JournalUnreadable, JournalCorrupt, ReplayError) as exc:
        raise _usage(str(exc)) from exc
    _emit(result, as_json, render)
    if not result["ok"]:
        raise typer.Exit(1)


@bench_app.command("sign")
def sign(
    orders: int = typer.Option(2000, "--orders", min=1, help="Orders per timed pass."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Timed passes (the best counts)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Order signing: µs per order for build + EIP-712 sign + POST /order body.

    Ours (polyarb.venues.polymarket) and, in the same run when it is importable, the official
    py-clob-client-v2 on the same inputs (a quarter of the orders), with the ratio. Uses a
    public test key. Target: <= 150 µs per order.
    """
    from polyarb.bench.signbench import render, run_sign

    _emit(run_sign(orders, repeats), as_json, render)


@bench_app.command("report")
def report(
    events: str = typer.Option("10M", "--events", help="Journal size: 10M, 1M, 100K, 5000..."),
    repeat: int = typer.Option(3, "--repeat", min=1, help="Runs of each query (best counts)."),
    cache: Path | None = typer.Option(
        None, "--cache", help="Keep (and reuse) the journal in DIR/journal-N; default: a "
        "temporary directory, removed afterwards.", show_default=False),
    regen: bool = typer.Option(False, "--regen", help="With --cache: rewrite the journal."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Report queries: DuckDB over a journal of N events, unsealed (NDJSON) and sealed (Parquet).

    Builds a valid journal of mostly raw market frames plus trades, order updates and
    decisions, seals its days, and times P&L per token, counts per kind, both in one scan and
    a bare file scan. 10M events take about 6 GB of disk and several minutes to write and
    seal (--cache keeps them for the next run). Targets at 10M events: pnl + kinds <= 5 s
    unsealed, <= 1 s sealed.
    """
    from polyarb.bench.journalgen import parse_size
    from polyarb.bench.reportbench import ReportBenchError, render, run_report

    try:
        n = parse_size(events)
        if n < 2:
            raise ValueError("--events must be at least 2")
        result = run_report(n, repeat, cache, regen)
    except (ValueError, ReportBenchError, OSError) as exc:
        raise _usage(str(exc)) from exc
    _emit(result, as_json, render)


@bench_app.command("memory")
def memory(
    tokens: int = typer.Option(10_000, "--tokens", min=2, help="Tokens (tokens/2 binary markets)."),
    levels: int = typer.Option(20, "--levels", min=1, help="Price levels per side in every book."),
    profile: bool | None = typer.Option(
        None, "--profile/--no-profile", help="Where the memory goes (tracemalloc, a second "
        "run); default: only when RSS is above the target.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Engine memory: RSS of a real Engine holding every book, in a fresh subprocess.

    Loads the markets, then one book snapshot per token through Engine.apply, and reports
    the RSS with polyarb imported (baseline), after loading, the delta and bytes per price
    level. Target: <= 500 MB RSS for 10,000 tokens x 20 levels per side.
    """
    from polyarb.bench.memory import render, run_memory

    try:
        result = run_memory(tokens, levels, profile)
    except (ValueError, RuntimeError) as exc:
        raise _usage(str(exc)) from exc
    _emit(result, as_json, render)


@bench_app.command("startup")
def startup(
    runs: int = typer.Option(7, "--runs", min=1, help="Cold runs of each command."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """CLI start-up: wall time of `python -m polyarb --help` in fresh interpreters.

    Median, min and max of --runs subprocesses (after one warm-up), next to a bare
    `python -c pass`. Target: <= 0.5 s.
    """
    from polyarb.bench.startup import StartupError, render, run_startup

    try:
        result = run_startup(runs)
    except StartupError as exc:
        raise _usage(str(exc)) from exc
    _emit(result, as_json, render)


@bench_app.command("ws")
def ws(
    rates: list[float] = typer.Option(
        [5_000.0, 0.0], "--rate", min=0,
        help="Frames/s the simulator sends (0: full speed); repeat for several runs."),
    seconds: float = typer.Option(5.0, "--seconds", min=0.1, help="Sending time per run."),
    markets: int = typer.Option(100, "--markets", min=1, help="Binary markets in the feed."),
    durability: str | None = typer.Option(
        None, "--durability", help="Journal policy: none, batch or always (default: run's)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object ({'runs': [...]})."),
) -> None:
    """Simulator -> loopback ws -> `polyarb run`'s feed and engine loop (frames/s, latency)."""
    from polyarb.bench.ws import BenchError, render, run_ws

    results = []
    for rate in rates:
        try:
            results.append(run_ws(rate, seconds, markets, durability=durability))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        except BenchError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        if not as_json:
            typer.echo(render(results[-1]))
    if as_json:
        typer.echo(json.dumps({"runs": results}, sort_keys=True))
