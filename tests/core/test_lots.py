# Cent lots: every BUY leg's collateral (limit price x shares) lands on whole cents, so the
# venue never rounds one leg of a set short.
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from polyarb.core.lots import cent_lot_micros, fit_to_cents
from polyarb.core.types import Candidate
from polyarb.events.decisions import Leg


def _cand(prices: list[int], size: int) -> Candidate:
    legs = tuple(
        Leg(token_id=str(i), side="BUY", limit_price_micros=p, size_micros=size,
            notional_micros=p * size // 1_000_000, fee_micros=0, epoch=1)
        for i, p in enumerate(prices))
    return Candidate(strategy="neg_risk_buy", market_id="g", legs=legs, size_micros=size,
                     cost_micros=0, fees_micros=0, edge_micros=0)


def test_cent_lot_known_prices() -> None:
    assert cent_lot_micros(200_000) == 50_000  # 0.20 x 0.05 = $0.01
    assert cent_lot_micros(340_000) == 500_000
    assert cent_lot_micros(430_000) == 1_000_000
    assert cent_lot_micros(500_000) == 20_000
    assert cent_lot_micros(1_000) == 10_000_000  # 0.001 tick: 10 shares


@given(st.integers(min_value=1, max_value=999_999), st.integers(min_value=1, max_value=10_000))
def test_cent_lot_cost_is_whole_cents_and_minimal(price: int, k: int) -> None:
    lot = cent_lot_micros(price)
    assert lot % 10_000 == 0
    assert (price * lot * k) % (10_000 * 1_000_000) == 0
    smaller = lot - 10_000
    assert smaller == 0 or (price * smaller) % (10_000 * 1_000_000) != 0


@given(st.lists(st.integers(min_value=1, max_value=99).map(lambda c: c * 10_000),
                min_size=2, max_size=6),
       st.integers(min_value=1, max_value=100_000).map(lambda k: k * 10_000))
def test_fit_to_cents_every_leg_costs_whole_cents(prices: list[int], size: int) -> None:
    def resize(c: Candidate, cap: int) -> Candidate | None:
        return _cand([g.limit_price_micros for g in c.legs], cap)

    fitted = fit_to_cents(_cand(prices, size), resize)

    if fitted is None:
        return
    assert fitted.size_micros <= size
    for leg in fitted.legs:
        assert (leg.limit_price_micros * fitted.size_micros) % (10_000 * 1_000_000) == 0
