# Sizing: how many shares of an arbitrage to take, walking every leg's depth at the SAME share
# count (never equal dollars).
#
# Rules:
# 1. Sizes live on the venue's grid: 0.01 share = STEP_MICROS. Prices are micros per share.
#    A side is walked best-first; empty levels are skipped and the walk ends at the first price
#    outside (0, 1) (books should never hold one; if they do, nothing past it is trusted).
# 2. Reported amounts are rounded per (leg, level) fill in our disfavour: a buy's notional rounds
#    UP to the micro, a sell's proceeds round DOWN, each fee rounds UP to 0.00001.
# 3. A size is accepted on a PESSIMISTIC edge: the exact edge minus ROUNDING_SLACK_MICROS for
#    every (leg, level) it fills, and the exact capital plus 1 micro for every buy level. Every
#    rounded amount is at least that bad, so the reported edge always clears the margin. The
#    exact edge is concave in size (prices only worsen deeper in the book and fee schedules
#    have rate < 1) and the slack only grows, so a constraint that fails while not rising stays
#    failed: the walk stops there. Each stretch of constant prices is solved in closed form,
#    exactly, with integers.
# 4. The chosen size is the largest grid size that passes, within the depth of every leg, the
#    size caps and the capital cap. It must also reach the minimum size, and every leg's rounded
#    notional the minimum notional; both only grow with size, so if the largest passing size
#    misses them no smaller size can meet them.
# 5. settle says what a complete set is worth per share: +1 (bought sets redeem or merge for $1),
#    -1 (sold sets cost $1 each to split) or 0 (no set: a crossed book). Capital is what is paid
#    for buy legs plus, for sold sets, the collateral locked in the split.
# 6. Re-sizing under a smaller size cap reuses the first walk (SizeWalk): a walk capped at u
#    repeats the uncapped walk's segments below u exactly and only clamps the one holding u, so
#    replaying that segment from its recorded start gives the same size as a fresh walk.
from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from polyarb.core.fees import FeeModel
from polyarb.events.decisions import Leg
from polyarb.events.inputs import Side

MICROS = 1_000_000
STEP_MICROS = 10_000
"""The share grid: sizes are multiples of 0.01 share."""
ROUNDING_SLACK_MICROS = 11
"""Worst rounding of one (leg, level) fill: < 1 micro of notional plus < 10 of fee."""
BPS = 10_000


class LegSpec(msgspec.Struct, frozen=True):
    """One leg to size: the levels it walks, best first, and the fee model that prices it."""

    token_id: str
    side: Side
    levels: Sequence[tuple[int, int]]
    fee: FeeModel
    epoch: int


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """The bounds a size must respect. None means unbounded."""

    margin_bps: int
    min_size_micros: int = 0
    max_size_micros: int | None = None
    min_leg_notional_micros: int = 0
    max_capital_micros: int | None = None


class Sized(msgspec.Struct, frozen=True, kw_only=True):
    """A sized opportunity: the legs at the chosen size and its rounded totals."""

    size_micros: int
    legs: tuple[Leg, ...]
    cost_micros: int  # buy legs' notional; sell legs' proceeds when every leg sells
    fees_micros: int
    edge_micros: int
    capital_micros: int


