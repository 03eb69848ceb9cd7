# `polyarb bench replay|sign|report|memory|startup` with the tiniest arguments: each exits 0,
# prints positive numbers next to its target, and --json parses as one object.
#
# Rules: never a timing assertion (machines are noisy); only that the commands run and the
# figures are sane (positive, counts exact). Journals and caches live under tmp_path.
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from polyarb.bench.journalgen import generate, parse_size
from polyarb.bench.replaybench import make_journal
from polyarb.cli import app
from polyarb.journal import verify_journal

runner = CliRunner()
NUM = r"([\d,]+(?:\.\d+)?)"


def _bench(*args: str) -> str:
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _json(*args: str) -> dict[str, Any]:
    data = json.loads(_bench(*args, "--json"))
    assert isinstance(data, dict)
    return data


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match is not None, f"no {pattern!r} in:\n{text}"
    return float(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("replay") / "journal"
    make_journal(root, frames=300, markets=5, neg_risk_events=1)
    return root


def test_bench_replay_generated_prints_frames_per_s_next_to_target() -> None:
    out = _bench("replay", "--frames", "300", "--markets", "5", "--repeats", "1")
    assert _number(rf"replay\s+{NUM} frames/s", out) > 0
    assert "target >= 150,000" in out
    assert _number(rf"replay\s+{NUM} records/s", out) > 0


def test_bench_replay_journal_dir_json_counts_every_frame(journal: Path) -> None:
    data = _json("replay", str(journal), "--repeats", "1")
    assert data["ok"] is True and data["generated"] is False
    assert data["frames"] == 300 and data["records"] > data["frames"]
    assert data["frames_per_s"] > 0 and data["records_per_s"] > 0
    assert data["read_records_per_s"] > 0


def test_bench_replay_one_day_dir_measures_that_day(journal: Path) -> None:
    day = next(p for p in journal.iterdir() if p.is_dir())
    assert _json("replay", str(day), "--repeats", "1")["frames"] == 300


def test_bench_replay_missing_dir_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "replay", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_bench_sign_prints_us_per_order_and_json() -> None:
    out = _bench("sign", "--orders", "20", "--repeats", "1")
    assert _number(rf"ours\s+build\+sign\+body\s*:\s*{NUM}", out) > 0
    assert "target <= 150" in out
    data = _json("sign", "--orders", "20", "--repeats", "1")
    assert data["us_per_order"] > 0 and data["sign_only_us"] > 0
    if data["official_us_per_order"] is not None:  # only when py-clob-client-v2 is installed
        assert data["ratio_official_vs_ours"] > 0


def test_bench_report_small_journal_times_both_sources_and_reuses_cache(tmp_path: Path) -> None:
    args = ("report", "--events", "300", "--repeat", "1", "--cache", str(tmp_path))
    first = _json(*args)
    assert first["events"] == 300 and first["generate_s"] is not None
    assert first["ndjson_bytes"] > 0 and first["parquet_bytes"] > 0
    for tag in ("unsealed", "sealed"):
        assert all(first[tag][q]["best_s"] > 0 for q in ("baseline", "pnl", "kinds", "one_scan"))
    assert _json(*args)["generate_s"] is None  # the cached journal is reused
    out = _bench(*args)
    assert _number(rf"ndjson\s+pnl\s+best\s+{NUM} s", out) > 0
    assert "target <= 5 s at 10M events" in out and "target <= 1 s" in out


def test_bench_report_temporary_journal_is_removed() -> None:
    data = _json("report", "--events", "200", "--repeat", "1")
    assert data["journal"] is None and data["sealed"]["pnl_plus_kinds_s"] > 0


@pytest.mark.parametrize("events", ["abc", "0", "-5K", "1"])
def test_bench_report_bad_events_exits_2(events: str) -> None:
    assert runner.invoke(app, ["bench", "report", "--events", events]).exit_code == 2


def test_bench_memory_small_engine_holds_every_level() -> None:
    data = _json("memory", "--tokens", "100", "--levels", "5", "--no-profile")
    assert data["live_books"] == 100 and data["levels_held"] == 100 * 5 * 2
    assert data["baseline_mb"] > 0 and data["loaded_mb"] > 0 and data["profile"] is None


def test_bench_memory_profile_lists_allocation_sites() -> None:
    out = _bench("memory", "--tokens", "100", "--levels", "3", "--profile")
    assert _number(rf"engine RSS\s+{NUM} MB", out) > 0
    assert "target <= 500 MB" in out and "top allocation sites" in out
    assert "polyarb/core/" in out


def test_bench_memory_too_many_levels_exits_2() -> None:
    assert runner.invoke(app, ["bench", "memory", "--levels", "1000"]).exit_code == 2


def test_bench_startup_one_run_prints_median_and_json() -> None:
    out = _bench("startup", "--runs", "1")
    assert _number(rf"polyarb --help\s+median\s+{NUM} s", out) > 0
    assert "target <= 0.5 s" in out
    data = _json("startup", "--runs", "1")
    assert data["median_s"] > 0 and data["min_s"] <= data["max_s"]
    assert "polyarb.cli" in [t["module"] for t in data["top_imports"]]


@given(st.integers(min_value=1, max_value=10**9))
def test_parse_size_plain_and_suffixed_counts_roundtrip(n: int) -> None:
    assert parse_size(str(n)) == n
    assert parse_size(f"{n}k") == n * 1_000
    assert parse_size(f"{n}M") == n * 1_000_000


def test_parse_size_decimal_suffix_scales() -> None:
    assert parse_size("2.5M") == 2_500_000 and parse_size("10M") == 10_000_000


def test_journalgen_generate_small_journal_verifies_clean(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    generate(root, 500)
    report = verify_journal(root)
    assert report.ok, report.problems
    assert report.records == 500
