# Reconnect backoff for the websocket feeds: a small pure state machine.
#
# Rules:
# 1. No I/O, no clock, no global randomness: time arrives as arguments (seconds on any monotonic
#    scale the caller picks) and jitter comes from an injected random.Random, so tests run the
#    whole schedule without sleeping.
# 2. The base delay starts at `initial_s` and is multiplied by `factor` after every failed
#    attempt, capped at `max_s`. Jitter only ever shortens a delay (delay in
#    [base * (1 - jitter), base]), so `max_s` is a true maximum and retries of many connections
#    that dropped together spread out instead of reconnecting in lockstep.
# 3. The schedule starts over (next delay back to `initial_s`) once a connection has stayed up
#    for `healthy_reset_s`: one flap after hours of service is not a failure streak.
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """The shape of a backoff schedule.

    Attributes:
        initial_s: the first delay (before jitter).
        factor: the multiplier applied after each failed attempt (>= 1).
        max_s: the largest delay ever returned.
        jitter: the fraction (0..1) a delay may be shortened by at random.
        healthy_reset_s: a connection that stays up this long resets the schedule.
    """

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 60.0
    jitter: float = 0.2
    healthy_reset_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if self.healthy_reset_s < 0:
            raise ValueError(f"healthy_reset_s must be >= 0, got {self.healthy_reset_s}")


class Backoff:
    """The reconnect schedule of one connection.

    Call `opened(now)` when a connection is established, `closed(now)` when it ends, and
    `next_delay()` for the wait before the next attempt.

    Attributes:
        attempt: failed attempts since the last reset; the attempt number `next_delay()` just
            scheduled (1 for the first retry).
    """

    def __init__(self, policy: BackoffPolicy | None = None, rng: random.Random | None = None):
        self.policy = policy if policy is not None else BackoffPolicy()
        self._rng = rng if rng is not None else random.Random()
        self.attempt = 0
        self._base = self.policy.initial_s
        self._opened_at: float | None = None

    def next_delay(self) -> float:
        """Return the delay (seconds) before the next attempt and advance the schedule."""
        base = self._base
        self.attempt += 1
        self._base = min(base * self.policy.factor, self.policy.max_s)
        return base * (1.0 - self.policy.jitter * self._rng.random())

    def reset(self) -> None:
        """Start the schedule over: the next delay is `initial_s` again."""
        self.attempt = 0
        self._base = self.policy.initial_s

    def opened(self, now_s: float) -> None:
        """Note that a connection came up at `now_s`."""
        self._opened_at = now_s

    def closed(self, now_s: float) -> bool:
        """Note that the connection ended at `now_s`; reset if it had been healthy.

        Returns:
            True when the schedule was reset (the connection lasted `healthy_reset_s`).
        """
        opened, self._opened_at = self._opened_at, None
        if opened is not None and now_s - opened >= self.policy.healthy_reset_s:
            self.reset()
            return True
        return False

    def healthy(self, now_s: float) -> bool:
        """Whether the current connection has been up for `healthy_reset_s` at `now_s`."""
        opened = self._opened_at
        return opened is not None and now_s - opened >= self.policy.healthy_reset_s
