# The chaos driver: a faulty simulator in its own process, `polyarb run --venue live` against
# it, SIGKILLed and restarted on a seeded schedule, then the invariant checks over the journal.
#
# Rules:
# 1. The simulator (`polyarb sim serve --port 0 --faults ...`) outlives every polyarb process,
#    like the real venue outlives a crashed client; its fault counts come from GET /sim/stats.
# 2. polyarb runs exactly as a user types it: `python -m polyarb run --venue live --yes` with a
#    polyarb.toml pointing [venue] at the simulator and the simulator's public dev key in
#    POLYMARKET_PRIVATE_KEY (no other POLYMARKET_* variable leaks in from our environment).
# 3. The schedule is seeded: `kills` runs are SIGKILLed at jittered points of equal segments of
#    the total time, the last run ends by itself (--duration) and must exit 0.
# 4. The driver supervises like a process manager (Restart=on-failure): a run that exits on
#    its own before its time (e.g. startup refused after a faulted venue call: polyarb then
#    journals why and trades nothing) is started again after RESTART_DELAY_S, at most
#    MAX_FAILED_STARTS times in all; every such exit is counted and shown (`failed_starts`).
# 5. The breaker's cooldown is shortened (CHAOS_TOML) so a halt releases within the run and the
#    order paths keep being exercised; every other engine limit keeps its default.
# 6. A closing run follows the last one (CLOSING_S, CLOSING_TOML: new opportunities sized to
#    nothing, unwinds still allowed): its startup reconciles what the last run left unknown,
#    as any next start would. An order in flight when a run stops can only be resolved so.
# 7. Loopback only; every wait is bounded, and every process this module starts is ended by
#    its pid in a finally block.
from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from polyarb.sim.server.config import DEV_PRIVATE_KEY

# Realistic rates: frames are many (~100/s), requests and orders few (a few per opportunity).
DEFAULT_FAULTS = (
    "disconnect=0.0005,stall=0.0002,stall_s=8,malformed=0.001,unknown=0.001,"
    "delay=0.002,delay_s=0.3,http425=0.03,http429=0.03,http500=0.03,http503=0.03,"
    "lost_response=0.04,timeout=0.03,timeout_s=12,partial_fill=0.05,"
    "settle_fail=0.03,settle_retry=0.05,heartbeat_lapse=0.1"
)
SIM_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
RESTART_DELAY_S = 1.0
MAX_FAILED_STARTS = 10
CHAOS_TOML = "[engine.breaker]\ncooldown_ns = 20000000000\n"
CLOSING_TOML = "[engine.risk]\nmax_order_size_micros = 0\n"
CLOSING_S = 4.0
_REST = re.compile(r"^\s*REST\s+(http://\S+)\s*$")


@dataclass(frozen=True)
class ChaosConfig:
    """One chaos run: how long, how many kills, the seed, the faults and where to write."""

    out: Path
    duration_s: float = 600.0
    kills: int = 3
    seed: int = 1
    faults: str = DEFAULT_FAULTS
    markets: int = 10
    neg_risk_events: int = 2
    min_first_run_s: float = 8.0  # a kill before startup finished tests less


@dataclass
class RunRecord:
    """One polyarb process: when it ran, how it ended, where its stderr went."""

    index: int
    started_s: float
    ended_s: float = 0.0
    killed: bool = False
    final: bool = False  # ran to its scheduled end (the last run, the closing run)
    closing: bool = False
    returncode: int | None = None
    stderr_path: str = ""


@dataclass
class ChaosOutcome:
    """What the driver did: the runs, the simulator's fault counts and the journal root."""

    journal: Path
    runs: list[RunRecord] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    sim_url: str = ""

    @property
    def kills(self) -> int:
        """Processes SIGKILLed."""
        return sum(r.killed for r in self.runs)

    @property
    def failed_starts(self) -> int:
        """Runs that exited on their own before their time (rule 4)."""
        return sum(1 for r in self.runs if not r.killed and not r.final)

    @property
    def restarts_survived(self) -> int:
        """Kills after which polyarb came back (failed starts restarted, rule 4) and ran until
        its scheduled end: killed again, or the last run exiting 0."""
        ran = [r for r in self.runs if r.killed or r.final]  # failed starts skipped
        return sum(1 for a, b in itertools.pairwise(ran)
                   if a.killed and (b.killed or b.returncode == 0))

    @property
    def final_ok(self) -> bool:
        """The last run and the closing run ended by themselves with exit code 0."""
        finals = [r for r in self.runs if r.final]
        return len(finals) == 2 and all(r.returncode == 0 for r in finals)


def kill_times(cfg: ChaosConfig) -> list[float]:
    """Seconds into the chaos run at which each killed run dies (rule 3), increasing."""
    rng = random.Random(f"chaos:{cfg.seed}")
    segment = cfg.duration_s / (cfg.kills + 1)
    out, last = [], 0.0
    for i in range(cfg.kills):
        at = segment * (i + 1) + segment * rng.uniform(-0.3, 0.3)
        at = max(at, last + cfg.min_first_run_s)
        out.append(at)
        last = at
    return out


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without any POLYMARKET_* credential, plus `extra` (rule 2)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    env.update(extra or {})
    return env


