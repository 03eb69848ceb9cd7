# Benchmark: the simulator's market-channel feed, end to end over loopback.
#
# Run: /tmp/venv/bin/python bench/bench_sim_feed.py [--seconds S] [--rate R] [--markets N]
# A SimServer (this process) runs the built-in StaticScenario with churn at R book actions per
# second (each action places or cancels one ladder level, so one price_change frame); a plain
# `websockets` client in a second process subscribes to every token and counts frames. Runs:
#   baseline  the same server pushing pre-rendered frames straight to the outbox (transport +
#             client cost only), measured in this process first;
#   paced     the scenario at --rate (default 20,000/s, the target): did the sim keep up with
#             its schedule (actions done vs due, worst pump lag) and the client get every frame?
#   full      the scenario with no pacing (rate 10^7/s): frames/s the sim can push at most.
# Prints frames/s (client-side), the ratio to the baseline, the worst scheduling lag, whether
# the paced run kept up, and whether the unpaced run meets the 20,000 frames/s target. Numbers
# vary with machine load (other processes share the 2 cores); compare ratios.
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
from typing import Any

import orjson

from polyarb.sim.server import ServerConfig, SimServer, StaticConfig, StaticScenario

TARGET = 20_000


def _client(url: str, tokens: list[str], seconds: float, out: Any) -> None:
    import websockets

    async def main() -> None:
        # close_timeout: the server may still be flooding frames when the count ends, so the
        # close handshake would wait out the 10 s default behind them (teardown only).
        async with websockets.connect(url, max_size=None, compression=None,
                                      close_timeout=1) as ws:
            await ws.send(orjson.dumps({"assets_ids": tokens, "type": "market"}).decode())
            await ws.recv()  # the snapshot
            out.put("ready")
            n, start = 0, time.perf_counter()
            try:
                async with asyncio.timeout(seconds):  # one timer, not one per frame
                    while True:
                        await ws.recv()
                        n += 1
            except TimeoutError:
                pass
            out.put((n, time.perf_counter() - start))

    asyncio.run(main())


async def _run(mode: str, rate: float, markets: int, seconds: float) -> dict[str, float]:
    scenario = StaticScenario(StaticConfig(markets=markets, neg_risk_events=0, levels=5,
                                           churn_per_s=rate if mode != "baseline" else 0.0,
                                           taker_share=0.0))
    server = SimServer(ServerConfig(tick_s=0.005), scenario)
    await server.start()
    tokens = [t.token_id for m in scenario.markets() for t in m.tokens]
    out: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_client, args=(server.ws_url + "/market", tokens, seconds, out))
    proc.start()
    while out.empty():
        await asyncio.sleep(0.01)
    out.get()
    venue = server.venue
    venue.max_lag_ns = 0
    before = scenario.actions
    start = time.perf_counter()
    feeder = asyncio.get_running_loop().create_task(_feed(server)) if mode == "baseline" else None
    while out.empty() and proc.is_alive():
        await asyncio.sleep(0.05)
    if out.empty():
        raise SystemExit("the websocket client died; see its traceback above")
    frames, elapsed = out.get()
    wall = time.perf_counter() - start
    if feeder is not None:
        feeder.cancel()
    proc.join()
    out.close()
    out.join_thread()
    actions = scenario.actions - before
    await server.stop()
    return {"fps": frames / elapsed, "actions_ps": actions / wall,
            "lag_ms": venue.max_lag_ns / 1e6, "frames": frames}


async def _feed(server: SimServer) -> None:
    """Baseline: push a typical price_change frame as fast as the transport takes it."""
    conn = next(iter(server.venue.market_hub.conns))
    frame = orjson.dumps({"event_type": "price_change", "market": "0x" + "ab" * 32,
                          "price_changes": [{"asset_id": "7" * 77, "price": "0.52",
                                             "size": "123.45", "side": "BUY",
                                             "hash": "ab" * 20, "best_bid": "0.52",
                                             "best_ask": "0.53"}] * 2,
                          "timestamp": "1757908892351"})
    queue = conn.outbox.queue
    while not conn.outbox.dead:  # keep the sender busy without outgrowing the outbox
        while len(queue) < 2_000 and not conn.outbox.dead:
            conn.outbox.push(frame)
        await asyncio.sleep(0)


def main() -> None:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=float(TARGET))
    parser.add_argument("--markets", type=int, default=50)
    args = parser.parse_args()
    print(f"bench_sim_feed: {args.markets} markets, {args.seconds:.0f} s per run, "
          f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    base = asyncio.run(_run("baseline", 0.0, args.markets, args.seconds))
    print(f"  baseline  {base['fps']:>9,.0f} frames/s  (pre-rendered frames, transport only)")
    for mode, rate in (("paced", args.rate), ("full", 1e7)):
        r = asyncio.run(_run(mode, rate, args.markets, args.seconds))
        if mode == "paced":
            kept = (r["actions_ps"] >= 0.97 * rate and r["fps"] >= 0.97 * rate
                    and r["lag_ms"] < 100)
            verdict = "kept up with its schedule" if kept else "FELL BEHIND its schedule"
        else:
            verdict = f"target {TARGET:,}/s {'met' if r['fps'] >= TARGET else 'MISSED'}"
        print(f"  {mode:<8}  {r['fps']:>9,.0f} frames/s  {r['fps'] / base['fps']:.2f}x baseline"
              f"  actions {r['actions_ps']:>9,.0f}/s  worst lag {r['lag_ms']:8.1f} ms  {verdict}")


if __name__ == "__main__":
    main()
