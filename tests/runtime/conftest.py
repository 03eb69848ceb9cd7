# Shared fixtures of the runtime tests: one real `polyarb run` on the embedded simulator per
# test session, whose journal the end-to-end tests (and the replay/report tests) read.
#
# Rules: the run is a subprocess (`python -m polyarb run --duration ...`), exactly what a user
# types, loopback only; it runs once per session and its journal directory is shared read-only.
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

RUN_SECONDS = 10  # the default scenario (seed 1) opens its first tradable window within ~3 s


@dataclass(frozen=True)
class SimRun:
    """A finished `polyarb run` on the simulator: its journal, exit code and output."""

    journal: Path
    returncode: int
    stdout: str
    stderr: str


def polyarb(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m polyarb ARGS` and wait for it."""
    return subprocess.run([sys.executable, "-m", "polyarb", *args], capture_output=True,
                          text=True, timeout=timeout, env=clean_env(env), cwd=cwd)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any POLYMARKET_* credential."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    env.update(extra or {})
    return env


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    """`polyarb run --duration 10` on the default simulator, run once per session."""
    work = tmp_path_factory.mktemp("sim-run")
    journal = work / "journal"
    done = polyarb("run", "--duration", str(RUN_SECONDS), "--journal-dir", str(journal),
                   "--quiet", cwd=work)
    return SimRun(journal, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def sim_run_journal(sim_run: SimRun) -> Path:
    """The journal directory of the session's simulator run (read it, never write it)."""
    assert sim_run.returncode == 0, sim_run.stderr
    return sim_run.journal
