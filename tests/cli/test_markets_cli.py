# `polyarb markets`: JSON and table output from the simulator's REST API on loopback (CLOB-only
# discovery), --limit counting whole units, and the error paths (bad number: exit 2; a filter the
# CLOB cannot apply or an unreachable source: exit 1 with one clear line).
from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.sim.server import ServerThread, SimServer
from tests.sim.server.helpers import config, scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    thread = ServerThread(SimServer(config(), scenario(markets=2, neg_risk_events=1)))
    server = thread.start()
    try:
        yield server.url
    finally:
        thread.stop()


def test_markets_json_lists_units_with_whole_neg_risk_groups(sim_url: str) -> None:
    result = runner.invoke(app, ["markets", "--clob-url", sim_url, "--json"])

    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    kinds = [u["kind"] for u in out["units"]]
    assert out["source"] == "clob" and kinds == ["binary", "binary", "neg_risk"]
    group = out["units"][2]["markets"]
    assert len(group) == 2 and {m["neg_risk_market_id"] for m in group} == {out["units"][2]["key"]}
    assert all(m["tick_size_micros"] > 0 and len(m["tokens"]) == 2 for u in out["units"]
               for m in u["markets"])
    assert [i["skipped"] for i in out["issues"]] == [False]  # augmentation unknown (CLOB only)


def test_markets_limit_counts_units(sim_url: str) -> None:
    result = runner.invoke(app, ["markets", "--clob-url", sim_url, "--json", "--limit", "1"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)["units"]) == 1


def test_markets_table_names_source_and_groups(sim_url: str) -> None:
    result = runner.invoke(app, ["markets", "--clob-url", sim_url])
    assert result.exit_code == 0, result.output
    assert "source: clob" in result.stdout and "neg-risk" in result.stdout
    assert "note: event" in result.stderr


def test_markets_bad_number_is_a_usage_error() -> None:
    result = runner.invoke(app, ["markets", "--min-volume", "lots"])
    assert result.exit_code == 2 and "non-negative number" in result.output


def test_markets_volume_filter_without_gamma_exits_1(sim_url: str) -> None:
    result = runner.invoke(app, ["markets", "--clob-url", sim_url, "--min-volume", "10"])
    assert result.exit_code == 1 and "need Gamma" in result.stderr


def test_markets_unreachable_source_exits_1_with_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(app, ["markets", "--clob-url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: GET http://127.0.0.1") and "Traceback" not in \
        result.output
