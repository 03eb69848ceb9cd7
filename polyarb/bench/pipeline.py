# `polyarb bench pipeline`: frames from an NDJSON file through the exact in-process path of
# `polyarb run` (EngineLoop.handle: journal append under the default durability policy, engine
# apply, detection, decisions journaled), timed per frame, against a bare orjson.loads loop over
# the same frames measured in the same run.
#
# Rules:
# 1. Reuse, never re-implement: every frame goes through EngineLoop.handle with a no-op act, into
#    a temporary journal (removed afterwards) opened with the default Durability.
# 2. Deterministic inputs: MarketsLoaded is journaled first; frame i gets ts_recv_ns from a
#    synthetic clock (T0 + i * step), so two runs on one file journal the same records.
# 3. Markets come from a markets file (a JSON list of MarketInfo, or an object with `markets`)
#    or are inferred from the frames: condition id = a frame's `market`, a binary pair = the
#    two asset ids seen with it (first seen = Yes). Neg-risk groups can only come from a file.
# 4. Bad input never crashes the measurement: a line the parser refuses becomes FrameRejected
#    decisions, counted in `rejected`. Blank lines are not frames and are skipped.
# 5. The breakdown (run_breakdown, `python -m polyarb.bench.pipeline F.ndjson`) runs the same
#    loop and says what a tail percentile is made of: each frame's latency (wall, and the
#    thread's CPU time, which a busy machine inflates less) under one class, first that applies:
#    "order" (an order action: the journal was synced, so a batch was written too), "commit"
#    (the frame's append wrote a batch: the group commit's deadline or size), "opportunity",
#    "<event type>+decisions" (continuity and other decisions), "<event type>".
#    Event types come from a parse outside the timed window. Counts per class are exact; the
#    times are as noisy as the machine.
from __future__ import annotations

import contextlib
import gc
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson

from polyarb.core.engine import Engine
from polyarb.events.base import Decision
from polyarb.events.decisions import (
    CancelOrders,
    FrameRejected,
    OpportunityDetected,
    PlaceOrders,
    Unwind,
)
from polyarb.events.inputs import MarketInfo, MarketsLoaded, TokenInfo
from polyarb.journal import Durability, JournalWriter
from polyarb.journal.writer import DEFAULT_DURABILITY
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame

T0_NS = 1_766_793_600_000_000_000 + 3_600 * 10**9  # 01:00 on a fixed day (rule 2)
STEP_NS = 100_000  # 100 µs between frames: 800k frames before the day rolls
_TICK_MICROS = 10_000
_MIN_ORDER_MICROS = 5_000_000


class InputError(Exception):
    """The input or markets file is missing, unreadable or malformed (the CLI exits 2)."""


def read_frames(path: Path | str) -> list[str]:
    """The non-blank lines of an NDJSON file, one text frame each (rule 4).

    Raises:
        InputError: the file is missing, unreadable or not UTF-8.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    return [line for line in text.split("\n") if line.strip()]


def load_markets(path: Path | str) -> tuple[MarketInfo, ...]:
    """A markets file: a JSON list of MarketInfo objects, or an object with a `markets` list.

    Raises:
        InputError: the file is missing, unreadable or not that shape.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    try:
        data = msgspec.json.decode(raw)
        items = data.get("markets") if isinstance(data, dict) else data
        return msgspec.convert(items, tuple[MarketInfo, ...])
    except msgspec.MsgspecError as exc:
        raise InputError(f"{path} is not a JSON list of markets: {exc}") from exc


def infer_markets(frames: Sequence[str]) -> tuple[MarketInfo, ...]:
    """Binary markets from the frames (rule 3); conditions without exactly 2 tokens are skipped."""
    seen: dict[str, list[str]] = {}  # condition -> token ids in first-seen order (dicts keep it)
    ticks: dict[str, int] = {}
    for line in frames:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        for msg in data if isinstance(data, list) else [data]:
            if isinstance(msg, dict):
                _note(msg, seen, ticks)
    return tuple(
        MarketInfo(condition_id=cid, tokens=(TokenInfo(token_id=toks[0], outcome="Yes"),
                                             TokenInfo(token_id=toks[1], outcome="No")),
                   tick_size_micros=ticks.get(cid, _TICK_MICROS),
                   min_order_size_micros=_MIN_ORDER_MICROS)
        for cid, toks in seen.items() if len(toks) == 2)


