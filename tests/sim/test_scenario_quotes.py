# The scenario's pure parts: quote ladders, ticks, dislocation cuts and depth, fair-value walks,
# neg-risk fair splits, and the schedule's ordering.
from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from polyarb.sim.model import MICROS, SECOND_NS
from polyarb.sim.scenario.fair import BinaryWalk, GroupWalk, step_bound
from polyarb.sim.scenario.quotes import depth_for, ladder, plan_cuts, tick_for, touch
from polyarb.sim.scenario.schedule import Schedule
from polyarb.sim.scenario.universe import split_fairs, token_id

TICKS = st.sampled_from((10_000, 1_000))


@given(fair=st.integers(1, MICROS - 1), half=st.integers(1_000, 50_000), tick=TICKS,
       levels=st.integers(1, 5), cut_ticks=st.integers(0, 5))
def test_ladder_any_fair_is_uncrossed_on_grid_and_in_range(
        fair: int, half: int, tick: int, levels: int, cut_ticks: int) -> None:
    quotes = ladder(fair, half, tick, levels, 7 * MICROS, cut=cut_ticks * tick,
                    top_ask_size=9 * MICROS)
    bids = [p for b, p, _ in quotes if b]
    asks = [p for b, p, _ in quotes if not b]
    assert asks and len(bids) <= levels and len(asks) <= levels
    assert all(p % tick == 0 and tick <= p <= MICROS - tick for _, p, _ in quotes)
    assert not bids or max(bids) < min(asks)
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert len({(b, p) for b, p, _ in quotes}) == len(quotes)
    assert quotes[len(bids)] == (False, min(asks), 9 * MICROS)


def test_ladder_cut_moves_bids_and_best_ask_only() -> None:
    plain = ladder(500_000, 10_000, 10_000, 3, 100 * MICROS)
    cut = ladder(500_000, 10_000, 10_000, 3, 100 * MICROS, cut=30_000, top_ask_size=40 * MICROS)
    assert [p for b, p, _ in plain if b] == [490_000, 480_000, 470_000]
    assert [p for b, p, _ in plain if not b] == [510_000, 520_000, 530_000]
    assert [p for b, p, _ in cut if b] == [460_000, 450_000, 440_000]
    assert [(p, s) for b, p, s in cut if not b] == [
        (480_000, 40 * MICROS), (510_000, 100 * MICROS), (520_000, 100 * MICROS)]


def test_touch_rounds_outward_and_clamps_at_the_edges() -> None:
    assert touch(503_000, 10_000, 10_000) == (490_000, 520_000)
    assert touch(5_000, 10_000, 10_000) == (10_000, 20_000)
    assert touch(998_000, 10_000, 10_000) == (980_000, 990_000)


def test_tick_for_goes_fine_when_quotes_leave_the_middle_band() -> None:
    assert tick_for(500_000, 10_000, 10_000) == 10_000
    assert tick_for(51_000, 10_000, 10_000) == 10_000  # bid 0.04: still normal
    assert tick_for(49_000, 10_000, 10_000) == 1_000  # bid 0.03
    assert tick_for(951_000, 10_000, 10_000) == 1_000  # ask 0.97
    assert tick_for(20_000, 10_000, 1_000) == 1_000  # a market already fine stays so


@given(fairs=st.lists(st.integers(20, 100), min_size=2, max_size=8), edge=st.integers(1, 60),
       spread_over=st.integers(1, 8), shuffle=st.randoms(use_true_random=False))
