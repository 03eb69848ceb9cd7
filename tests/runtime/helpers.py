# Builders for the runtime unit tests: a journal + engine loop on a temporary directory, a
# three-outcome neg-risk basket whose books open an arbitrage, and a recording venue.
#
# Rules: no MagicMock; fakes are small classes implementing what the code under test calls.
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events.base import Decision, Input
from polyarb.events.decisions import CancelOrders, PlaceOrders, Unwind
from polyarb.events.inputs import MarketInfo, OrderAccepted, OrderUpdated, TradeUpdated
from polyarb.journal import Durability, JournalWriter
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame
from tests.core.engine_helpers import T0, USD, book_msg, group_markets

GROUP = "0xgroup"


def basket() -> list[MarketInfo]:
    """Three outcomes of one neg-risk event (YES tokens gY1..gY3)."""
    return group_markets(GROUP, 3)


def basket_frames(ts: int = T0, ask: int = 300_000) -> list[Frame]:
    """Book snapshots whose YES asks sum to 3 * ask (< $1: an arbitrage), as text frames."""
    out = []
    for i, info in enumerate(basket()):
        msg = book_msg(info.tokens[0].token_id, [(ask - 50_000, 100 * USD)],
                       [(ask, 100 * USD)], info.condition_id)
        out.append(Frame(ts + i, "market-0", orjson.dumps(msg).decode()))
    return out


class Acts:
    """Records what the loop hands to the executor, and the writer's durable seq then."""

    def __init__(self) -> None:
        self.actions: list[Decision] = []
        self.durable_at_act: list[int] = []
        self.writer: JournalWriter | None = None

    def __call__(self, action: Decision) -> None:
        assert self.writer is not None
        self.actions.append(action)
        self.durable_at_act.append(self.writer.durable_seq)


def open_loop(root: Path, config: EngineConfig | None = None,
              policy: str = "batch") -> tuple[EngineLoop, Acts]:
    """A journal writer and an engine loop on `root` with a recording act."""
    writer = JournalWriter.open(root, durability=Durability(policy=policy))  # type: ignore[arg-type]
    acts = Acts()
    acts.writer = writer
    return EngineLoop(writer, Engine(config), acts, Counters()), acts


class FakeVenue:
    """A venue answering every order as filled (accepted + a matched trade) and every cancel."""

    name = "fake"

    def __init__(self, open_ids: Sequence[str] = (), trades: Sequence[TradeUpdated] = ()
                 ) -> None:
        self.calls: list[str] = []
        self.open_ids = list(open_ids)
        self.trade_events = list(trades)
        self.remembered: dict[str, str] = {}

    def remember(self, client_order_id: str, venue_order_id: str) -> None:
        self.remembered[client_order_id] = venue_order_id

    async def place(self, batch: PlaceOrders | Unwind) -> list[Input]:
        self.calls.append(f"place {batch.opp_id}")
        return [OrderAccepted(ts_recv_ns=T0 + 10, client_order_id=o.client_order_id,
                              venue_order_id=f"v-{o.client_order_id}", status="matched")
                for o in batch.orders]

    async def cancel(self, client_order_ids: Sequence[str] = (), **kw: Any) -> list[Input]:
        self.calls.append(f"cancel {','.join(client_order_ids)}")
        return []

    async def open_orders(self) -> list[Input]:
        self.calls.append("open_orders")
        return [OrderUpdated(ts_recv_ns=T0 + 20, venue_order_id=vid, update_type="PLACEMENT",
                             token_id="gY1", side="BUY", price_micros=300_000,
                             original_size_micros=USD, size_matched_micros=0, status="LIVE")
                for vid in self.open_ids]

    async def trades(self, after_s: int | None = None) -> list[Input]:
        self.calls.append(f"trades after {after_s}")
        return list(self.trade_events)


def first(decisions: Sequence[Decision], cls: type[Any]) -> Any:
    """The first decision of a class."""
    return next(d for d in decisions if isinstance(d, cls))


__all__ = ["CancelOrders", "PlaceOrders"]
