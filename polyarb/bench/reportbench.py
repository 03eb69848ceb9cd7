# Report query speed: DuckDB aggregates over a journal of N events, on its NDJSON segments
# (unsealed) and on its sealed Parquet copies, for `polyarb bench report` and
# bench/bench_duckdb.py. The journal comes from polyarb.bench.journalgen.
#
# Rules:
# 1. The queries go through the report views users query (polyarb.reports.open_journal_db), in
#    one process, on the same files: baseline (count + sum of one column straight from the files),
#    pnl (exact HUGEINT P&L per token over trade_updated), kinds (count per kind over events),
#    one-scan (both answers in one scan); and `report pnl` itself (the shipped _common.sql
#    tables plus pnl.sql, timed once: its cost grows with the fills and frames, not only the
#    events, and a quadratic step there once hid behind the aggregate figures).
# 2. Best and median wall seconds of `repeat` runs, plus the least CPU seconds (all DuckDB
#    threads): steadier than wall time on a shared machine.
# 3. The journal is cached under `cache/journal-N` when a cache directory is given (reused, or
#    rewritten with regen), else written to a temporary directory and removed afterwards. Its
#    days are sealed once (a sealed day is kept as it is).
# 4. The targets (10M events: sealed <= 1 s, unsealed <= 5 s for pnl + kinds) are printed next to
#    the figures, never judged.
# 5. Memory (report_memory, `python -m polyarb.bench.reportbench ROOT`): every shipped report over
#    an existing journal, each in a fresh process doing what `polyarb report NAME --format csv`
#    does (open_report_db, query, render), on the segments and on the sealed copies: wall and CPU
#    seconds, peak RSS of that process (wait4) and a hash of its output, to check that a change
#    leaves every byte as it was.
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from polyarb.bench.timing import wall_and_cpu

TARGET_EVENTS = 10_000_000
TARGETS_S = {"unsealed": 5.0, "sealed": 1.0}
BYTES_PER_EVENT = 700  # NDJSON + Parquet on disk, with margin: the free-space check
CORES = os.cpu_count() or 1

PNL = (
    "SELECT token_id, count(*) AS n, sum(CAST(size_micros AS HUGEINT) * price_micros) AS pnl "
    "FROM trade_updated GROUP BY token_id"
)
KINDS = "SELECT kind, count(*) FROM events GROUP BY kind"
BOTH = (  # both answers in one scan: counts per kind, P&L per token of the trades
    "SELECT kind, CASE WHEN kind = 'trade_updated' THEN token_id END AS token, count(*) AS n, "
    "sum(CAST(size_micros AS HUGEINT) * price_micros) FILTER (WHERE kind = 'trade_updated') "
    "FROM events GROUP BY ALL"
)
QUERY_NAMES = ("baseline", "pnl", "kinds", "one_scan")


class ReportBenchError(Exception):
    """Not enough disk for the journal, or a journal that does not hold N events."""


def timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """best_s and median_s wall seconds of fn over `repeat` runs, and the least cpu_s (rule 2)."""
    times, cpus = wall_and_cpu(fn, repeat)
    return {"best_s": round(min(times), 4), "median_s": round(statistics.median(times), 4),
            "cpu_s": round(min(cpus), 4)}


def baseline_sql(root: Path, sealed: bool) -> str:
    """count(*) and sum(seq) straight from the files, no view (rule 1's baseline)."""
    from polyarb.bench.journalgen import segment_files
    from polyarb.reports.scan import file_list

    if sealed:
        return (f"SELECT count(*), sum(seq) FROM "
                f"read_parquet({file_list(sorted(root.glob('*/sealed.parquet')))})")
    return (f"SELECT count(*), sum(seq) FROM read_json({file_list(segment_files(root))}, "
            "format='newline_delimited', records=true, columns={'seq': 'BIGINT'})")


def _fetch_all(con: Any, sql: str) -> object:
    return con.execute(sql).fetchall()


