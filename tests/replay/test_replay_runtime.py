# Replay and reports on a journal the real runtime wrote: `polyarb run` on the embedded
# simulator for a few seconds (a subprocess, loopback only, once per module), then
# `polyarb replay` must find every decision identical, the pnl report must agree with the
# replayed engine, and a what-if must run on it.
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.replay import replay_journal
from polyarb.reports.run_report import run_report

RUN_SECONDS = 8  # the default scenario opens its first tradable window within ~3 s
runner = CliRunner()


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("runtime")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    done = subprocess.run(
        [sys.executable, "-m", "polyarb", "run", "--duration", str(RUN_SECONDS),
         "--journal-dir", str(work / "journal"), "--quiet"],
        capture_output=True, text=True, timeout=120, env=env, cwd=work, check=False)
    assert done.returncode == 0, done.stderr
    return work / "journal"


def test_runtime_journal_replays_identically_matches_its_pnl_and_runs_a_what_if(
        journal: Path, tmp_path: Path) -> None:
    # (one test: the run takes seconds, and xdist would repeat a module fixture per worker)
    # Act
    result = runner.invoke(app, ["replay", str(journal)])
    replayed = replay_journal(journal)
    rows = run_report("pnl", [journal]).rows
    cfg = tmp_path / "strict.toml"
    cfg.write_text("[engine.detection]\nmin_margin_bps = 1000\n")
    whatif = runner.invoke(app, ["replay", str(journal), "--config", str(cfg),
                                 "--out", str(tmp_path / "whatif")])

    # Assert: every decision identical
    assert result.exit_code == 0, result.output
    assert "replay ok:" in result.output and replayed.decisions > 0
    # the pnl report agrees with the replayed engine, and the run did fill
    assert sum(int(r[4]) for r in rows) == replayed.realized_micros
    assert any(int(r[3]) > 0 for r in rows), "the run filled nothing"
    # an opportunity executed in full (every order filled) is listed by the pnl report
    opps = run_report("opportunities", [journal])
    col = {name: i for i, name in enumerate(opps.columns)}
    executed = [r for r in opps.rows if r[col["outcome"]] == "placed"
                and int(r[col["fills"]] or 0) >= int(r[col["orders"]] or 0) > 0]
    assert executed, "no opportunity was executed in full"
    fills = run_report("fills", [journal])
    fcol = {name: i for i, name in enumerate(fills.columns)}
    opp_ids = {r[col["opp_id"]] for r in executed}
    markets = {r[fcol["market_id"]] for r in fills.rows if r[fcol["opp_id"]] in opp_ids}
    assert markets and markets <= {r[1] for r in rows}  # its legs' markets are in the pnl
    # a what-if runs on it and its own journal replays
    assert whatif.exit_code == 0, whatif.output
    assert "what-if replay:" in whatif.output
    assert replay_journal(tmp_path / "whatif").ok
