# The circuit breaker: a small pure state machine over ACTIVE / REDUCING / HALTED.
#
# Rules:
# 1. Everything that decides the breaker's state lives in this file (its config and memory
#    records, data only, are in breaker_records.py). The state is derived, never
#    set: it is the most severe target among the *trips* currently armed (HALTED > REDUCING >
#    ACTIVE). TRIPS below is the table saying, per gate, which state a trip forces and what
#    releases it. Every limit is in BreakerConfig.
# 2. Time is data. Each call carries the input's ts_recv_ns; the breaker keeps the latest one it
#    has seen (a late, earlier stamp never winds its clock back) and does all its time-based work
#    (UTC day roll, heartbeat lapse, cooldowns) at the start of *every* call, so the outcome does
#    not depend on how often `tick` is called.
# 3. A call returns one BreakerTransitioned if and only if the state changed, else nothing. One
#    call may arm or release several trips; the event names one gate (the newly armed trip that
#    forces the new state, or the first released one, in table order) and the reason names the
#    rest. Observing the same value twice is a no-op.
# 4. Limits trip when observed > limit ("max N" tolerates N). Units of limit/observed in events:
#    usd   - dollars, exact Decimal from micros (daily_loss, max_*_exposure)
#    count - integers (max_open_positions, execution_failures, order_rejections,
#            unknown_outcomes, feed_broken [limit 0], operator_halt [limit 0, observed 1])
#    secs  - seconds, exact Decimal from ns (heartbeat_lost: time without an ok heartbeat)
# 5. Release policies: "clear" releases as soon as the value is back within the limit (REDUCING
#    trips: they only stop new risk). "cooldown" releases once the condition has been clear for
#    cooldown_ns of event time (every HALTED trip except the two below); execution_failures and
#    order_rejections are latched: the counter resets when they arm and they release after the
#    cooldown (a further trip restarts it). "day" (daily_loss) holds until the next UTC day by
#    event time or an operator resume, which also starts a fresh loss budget from the current
#    P&L. "operator" (operator_halt) holds until an operator resume. A resume also skips pending
#    cooldowns, but trips whose condition still holds stay armed.
# 6. snapshot() is plain JSON-able data with sorted keys; restore(snapshot()) continues exactly.
from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import msgspec

from polyarb.core.breaker_records import NS_PER_DAY, NS_PER_S, BreakerConfig, _Memory, _Trip
from polyarb.events.decisions import BreakerState, BreakerTransitioned

# Re-exported: BreakerConfig and the time units are named from here by their importers.
__all__ = [
    "NS_PER_DAY",
    "NS_PER_S",
    "OPERATOR_RESUME",
    "TRIPS",
    "Breaker",
    "BreakerConfig",
    "TripRule",
    "to_decimal",
]
_MICROS = Decimal(1_000_000)
_LEVEL: dict[BreakerState, int] = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}

Release = Literal["clear", "cooldown", "day", "operator"]
Unit = Literal["usd", "count", "secs"]
Transitions = list[BreakerTransitioned]


class TripRule(NamedTuple):
    """One row of the transition table: the state a trip forces, what releases it, its unit."""

    target: BreakerState
    release: Release
    unit: Unit


# Table order is the reporting priority when several trips move in one call.
TRIPS: dict[str, TripRule] = {
    "operator_halt": TripRule("HALTED", "operator", "count"),
    "daily_loss": TripRule("HALTED", "day", "usd"),
    "heartbeat_lost": TripRule("HALTED", "cooldown", "secs"),
    "unknown_outcomes": TripRule("HALTED", "cooldown", "count"),
    "execution_failures": TripRule("HALTED", "cooldown", "count"),
    "order_rejections": TripRule("HALTED", "cooldown", "count"),
    "feed_broken": TripRule("REDUCING", "clear", "count"),
    "max_open_positions": TripRule("REDUCING", "clear", "count"),
    "max_market_exposure": TripRule("REDUCING", "clear", "usd"),
    "max_group_exposure": TripRule("REDUCING", "clear", "usd"),
    "max_total_exposure": TripRule("REDUCING", "clear", "usd"),
}
OPERATOR_RESUME = "operator_resume"  # the gate named by a transition an operator resume caused


