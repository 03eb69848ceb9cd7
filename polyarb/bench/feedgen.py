# A deterministic market-channel feed: N binary markets and M neg-risk events, written as NDJSON
# (one raw websocket text frame per line) for `polyarb bench pipeline` and its tests.
#
# Rules:
# 1. Deterministic per seed: one random.Random(seed) drives everything, iteration is over lists
#    in creation order (never sets or dicts keyed by hash), so the same arguments give a
#    byte-identical file on any machine and PYTHONHASHSEED.
# 2. Realistic frames: current-format `price_change` (best_bid/best_ask after each change, from
#    the generator's own books), `book` snapshots, `last_trade_price`, `tick_size_change`.
#    Prices are on the 0.01 grid (valid under both ticks we toggle between), sizes have 2
#    decimals.
# 3. No book ever crosses and no set is an arbitrage in the quiet state: a token with fair
#    price q (ticks) keeps bids in [q-15, q-6] and asks in [q+1, q+11]; NO mirrors YES
#    (fair 100 - q), and a neg-risk event's YES fairs sum to exactly 100.
#    A tick_size_change is followed by the token's book, as the venue resends it (the engine
#    waits for a snapshot after one).
# 4. An arbitrage window (at `window_rate` of frames) is one price_change on a pair: YES ask at
#    q+1 and a NO ask k=3..4 ticks under the mirror, so the two asks cost 100 - k ticks (an edge
#    of at least 3%, over the default 2% margin); the next frame removes that NO ask again.
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import orjson

from polyarb.events.inputs import MarketInfo, TokenInfo

TICK_MICROS = 10_000
MIN_ORDER_MICROS = 5_000_000
TS0_MS = 1_766_793_600_000  # a fixed venue clock, so the output does not depend on the date


def _px(ticks: int) -> str:
    return f"0.{ticks:02d}"


def _size(rng: random.Random, lo: int = 100, hi: int = 500_000) -> str:
    return f"{rng.randint(lo, hi) / 100:.2f}"


@dataclass
class Token:
    """One token's book as the venue has it (prices in ticks -> size strings)."""

    token_id: str
    fair: int
    bids: dict[int, str] = field(default_factory=dict)
    asks: dict[int, str] = field(default_factory=dict)
    tick: str = "0.01"

    def seed_levels(self, rng: random.Random) -> None:
        self.bids = {p: _size(rng) for p in self.bid_band() if rng.random() < 0.7}
        self.asks = {p: _size(rng) for p in self.ask_band() if rng.random() < 0.7}

    def bid_band(self) -> range:
        return range(self.fair - 15, self.fair - 5)

    def ask_band(self) -> range:
        return range(self.fair + 1, self.fair + 12)

    def best(self) -> tuple[str, str]:
        return (_px(max(self.bids)) if self.bids else "0",
                _px(min(self.asks)) if self.asks else "1")

    def set_level(self, is_bid: bool, price: int, size: str) -> dict[str, str]:
        """Apply one level change and return its price_change element (best prices after it)."""
        side = self.bids if is_bid else self.asks
        if size == "0":
            side.pop(price, None)
        else:
            side[price] = size
        best_bid, best_ask = self.best()
        return {"asset_id": self.token_id, "price": _px(price), "size": size,
                "side": "BUY" if is_bid else "SELL", "best_bid": best_bid, "best_ask": best_ask}


@dataclass
class Market:
    condition_id: str
    yes: Token
    no: Token
    group: str | None = None  # the neg-risk event id


