# Benchmark: the simulated exchange's matching engine (polyarb.sim.Exchange) on a book with
# 20 price levels per side.
#
# Run: /tmp/venv/bin/python bench/bench_sim_matching.py [--orders N] [--repeats R]
# Prints orders/s (best of R runs) for
#   add     resting GTC limit orders that do not cross (random level inside the 20)
#   cancel  cancelling those orders again, in random order
#   cross   GTC BUY YES takers filled by one resting SELL YES maker each (direct trade)
#   mint    GTC BUY NO takers filled by one resting BUY YES maker each (complementary)
#   sweep   FAK takers that sweep 5 levels (5 makers, 5 trades) each, on a book with one
#           order per level; each sweep is followed by 5 adds restoring those levels, and the
#           rate counts sweeps (so one "order" here is 1 sweep + 5 adds)
# and, for scale, each rate as a ratio to orjson.loads of a typical POST /order body measured
# in the same process: the server has to parse every order anyway, so "1.0x" would mean
# matching costs as much as parsing the request. Events are drained after every order (the
# server publishes them), so their construction cost is included.
# Each rate is measured twice: with the garbage collector disabled (the engine's own cost) and
# enabled at CPython's default thresholds (what a server gets unless it tunes gc: every trade
# keeps a few container objects alive until settled and retired, so full collections grow).
from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable

import orjson

from polyarb.events.inputs import MarketInfo, TokenInfo
from polyarb.sim import Exchange, OrderRequest, SimConfig

M = 1_000_000
CID = "0x" + "ab" * 32
YES, NO = "7" * 77, "5" * 77
BODY = orjson.dumps({
    "order": {"salt": 479249096354, "maker": "0x" + "f3" * 20, "signer": "0x" + "f3" * 20,
              "tokenId": YES, "makerAmount": "52000000", "takerAmount": "100000000",
              "side": "BUY", "expiration": "0", "signatureType": 2,
              "timestamp": "1761234567890", "metadata": "0x" + "00" * 32,
              "builder": "0x" + "00" * 32, "signature": "0x" + "ab" * 65},
    "owner": "00000000-0000-0000-0000-000000000001", "orderType": "GTC",
    "deferExec": False, "postOnly": False,
})
BIDS = [300_000 + 10_000 * k for k in range(20)]  # YES bids 0.30 .. 0.49
ASKS = [510_000 + 10_000 * k for k in range(20)]  # YES asks 0.51 .. 0.70


def _exchange(per_level: int) -> Exchange:
    ex = Exchange(SimConfig(default_collateral_micros=10**15, order_retention=1_000))
    ex.add_market(MarketInfo(
        condition_id=CID, tokens=(TokenInfo(token_id=YES, outcome="Yes"),
                                  TokenInfo(token_id=NO, outcome="No")),
        tick_size_micros=10_000, min_order_size_micros=5 * M))
    ex.split("maker", CID, 10**12)
    for _ in range(per_level):
        for bid, ask in zip(BIDS, ASKS, strict=True):
            ex.place(_req("maker", YES, "BUY", bid, 5 * M), 0)
            ex.place(_req("maker", YES, "SELL", ask, 5 * M), 0)
    ex.take_events()
    return ex


def _req(owner: str, token: str, side: str, price: int, size: int, kind: str = "GTC",
         ) -> OrderRequest:
    return OrderRequest(owner=owner, token_id=token, side=side,  # type: ignore[arg-type]
                        price_micros=price, size_micros=size, order_type=kind)  # type: ignore[arg-type]


def _timed(setup: Callable[[], Callable[[], int]], repeats: int, *, collect: bool) -> float:
    best = 0.0
    for _ in range(repeats):
        run = setup()
        gc.collect()
        if not collect:
            gc.disable()
        start = time.perf_counter()
        count = run()
        elapsed = time.perf_counter() - start
        gc.enable()
        best = max(best, count / elapsed)
    return best


def _adds(n: int) -> tuple[Exchange, list[OrderRequest]]:
    rng = random.Random(7)
    reqs = [_req(f"u{i % 8}", YES, "BUY", rng.choice(BIDS), 5 * M) for i in range(n)]
    return _exchange(1), reqs


def bench_add(n: int) -> Callable[[], int]:
    ex, reqs = _adds(n)

    def run() -> int:
        for req in reqs:
            ex.place(req, 1)
            ex.take_events()
        return n
    return run


def bench_cancel(n: int) -> Callable[[], int]:
    ex, reqs = _adds(n)
    placed = [(r.owner, ex.place(r, 1).order_id) for r in reqs]
    ex.take_events()
    random.Random(8).shuffle(placed)

    def run() -> int:
        for owner, order_id in placed:
            ex.cancel(owner, order_id, 2)
            ex.take_events()
        return n
    return run


def _takers(n: int, token: str, side: str, price: int, size: int,
            kind: str = "GTC") -> Callable[[], Callable[[], int]]:
    def setup() -> Callable[[], int]:
        ex = _exchange(n * size // (5 * M) // 20 + 1)
        req = _req("taker", token, side, price, size, kind)

        def run() -> int:
            for _ in range(n):
                ex.place(req, 3)
                ex.take_events()
            return n
        return run
    return setup


def bench_sweep(n: int) -> Callable[[], int]:
    ex = _exchange(1)
    sweep = _req("taker", YES, "BUY", ASKS[4], 25 * M, "FAK")
    refill = [_req("maker", YES, "SELL", p, 5 * M) for p in ASKS[:5]]

    def run() -> int:
        for _ in range(n):
            ex.place(sweep, 3)
            for req in refill:
                ex.place(req, 3)
            ex.take_events()
        return n
    return run


def bench_loads(n: int) -> Callable[[], int]:
    def run() -> int:
        for _ in range(n):
            orjson.loads(BODY)
        return n
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, r = args.orders, args.repeats
    cases: list[tuple[str, Callable[[], Callable[[], int]]]] = [
        ("add", lambda: bench_add(n)),
        ("cancel", lambda: bench_cancel(n)),
        ("cross", _takers(n, YES, "BUY", ASKS[-1], 5 * M)),
        ("mint", _takers(n, NO, "BUY", M - BIDS[0], 5 * M)),
        ("sweep", lambda: bench_sweep(n // 5)),
    ]
    baseline = _timed(lambda: bench_loads(n), r, collect=False)
    print(f"orjson.loads(POST /order body): {baseline:12,.0f} /s  (baseline, gc off)")
    print(f"{'case':7s} {'gc off /s':>12s} {'us/order':>9s} {'vs base':>8s} {'gc on /s':>12s}")
    for name, setup in cases:
        off = _timed(setup, r, collect=False)
        on = _timed(setup, r, collect=True)
        print(f"{name:7s} {off:12,.0f} {1e6 / off:9.1f} {off / baseline:7.3f}x {on:12,.0f}")


if __name__ == "__main__":
    main()
