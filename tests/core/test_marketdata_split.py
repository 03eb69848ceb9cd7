# The split of MarketData between marketdata.py (hot path) and marketdata_state.py (cold half):
# the hot methods are MarketData's own (no extra layer between a frame and the books), the cold
# ones come from MarketDataState, and the names importers use keep working from marketdata.
from __future__ import annotations

import pytest

from polyarb.core import marketdata, marketdata_state
from polyarb.core.marketdata import MarketData
from polyarb.core.marketdata_state import MarketDataState

HOT = ("apply_raw", "_apply_decoded", "apply_frame", "apply", "_price_change", "_checked",
       "_install", "_install_all", "prime")
COLD = ("snapshot", "restore", "check_stale", "stats", "counters", "_break", "_broken")


@pytest.mark.parametrize("name", HOT)
def test_marketdata_hot_method_defined_on_marketdata_itself(name: str) -> None:
    assert name in vars(MarketData)


@pytest.mark.parametrize("name", COLD)
def test_marketdata_cold_method_inherited_from_state(name: str) -> None:
    assert name in vars(MarketDataState) and name not in vars(MarketData)


def test_marketdata_has_no_instance_dict_and_restore_returns_marketdata() -> None:
    store = MarketData()

    again = MarketData.restore(store.snapshot())

    assert type(again) is MarketData and not hasattr(again, "__dict__")
    assert again.snapshot() == store.snapshot()


def test_marketdata_reason_constants_still_importable_from_marketdata() -> None:
    names = ("CROSSED", "CROSSED_SNAPSHOT", "BEST_MISMATCH", "BEST_BID_ASK_MISMATCH",
             "TICK_SIZE_CHANGE", "UPDATE_LOST", "STALE")

    assert [getattr(marketdata, n) for n in names] == [getattr(marketdata_state, n)
                                                       for n in names]
