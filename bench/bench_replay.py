# Benchmark: `polyarb replay` and `polyarb report pnl` on a journal of many market frames.
#
# Run: /tmp/venv/bin/python bench/bench_replay.py [--frames N] [--repeats R]
# Prints, for one journal written the runtime's way (tests' JournalRun: every frame journaled,
# folded, its decisions journaled; a neg-risk basket opening now and then, answered with fills):
#   read       iter_records alone (decode + CRC), records/s
#   fold       iter_records + Engine.apply of every record (no comparison), records/s
#   replay     polyarb.replay.replay_journal (fold + canonical comparison + planning), records/s
#   and replay / fold, the comparison's overhead, measured in the same process;
#   report     open_report_db (views + the shared r_* tables) and the pnl query, seconds.
# Median of R repetitions after one warm-up. Numbers are machine-dependent; the ratios are the
# point.
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import types
from pathlib import Path

from polyarb.bench.replaybench import median_seconds
from polyarb.core.engine import Engine
from polyarb.journal import iter_records
from polyarb.replay import replay_journal
from polyarb.reports.run_report import Window, open_report_db, query

_ROOT = Path(__file__).resolve().parents[1]
_tests = types.ModuleType("tests")
_tests.__path__ = [str(_ROOT / "tests")]  # the journal builder lives with the tests
sys.modules.setdefault("tests", _tests)

from tests.core.engine_helpers import USD, group_markets, market  # noqa: E402
from tests.replay.journal_builder import JournalRun, batches  # noqa: E402


def build(root: Path, frames: int, seed: int = 7) -> int:
    """Write the benchmark journal; returns its record count."""
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
    return sum(1 for _ in iter_records(root))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        records = build(root, args.frames)

        def read() -> None:
            for _ in iter_records(root):
                pass

        def fold() -> None:
            engine = Engine()
            for r in iter_records(root):
                engine.apply(r.seq, r.event)

        def replay() -> None:
            assert replay_journal(root).ok

        def report() -> None:
            con = open_report_db([root])
            query(con, "pnl", Window())
            con.close()

        t_read, t_fold, t_replay, t_report = (median_seconds(fn, args.repeats)
                                              for fn in (read, fold, replay, report))
    print(f"journal: {records:,} records ({args.frames:,} frame actions)")
    print(f"read     {records / t_read:>12,.0f} records/s  ({t_read:.3f} s)")
    print(f"fold     {records / t_fold:>12,.0f} records/s  ({t_fold:.3f} s)")
    print(f"replay   {records / t_replay:>12,.0f} records/s  ({t_replay:.3f} s)  "
          f"replay/fold {t_replay / t_fold:.2f}x")
    print(f"report   pnl incl. open {t_report:.3f} s")


if __name__ == "__main__":
    main()
