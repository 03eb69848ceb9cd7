# Drivers shared by the scenario tests (this module holds no tests): run a source on a fresh
# exchange in virtual time, the way the simulator server does (step at each due time, then
# advance the exchange, then drain its events).
from __future__ import annotations

import hashlib
from collections.abc import Callable

import msgspec

from polyarb.sim import Exchange, SimConfig, SimEvent
from polyarb.sim.scenario import MarketSource, Scenario, ScenarioConfig

S = 1_000_000_000
MS = 1_000_000
T0 = 1_766_793_600_000_000_000  # 2025-12-27 00:00 UTC

Check = Callable[[Exchange, int, list[SimEvent]], None]


def run(source: MarketSource, until_ns: int, *, start_ns: int = T0,
        check: Check | None = None, ex: Exchange | None = None) -> Exchange:
    """Set up `source` at start_ns and step it at every due time up to start + until_ns."""
    ex = ex if ex is not None else Exchange(SimConfig())
    source.setup(ex, start_ns)
    if check is not None:
        check(ex, start_ns, ex.take_events())
    while (due := source.next_due_ns()) is not None and due <= start_ns + until_ns:
        source.step(ex, due)
        ex.advance(due)
        events = ex.take_events()
        if check is not None:
            check(ex, due, events)
    return ex


def event_hash(config: ScenarioConfig, until_ns: int) -> str:
    """SHA-256 of every step's drained events, rendered to JSON, over a run of `until_ns`."""
    digest = hashlib.sha256()
    encoder = msgspec.json.Encoder()

    def feed(ex: Exchange, now: int, events: list[SimEvent]) -> None:
        digest.update(b"%d:" % now)
        digest.update(encoder.encode(events))

    run(Scenario(config), until_ns, check=feed)
    return digest.hexdigest()
