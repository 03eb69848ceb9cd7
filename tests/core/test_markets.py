# MarketRegistry tests: pairs, groups and their stable order, updates, rejections, snapshots.
from __future__ import annotations

from decimal import Decimal

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyarb.core.markets import MarketRegistry, Touched
from polyarb.events.inputs import FeeSchedule, MarketInfo, MarketsLoaded, TokenInfo
from tests.core.reference_detector import binary_market, group_markets


def _registry(*markets: MarketInfo) -> MarketRegistry:
    reg = MarketRegistry()
    assert reg.load(markets) == []
    return reg


def test_registry_binary_market_pairs_tokens_and_complements() -> None:
    reg = _registry(binary_market("c1"))
    assert reg.market_of("c1-yes") == "c1"
    assert reg.tokens_of("c1") == ("c1-yes", "c1-no")
    assert reg.complement("c1-yes") == "c1-no"
    assert reg.complement("c1-no") == "c1-yes"
    assert reg.complement("nope") is None
    assert reg.groups_of("c1-yes") == ()
    assert len(reg) == 1


def test_registry_markets_loaded_event_is_folded() -> None:
    reg = MarketRegistry()
    ev = MarketsLoaded(ts_recv_ns=1, source="sim", markets=(binary_market("c1"),))
    assert reg.apply_markets_loaded(ev) == []
    assert reg.market("c1") == binary_market("c1")


def test_registry_group_order_is_by_condition_id_whatever_the_load_order() -> None:
    # Arrange
    markets = group_markets("g", 4)
    forward, backward = _registry(*markets), _registry(*reversed(markets))
    # Act / Assert
    expected = ("g-0-yes", "g-1-yes", "g-2-yes", "g-3-yes")
    assert forward.group_tokens("g") == backward.group_tokens("g") == expected
    assert forward.group_markets("g") == ("g-0", "g-1", "g-2", "g-3")


def test_registry_only_yes_tokens_belong_to_the_group() -> None:
    reg = _registry(*group_markets("g", 3))
    assert reg.groups_of("g-1-yes") == ("g",)
    assert reg.groups_of("g-1-no") == ()


def test_registry_yes_token_found_by_outcome_not_position() -> None:
    info = MarketInfo(
        condition_id="c", tokens=(TokenInfo(token_id="n", outcome="No"),
                                  TokenInfo(token_id="y", outcome="YES")),
        tick_size_micros=10_000, min_order_size_micros=5_000_000, neg_risk=True,
        neg_risk_market_id="g",
    )
    reg = _registry(info, *group_markets("g", 1))
    assert reg.group_tokens("g") == ("y", "g-0-yes")  # condition "c" sorts before "g-0"


def test_registry_touched_returns_sorted_markets_and_groups() -> None:
    reg = _registry(binary_market("b"), binary_market("a"), *group_markets("g", 3))
    touched = reg.touched(["b-no", "g-2-no", "a-yes", "g-0-yes", "unknown", "a-no"])
    assert touched == Touched(markets=("a", "b", "g-0", "g-2"), groups=("g",))


@pytest.mark.parametrize(
    ("market", "fragment"),
    [
        (binary_market("c", yes="same", no="same"), "distinct"),
        (msgspec.structs.replace(binary_market("c"), tokens=()), "expected 2 tokens"),
        (msgspec.structs.replace(binary_market("c"), tick_size_micros=0), "tick size"),
        (msgspec.structs.replace(binary_market("c"), min_order_size_micros=-1), "minimum"),
        (msgspec.structs.replace(binary_market("c"), condition_id=""), "condition id"),
        (binary_market("c", rate="1.5"), "fee rate"),
        (binary_market("c", winning_token_id="other"), "winning token"),
    ],
)
def test_registry_bad_market_is_rejected_with_reason(market: MarketInfo, fragment: str) -> None:
    reg = MarketRegistry()
    rejected = reg.load([market, binary_market("ok")])
    assert len(rejected) == 1 and fragment in rejected[0].reason
    assert reg.market("ok") is not None and len(reg) == 1


def test_registry_token_owned_by_another_market_is_rejected() -> None:
    reg = _registry(binary_market("c1"))
    rejected = reg.load([binary_market("c2", yes="c1-yes")])
    assert rejected[0].condition_id == "c2" and "already belongs" in rejected[0].reason
    assert reg.market_of("c1-yes") == "c1"


def test_registry_reload_changing_token_ids_is_rejected() -> None:
    reg = _registry(binary_market("c1"))
    rejected = reg.load([binary_market("c1", yes="other")])
    assert "changed" in rejected[0].reason
    assert reg.tokens_of("c1") == ("c1-yes", "c1-no")


def test_registry_reload_upserts_and_keeps_unlisted_markets() -> None:
    reg = _registry(binary_market("c1"), binary_market("c2"))
    reg.load([binary_market("c1", min_size=1_000_000)])
    plan = reg.binary_plan("c1")
    assert plan is not None and plan.min_size_micros == 1_000_000
    assert reg.market("c2") is not None


