# The circuit breaker's records: its limits (BreakerConfig) and its memory (what snapshot holds).
#
# Rules:
# 1. Data only: no logic that decides the breaker's state lives here (that is breaker.py, whose
#    header states the breaker's rules); breaker.py re-exports BreakerConfig and the time units.
# 2. Money in micro-dollars, durations in ns of event time, all ints: no float, no clock.
# 3. _Memory is the breaker's whole state: its msgspec encoding with sorted keys is the snapshot,
#    so a field added here changes state hashes (give it a default that restores old snapshots).
from __future__ import annotations

import msgspec

from polyarb.events.decisions import BreakerState

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S


class BreakerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every breaker limit. Money in micro-dollars, durations in ns of event time.

    Defaults (seed values, conservative for a small account):
        max_daily_loss_micros: $100 realized loss per UTC day.
        max_open_positions: 3.
        max_market_exposure_micros: $50 in one market (condition id).
        max_group_exposure_micros: $100 in one neg-risk group.
        max_total_exposure_micros: $150 overall (3 positions of $50).
        max_consecutive_failures: 2 failed executions in a row tolerated; the 3rd halts.
        max_rejections / rejection_window_ns: 5 order rejections per 60 s of event time
            tolerated; the 6th within the window halts.
        max_unknown_outcomes: 0: any order whose outcome is unknown halts until reconciled.
        heartbeat_timeout_ns: 10 s without an ok heartbeat while orders rest halts (the venue's
            dead-man switch cancels everything at about that point anyway).
        cooldown_ns: 300 s clear before a HALTED trip releases by itself.
    """

    max_daily_loss_micros: int = 100_000_000
    max_open_positions: int = 3
    max_market_exposure_micros: int = 50_000_000
    max_group_exposure_micros: int = 100_000_000
    max_total_exposure_micros: int = 150_000_000
    max_consecutive_failures: int = 2
    max_rejections: int = 5
    rejection_window_ns: int = 60 * NS_PER_S
    max_unknown_outcomes: int = 0
    heartbeat_timeout_ns: int = 10 * NS_PER_S
    cooldown_ns: int = 300 * NS_PER_S

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) < 0:
                raise ValueError(f"BreakerConfig.{name} must be >= 0")


class _Trip(msgspec.Struct, kw_only=True):
    limit: int
    observed: int
    holding: bool  # the condition still holds (latched trips: False once armed)
    since_ns: int  # last time the condition held; cooldowns count from here
    detail: str = ""


class _Memory(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    state: BreakerState = "ACTIVE"
    now_ns: int = 0
    day: int | None = None  # UTC day number of now_ns
    pnl_total_micros: int = 0  # cumulative realized P&L, as last observed
    pnl_base_micros: int = 0  # pnl_total at the start of the day's loss budget
    markets_over: dict[str, int] = {}  # only markets above the limit: bounded state
    groups_over: dict[str, int] = {}
    consecutive_failures: int = 0
    rejections_ns: list[int] = []
    broken_feeds: list[str] = []  # sorted
    resting_orders: int = 0
    resting_since_ns: int | None = None
    heartbeat_ok_ns: int | None = None
    trips: dict[str, _Trip] = {}
