# Detection tests: one per strategy and per skip rule on hand-made books, incremental cost
# (counted, not timed), deterministic order, and agreement with the brute-force reference.
from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.detection import DetectionConfig, detect, resize, tradable
from polyarb.core.markets import MarketRegistry
from polyarb.core.types import BookView, Candidate
from polyarb.events.inputs import FeeSchedule, MarketInfo
from tests.core.reference_detector import (
    SimpleBook,
    binary_market,
    group_markets,
    reference_detect,
)

SH = 1_000_000
LOOSE = DetectionConfig(min_leg_notional_micros=0)


def _reg(*markets: MarketInfo) -> MarketRegistry:
    reg = MarketRegistry()
    assert reg.load(markets) == []
    return reg


def _book(token: str, bid: int | None, ask: int | None, size: int = 100 * SH,
          **kw: bool | int) -> SimpleBook:
    return SimpleBook(token, bids=[] if bid is None else [(bid, size)],
                      asks=[] if ask is None else [(ask, size)], **kw)  # type: ignore[arg-type]


def _pair(cid: str, yes: tuple[int | None, int | None], no: tuple[int | None, int | None],
          size: int = 100 * SH) -> dict[str, BookView]:
    return {f"{cid}-yes": _book(f"{cid}-yes", *yes, size=size),
            f"{cid}-no": _book(f"{cid}-no", *no, size=size)}


def _strategies(cands: list[Candidate]) -> list[str]:
    return [c.strategy for c in cands]


# -- complete sets -------------------------------------------------------------------------------


def test_detect_complete_set_buy_fee_free_sizes_whole_depth() -> None:
    # Arrange: asks 0.45 + 0.50 = 0.95 -> 0.05 per share, 5.26% on capital
    reg = _reg(binary_market("c"))
    books = _pair("c", (440_000, 450_000), (490_000, 500_000))
    # Act
    [cand] = detect(reg, books, ["c-yes"], DetectionConfig())
    # Assert
    assert cand.strategy == "complete_set_buy" and cand.market_id == "c"
    assert [leg.token_id for leg in cand.legs] == ["c-yes", "c-no"]
    assert all(leg.side == "BUY" and leg.size_micros == 100 * SH for leg in cand.legs)
    assert cand.cost_micros == 95 * SH and cand.fees_micros == 0 and cand.edge_micros == 5 * SH


def test_detect_complete_set_buy_fees_remove_a_thin_edge() -> None:
    books = _pair("c", (440_000, 450_000), (490_000, 500_000))
    assert detect(_reg(binary_market("c", rate="0.07")), books, ["c-no"], LOOSE) == []


def test_detect_complete_set_buy_fee_enabled_charges_fees_per_leg() -> None:
    # Arrange: asks 0.40 + 0.45 = 0.85, rate 0.07: fees 0.0168 + 0.017325 per share
    reg = _reg(binary_market("c", rate="0.07"))
    books = _pair("c", (390_000, 400_000), (440_000, 450_000))
    # Act
    [cand] = detect(reg, books, ["c-no"], DetectionConfig())
    # Assert
    assert [leg.fee_micros for leg in cand.legs] == [1_680_000, 1_732_500]
    assert cand.fees_micros == 3_412_500
    assert cand.edge_micros == 100 * SH - 85 * SH - 3_412_500


def test_detect_complete_set_sell_only_when_enabled() -> None:
    # Arrange: bids 0.55 + 0.50 = 1.05
    reg = _reg(binary_market("c"))
    books = _pair("c", (550_000, 560_000), (500_000, 510_000))
    enabled = msgspec.structs.replace(LOOSE, complete_set_sell_enabled=True)
    # Act / Assert
    assert detect(reg, books, ["c-yes"], LOOSE) == []
    [cand] = detect(reg, books, ["c-yes"], enabled)
    assert cand.strategy == "complete_set_sell"
    assert all(leg.side == "SELL" for leg in cand.legs)
    assert cand.cost_micros == 105 * SH and cand.edge_micros == 5 * SH


def test_detect_below_margin_is_ignored() -> None:
    # 0.495 + 0.495 = 0.99: 1.01% < 2%
    books = _pair("c", (480_000, 495_000), (480_000, 495_000))
    assert detect(_reg(binary_market("c")), books, ["c-yes"], LOOSE) == []
    zero_margin = msgspec.structs.replace(LOOSE, min_margin_bps=0)
    assert len(detect(_reg(binary_market("c")), books, ["c-yes"], zero_margin)) == 1


# -- neg-risk baskets ---------------------------------------------------------------------------


def _basket(n: int, bid: int | None, ask: int | None, gid: str = "g") -> dict[str, BookView]:
    return {f"{gid}-{i}-yes": _book(f"{gid}-{i}-yes", bid, ask) for i in range(n)}


