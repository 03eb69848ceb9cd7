# The verdict every chaos check returns (polyarb.chaos.checks, polyarb.chaos.checks_exec).
from __future__ import annotations

from dataclasses import dataclass

MAX_DETAILS = 20


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: its name, pass/fail, a one-line summary and the problems found."""

    name: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()


def result(name: str, problems: list[str], summary: str) -> CheckResult:
    """A CheckResult that passes when `problems` is empty (details: the first MAX_DETAILS)."""
    return CheckResult(name=name, ok=not problems, summary=summary,
                       details=tuple(problems[:MAX_DETAILS]))