def measure(root: Path, n: int, repeat: int, sealed: bool) -> dict[str, Any]:
    """Time the four queries on one source (rule 1); returns {name: timed(...)} plus sums.

    Raises:
        ReportBenchError: the files do not hold n records.
    """
    from polyarb.reports import open_journal_db

    con = open_journal_db(root, use_sealed=sealed)
    try:
        base = baseline_sql(root, sealed)
        got = con.execute(base).fetchone()
        if got is None or got[0] != n:
            raise ReportBenchError(f"{root} holds {got and got[0]} records, not {n}")
        out: dict[str, Any] = {}
        for name, sql in zip(QUERY_NAMES, (base, PNL, KINDS, BOTH), strict=True):
            out[name] = timed(functools.partial(_fetch_all, con, sql), repeat)
    finally:
        con.close()
    out["report_pnl"] = timed(functools.partial(report_pnl, root, sealed), 1)
    out["pnl_plus_kinds_s"] = round(out["pnl"]["best_s"] + out["kinds"]["best_s"], 4)
    # What it would take on otherwise idle cores (rule 2): CPU seconds spread over every core.
    out["pnl_plus_kinds_idle_s"] = round((out["pnl"]["cpu_s"] + out["kinds"]["cpu_s"]) / CORES,
                                         4)
    return out


def report_pnl(root: Path, sealed: bool) -> int:
    """`polyarb report pnl` over the whole journal, on one source (rule 1); returns its rows."""
    from polyarb.reports.run_report import Window, open_report_db, sql_text, variables_sql

    con = open_report_db([root], use_sealed=sealed)  # the command's connection, _common.sql run
    try:
        con.execute(variables_sql(Window()))
        return len(con.sql(sql_text("pnl")).fetchall())
    finally:
        con.close()


@contextlib.contextmanager
def journal_root(n: int, cache: Path | None) -> Iterator[Path]:
    """Where the journal of n events lives: the cache, or a temporary directory (rule 3)."""
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        yield cache / f"journal-{n}"
        return
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-report-") as tmp:
        yield Path(tmp) / f"journal-{n}"


def ensure_journal(root: Path, n: int, regen: bool) -> float | None:
    """Generate the journal unless a complete one is there; the seconds it took, None if reused.

    Raises:
        ReportBenchError: the disk has less free space than the journal needs.
    """
    from polyarb.bench.journalgen import generate

    if root.is_dir() and not regen:
        return None
    free = shutil.disk_usage(root.parent).free
    if free < n * BYTES_PER_EVENT:
        raise ReportBenchError(f"{n:,} events need about {n * BYTES_PER_EVENT / 1e9:.1f} GB "
                               f"under {root.parent}; {free / 1e9:.1f} GB are free")
    t0 = time.perf_counter()
    generate(root, n)
    return time.perf_counter() - t0


def run_report(n: int = TARGET_EVENTS, repeat: int = 3, cache: Path | None = None,
               regen: bool = False) -> dict[str, Any]:
    """Build or reuse a journal of n events, seal it and time the queries both ways.

    Returns:
        events, repeat, cores, generate_s (None when reused), seal_s, segments, ndjson_bytes,
        parquet_bytes, unsealed and sealed ({query: best_s/median_s/cpu_s}, pnl_plus_kinds_s,
        pnl_plus_kinds_idle_s),
        sealed_speedup, target_events, target_unsealed_s, target_sealed_s.
    """
    from polyarb.bench.journalgen import seal_all, segment_files

    with journal_root(n, cache) as root:
        generate_s = ensure_journal(root, n, regen)
        seal_s = seal_all(root)
        segments = segment_files(root)
        result: dict[str, Any] = {
            "events": n, "repeat": repeat, "cores": CORES, "journal": str(root),
            "generate_s": None if generate_s is None else round(generate_s, 2),
            "seal_s": round(seal_s, 2), "segments": len(segments),
            "ndjson_bytes": sum(p.stat().st_size for p in segments),
            "parquet_bytes": sum(p.stat().st_size for p in root.glob("*/sealed.parquet")),
            "unsealed": measure(root, n, repeat, sealed=False),
            "sealed": measure(root, n, repeat, sealed=True),
        }
    if cache is None:
        result["journal"] = None  # removed with its temporary directory
    speedup = result["unsealed"]["pnl_plus_kinds_s"] / max(result["sealed"]["pnl_plus_kinds_s"],
                                                           1e-9)
    result.update(sealed_speedup=round(speedup, 1), target_events=TARGET_EVENTS,
                  target_unsealed_s=TARGETS_S["unsealed"], target_sealed_s=TARGETS_S["sealed"])
    return result


