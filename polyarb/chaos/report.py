# A whole chaos run, driven then judged: the driver's outcome, the seven checks, the journal's
# size and the replay divergences, rendered as the table `bench/chaos.py` prints.
#
# Rules:
# 1. The run passes only when every check passes, divergences are 0 (the rebuilt engine
#    recomputes exactly the decisions the journal holds) and the last polyarb run and the
#    closing run (driver.py rule 6) exited 0.
# 2. Failed starts (driver.py rule 4) are shown with the last line of their stderr; they are a
#    finding to read, not an invariant, so they do not fail the run by themselves.
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from polyarb.chaos.checks import CheckResult, run_checks
from polyarb.chaos.driver import ChaosConfig, ChaosOutcome, drive


@dataclass
class ChaosReport:
    """The driver's outcome plus the verdicts."""

    config: ChaosConfig
    outcome: ChaosOutcome
    checks: list[CheckResult] = field(default_factory=list)
    events: int = 0
    divergences: int = 0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Rule 1."""
        return (all(c.ok for c in self.checks) and self.divergences == 0
                and self.outcome.final_ok)


def judge(cfg: ChaosConfig, outcome: ChaosOutcome) -> ChaosReport:
    """Run the checks over the outcome's journal and count events and divergences."""
    from polyarb.journal import iter_records
    from polyarb.runtime.rebuild import rebuild

    report = ChaosReport(config=cfg, outcome=outcome)
    report.checks = run_checks(outcome.journal)
    report.events = sum(1 for _ in iter_records(outcome.journal))
    report.divergences = rebuild(outcome.journal).mismatches
    return report


def run_chaos(cfg: ChaosConfig) -> ChaosReport:
    """Drive the chaos run, then judge it."""
    import time

    t0 = time.monotonic()
    report = judge(cfg, drive(cfg))
    report.wall_s = time.monotonic() - t0
    return report


def _last_line(path: str) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no stderr)"
    return lines[-1][:160] if lines else "(empty stderr)"


def _final_exits(out: ChaosOutcome) -> str:
    return " ".join(str(r.returncode) for r in out.runs if r.final) or "-"


def render(report: ChaosReport) -> str:
    """The table: faults per class, processes, events, checks, divergences, verdict."""
    cfg, out = report.config, report.outcome
    lines = [f"chaos run: {cfg.duration_s:.0f} s, {cfg.kills} kill(s), seed {cfg.seed}, "
             f"wall {report.wall_s:.0f} s, out {cfg.out}", "",
             f"{'fault class':<18}{'injected':>10}"]
    lines += [f"{name:<18}{count:>10,}" for name, count in sorted(out.faults.items())]
    lines += [f"{'total':<18}{sum(out.faults.values()):>10,}", ""]
    lines += [f"{'polyarb processes':<28}{len(out.runs):>8}",
              f"{'SIGKILLs':<28}{out.kills:>8}",
              f"{'restarts survived':<28}{out.restarts_survived:>8}",
              f"{'failed starts (restarted)':<28}{out.failed_starts:>8}",
              f"{'last + closing run exits':<28}{_final_exits(out):>8}",
              f"{'events journaled':<28}{report.events:>8,}",
              f"{'divergences':<28}{report.divergences:>8}", ""]
    for run in out.runs:
        if not run.killed and not run.final:
            lines.append(f"failed start {run.index}: exit {run.returncode}: "
                         f"{_last_line(run.stderr_path)}")
    lines.append(f"{'check':<18}{'result':<8}summary")
    for check in report.checks:
        lines.append(f"{check.name:<18}{'PASS' if check.ok else 'FAIL':<8}{check.summary}")
        lines += [f"    {d}" for d in check.details]
    lines += ["", f"verdict: {'PASS' if report.ok else 'FAIL'}"]
    return "\n".join(lines) + "\n"
