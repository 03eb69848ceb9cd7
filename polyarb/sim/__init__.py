# polyarb.sim: the embedded Polymarket-compatible exchange simulator.
#
# Rules:
# 1. The exchange core (this package minus any server module) is sans-I/O and deterministic:
#    time arrives as `now_ns`, ids come from a seed and counters, iteration never depends on
#    set or hash order. The HTTP/WS server, auth and scenarios are shells built around it.
# 2. Everything is exact integers in micro-units (polyarb/sim/model.py).
from __future__ import annotations

from polyarb.sim.errors import SimError
from polyarb.sim.exchange import Exchange
from polyarb.sim.model import OrderRequest, SimConfig
from polyarb.sim.records import (
    BalanceView,
    CancelResult,
    LastTradePrice,
    LevelChange,
    MakerFill,
    MarketStatusChange,
    OrderEvent,
    OrderView,
    PlaceResult,
    PriceChange,
    SimEvent,
    TickSizeChange,
    Trade,
    TradeEvent,
)

__all__ = [
    "BalanceView",
    "CancelResult",
    "Exchange",
    "LastTradePrice",
    "LevelChange",
    "MakerFill",
    "MarketStatusChange",
    "OrderEvent",
    "OrderRequest",
    "OrderView",
    "PlaceResult",
    "PriceChange",
    "SimConfig",
    "SimError",
    "SimEvent",
    "TickSizeChange",
    "Trade",
    "TradeEvent",
]
