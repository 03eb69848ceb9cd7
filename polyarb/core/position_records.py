# Positions' records: the data Positions keeps (positions.py states the rules that change it).
#
# Rules:
# 1. Data only: no P&L, hedge or exposure logic here. positions.py re-exports the public records.
# 2. Shares and collateral in integer micros; token and market ids are strings.
# 3. _State is Positions' whole state: msgspec.to_builtins of it with sorted keys is the snapshot,
#    so a field added here changes state hashes (give it a default that restores old snapshots).
#    Its dicts are keyed by id and snapshotted sorted: no output depends on insertion order.
from __future__ import annotations

import msgspec


class TokenPosition(msgspec.Struct, kw_only=True):
    """One token's position: signed shares, cost basis, realized P&L and fees paid."""

    qty_micros: int = 0
    cost_micros: int = 0  # what the open shares cost (negative: proceeds of a short)
    realized_micros: int = 0
    fees_shares_micros: int = 0  # withheld on buys
    fees_collateral_micros: int = 0  # withheld on sells
    last_price_micros: int | None = None


class Booked(msgspec.Struct, kw_only=True):
    """What one fill did to a token's position, so a void can subtract exactly that."""

    token_id: str
    qty_micros: int
    cost_micros: int
    realized_micros: int
    fees_shares_micros: int = 0
    fees_collateral_micros: int = 0
    voided: bool = False


class MarketMeta(msgspec.Struct, kw_only=True):
    tokens: list[str]
    yes_token: str
    group: str | None = None
    augmented: bool = False
    winner: str | None = None


class _State(msgspec.Struct, kw_only=True):
    tokens: dict[str, TokenPosition] = msgspec.field(default_factory=dict)
    booked: dict[str, Booked] = msgspec.field(default_factory=dict)  # by trade id
    token_market: dict[str, str] = msgspec.field(default_factory=dict)
    markets: dict[str, MarketMeta] = msgspec.field(default_factory=dict)
    groups: dict[str, list[str]] = msgspec.field(default_factory=dict)  # sorted market ids
    daily_realized: dict[str, int] = msgspec.field(default_factory=dict)


class _Hedge(msgspec.Struct):
    hedged: dict[str, int]  # token -> hedged shares
    sets_micros: int  # number of $1 sets held (share micros == collateral micros)
