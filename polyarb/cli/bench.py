# `polyarb bench ...`: benchmarks that ship with the package.
#
# Rules:
# 1. `feed` writes a deterministic generated feed (polyarb.bench.feedgen); `pipeline` measures a
#    feed file through the full in-process path of `polyarb run` (polyarb.bench.pipeline).
# 2. A missing or unreadable input (or markets) file is a usage error: exit 2 with the reason.
# 3. Numbers are printed, never judged: no timing threshold decides the exit code.
from __future__ import annotations

import json
from pathlib import Path

import typer

bench_app = typer.Typer(
    help="Benchmarks: generate a synthetic market feed, measure the full pipeline on a feed.",
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
