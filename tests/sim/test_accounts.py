# Account tests: defaults, deposits, split/merge, reservations seen through balances, the
# conservation check, and the exact-rounding dust of fills at odd precisions.
from __future__ import annotations

import pytest

from polyarb.sim import SimConfig, SimError
from polyarb.sim.accounts import COLLATERAL, Ledger, default_address
from tests.sim.helpers import CID, NO, YES, M, buy, exchange, holdings, sell

START = 1_000_000 * M


def test_new_account_gets_default_collateral_and_derived_address() -> None:
    ex = exchange()

    view = ex.balance("fresh")

    assert (view.balance_micros, view.available_micros) == (START, START)
    assert view.allowance_micros == SimConfig().allowance_micros
    assert ex.ledger.accounts["fresh"].address == default_address("fresh")
    assert default_address("fresh").startswith("0x") and len(default_address("fresh")) == 42


def test_default_collateral_is_configurable() -> None:
    ex = exchange(default_collateral_micros=7 * M)

    assert ex.balance("x").balance_micros == 7 * M


def test_open_account_explicit_and_duplicate_refused() -> None:
    ex = exchange()
    ex.open_account("k", address="0xabc", collateral_micros=3 * M)

    assert ex.balance("k").balance_micros == 3 * M
    assert ex.ledger.accounts["k"].address == "0xabc"
    with pytest.raises(SimError, match="exists"):
        ex.open_account("k")
    with pytest.raises(SimError, match="negative"):
        ex.open_account("n", collateral_micros=-1)


def test_deposit_adds_and_counts_as_deposited() -> None:
    ex = exchange()

    ex.deposit("a", 5 * M)

    assert ex.balance("a").balance_micros == START + 5 * M
    assert ex.problems() == []
    with pytest.raises(SimError):
        ex.deposit("a", -1)


def test_split_and_merge_move_pairs_and_lock_collateral() -> None:
    ex = exchange()

    ex.split("a", CID, 10 * M)
    after_split = (holdings(ex, "a"), ex.ledger.locked[CID])
    ex.merge("a", CID, 4 * M)

    assert after_split == ((START - 10 * M, 10 * M, 10 * M), 10 * M)
    assert holdings(ex, "a") == (START - 6 * M, 6 * M, 6 * M)
    assert ex.ledger.locked[CID] == 6 * M
    assert ex.problems() == []


def test_split_merge_refuse_reserved_or_missing_balance() -> None:
    ex = exchange()
    ex.open_account("a", collateral_micros=10 * M)
    ex.split("a", CID, 10 * M)
    sell(ex, "a", YES, 600_000, 6 * M)

    with pytest.raises(SimError, match="merge"):
        ex.merge("a", CID, 5 * M)  # only 4 YES are free
    with pytest.raises(SimError, match="split"):
        ex.split("a", CID, 1)
    with pytest.raises(SimError):
        ex.split("a", CID, 0)


def test_open_buy_reserves_collateral_rounded_up() -> None:
    ex = exchange(tick=1_000)

    buy(ex, "a", YES, 333_000, 5_010_000)  # 1.66833 exact

    view = ex.balance("a")
    assert view.balance_micros == START
    assert view.available_micros == START - 1_668_330
    assert ex.ledger.accounts["a"].collateral_reserved == 1_668_330


def test_open_sell_reserves_tokens() -> None:
    ex = exchange()
    ex.split("a", CID, 10 * M)

    sell(ex, "a", NO, 300_000, 7 * M)

    view = ex.balance("a", NO)
    assert (view.balance_micros, view.available_micros) == (10 * M, 3 * M)


def test_ledger_reserve_release_and_can_apply() -> None:
    ledger = Ledger(10, "fees")
    account = ledger.get("a")

    assert ledger.reserve(account, COLLATERAL, 10)
    assert not ledger.reserve(account, COLLATERAL, 1)
    assert ledger.can_apply([("a", COLLATERAL, -1)]) is not None
    ledger.release(account, COLLATERAL, 4)

    assert account.available(COLLATERAL) == 4
    assert ledger.can_apply([("a", COLLATERAL, -4), ("a", "tok", 5)]) is None


def test_problems_detects_broken_conservation() -> None:
    ex = exchange()
    ex.split("a", CID, 10 * M)

    ex.ledger.accounts["a"].collateral += 1
    ex.ledger.accounts["a"].tokens[YES] -= 1

    found = ex.problems()
    assert any("deposited" in p for p in found)
    assert any("supply" in p for p in found)


def test_odd_precision_fills_keep_exact_conservation() -> None:
    # Arrange: a 0.001 tick with micro-share sizes makes inexact notionals on every fill
    ex = exchange(tick=1_000)
    buy(ex, "a", NO, 333_000, 7_000_001)
    buy(ex, "b", NO, 334_000, 5_000_003)

    # Act: a BUY YES sweeping both (mint at 0.667 and 0.666), partly
    buy(ex, "c", YES, 667_000, 8_500_007)

    # Assert: everything balances to the micro, nothing negative, dust went to the fee account
    assert ex.problems() == []
    assert ex.ledger.fees.collateral == ex.ledger.dust > 0
    collateral_c = ex.balance("c")
    assert collateral_c.balance_micros - collateral_c.available_micros == \
        ex.ledger.accounts["c"].collateral_reserved


def test_round_sizes_make_no_dust() -> None:
    ex = exchange()
    ex.split("m", CID, 100 * M)
    for price in (410_000, 420_000, 430_000):
        sell(ex, "m", YES, price, 10_010_000)
        buy(ex, "n", NO, 1_000_000 - price - 20_000, 7_770_000)

    buy(ex, "t", YES, 600_000, 25_550_000)
    sell(ex, "m", YES, 400_000, 30_000_000)

    assert ex.ledger.dust == 0
    assert ex.problems() == []
