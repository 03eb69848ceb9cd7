# Fair values that random-walk: one per binary market, and joint walks of a neg-risk event's
# outcomes that keep their sum at exactly $1.
#
# Rules:
# 1. Integers only (micros). Steps are uniform integers scaled so their standard deviation is
#    `volatility * sqrt(dt / 1 s)`, computed with math.isqrt: no float, so the same seed walks
#    the same path on every machine.
# 2. Each walk owns its random.Random; a walk's draws never depend on books or clients. Hot
#    draws use `uniform_int` (one getrandbits call; randint costs several Python frames).
# 3. Binary walks reflect off their bounds; event walks move value between two outcomes at a
#    time and never push one below the floor, so the sum is invariant and every outcome stays
#    >= floor.
from __future__ import annotations

import math
import random

from polyarb.sim.model import SECOND_NS

BINARY_BOUNDS = (30_000, 970_000)
FINE_BOUNDS = (15_000, 85_000)  # a fine-tick market wanders across the 0.04 boundary


def uniform_int(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high] from 48 random bits (modulo bias below 2**-20 for spans under
    2**28, which every scenario range is)."""
    return low + rng.getrandbits(48) % (high - low + 1)


def step_bound(volatility_micros: int, dt_ns: int) -> int:
    """Half-width m of a uniform step on [-m, m] whose std is volatility * sqrt(dt in s).

    A uniform on [-m, m] has variance m^2 / 3, so m = sqrt(3 * vol^2 * dt).
    """
    return math.isqrt(3 * volatility_micros * volatility_micros * dt_ns // SECOND_NS)


class BinaryWalk:
    """The fair value of one binary market, reflecting inside [low, high]."""

    __slots__ = ("fair", "high", "low", "rng")

    def __init__(self, rng: random.Random, fair: int, bounds: tuple[int, int]) -> None:
        self.rng = rng
        self.fair = fair
        self.low, self.high = bounds

    def step(self, volatility_micros: int, dt_ns: int) -> None:
        """Move the fair value by one step for `dt_ns` of elapsed time."""
        m = step_bound(volatility_micros, dt_ns)
        f = self.fair + uniform_int(self.rng, -m, m)
        if f < self.low:
            f = 2 * self.low - f
        elif f > self.high:
            f = 2 * self.high - f
        self.fair = min(max(f, self.low), self.high)


class GroupWalk:
    """The fair values of a neg-risk event's outcomes: always >= floor, always summing to 1."""

    __slots__ = ("fairs", "floor", "rng")

    def __init__(self, rng: random.Random, fairs: tuple[int, ...], floor: int) -> None:
        self.rng = rng
        self.fairs = list(fairs)
        self.floor = floor

    def step(self, volatility_micros: int, dt_ns: int) -> None:
        """Move value between random pairs of outcomes: about one transfer per outcome."""
        m = step_bound(volatility_micros, dt_ns)
        fairs, rng, n = self.fairs, self.rng, len(self.fairs)
        for _ in range(max(1, n // 2)):
            i = uniform_int(rng, 0, n - 1)
            j = (i + 1 + uniform_int(rng, 0, n - 2)) % n  # any outcome but i
            amount = min(uniform_int(rng, 0, m), fairs[i] - self.floor)
            fairs[i] -= amount
            fairs[j] += amount
