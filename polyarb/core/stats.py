# The run's statistics line: counts, P&L and breaker headroom, rendered on one line.
#
# Rules:
# 1. Money is int micro-dollars and is shown as exact dollars: every nonzero decimal of the
#    micros is kept (never rounded), at least two decimals, a sign before the dollar sign
#    ("-$0.015", "$12.00", "$0.000001").
# 2. The line is built from a RunStats value only; it never reads a clock or anything else, so
#    a replay renders the same line.
from __future__ import annotations

from typing import Any

import msgspec

from polyarb.core.exec_common import MICROS

__all__ = ["RunCounters", "RunStats", "dollars", "render"]


class RunStats(msgspec.Struct, frozen=True, kw_only=True):
    """One statistics line.

    Attributes:
        updates: market data updates (raw frames) folded.
        opportunities: opportunities detected.
        executed: opportunities whose every leg filled.
        failed: opportunities that filled nothing or legged.
        blocked: opportunities a risk gate or the breaker refused.
        partial: opportunities whose legs filled evenly below the target size.
        total_pnl_micros: realized plus unrealized P&L.
        breaker_loss_micros: today's realized loss as the breaker counts it (>= 0).
        breaker_loss_limit_micros: the daily loss limit.
        breaker_positions: open positions as the breaker counts them.
        breaker_positions_limit: the open positions limit.
    """

    updates: int = 0
    opportunities: int = 0
    executed: int = 0
    failed: int = 0
    blocked: int = 0
    partial: int = 0
    total_pnl_micros: int = 0
    breaker_loss_micros: int = 0
    breaker_loss_limit_micros: int = 0
    breaker_positions: int = 0
    breaker_positions_limit: int = 0


def dollars(micros: int) -> str:
    """Render micro-dollars exactly: 1_234_500 -> "$1.2345", -15_000 -> "-$0.015"."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${whole:,}.{digits}"


def render(stats: RunStats) -> str:
    """The one-line statistics summary.

    Example:
        "updates 1,204 | opps 7 | executed 4 | failed 1 | blocked 2 | partial 0 | "
        "pnl $0.84 | loss $0.00/$100.00 | positions 1/3"
    """
    s = stats
    return (
        f"updates {s.updates:,} | opps {s.opportunities:,} | executed {s.executed:,} | "
        f"failed {s.failed:,} | blocked {s.blocked:,} | partial {s.partial:,} | "
        f"pnl {dollars(s.total_pnl_micros)} | "
        f"loss {dollars(s.breaker_loss_micros)}/{dollars(s.breaker_loss_limit_micros)} | "
        f"positions {s.breaker_positions}/{s.breaker_positions_limit}"
    )


class RunCounters:
    """The counts the engine keeps itself (updates, opportunities, blocked)."""

    def __init__(self) -> None:
        self.updates = 0
        self.opportunities = 0
        self.blocked = 0

    def stats(self, outcomes: dict[str, int], total_pnl_micros: int, loss_micros: int,
              loss_limit_micros: int, positions: int, positions_limit: int) -> RunStats:
        """Combine these counts with execution outcomes and breaker figures into RunStats.

        Args:
            outcomes: Execution.outcome_counts() (filled, partial, failed).
            total_pnl_micros: realized + unrealized P&L.
            loss_micros: today's realized loss (>= 0), loss_limit_micros its limit.
            positions: open positions, positions_limit its limit.
        """
        return RunStats(
            updates=self.updates, opportunities=self.opportunities, blocked=self.blocked,
            executed=outcomes.get("filled", 0), failed=outcomes.get("failed", 0),
            partial=outcomes.get("partial", 0), total_pnl_micros=total_pnl_micros,
            breaker_loss_micros=loss_micros, breaker_loss_limit_micros=loss_limit_micros,
            breaker_positions=positions, breaker_positions_limit=positions_limit)

    def snapshot(self) -> dict[str, Any]:
        """The counts as canonical JSON-able data."""
        return {"blocked": self.blocked, "opportunities": self.opportunities,
                "updates": self.updates}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> RunCounters:
        """Rebuild from snapshot() output.

        Raises:
            KeyError: a count is missing.
        """
        counters = cls()
        counters.updates = int(data["updates"])
        counters.opportunities = int(data["opportunities"])
        counters.blocked = int(data["blocked"])
        return counters