def usable_levels(levels: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The walkable prefix of a side: stops at a price outside (0, 1), skips empty levels."""
    out: list[tuple[int, int]] = []
    for price, size in levels:
        if not 0 < price < MICROS:
            break
        if size > 0:
            out.append((price, size))
    return out


def size_opportunity(legs: Sequence[LegSpec], settle: int, limits: Limits) -> Sized | None:
    """Choose the largest acceptable size for legs taken at one share count.

    Args:
        legs: every leg, each with its book side best-first (asks for BUY, bids for SELL).
            Only the walkable prefix of a side counts (see `usable_levels`).
        settle: +1, -1 or 0: collateral per share of complete set (see module rules).
        limits: margin, minimum and maximum size, minimum leg notional, capital cap.

    Returns:
        The sized opportunity, or None when no size on the grid passes every rule.
    """
    return _finish(legs, settle, limits, largest_size(legs, settle, limits))


def _finish(legs: Sequence[LegSpec], settle: int, limits: Limits, size: int) -> Sized | None:
    """The rounded amounts at the walk's size, or None when a minimum is missed (rule 4)."""
    if size <= 0 or size < -(-limits.min_size_micros // STEP_MICROS) * STEP_MICROS:
        return None
    sized = evaluate(legs, settle, size)
    floor = limits.min_leg_notional_micros
    for leg in sized.legs:
        if leg.notional_micros < floor:
            return None
    _check(sized, limits)
    return sized


class _Cursor:
    """One leg's position in its book side, with its current level's scaled slopes."""

    __slots__ = ("buy", "fee", "fee_mult", "i", "left", "levels", "pscale", "sc", "se")

    def __init__(self, leg: LegSpec, scale: int) -> None:
        self.levels = leg.levels
        self.buy = leg.side == "BUY"
        fee = leg.fee
        self.fee = None if fee.free else fee  # None: no fee term (see _scale)
        self.fee_mult = 0 if fee.free else scale // fee.denominator
        self.pscale = scale // MICROS
        self.i = -1
        self.left = self.se = self.sc = 0

    def advance(self) -> bool:
        """Move to the next walkable level; False when the side is exhausted."""
        levels = self.levels
        i = self.i + 1
        while i < len(levels):
            price, size = levels[i]
            if not 0 < price < MICROS:
                break
            if size > 0:
                self.i, self.left = i, size
                model = self.fee
                fee = 0 if model is None else model.fee_per_share_numerator(price) * self.fee_mult
                cost = price * self.pscale
                # Per micro-share, times scale: a buy pays price + fee, a sell gets price - fee.
                self.se = -(cost + fee) if self.buy else cost - fee
                self.sc = cost if self.buy else 0
                return True
            i += 1
        self.i, self.left, self.se, self.sc = len(levels), 0, 0, 0
        return False


def largest_size(legs: Sequence[LegSpec], settle: int, limits: Limits) -> int:
    """Largest grid size passing the pessimistic criterion within depth and caps (0: none).

    Walks stretches of constant prices ("segments"). Amounts are exact integers scaled by
    `scale` (a multiple of every fee denominator that can be non-zero, see _scale), so nothing
    is rounded until reporting.
    """
    return _walk(legs, settle, limits, None)


# One segment of a walk, as it started: (pos, full length, e0, c0, se, sc, best before it,
# best after it). Enough to replay it clamped to a smaller cap (rule 6).
_Segment = tuple[int, int, int, int, int, int, int, int]


def _walk(legs: Sequence[LegSpec], settle: int, limits: Limits,
          trace: list[_Segment] | None) -> int:
    """largest_size's walk; records every segment in `trace` when given."""
    scale = _scale(legs)
    cursors = [_Cursor(leg, scale) for leg in legs]
    se, sc, n_buy = settle * scale, scale if settle < 0 else 0, 0
    for c in cursors:  # plain loops, not sum() of generators: this runs once per detection
        if not c.advance():
            return 0
        se, sc, n_buy = se + c.se, sc + c.sc, n_buy + c.buy
    upper = _upper(limits)
    cap_limit = None if limits.max_capital_micros is None else limits.max_capital_micros * scale
    bps = limits.margin_bps
    n_levels = len(cursors)  # (leg, level) pairs filled
    pos = edge = cap = best = 0
    while pos < upper:
        seg = upper - pos
        for c in cursors:
            if c.left < seg:
                seg = c.left
        e0 = edge - n_levels * ROUNDING_SLACK_MICROS * scale
        c0 = cap + n_buy * scale
        g0, gs = BPS * e0 - bps * c0, BPS * se - bps * sc
        before = best
        best = _segment_best(pos, seg, e0, c0, se, sc, bps, cap_limit, best)
        if trace is not None:
            trace.append((pos, seg, e0, c0, se, sc, before, best))
        pos, edge, cap = pos + seg, edge + se * seg, cap + sc * seg
        # Slopes only fall and slack only grows from here: a failed, non-rising
        # constraint stays failed (rule 3).
        if (se <= 0 and e0 + se * seg < 1) or (gs <= 0 and g0 + gs * seg < 0):
            break
        if cap_limit is not None and c0 + sc * seg > cap_limit:
            break
        for c in cursors:
            c.left -= seg
            if c.left == 0:
                se, sc = se - c.se, sc - c.sc
                if not c.advance():
                    return best  # this leg's depth is exhausted
                se, sc = se + c.se, sc + c.sc
                n_levels, n_buy = n_levels + 1, n_buy + c.buy
    return best


def _segment_best(pos: int, seg: int, e0: int, c0: int, se: int, sc: int, bps: int,
                  cap_limit: int | None, best: int) -> int:
    """The best size after one segment of `seg` micro-shares starting at `pos` (rule 3)."""
    # Constraints on d in [1, seg]: e0 + se*d >= 1, BPS*(e0+se*d) - bps*(c0+sc*d) >= 0,
    # cap_limit - (c0 + sc*d) >= 0; each is linear, so the set is an interval.
    lo, hi = _solve(e0 - 1, se, 1, seg)
    lo, hi = _solve(BPS * e0 - bps * c0, BPS * se - bps * sc, lo, hi)
    if cap_limit is not None:
        lo, hi = _solve(cap_limit - c0, -sc, lo, hi)
    top = (pos + hi) // STEP_MICROS * STEP_MICROS
    return top if lo <= hi and top >= pos + lo else best


class SizeWalk:
    """One walk of some legs, kept to size them again under smaller size caps (rule 6).

    Args:
        legs, settle, limits: as for size_opportunity; limits bound every later re-size too.
    """

    __slots__ = ("_bps", "_cap_limit", "_legs", "_limits", "_settle", "_trace", "_upper", "size")

    def __init__(self, legs: Sequence[LegSpec], settle: int, limits: Limits) -> None:
        self._legs, self._settle, self._limits = legs, settle, limits
        self._trace: list[_Segment] = []
        self.size = _walk(legs, settle, limits, self._trace)
        self._upper = _upper(limits)
        cap = limits.max_capital_micros
        self._bps, self._cap_limit = limits.margin_bps, None if cap is None else cap * _scale(legs)

    def sized(self, max_size_micros: int | None = None) -> Sized | None:
        """size_opportunity's result with max_size_micros lowered to this cap (None: as walked)."""
        limits, size = self._limits, self.size
        if max_size_micros is not None and _grid(max_size_micros) < self._upper:
            limits = msgspec.structs.replace(limits, max_size_micros=max_size_micros)
            size = self._capped(_grid(max_size_micros))
        return _finish(self._legs, self._settle, limits, size)

    def _capped(self, upper: int) -> int:
        """The walk's size had it stopped at `upper` (< the walked upper)."""
        found = 0
        for pos, seg, e0, c0, se, sc, before, after in self._trace:
            if pos >= upper:
                break
            if pos + seg <= upper:
                found = after
                continue
            return _segment_best(pos, upper - pos, e0, c0, se, sc, self._bps, self._cap_limit,
                                 before)
        return found


def _grid(size: int) -> int:
    return max(0, size) // STEP_MICROS * STEP_MICROS


def _scale(legs: Sequence[LegSpec]) -> int:
    """A multiple of MICROS and of every fee denominator that can be non-zero.

    A free fee's numerator is always 0, so its denominator need not divide the scale: the
    amounts stay exact, and smaller integers are cheaper (every result is scale-invariant).
    """
    scale = MICROS
    for leg in legs:
        fee = leg.fee
        if not fee.free:
            scale = math.lcm(scale, fee.denominator)
    return scale


def _upper(limits: Limits) -> int:
    return _grid(1 << 62 if limits.max_size_micros is None else limits.max_size_micros)


def _solve(a: int, b: int, lo: int, hi: int) -> tuple[int, int]:
    """Narrow [lo, hi] to the integers d with a + b*d >= 0."""
    if b > 0:
        lo = max(lo, -(a // b))  # d >= ceil(-a / b)
    elif b < 0:
        hi = min(hi, a // -b)  # d <= floor(a / -b)
    elif a < 0:
        hi = lo - 1
    return lo, hi


def evaluate(legs: Sequence[LegSpec], settle: int, size: int) -> Sized:
    """Rounded amounts of taking `size` micro-shares on every leg (size within every depth)."""
    out: list[Leg] = []
    buy_total = sell_total = fees = 0
    any_buy = False
    for leg in legs:
        res = _walk_leg(leg, size)
        out.append(res)
        fees += res.fee_micros
        if leg.side == "BUY":
            any_buy = True
            buy_total += res.notional_micros
        else:
            sell_total += res.notional_micros
    edge = settle * size + sell_total - buy_total - fees
    capital = buy_total + (size if settle < 0 else 0)
    return Sized(
        size_micros=size, legs=tuple(out), cost_micros=buy_total if any_buy else sell_total,
        fees_micros=fees, edge_micros=edge, capital_micros=capital,
    )


def _walk_leg(leg: LegSpec, size: int) -> Leg:
    left = size
    notional = fee = worst = 0
    buy = leg.side == "BUY"
    model = None if leg.fee.free else leg.fee  # a free fee is 0 at every level
    for price, avail in leg.levels:
        if left <= 0 or not 0 < price < MICROS:
            break
        if avail <= 0:
            continue
        take = left if left < avail else avail
        left -= take
        worst = price
        if model is not None:
            fee += model.fee_micros(take, price)
        # Costs round up, proceeds round down (rule 2).
        notional += -(-price * take // MICROS) if buy else price * take // MICROS
    if left > 0:
        raise ValueError(f"size {size} exceeds the depth of {leg.token_id}")
    return Leg(
        token_id=leg.token_id, side=leg.side, limit_price_micros=worst, size_micros=size,
        notional_micros=notional, fee_micros=fee, epoch=leg.epoch,
    )


def _check(sized: Sized, limits: Limits) -> None:
    # Rule 3 guarantees these; a failure is a bug in the walk, so refuse loudly.
    ok = sized.edge_micros > 0 and (
        BPS * sized.edge_micros >= limits.margin_bps * sized.capital_micros
    )
    if limits.max_capital_micros is not None:
        ok = ok and sized.capital_micros <= limits.max_capital_micros
    if not ok:
        raise ArithmeticError(f"sizing invariant broken: {sized}")