def test_registry_reload_moving_a_market_between_groups_reindexes_both() -> None:
    reg = _registry(*group_markets("g", 3), *group_markets("h", 2))
    moved = msgspec.structs.replace(group_markets("g", 3)[2], neg_risk_market_id="h")
    reg.load([moved])
    assert reg.group_markets("g") == ("g-0", "g-1")
    assert reg.group_markets("h") == ("g-2", "h-0", "h-1")
    assert reg.groups_of("g-2-yes") == ("h",)


def test_registry_set_tick_size_updates_the_tokens_market() -> None:
    reg = _registry(binary_market("c1"))
    assert reg.set_tick_size("c1-no", 1_000)
    info = reg.market("c1")
    assert info is not None and info.tick_size_micros == 1_000
    assert not reg.set_tick_size("unknown", 1_000)
    assert not reg.set_tick_size("c1-no", 0)


def test_registry_resolve_closes_market_and_makes_it_untradable() -> None:
    reg = _registry(binary_market("c1"))
    assert reg.resolve("c1", "c1-yes")
    info, plan = reg.market("c1"), reg.binary_plan("c1")
    assert info is not None and info.closed and info.winning_token_id == "c1-yes"
    assert plan is not None and not plan.tradable
    assert not reg.resolve("c1", "bogus")
    assert not reg.resolve("missing", None)


def test_registry_accepting_orders_toggle_changes_tradability() -> None:
    reg = _registry(binary_market("c1"))
    assert reg.set_accepting_orders("c1", False)
    plan = reg.binary_plan("c1")
    assert plan is not None and not plan.tradable
    assert not reg.set_accepting_orders("missing", True)


def test_registry_resolved_no_member_drops_out_of_the_basket() -> None:
    reg = _registry(*group_markets("g", 3))
    reg.resolve("g-1", "g-1-no")
    plan = reg.group_plan("g")
    assert plan is not None and plan.tradable
    assert plan.tokens == ("g-0-yes", "g-2-yes")


def test_registry_group_with_closed_unresolved_member_is_untradable() -> None:
    reg = _registry(*group_markets("g", 3))
    reg.resolve("g-1", None)
    plan = reg.group_plan("g")
    assert plan is not None and not plan.tradable


def test_registry_group_with_one_live_outcome_is_untradable() -> None:
    reg = _registry(*group_markets("g", 2))
    reg.resolve("g-1", "g-1-no")
    plan = reg.group_plan("g")
    assert plan is not None and not plan.tradable


def test_registry_augmented_group_is_marked() -> None:
    reg = _registry(*group_markets("g", 3, augmented=True), *group_markets("h", 3))
    plan_g, plan_h = reg.group_plan("g"), reg.group_plan("h")
    assert plan_g is not None and plan_g.augmented
    assert plan_h is not None and not plan_h.augmented


def test_registry_neg_risk_without_group_id_is_a_plain_binary() -> None:
    reg = _registry(binary_market("c", neg_risk=True))
    assert reg.groups_of("c-yes") == ()
    assert reg.binary_plan("c") is not None


def test_registry_snapshot_restore_roundtrips_through_json() -> None:
    # Arrange
    reg = _registry(binary_market("z", rate="0.07"), *group_markets("g", 3, rate="0.25"))
    reg.resolve("g-2", "g-2-no")
    # Act
    text = orjson.dumps(reg.snapshot(), option=orjson.OPT_SORT_KEYS)
    back = MarketRegistry.restore(orjson.loads(text))
    # Assert
    assert orjson.dumps(back.snapshot(), option=orjson.OPT_SORT_KEYS) == text
    assert back.group_tokens("g") == reg.group_tokens("g")
    assert back.market("z") == reg.market("z")
    fees = back.market("z")
    assert fees is not None and fees.fees == FeeSchedule(rate=Decimal("0.07"))


def test_registry_restore_bad_snapshot_raises_value_error() -> None:
    with pytest.raises(ValueError, match="snapshot"):
        MarketRegistry.restore({"markets": [{"condition_id": 3}]})
    with pytest.raises(ValueError, match="snapshot"):
        MarketRegistry.restore({})
    dup = msgspec.to_builtins([binary_market("a"), binary_market("b", yes="a-yes")])
    with pytest.raises(ValueError, match="already belongs"):
        MarketRegistry.restore({"markets": dup})


@given(order=st.permutations(range(6)))
def test_registry_snapshot_is_independent_of_load_order(order: list[int]) -> None:
    markets = [*group_markets("g", 3), binary_market("a"), binary_market("b"), binary_market("c")]
    reference = _registry(*markets).snapshot()
    shuffled = _registry(*(markets[i] for i in order))
    assert shuffled.snapshot() == reference
