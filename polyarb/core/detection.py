# Arbitrage detection over the markets a frame touched.
#
# Rules:
# 1. Incremental: only the binary markets and neg-risk groups of the given tokens are looked at,
#    so the cost of a call never grows with the number of markets registered.
# 2. Fast path first: every strategy is rejected on best prices alone (a few integer
#    comparisons, no fees, no depth) whenever even a fee-free first share misses the margin.
#    Only survivors walk depth (polyarb.core.sizing); most frames open nothing.
# 3. Strategies: complete_set_buy (YES ask + NO ask < 1), complete_set_sell (bids > 1, only when
#    complete_set_sell_enabled: it needs inventory or a split), neg_risk_buy / neg_risk_sell (the
#    same over every remaining YES of a group; sell only when enabled; augmented groups only
#    when included), crossed_book (bid >= ask inside one token: a data anomaly, always
#    reported when it sizes; the engine trades it only if crossed_book_trading_enabled).
# 4. Skipped: closed / inactive / not-accepting markets, groups with any such outcome, missing or
#    unusable books, and any set leg whose spread (ask-bid)/mid exceeds max_spread_bps (a leg
#    with an empty side has no spread and is skipped too).
# 5. The margin is edge / capital (capital: what buy legs cost; for sold sets the $1 per set
#    locked in the split). The minimum notional applies per leg (the venue's minimums are per
#    order), as does the market's minimum order size in shares.
# 6. Output order is deterministic: sorted by (market id, strategy, first leg token).
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import msgspec

from polyarb.core.fees import FeeModel, compile_fee, schedule_error
from polyarb.core.markets import BinaryPlan, GroupPlan, MarketRegistry
from polyarb.core.sizing import BPS, MICROS, LegSpec, Limits, size_opportunity
from polyarb.core.types import BookView, Candidate
from polyarb.events.decisions import Strategy
from polyarb.events.inputs import FeeSchedule, Side

_ONE_BPS = MICROS * BPS  # $1 per share, times BPS


class DetectionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What counts as an opportunity. Amounts in micro-units, ratios in basis points."""

    min_margin_bps: int = 200  # edge / capital >= 2%
    min_leg_notional_micros: int = 10 * MICROS  # per leg: the venue's minimums are per order
    max_spread_bps: int | None = 5_000  # skip a leg whose (ask - bid) / mid exceeds 50%
    max_size_micros: int | None = 1_000 * MICROS  # shares per opportunity
    complete_set_sell_enabled: bool = False  # sell strategies need inventory or a split
    crossed_book_trading_enabled: bool = False  # read by the engine; detection always reports
    include_augmented: bool = False
    fees_override: FeeSchedule | None = None  # replaces every market's schedule when set

    def __post_init__(self) -> None:
        bad = [name for name in ("min_margin_bps", "min_leg_notional_micros")
               if getattr(self, name) < 0]
        bad += [name for name in ("max_spread_bps", "max_size_micros")
                if getattr(self, name) is not None and getattr(self, name) < 0]
        if bad:
            raise ValueError(f"negative detection setting: {', '.join(bad)}")
        if self.fees_override is not None and (err := schedule_error(self.fees_override)):
            raise ValueError(f"fees_override: {err}")


def tradable(candidate: Candidate, config: DetectionConfig) -> bool:
    """Whether the engine may trade a candidate: crossed books only when enabled."""
    if candidate.strategy == "crossed_book":
        return config.crossed_book_trading_enabled
    return True


class _Ctx:
    """Per-call settings shared by the strategy checks."""

    __slots__ = ("books", "bps", "cap_capital", "cap_size", "config", "out", "override")

    def __init__(
        self, books: Mapping[str, BookView], config: DetectionConfig,
        cap_size: int | None, cap_capital: int | None,
    ) -> None:
        self.books = books
        self.config = config
        self.bps = config.min_margin_bps
        self.cap_size = cap_size
        self.cap_capital = cap_capital
        over = config.fees_override
        self.override: FeeModel | None = None if over is None else compile_fee(over)
        self.out: list[Candidate] = []

    def limits(self, min_size: int) -> Limits:
        caps = [c for c in (self.config.max_size_micros, self.cap_size) if c is not None]
        return Limits(
            margin_bps=self.bps, min_size_micros=min_size,
            max_size_micros=min(caps) if caps else None,
            min_leg_notional_micros=self.config.min_leg_notional_micros,
            max_capital_micros=self.cap_capital,
        )


def detect(
    registry: MarketRegistry,
    books: Mapping[str, BookView],
    token_ids: Iterable[str],
    config: DetectionConfig,
    *,
    cap_size_micros: int | None = None,
    cap_capital_micros: int | None = None,
    on_evaluate: Callable[[str], None] | None = None,
) -> list[Candidate]:
    """Find sized arbitrages in the markets and groups touched by some tokens.

    Args:
        registry: market metadata.
        books: token id -> book; a missing book counts as unusable.
        token_ids: tokens whose books changed (duplicates and unknown tokens are fine).
        config: thresholds and switches.
        cap_size_micros: external cap on shares per opportunity (e.g. risk's capacity).
        cap_capital_micros: external cap on capital per opportunity.
        on_evaluate: called with each market or group id evaluated (tests count calls).

    Returns:
        Candidates sorted by (market id, strategy, first leg token).
    """
    ctx = _Ctx(books, config, cap_size_micros, cap_capital_micros)
    touched = registry.touched(token_ids)
    for cid in touched.markets:
        plan = registry.binary_plan(cid)
        if plan is not None:
            if on_evaluate is not None:
                on_evaluate(cid)
            if plan.tradable:
                _binary(ctx, plan)
    for gid in touched.groups:
        group = registry.group_plan(gid)
        if group is not None:
            if on_evaluate is not None:
                on_evaluate(gid)
            if group.tradable and (config.include_augmented or not group.augmented):
                _group(ctx, group)
    ctx.out.sort(key=lambda c: (c.market_id, c.strategy, c.legs[0].token_id))
    return ctx.out


def resize(
    candidate: Candidate,
    registry: MarketRegistry,
    books: Mapping[str, BookView],
    config: DetectionConfig,
    *,
    cap_size_micros: int | None = None,
    cap_capital_micros: int | None = None,
) -> Candidate | None:
    """Size one candidate again under external caps (e.g. risk's capacity_micros).

    Re-runs detection on the candidate's tokens and keeps the same strategy, market and first
    leg, so the result is exactly what `detect` returns with those caps.

    Returns:
        The re-sized candidate, or None when nothing on the grid passes under the caps.
    """
    found = detect(
        registry, books, [leg.token_id for leg in candidate.legs], config,
        cap_size_micros=cap_size_micros, cap_capital_micros=cap_capital_micros,
    )
    key = (candidate.strategy, candidate.market_id, candidate.legs[0].token_id)
    for cand in found:
        if (cand.strategy, cand.market_id, cand.legs[0].token_id) == key:
            return cand
    return None


def _binary(ctx: _Ctx, plan: BinaryPlan) -> None:
    b0 = ctx.books.get(plan.tokens[0])
    b1 = ctx.books.get(plan.tokens[1])
    if b0 is not None and b0.usable:
        _check_crossed(ctx, plan, b0)
    else:
        b0 = None
    if b1 is not None and b1.usable:
        _check_crossed(ctx, plan, b1)
        if b0 is not None:
            _check_sets(ctx, plan, b0, b1)


def _check_sets(ctx: _Ctx, plan: BinaryPlan, b0: BookView, b1: BookView) -> None:
    a0, a1 = b0.best_ask(), b1.best_ask()
    fees = (plan.fee, plan.fee)
    if a0 is not None and a1 is not None and (BPS + ctx.bps) * (a0 + a1) < _ONE_BPS:
        _set(ctx, "complete_set_buy", plan.market_id, (b0, b1), fees, plan.min_size_micros)
    if not ctx.config.complete_set_sell_enabled:
        return
    d0, d1 = b0.best_bid(), b1.best_bid()
    if d0 is not None and d1 is not None and BPS * (d0 + d1) > (BPS + ctx.bps) * MICROS:
        _set(ctx, "complete_set_sell", plan.market_id, (b0, b1), fees, plan.min_size_micros)


def _check_crossed(ctx: _Ctx, plan: BinaryPlan, book: BookView) -> None:
    ask, bid = book.best_ask(), book.best_bid()
    if ask is not None and bid is not None and BPS * (bid - ask) > ctx.bps * ask:
        _crossed(ctx, plan, book)


def _group(ctx: _Ctx, group: GroupPlan) -> None:
    books: list[BookView] = []
    asks: int | None = 0
    bids: int | None = 0
    for tok in group.tokens:
        book = ctx.books.get(tok)
        if book is None or not book.usable:
            return  # a basket with any unusable outcome is no basket
        books.append(book)
        ask, bid = book.best_ask(), book.best_bid()
        asks = asks + ask if asks is not None and ask is not None else None
        bids = bids + bid if bids is not None and bid is not None else None
    if asks is not None and (BPS + ctx.bps) * asks < _ONE_BPS:
        _set(ctx, "neg_risk_buy", group.group_id, books, group.fees, group.min_size_micros)
    if (ctx.config.complete_set_sell_enabled and bids is not None
            and BPS * bids > (BPS + ctx.bps) * MICROS):
        _set(ctx, "neg_risk_sell", group.group_id, books, group.fees, group.min_size_micros)


def _set(
    ctx: _Ctx, strategy: Strategy, market_id: str, books: Sequence[BookView],
    fees: Sequence[FeeModel], min_size: int,
) -> None:
    max_spread = ctx.config.max_spread_bps
    if max_spread is not None and not all(_spread_ok(b, max_spread) for b in books):
        return
    side: Side = "BUY" if strategy.endswith("_buy") else "SELL"
    legs = [
        LegSpec(book.token_id, side, _side_levels(book, side), ctx.override or fee, book.epoch)
        for book, fee in zip(books, fees, strict=True)
    ]
    _emit(ctx, strategy, market_id, legs, 1 if side == "BUY" else -1, min_size)


def _crossed(ctx: _Ctx, plan: BinaryPlan, book: BookView) -> None:
    fee = ctx.override or plan.fee
    legs = [
        LegSpec(book.token_id, "BUY", book.asks_ascending(), fee, book.epoch),
        LegSpec(book.token_id, "SELL", book.bids_descending(), fee, book.epoch),
    ]
    _emit(ctx, "crossed_book", plan.market_id, legs, 0, plan.min_size_micros)


def _emit(
    ctx: _Ctx, strategy: Strategy, market_id: str, legs: Sequence[LegSpec], settle: int,
    min_size: int,
) -> None:
    sized = size_opportunity(legs, settle, ctx.limits(min_size))
    if sized is None:
        return
    ctx.out.append(Candidate(
        strategy=strategy, market_id=market_id, legs=sized.legs, size_micros=sized.size_micros,
        cost_micros=sized.cost_micros, fees_micros=sized.fees_micros,
        edge_micros=sized.edge_micros,
    ))


def _side_levels(book: BookView, side: Side) -> Sequence[tuple[int, int]]:
    return book.asks_ascending() if side == "BUY" else book.bids_descending()


def _spread_ok(book: BookView, max_spread_bps: int) -> bool:
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return False
    # (ask - bid) / mid <= max  <=>  2 * (ask - bid) * BPS <= max * (ask + bid)
    return 2 * (ask - bid) * BPS <= max_spread_bps * (ask + bid)
