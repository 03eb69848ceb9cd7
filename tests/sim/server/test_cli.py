# `polyarb sim markets` and `polyarb sim serve`: listing without a server, a usage error for a
# bad --faults spec, and a real serve process that prints its URLs and credentials, answers,
# and stops cleanly on SIGINT.
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.sim.server import (
    DEV_ADDRESS,
    DEV_PRIVATE_KEY,
    ServerConfig,
    SimServer,
    StaticScenario,
)

runner = CliRunner()


def test_cli_sim_markets_json_lists_tokens_and_neg_risk_groups() -> None:
    result = runner.invoke(app, ["sim", "markets", "--markets", "2", "--neg-risk-events", "1",
                                 "--json"])
    markets = json.loads(result.stdout)
    groups = {m.get("neg_risk_market_id") for m in markets if m.get("neg_risk")}
    assert result.exit_code == 0
    assert sum(not m.get("neg_risk") for m in markets) == 2 and len(groups) == 1
    assert all(len(m["tokens"]) == 2 for m in markets)


def test_cli_sim_markets_text_is_deterministic_per_seed() -> None:
    a = runner.invoke(app, ["sim", "markets", "--seed", "7"]).stdout
    b = runner.invoke(app, ["sim", "markets", "--seed", "7"]).stdout
    c = runner.invoke(app, ["sim", "markets", "--seed", "8"]).stdout
    assert a == b != c and "Yes" in a


def test_cli_sim_serve_bad_faults_is_a_usage_error() -> None:
    result = runner.invoke(app, ["sim", "serve", "--port", "0", "--faults", "explode=1"])
    assert result.exit_code == 2 and "unknown fault 'explode'" in result.output


def test_cli_sim_serve_prints_urls_and_credentials_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarb", "sim", "serve", "--port", "0", "--markets", "1",
         "--neg-risk-events", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(9)]
        text = "".join(lines)
        url = re.search(r"REST\s+(http://127\.0\.0\.1:\d+)", text)
        assert url is not None, text
        time_answer = httpx.get(url.group(1) + "/time", timeout=5).json()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "simulator stopped" in err
    assert f"POLYMARKET_PRIVATE_KEY={DEV_PRIVATE_KEY}" in text and DEV_ADDRESS in text
    assert re.search(r"POLYMARKET_API_KEY=[0-9a-f-]{36}", text)
    assert "/ws/market" in text and "/ws/user" in text
    assert abs(time_answer - time.time()) < 60


def test_server_warns_loudly_when_bound_beyond_loopback(
        capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_start_stop(SimServer(ServerConfig(host="0.0.0.0"), StaticScenario())))
    quiet = SimServer(ServerConfig(), StaticScenario())
    asyncio.run(_start_stop(quiet))
    err = capsys.readouterr().err
    assert err.count("WARNING") == 1 and "non-loopback address 0.0.0.0" in err


async def _start_stop(server: SimServer) -> None:
    await server.start()
    await server.stop()


def test_cli_sim_serve_from_a_missing_journal_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sim", "serve", "--port", "0",
                                 "--from-journal", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--from-journal" in result.output
