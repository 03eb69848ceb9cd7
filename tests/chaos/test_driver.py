# The chaos driver's pure parts: the seeded kill schedule, the child environment, the configs it
# writes, and the outcome's counts; plus the default fault spec the simulator must accept.
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.chaos.driver import (
    CLOSING_TOML,
    DEFAULT_FAULTS,
    ChaosConfig,
    ChaosOutcome,
    RunRecord,
    child_env,
    kill_times,
    write_config,
)
from polyarb.config import parse_config
from polyarb.sim.server import parse_faults
from polyarb.sim.server.config import RATE_FIELDS


@given(st.floats(60, 3600), st.integers(0, 6), st.integers(0, 1000))
def test_kill_times_increasing_spaced_and_seeded(duration: float, kills: int, seed: int) -> None:
    cfg = ChaosConfig(out=Path("x"), duration_s=duration, kills=kills, seed=seed)

    times = kill_times(cfg)

    assert len(times) == kills and times == kill_times(cfg)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert all(g >= cfg.min_first_run_s - 1e-6 for g in gaps)


def test_default_faults_turn_every_fault_class_on() -> None:
    faults = parse_faults(DEFAULT_FAULTS)

    assert all(getattr(faults, name) > 0 for name in RATE_FIELDS)


def test_child_env_drops_polymarket_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYMARKET_API_SECRET", "leak")

    env = child_env({"POLYMARKET_PRIVATE_KEY": "0xabc"})

    assert "POLYMARKET_API_SECRET" not in env and env["POLYMARKET_PRIVATE_KEY"] == "0xabc"


def test_written_configs_point_at_the_simulator_and_parse(tmp_path: Path) -> None:
    url = "http://127.0.0.1:4242"

    main = parse_config(write_config(tmp_path / "a.toml", url).read_text())
    closing = parse_config(write_config(tmp_path / "b.toml", url, CLOSING_TOML).read_text())

    assert main.venue.clob_url == url and main.venue.ws_user_url == "ws://127.0.0.1:4242/ws/user"
    assert main.engine.breaker.cooldown_ns == 20 * 10**9
    assert closing.engine.risk.max_order_size_micros == 0


def test_outcome_counts_kills_restarts_failed_starts_and_finals() -> None:
    out = ChaosOutcome(journal=Path("j"), runs=[
        RunRecord(0, 0.0, killed=True, returncode=-9),
        RunRecord(1, 1.0, returncode=1),  # refused to start: restarted
        RunRecord(2, 2.0, killed=True, returncode=-9),
        RunRecord(3, 3.0, final=True, returncode=0),
        RunRecord(4, 4.0, final=True, closing=True, returncode=0)])

    assert (out.kills, out.failed_starts, out.restarts_survived) == (2, 1, 2)
    assert out.final_ok
