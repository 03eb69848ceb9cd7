# Share lots that keep every BUY leg's collateral on whole cents.
#
# The venue takes a marketable (FOK/FAK) BUY's collateral amount with at most 2 decimals. An
# order for s shares at limit price p costs p*s; when that is not whole cents the client must
# round it down and the fill comes back a few hundredths of a share short on that leg only,
# which legs a complete set. So the engine sizes every opportunity in lots whose cost is whole
# cents at each BUY leg's limit price: all legs still trade the same share count.
#
# Rules: pure integer math on micro-units; the lot is a multiple of the 0.01-share size grid.
from __future__ import annotations

from collections.abc import Callable
from math import gcd

from polyarb.core.types import BUY, Candidate

MICROS = 1_000_000
SIZE_GRID_MICROS = 10_000  # the venue's share grid: 0.01 share
CENT_MICROS = 10_000  # one cent of collateral in micro-dollars


def cent_lot_micros(price_micros: int) -> int:
    """Smallest share step (micros, on the 0.01 grid) whose cost at this price is whole cents.

    Example: 0.20 -> 0.05 share; 0.34 -> 0.5 share; 0.43 -> 1 share.
    """
    # cost_micros = price * size / 1e6 must be a multiple of 1e4 with size = k * 1e4
    #   <=> price * k multiple of 1e6  <=>  k multiple of 1e6 / gcd(price, 1e6)
    k = MICROS // gcd(price_micros, MICROS)
    return k * SIZE_GRID_MICROS


def candidate_lot_micros(cand: Candidate) -> int:
    """The lot (share micros) that keeps every BUY leg of a candidate on whole cents."""
    lot = SIZE_GRID_MICROS
    for leg in cand.legs:
        if leg.side == BUY:
            step = cent_lot_micros(leg.limit_price_micros)
            lot = lot * step // gcd(lot, step)
    return lot


def fit_to_cents(cand: Candidate,
                 resize: Callable[[Candidate, int], Candidate | None]) -> Candidate | None:
    """Shrink a candidate to a size on its cent lot (re-sized by `resize(cand, cap)`).

    A smaller size may walk fewer levels and so change the limit prices and the lot; a few
    rounds settle it. Returns None when no size on the lot remains.
    """
    for _ in range(4):
        lot = candidate_lot_micros(cand)
        if cand.size_micros % lot == 0:
            return cand
        cap = cand.size_micros - cand.size_micros % lot
        if cap <= 0:
            return None
        resized = resize(cand, cap)
        if resized is None:
            return None
        cand = resized
    return cand if cand.size_micros % candidate_lot_micros(cand) == 0 else None