class SimProcess:
    """`polyarb sim serve` in its own process (rule 1); use as a context manager."""

    def __init__(self, cfg: ChaosConfig) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> SimProcess:
        cfg = self.cfg
        err = open(cfg.out / "sim.err", "w")  # closed right after Popen
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "polyarb", "sim", "serve", "--port", "0",
             "--seed", str(cfg.seed), "--markets", str(cfg.markets),
             "--neg-risk-events", str(cfg.neg_risk_events), "--faults", cfg.faults],
            stdout=subprocess.PIPE, stderr=err, text=True, env=child_env(), cwd=cfg.out)
        err.close()
        self.url = self._read_url()
        return self

    def _read_url(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + SIM_START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = _REST.match(line)
            if match:
                return match.group(1)
        self.__exit__()
        raise RuntimeError(f"the simulator did not start; see {self.cfg.out / 'sim.err'}")

    def stats(self) -> dict[str, int]:
        """The faults injected so far, per class (GET /sim/stats)."""
        with urllib.request.urlopen(f"{self.url}/sim/stats", timeout=10) as reply:
            body = json.loads(reply.read())
        return {str(k): int(v) for k, v in sorted(body["faults"].items())}

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_config(path: Path, url: str, extra: str = "") -> Path:
    """A polyarb.toml pointing [venue] at the simulator at `url`, plus CHAOS_TOML and `extra`."""
    ws = url.replace("http://", "ws://") + "/ws"
    path.write_text(f'[venue]\nclob_url = "{url}"\nws_market_url = "{ws}/market"\n'
                    f'ws_user_url = "{ws}/user"\ngamma_url = "{url}/no-gamma"\n' + CHAOS_TOML
                    + extra)
    return path


def _start_polyarb(cfg: ChaosConfig, config: Path, index: int, duration_s: float | None
                   ) -> tuple[subprocess.Popen[str], RunRecord]:
    err_path = cfg.out / f"run-{index}.err"
    args = [sys.executable, "-m", "polyarb", "run", "--venue", "live", "--yes", "--quiet",
            "--config", str(config), "--journal-dir", str(cfg.out / "journal")]
    if duration_s is not None:
        args += ["--duration", str(max(1, round(duration_s)))]
    with open(err_path, "w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, text=True,
                                env=child_env({"POLYMARKET_PRIVATE_KEY": DEV_PRIVATE_KEY}),
                                cwd=cfg.out)
    return proc, RunRecord(index=index, started_s=time.monotonic(), stderr_path=str(err_path))


def _run_until(proc: subprocess.Popen[str], rec: RunRecord, until: float) -> None:
    """Wait until monotonic `until` (or an early exit), then SIGKILL (rule 3)."""
    try:
        while time.monotonic() < until and proc.poll() is None:
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            rec.killed = True
        rec.returncode = proc.wait()
        rec.ended_s = time.monotonic()


def _run_final(proc: subprocess.Popen[str], rec: RunRecord, timeout_s: float) -> None:
    try:
        rec.returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:  # hung: ended here, and its returncode (-9) fails the run
        os.kill(proc.pid, signal.SIGKILL)
        rec.returncode = proc.wait()
    rec.ended_s = time.monotonic()
    rec.final = rec.returncode == 0 or rec.ended_s - rec.started_s >= timeout_s


class _Schedule:
    """Runs polyarb processes one after another against one simulator (rules 3-4)."""

    def __init__(self, cfg: ChaosConfig, config: Path, outcome: ChaosOutcome) -> None:
        self.cfg, self.config, self.outcome = cfg, config, outcome
        self.t0 = time.monotonic()

    def _start(self, duration_s: float | None) -> tuple[subprocess.Popen[str], RunRecord]:
        proc, rec = _start_polyarb(self.cfg, self.config, len(self.outcome.runs), duration_s)
        self.outcome.runs.append(rec)
        return proc, rec

    def _may_restart(self) -> bool:
        if self.outcome.failed_starts > MAX_FAILED_STARTS:
            return False
        time.sleep(RESTART_DELAY_S)
        return True

    def kill_at(self, at_s: float) -> None:
        """Run (restarting failed starts) until `at_s` into the run, then SIGKILL."""
        while True:
            proc, rec = self._start(None)
            _run_until(proc, rec, self.t0 + at_s)
            if rec.killed or time.monotonic() >= self.t0 + at_s or not self._may_restart():
                return

    def finish(self, closing: Path | None = None) -> None:
        """The last run (--duration until the end), or with `closing` (its config) the closing
        run (rule 6); it must exit 0 by itself."""
        while True:
            remaining = max(5.0, self.cfg.duration_s - (time.monotonic() - self.t0))
            if closing is not None:
                remaining, self.config = CLOSING_S, closing
            proc, rec = self._start(remaining)
            rec.closing = closing is not None
            _run_final(proc, rec, remaining + STOP_TIMEOUT_S + 60)
            if rec.final or not self._may_restart():
                rec.final = True
                return


def drive(cfg: ChaosConfig) -> ChaosOutcome:
    """Start the simulator, run/kill/restart polyarb on the schedule, collect fault counts.

    Args:
        cfg: the run; cfg.out is created and holds the journal, config and logs.

    Returns:
        The runs, the simulator's fault counts and the journal root (checks not run here).
    """
    cfg.out.mkdir(parents=True, exist_ok=True)
    outcome = ChaosOutcome(journal=cfg.out / "journal")
    with SimProcess(cfg) as sim:
        outcome.sim_url = sim.url
        schedule = _Schedule(cfg, write_config(cfg.out / "polyarb.toml", sim.url), outcome)
        for at in kill_times(cfg):
            schedule.kill_at(at)
        schedule.finish()
        schedule.finish(write_config(cfg.out / "polyarb-closing.toml", sim.url, CLOSING_TOML))
        outcome.faults = sim.stats()
    return outcome
