# `polyarb bench pipeline`: the smoke run through the real EngineLoop path, bad input counted,
# missing input a usage error. Numbers are checked for sanity only, never for speed.
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from polyarb.bench.feedgen import FeedGenerator
from polyarb.bench.pipeline import infer_markets, run_pipeline
from polyarb.cli import app

runner = CliRunner()


def _feed(tmp_path: Path, frames: int = 3_000) -> tuple[Path, Path]:
    out, markets = tmp_path / "feed.ndjson", tmp_path / "markets.json"
    result = runner.invoke(app, ["bench", "feed", "--out", str(out), "--markets", "8",
                                 "--neg-risk-events", "2", "--frames", str(frames), "--seed",
                                 "3", "--window-rate", "0.01", "--markets-out", str(markets)])
    assert result.exit_code == 0, result.output
    return out, markets


def _pipeline(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", "pipeline", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_bench_pipeline_generated_feed_sane_json(tmp_path: Path) -> None:
    feed, _ = _feed(tmp_path)
    data = _pipeline("--input", str(feed))
    lines = len(feed.read_text().splitlines())
    assert data["frames"] == lines == 3_000
    assert data["rejected"] == 0
    assert isinstance(data["opportunities"], int) and data["opportunities"] >= 1
    for key in ("frames_per_s", "us_per_frame", "orjson_us_per_frame", "ratio_vs_orjson",
                "p50_us", "p99_us", "p999_us", "seconds"):
        assert isinstance(data[key], (int, float)) and data[key] > 0, key
    assert data["p50_us"] <= data["p99_us"] <= data["p999_us"]


def test_bench_pipeline_markets_file_loads_neg_risk(tmp_path: Path) -> None:
    feed, markets = _feed(tmp_path, 1_500)
    data = _pipeline("--input", str(feed), "--markets", str(markets))
    assert data["markets"] == len(json.loads(markets.read_text()))
    assert data["rejected"] == 0 and data["frames"] == 1_500


def test_bench_pipeline_malformed_line_counted_rejected(tmp_path: Path) -> None:
    feed, _ = _feed(tmp_path, 500)
    lines = feed.read_text().splitlines()
    lines.insert(300, '{"event_type": "price_change", broken')
    lines.insert(100, "not json at all")
    feed.write_text("\n".join(lines) + "\n")
    data = _pipeline("--input", str(feed))
    assert data["frames"] == 502
    assert data["rejected"] == 2


def test_bench_pipeline_missing_input_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "pipeline", "--input", str(tmp_path / "none.ndjson")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_bench_pipeline_bad_markets_file_exit_2(tmp_path: Path) -> None:
    feed, _ = _feed(tmp_path, 100)
    bad = tmp_path / "m.json"
    bad.write_text('{"markets": 3}')
    result = runner.invoke(app, ["bench", "pipeline", "--input", str(feed), "--markets", str(bad)])
    assert result.exit_code == 2


def test_infer_markets_pairs_by_condition_first_seen_yes() -> None:
    gen = FeedGenerator(3, 0, seed=9)
    frames = list(gen.frames(200))
    inferred = infer_markets(frames)
    assert inferred == tuple(gen.market_infos())


def test_run_pipeline_empty_feed_zero_frames() -> None:
    data = run_pipeline([], ())
    assert data["frames"] == 0 and data["rejected"] == 0
