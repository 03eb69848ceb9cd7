# The simulated exchange's market registry: binary markets, neg-risk events, tick sizes and
# trading status; plus the deterministic id source.
#
# Rules:
# 1. Markets are added from the events vocabulary's MarketInfo (first token = YES, second =
#    NO) and validated: exactly two distinct, unused token ids, a tick the venue knows
#    (model.VALID_TICKS_MICROS), a positive minimum size. A bad market raises SimError.
# 2. Neg-risk events are the markets sharing a neg_risk_market_id, in insertion order.
# 3. The tick size changes only when asked (the scenario decides when; `suggested_tick` says
#    what the venue would pick: 0.001 when the book reaches below 0.04 or above 0.96, else
#    0.01). Resting orders keep their prices; new orders must use the new grid.
# 4. Ids are derived, never random: sha256(seed:kind:counter). Order ids and transaction
#    hashes are 0x + 64 hex; trade ids are UUID-shaped like the venue's.
from __future__ import annotations

import hashlib

from polyarb.core.fees import schedule_error
from polyarb.events.inputs import MarketInfo
from polyarb.sim.errors import SimError
from polyarb.sim.model import MICROS, VALID_TICKS_MICROS, Market

_LOW, _HIGH = 40_000, 960_000  # the venue's fine-tick zone: price < 0.04 or > 0.96
_FINE, _NORMAL = 1_000, 10_000


class Ids:
    """Deterministic ids from a seed and per-kind counters."""

    def __init__(self, seed: str) -> None:
        self._seed = seed
        self._counts: dict[str, int] = {}

    def _digest(self, kind: str) -> str:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        return hashlib.sha256(f"{self._seed}:{kind}:{n}".encode()).hexdigest()

    def order(self) -> str:
        """A fresh order id (0x + 64 hex) for orders the server did not hash."""
        return "0x" + self._digest("order")

    def tx(self) -> str:
        """A fresh transaction hash (0x + 64 hex)."""
        return "0x" + self._digest("tx")

    def trade(self) -> str:
        """A fresh UUID-shaped trade id (version 4 layout, derived, not random)."""
        h = self._digest("trade")
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


class MarketRegistry:
    """Markets by condition id and by token id, and neg-risk events."""

    def __init__(self) -> None:
        self.by_id: dict[str, Market] = {}
        self.by_token: dict[str, Market] = {}
        self.events: dict[str, list[str]] = {}  # neg_risk_market_id -> condition ids

    def add(self, info: MarketInfo, match_delay_ns: int = 0) -> Market:
        """Register a binary market (rule 1).

        Raises:
            SimError: the market is malformed or clashes with a registered one.
        """
        why = _market_error(info, self)
        if why is not None:
            raise SimError(f"market {info.condition_id}: {why}")
        if match_delay_ns < 0:
            raise SimError(f"market {info.condition_id}: negative match delay")
        market = Market(info, match_delay_ns)
        self.by_id[market.condition_id] = market
        self.by_token[market.yes_token] = market
        self.by_token[market.no_token] = market
        if info.neg_risk_market_id is not None:
            self.events.setdefault(info.neg_risk_market_id, []).append(market.condition_id)
        return market

    def get(self, condition_id: str) -> Market:
        """The market with this condition id.

        Raises:
            SimError: unknown market.
        """
        market = self.by_id.get(condition_id)
        if market is None:
            raise SimError(f"unknown market {condition_id}")
        return market

    def suggested_tick(self, condition_id: str) -> int:
        """The tick the venue would use now (rule 3), in micros."""
        book = self.get(condition_id).book
        bid, ask = book.best_bid(), book.best_ask()
        extreme = (0 < bid < _LOW or bid > _HIGH) or (ask < _LOW or _HIGH < ask < MICROS)
        return _FINE if extreme else _NORMAL


def _market_error(info: MarketInfo, registry: MarketRegistry) -> str | None:
    tokens = [t.token_id for t in info.tokens]
    if len(tokens) != 2 or tokens[0] == tokens[1] or not all(tokens):
        return "needs exactly two distinct non-empty token ids"
    if info.condition_id in registry.by_id:
        return "registered already"
    if any(t in registry.by_token for t in tokens):
        return "a token id belongs to another market"
    if info.tick_size_micros not in VALID_TICKS_MICROS:
        return f"unknown tick size {info.tick_size_micros}"
    if info.min_order_size_micros <= 0:
        return f"minimum order size {info.min_order_size_micros} must be positive"
    return schedule_error(info.fees)
