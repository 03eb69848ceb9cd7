# Benchmark: the whole reducer, Engine.apply, on market-channel frames (parse + books + registry
# + detection on the touched market), against a bare orjson.loads of the same frame bytes
# measured in the same process, for 100 and 10,000 tokens (binary markets loaded by
# MarketsLoaded).
#
# Run: /tmp/venv/bin/python bench/bench_reducer.py [--frames N] [--repeats R] [--hot N]
#      [--cold-memos]
# Prints µs/frame and frames/s of Engine.apply for `price_change` and `book` frames, µs/frame of
# parse_frame + MarketData.apply_frame alone (so apply minus it is registry, detection and the
# engine's own work), µs/frame of orjson.loads on the same bytes, and the apply / loads ratio;
# then the 10,000 / 100 tokens ratio per kind.
# The targets: <= 3x orjson.loads, and 100 vs 10,000 tokens within ~20%.
#
# Method: the feed is generated from a seeded model of each token's book, so every price_change
# carries the true best_bid/best_ask and no book ever crosses or breaks continuity (checked
# after every repetition, together with "no opportunity": the common case where detection's
# best-price fast path rejects). YES trades in a band below 0.5 + x and NO in the mirror band,
# so a set's asks always add up to more than $1. Each repetition restores the engine from one
# snapshot taken after the initial books (not timed), folds those initial book frames once more
# (not timed), disables the GC, times the engine over every frame, then orjson.loads over the
# same bytes; the first repetition is a warm-up and the median of the others is reported.
# Why the re-fold: each Book's size memo (text -> micros, the parser's per-book cache) is not
# state, so a restored engine starts with every memo empty. At 100 tokens they refill within
# the first frames; at 10,000 a book is hit about twice per 20,000 frames, so half the `book`
# frames would miss their memo (and the small shared SIZES cache) on every level: a restore
# artefact (~4 µs/frame), not the steady state of a live process whose books have all seen a
# snapshot. --cold-memos measures that restore case instead.
# --hot N draws the timed frames from the first N markets only: at 10,000 tokens with --hot 50
# the engine holds as much state as before but touches as little as at 100 tokens, which
# separates the cost of cold memory (locality) from any cost of the collections' sizes.
from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import msgspec
import orjson

from polyarb.core.engine import Engine
from polyarb.core.marketdata import MarketData
from polyarb.core.wire import parse_frame
from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame, TokenInfo

TICK = 10_000
T0 = 1_766_793_600_000_000_000


def _px(ticks: int) -> str:
    return f"0.{ticks:02d}" if ticks < 100 else "1"


def _size(rng: random.Random) -> str:
    return f"{rng.randint(1, 500_000) / 100:.2f}" if rng.random() < 0.7 else str(
        rng.randint(1, 5_000))


class _Token:
    """One token's book as the venue has it, confined to a price band (in ticks)."""

    def __init__(self, rng: random.Random, token: str, bid_band: range, ask_band: range
                 ) -> None:
        self.token, self.bid_band, self.ask_band = token, bid_band, ask_band
        self.bids = {p: _size(rng) for p in bid_band if rng.random() < 0.7}
        self.asks = {p: _size(rng) for p in ask_band if rng.random() < 0.7}

    def book(self, market: str) -> dict[str, object]:
        return {"event_type": "book", "asset_id": self.token, "market": market,
                "bids": [{"price": _px(p), "size": s} for p, s in sorted(self.bids.items())],
                "asks": [{"price": _px(p), "size": s}
                         for p, s in sorted(self.asks.items(), reverse=True)],
                "timestamp": "1766793600000", "hash": "ab" * 20}

    def change(self, rng: random.Random) -> dict[str, str]:
        is_bid = rng.random() < 0.5
        side, band = (self.bids, self.bid_band) if is_bid else (self.asks, self.ask_band)
        price = rng.choice(band)
        size = "0" if price in side and rng.random() < 0.3 else _size(rng)
        if size == "0":
            del side[price]
        else:
            side[price] = size
        return {"asset_id": self.token, "price": _px(price), "size": size,
                "side": "BUY" if is_bid else "SELL", "hash": f"{rng.getrandbits(160):040x}",
                "best_bid": _px(max(self.bids)) if self.bids else "0",
                "best_ask": _px(min(self.asks)) if self.asks else "1"}