def test_plan_cuts_reach_the_target_within_rooms(
        fairs: list[int], edge: int, spread_over: int, shuffle: random.Random) -> None:
    values = list(split_fairs(fairs, 50_000))
    asks = [touch(f, 10_000, 10_000)[1] for f in values]
    rooms = [f - 50_000 for f in values]
    order = shuffle.sample(range(len(values)), len(values))
    target = MICROS - edge * 1_000
    cuts = plan_cuts(asks, rooms, 10_000, target, order, min(spread_over, len(values)))
    if cuts is None:
        assert sum(r // 10_000 for r in rooms) * 10_000 < sum(asks) - target
        return
    assert sum(a - c for a, c in zip(asks, cuts, strict=True)) <= target
    assert all(c % 10_000 == 0 and 0 <= c <= r for c, r in zip(cuts, rooms, strict=True))


def test_plan_cuts_spread_evenly_over_the_first_outcomes() -> None:
    cuts = plan_cuts([400_000, 400_000, 300_000], [300_000] * 3, 10_000, 960_000, [2, 0, 1], 2)
    assert cuts == [70_000, 0, 70_000]  # 1.10 -> 0.96: 14 ticks over outcomes 2 and 0


def test_plan_cuts_overflow_to_later_outcomes_and_none_without_room() -> None:
    assert plan_cuts([400_000, 400_000], [20_000, 200_000], 10_000, 700_000, [0, 1], 1) == [
        20_000, 80_000]
    assert plan_cuts([400_000, 400_000], [20_000, 20_000], 10_000, 700_000, [0, 1], 2) is None
    assert plan_cuts([300_000, 300_000], [0, 0], 10_000, 900_000, [0, 1], 1) == [0, 0]


def test_depth_for_puts_the_dollars_on_the_cheapest_leg() -> None:
    assert depth_for(15, [200_000, 700_000], 5 * MICROS) == 75 * MICROS
    assert depth_for(10, [300_000], 5 * MICROS) == 34 * MICROS  # 33.3 rounded up
    assert depth_for(1, [900_000], 5 * MICROS) == 5 * MICROS


@given(seed=st.integers(0, 2**32), n=st.integers(2, 8), steps=st.integers(1, 200))
def test_group_walk_keeps_sum_one_and_floor(seed: int, n: int, steps: int) -> None:
    rng = random.Random(seed)
    walk = GroupWalk(random.Random(seed), split_fairs([rng.randint(1, 9) for _ in range(n)],
                                                      50_000), 50_000)
    for _ in range(steps):
        walk.step(50_000, 200_000_000)
        assert sum(walk.fairs) == MICROS and min(walk.fairs) >= 50_000


@given(seed=st.integers(0, 2**32), start=st.integers(15_000, 85_000))
def test_binary_walk_stays_inside_its_bounds(seed: int, start: int) -> None:
    walk = BinaryWalk(random.Random(seed), start, (15_000, 85_000))
    for _ in range(300):
        walk.step(100_000, SECOND_NS)
        assert 15_000 <= walk.fair <= 85_000


def test_step_bound_scales_with_the_square_root_of_time() -> None:
    assert step_bound(10_000, SECOND_NS) == 17_320  # sqrt(3) * 0.01
    assert step_bound(10_000, SECOND_NS // 4) == 8_660
    assert step_bound(0, SECOND_NS) == 0


@given(weights=st.lists(st.integers(1, 1_000), min_size=2, max_size=8))
def test_split_fairs_sum_to_one_above_the_floor(weights: list[int]) -> None:
    fairs = split_fairs(weights, 50_000)
    assert sum(fairs) == MICROS and min(fairs) >= 50_000


def test_token_id_is_77_digits_and_seeded() -> None:
    assert len(token_id(1, "x")) == 77 and token_id(1, "x") != token_id(2, "x")
    assert token_id(1, "x") == token_id(1, "x")


def test_schedule_orders_by_due_then_insertion_and_stops_at_the_end() -> None:
    sched = Schedule(end_ns=100)
    sched.add(50, 1, 0)
    sched.add(10, 2, 0)
    sched.add(50, 3, 0)
    sched.add(150, 4, 0)
    assert sched.next_due() == 10
    assert sched.pop_due(9) is None
    assert [sched.pop_due(60) for _ in range(4)] == [(10, 2, 0), (50, 1, 0), (50, 3, 0), None]
    assert sched.next_due() is None and len(sched) == 1
