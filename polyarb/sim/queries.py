# The read side of the exchange (and its plain account operations), as a base class of
# Exchange: order and trade lookups for /data/*, balances, books, markets and the invariant
# check the tests lean on.
#
# Rules:
# 1. Results are immutable snapshots (polyarb/sim/records.py) or fresh dicts/lists; callers can
#    keep them. Lists come in a deterministic order (orders by arrival, trades by match).
# 2. Nothing here changes matching state; account operations only move balances that no order
#    holds (available balances), so they cannot disturb a reservation.
from __future__ import annotations

from typing import Any

from polyarb.events.inputs import MarketInfo
from polyarb.sim.accounts import COLLATERAL, Ledger
from polyarb.sim.markets import MarketRegistry
from polyarb.sim.model import MICROS, Order, SimConfig
from polyarb.sim.records import BalanceView, LastTradePrice, OrderView, Trade
from polyarb.sim.render import book_message, book_summary
from polyarb.sim.settlement import Settlement
from polyarb.sim.views import order_view


class Queries:
    """Lookups over the exchange state (mixed into Exchange, which owns the attributes)."""

    config: SimConfig
    markets: MarketRegistry
    ledger: Ledger
    settlement: Settlement
    orders: dict[str, Order]
    open_by_owner: dict[str, dict[str, Order]]
    last_trade: dict[str, LastTradePrice]

    # --- accounts ---------------------------------------------------------------------------

    def open_account(self, owner: str, *, address: str | None = None,
                     collateral_micros: int | None = None) -> None:
        """Create an account explicitly (otherwise first use creates one with defaults).

        Raises:
            SimError: the owner exists already or the amount is negative.
        """
        self.ledger.open(owner, address=address, collateral_micros=collateral_micros)

    def deposit(self, owner: str, amount_micros: int) -> None:
        """Credit collateral from outside (raises SimError on a negative amount)."""
        self.ledger.deposit(owner, amount_micros)

    def split(self, owner: str, condition_id: str, amount_micros: int) -> None:
        """CTF split: collateral -> YES + NO pairs (raises SimError if unaffordable)."""
        m = self.markets.get(condition_id)
        self.ledger.split(owner, condition_id, (m.yes_token, m.no_token), amount_micros)

    def merge(self, owner: str, condition_id: str, amount_micros: int) -> None:
        """CTF merge: YES + NO pairs -> collateral (raises SimError if unaffordable)."""
        m = self.markets.get(condition_id)
        self.ledger.merge(owner, condition_id, (m.yes_token, m.no_token), amount_micros)

    def balance(self, owner: str, token_id: str | None = None) -> BalanceView:
        """Collateral (token_id None) or one token: balance, available part, allowance."""
        account = self.ledger.get(owner)
        asset = COLLATERAL if token_id is None else token_id
        return BalanceView(balance_micros=account.balance(asset),
                           available_micros=account.available(asset),
                           allowance_micros=self.config.allowance_micros)

    # --- orders and trades ----------------------------------------------------------------------

    def order(self, order_id: str) -> OrderView | None:
        """GET /data/order/{id}: any retained order (open or closed)."""
        order = self.orders.get(order_id)
        return None if order is None else order_view(order)

    def open_orders(self, owner: str, *, market: str | None = None,
                    asset_id: str | None = None) -> list[OrderView]:
        """GET /data/orders: the owner's open orders, oldest first, optionally filtered."""
        mine = self.open_by_owner.get(owner, {}).values()
        return [
            order_view(o) for o in sorted(mine, key=lambda o: o.seq)
            if (market is None or o.market.condition_id == market)
            and (asset_id is None or o.token_id == asset_id)
        ]

    def trade(self, trade_id: str) -> Trade | None:
        """One retained trade record, current status."""
        return self.settlement.get(trade_id)

    def trades(self, owner: str, *, market: str | None = None,
               asset_id: str | None = None) -> list[Trade]:
        """GET /data/trades: retained trades the owner took part in, oldest first.

        `asset_id` matches the taker's token or any of the owner's maker fills' tokens.
        """
        out = []
        for t in self.settlement.for_owner(owner):
            if market is not None and t.market != market:
                continue
            assets = {t.asset_id} | {m.asset_id for m in t.maker_orders if m.owner == owner}
            if asset_id is None or asset_id in assets:
                out.append(t)
        return out

    # --- markets and books ----------------------------------------------------------------------

    def market_info(self, condition_id: str) -> MarketInfo:
        """A market's current metadata (raises SimError when unknown)."""
        return self.markets.get(condition_id).info()

    def all_markets(self) -> list[MarketInfo]:
        """Every market's metadata, in registration order."""
        return [m.info() for m in self.markets.by_id.values()]

    def neg_risk_events(self) -> dict[str, tuple[str, ...]]:
        """neg_risk_market_id -> condition ids of its markets, in registration order."""
        return {k: tuple(v) for k, v in self.markets.events.items()}

    def best_prices(self, token_id: str) -> tuple[int, int]:
        """(best bid, best ask) of one token in micros; 0 / 1_000_000 when a side is empty."""
        market = self.markets.by_token[token_id]
        bid, ask = market.book.best_bid(), market.book.best_ask()
        return (bid, ask) if token_id == market.yes_token else (MICROS - ask, MICROS - bid)

    def last_trade_price(self, token_id: str) -> LastTradePrice | None:
        """The token's latest trade (GET /last-trade-price), None before any."""
        return self.last_trade.get(token_id)

    def book_json(self, token_id: str, now_ns: int) -> dict[str, Any]:
        """GET /book for a token (polyarb/sim/render.py); raises KeyError when unknown."""
        market = self.markets.by_token[token_id]
        return book_summary(market, token_id, now_ns, self._last_price(token_id))

    def book_ws(self, token_id: str, now_ns: int) -> dict[str, Any]:
        """The market channel `book` message for a token; raises KeyError when unknown."""
        market = self.markets.by_token[token_id]
        return book_message(market, token_id, now_ns, self._last_price(token_id))

    def _last_price(self, token_id: str) -> int | None:
        last = self.last_trade.get(token_id)
        return None if last is None else last.price_micros

    # --- invariants -----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every broken invariant (empty when healthy): conservation, signs, reservations,
        book totals, uncrossed books. For tests and debugging; cost is linear in state."""
        markets = [(m.condition_id, m.yes_token, m.no_token) for m in self.markets.by_id.values()]
        out = self.ledger.problems(markets)
        out.extend(_reservation_problems(self.ledger, self.open_by_owner))
        for m in self.markets.by_id.values():
            out.extend(_book_problems(m.condition_id, m.book))
        return out


def _reservation_problems(ledger: Ledger, open_by_owner: dict[str, dict[str, Order]]) -> list[str]:
    held: dict[tuple[str, str], int] = {}
    for owner, mine in open_by_owner.items():
        for o in mine.values():
            key = (owner, COLLATERAL if o.is_buy else o.token_id)
            held[key] = held.get(key, 0) + o.reserved
    out = []
    for owner, a in ledger.accounts.items():
        if held.get((owner, COLLATERAL), 0) != a.collateral_reserved:
            out.append(f"{owner}: collateral reserved {a.collateral_reserved} "
                       f"!= open orders {held.get((owner, COLLATERAL), 0)}")
        for token, amount in a.tokens_reserved.items():
            if held.get((owner, token), 0) != amount:
                out.append(f"{owner}: {token} reserved {amount} != open orders")
    return out


def _book_problems(cid: str, book: Any) -> list[str]:
    out = []
    if book.best_bid() >= book.best_ask():
        out.append(f"{cid}: crossed book {book.best_bid()} >= {book.best_ask()}")
    if sorted(book.bids) != book.bid_prices or sorted(book.asks) != book.ask_prices:
        out.append(f"{cid}: sorted price lists out of step with the levels")
    for is_bid, levels in ((True, book.bids), (False, book.asks)):
        for price, level in levels.items():
            live = [o for o in level.queue if o.in_book]
            if level.total != sum(o.remaining for o in live) or level.live != len(live) or not live:
                out.append(f"{cid}: level {'bid' if is_bid else 'ask'} {price} totals wrong")
    return out
