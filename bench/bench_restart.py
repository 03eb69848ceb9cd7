# Benchmark: how long a restart spends rebuilding the engine, folding the whole journal vs
# starting at the newest state_checkpoint (polyarb.runtime.rebuild), and what one checkpoint
# costs at scale.
#
# Run: /tmp/venv/bin/python bench/bench_restart.py [--frames N] [--at 0.95] [--repeats R]
#                                                  [--tokens T] [--levels L] [--no-cost]
#                                                  [--no-restart]
# 1. Restart: a journal of N market frames (default 500,000; polyarb.bench.feedgen's feed of
#    100 markets and 10 neg-risk events) written the way `polyarb run` writes it (EngineLoop,
#    day checkpoint hook), with one mid-day state_checkpoint once `--at` of the records are
#    journaled (EngineLoop.schedule_checkpoints). Times rebuild(root, from_checkpoint=False)
#    (the fold of every record, what a restart did before) and rebuild(root,
#    from_checkpoint=True) (what a restart does now: backward scan for the checkpoint,
#    restore, fold of the tail), checks both give the same state hash, and prints the ratio.
#    Both are measured in this process, median of R after a warm-up (the warm-up fills the
#    OS file cache: a cold cache adds disk reads to both).
#    The journal's one run starts at its first records, so the checkpoint's run_started is a
#    whole journal back: the run lookup (rebuild.run_in_force) is also timed both ways, reading
#    the record the checkpoint names (run_seq, state_checkpoint v2) and the backward scan a
#    checkpoint without it takes (v1), and the journal's size is printed next to them.
# 2. Checkpoint cost: an engine holding T tokens (T/2 binary markets) whose books each hold L
#    price levels per side; times Engine.checkpoint (snapshot, canonical JSON, SHA-256), the
#    journal line's encode, and what a restart does with it (Engine.restore + state_hash),
#    and prints the line size next to the readers' 256 MB line limit; each with the cyclic GC
#    paused, as the shell runs them (polyarb.runtime.gcpause), and with it on. Every book's
#    depth cache is dropped before each checkpoint, as after a busy stretch (a warm cache
#    skips the sort). Baseline in this process: v0's snapshot encoding and book restore, kept
#    as references by tests/core/test_checkpoint_bytes.py (which proves the bytes equal).
# Numbers are machine-dependent; the ratio is the point. No assertion on time anywhere.
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from polyarb.bench.feedgen import FeedGenerator
from polyarb.bench.timing import wall_and_cpu
from polyarb.core.book import Book
from polyarb.core.engine import Engine
from polyarb.core.engine_state import checked_snapshot
from polyarb.core.marketdata import MarketData
from polyarb.events import StateCheckpoint, decode_record, encode_record
from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame, RunStarted, TokenInfo
from polyarb.journal import Durability, JournalWriter
from polyarb.journal.scan import MAX_LINE
from polyarb.runtime.counters import Counters
from polyarb.runtime.gcpause import gc_paused
from polyarb.runtime.loop import EngineLoop, Frame
from polyarb.runtime.rebuild import rebuild, run_in_force
from polyarb.runtime.startup import HookTarget

_ROOT = Path(__file__).resolve().parents[1]
_tests = types.ModuleType("tests")
_tests.__path__ = [str(_ROOT / "tests")]  # v0's snapshot code is kept with its test
sys.modules.setdefault("tests", _tests)

from tests.core.test_checkpoint_bytes import ref_book_restore, ref_engine_bytes  # noqa: E402

T0 = 1_766_793_600_000_000_000  # 2025-12-27T00:00:00Z


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of fn over `repeats` runs after one warm-up."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_journal(root: Path, frames: int, at: float) -> int:
    """The feed through EngineLoop into `root`, one mid-day checkpoint at `at`; returns records."""
    gen = FeedGenerator(100, 10, seed=1)
    hook = HookTarget()
    writer = JournalWriter.open(root, durability=Durability(policy="none"), checkpoint_hook=hook)
    loop = EngineLoop(writer, Engine(), lambda _: None, Counters())
    hook.loop = loop
    loop.run_seq = 0  # start_run's seed: no run before this one
    loop.handle(RunStarted(ts_recv_ns=T0, run_id="bench", venue="bench", code_version="bench",
                           config_hash="-"))
    loop.handle(MarketsLoaded(ts_recv_ns=T0, source="bench", markets=tuple(gen.market_infos())))
    target = max(1, int(frames * at))  # seqs run a little ahead of frames (decisions)
    loop.schedule_checkpoints(target)
    for i, text in enumerate(gen.frames(frames)):
        loop.handle(Frame(T0 + 1_000 + i * 100_000, "market-0", text))  # 10k frames/s
        if loop.last_seq > target:  # the checkpoint is journaled: one mid-day checkpoint only
            loop.schedule_checkpoints(0)
    records = writer.next_seq - 1
    writer.close()
    return records