def test_detect_six_outcome_basket_buy_takes_every_yes() -> None:
    # Arrange: 6 asks at 0.15 = 0.90
    reg = _reg(*group_markets("g", 6))
    # Act
    cands = detect(reg, _basket(6, 140_000, 150_000), ["g-3-yes"], DetectionConfig())
    # Assert
    [cand] = [c for c in cands if c.strategy == "neg_risk_buy"]
    assert cand.market_id == "g"
    assert [leg.token_id for leg in cand.legs] == [f"g-{i}-yes" for i in range(6)]
    assert cand.size_micros == 100 * SH and cand.edge_micros == 10 * SH


def test_detect_basket_sell_only_when_enabled() -> None:
    reg = _reg(*group_markets("g", 6))
    books = _basket(6, 180_000, 190_000)  # bids sum 1.08
    assert detect(reg, books, ["g-0-yes"], LOOSE) == []
    enabled = msgspec.structs.replace(LOOSE, complete_set_sell_enabled=True)
    [cand] = detect(reg, books, ["g-0-yes"], enabled)
    assert cand.strategy == "neg_risk_sell" and cand.edge_micros == 8 * SH


def test_detect_basket_with_an_unusable_or_missing_book_is_skipped() -> None:
    reg = _reg(*group_markets("g", 3))
    books = _basket(3, 250_000, 300_000)
    books["g-1-yes"] = _book("g-1-yes", 250_000, 300_000, usable=False)
    assert detect(reg, books, ["g-0-yes"], LOOSE) == []
    del books["g-1-yes"]
    assert detect(reg, books, ["g-0-yes"], LOOSE) == []


def test_detect_augmented_group_excluded_unless_configured() -> None:
    reg = _reg(*group_markets("g", 3, augmented=True))
    books = _basket(3, 250_000, 300_000)
    assert detect(reg, books, ["g-0-yes"], LOOSE) == []
    included = msgspec.structs.replace(LOOSE, include_augmented=True)
    assert _strategies(detect(reg, books, ["g-0-yes"], included)) == ["neg_risk_buy"]


def test_detect_basket_skips_resolved_no_outcome() -> None:
    reg = _reg(*group_markets("g", 4))
    reg.resolve("g-3", "g-3-no")
    books = _basket(3, 250_000, 300_000)  # no book at all for the resolved outcome
    [cand] = detect(reg, books, ["g-0-yes"], LOOSE)
    assert len(cand.legs) == 3


# -- crossed books ------------------------------------------------------------------------------


def test_detect_crossed_book_reported_but_not_tradable_by_default() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (600_000, 500_000), (540_000, 550_000))  # YES bid 0.60 > ask 0.50
    [cand] = detect(reg, books, ["c-no"], LOOSE)
    assert cand.strategy == "crossed_book"
    assert [(leg.token_id, leg.side) for leg in cand.legs] == [("c-yes", "BUY"), ("c-yes", "SELL")]
    assert cand.edge_micros == 10 * SH
    assert not tradable(cand, LOOSE)
    assert tradable(cand, msgspec.structs.replace(LOOSE, crossed_book_trading_enabled=True))


def test_detect_crossed_book_found_even_if_the_other_book_is_unusable() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (600_000, 500_000), (400_000, 410_000))
    books["c-no"] = _book("c-no", 400_000, 410_000, usable=False)
    assert _strategies(detect(reg, books, ["c-yes"], LOOSE)) == ["crossed_book"]


# -- skip rules ---------------------------------------------------------------------------------


def test_detect_leg_with_spread_above_max_is_skipped() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (100_000, 450_000), (490_000, 500_000))  # YES spread 0.35/0.275 = 127%
    assert detect(reg, books, ["c-yes"], LOOSE) == []
    no_limit = msgspec.structs.replace(LOOSE, max_spread_bps=None)
    assert _strategies(detect(reg, books, ["c-yes"], no_limit)) == ["complete_set_buy"]


def test_detect_leg_with_empty_bid_side_has_no_spread_and_is_skipped() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (None, 450_000), (490_000, 500_000))
    assert detect(reg, books, ["c-yes"], LOOSE) == []


@pytest.mark.parametrize(
    "fields", [{"closed": True}, {"accepting_orders": False}, {"active": False}]
)
def test_detect_untradable_market_is_skipped(fields: dict[str, bool]) -> None:
    reg = _reg(msgspec.structs.replace(binary_market("c"), **fields))
    books = _pair("c", (600_000, 450_000), (490_000, 500_000))
    assert detect(reg, books, ["c-yes"], LOOSE) == []


def test_detect_unusable_or_missing_book_is_skipped() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (440_000, 450_000), (490_000, 500_000))
    books["c-no"] = _book("c-no", 490_000, 500_000, usable=False)
    assert detect(reg, books, ["c-yes"], LOOSE) == []
    del books["c-no"]
    assert detect(reg, books, ["c-yes"], LOOSE) == []


