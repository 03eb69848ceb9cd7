# Smoke runs of every bench/ script with its smallest arguments, so CI notices when one breaks.
#
# Rules: each script runs in a subprocess (sys.executable, cwd = the repo root, no POLYMARKET_*
# variables in its environment) and may only write under pytest's tmp_path (TMPDIR points there;
# scripts with a cache directory get it as an option). The only assertions are: exit code 0,
# some output, and one printed number per script that must be positive. Never a timing
# assertion: the timeout only catches a hang, and speed is what the scripts themselves report.
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120  # a hang guard, far above the few seconds each smoke run takes
NUM = r"([\d,]+(?:\.\d+)?)"

# (script, tiny arguments, a regex whose first group is a number the run must print > 0)
CASES: list[tuple[str, list[str], str]] = [
    ("bench_core_detect", ["--calls", "200", "--repeats", "1"], rf"no opportunity\s+100\s+{NUM}"),
    ("bench_core_parse", ["--frames", "200", "--repeats", "1"], rf"price_change\s+100\s+{NUM}"),
    (
        "bench_reducer",
        ["--frames", "200", "--repeats", "1"],
        rf"price_change\s+100\s+[\d.]+\s+{NUM}",
    ),
    (
        "bench_hotpath",
        ["--frames", "200", "--repeats", "1", "--tokens", "100", "--streams", "price_change"],
        rf"price_change\s+100\s+{NUM}",
    ),
    ("bench_sign", ["--orders", "20", "--repeats", "1"], rf"ours\s+build\+sign\+body\s*:\s*{NUM}"),
    ("bench_sim_matching", ["--orders", "200", "--repeats", "1"], rf"add\s+{NUM}"),
    ("bench_sim_scenario", ["--seconds", "1", "--repeats", "1"], rf"default\s+{NUM}"),
    (
        "bench_sim_feed",
        ["--seconds", "0.2", "--rate", "2000", "--markets", "2"],
        rf"baseline\s+{NUM} frames/s",
    ),
    ("bench_journal", ["--events", "200"], rf"append\(small event\)\s+{NUM} /s"),
    ("bench_feed", ["--frames", "200", "--repeat", "1"], rf"baseline\s+{NUM} frames/s"),
    ("bench_torture", ["--kills", "8"], rf"total kills\s+{NUM}"),
    ("bench_replay", ["--frames", "200", "--repeats", "1"], rf"replay\s+{NUM} records/s"),
    (
        "bench_restart",
        ["--frames", "2000", "--repeats", "1", "--tokens", "20", "--levels", "2"],
        rf"ratio full / checkpoint\s+{NUM}x",
    ),
    (
        "bench_duckdb",
        ["--sizes", "1K", "--repeat", "1"],
        rf"ndjson\s+baseline\s+best\s+[\d.]+ s\s+median\s+[\d.]+ s\s+{NUM} M rows/s",
    ),
    ("bench_nautilus", ["--frames", "300", "--markets", "3"], rf"polyarb\s+{NUM} µs/frame"),
]


def _env(tmp_path: Path) -> dict[str, str]:
    """The parent's environment minus credentials, with temp files under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    env["TMPDIR"] = str(tmp_path)
    return env


def _extra_args(script: str, tmp_path: Path) -> list[str]:
    """Point scripts that write outside TMPDIR by default at tmp_path."""
    if script == "bench_duckdb":
        return ["--out", str(tmp_path / "duckdb")]
    if script == "bench_journal":
        return ["--dir", str(tmp_path)]
    return []


@pytest.mark.parametrize(("script", "args", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_bench_script_smoke_runs_and_prints_positive_number(
    script: str, args: list[str], pattern: str, tmp_path: Path
) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / f"{script}.py"), *args,
           *_extra_args(script, tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)  # fmt: skip
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{script} printed nothing; stderr:\n{proc.stderr[-3000:]}"
    match = re.search(pattern, proc.stdout)
    assert match is not None, f"{script}: no line matching {pattern!r} in:\n{proc.stdout}"
    assert float(match.group(1).replace(",", "")) > 0, match.group(0)


def test_bench_smoke_covers_every_bench_script() -> None:
    scripts = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    assert scripts == sorted(c[0] for c in CASES)
