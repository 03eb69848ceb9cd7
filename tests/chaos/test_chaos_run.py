# The 2-minute chaos run, end to end (bench/chaos.py --minutes 2 --kills 3): the simulator with
# every fault class on, polyarb SIGKILLed three times and restarted, then all seven invariant
# checks over the journal and zero replay divergences. About 2.5 minutes of wall time.
from __future__ import annotations

from pathlib import Path

import pytest

from polyarb.chaos.driver import ChaosConfig
from polyarb.chaos.report import render, run_chaos

# Faults that fire on the market feed, the busiest path: over two minutes each must show up.
FRAME_FAULTS = ("delay", "malformed", "unknown")


@pytest.mark.slow
def test_chaos_two_minutes_with_three_kills_passes_every_check(tmp_path: Path) -> None:
    report = run_chaos(ChaosConfig(out=tmp_path / "chaos", duration_s=120, kills=3, seed=1))

    table = render(report)
    assert report.ok, table
    assert [c.name for c in report.checks] == [
        "journal_verify", "replay", "risk_limits", "naked_legs", "unknown_resolved",
        "breaker_halts", "pnl"], table
    assert report.outcome.kills == 3 and report.outcome.restarts_survived == 3, table
    assert all(report.outcome.faults[name] > 0 for name in FRAME_FAULTS), table
    assert report.events > 1000, table