def to_decimal(unit: Unit, value: int) -> Decimal:
    """Express a native value (micros, count or ns) in its event unit, exactly."""
    if unit == "usd":
        return Decimal(value) / _MICROS
    if unit == "secs":
        return Decimal(value) / Decimal(NS_PER_S)
    return Decimal(value)


def _utc_day(day: int) -> str:
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=day)).isoformat()


class Breaker:
    """The circuit breaker. Every observe_* call and tick returns the transitions it caused.

    Args:
        config: the limits; BreakerConfig() defaults when omitted.
    """

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = BreakerConfig() if config is None else config
        self._m = _Memory()
        self._armed: list[str] = []  # scratch for one call: trips armed
        self._released: list[tuple[str, _Trip]] = []  # scratch: trips released explicitly
        self._cause: str | None = None  # scratch: an operator resume's reason

    @property
    def state(self) -> BreakerState:
        """The current state."""
        return self._m.state

    def day_loss_micros(self) -> int:
        """Realized loss counted against today's budget (>= 0), for the stats line."""
        return max(0, self._m.pnl_base_micros - self._m.pnl_total_micros)

    def armed_gates(self) -> tuple[str, ...]:
        """Gates with an armed trip, in table order (diagnostics)."""
        return tuple(g for g in TRIPS if g in self._m.trips)

    def observe_realized_pnl(self, total_micros: int, ts_ns: int, cause_seq: int) -> Transitions:
        """Cumulative realized P&L (all days); the breaker derives the UTC day's loss from it."""
        self._begin(ts_ns)
        self._m.pnl_total_micros = total_micros
        self._check_daily_loss()
        return self._settle(ts_ns, cause_seq)

    def observe_open_positions(self, count: int, ts_ns: int, cause_seq: int) -> Transitions:
        """Number of open positions."""
        self._begin(ts_ns)
        self._level("max_open_positions", self.config.max_open_positions, count)
        return self._settle(ts_ns, cause_seq)

    def observe_exposure(
        self, market_id: str, market_micros: int, group_id: str | None, group_micros: int,
        total_micros: int, ts_ns: int, cause_seq: int,
    ) -> Transitions:
        """Exposure after a change in one market: that market's, its group's and the total.

        group_id is None for a market outside any neg-risk group (group_micros is ignored).
        """
        self._begin(ts_ns)
        cfg = self.config
        self._keyed("max_market_exposure", self._m.markets_over, market_id, market_micros,
                    cfg.max_market_exposure_micros)
        if group_id is not None:
            self._keyed("max_group_exposure", self._m.groups_over, group_id, group_micros,
                        cfg.max_group_exposure_micros)
        self._level("max_total_exposure", cfg.max_total_exposure_micros, total_micros)
        return self._settle(ts_ns, cause_seq)

    def observe_execution(self, ok: bool, ts_ns: int, cause_seq: int) -> Transitions:
        """An opportunity's execution completed (ok) or failed (a leg missing, unwound...)."""
        self._begin(ts_ns)
        m = self._m
        m.consecutive_failures = 0 if ok else m.consecutive_failures + 1
        if m.consecutive_failures > self.config.max_consecutive_failures:
            self._arm("execution_failures", self.config.max_consecutive_failures,
                      m.consecutive_failures, False)
            m.consecutive_failures = 0
        return self._settle(ts_ns, cause_seq)

    def observe_rejection(self, ts_ns: int, cause_seq: int) -> Transitions:
        """The venue rejected one order. Counted in a sliding window of event time."""
        self._begin(ts_ns)
        m, cfg = self._m, self.config
        horizon = m.now_ns - cfg.rejection_window_ns
        m.rejections_ns = [t for t in m.rejections_ns if t > horizon] + [m.now_ns]
        if len(m.rejections_ns) > cfg.max_rejections:
            self._arm("order_rejections", cfg.max_rejections, len(m.rejections_ns), False)
            m.rejections_ns = []
        return self._settle(ts_ns, cause_seq)

    def observe_unknown_outcomes(self, count: int, ts_ns: int, cause_seq: int) -> Transitions:
        """Number of orders whose outcome is unknown (awaiting reconciliation)."""
        self._begin(ts_ns)
        self._level("unknown_outcomes", self.config.max_unknown_outcomes, count)
        return self._settle(ts_ns, cause_seq)

    def observe_feed(self, token_id: str, broken: bool, ts_ns: int, cause_seq: int) -> Transitions:
        """A traded token's feed health.

        broken=True when the book of a token we hold or have orders on is broken or stale;
        broken=False when it is restored or the token is no longer traded.
        """
        self._begin(ts_ns)
        feeds = [t for t in self._m.broken_feeds if t != token_id] + ([token_id] if broken else [])
        self._m.broken_feeds = sorted(feeds)
        self._level("feed_broken", 0, len(feeds), token_id)
        return self._settle(ts_ns, cause_seq)

    def observe_resting_orders(self, count: int, ts_ns: int, cause_seq: int) -> Transitions:
        """Number of our orders resting on the venue (the heartbeat only matters while > 0)."""
        self._begin(ts_ns)
        m = self._m
        if count > 0 and m.resting_since_ns is None:
            m.resting_since_ns = m.now_ns
        elif count <= 0:
            m.resting_since_ns = None
        m.resting_orders = count
        self._check_heartbeat()
        return self._settle(ts_ns, cause_seq)

    def observe_heartbeat(self, ok: bool, ts_ns: int, cause_seq: int) -> Transitions:
        """A venue heartbeat result. A failure only matters once the timeout lapses."""
        self._begin(ts_ns)
        if ok:
            self._m.heartbeat_ok_ns = self._m.now_ns
            self._check_heartbeat()
        return self._settle(ts_ns, cause_seq)

    def observe_operator(
        self, command: Literal["halt", "resume"], reason: str, ts_ns: int, cause_seq: int
    ) -> Transitions:
        """An operator halt (holds until resume) or resume (see rule 5 in the module header)."""
        self._begin(ts_ns)
        if command == "halt":
            self._level("operator_halt", 0, 1, reason)
        else:
            self._resume(reason)
        return self._settle(ts_ns, cause_seq)

    def tick(self, now_ns: int, cause_seq: int) -> Transitions:
        """Let event time pass: UTC day roll, heartbeat lapse and cooldowns."""
        self._begin(now_ns)
        return self._settle(now_ns, cause_seq)

    def snapshot(self) -> dict[str, Any]:
        """The breaker's whole state as plain JSON-able data with sorted keys (no config)."""
        data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self._m, order="sorted"))
        return data

    @classmethod
    def restore(cls, data: dict[str, Any], config: BreakerConfig | None = None) -> Breaker:
        """Rebuild a breaker from snapshot() output.

        Raises:
            msgspec.ValidationError: the data is not a breaker snapshot.
            ValueError: the snapshot's state disagrees with its armed trips.
        """
        breaker = cls(config)
        breaker._m = msgspec.convert(data, _Memory)
        if breaker._derived() != breaker._m.state:
            raise ValueError("breaker snapshot: state disagrees with its armed trips")
        return breaker

    def _begin(self, ts_ns: int) -> None:
        m = self._m
        m.now_ns = max(m.now_ns, ts_ns)
        self._armed, self._released, self._cause = [], [], None
        day = m.now_ns // NS_PER_DAY
        if m.day is None:
            m.day = day
        elif day != m.day:
            m.day = day
            m.pnl_base_micros = m.pnl_total_micros
            self._check_daily_loss()  # records the new day's (zero) loss on the trip first
            self._release_explicitly("daily_loss")
        self._check_heartbeat()

    def _check_daily_loss(self) -> None:
        m = self._m
        loss = m.pnl_base_micros - m.pnl_total_micros
        day = _utc_day(m.now_ns // NS_PER_DAY)
        self._level("daily_loss", self.config.max_daily_loss_micros, loss, day)

    def _check_heartbeat(self) -> None:
        m = self._m
        lapse = 0
        if m.resting_orders > 0 and m.resting_since_ns is not None:
            ref = m.resting_since_ns
            if m.heartbeat_ok_ns is not None:  # only time spent resting counts
                ref = max(ref, m.heartbeat_ok_ns)
            lapse = m.now_ns - ref
        self._level("heartbeat_lost", self.config.heartbeat_timeout_ns, lapse)

    def _level(self, gate: str, limit: int, observed: int, detail: str = "") -> None:
        trip = self._m.trips.get(gate)
        if observed > limit:
            self._arm(gate, limit, observed, True, detail)
        elif trip is not None and trip.holding:  # clear from now on: a cooldown starts here
            self._arm(gate, limit, observed, False, detail)

    def _arm(self, gate: str, limit: int, observed: int, holding: bool, detail: str = "") -> None:
        if gate not in self._m.trips:
            self._armed.append(gate)
        self._m.trips[gate] = _Trip(limit=limit, observed=observed, holding=holding,
                                    since_ns=self._m.now_ns, detail=detail)

    def _keyed(self, gate: str, over: dict[str, int], key: str, value: int, limit: int) -> None:
        if value > limit:
            over[key] = value
        else:
            over.pop(key, None)
        if over:  # report the worst key; ties go to the smallest id so order never matters
            key = min(over, key=lambda k: (-over[k], k))
            value = over[key]
        self._level(gate, limit, value, key)

    def _release_explicitly(self, gate: str) -> None:
        trip = self._m.trips.pop(gate, None)
        if trip is not None:
            self._released.append((gate, trip))

    def _resume(self, reason: str) -> None:
        m = self._m
        if "daily_loss" in m.trips:  # a fresh loss budget from here, only when it was spent
            m.pnl_base_micros = m.pnl_total_micros
            self._check_daily_loss()
        for gate in [g for g in TRIPS if g in m.trips]:
            trip = m.trips[gate]
            if gate in ("operator_halt", "daily_loss") or not trip.holding:
                self._release_explicitly(gate)
        self._cause = reason or "operator resume"

    def _releasable(self, gate: str, trip: _Trip) -> bool:
        policy = TRIPS[gate].release
        if policy == "clear":
            return not trip.holding
        if policy == "cooldown":
            return not trip.holding and self._m.now_ns >= trip.since_ns + self.config.cooldown_ns
        return False

    def _derived(self) -> BreakerState:
        targets = (TRIPS[g].target for g in self._m.trips)
        return max(targets, key=_LEVEL.__getitem__, default="ACTIVE")

    def _settle(self, ts_ns: int, cause_seq: int) -> Transitions:
        trips = self._m.trips
        for gate in [g for g in TRIPS if g in trips]:
            if self._releasable(gate, trips[gate]):
                self._released.append((gate, trips.pop(gate)))
        old, new = self._m.state, self._derived()
        if new == old:
            return []
        self._m.state = new
        up = _LEVEL[new] > _LEVEL[old]
        gate, trip, reason = self._armed_cause(new) if up else self._released_cause()
        unit = TRIPS[gate].unit if gate in TRIPS else "count"
        return [BreakerTransitioned(
            ts_recv_ns=ts_ns, cause_seq=cause_seq, from_state=old, to_state=new, gate=gate,
            limit=to_decimal(unit, trip.limit), observed=to_decimal(unit, trip.observed),
            reason=reason)]

    def _armed_cause(self, new: BreakerState) -> tuple[str, _Trip, str]:
        # Name the trip forcing the new state, preferring one armed by this very call.
        forcing = [g for g in TRIPS if g in self._m.trips and TRIPS[g].target == new]
        gate = ([g for g in forcing if g in self._armed] or forcing)[0]
        trip = self._m.trips[gate]
        others = [g for g in self._armed if g != gate]
        return gate, trip, _describe(gate, trip, "armed") + _also("also armed", others)

    def _released_cause(self) -> tuple[str, _Trip, str]:
        order = list(TRIPS)
        released = sorted(self._released, key=lambda item: order.index(item[0]))
        names = [g for g, _ in released]
        held = _also("still held by", self.armed_gates())
        if self._cause is not None:
            trip = _Trip(limit=0, observed=0, holding=False, since_ns=self._m.now_ns)
            return OPERATOR_RESUME, trip, f"{self._cause}; released: {', '.join(names)}{held}"
        gate, trip = released[0]
        if gate == "execution_failures":  # latched: report today's count, not the arming one
            trip.observed = self._m.consecutive_failures
        elif gate == "order_rejections":
            horizon = self._m.now_ns - self.config.rejection_window_ns
            trip.observed = sum(1 for t in self._m.rejections_ns if t > horizon)
        reason = _describe(gate, trip, "released") + _also("also released", names[1:])
        return gate, trip, reason + held


def _describe(gate: str, trip: _Trip, verb: str) -> str:
    detail = f" ({trip.detail})" if trip.detail else ""
    return f"{gate} {verb}{detail}"


def _also(label: str, gates: list[str] | tuple[str, ...]) -> str:
    return f"; {label}: {', '.join(gates)}" if gates else ""
