# Chaos run: `polyarb run --venue live` against a simulator with every fault class on, SIGKILLed
# and restarted, then the journal's seven invariants checked (polyarb.chaos).
#
# Run: /tmp/venv/bin/python bench/chaos.py --minutes 10 --kills 3 --seed 1 --out DIR
# Prints the faults injected per class (from the simulator's /sim/stats), the processes, kills,
# restarts survived, events journaled, each check's result and the replay divergences. Exits 1
# when a check fails, divergences are not 0 or the last run did not exit 0. DIR keeps the
# journal, polyarb.toml, the simulator's and every run's stderr, and the table (chaos.txt).
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from polyarb.chaos.driver import DEFAULT_FAULTS, ChaosConfig
from polyarb.chaos.report import render, run_chaos


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of polyarb")
    parser.add_argument("--seed", type=int, default=1, help="simulator, faults and schedule")
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: a new temporary one); must be new")
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help="the simulator's fault spec")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chaos run and print its table; the exit code is the verdict."""
    args = _args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="polyarb-chaos-"))
    if (out / "journal").exists():
        print(f"error: {out} already holds a journal; give a new --out", file=sys.stderr)
        return 2
    cfg = ChaosConfig(out=out, duration_s=args.minutes * 60, kills=args.kills, seed=args.seed,
                      faults=args.faults)
    report = run_chaos(cfg)
    table = render(report)
    (out / "chaos.txt").write_text(table)
    print(table, end="")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
