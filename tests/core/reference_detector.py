# A brute-force reference for polyarb.core.detection, and a tiny book for tests.
#
# Rules: simple and obviously correct, never fast. It tries EVERY size on the 0.01-share grid up
# to the depth of the thinnest leg, computes every amount with Decimal from the formulas in the
# module docs of polyarb.core.sizing and polyarb.core.fees, and keeps the largest size that passes.
# It shares no code with the detector beyond the registry's structural lookups and the event
# types; it has no fast path and never stops early.
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from polyarb.core.detection import DetectionConfig
from polyarb.core.markets import MarketRegistry
from polyarb.core.types import BookView, Candidate
from polyarb.events.decisions import Leg, Strategy
from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo

STEP = 10_000
MICRO = Decimal(1_000_000)
CTX = Context(prec=120)  # every amount here is a finite decimal: exact at this precision


class SimpleBook:
    """A fixed order book satisfying BookView: levels as (price_micros, size_micros)."""

    def __init__(
        self, token_id: str, bids: Iterable[tuple[int, int]] = (),
        asks: Iterable[tuple[int, int]] = (), *, usable: bool = True, epoch: int = 1,
    ) -> None:
        self.token_id = token_id
        self._bids = sorted(bids, key=lambda lv: -lv[0])
        self._asks = sorted(asks, key=lambda lv: lv[0])
        self._usable = usable
        self._epoch = epoch

    @property
    def usable(self) -> bool:
        return self._usable

    @property
    def epoch(self) -> int:
        return self._epoch

    def best_bid(self) -> int | None:
        return self._bids[0][0] if self._bids else None

    def best_ask(self) -> int | None:
        return self._asks[0][0] if self._asks else None

    def asks_ascending(self) -> Sequence[tuple[int, int]]:
        return self._asks

    def bids_descending(self) -> Sequence[tuple[int, int]]:
        return self._bids


def reference_fee(size: int, price: int, fees: FeeSchedule) -> tuple[Decimal, int]:
    """(exact fee in micros, fee rounded UP to 10 micros) for a taker fill."""
    p = CTX.divide(Decimal(price), MICRO)
    per_share = CTX.multiply(fees.rate, CTX.power(CTX.multiply(p, 1 - p), fees.exponent))
    exact = CTX.multiply(Decimal(size), per_share)  # micro-shares * dollars = micro-dollars
    rounded = int(CTX.divide(exact, 10).to_integral_value(rounding=ROUND_CEILING)) * 10
    return exact, rounded


