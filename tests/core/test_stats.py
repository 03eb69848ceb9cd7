# The statistics line: exact dollars from micros, the one-line render, counters round trip.
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.core.execution import Execution
from polyarb.core.stats import RunCounters, RunStats, dollars, render
from polyarb.events.base import MICROS


@pytest.mark.parametrize(("micros", "text"), [
    (0, "$0.00"),
    (1, "$0.000001"),
    (10_000, "$0.01"),
    (1_234_500, "$1.2345"),
    (12_000_000, "$12.00"),
    (-15_000, "-$0.015"),
    (1_234_567_890_000, "$1,234,567.89"),
])
def test_dollars_renders_micros_exactly(micros: int, text: str) -> None:
    assert dollars(micros) == text


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_dollars_round_trips_exactly(micros: int) -> None:
    text = dollars(micros)
    sign = -1 if text.startswith("-") else 1
    whole, frac = text.lstrip("-$").replace(",", "").split(".")
    assert sign * (int(whole) * MICROS + int(frac.ljust(6, "0"))) == micros


def test_render_is_one_line_with_every_figure() -> None:
    stats = RunStats(updates=1204, opportunities=7, executed=4, failed=1, blocked=2, partial=0,
                     total_pnl_micros=840_000, breaker_loss_micros=0,
                     breaker_loss_limit_micros=100_000_000, breaker_positions=1,
                     breaker_positions_limit=3)
    assert render(stats) == (
        "updates 1,204 | opps 7 | executed 4 | failed 1 | blocked 2 | partial 0 | "
        "pnl $0.84 | loss $0.00/$100.00 | positions 1/3")


def test_counters_combine_with_execution_outcomes_and_round_trip() -> None:
    counters = RunCounters()
    counters.updates, counters.opportunities, counters.blocked = 10, 3, 1
    restored = RunCounters.restore(counters.snapshot())
    stats = restored.stats(Execution().outcome_counts(), -250_000, 250_000, 10_000_000, 0, 3)
    assert stats == RunStats(updates=10, opportunities=3, blocked=1, total_pnl_micros=-250_000,
                             breaker_loss_micros=250_000, breaker_loss_limit_micros=10_000_000,
                             breaker_positions_limit=3)
    assert "pnl -$0.25" in render(stats)
