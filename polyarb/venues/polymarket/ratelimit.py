# Client-side pacing for the CLOB: token buckets per endpoint family (retry backoff lives in
# backoff.py, shared with the websocket feeds).
#
# Rules:
# 1. The limits are the venue's documented ones (protocol reference section 3.5): every request
#    counts against the general CLOB budget (9,000 / 10 s) and, when it has one, its family's
#    budget; order entry and cancel families also have a 10-minute sustained budget. The venue
#    (Cloudflare) delays over-limit requests rather than failing them, and so do we: a caller
#    that exceeds a budget waits for its turn, it is never refused.
# 2. Buckets are reservations (the golang `rate.Limiter` idea): `reserve(now)` refills, takes a
#    token (the balance may go negative: later callers queue behind earlier ones) and returns
#    how long the caller must wait. A request reserves in all of its buckets at once and waits
#    for the slowest, so concurrent callers keep their order.
# 3. Time is injected: `reserve` takes `now` in seconds, RateLimiter takes a monotonic clock and
#    an async sleep. Tests drive both with fakes; nothing here sleeps by itself or reads a clock.
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

GENERAL: Final = "general"


@dataclass(frozen=True, slots=True)
class Limit:
    """`count` requests per `window_s` seconds."""

    count: int
    window_s: float


_10S: Final = 10.0
_10MIN: Final = 600.0

# family -> its limits (reference section 3.5, pre-V2 snapshot; re-check the venue's page).
LIMITS: Final[dict[str, tuple[Limit, ...]]] = {
    GENERAL: (Limit(9_000, _10S),),
    "book": (Limit(1_500, _10S),),
    "price": (Limit(1_500, _10S),),
    "midpoint": (Limit(1_500, _10S),),
    "books": (Limit(500, _10S),),
    "prices": (Limit(500, _10S),),
    "midpoints": (Limit(500, _10S),),
    "prices_history": (Limit(1_000, _10S),),
    "tick_size": (Limit(200, _10S),),
    "balance_allowance": (Limit(200, _10S),),
    "balance_allowance_update": (Limit(50, _10S),),
    "data_orders": (Limit(500, _10S),),
    "data_trades": (Limit(500, _10S),),
    "auth": (Limit(100, _10S),),
    "post_order": (Limit(3_500, _10S), Limit(36_000, _10MIN)),
    "delete_order": (Limit(3_000, _10S), Limit(30_000, _10MIN)),
    "post_orders": (Limit(1_000, _10S), Limit(15_000, _10MIN)),
    "delete_orders": (Limit(1_000, _10S), Limit(15_000, _10MIN)),
    "cancel_all": (Limit(250, _10S), Limit(6_000, _10MIN)),
    "cancel_market": (Limit(1_000, _10S), Limit(1_500, _10MIN)),
}

_EXACT: Final[dict[tuple[str, str], str]] = {
    ("POST", "/order"): "post_order",
    ("DELETE", "/order"): "delete_order",
    ("POST", "/orders"): "post_orders",
    ("DELETE", "/orders"): "delete_orders",
    ("DELETE", "/cancel-all"): "cancel_all",
    ("DELETE", "/cancel-market-orders"): "cancel_market",
    ("GET", "/book"): "book",
    ("GET", "/price"): "price",
    ("GET", "/midpoint"): "midpoint",
    ("POST", "/books"): "books",
    ("POST", "/prices"): "prices",
    ("POST", "/midpoints"): "midpoints",
    ("GET", "/prices-history"): "prices_history",
    ("GET", "/balance-allowance"): "balance_allowance",
    ("GET", "/balance-allowance/update"): "balance_allowance_update",
    ("GET", "/data/orders"): "data_orders",
    ("GET", "/data/trades"): "data_trades",
}


def family_of(method: str, path: str) -> str | None:
    """The rate-limit family of a request (None: only the general budget applies).

    Args:
        method: HTTP method, upper case.
        path: request path without query string.
    """
    family = _EXACT.get((method, path))
    if family is not None:
        return family
    if path.startswith("/tick-size"):
        return "tick_size"
    if path.startswith("/auth/"):
        return "auth"
    return None


class TokenBucket:
    """`capacity` tokens refilled at capacity / window_s per second (rule 2)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, limit: Limit, now: float) -> None:
        if limit.count <= 0 or limit.window_s <= 0:
            raise ValueError("a limit needs a positive count and window")
        self.capacity = float(limit.count)
        self.rate = limit.count / limit.window_s
        self.tokens = self.capacity
        self.stamp = now

    def reserve(self, now: float) -> float:
        """Take one token; return the seconds to wait before using it (0: go now)."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        wait = 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate
        self.tokens -= 1.0
        return wait


class RateLimiter:
    """Buckets per family plus the general budget; `acquire` waits for a request's turn."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limits: dict[str, tuple[Limit, ...]] | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limits = LIMITS if limits is None else limits
        self._buckets: dict[str, tuple[TokenBucket, ...]] = {}
        self.waited_s = 0.0
        self.delayed = 0

    def _family(self, name: str, now: float) -> tuple[TokenBucket, ...]:
        buckets = self._buckets.get(name)
        if buckets is None:
            buckets = tuple(TokenBucket(lim, now) for lim in self._limits.get(name, ()))
            self._buckets[name] = buckets
        return buckets

    def reserve(self, method: str, path: str) -> float:
        """Reserve a slot for one request now; return the seconds it must wait."""
        now = self._clock()
        names = [GENERAL]
        family = family_of(method, path)
        if family is not None:
            names.append(family)
        waits = [b.reserve(now) for n in names for b in self._family(n, now)]
        return max(waits, default=0.0)

    async def acquire(self, method: str, path: str) -> None:
        """Wait until the request may be sent (rule 1: delayed, never refused)."""
        wait = self.reserve(method, path)
        if wait > 0:
            self.delayed += 1
            self.waited_s += wait
            await self._sleep(wait)