def _walkable(levels: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for price, size in levels:
        if not 0 < price < 1_000_000:
            break
        if size > 0:
            out.append((price, size))
    return out


def _take(
    token: str, side: str, levels: list[tuple[int, int]], fees: FeeSchedule, size: int, epoch: int
) -> tuple[Leg, Decimal, Decimal, int]:
    """Walk one leg: the Leg (rounded), exact notional, exact fee, levels filled."""
    left, worst, count = size, 0, 0
    notional_x = fee_x = Decimal(0)
    notional = fee = 0
    for price, avail in levels:
        if left == 0:
            break
        take = min(left, avail)
        left, worst, count = left - take, price, count + 1
        raw = CTX.divide(Decimal(price * take), MICRO)
        notional_x += raw
        mode = ROUND_CEILING if side == "BUY" else ROUND_FLOOR
        notional += int(raw.to_integral_value(rounding=mode))
        fx, fr = reference_fee(take, price, fees)
        fee_x, fee = fee_x + fx, fee + fr
    assert left == 0
    leg = Leg(token_id=token, side=side, limit_price_micros=worst, size_micros=size,  # type: ignore[arg-type]
              notional_micros=notional, fee_micros=fee, epoch=epoch)
    return leg, notional_x, fee_x, count


def reference_size(
    legs: Sequence[tuple[BookView, str, FeeSchedule]], settle: int, min_size: int,
    config: DetectionConfig, cap_size: int | None, cap_capital: int | None,
) -> tuple[int, tuple[Leg, ...]] | None:
    """Brute force: the largest grid size passing the pessimistic criterion, then minimums."""
    walks = [_walkable(b.asks_ascending() if s == "BUY" else b.bids_descending())
             for b, s, _ in legs]
    depth = min(sum(sz for _, sz in w) for w in walks)
    for cap in (config.max_size_micros, cap_size):
        depth = depth if cap is None else min(depth, cap)
    best = None
    for size in range(STEP, depth + 1, STEP):
        done = [_take(b.token_id, s, w, f, size, b.epoch)
                for (b, s, f), w in zip(legs, walks, strict=True)]
        exact = Decimal(settle * size)
        capital = Decimal(size if settle < 0 else 0)
        for leg, nx, fx, count in done:
            exact += (nx if leg.side == "SELL" else -nx) - fx - 11 * count
            capital += nx + count if leg.side == "BUY" else 0
        ok = exact > 0 and exact * 10_000 >= config.min_margin_bps * capital
        if ok and (cap_capital is None or capital <= cap_capital):
            best = (size, tuple(d[0] for d in done))
    if best is None or best[0] < -(-min_size // STEP) * STEP:
        return None
    if any(leg.notional_micros < config.min_leg_notional_micros for leg in best[1]):
        return None
    return best


def _spread_ok(book: BookView, config: DetectionConfig) -> bool:
    if config.max_spread_bps is None:
        return True
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return False
    # (ask - bid) / ((ask + bid) / 2) <= bps / 10_000, cross-multiplied to stay exact
    return (ask - bid) * 2 * 10_000 <= config.max_spread_bps * (ask + bid)


def _candidate(strategy: Strategy, market_id: str, sized: tuple[int, tuple[Leg, ...]],
               settle: int) -> Candidate:
    size, legs = sized
    buys = sum(leg.notional_micros for leg in legs if leg.side == "BUY")
    sells = sum(leg.notional_micros for leg in legs if leg.side == "SELL")
    fees = sum(leg.fee_micros for leg in legs)
    has_buy = any(leg.side == "BUY" for leg in legs)
    return Candidate(strategy=strategy, market_id=market_id, legs=legs, size_micros=size,
                     cost_micros=buys if has_buy else sells, fees_micros=fees,
                     edge_micros=settle * size + sells - buys - fees)


def _tradable(info: MarketInfo) -> bool:
    return info.active and not info.closed and info.accepting_orders


def reference_detect(
    registry: MarketRegistry, books: Mapping[str, BookView], token_ids: Iterable[str],
    config: DetectionConfig, cap_size: int | None = None, cap_capital: int | None = None,
) -> list[Candidate]:
    """Every strategy on every touched market and group, sized by brute force."""
    out: list[Candidate] = []

    def fees_of(info: MarketInfo) -> FeeSchedule:
        return config.fees_override if config.fees_override is not None else info.fees

    def try_set(strategy: Strategy, mid: str, bks: list[BookView], fs: list[FeeSchedule],
                side: str, settle: int, min_size: int) -> None:
        if not all(_spread_ok(b, config) for b in bks):
            return
        legs = [(b, side, f) for b, f in zip(bks, fs, strict=True)]
        sized = reference_size(legs, settle, min_size, config, cap_size, cap_capital)
        if sized is not None:
            out.append(_candidate(strategy, mid, sized, settle))

    tokens = list(token_ids)
    cids = sorted({c for t in tokens if (c := registry.market_of(t)) is not None})
    for cid in cids:
        info = registry.market(cid)
        assert info is not None
        if not _tradable(info):
            continue
        bks = [books.get(t.token_id) for t in info.tokens]
        live = [b for b in bks if b is not None and b.usable]
        for b in live:
            sized = reference_size([(b, "BUY", fees_of(info)), (b, "SELL", fees_of(info))], 0,
                                   info.min_order_size_micros, config, cap_size, cap_capital)
            if sized is not None:
                out.append(_candidate("crossed_book", cid, sized, 0))
        if len(live) == 2:
            fs = [fees_of(info)] * 2
            try_set("complete_set_buy", cid, live, fs, "BUY", 1, info.min_order_size_micros)
            if config.complete_set_sell_enabled:
                try_set("complete_set_sell", cid, live, fs, "SELL", -1,
                        info.min_order_size_micros)
    gids = sorted({g for t in tokens for g in registry.groups_of(t)})
    for gid in gids:
        infos = [registry.market(c) for c in registry.group_markets(gid)]
        members = [i for i in infos if i is not None]
        if len(members) < 2 or not all(_tradable(i) for i in members):
            continue
        if any(i.neg_risk_augmented for i in members) and not config.include_augmented:
            continue
        bks = [books.get(t) for t in registry.group_tokens(gid)]
        if not all(b is not None and b.usable for b in bks):
            continue
        live_books = [b for b in bks if b is not None]
        fs = [fees_of(i) for i in members]
        min_size = max(i.min_order_size_micros for i in members)
        try_set("neg_risk_buy", gid, live_books, fs, "BUY", 1, min_size)
        if config.complete_set_sell_enabled:
            try_set("neg_risk_sell", gid, live_books, fs, "SELL", -1, min_size)
    out.sort(key=lambda c: (c.market_id, c.strategy, c.legs[0].token_id))
    return out


# -- builders shared by the core detection tests ---------------------------------------------


def binary_market(
    cid: str, yes: str | None = None, no: str | None = None, *, rate: str = "0",
    exponent: int = 1, min_size: int = 5_000_000, **fields: object,
) -> MarketInfo:
    """A two-token market `cid` with tokens `<cid>-yes` / `<cid>-no` unless named."""
    return MarketInfo(
        condition_id=cid,
        tokens=(TokenInfo(token_id=yes or f"{cid}-yes", outcome="Yes"),
                TokenInfo(token_id=no or f"{cid}-no", outcome="No")),
        tick_size_micros=10_000, min_order_size_micros=min_size,
        fees=FeeSchedule(rate=Decimal(rate), exponent=exponent), **fields,  # type: ignore[arg-type]
    )


def group_markets(gid: str, n: int, *, rate: str = "0", exponent: int = 1,
                  augmented: bool = False, min_size: int = 5_000_000) -> list[MarketInfo]:
    """n neg-risk markets of group `gid`: conditions `<gid>-0`.. with YES `<gid>-0-yes`.."""
    return [binary_market(f"{gid}-{i}", rate=rate, exponent=exponent, min_size=min_size,
                          neg_risk=True, neg_risk_market_id=gid, neg_risk_augmented=augmented)
            for i in range(n)]
