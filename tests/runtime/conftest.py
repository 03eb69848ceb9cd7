# Shared fixtures of the runtime tests: one real `polyarb run` on the embedded simulator per
# test session, whose journal the end-to-end tests (and the replay/report tests) read.
#
# Rules: the run is a subprocess (`python -m polyarb run --duration ...`), exactly what a user
# types, loopback only; it runs once per test run (also under xdist: a file lock) and its
# journal directory is shared read-only.
from __future__ import annotations

import fcntl
import json
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


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this pytest run shared by every xdist worker (the run's own basetemp
    without xdist; its parent, pytest-N/, under xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    """`polyarb run --duration 10` on the default simulator, once per test run: the first
    xdist worker to get here runs it, the others wait on the lock and read its result."""
    work = _shared_dir(tmp_path_factory) / "sim-run"
    work.mkdir(exist_ok=True)
    journal, result = work / "journal", work / "result.json"
    with open(work / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            done = polyarb("run", "--duration", str(RUN_SECONDS), "--journal-dir",
                           str(journal), "--quiet", cwd=work)
            result.write_text(json.dumps([done.returncode, done.stdout, done.stderr]))
    code, out, err = json.loads(result.read_text())
    return SimRun(journal, code, out, err)


@pytest.fixture(scope="session")
def sim_run_journal(sim_run: SimRun) -> Path:
    """The journal directory of the session's simulator run (read it, never write it)."""
    assert sim_run.returncode == 0, sim_run.stderr
    return sim_run.journal