def test_detect_depth_below_market_minimum_size_is_skipped() -> None:
    books = _pair("c", (440_000, 450_000), (490_000, 500_000), size=4_990_000)
    assert detect(_reg(binary_market("c")), books, ["c-yes"], LOOSE) == []
    small_min = binary_market("c", min_size=4_000_000)
    assert len(detect(_reg(small_min), books, ["c-yes"], LOOSE)) == 1


def test_detect_leg_notional_below_ten_dollars_is_skipped() -> None:
    # 20 shares: YES leg 9.00 < $10, NO leg 10.00
    books = _pair("c", (440_000, 450_000), (490_000, 500_000), size=20 * SH)
    assert detect(_reg(binary_market("c")), books, ["c-yes"], DetectionConfig()) == []


def test_detect_fees_override_replaces_market_schedule() -> None:
    books = _pair("c", (440_000, 450_000), (490_000, 500_000))
    override = msgspec.structs.replace(LOOSE, fees_override=FeeSchedule(rate=Decimal("0.25")))
    assert detect(_reg(binary_market("c")), books, ["c-yes"], override) == []


def test_detect_external_caps_bound_the_size() -> None:
    reg = _reg(binary_market("c"))
    books = _pair("c", (440_000, 450_000), (490_000, 500_000))
    [by_size] = detect(reg, books, ["c-yes"], LOOSE, cap_size_micros=12_345_678)
    [by_capital] = detect(reg, books, ["c-yes"], LOOSE, cap_capital_micros=19 * SH)
    small = msgspec.structs.replace(LOOSE, max_size_micros=7 * SH)
    [by_config] = detect(reg, books, ["c-yes"], small)
    assert by_size.size_micros == 12_340_000
    assert by_capital.cost_micros <= 19 * SH and by_capital.size_micros == 19_990_000
    assert by_config.size_micros == 7 * SH
    tiny = msgspec.structs.replace(LOOSE, max_size_micros=SH)  # below the 5-share minimum
    assert detect(reg, books, ["c-yes"], tiny) == []


def test_detection_config_negative_setting_raises() -> None:
    with pytest.raises(ValueError, match="min_margin_bps"):
        DetectionConfig(min_margin_bps=-1)
    with pytest.raises(ValueError, match="fees_override"):
        DetectionConfig(fees_override=FeeSchedule(rate=Decimal(2)))
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"min_margin":1}', type=DetectionConfig)


# -- incremental and deterministic ---------------------------------------------------------------


def test_detect_touching_one_token_evaluates_only_its_market() -> None:
    # Arrange: 200 binary markets and a group, all with open opportunities
    reg = _reg(*(binary_market(f"m{i:03}") for i in range(200)), *group_markets("g", 3))
    books: dict[str, BookView] = {}
    for i in range(200):
        books.update(_pair(f"m{i:03}", (440_000, 450_000), (490_000, 500_000)))
    books.update(_basket(3, 250_000, 300_000))
    seen: list[str] = []
    # Act
    cands = detect(reg, books, ["m123-no"], LOOSE, on_evaluate=seen.append)
    grouped = detect(reg, books, ["g-1-yes", "g-1-yes"], LOOSE, on_evaluate=seen.append)
    # Assert
    assert seen == ["m123", "g-1", "g"]
    assert [c.market_id for c in cands] == ["m123"]
    assert [c.market_id for c in grouped] == ["g"]


def test_detect_output_order_does_not_depend_on_touch_order() -> None:
    reg = _reg(*(binary_market(f"m{i}") for i in range(5)), *group_markets("g", 3))
    books: dict[str, BookView] = {}
    for i in range(5):
        books.update(_pair(f"m{i}", (600_000, 450_000), (490_000, 500_000)))
    books.update(_basket(3, 250_000, 300_000))
    tokens = [f"m{i}-yes" for i in range(5)] + ["g-0-yes"]
    forward = detect(reg, books, tokens, LOOSE)
    backward = detect(reg, books, list(reversed(tokens)), LOOSE)
    assert forward == backward and len(forward) == 11  # 5 x (set + crossed) + basket
    keys = [(c.market_id, c.strategy, c.legs[0].token_id) for c in forward]
    assert keys == sorted(keys)


# -- agreement with the brute-force reference --------------------------------------------------

_cents = st.integers(1, 99)
_side = st.lists(st.tuples(st.integers(0, 4), st.integers(1, 500)), min_size=1, max_size=3)


