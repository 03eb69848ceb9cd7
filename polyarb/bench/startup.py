# Cold start of the command line: wall time of `python -m polyarb --help` in fresh interpreters,
# next to a bare `python -c pass` measured in the same run, for `polyarb bench startup`.
#
# Rules:
# 1. Each run is a new subprocess (sys.executable, so the same interpreter and virtualenv), its
#    output discarded; "cold" means a fresh interpreter, not an empty OS file cache (dropping
#    that needs root and measures the disk, not polyarb).
# 2. The child environment has no POLYMARKET_* variables (no credential reaches a benchmark).
# 3. Median, min and max of `runs` runs after one unmeasured warm-up run (it writes any missing
#    __pycache__, which a user's second start would find too). A run that fails is an error.
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

TARGET_S = 0.5
HELP_CMD = ("-m", "polyarb", "--help")
BARE_CMD = ("-c", "pass")


class StartupError(Exception):
    """The measured command exited non-zero (its stderr is in the message)."""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: tuple[str, ...], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `python <args>` in `runs` fresh subprocesses (rule 3).

    CPU seconds (user + system of the child) are steadier than wall time on a shared machine.

    Raises:
        StartupError: a run exited non-zero.
    """
    cmd, env, walls, cpus = [sys.executable, *args], _env(), [], []
    for i in range(runs + 1):
        t0, c0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              check=False)
        elapsed, cpu = time.perf_counter() - t0, _children_cpu() - c0
        if proc.returncode != 0:
            raise StartupError(f"{' '.join(cmd)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace')[-2000:]}")
        if i:
            walls.append(elapsed)
            cpus.append(cpu)
    return walls, cpus


def import_profile(top: int = 8) -> list[dict[str, Any]]:
    """The slowest imports of one `python -X importtime -m polyarb --help` run.

    Only imports at the top two levels of nesting (what polyarb and its direct imports pull
    in), by cumulative time, so the list says which import to make lazy.
    """
    proc = subprocess.run([sys.executable, "-X", "importtime", *HELP_CMD], env=_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    rows: list[tuple[float, str, int]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header, or a line the module printed
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip()) - 1) // 2  # "| name" is the top level
        if depth <= 1:
            rows.append((-int(parts[1]) / 1000, name.strip(), depth))
    rows.sort()
    return [{"module": module, "depth": depth, "cumulative_ms": round(-ms, 1)}
            for ms, module, depth in rows[:top]]


def run_startup(runs: int = 7) -> dict[str, Any]:
    """Time `polyarb --help` cold and the bare interpreter, `runs` times each.

    Returns:
        runs, median_s, min_s, max_s and cpu_median_s (polyarb --help), python_median_s (bare
        interpreter), polyarb_only_s (median difference: what polyarb's imports and typer
        add), target_s, top_imports (import_profile).
    """
    runs = max(runs, 1)
    help_times, help_cpus = time_command(HELP_CMD, runs)
    bare = statistics.median(time_command(BARE_CMD, runs)[0])
    median = statistics.median(help_times)
    return {
        "runs": runs, "median_s": round(median, 4), "min_s": round(min(help_times), 4),
        "max_s": round(max(help_times), 4), "cpu_median_s": round(statistics.median(help_cpus), 4),
        "python_median_s": round(bare, 4), "polyarb_only_s": round(median - bare, 4),
        "target_s": TARGET_S, "top_imports": import_profile(),
    }


def render(r: dict[str, Any]) -> str:
    """The text report, the target next to the measured value."""
    return "\n".join([
        f"polyarb --help   median {r['median_s']:.3f} s  (target <= {r['target_s']:.1f} s)  "
        f"min {r['min_s']:.3f} s  max {r['max_s']:.3f} s  ({r['runs']} cold runs)",
        f"polyarb --help   median {r['cpu_median_s']:.3f} CPU-s  (steadier on a shared machine)",
        f"python -c pass   median {r['python_median_s']:.3f} s  "
        f"(polyarb's own share: {r['polyarb_only_s']:.3f} s)",
        "slowest imports (one -X importtime run, cumulative): " + ", ".join(
            f"{t['module']} {t['cumulative_ms']:.0f} ms" for t in r["top_imports"]),
    ])