def _note(msg: dict[str, Any], seen: dict[str, list[str]], ticks: dict[str, int]) -> None:
    market = msg.get("market")
    if not isinstance(market, str):
        return
    elements = msg.get("price_changes")
    assets = [e.get("asset_id") for e in elements if isinstance(e, dict)] if isinstance(
        elements, list) else [msg.get("asset_id")]
    toks = seen.setdefault(market, [])
    for asset in assets:
        if isinstance(asset, str) and asset not in toks:
            toks.append(asset)
    tick = msg.get("tick_size")
    if market not in ticks and isinstance(tick, str):
        with contextlib.suppress(ArithmeticError):  # decimal.InvalidOperation: not a number
            ticks[market] = int(Decimal(tick) * 1_000_000)


def _percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in µs."""
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), math.ceil(q / 100 * len(sorted_ns))))
    return sorted_ns[rank - 1] / 1000


def _run_frames(loop: EngineLoop, frames: Sequence[str]) -> tuple[list[int], int, int, int]:
    """Handle every frame; returns (per-frame ns, total ns, rejected, opportunities)."""
    handle, clock = loop.handle, time.perf_counter_ns
    lat: list[int] = []
    rejected = opportunities = 0
    t_start = clock()
    for i, line in enumerate(frames):
        item = Frame(T0_NS + (i + 1) * STEP_NS, "market-0", line)
        t0 = clock()
        decisions: list[Decision] = handle(item)
        lat.append(clock() - t0)
        for d in decisions:
            kind = type(d)
            if kind is FrameRejected:
                rejected += 1
            elif kind is OpportunityDetected:
                opportunities += 1
    return lat, clock() - t_start, rejected, opportunities


def _orjson_ns(frames: Sequence[str]) -> int:
    loads, clock = orjson.loads, time.perf_counter_ns
    t0 = clock()
    for line in frames:
        try:  # noqa: SIM105 (try is free when nothing raises; suppress() would skew the baseline)
            loads(line)
        except orjson.JSONDecodeError:
            pass
    return clock() - t0


def _noop(_decision: Decision) -> None:
    """The act of a benchmark: orders are journaled (and synced) but never sent."""


def run_pipeline(frames: Sequence[str], markets: tuple[MarketInfo, ...] | None = None,
                 durability: Durability = DEFAULT_DURABILITY,
                 journal_dir: Path | None = None) -> dict[str, Any]:
    """Measure `frames` through EngineLoop.handle (rules 1-2) and the orjson baseline.

    Args:
        frames: raw text frames, in feed order.
        markets: the markets to load; None infers them from the frames (rule 3).
        durability: the journal's fsync policy (the CLI always uses the default, as `run` does).
        journal_dir: keep the journal in this new directory (for `bench replay`) instead of a
            temporary one.

    Returns:
        frames, markets, seconds, frames_per_s, us_per_frame, p50_us, p99_us, p999_us,
        orjson_us_per_frame, ratio_vs_orjson, rejected, opportunities.
    """
    infos = infer_markets(frames) if markets is None else markets
    if journal_dir is not None:
        return _measure(frames, infos, durability, journal_dir)
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-") as tmp:
        return _measure(frames, infos, durability, Path(tmp) / "journal")


def _measure(frames: Sequence[str], infos: tuple[MarketInfo, ...], durability: Durability,
             journal_dir: Path) -> dict[str, Any]:
    with _bench_loop(infos, durability, journal_dir) as loop:
        lat, total_ns, rejects, opps = _run_frames(loop, frames)
        base_ns = _orjson_ns(frames)
    return _summary(len(frames), len(infos), lat, total_ns, base_ns, rejects, opps)


@contextlib.contextmanager
def _bench_loop(infos: tuple[MarketInfo, ...], durability: Durability,
                journal_dir: Path) -> Iterator[EngineLoop]:
    """An EngineLoop on a new journal with the markets loaded, the GC off while in use (rule 1)."""
    writer = JournalWriter.open(journal_dir, durability=durability)
    try:
        loop = EngineLoop(writer, Engine(), _noop, Counters())
        loop.handle(MarketsLoaded(ts_recv_ns=T0_NS, source="bench", markets=infos))
        gc.collect()
        gc.disable()  # as bench/: a collection pause is not the pipeline's cost
        try:
            yield loop
        finally:
            gc.enable()
        writer.sync()
    finally:
        writer.close()


def _summary(n: int, n_markets: int, lat: list[int], total_ns: int, base_ns: int,
             rejected: int, opportunities: int) -> dict[str, Any]:
    lat.sort()
    us = total_ns / max(n, 1) / 1000
    base_us = base_ns / max(n, 1) / 1000
    return {
        "frames": n, "markets": n_markets, "seconds": round(total_ns / 1e9, 6),
        "frames_per_s": round(n / (total_ns / 1e9), 1) if total_ns else 0.0,
        "us_per_frame": round(us, 3), "p50_us": round(_percentile(lat, 50), 3),
        "p99_us": round(_percentile(lat, 99), 3), "p999_us": round(_percentile(lat, 99.9), 3),
        "orjson_us_per_frame": round(base_us, 3),
        "ratio_vs_orjson": round(us / base_us, 2) if base_us else 0.0,
        "rejected": rejected, "opportunities": opportunities,
    }


def render(result: dict[str, Any]) -> str:
    """The text report of one run."""
    r = result
    return "\n".join([
        f"frames          {r['frames']:,} ({r['markets']:,} markets loaded)",
        f"seconds         {r['seconds']:.3f}",
        f"frames/s        {r['frames_per_s']:,.0f}",
        f"µs/frame        {r['us_per_frame']:.2f}",
        f"latency µs      p50 {r['p50_us']:.2f}  p99 {r['p99_us']:.2f}  "
        f"p99.9 {r['p999_us']:.2f}",
        f"orjson.loads    {r['orjson_us_per_frame']:.3f} µs/frame "
        f"(pipeline = {r['ratio_vs_orjson']:.1f}x)",
        f"rejected        {r['rejected']:,}",
        f"opportunities   {r['opportunities']:,}",
    ])


# --- the breakdown (rule 5) ---------------------------------------------------------------------

_ACTIONS = (PlaceOrders, Unwind, CancelOrders)


def event_type(line: str) -> str:
    """A frame's `event_type` ("list" for an array, "other" when absent, "bad" if not JSON)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "bad"
    if isinstance(data, list):
        return "list"
    kind = data.get("event_type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else "other"


def frame_class(kind: str, decisions: Sequence[Decision], committed: bool) -> str:
    """The class of one handled frame (rule 5: the first that applies)."""
    if any(isinstance(d, _ACTIONS) for d in decisions):
        return "order"
    if committed:
        return "commit"
    if any(type(d) is OpportunityDetected for d in decisions):
        return "opportunity"
    return f"{kind}+decisions" if decisions else kind


def run_breakdown(frames: Sequence[str], markets: tuple[MarketInfo, ...] | None = None,
                  band: tuple[float, float] = (98.0, 99.5)) -> dict[str, Any]:
    """Per-frame latency of `frames` through EngineLoop.handle, by class (rule 5).

    Args:
        frames: raw text frames, in feed order.
        markets: the markets to load; None infers them from the frames (rule 3).
        band: the percentile band whose members are counted per class.

    Returns:
        {"wall": ..., "cpu": ...}, each with the overall p50/p98/p99/p99.5/p99.9 (µs), the
        band's bounds and one row per class: frames, in_band, above_p99, p50/p90/p99 (µs).
    """
    infos = infer_markets(frames) if markets is None else markets
    kinds = [event_type(line) for line in frames]
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-") as tmp, _bench_loop(
            infos, DEFAULT_DURABILITY, Path(tmp) / "journal") as loop:
        rows = _timed_classes(loop, frames, kinds)
    return {"wall": _class_table([(w, c) for w, _, c in rows], band),
            "cpu": _class_table([(u, c) for _, u, c in rows], band)}


