# Builders shared by the simulator tests: a market, an exchange, and short order helpers.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo
from polyarb.sim import Exchange, OrderRequest, PlaceResult, SimConfig, SimEvent

M = 1_000_000
CID = "0x" + "c1" * 32
YES = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
NO = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
CRYPTO = FeeSchedule(rate=Decimal("0.07"))


def market_info(cid: str = CID, yes: str = YES, no: str = NO, *, tick: int = 10_000,
                min_size: int = 5 * M, fees: FeeSchedule | None = None,
                group: str | None = None) -> MarketInfo:
    return MarketInfo(
        condition_id=cid,
        tokens=(TokenInfo(token_id=yes, outcome="Yes"), TokenInfo(token_id=no, outcome="No")),
        tick_size_micros=tick, min_order_size_micros=min_size,
        fees=fees if fees is not None else FeeSchedule(),
        neg_risk=group is not None, neg_risk_market_id=group,
    )


def exchange(*, fees: FeeSchedule | None = None, delay_ns: int = 0, tick: int = 10_000,
             **config: Any) -> Exchange:
    ex = Exchange(SimConfig(**config))
    ex.add_market(market_info(fees=fees, tick=tick), match_delay_ns=delay_ns)
    return ex


def order(owner: str, token: str, side: str, price: int, size: int, **kw: Any) -> OrderRequest:
    return OrderRequest(owner=owner, token_id=token, side=side,  # type: ignore[arg-type]
                        price_micros=price, size_micros=size, **kw)


def buy(ex: Exchange, owner: str, token: str, price: int, size: int, now: int = 0,
        **kw: Any) -> PlaceResult:
    return ex.place(order(owner, token, "BUY", price, size, **kw), now)


def sell(ex: Exchange, owner: str, token: str, price: int, size: int, now: int = 0,
         **kw: Any) -> PlaceResult:
    return ex.place(order(owner, token, "SELL", price, size, **kw), now)


def of_kind(events: list[SimEvent], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def holdings(ex: Exchange, owner: str) -> tuple[int, int, int]:
    """(collateral, YES, NO) balances of one owner."""
    return (ex.balance(owner).balance_micros, ex.balance(owner, YES).balance_micros,
            ex.balance(owner, NO).balance_micros)
