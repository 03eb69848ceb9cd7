# Benchmark: incremental detection (polyarb.core.detection.detect) for one touched token, with
# 100 vs 10,000 markets registered, in the no-opportunity and the opportunity case.
#
# Run: /tmp/venv/bin/python bench/bench_core_detect.py [--calls N] [--repeats R]
# Prints µs per detect() call and its ratio to a bare orjson.loads of a typical two-entry
# price_change frame measured in the same process (the reducer budget is <= 3x loads per frame
# for parse + books + detection together). Per-call cost must not grow with the market count:
# the last column compares each row with the same case at 100 markets.
#
# A tenth of the markets are neg-risk groups of 5 outcomes; touched tokens cycle over binary
# markets and group YES tokens alike, so basket checks are in the mix.
from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from decimal import Decimal

import orjson

from polyarb.core.book import Book
from polyarb.core.detection import DetectionConfig, detect
from polyarb.core.markets import MarketRegistry
from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo

SH = 1_000_000
FRAME = orjson.dumps({
    "event_type": "price_change",
    "market": "0x" + "ab" * 32,
    "price_changes": [
        {"asset_id": "7" * 77, "price": "0.5", "size": "200", "side": "BUY",
         "hash": "5" * 40, "best_bid": "0.5", "best_ask": "0.51"},
        {"asset_id": "5" * 77, "price": "0.49", "size": "120.5", "side": "SELL",
         "hash": "1" * 40, "best_bid": "0.48", "best_ask": "0.49"},
    ],
    "timestamp": "1757908892351",
})


def _market(rng: random.Random, group: str | None) -> MarketInfo:
    cid = f"0x{rng.getrandbits(256):064x}"
    return MarketInfo(
        condition_id=cid,
        tokens=(TokenInfo(token_id=str(rng.getrandbits(254)), outcome="Yes"),
                TokenInfo(token_id=str(rng.getrandbits(254)), outcome="No")),
        tick_size_micros=10_000, min_order_size_micros=5 * SH,
        fees=FeeSchedule(rate=Decimal("0.07")), neg_risk=group is not None,
        neg_risk_market_id=group,
    )


def _book(token: str, bid: int, ask: int) -> Book:
    book = Book(token)
    book.replace([(bid - k * 10_000, 300 * SH) for k in range(10)],
                 [(ask + k * 10_000, 300 * SH) for k in range(10)])
    return book


def build(n_markets: int, opportunity: bool) -> tuple[MarketRegistry, dict[str, Book], list[str]]:
    """Registry, books and 100 tokens to touch.

    No opportunity: YES+NO asks sum to 1.01, baskets to 1.05. Opportunity: sets at 0.90 (7%
    after 0.07 fees), baskets at 0.90 (5% after fees); each leg has ten 300-share levels.
    """
    rng = random.Random(n_markets)
    markets: list[MarketInfo] = []
    for g in range(n_markets // 50):  # groups of 5 outcomes: a tenth of the markets
        markets += [_market(rng, f"group-{g}") for _ in range(5)]
    markets += [_market(rng, None) for _ in range(n_markets - len(markets))]
    reg = MarketRegistry()
    assert reg.load(markets) == []
    books: dict[str, Book] = {}
    for info in markets:
        yes, no = info.tokens[0].token_id, info.tokens[1].token_id
        if info.neg_risk:
            ask = 180_000 if opportunity else 210_000
            books[yes] = _book(yes, ask - 10_000, ask)
            books[no] = _book(no, 790_000, 810_000)
        else:
            ask = 400_000 if opportunity else 455_000
            books[yes] = _book(yes, ask - 10_000, ask)
            books[no] = _book(no, ask + 90_000, ask + 100_000)
    touched = [m.tokens[0].token_id for m in markets]
    rng.shuffle(touched)
    return reg, books, touched[:100]


def _time(fn: Callable[[int], object], calls: int) -> float:
    clock = time.perf_counter_ns
    t0 = clock()
    fn(calls)
    return (clock() - t0) / calls / 1000


def _loads_loop(n: int) -> None:
    loads = orjson.loads
    for _ in range(n):
        loads(FRAME)


def _detect_loop(reg: MarketRegistry, books: dict[str, Book], tokens: list[str],
                 found: list[int]) -> Callable[[int], None]:
    config = DetectionConfig()
    singles = [[t] for t in tokens]

    def loop(n: int) -> None:
        k = len(singles)
        total = 0
        for i in range(n):
            total += len(detect(reg, books, singles[i % k], config))
        found[0] = total // n

    return loop


def run(opportunity: bool, calls: int, repeats: int) -> list[tuple[int, float, float, int]]:
    """Per market count: (markets, µs per bare loads, µs per detect, candidates per call).

    All cases are timed back to back on every repeat (the machine may be shared) and the
    minimum is kept.
    """
    sizes = (100, 10_000)
    found = {n: [0] for n in sizes}
    loops = {n: _detect_loop(*build(n, opportunity), found[n]) for n in sizes}
    best_loads = dict.fromkeys(sizes, float("inf"))
    best_detect = dict.fromkeys(sizes, float("inf"))
    for _ in range(repeats):
        for n in sizes:
            gc.collect()
            best_loads[n] = min(best_loads[n], _time(_loads_loop, calls))
            best_detect[n] = min(best_detect[n], _time(loops[n], calls))
    return [(n, best_loads[n], best_detect[n], found[n][0]) for n in sizes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'case':<16}{'markets':>8}{'loads µs':>10}{'detect µs':>11}{'x loads':>9}"
          f"{'cands':>7}{'x 100 mkts':>12}")
    for label, opp in (("no opportunity", False), ("opportunity", True)):
        calls = args.calls if not opp else max(1, args.calls // 20)
        rows = run(opp, calls, args.repeats)
        base = rows[0][2]
        for n, loads, det, cands in rows:
            print(f"{label:<16}{n:>8}{loads:>10.2f}{det:>11.2f}{det / loads:>9.2f}"
                  f"{cands:>7}{det / base:>12.2f}")


if __name__ == "__main__":
    main()
