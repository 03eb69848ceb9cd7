# DuckDB over the journal: aggregate speed on NDJSON segments vs sealed Parquet.
#
#   /tmp/venv/bin/python bench/bench_duckdb.py [--sizes 1M,10M] [--repeat 3] [--regen] [--out DIR]
#
# The same measurement as `polyarb bench report` (polyarb/bench/reportbench.py, journals from
# polyarb/bench/journalgen.py), for several sizes, with the journals cached under bench/out/
# (gitignored) between runs. Generates (once) valid journals of N events: mostly raw market
# frames of 300-500 bytes, plus trades, order updates and decisions, spread over UTC days of 2.5M
# records, 64 MiB segments, manifests with sha256s and the day hash chain. Then it seals every
# day and times, in one process, on the same files:
#   baseline   SELECT count(*), sum(seq) straight from read_json / read_parquet (one column)
#   pnl        SUM(size * price) per token over the trade_updated view (HUGEINT, exact)
#   kinds      count(*) per kind over the events view
#   one_scan   both answers in one scan
# Targets on the 2-core reference machine: 10M sealed <= 1 s, 10M unsealed <= 5 s (pnl+kinds).
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

from polyarb.bench.journalgen import parse_size
from polyarb.bench.reportbench import render, run_report

OUT = Path(__file__).parent / "out"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1M,10M", help="comma-separated, e.g. 1M,10M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--regen", action="store_true", help="rewrite the cached journals")
    parser.add_argument("--out", type=Path, default=OUT, help="journal cache (default bench/out)")
    args = parser.parse_args(argv)
    print(f"duckdb {duckdb.__version__}, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    for n in (parse_size(s) for s in args.sizes.split(",")):
        print(f"{n:,} events (load average before: {os.getloadavg()[0]:.1f})")
        print(render(run_report(n, args.repeat, args.out, args.regen)))
        print(f"  load average after: {os.getloadavg()[0]:.1f} (above ~0.5: the cpus were shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
