# Pre-trade risk gates: every gate blocks with the right gate/limit/observed and allows the value
# just within its limit; breaker semantics; exposure attribution; the capacity cap detection sizes
# to, checked against check() itself.
#
# Rules: a hand-written ExposureView stub (plain dataclass) and candidates built here with exact
# single-level prices, so every expected number is computed by hand.
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.breaker import BreakerConfig
from polyarb.core.risk import (
    GATE_UNITS,
    GATES,
    RiskConfig,
    capacity_micros,
    check,
    check_all,
    check_unwind,
    gate_value,
)
from polyarb.core.types import Candidate
from polyarb.events.decisions import BreakerState, Leg
from polyarb.events.inputs import Side

M = 1_000_000
CFG = RiskConfig()  # $50 market, $100 group, $150 total, 3 positions, 5..1000 shares, $1 min


@dataclass
class StubExposure:
    """ExposureView over plain dicts."""

    markets: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    total: int = 0
    positions: int = 0

    def market_exposure_micros(self, market_id: str) -> int:
        return self.markets.get(market_id, 0)

    def group_exposure_micros(self, group_id: str) -> int:
        return self.groups.get(group_id, 0)

    def total_exposure_micros(self) -> int:
        return self.total

    def open_positions(self) -> int:
        return self.positions


def make(
    size: int = 10 * M,
    prices: tuple[int, ...] = (400_000, 500_000),
    side: Side = "BUY",
    fee_per_share: int = 0,
    market: str = "m1",
) -> Candidate:
    """A candidate whose legs fill at one price each: notional and fee are exact."""
    legs = tuple(
        Leg(token_id=f"t{i}", side=side, limit_price_micros=p, size_micros=size,
            notional_micros=p * size // M, fee_micros=fee_per_share * size // M, epoch=1)
        for i, p in enumerate(prices))
    cost = sum(leg.notional_micros for leg in legs)
    fees = sum(leg.fee_micros for leg in legs)
    return Candidate(strategy="complete_set_buy" if side == "BUY" else "complete_set_sell",
                     market_id=market, legs=legs, size_micros=size, cost_micros=cost,
                     fees_micros=fees, edge_micros=size - cost - fees)


# gate, blocking (candidate, exposure, state, config, extra kwargs), the same just within the
# limit, expected limit, expected observed. A $9 candidate (10 shares at 0.40 + 0.50) unless noted.
def _case(cand: Candidate | None = None, exp: StubExposure | None = None,
          state: BreakerState = "ACTIVE", cfg: RiskConfig = CFG, **kw: Any) -> dict[str, Any]:
    return {"candidate": cand or make(), "exposure": exp or StubExposure(), "state": state,
            "config": cfg, "kw": kw}


GATE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, int]] = [
    ("breaker_halted", _case(state="HALTED"), _case(), 0, 2),
    ("breaker_reducing", _case(state="REDUCING"), _case(), 0, 1),
    ("min_order_size", _case(make(size=4_990_000)), _case(make(size=5 * M)), 5 * M, 4_990_000),
    ("min_order_size", _case(make(size=5 * M), venue_min_size_micros=6 * M),
     _case(make(size=6 * M), venue_min_size_micros=6 * M), 6 * M, 5 * M),
    ("min_order_notional", _case(make(size=9_990_000, prices=(100_000, 900_000))),
     _case(make(size=10 * M, prices=(100_000, 900_000))), M, 999_000),
    ("max_order_size", _case(make(size=20_010_000), cfg=RiskConfig(max_order_size_micros=20 * M)),
     _case(make(size=20 * M), cfg=RiskConfig(max_order_size_micros=20 * M)), 20 * M, 20_010_000),
    ("max_open_positions", _case(exp=StubExposure(positions=3)),
     _case(exp=StubExposure(positions=2)), 3, 4),
    ("max_market_exposure", _case(exp=StubExposure(markets={"m1": 41_000_001})),
     _case(exp=StubExposure(markets={"m1": 41_000_000})), 50 * M, 50_000_001),
    ("max_group_exposure", _case(exp=StubExposure(groups={"g": 91_000_001}), group_id="g"),
     _case(exp=StubExposure(groups={"g": 91_000_000}), group_id="g"), 100 * M, 100_000_001),
    ("max_total_exposure", _case(exp=StubExposure(total=141_000_001)),
     _case(exp=StubExposure(total=141_000_000)), 150 * M, 150_000_001),
]