class FeedGenerator:
    """Build the markets and yield frames (rule 1: all randomness from one seeded generator).

    Args:
        markets: how many plain binary markets.
        neg_risk_events: how many neg-risk events (3-5 outcome markets each).
        seed: the random seed.
        window_rate: the share of frames that open an arbitrage window (rule 4).
    """

    def __init__(self, markets: int, neg_risk_events: int = 0, seed: int = 1,
                 window_rate: float = 0.005) -> None:
        if markets < 0 or neg_risk_events < 0 or markets + neg_risk_events == 0:
            raise ValueError("need at least one market or neg-risk event (and no negative count)")
        if not 0 <= window_rate <= 0.5:
            raise ValueError("window_rate must be between 0 and 0.5")
        self.rng = random.Random(seed)
        self.window_rate = window_rate
        self.markets: list[Market] = []
        self._ms = TS0_MS
        self._pending: list[dict[str, object]] = []  # a frame that must come next
        for _ in range(markets):
            self._add_market(self.rng.randint(20, 80), None)
        for e in range(neg_risk_events):
            self._add_event(f"0x{self.rng.getrandbits(256):064x}", e)

    def _add_market(self, fair: int, group: str | None) -> None:
        rng = self.rng
        yes = Token(str(rng.getrandbits(254)), fair)
        no = Token(str(rng.getrandbits(254)), 100 - fair)
        yes.seed_levels(rng)
        no.seed_levels(rng)
        self.markets.append(Market(f"0x{rng.getrandbits(256):064x}", yes, no, group))

    def _add_event(self, group: str, _index: int) -> None:
        n = self.rng.randint(3, 4)
        cuts = sorted(self.rng.sample(range(1, 100 - 20 * n + n), n - 1))
        spare = [b - a for a, b in zip([0, *cuts], [*cuts, 100 - 20 * n + n], strict=True)]
        for extra in spare:  # each fair >= 19 (rule 3's bands stay above 0), sum exactly 100
            self._add_market(19 + extra, group)

    # --- metadata ---------------------------------------------------------------------------

    def market_infos(self) -> list[MarketInfo]:
        """The MarketInfo of every market, in creation order (what a markets file holds)."""
        return [MarketInfo(
            condition_id=m.condition_id,
            tokens=(TokenInfo(token_id=m.yes.token_id, outcome="Yes"),
                    TokenInfo(token_id=m.no.token_id, outcome="No")),
            tick_size_micros=TICK_MICROS, min_order_size_micros=MIN_ORDER_MICROS,
            neg_risk=m.group is not None, neg_risk_market_id=m.group)
            for m in self.markets]

    # --- frames -----------------------------------------------------------------------------

    def frames(self, count: int) -> Iterator[str]:
        """Yield `count` frames: one book per token first, then the random mix (rule 2)."""
        n = 0
        for m in self.markets:
            for tok in (m.yes, m.no):
                if n == count:
                    return
                yield self._dump(self._book(m, tok))
                n += 1
        closing: tuple[Market, int] | None = None
        while n < count:
            if self._pending:
                frame = self._pending.pop()
            elif closing is not None:
                frame, closing = self._close(*closing), None
            elif self.rng.random() < self.window_rate:
                frame, closing = self._open_window()
            else:
                frame = self._random_frame()
            yield self._dump(frame)
            n += 1

    def _dump(self, frame: dict[str, object]) -> str:
        return orjson.dumps(frame).decode()

    def _stamp(self) -> str:
        self._ms += self.rng.randint(0, 3)
        return str(self._ms)

    def _hash(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _book(self, m: Market, tok: Token) -> dict[str, object]:
        # Venue order: bids ascending, asks descending (best last).
        return {"market": m.condition_id, "asset_id": tok.token_id, "timestamp": self._stamp(),
                "hash": self._hash(),
                "bids": [{"price": _px(p), "size": s} for p, s in sorted(tok.bids.items())],
                "asks": [{"price": _px(p), "size": s}
                         for p, s in sorted(tok.asks.items(), reverse=True)],
                "event_type": "book", "tick_size": tok.tick}

    def _random_frame(self) -> dict[str, object]:
        rng = self.rng
        m = rng.choice(self.markets)
        roll = rng.random()
        if roll < 0.04:
            return self._book(m, rng.choice((m.yes, m.no)))
        if roll < 0.12:
            return self._trade(m, rng.choice((m.yes, m.no)))
        if roll < 0.125:
            return self._tick_change(m, rng.choice((m.yes, m.no)))
        toks = (m.yes, m.no) if rng.random() < 0.5 else (rng.choice((m.yes, m.no)),)
        return self._price_change(m, [self._change(t) for t in toks])

    def _price_change(self, m: Market, changes: list[dict[str, str]]) -> dict[str, object]:
        for c in changes:
            c["hash"] = self._hash()
        return {"market": m.condition_id, "price_changes": changes, "timestamp": self._stamp(),
                "event_type": "price_change"}

    def _change(self, tok: Token) -> dict[str, str]:
        rng = self.rng
        is_bid = rng.random() < 0.5
        side = tok.bids if is_bid else tok.asks
        price = rng.choice(tok.bid_band() if is_bid else tok.ask_band())
        size = "0" if price in side and rng.random() < 0.3 else _size(rng)
        return tok.set_level(is_bid, price, size)

    def _trade(self, m: Market, tok: Token) -> dict[str, object]:
        buy = self.rng.random() < 0.5
        _, ask = tok.best()
        bid, _ = tok.best()
        return {"asset_id": tok.token_id, "event_type": "last_trade_price", "fee_rate_bps": "0",
                "market": m.condition_id, "price": ask if buy else bid,
                "side": "BUY" if buy else "SELL", "size": _size(self.rng, 100, 50_000),
                "timestamp": self._stamp()}

    def _tick_change(self, m: Market, tok: Token) -> dict[str, object]:
        # Both ticks accept every 0.01-grid price, so the books stay valid (rule 2).
        old, tok.tick = tok.tick, ("0.001" if tok.tick == "0.01" else "0.01")
        frame: dict[str, object] = {
            "event_type": "tick_size_change", "asset_id": tok.token_id,
            "market": m.condition_id, "old_tick_size": old, "new_tick_size": tok.tick,
            "timestamp": self._stamp()}
        self._pending.append(self._book(m, tok))  # the venue re-sends the book after it
        return frame

    def _open_window(self) -> tuple[dict[str, object], tuple[Market, int]]:
        rng = self.rng
        m = rng.choice(self.markets)
        no_price = 100 - (m.yes.fair + 1) - rng.randint(3, 4)
        changes = [m.yes.set_level(False, m.yes.fair + 1, _size(rng, 5_000, 50_000)),
                   m.no.set_level(False, no_price, _size(rng, 5_000, 50_000))]
        return self._price_change(m, changes), (m, no_price)

    def _close(self, m: Market, no_price: int) -> dict[str, object]:
        return self._price_change(m, [m.no.set_level(False, no_price, "0")])


def write_feed(out: Path | str, gen: FeedGenerator, frames: int) -> int:
    """Write `frames` frames of `gen` to `out` as NDJSON; returns the number written."""
    n = 0
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        for line in gen.frames(frames):
            fh.write(line)
            fh.write("\n")
            n += 1
    return n


def write_markets(out: Path | str, gen: FeedGenerator) -> None:
    """Write the generator's markets as a JSON list of MarketInfo (a --markets file)."""
    Path(out).write_bytes(msgspec.json.encode(gen.market_infos()) + b"\n")