def measure_restart(frames: int, at: float, repeats: int) -> dict[str, Any]:
    """Part 1 of the header."""
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-restart-") as tmp:
        root = Path(tmp) / "journal"
        t0 = time.perf_counter()
        records = write_journal(root, frames, at)
        written_s = time.perf_counter() - t0
        full, fast = (rebuild(root, from_checkpoint=False),
                      rebuild(root, from_checkpoint=True))
        assert full.engine is not None and fast.engine is not None
        same = full.engine.state_hash() == fast.engine.state_hash()
        t_full = median_s(lambda: rebuild(root, from_checkpoint=False), repeats)
        t_fast = median_s(lambda: rebuild(root, from_checkpoint=True), repeats)
        at, ckpt = fast.checkpoint_seq or 0, _checkpoint_at(root, fast.checkpoint_seq)
        t_named = median_s(lambda: run_in_force(root, at, ckpt.run_seq), repeats)
        t_scan = median_s(lambda: run_in_force(root, at, None), repeats)
        size = sum(p.stat().st_size for p in root.glob("*/seg-*"))
    return {"frames": frames, "records": records, "written_s": written_s,
            "checkpoint_seq": fast.checkpoint_seq, "tail_records": fast.records,
            "full_s": t_full, "checkpoint_s": t_fast, "same_state": same,
            "journal_bytes": size, "run_seq": ckpt.run_seq, "run_named_s": t_named,
            "run_scan_s": t_scan}


def _checkpoint_at(root: Path, seq: int | None) -> StateCheckpoint:
    """The state_checkpoint record at `seq` (the one the restart started from)."""
    for path in root.glob("*/seg-*"):
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b'{"seq":%d,' % (seq or 0)):
                    ev = decode_record(line).event
                    assert isinstance(ev, StateCheckpoint)
                    return ev
    raise SystemExit(f"no state_checkpoint at seq {seq}")


