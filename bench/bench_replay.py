# Benchmark: `polyarb replay` (and `polyarb report pnl`) on a journal of many market frames.
#
# Run: /tmp/venv/bin/python bench/bench_replay.py [--frames N] [--repeats R]
#                                                 [--feed | --journal DIR] [--no-report]
# The journal: by default one written the runtime's way by the tests' JournalRun (every frame a
# one-level book journaled, folded, its decisions journaled; a neg-risk basket opening every 500
# frames, answered with fills); --feed generates polyarb.bench.feedgen's realistic feed (deep
# books, price_change arrays, tick sizes, ~0.5% windows) through `polyarb run`'s pipeline
# (what `polyarb bench replay` measures); --journal measures an existing journal as is.
# Prints, best of R runs after one warm-up, wall and CPU seconds (CPU is steadier on a busy
# machine), all in this process:
#   read ref   the per-line reference read: iter_lines + codec.decode_record on every line
#   read       iter_records (block reads, fast CRC check, whole-line decode)
#   engine     Engine.apply over inputs decoded beforehand: the fold alone, replay's ceiling
#   fold       iter_records + Engine.apply of every input (no comparison)
#   replay     polyarb.replay.replay_journal (fold + decision comparison + planning)
#   and the ratios replay / engine (what reading and comparing add to the fold) and read ref /
#   read; report: open_report_db (views + shared r_* tables) and the pnl query, seconds.
# Numbers are machine-dependent; the ratios are the point.
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path

from polyarb.bench.timing import wall_and_cpu
from polyarb.core.engine import Engine
from polyarb.events import decode_record
from polyarb.journal import iter_lines, iter_records, journal_stats
from polyarb.replay import replay_journal
from polyarb.reports.run_report import Window, open_report_db, query

_ROOT = Path(__file__).resolve().parents[1]
_tests = types.ModuleType("tests")
_tests.__path__ = [str(_ROOT / "tests")]  # the journal builder lives with the tests
sys.modules.setdefault("tests", _tests)

from tests.core.engine_helpers import USD, group_markets, market  # noqa: E402
from tests.replay.journal_builder import JournalRun, batches  # noqa: E402


def build(root: Path, frames: int, seed: int = 7) -> None:
    """Write the default benchmark journal (JournalRun: the runtime's order of appends)."""
    rng = random.Random(seed)
    run = JournalRun(root)
    run.run_started()
    binaries = [market(f"0xb{i}", f"Y{i}", f"N{i}") for i in range(20)]
    run.load(*binaries, *group_markets("0xg", 3, "g"))
    fills = 0
    for i in range(frames):
        if i % 500 == 499:  # a basket window, answered in full
            for k in (1, 2):
                run.book(f"gY{k}", [(250_000, 100 * USD)], [(300_000, 40 * USD)])
            for batch in batches(run.book("gY3", [(250_000, 100 * USD)],
                                          [(300_000, 40 * USD)])):
                for order in batch.orders:
                    fills += 1
                    run.accept(order)
                    run.fill(order, tid=f"t{fills}")
            for k in (1, 2, 3):  # the window closes
                run.book(f"gY{k}", [(250_000, 100 * USD)], [(400_000, 40 * USD)])
            continue
        n = rng.randrange(20)
        ask = rng.randint(52, 70) * 10_000
        run.book(f"Y{n}", [(ask - 20_000, rng.randint(5, 90) * USD)],
                 [(ask, rng.randint(5, 90) * USD)])
    run.close()


def build_feed(root: Path, frames: int) -> None:
    """Write a journal of the generated realistic feed through the run pipeline (--feed)."""
    from polyarb.bench.replaybench import make_journal

    make_journal(root, frames)


def best(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(best wall s, best CPU s) of `repeats` runs after one warm-up."""
    walls, cpus = wall_and_cpu(fn, repeats, warmup=True)
    return min(walls), min(cpus)


def measure(root: Path, repeats: int) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each stage on the journal at root."""
    inputs = [(r.seq, r.event) for r in iter_records(root) if r.event.ROLE == "input"]

    def read_ref() -> None:
        for _path, _seq, line in iter_lines(root, check=False):
            decode_record(line)

    def read() -> None:
        for _ in iter_records(root):
            pass

    def engine() -> None:
        e = Engine()
        for seq, ev in inputs:
            e.apply(seq, ev)

    def fold() -> None:
        e = Engine()
        for r in iter_records(root):
            e.apply(r.seq, r.event)

    def replay() -> None:
        result = replay_journal(root)
        assert result.ok, result.divergence

    stages = {"read ref": read_ref, "read": read, "engine": engine, "fold": fold,
              "replay": replay}
    return {name: best(fn, repeats) for name, fn in stages.items()}


def report_seconds(root: Path, repeats: int) -> float:
    def report() -> None:
        con = open_report_db([root])
        query(con, "pnl", Window())
        con.close()

    return best(report, repeats)[0]


def render(times: dict[str, tuple[float, float]], records: int, frames: int) -> list[str]:
    lines = []
    for name, (wall, cpu) in times.items():
        per_frame = f"  {frames / cpu:>10,.0f} frames/s" if name in ("engine", "replay") else ""
        lines.append(f"{name:<9}{records / cpu:>10,.0f} records/s (cpu){per_frame}  "
                     f"cpu {cpu:.3f} s  wall {wall:.3f} s ({records / wall:,.0f} records/s)")
    ratio = times["replay"][1] / times["engine"][1]
    speedup = times["read ref"][1] / times["read"][1]
    lines.append(f"replay / engine {ratio:.2f}x cpu (reading + comparing on top of the fold); "
                 f"read ref / read {speedup:.2f}x")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--feed", action="store_true",
                        help="journal the generated realistic feed (polyarb bench replay's)")
    source.add_argument("--journal", type=Path, help="measure this journal root as is")
    parser.add_argument("--no-report", action="store_true", help="skip the pnl report timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.journal or Path(tmp) / "journal"
        if args.journal is None:
            (build_feed if args.feed else build)(root, args.frames)
        stats = journal_stats(root)
        records, frames = stats.records, stats.records_per_kind.get("raw_frame", 0)
        times = measure(root, args.repeats)
        t_report = None if args.no_report else report_seconds(root, args.repeats)
    kind = "feed" if args.feed else ("journal " + str(args.journal) if args.journal else "builder")
    print(f"journal: {records:,} records, {frames:,} raw frames ({kind}); best of "
          f"{args.repeats} after a warm-up")
    print("\n".join(render(times, records, frames)))
    if t_report is not None:
        print(f"report   pnl incl. open {t_report:.3f} s")


if __name__ == "__main__":
    main()