class Feed:
    """n_tokens // 2 binary markets, their MarketsLoaded and their initial book frames."""

    def __init__(self, n_tokens: int, seed: int = 11) -> None:
        self.rng = rng = random.Random(seed)
        self.markets: list[tuple[str, _Token, _Token]] = []
        for i in range(n_tokens // 2):
            mid = rng.randint(15, 80)  # YES bids in [mid-10, mid], asks in [mid+1, mid+11]
            yes = _Token(rng, str(rng.getrandbits(254)), range(mid - 10, mid + 1),
                         range(mid + 1, mid + 12))
            no = _Token(rng, str(rng.getrandbits(254)), range(89 - mid, 100 - mid),
                        range(100 - mid, min(99, 110 - mid) + 1))
            self.markets.append((f"0x{i:064x}", yes, no))

    def loaded(self) -> MarketsLoaded:
        infos = tuple(MarketInfo(
            condition_id=cid, tokens=(TokenInfo(token_id=y.token, outcome="Yes"),
                                      TokenInfo(token_id=n.token, outcome="No")),
            tick_size_micros=TICK, min_order_size_micros=5_000_000)
            for cid, y, n in self.markets)
        return MarketsLoaded(ts_recv_ns=T0, source="bench", markets=infos)

    def initial(self) -> list[bytes]:
        return [orjson.dumps(tok.book(cid)) for cid, y, n in self.markets for tok in (y, n)]

    def frames(self, kind: str, count: int, hot: int = 0) -> list[bytes]:
        out = []
        pool = self.markets[:hot] if hot > 0 else self.markets
        for _ in range(count):
            cid, yes, no = self.rng.choice(pool)
            if kind == "book":
                out.append(orjson.dumps(self.rng.choice((yes, no)).book(cid)))
                continue
            pair = (yes, no) if self.rng.random() < 0.5 else (self.rng.choice((yes, no)),)
            out.append(orjson.dumps({"event_type": "price_change", "market": cid,
                                     "price_changes": [t.change(self.rng) for t in pair],
                                     "timestamp": "1766793600000"}))
        return out


def _events(frames: list[bytes], ts: int) -> list[RawFrame]:
    return [RawFrame(ts_recv_ns=ts + i, conn="market-0", frame=msgspec.Raw(f))
            for i, f in enumerate(frames)]


def _check(engine: Engine) -> None:
    c = engine.md.counters
    bad = c["continuity_broken"] + c["ignored_no_snapshot"] + c["ignored_broken"] + c["rejects"]
    if bad or engine.counters.opportunities:
        raise SystemExit(f"bench stream is not clean: {c}, {engine.counters.snapshot()}")


def measure(n_tokens: int, kind: str, n_frames: int, repeats: int, hot: int = 0,
            cold_memos: bool = False) -> tuple[float, ...]:
    """Median µs/frame of (Engine.apply, parse + books only, orjson.loads), same frames."""
    feed = Feed(n_tokens)
    base = Engine()
    base.apply(1, feed.loaded())
    initial_frames = feed.initial()
    initial = _events(initial_frames, T0)
    for seq, event in enumerate(initial, start=2):
        base.apply(seq, event)
    _check(base)
    state = base.snapshot_bytes()
    books = base.snapshot()["market_data"]
    frames = feed.frames(kind, n_frames, hot)
    events = _events(frames, T0 + 10**9)
    timings: list[list[float]] = [[], [], []]
    for rep in range(repeats + 1):
        engine, md = Engine.restore(state), MarketData.restore(books)
        if not cold_memos:  # as a live process: every book has seen its snapshot
            for seq, (event, data) in enumerate(zip(initial, initial_frames, strict=True),
                                                start=500_000):
                engine.apply(seq, event)
                md.apply_frame(parse_frame(data, None), seq, seq)
        apply, apply_frame = engine.apply, md.apply_frame
        loads, clock = orjson.loads, time.perf_counter_ns
        gc.collect()
        gc.disable()
        t0 = clock()
        for seq, event in enumerate(events, start=1_000_000):
            apply(seq, event)
        t1 = clock()
        for seq, data in enumerate(frames):
            apply_frame(parse_frame(data, None), seq, seq)
        t2 = clock()
        for data in frames:
            loads(data)
        t3 = clock()
        gc.enable()
        _check(engine)
        if rep:  # the first repetition warms caches up
            for phase, ns in zip(timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                phase.append(ns / n_frames / 1000)
    return tuple(statistics.median(phase) for phase in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description="Engine.apply vs orjson.loads per frame")
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--hot", type=int, default=0,
                        help="draw the timed frames from the first N markets only")
    parser.add_argument("--cold-memos", action="store_true",
                        help="time a freshly restored engine (empty per-book size memos)")
    args = parser.parse_args()
    if args.hot or args.cold_memos:
        print(f"frames from {args.hot or 'all'} markets; per-book size memos "
              f"{'empty (restored)' if args.cold_memos else 'warm'}")
    print(f"{'kind':<14}{'tokens':>7}{'apply µs':>10}{'frames/s':>11}{'parse+books':>13}"
          f"{'loads µs':>10}{'ratio':>7}   (median of {args.repeats}; "
          "ratio = apply / orjson.loads)")
    results: dict[tuple[str, int], float] = {}
    for kind in ("price_change", "book"):
        for n_tokens in (100, 10_000):
            apply_us, books_us, loads_us = measure(n_tokens, kind, args.frames, args.repeats,
                                                   args.hot, args.cold_memos)
            results[kind, n_tokens] = apply_us
            print(f"{kind:<14}{n_tokens:>7}{apply_us:>10.2f}{1e6 / apply_us:>11,.0f}"
                  f"{books_us:>13.2f}{loads_us:>10.2f}{apply_us / loads_us:>7.2f}")
    for kind in ("price_change", "book"):
        growth = results[kind, 10_000] / results[kind, 100]
        print(f"{kind}: 10,000 / 100 tokens = {growth:.2f}x (target within ~1.20x)")


if __name__ == "__main__":
    main()
