# Crash torture of the journal: the crash harness of tests/journal/test_crash.py at any size.
#
# Run: /tmp/venv/bin/python bench/bench_torture.py [--kills 1000] [--seed N] [--dir PATH]
# SIGKILLs a journal writer --kills times (random moments and targeted steps of segment roll, day
# roll, manifest write, sealing and recovery), simulates a power loss after ~30% of the kills,
# and checks after every kill that no durable record is lost, no torn record survives, seqs are
# never reused, verify is clean after recovery and a Parquet copy is complete or ignored. Any
# failure stops the run with the seed, journal and run that reproduce it.
# Prints what the kills hit (per phase) and what was checked. CI runs the same harness with 200
# kills (tests/journal/test_crash.py); POLYARB_CRASH_KILLS=1000 pytest does the same as this.
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

HARNESS = Path(__file__).resolve().parents[1] / "tests" / "journal" / "test_crash.py"
PHASES = [
    ("append", "appending, group commit"),
    ("open", "crash recovery on open"),
    ("seg_roll", "segment roll"),
    ("day_roll", "day roll at UTC midnight"),
    ("day_first", "first day of a journal"),
    ("day_reopen", "reopen of a closed day"),
    ("seal", "sealing to Parquet"),
    ("close", "clean close"),
    ("start", "before the open"),
]
TORN = "repair: truncated a torn tail"
ZERO_FILLED = "repair: truncated a zero-filled tail"


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("test_crash", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_crash"] = module
    spec.loader.exec_module(module)
    return module


def report(stats: Counter[str], seed: int, seconds: float) -> None:
    print(f"crash torture of the journal: seed {seed}, {stats['journals']} journals, "
          f"{stats['days']} UTC days")  # fmt: skip
    print(f"{'phase at the kill':<40}{'kills':>8}")
    for key, label in PHASES:
        print(f"{key:<12}{label:<28}{stats[f'phase {key}']:>8}")
        for path, n in sorted(stats.items()):
            if path.startswith(f"path {key}/"):
                print(f"{'  inside ' + path[5:]:<40}{n:>8}")
    print(f"{'total kills':<40}{stats['kills']:>8}")
    print(f"{'  inside a manifest write (any phase)':<40}{stats['phase (any) manifest write']:>8}")
    print(f"  at a chosen step (child kills itself)  {stats['kills targeted']:>8}")
    print(f"  at random inside DuckDB's COPY         {stats['kills aimed']:>8}")
    print(f"  at a random moment                     {stats['kills random']:>8}")
    steps = {k: v for k, v in sorted(stats.items()) if k.startswith("manifest write killed ")}
    for key, value in steps.items():
        print(f"  {key:<38}{value:>8}")
    rows = [
        ("records checked (all rounds)", stats["records checked"]),
        ("unique records checked", stats["unique records checked"]),
        ("durable records lost", 0),  # any loss stops the run with an AssertionError
        ("torn tails added by the parent", stats["torn tails added"]),
        ("torn tails cut by the parent's reopen", stats[TORN] + stats[ZERO_FILLED]),
        ("torn tails cut by a worker's recovery", stats["torn tails cut by a worker's recovery"]),
        ("power-loss rounds", stats["power-loss rounds"]),
        ("  unsynced tails cut", stats["power-loss unsynced tails cut"]),
        ("  bytes dropped", stats["power-loss bytes dropped"]),
        ("seal copies equal to segments", stats["seal copies checked equal to segments"]),
        ("seal copies ignored (no record)", stats["seal copies ignored (no seal record)"]),
        ("days read from Parquet by views", stats["days read from Parquet by the views"]),
        ("views over a crashed journal checked", stats["views over a crashed journal checked"]),
        ("rounds the worker exited", stats["rounds without a kill (worker exited)"]),
    ]
    for label, value in rows:
        print(f"{label:<38}{value:>10,}")
    other = {k: v for k, v in sorted(stats.items()) if k.startswith(("repair: ", "leftover "))}
    for key, value in other.items():
        print(f"  {key:<36}{value:>10,}")
    print(f"{'wall time':<38}{seconds:>10.1f} s  ({stats['kills'] / seconds:.1f} kills/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20251227)
    parser.add_argument("--dir", type=Path, default=None, help="keep the journals here")
    args = parser.parse_args()
    harness = load_harness()
    with tempfile.TemporaryDirectory(prefix="polyarb-torture-") as tmp:
        base = args.dir if args.dir is not None else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        stats = harness.torture(base, args.kills, args.seed)
        report(stats, args.seed, time.perf_counter() - start)


if __name__ == "__main__":
    main()
