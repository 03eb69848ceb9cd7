# `polyarb bench ws`: tiny runs of the simulator -> loopback -> feed -> engine loop benchmark.
# Sanity only (exit 0, every frame sent is handled and matched, positive numbers, JSON parses),
# never speed: the machine is shared and timing assertions would be noise.
from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from polyarb.bench.ws import _match, run_ws
from polyarb.cli import app

runner = CliRunner()


def _ws_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["bench", "ws", *args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_bench_ws_low_rate_json_positive_numbers() -> None:
    data = _ws_json("--rate", "500", "--seconds", "1", "--markets", "3")
    (run,) = data["runs"]
    assert run["rate"] == 500 and run["markets"] == 3 and run["connections"] == 1
    assert run["sent"] > 0 and run["handled"] == run["sent"] == run["matched"]
    assert run["frames_per_s"] > 0 and run["sim_frames_per_s"] > 0
    assert run["cpu_us_per_frame"] > 0 and run["sim_cpu_us_per_frame"] > 0
    assert 0 < run["p50_us"] <= run["p99_us"] <= run["p999_us"] <= run["max_us"]
    assert run["rejected"] == 0 and run["mismatched"] == 0


def test_bench_ws_full_speed_text_shows_figures_and_targets() -> None:
    result = runner.invoke(app, ["bench", "ws", "--rate", "0", "--seconds", "0.3",
                                 "--markets", "2"])
    assert result.exit_code == 0, result.output
    assert "full speed" in result.output and "target >= 50,000" in result.output
    assert "p99.9" in result.output and "handled" in result.output
    assert "wire->feed" in result.output and "handle" in result.output


def test_run_ws_bad_arguments_value_error() -> None:
    with pytest.raises(ValueError):
        run_ws(-1, 1, 1)
    with pytest.raises(ValueError):
        run_ws(100, 0, 1)


def test_match_cycled_pool_two_connections_in_order_per_connection() -> None:
    # a pool of 3 frames on connections 0, 1, 0, sent 7 times (cycled): k = 0..6
    conn_of = [0, 1, 0]  # k -> connection 0, 1, 0, 0, 1, 0, 0
    handled = [1, 0, 0, 1, 0, 0, 0, 1]  # connection 1 may deliver first; the last is unmatched
    assert _match(7, conn_of, handled) == [1, 0, 2, 4, 3, 5, 6, -1]
