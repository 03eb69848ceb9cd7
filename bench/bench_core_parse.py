# Benchmark: parse + book apply of market-channel frames vs a bare orjson.loads of the same
# frames, measured in the same process, for 100 and 10,000 tokens.
#
# Run: /tmp/venv/bin/python bench/bench_core_parse.py [--frames N] [--repeats R]
# Prints µs/frame for orjson.loads alone and for parse_frame + MarketData.apply_frame, and their
# ratio. The target for the whole reducer (parse + books + detection) is <= 3x
# orjson.loads; this part aims at <= ~2x. Per-frame cost must not grow with the token count.
#
# Frames are generated from a seeded model of each token's book, so every price_change keeps
# the book uncrossed and carries the correct best_bid/best_ask: no update is ignored or breaks
# continuity (the bench checks this), and the measured path is the real one.
from __future__ import annotations

import argparse
import gc
import random
import time

import orjson

from polyarb.core.marketdata import MarketData
from polyarb.core.wire import parse_frame

TICK = 10_000  # 0.01 in micros


def _fmt(micros: int) -> str:
    whole, frac = divmod(micros, 1_000_000)
    text = f"{frac:06d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def _size(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.4:
        return str(rng.randint(1, 5000))
    if pick < 0.8:
        return f"{rng.randint(1, 500000) / 100:.2f}"
    return _fmt(rng.randint(1, 10**10))


class _Model:
    """One token's book as the venue would have it, to generate consistent frames."""

    def __init__(self, rng: random.Random, token: str, market: str, levels: int) -> None:
        self.token, self.market = token, market
        mid = rng.randint(20, 80) * TICK
        self.bids = {mid - i * TICK: _size(rng) for i in range(1, levels + 1) if mid - i * TICK > 0}
        self.asks = {
            mid + i * TICK: _size(rng) for i in range(1, levels + 1) if mid + i * TICK < 10**6
        }

    def book_event(self, ts: int) -> dict[str, object]:
        # Venue order: worst to best on both sides.
        return {
            "event_type": "book",
            "asset_id": self.token,
            "market": self.market,
            "bids": [{"price": _fmt(p), "size": s} for p, s in sorted(self.bids.items())],
            "asks": [
                {"price": _fmt(p), "size": s} for p, s in sorted(self.asks.items(), reverse=True)
            ],
            "timestamp": str(ts),
            "hash": f"{ts * 2654435761 % (1 << 160):040x}",
        }

    def change(self, rng: random.Random) -> dict[str, str]:
        best_bid = max(self.bids) if self.bids else 0
        best_ask = min(self.asks) if self.asks else 10**6
        is_bid = rng.random() < 0.5
        if is_bid:
            price = rng.randint(max(1, best_bid // TICK - 5), best_ask // TICK - 1) * TICK
            side = self.bids
        else:
            price = rng.randint(best_bid // TICK + 1, min(99, best_ask // TICK + 5)) * TICK
            side = self.asks
        size = "0" if price in side and rng.random() < 0.3 else _size(rng)
        if size == "0":
            side.pop(price, None)
        else:
            side[price] = size
        return {
            "asset_id": self.token,
            "price": _fmt(price),
            "size": size,
            "side": "BUY" if is_bid else "SELL",
            "hash": f"{rng.getrandbits(160):040x}",
            "best_bid": _fmt(max(self.bids)) if self.bids else "0",
            "best_ask": _fmt(min(self.asks)) if self.asks else "1",
        }


def _token_id(rng: random.Random) -> str:
    return str(rng.getrandbits(254))


def build(
    n_tokens: int, n_frames: int, book_share: float, seed: int = 7
) -> tuple[list[bytes], list[bytes]]:
    """Return (initial snapshot frames, timed frames) as bytes."""
    rng = random.Random(seed)
    models: list[_Model] = []
    for _ in range(n_tokens // 2):
        market = f"0x{rng.getrandbits(256):064x}"
        for _ in range(2):
            models.append(_Model(rng, _token_id(rng), market, rng.randint(8, 25)))
    ts = 1_766_790_000_000
    initial = [orjson.dumps([m.book_event(ts)]) for m in models]
    frames: list[bytes] = []
    for _ in range(n_frames):
        ts += rng.randint(0, 3)
        i = rng.randrange(0, len(models) - 1, 2)
        if rng.random() < book_share:
            frames.append(orjson.dumps(models[i].book_event(ts)))
            continue
        pair = models[i : i + 2] if rng.random() < 0.5 else [models[i]]
        event = {
            "event_type": "price_change",
            "market": models[i].market,
            "price_changes": [m.change(rng) for m in pair],
            "timestamp": str(ts),
        }
        frames.append(orjson.dumps(event))
    return initial, frames


def _timed_batches(frames: list[bytes], store: MarketData, batch: int) -> list[list[int]]:
    """Time each batch back to back: bare loads, parse, apply. Returns ns per batch, per phase."""
    loads = orjson.loads
    apply_frame = store.apply_frame
    out: list[list[int]] = [[], [], []]
    clock = time.perf_counter_ns
    for start in range(0, len(frames), batch):
        chunk = frames[start : start + batch]
        t0 = clock()
        for frame in chunk:
            loads(frame)
        t1 = clock()
        parsed = [parse_frame(frame, None) for frame in chunk]
        t2 = clock()
        for seq, result in enumerate(parsed, start):
            apply_frame(result, seq, seq)
        t3 = clock()
        for phase, ns in zip(out, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            phase.append(ns)
    return out


def run(n_tokens: int, n_frames: int, book_share: float, repeats: int) -> list[float]:
    """µs/frame of (bare orjson.loads, parse_frame, apply_frame) for one stream.

    The machine may be shared, so each small batch is timed back to back for all phases, on
    every repeat from the same restored state, and the minimum per batch and phase is kept.
    """
    initial, frames = build(n_tokens, n_frames, book_share)
    base = MarketData()
    for seq, frame in enumerate(initial):
        base.apply_frame(parse_frame(frame, None), seq, seq)
    state = base.snapshot()
    best: list[list[float]] | None = None
    for _ in range(repeats):
        store = MarketData.restore(state)
        gc.collect()
        phases = _timed_batches(frames, store, 200)
        if best is None:
            best = [[float(ns) for ns in phase] for phase in phases]
        best = [list(map(min, old, new)) for old, new in zip(best, phases, strict=True)]
        stats = store.stats()
        bad = stats["continuity_broken"] + stats["ignored_no_snapshot"] + stats["ignored_broken"]
        if bad + stats["rejects"]:
            raise SystemExit(f"bench stream is not clean: {stats}")
    assert best is not None
    return [sum(phase) / n_frames / 1000 for phase in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(
        f"{'stream':<14}{'tokens':>7}{'loads':>8}{'parse':>8}{'apply':>8}{'parse+apply':>13}"
        f"{'ratio':>7}   (µs/frame; ratio = parse+apply / loads)"
    )
    for label, share in (("price_change", 0.0), ("book", 1.0), ("mixed 10%book", 0.1)):
        for n_tokens in (100, 10_000):
            bare, parse, apply = run(n_tokens, args.frames, share, args.repeats)
            total = parse + apply
            print(
                f"{label:<14}{n_tokens:>7}{bare:>8.2f}{parse:>8.2f}{apply:>8.2f}{total:>13.2f}"
                f"{total / bare:>7.2f}"
            )


if __name__ == "__main__":
    main()
