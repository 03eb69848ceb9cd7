# The connection watchdog (pure): PING cadence, PONG timeout, data silence and per-asset probes,
# driven with a fake clock.
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.venues.polymarket.feed_watch import Verdict, Watchdog, WatchPolicy

POLICY = WatchPolicy(ping_interval_s=10.0, pong_timeout_s=30.0, silence_timeout_s=60.0,
                     asset_silence_timeout_s=300.0)


def test_watchdog_pings_every_interval_while_pongs_arrive() -> None:
    dog = Watchdog(POLICY, 0.0)
    pings = []
    pongs = 0
    for step in range(1, 101):  # one check per second, 100 s
        now = float(step)
        verdict = dog.check(now, frames=step, pongs=pongs, seen=())
        assert verdict.close is None
        if verdict.ping:
            pings.append(now)
            pongs += 1  # answered before the next check
    assert pings == [10.0 * k for k in range(1, 11)]


def test_watchdog_unanswered_ping_closes_after_pong_timeout() -> None:
    dog = Watchdog(POLICY, 0.0)
    assert dog.check(10.0, frames=1, pongs=0, seen=()).ping
    assert dog.check(39.9, frames=2, pongs=0, seen=()).close is None
    assert dog.check(40.0, frames=3, pongs=0, seen=()) == Verdict(close="pong_timeout")


def test_watchdog_pong_timeout_counts_from_oldest_unanswered_ping() -> None:
    dog = Watchdog(POLICY, 0.0)
    for now in (10.0, 20.0, 30.0):
        assert dog.check(now, frames=int(now), pongs=0, seen=()).ping
    assert dog.unanswered_since_s == 10.0
    assert dog.check(40.0, frames=50, pongs=0, seen=()).close == "pong_timeout"


def test_watchdog_silence_with_pongs_answered_closes() -> None:
    dog = Watchdog(POLICY, 0.0)
    pongs = 0
    for now in range(1, 60):
        verdict = dog.check(float(now), frames=0, pongs=pongs, seen=())
        assert verdict.close is None
        pongs += verdict.ping
    assert dog.check(60.0, frames=0, pongs=pongs, seen=()).close == "silence"


def test_watchdog_data_restarts_silence_clock() -> None:
    dog = Watchdog(WatchPolicy(ping_interval_s=1000.0, pong_timeout_s=1000.0,
                               silence_timeout_s=60.0, asset_silence_timeout_s=None), 0.0)
    assert dog.check(59.0, frames=1, pongs=0, seen=()).close is None
    assert dog.check(118.0, frames=1, pongs=0, seen=()).close is None
    assert dog.check(119.0, frames=1, pongs=0, seen=()).close == "silence"


def test_watchdog_silence_none_never_closes() -> None:
    dog = Watchdog(WatchPolicy(ping_interval_s=5.0, silence_timeout_s=None), 0.0)
    pongs = 0
    for now in range(1, 10_000, 5):
        verdict = dog.check(float(now), frames=0, pongs=pongs, seen=())
        assert verdict.close is None
        pongs += verdict.ping


def test_watchdog_probes_silent_assets_once_per_window_in_order() -> None:
    dog = Watchdog(POLICY, 0.0)
    dog.subscribed(["a", "b", "c"], 0.0)
    assets = {"a": None, "b": None, "c": None}
    dog.check(200.0, frames=1, pongs=0, seen={"b"})
    assert dog.probe(299.0, assets) == ()
    assert dog.probe(300.0, assets) == ("a", "c")
    assert dog.probe(301.0, assets) == ()  # their clocks restarted at the probe
    assert dog.probe(500.0, assets) == ("b",)
    assert dog.probe(600.0, assets) == ("a", "c")


def test_watchdog_just_subscribed_asset_is_not_probed() -> None:
    dog = Watchdog(POLICY, 0.0)
    dog.subscribed(["late"], 299.0)
    assert dog.probe(300.0, {"late": None}) == ()
    assert dog.probe(599.0, {"late": None}) == ("late",)


def test_watchdog_asset_probe_disabled_when_none() -> None:
    dog = Watchdog(WatchPolicy(asset_silence_timeout_s=None), 0.0)
    assert dog.probe(1e9, {"a": None}) == ()


def test_watchdog_wait_is_capped_by_tick_and_next_ping() -> None:
    dog = Watchdog(POLICY, 0.0)
    assert POLICY.tick_s == 2.5
    assert dog.wait_s(0.0) == 2.5
    assert dog.wait_s(9.0) == 1.0
    assert dog.wait_s(11.0) == 0.0


@given(gaps=st.lists(st.floats(0.01, 5.0), min_size=1, max_size=200))
def test_watchdog_never_pings_faster_than_interval(gaps: list[float]) -> None:
    dog = Watchdog(WatchPolicy(ping_interval_s=10.0, silence_timeout_s=None,
                               asset_silence_timeout_s=None, pong_timeout_s=1e9), 0.0)
    now, last_ping, pongs = 0.0, 0.0, 0
    for gap in gaps:
        now += gap
        if dog.check(now, frames=0, pongs=pongs, seen=()).ping:
            assert now - last_ping >= 10.0 - 1e-9  # the float sums of the gaps round
            last_ping = now
            pongs += 1


@pytest.mark.parametrize("kw", [
    {"ping_interval_s": 0.0}, {"pong_timeout_s": -1.0}, {"silence_timeout_s": 0.0},
    {"asset_silence_timeout_s": -5.0},
])
def test_watch_policy_bad_values_raise(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        WatchPolicy(**kw)
