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
# 6. Fees: every leg pays the taker fee of its market (or config.fees_override), valued in
#    collateral as polyarb.core.fees defines it. On BUY the venue withholds shares instead: at the
#    fill price that is the same value, but a bought set then holds slightly unequal YES / NO
#    counts (positions track the share-denominated fee; see fees.buy_fee_shares_micros).
# 7. Output order is deterministic: sorted by (market id, strategy, first leg token). A crossed
#    book's cost_micros is its buy leg's notional.
# 8. Speed: for a pair of polyarb.core.book.Book (the engine's books) the fast path of rule 2
#    reads their cached `top_bid` / `top_ask` and decides a quiet market in a handful of integer
#    comparisons; it is the same test as _scan_binary (an empty side's 0 / 1e6 sentinel fails
#    every strategy just as None does) and hands anything else to it. Any other BookView goes
#    through _scan_binary directly. tests/core/test_hotpath.py checks both agree.
# 9. Re-sizing: `on_sized` hands out, with each candidate, the Sizer that sized it (its legs,
#    fee models and limits). Within one input the books do not change, so sizing it again under
#    caps is exactly what `resize` (a fresh detect) returns, without the scan and plan lookups.
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import msgspec

from polyarb.core.book import Book
from polyarb.core.fees import FeeModel, compile_fee, schedule_error
from polyarb.core.markets import BinaryPlan, GroupPlan, MarketRegistry
from polyarb.core.sizing import BPS, MICROS, LegSpec, Limits, SizeWalk
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


# A strategy that passed the best-price fast path: (strategy, market or group id, books, fee
# models, minimum size). Crossed books carry their one book; sets one book per leg.
_Hit = tuple[Strategy, str, tuple[BookView, ...], tuple[FeeModel, ...], int]


