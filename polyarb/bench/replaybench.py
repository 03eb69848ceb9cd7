# Replay throughput: frames/s and records/s of a journal through `polyarb replay`'s own path
# (polyarb.replay.replay_journal: fold, canonical comparison of every decision, planning), next
# to a bare read of the same records, for `polyarb bench replay` and bench/bench_replay.py.
#
# Rules:
# 1. Only public APIs: replay_journal, iter_records, journal_stats. The replay itself is never
#    re-implemented here, so the figure follows every change to the replay path.
# 2. Without a journal, one is made first: a deterministic generated feed (feedgen) through the
#    pipeline of `polyarb run` (bench.pipeline, default durability) into a temporary directory,
#    so the command is one step. It is removed afterwards.
# 3. Frames are the `raw_frame` records of the days the replay read (counted once, untimed, with
#    journal_stats); records are everything it read.
# 4. Median of `repeats` timed runs after one warm-up run (it fills the OS file cache).
# 5. A replay that diverges is not a measurement: the result says so (`ok`, `divergence`).
from __future__ import annotations

import functools
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyarb.bench.timing import wall_and_cpu

TARGET_FRAMES_PER_S = 150_000.0


def median_times(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of fn over `repeats` runs, after one warm-up (rule 4).

    CPU seconds are steadier than wall time when other processes share the cores.
    """
    walls, cpus = wall_and_cpu(fn, repeats, warmup=True)
    return statistics.median(walls), statistics.median(cpus)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of fn over `repeats` runs, after one unmeasured warm-up (rule 4)."""
    return median_times(fn, repeats)[0]


def make_journal(root: Path, frames: int = 100_000, markets: int = 100,
                 neg_risk_events: int = 10, seed: int = 1) -> dict[str, Any]:
    """Write a journal of a generated feed under root through the run pipeline (rule 2).

    Returns:
        The pipeline's measurement of that run (frames, frames_per_s, ...).
    """
    from polyarb.bench.feedgen import FeedGenerator
    from polyarb.bench.pipeline import run_pipeline

    gen = FeedGenerator(markets, neg_risk_events, seed=seed)
    return run_pipeline(list(gen.frames(frames)), tuple(gen.market_infos()), journal_dir=root)


def count_frames(root: Path, days: list[str]) -> int:
    """The raw_frame records in those days of the journal (rule 3)."""
    from polyarb.journal import journal_stats

    return sum(journal_stats(root / day).records_per_kind.get("raw_frame", 0) for day in days)


def measure_replay(path: Path, repeats: int = 3) -> dict[str, Any]:
    """Replay `path` (a journal root or one day) repeatedly and time it next to a bare read.

    Raises:
        JournalUnreadable, JournalCorrupt, ReplayError: as replay_journal.
    """
    from polyarb.journal import iter_records
    from polyarb.replay import replay_journal

    first = replay_journal(path)  # also the warm-up's check that this is a replayable journal
    if not first.ok:
        assert first.divergence is not None
        return {"ok": False, "divergence": first.divergence.message, "journal": str(path)}
    t_replay, cpu_replay = median_times(functools.partial(replay_journal, path), repeats)

    def read() -> None:
        for _ in iter_records(path):
            pass

    t_read = median_seconds(read, repeats)
    frames = count_frames(Path(first.root), first.days)
    result = _summary(path, first.records, frames, t_replay, t_read, repeats)
    result.update(cpu_seconds=round(cpu_replay, 4),
                  frames_per_cpu_s=round(frames / cpu_replay, 1) if cpu_replay else 0.0)
    return result


def _summary(path: Path, records: int, frames: int, t_replay: float, t_read: float,
             repeats: int) -> dict[str, Any]:
    return {
        "ok": True, "divergence": None, "journal": str(path), "records": records,
        "frames": frames, "repeats": repeats, "seconds": round(t_replay, 4),
        "frames_per_s": round(frames / t_replay, 1) if t_replay else 0.0,
        "records_per_s": round(records / t_replay, 1) if t_replay else 0.0,
        "read_records_per_s": round(records / t_read, 1) if t_read else 0.0,
        "replay_vs_read": round(t_replay / t_read, 2) if t_read else 0.0,
        "target_frames_per_s": TARGET_FRAMES_PER_S, "generated": False,
    }


def run_replay(path: Path | None, repeats: int = 3, frames: int = 100_000,
               markets: int = 100) -> dict[str, Any]:
    """Measure a given journal, or generate one first when path is None (rule 2).

    Returns:
        ok, divergence, journal, records, frames, seconds (median replay), frames_per_s,
        records_per_s, cpu_seconds, frames_per_cpu_s, read_records_per_s, replay_vs_read,
        target_frames_per_s, generated.
    """
    if path is not None:
        return measure_replay(path, repeats)
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-replay-") as tmp:
        root = Path(tmp) / "journal"
        made = make_journal(root, frames, markets)
        result = measure_replay(root, repeats)
    result.update(generated=True, journal=None,
                  pipeline_frames_per_s=made["frames_per_s"])
    return result


def render(r: dict[str, Any]) -> str:
    """The text report, the target next to the measured value."""
    if not r["ok"]:
        return f"replay of {r['journal']} DIVERGED: {r['divergence']} (no measurement)"
    where = (f"generated from a feed (journaled by the run pipeline at "
             f"{r['pipeline_frames_per_s']:,.0f} frames/s), removed afterwards"
             if r["generated"] else r["journal"])
    return "\n".join([
        f"journal         {where}",
        f"records         {r['records']:,} ({r['frames']:,} raw frames)",
        f"replay          {r['frames_per_s']:>12,.0f} frames/s  "
        f"(target >= {r['target_frames_per_s']:,.0f})  median of {r['repeats']}: "
        f"{r['seconds']:.3f} s",
        f"replay          {r['records_per_s']:>12,.0f} records/s",
        f"replay          {r['frames_per_cpu_s']:>12,.0f} frames per CPU-second  "
        f"(steadier than wall time on a shared machine)",
        f"read only       {r['read_records_per_s']:>12,.0f} records/s  "
        f"(replay = {r['replay_vs_read']:.2f}x the read time)",
    ])
