# Benchmark: how fast the seeded market scenario (polyarb.sim.scenario.Scenario) plus the
# exchange generate market data in virtual time, with no client and no server.
#
# Run: /tmp/venv/bin/python bench/bench_sim_scenario.py [--seconds V] [--repeats R]
# For each config it steps the scenario at every due time for V virtual seconds (advancing the
# exchange and draining its events after each step, as the server does) and prints, best of R:
#   market/s   market-channel events per CPU second: price_change, last_trade_price and
#              tick_size_change (what the server turns into market frames, one each)
#   frames/s   the same plus the two `book` snapshots the venue sends after a trade (a
#              price_change with trade=True), i.e. the market frames a server would push
#   all/s      every event incl. the user channel's order and trade events
#   x virtual  virtual seconds simulated per CPU second
# and, for scale, orjson.dumps of a rendered one-level price_change message measured in the
# same process (the server renders every market event anyway), as a ratio. The simulator server
# must push >= 20,000 market frames/s; the generator should be comfortably faster than that.
# Configs:
#   default    ScenarioConfig() (10 binary markets, 2 neg-risk events)
#   busy       200 binary markets, 20 events, fair values 3x as volatile, re-quotes every
#              10-30 ms, a noise take every 20-100 ms per market, a window every 50-150 ms
# Rates are per CPU second of this process (time.process_time), which a shared, loaded machine
# disturbs far less than wall time; the wall-clock market/s is printed too.
from __future__ import annotations

import argparse
import gc
import time

import orjson

from polyarb.sim import Exchange, LastTradePrice, PriceChange, SimConfig, TickSizeChange
from polyarb.sim.scenario import Scenario, ScenarioConfig

S = 1_000_000_000
T0 = 1_766_793_600_000_000_000
CONFIGS = {
    "default": ScenarioConfig(),
    "busy": ScenarioConfig(
        markets=200, neg_risk_events=20, fine_tick_markets=5, volatility_micros=30_000,
        quote_refresh_ms=(10, 30), noise_interval_ms=(20, 100),
        dislocation_interval_ms=(50, 150)),
}
PRICE_CHANGE = {
    "event_type": "price_change", "market": "0x" + "ab" * 32, "timestamp": "1766793600123",
    "price_changes": [
        {"asset_id": "7" * 77, "price": "0.52", "size": "215", "side": "SELL",
         "hash": "", "best_bid": "0.5", "best_ask": "0.52"},
        {"asset_id": "5" * 77, "price": "0.48", "size": "215", "side": "BUY",
         "hash": "", "best_bid": "0.48", "best_ask": "0.5"}],
}


def run_once(config: ScenarioConfig, virtual_ns: int) -> tuple[float, float, dict[str, int]]:
    """CPU seconds, wall seconds and event counts of one run of `virtual_ns` virtual time."""
    scenario, ex = Scenario(config), Exchange(SimConfig(order_retention=10_000,
                                                        trade_retention=10_000))
    counts = {"market": 0, "frames": 0, "all": 0}
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    scenario.setup(ex, T0)
    while (due := scenario.next_due_ns()) is not None and due <= T0 + virtual_ns:
        scenario.step(ex, due)
        ex.advance(due)
        events = ex.take_events()
        counts["all"] += len(events)
        for e in events:
            kind = type(e)
            if kind is PriceChange:
                counts["market"] += 1
                counts["frames"] += 3 if e.trade else 1
            elif kind is LastTradePrice or kind is TickSizeChange:
                counts["market"] += 1
                counts["frames"] += 1
    return time.process_time() - cpu, time.perf_counter() - start, counts


def baseline(n: int = 300_000) -> float:
    """orjson.dumps of a rendered price_change message, per CPU second."""
    start = time.process_time()
    for _ in range(n):
        orjson.dumps(PRICE_CHANGE)
    return n / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30, help="virtual seconds per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = baseline()
    print(f"orjson.dumps(price_change message): {base:12,.0f} /s  (baseline)")
    print(f"{'config':8s} {'market/s':>10s} {'frames/s':>10s} {'all/s':>10s} {'x virtual':>10s} "
          f"{'vs base':>8s} {'vs 20k':>7s} {'events':>9s} {'wall mkt/s':>11s}")
    for name, config in CONFIGS.items():
        runs = [run_once(config, args.seconds * S) for _ in range(args.repeats)]
        cpu, wall, counts = min(runs, key=lambda r: r[0])
        market = counts["market"] / cpu
        print(f"{name:8s} {market:10,.0f} {counts['frames'] / cpu:10,.0f} "
              f"{counts['all'] / cpu:10,.0f} {args.seconds / cpu:10.1f} {market / base:7.3f}x "
              f"{market / 20_000:6.2f}x {counts['market']:9,d} {counts['market'] / wall:11,.0f}")


if __name__ == "__main__":
    main()