def _levels(start: int, steps: list[tuple[int, int]], sign: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    price = start
    for gap, size in steps:
        price += sign * gap if out else 0
        if not 1 <= price <= 99:
            break
        out.append((price * 10_000, size * 10_000 + (size % 3) * 3_333))
        price += sign  # next level at least one cent worse
    return out


@st.composite
def _token_book(draw: st.DrawFn, token: str, mid: int) -> SimpleBook:
    ask0 = mid + draw(st.integers(-3, 3))
    bid0 = ask0 - draw(st.integers(-3, 4))  # negative gap: a crossed book
    bids, asks = draw(_side), draw(_side)
    empty = draw(st.integers(0, 19))  # now and then one side is empty
    return SimpleBook(token, bids=_levels(bid0, [] if empty == 1 else bids, -1),
                      asks=_levels(ask0, [] if empty == 2 else asks, 1),
                      usable=draw(st.sampled_from([True] * 9 + [False])), epoch=draw(_cents))


_fee_args = st.sampled_from([("0", 1), ("0.07", 1), ("0.25", 2), ("0.0175", 1)])
_configs = st.builds(
    DetectionConfig, min_margin_bps=st.integers(0, 300),
    min_leg_notional_micros=st.integers(0, SH // 2),
    max_spread_bps=st.sampled_from([None, 5_000, 1_500]),
    max_size_micros=st.one_of(st.none(), st.integers(0, 5 * SH)),
    complete_set_sell_enabled=st.booleans(), include_augmented=st.booleans(),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), mid=st.integers(5, 95), gap=st.integers(-8, 8), fee=_fee_args,
       config=_configs, min_size=st.integers(0, SH),
       cap_size=st.one_of(st.none(), st.integers(0, 6 * SH)))
def test_detect_binary_agrees_with_brute_force(
    data: st.DataObject, mid: int, gap: int, fee: tuple[str, int], config: DetectionConfig,
    min_size: int, cap_size: int | None,
) -> None:
    # Arrange: NO priced near 1 - YES - gap, so sets open and close around the threshold
    reg = _reg(binary_market("c", rate=fee[0], exponent=fee[1], min_size=min_size))
    books: dict[str, BookView] = {
        "c-yes": data.draw(_token_book("c-yes", mid)),
        "c-no": data.draw(_token_book("c-no", max(1, min(99, 100 - mid - gap)))),
    }
    # Act
    fast = detect(reg, books, ["c-no"], config, cap_size_micros=cap_size)
    slow = reference_detect(reg, books, ["c-no"], config, cap_size=cap_size)
    # Assert
    assert fast == slow
    for cand in fast:
        assert cap_size is None or cand.size_micros <= cap_size
        assert config.max_size_micros is None or cand.size_micros <= config.max_size_micros
        for leg in cand.legs:
            book = books[leg.token_id]
            levels = book.asks_ascending() if leg.side == "BUY" else book.bids_descending()
            assert leg.size_micros <= sum(size for _, size in levels)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), mids=st.lists(st.integers(2, 60), min_size=3, max_size=3),
       fee=_fee_args, config=_configs, augmented=st.booleans(),
       cap_capital=st.one_of(st.none(), st.integers(0, 4 * SH)))
def test_detect_basket_agrees_with_brute_force(
    data: st.DataObject, mids: list[int], fee: tuple[str, int], config: DetectionConfig,
    augmented: bool, cap_capital: int | None,
) -> None:
    # Arrange: three outcomes whose prices sum near 1 (scaled), with random books
    scale = 100 / max(1, sum(mids))
    reg = _reg(*group_markets("g", 3, rate=fee[0], exponent=fee[1], augmented=augmented,
                              min_size=0))
    books: dict[str, BookView] = {
        f"g-{i}-yes": data.draw(_token_book(f"g-{i}-yes", max(1, round(m * scale))))
        for i, m in enumerate(mids)
    }
    # Act
    fast = detect(reg, books, ["g-1-yes"], config, cap_capital_micros=cap_capital)
    slow = reference_detect(reg, books, ["g-1-yes"], config, cap_capital=cap_capital)
    # Assert: the basket and the outcome's own market (crossed books) agree
    assert fast == slow


def test_resize_applies_an_external_cap_to_one_candidate() -> None:
    # Arrange: two markets with opportunities; resize only the second
    reg = _reg(binary_market("a"), binary_market("b"))
    books = {**_pair("a", (440_000, 450_000), (490_000, 500_000)),
             **_pair("b", (440_000, 450_000), (490_000, 500_000))}
    cand = detect(reg, books, ["a-yes", "b-yes"], LOOSE)[1]
    # Act
    smaller = resize(cand, reg, books, LOOSE, cap_size_micros=6_666_666)
    gone = resize(cand, reg, books, LOOSE, cap_size_micros=SH)
    # Assert
    assert smaller is not None and smaller.market_id == "b"
    assert smaller.size_micros == 6_660_000
    assert smaller == detect(reg, books, ["b-no"], LOOSE, cap_size_micros=6_666_666)[0]
    assert gone is None