def render(r: dict[str, Any]) -> str:
    """The text report, the targets next to the measured values (rule 4)."""
    made = ("reused" if r["generate_s"] is None else f"generated in {r['generate_s']:.1f} s")
    lines = [
        f"journal         {r['events']:,} events, {made}, {r['segments']} segments, "
        f"{r['ndjson_bytes'] / 1e9:.2f} GB NDJSON; sealed in {r['seal_s']:.1f} s, "
        f"{r['parquet_bytes'] / 1e9:.2f} GB Parquet",
    ]
    for tag in ("unsealed", "sealed"):
        res, target = r[tag], r[f"target_{tag}_s"]
        lines.append(f"{tag:<8}        pnl+kinds {res['pnl_plus_kinds_s']:.3f} s  (target <= "
                     f"{target:.0f} s at {r['target_events'] / 1e6:.0f}M events; idle cores "
                     f"~{res['pnl_plus_kinds_idle_s']:.3f} s)  one-scan "
                     f"{res['one_scan']['best_s']:.3f} s  baseline scan "
                     f"{res['baseline']['best_s']:.3f} s")
        source = "ndjson " if tag == "unsealed" else "parquet"
        lines += [f"  {source} {name:<9} best {t['best_s']:7.3f} s  median {t['median_s']:7.3f} s  "
                  f"{r['events'] / max(t['best_s'], 1e-9) / 1e6:7.1f} M rows/s  cpu "
                  f"{t['cpu_s']:6.2f} s (~{t['cpu_s'] / r['cores']:.2f} s on {r['cores']} idle "
                  f"cores)" for name in QUERY_NAMES for t in (res[name],)]
        pnl = res["report_pnl"]
        lines.append(f"  {source} report pnl (the command: _common.sql + pnl.sql) "
                     f"{pnl['best_s']:7.3f} s  cpu {pnl['cpu_s']:6.2f} s")
    lines.append(f"sealed vs unsealed (pnl+kinds): {r['sealed_speedup']:.1f}x faster")
    return "\n".join(lines)


# ---- memory (rule 5) ---------------------------------------------------------------------------

_REPORT_CHILD = """
import sys
from polyarb.reports.run_report import Window, open_report_db, query, render
root, name, sealed, order_id = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
con = open_report_db([root], use_sealed=sealed)
sys.stdout.write(render(query(con, name, Window(), order_id or None), "csv"))
"""
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux


def report_memory(root: Path, sealed: bool, order_id: str | None = None) -> list[dict[str, Any]]:
    """Every shipped report over the whole journal, each in its own process (rule 5).

    Args:
        root: an existing journal root.
        sealed: read sealed days from Parquet (false: every day from its segments).
        order_id: the order `audit` traces (without one, audit is left out).

    Returns:
        One dict per report: report, wall_s, cpu_s, peak_rss_mb, sha256 (first 16 hex digits).

    Raises:
        ReportBenchError: a report that failed (its exit status).
    """
    from polyarb.reports.run_report import REPORTS

    return [_report_child(root, name, sealed, order_id or "")
            for name in REPORTS if name != "audit" or order_id]


def _report_child(root: Path, name: str, sealed: bool, order_id: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _REPORT_CHILD, str(root), name,
                                 "1" if sealed else "0", order_id], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS and CPU
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if proc.returncode != 0:
            raise ReportBenchError(f"report {name} over {root} exited {proc.returncode}")
        out.seek(0)
        for block in iter(lambda: out.read(1 << 20), b""):
            digest.update(block)
    return {"report": name, "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": usage.ru_maxrss * _RSS_UNIT // (1 << 20),
            "sha256": digest.hexdigest()[:16]}


def render_memory(rows: Sequence[dict[str, Any]], source: str) -> str:
    """report_memory's rows as a table, one line per report."""
    lines = [f"{'source':<8} {'report':<14} {'wall_s':>8} {'cpu_s':>8} {'peak_rss_mb':>11}  sha256"]
    lines += [f"{source:<8} {r['report']:<14} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
              f"{r['peak_rss_mb']:>11}  {r['sha256']}" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m polyarb.bench.reportbench ROOT [--order-id ID] [--source ndjson|parquet]`."""
    parser = argparse.ArgumentParser(description="Time, peak RSS and output hash of every report")
    parser.add_argument("root", type=Path)
    parser.add_argument("--order-id", default=None, help="the order audit traces")
    parser.add_argument("--source", choices=("ndjson", "parquet", "both"), default="both")
    args = parser.parse_args(argv)
    for source in ("ndjson", "parquet"):
        if args.source in (source, "both"):
            rows = report_memory(args.root, source == "parquet", args.order_id)
            print(render_memory(rows, source), flush=True)


if __name__ == "__main__":
    main()