def _run(case: dict[str, Any]) -> list[Any]:
    kw = {"group_id": None, **case["kw"]}
    return check_all(case["candidate"], case["exposure"], case["state"], case["config"], **kw)


@pytest.mark.parametrize("case", GATE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(GATE_CASES)])
def test_risk_gate_over_limit_blocks_with_limit_and_observed(case: tuple[Any, ...]) -> None:
    gate, blocking, _, limit, observed = case
    blocks = _run(blocking)
    assert [(b.gate, b.limit, b.observed) for b in blocks] == [(gate, limit, observed)]


@pytest.mark.parametrize("case", GATE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(GATE_CASES)])
def test_risk_gate_just_within_limit_allows(case: tuple[Any, ...]) -> None:
    assert _run(case[2]) == []


def test_risk_gate_cases_cover_every_gate() -> None:
    assert {c[0] for c in GATE_CASES} == set(GATES) == set(GATE_UNITS)


def test_risk_check_reports_first_gate_and_check_all_every_gate_in_order() -> None:
    cand = make(size=4 * M)
    exp = StubExposure(markets={"m1": 50 * M}, total=150 * M, positions=4)
    blocks = check_all(cand, exp, "HALTED", CFG, None)
    assert [b.gate for b in blocks] == ["breaker_halted", "min_order_size",
                                        "max_open_positions", "max_market_exposure",
                                        "max_total_exposure"]
    assert check(cand, exp, "HALTED", CFG, None) == blocks[0]


def test_risk_fees_count_towards_exposure() -> None:
    # $9 of notional + 2 legs x 10 shares x $0.01 fee = $9.20
    cand = make(fee_per_share=10_000)
    assert check(cand, StubExposure(markets={"m1": 40_800_000}), "ACTIVE", CFG, None) is None
    block = check(cand, StubExposure(markets={"m1": 40_800_001}), "ACTIVE", CFG, None)
    assert block is not None and (block.gate, block.observed) == ("max_market_exposure", 50_000_001)


def test_risk_legs_charged_to_their_own_market_with_token_map() -> None:
    cand = make(market="neg")  # t0 costs $4, t1 costs $5
    exp = StubExposure(markets={"a": 46 * M, "b": 45 * M + 1})
    token_market = {"t0": "a", "t1": "b"}
    block = check(cand, exp, "ACTIVE", CFG, "neg", token_market=token_market)
    assert block is not None
    assert (block.gate, block.limit, block.observed) == ("max_market_exposure", 50 * M, 50 * M + 1)
    assert "in b" in block.reason
    exp.markets["b"] = 45 * M
    assert check(cand, exp, "ACTIVE", CFG, "neg", token_market=token_market) is None


def test_risk_sell_only_candidate_adds_no_exposure_or_position() -> None:
    cand = make(side="SELL", prices=(600_000, 500_000))
    exp = StubExposure(markets={"m1": 50 * M}, groups={"g": 100 * M}, total=150 * M, positions=3)
    assert check(cand, exp, "ACTIVE", CFG, "g") is None


def test_risk_buy_into_already_held_market_opens_no_new_position() -> None:
    exp = StubExposure(markets={"m1": M}, total=M, positions=3)
    assert check(make(), exp, "ACTIVE", CFG, None) is None


def test_risk_reducing_blocks_every_new_candidate_even_sells() -> None:
    block = check(make(side="SELL"), StubExposure(), "REDUCING", CFG, None)
    assert block is not None and block.gate == "breaker_reducing"


@pytest.mark.parametrize(
    ("state", "gate"), [("ACTIVE", None), ("REDUCING", None), ("HALTED", "breaker_halted")])
def test_risk_unwind_allowed_unless_halted(state: BreakerState, gate: str | None) -> None:
    block = check_unwind(state)
    assert (block.gate if block is not None else None) == gate


def test_risk_empty_candidate_blocked_not_crashed() -> None:
    cand = Candidate(strategy="crossed_book", market_id="m1", legs=(), size_micros=0,
                     cost_micros=0, fees_micros=0, edge_micros=0)
    assert [b.gate for b in check_all(cand, StubExposure(), "ACTIVE", CFG, None)] == [
        "min_order_size", "min_order_notional"]


def test_risk_gate_value_exact_decimal_per_unit() -> None:
    assert gate_value("max_total_exposure", 150_000_001) == Decimal("150.000001")
    assert gate_value("min_order_size", 4_990_000) == Decimal("4.99")
    assert gate_value("max_open_positions", 4) == Decimal(4)
    assert gate_value("breaker_halted", 2) == Decimal(2)