def _timed_classes(loop: EngineLoop, frames: Sequence[str],
                   kinds: list[str]) -> list[tuple[int, int, str]]:
    """(wall ns, thread CPU ns, class) per frame; the CPU clock is read outside the wall window."""
    handle, clock, cpu, writer = loop.handle, time.perf_counter_ns, time.thread_time_ns, loop.writer
    rows: list[tuple[int, int, str]] = []
    for i, line in enumerate(frames):
        item = Frame(T0_NS + (i + 1) * STEP_NS, "market-0", line)
        # The writer's last written seq moves only when a batch is written (no public reader).
        written = writer._written_seq
        c0 = cpu()
        t0 = clock()
        decisions = handle(item)
        t1 = clock()
        c1 = cpu()
        rows.append((t1 - t0, c1 - c0,
                     frame_class(kinds[i], decisions, writer._written_seq != written)))
    return rows


def _class_table(rows: list[tuple[int, str]], band: tuple[float, float]) -> dict[str, Any]:
    ordered = sorted(ns for ns, _ in rows)
    lo, hi, p99 = (_percentile(ordered, q) for q in (*band, 99))
    by_class: dict[str, list[int]] = {}
    for ns, cls in rows:
        by_class.setdefault(cls, []).append(ns)
    table: list[dict[str, Any]] = []
    for cls, times in by_class.items():
        times.sort()
        table.append({
            "class": cls, "frames": len(times),
            "in_band": sum(1 for ns in times if lo <= ns / 1000 <= hi),
            "above_p99": sum(1 for ns in times if ns / 1000 > p99),
            **{f"p{q}_us": round(_percentile(times, q), 1) for q in (50, 90, 99)}})
    table.sort(key=lambda row: (-row["in_band"], -row["frames"], row["class"]))
    return {**{f"p{q}_us".replace(".", "_"): round(_percentile(ordered, q), 1)
               for q in (50, 98, 99, 99.5, 99.9)},
            "band_us": [round(lo, 1), round(hi, 1)], "classes": table}