def deep_engine(tokens: int, levels: int) -> Engine:
    """An engine whose `tokens` books each hold `levels` bid and `levels` ask levels."""
    engine = Engine()
    infos = []
    for i in range(tokens // 2):
        yes, no = f"{i:076d}", f"{i + tokens:076d}"
        infos.append(MarketInfo(
            condition_id=f"0x{i:064x}", tick_size_micros=1_000, min_order_size_micros=5_000_000,
            tokens=(TokenInfo(token_id=yes, outcome="Yes"), TokenInfo(token_id=no, outcome="No"))))
    engine.apply(1, MarketsLoaded(ts_recv_ns=T0, source="bench", markets=tuple(infos)))
    seq = 2
    for info in infos:
        for tok in info.tokens:
            # bids 0.300..0.3xx and asks 0.600..: deep, never crossed, no complete set under $1
            book = {"event_type": "book", "asset_id": tok.token_id, "market": info.condition_id,
                    "bids": [{"price": f"0.{300 + k:03d}", "size": f"{100 + k}.5"}
                             for k in range(levels)],
                    "asks": [{"price": f"0.{600 + levels - k:03d}", "size": f"{200 + k}.25"}
                             for k in range(levels)],
                    "timestamp": "1766793600000", "hash": "ab" * 20}
            engine.apply(seq, RawFrame(ts_recv_ns=T0 + seq, conn="market-0",
                                       frame=msgspec.Raw(orjson.dumps(book))))
            seq += 1
    return engine


def measure_checkpoint(tokens: int, levels: int, repeats: int) -> dict[str, Any]:
    """Part 2 of the header: {name: (median wall s, best CPU s)} with the GC paused, GC on."""
    engine = deep_engine(tokens, levels)
    ckpt = engine.checkpoint(10, T0)
    state = bytes(ckpt.state)
    books = list(engine.md._books.values())

    def cold_checkpoint() -> object:
        for book in books:  # as after a busy stretch: every side changed since the last one
            book._bids_desc = book._asks_asc = None
        return engine.checkpoint(10, T0)

    def restore() -> str:
        return Engine.restore(state, engine.config).state_hash()

    runs = {"checkpoint": cold_checkpoint, "encode": lambda: encode_record(11, ckpt),
            "restore": restore, "v0_bytes": lambda: ref_engine_bytes(engine),
            "bytes": engine.snapshot_bytes, "v0_md_restore": lambda: _v0_md_restore(state),
            "md_restore": lambda: MarketData.restore(checked_snapshot(state)["market_data"])}
    out: dict[str, Any] = {"tokens": tokens, "levels": levels,
                           "line_bytes": len(encode_record(11, ckpt))}
    for name, fn in runs.items():
        out[name] = timed(paused(gc_paused, fn), repeats)
        out["gc_on_" + name] = timed(fn, repeats)
    return out


def _v0_md_restore(state: bytes) -> list[Book]:
    """The market data part of a restore as v0 did it: untyped decode, int() per level."""
    return [ref_book_restore(b) for b in msgspec.json.decode(state)["market_data"]["books"]]


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median wall, best CPU) seconds of fn over `repeats` runs after one warm-up."""
    walls, cpus = wall_and_cpu(fn, repeats, warmup=True)
    return statistics.median(walls), min(cpus)


def paused(wrap: Callable[[], contextlib.AbstractContextManager[Any]],
           fn: Callable[[], object]) -> Callable[[], object]:
    """fn run inside wrap() (the shell runs checkpoints and restores with the GC paused)."""
    def run() -> object:
        with wrap():
            return fn()
    return run


def print_checkpoint(c: dict[str, Any]) -> None:
    """Part 2's lines."""
    size = c["line_bytes"]
    print(f"checkpoint: {c['tokens']:,} tokens x {c['levels']} levels per side")
    print(f"  line {size / 2**20:.1f} MiB ({size / MAX_LINE:.1%} of the 256 MiB line limit)")
    print("  (ms: median wall / best CPU with the cyclic GC paused, as polyarb runs them; "
          "then wall with it on)")
    for name, key in (("Engine.checkpoint (snapshot + JSON + sha256)", "checkpoint"),
                      ("encode_record (CRC, line; the journal codec)", "encode"),
                      ("Engine.restore + state_hash (restart)", "restore")):
        (wall, cpu), (on, _) = c[key], c["gc_on_" + key]
        print(f"  {name:<46} {wall * 1e3:8.1f} / {cpu * 1e3:7.1f}   GC on {on * 1e3:8.1f}")
    print("  vs v0's code (tests/core/test_checkpoint_bytes.py keeps it), same process, CPU:")
    for name, old, new in (("snapshot bytes (same bytes)", "v0_bytes", "bytes"),
                           ("market data restore", "v0_md_restore", "md_restore")):
        v0, now = c[old][1], c[new][1]
        print(f"  {name:<29} v0 {v0 * 1e3:7.1f}  now {now * 1e3:7.1f}  ratio {v0 / now:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=500_000)
    ap.add_argument("--at", type=float, default=0.95)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--levels", type=int, default=20)
    ap.add_argument("--no-cost", action="store_true", help="skip the checkpoint cost part")
    ap.add_argument("--no-restart", action="store_true", help="skip the restart part")
    args = ap.parse_args()
    if not args.no_restart:
        print_restart(measure_restart(args.frames, args.at, args.repeats))
    if not args.no_cost:
        print_checkpoint(measure_checkpoint(args.tokens, args.levels, args.repeats))


def print_restart(r: dict[str, Any]) -> None:
    """Part 1's lines."""
    print(f"restart: journal of {r['frames']:,} frames, {r['records']:,} records "
          f"(written in {r['written_s']:.1f} s); checkpoint at seq {r['checkpoint_seq']:,}, "
          f"tail {r['tail_records']:,} records")
    print(f"  full fold        {r['full_s']:8.3f} s")
    print(f"  from checkpoint  {r['checkpoint_s']:8.3f} s")
    print(f"  ratio full / checkpoint  {r['full_s'] / r['checkpoint_s']:.1f}x   "
          f"same state: {'yes' if r['same_state'] else 'NO'}")
    print(f"  its run_started (seq {r['run_seq']}, {r['journal_bytes'] / 2**20:.0f} MiB of "
          f"journal back): named by the checkpoint {r['run_named_s'] * 1e3:8.2f} ms, "
          f"backward scan (v1) {r['run_scan_s'] * 1e3:8.2f} ms, ratio "
          f"{r['run_scan_s'] / r['run_named_s']:.0f}x")


if __name__ == "__main__":
    main()