def detect(
    registry: MarketRegistry,
    books: Mapping[str, BookView],
    token_ids: Iterable[str],
    config: DetectionConfig,
    *,
    cap_size_micros: int | None = None,
    cap_capital_micros: int | None = None,
    on_evaluate: Callable[[str], None] | None = None,
    on_sized: Callable[[Candidate, Sizer], None] | None = None,
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
        on_sized: called with each candidate found and the Sizer that re-sizes it (rule 9).

    Returns:
        Candidates sorted by (market id, strategy, first leg token).
    """
    bps, sells = config.min_margin_bps, config.complete_set_sell_enabled
    hits: list[_Hit] = []
    plan = registry.sole_plan(token_ids)
    if plan is None:
        markets, groups = registry.plans_touched(token_ids)
        _scan_touched(markets, groups, books, config, on_evaluate, hits)
    else:  # the common frame: one binary market in no basket
        if on_evaluate is not None:
            on_evaluate(plan.market_id)
        if not plan.tradable:
            return []
        t0, t1 = plan.tokens
        b0, b1 = books.get(t0), books.get(t1)
        if type(b0) is Book and type(b1) is Book:
            # _quiet, inlined: the one test most frames end with (rule 8).
            a0, a1, d0, d1 = b0.top_ask, b1.top_ask, b0.top_bid, b1.top_bid
            scale = BPS + bps
            if (scale * (a0 + a1) >= _ONE_BPS and d0 < a0 and d1 < a1
                    and not (sells and BPS * (d0 + d1) > scale * MICROS)):
                return []
        _scan_binary(plan, books, bps, sells, hits)
    if not hits:
        return []  # the common case: nothing survived the fast path
    return _size_hits(hits, config, cap_size_micros, cap_capital_micros, on_sized)


def _scan_touched(
    markets: list[BinaryPlan], groups: list[GroupPlan], books: Mapping[str, BookView],
    config: DetectionConfig, on_evaluate: Callable[[str], None] | None, hits: list[_Hit],
) -> None:
    bps, sells = config.min_margin_bps, config.complete_set_sell_enabled
    for plan in markets:
        if on_evaluate is not None:
            on_evaluate(plan.market_id)
        if plan.tradable and not _quiet(plan, books, bps, sells):
            _scan_binary(plan, books, bps, sells, hits)
    for group in groups:
        if on_evaluate is not None:
            on_evaluate(group.group_id)
        if group.tradable and (config.include_augmented or not group.augmented):
            _scan_group(group, books, bps, sells, hits)


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


def _quiet(plan: BinaryPlan, books: Mapping[str, BookView], bps: int, sells: bool) -> bool:
    """Rule 8: True when _scan_binary would find nothing, decided on two Books' cached tops.

    Liveness does not matter: quiet tops rule out every strategy, so also the subset that
    _scan_binary tries when a book is unusable. False means "not sure" (other BookViews, a
    missing book, a strategy that may pass).
    """
    t0, t1 = plan.tokens
    b0, b1 = books.get(t0), books.get(t1)
    if type(b0) is not Book or type(b1) is not Book:
        return False
    a0, a1, d0, d1 = b0.top_ask, b1.top_ask, b0.top_bid, b1.top_bid
    buy_scale = BPS + bps
    return (buy_scale * (a0 + a1) >= _ONE_BPS and d0 < a0 and d1 < a1
            and not (sells and BPS * (d0 + d1) > buy_scale * MICROS))


def _scan_binary(
    plan: BinaryPlan, books: Mapping[str, BookView], bps: int, sells: bool, hits: list[_Hit]
) -> None:
    b0 = books.get(plan.tokens[0])
    b1 = books.get(plan.tokens[1])
    if b0 is None or b1 is None or not b0.usable or not b1.usable:
        # No complete set without both books; a usable one may still be crossed.
        for book in (b0, b1):
            if book is not None and book.usable:
                _scan_crossed(plan, book, book.best_ask(), book.best_bid(), bps, hits)
        return
    a0, a1, d0, d1 = b0.best_ask(), b1.best_ask(), b0.best_bid(), b1.best_bid()
    if a0 is not None and a1 is not None and (BPS + bps) * (a0 + a1) < _ONE_BPS:
        hits.append(("complete_set_buy", plan.market_id, (b0, b1), (plan.fee, plan.fee),
                     plan.min_size_micros))
    if sells and d0 is not None and d1 is not None and BPS * (d0 + d1) > (BPS + bps) * MICROS:
        hits.append(("complete_set_sell", plan.market_id, (b0, b1), (plan.fee, plan.fee),
                     plan.min_size_micros))
    if a0 is not None and d0 is not None and d0 >= a0:  # inline: the common case is not crossed
        _scan_crossed(plan, b0, a0, d0, bps, hits)
    if a1 is not None and d1 is not None and d1 >= a1:
        _scan_crossed(plan, b1, a1, d1, bps, hits)


def _scan_crossed(
    plan: BinaryPlan, book: BookView, ask: int | None, bid: int | None, bps: int,
    hits: list[_Hit],
) -> None:
    if ask is not None and bid is not None and bid >= ask and BPS * (bid - ask) > bps * ask:
        hits.append(("crossed_book", plan.market_id, (book,), (plan.fee,), plan.min_size_micros))


def _scan_group(
    group: GroupPlan, books: Mapping[str, BookView], bps: int, sells: bool, hits: list[_Hit]
) -> None:
    asks = bids = 0
    buy_ok, sell_ok = True, sells  # bids matter only for the sell mirror
    for tok in group.tokens:
        book = books.get(tok)
        if book is None or not book.usable:
            return  # a basket with any unusable outcome is no basket
        ask = book.best_ask()
        if ask is None:
            buy_ok = False
        else:
            asks += ask
        if sell_ok:
            bid = book.best_bid()
            sell_ok = bid is not None
            bids += bid or 0
    buy_ok = buy_ok and (BPS + bps) * asks < _ONE_BPS
    sell_ok = sell_ok and BPS * bids > (BPS + bps) * MICROS
    if buy_ok or sell_ok:
        found = tuple(books[tok] for tok in group.tokens)
        size = group.min_size_micros
        if buy_ok:
            hits.append(("neg_risk_buy", group.group_id, found, group.fees, size))
        if sell_ok:
            hits.append(("neg_risk_sell", group.group_id, found, group.fees, size))


def _size_hits(
    hits: list[_Hit], config: DetectionConfig, cap_size: int | None, cap_capital: int | None,
    on_sized: Callable[[Candidate, Sizer], None] | None = None,
) -> list[Candidate]:
    """Walk depth for every strategy that survived the fast path; sorted candidates."""
    override = None if config.fees_override is None else compile_fee(config.fees_override)
    out: list[Candidate] = []
    for strategy, market_id, books, fees, min_size in hits:
        legs = _legs(strategy, books, fees, override, config.max_spread_bps)
        if legs is None:
            continue
        sizer = Sizer(strategy, market_id, legs, min_size, config)
        cand = sizer.size(cap_size, cap_capital)
        if cand is not None:
            out.append(cand)
            if on_sized is not None:
                on_sized(cand, sizer)
    out.sort(key=lambda c: (c.market_id, c.strategy, c.legs[0].token_id))
    return out


class Sizer:
    """One strategy that passed the fast path, with its legs: sizes it under any caps (rule 9).

    Args:
        strategy, market_id: the candidate's strategy and market (or group) id.
        legs: its legs, each with its book side best-first and fee model.
        min_size: the market's (or group's) minimum order size in share micros.
        config: the detection thresholds it was found with.
    """

    __slots__ = ("_config", "_legs", "_min_size", "_settle", "_walk", "market_id", "strategy")

    def __init__(self, strategy: Strategy, market_id: str, legs: list[LegSpec], min_size: int,
                 config: DetectionConfig) -> None:
        self.strategy, self.market_id = strategy, market_id
        self._legs, self._min_size, self._config = legs, min_size, config
        self._settle = 0 if strategy == "crossed_book" else 1 if strategy.endswith("_buy") else -1
        self._walk: tuple[int | None, int | None, SizeWalk] | None = None  # (caps, first walk)

    def size(self, cap_size: int | None = None,
             cap_capital: int | None = None) -> Candidate | None:
        """The candidate at the largest size passing every limit and cap; None when none does.

        A smaller size cap than the first call's, under the same capital cap, replays the
        first call's walk (sizing rule 6) instead of walking the books again.
        """
        config = self._config
        caps = [c for c in (config.max_size_micros, cap_size) if c is not None]
        max_size = min(caps) if caps else None
        first = self._walk
        if first is not None and first[1] == cap_capital and (
                first[0] is None or (max_size is not None and max_size <= first[0])):
            sized = first[2].sized(max_size)
        else:
            limits = Limits(
                margin_bps=config.min_margin_bps, min_size_micros=self._min_size,
                max_size_micros=max_size, min_leg_notional_micros=config.min_leg_notional_micros,
                max_capital_micros=cap_capital,
            )
            walk = SizeWalk(self._legs, self._settle, limits)
            if first is None:
                self._walk = (max_size, cap_capital, walk)
            sized = walk.sized()
        if sized is None:
            return None
        return Candidate(
            strategy=self.strategy, market_id=self.market_id, legs=sized.legs,
            size_micros=sized.size_micros, cost_micros=sized.cost_micros,
            fees_micros=sized.fees_micros, edge_micros=sized.edge_micros,
        )


def _legs(
    strategy: Strategy, books: tuple[BookView, ...], fees: tuple[FeeModel, ...],
    override: FeeModel | None, max_spread: int | None,
) -> list[LegSpec] | None:
    """The legs of a strategy, or None when a set leg's spread is too wide."""
    if strategy == "crossed_book":
        book, fee = books[0], override or fees[0]
        return [LegSpec(book.token_id, "BUY", book.asks_ascending(), fee, book.epoch),
                LegSpec(book.token_id, "SELL", book.bids_descending(), fee, book.epoch)]
    if max_spread is not None and not all(_spread_ok(b, max_spread) for b in books):
        return None
    side: Side = "BUY" if strategy.endswith("_buy") else "SELL"
    return [
        LegSpec(book.token_id, side,
                book.asks_ascending() if side == "BUY" else book.bids_descending(),
                override or fee, book.epoch)
        for book, fee in zip(books, fees, strict=True)
    ]


def _spread_ok(book: BookView, max_spread_bps: int) -> bool:
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return False
    # (ask - bid) / mid <= max  <=>  2 * (ask - bid) * BPS <= max * (ask + bid)
    return 2 * (ask - bid) * BPS <= max_spread_bps * (ask + bid)