def test_risk_config_from_breaker_shares_limits() -> None:
    cfg = RiskConfig.from_breaker(BreakerConfig(max_open_positions=7, max_total_exposure_micros=1),
                                  min_order_size_micros=1)
    assert (cfg.max_open_positions, cfg.max_total_exposure_micros) == (7, 1)
    assert cfg.min_order_size_micros == 1
    assert RiskConfig().max_market_exposure_micros == BreakerConfig().max_market_exposure_micros


def test_risk_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="min_order_size_micros"):
        RiskConfig(min_order_size_micros=-1)
    with pytest.raises(ValueError, match="lot_micros"):
        RiskConfig(lot_micros=0)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"max_size": 1}, RiskConfig)


# ---- capacity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "state", "cfg", "cand", "expected"),
    [
        (StubExposure(), "HALTED", CFG, make(), 0),
        (StubExposure(), "REDUCING", CFG, make(), 0),
        (StubExposure(positions=3), "ACTIVE", CFG, make(), 0),
        (StubExposure(markets={"m1": 41 * M}), "ACTIVE", CFG, make(), 10 * M),  # $9 at $0.90
        (StubExposure(markets={"m1": 60 * M}), "ACTIVE", CFG, make(), 0),  # already over
        (StubExposure(total=149 * M), "ACTIVE", CFG, make(), 1_110_000),  # $1 / $0.90, lot floor
        (StubExposure(), "ACTIVE", RiskConfig(max_order_size_micros=7 * M), make(), 7 * M),
        (StubExposure(markets={"m1": 41 * M}), "ACTIVE", CFG, make(fee_per_share=100_000),
         8_180_000),  # $9 at $1.10 per share
        (StubExposure(total=150 * M), "ACTIVE", CFG, make(side="SELL"), 1_000 * M),
    ],
    ids=["halted", "reducing", "positions-full", "market", "over", "total-lot", "max-size",
         "fees", "sell-only"],
)
def test_risk_capacity_cases(
    exp: StubExposure, state: BreakerState, cfg: RiskConfig, cand: Candidate, expected: int,
) -> None:
    assert capacity_micros(cand, exp, state, cfg, None) == expected


@settings(max_examples=300, deadline=None)
@given(
    prices=st.lists(st.integers(1, 999).map(lambda p: p * 1000), min_size=1, max_size=4),
    fee=st.integers(0, 200).map(lambda f: f * 100),
    size=st.integers(500, 100_000).map(lambda k: k * 10_000),
    market_used=st.integers(0, 60 * M),
    group_used=st.integers(0, 110 * M),
    total_used=st.integers(0, 160 * M),
)
def test_risk_capacity_fits_check_and_one_more_lot_does_not(
    prices: list[int], fee: int, size: int, market_used: int, group_used: int, total_used: int,
) -> None:
    # Arrange
    exp = StubExposure(markets={"m1": market_used}, groups={"g": group_used}, total=total_used)
    cfg = RiskConfig(min_order_size_micros=0, min_order_notional_micros=0)
    cap = capacity_micros(make(size, tuple(prices), fee_per_share=fee), exp, "ACTIVE", cfg, "g")
    # Act
    at_cap = check(make(cap, tuple(prices), fee_per_share=fee), exp, "ACTIVE", cfg, "g")
    beyond = check(make(cap + cfg.lot_micros, tuple(prices), fee_per_share=fee), exp, "ACTIVE",
                   cfg, "g")
    # Assert
    assert cap % cfg.lot_micros == 0 and 0 <= cap <= cfg.max_order_size_micros
    assert at_cap is None or cap == 0  # 0: a limit is already exceeded, nothing fits
    assert beyond is not None and beyond.gate != "max_open_positions"


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(0, 2_000).map(lambda k: k * M // 2),
    state=st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]),
    positions=st.integers(0, 4),
    used=st.integers(0, 160 * M),
)
def test_risk_check_is_first_of_check_all_in_gate_order(
    size: int, state: BreakerState, positions: int, used: int,
) -> None:
    exp = StubExposure(markets={"m1": used}, groups={"g": used}, total=used, positions=positions)
    blocks = check_all(make(size), exp, state, CFG, "g")
    gates = [GATES.index(b.gate) for b in blocks]
    assert gates == sorted(gates)
    assert check(make(size), exp, state, CFG, "g") == (blocks[0] if blocks else None)