def render_breakdown(result: dict[str, Any]) -> str:
    """The text report of run_breakdown."""
    out: list[str] = []
    for clock in ("wall", "cpu"):
        r = result[clock]
        lo, hi = r["band_us"]
        out.append(f"{clock}: p50 {r['p50_us']}  p98 {r['p98_us']}  p99 {r['p99_us']}  "
                   f"p99.5 {r['p99_5_us']}  p99.9 {r['p99_9_us']} µs; band {lo}..{hi} µs")
        out.append(f"  {'class':28} {'frames':>7} {'in band':>8} {'>p99':>6} "
                   f"{'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8}")
        out.extend(f"  {c['class']:28} {c['frames']:7d} {c['in_band']:8d} {c['above_p99']:6d} "
                   f"{c['p50_us']:8.1f} {c['p90_us']:8.1f} {c['p99_us']:8.1f}"
                   for c in r["classes"])
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m polyarb.bench.pipeline F.ndjson [--markets M.json] [--json]`: the breakdown."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="pipeline latency by frame class (rule 5)")
    parser.add_argument("input")
    parser.add_argument("--markets")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    markets = None if args.markets is None else load_markets(args.markets)
    result = run_breakdown(read_frames(args.input), markets)
    print(json.dumps(result, indent=1) if args.json else render_breakdown(result))


if __name__ == "__main__":
    main()
