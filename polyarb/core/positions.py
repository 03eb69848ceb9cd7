# Positions and P&L per token, market and neg-risk group, from fills, voids, merges and resolution.
# Its records (TokenPosition, Booked, ...) are data only, in position_records.py.
#
# Rules (units: shares and collateral in micros; a share pays $1 = 1_000_000 micros at most):
# 1. Average cost, signed quantities. A fill that grows a position adds its cash to the cost
#    basis; one that shrinks it realizes (cash - prorated cost); one that flips it does both.
#    BUY pays cost_up(price, size); SELL receives proceeds_down(price, size) (see exec_common).
# 2. Fees as TradeUpdated.fee_micros gives them, in the venue's collection unit (protocol §7.4):
#    on a BUY the fee is SHARES withheld (we receive size - fee shares for the full price), on a
#    SELL it is COLLATERAL withheld from the proceeds. Both are tracked per token.
# 3. Every fill's effect (quantity, cost, realized, fees) is recorded by trade id, and a void
#    (settlement FAILED) subtracts exactly that record, so a position is always the sum of its
#    non-voided fills. Realized P&L lands on the UTC day of the event that realized it (a void
#    lands on the void's day: that is when we learned it).
# 4. Resolution (MarketInfo.winning_token_id): the winner pays $1 per share, the others $0; the
#    market's positions are settled into realized P&L and stay flat: any later fill or void on a
#    resolved market is settled at once. A 50/50 resolution is not representable here.
# 5. Hedged sets. A complete set of a market (one of each of its tokens, normally YES+NO) is
#    worth exactly $1; so is, in a neg-risk group that is not augmented, one YES of every market
#    of the group as loaded (one of them must win). Hedged quantities are allocated per market
#    first, then per group from what is left of each YES, in sorted id order. The locked-in edge
#    is $1 per set minus the prorated cost of the set; it is realized on a merge or resolution.
# 6. Exposure (ExposureView) is what can still be lost: for a long token, the prorated cost of
#    its UNHEDGED shares; for a short (only after a void), |qty| * $1 - proceeds, floored at 0.
#    A market sums its tokens, a group its markets, the total all markets. open_positions counts
#    markets holding more than dust of unhedged shares. A token never registered by
#    MarketsLoaded is its own market (market id = token id) outside any group.
# 7. Unrealized P&L marks hedged sets at $1 and unhedged shares at the book's mid; with one side
#    missing, that side's price; with no usable book, our last fill price; with none, cost.
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from polyarb.core.exec_common import (
    MICROS,
    ExecResult,
    cost_up,
    proceeds_down,
    prorate,
    utc_day,
)
from polyarb.core.position_records import Booked, MarketMeta, TokenPosition, _Hedge, _State
from polyarb.core.types import BookView
from polyarb.events.inputs import MarketInfo, Side

__all__ = ["Booked", "Positions", "TokenPosition"]

BookLookup = Callable[[str], BookView | None]


class Positions:
    """All positions of the run; implements ExposureView. snapshot()/restore() for the hash."""

    def __init__(self, dust_micros: int = 10_000) -> None:
        self.dust = dust_micros
        self._s = _State()
        self._hedge: _Hedge | None = None  # derived cache, dropped on every change

    # ---- registry and resolution ------------------------------------------------------

    def register(self, markets: Iterable[MarketInfo], ts_ns: int) -> list[ExecResult]:
        """Learn token -> market -> group from MarketsLoaded, and settle resolved markets.

        Returns:
            One "resolved" result per market newly resolved (with its realized P&L).
        """
        out = []
        for info in markets:
            if not info.tokens:
                out.append(ExecResult(kind="ignored", ts_ns=ts_ns,
                                      detail=f"market {info.condition_id} has no tokens"))
                continue
            self._register(info)
            winner = info.winning_token_id
            meta = self._s.markets[info.condition_id]
            if winner is not None and meta.winner is None:
                out.append(self._resolve(info.condition_id, meta, winner, ts_ns))
        self._hedge = None
        return out

    def _register(self, info: MarketInfo) -> None:
        tokens = [t.token_id for t in info.tokens]
        yes = next((t.token_id for t in info.tokens if t.outcome.lower() == "yes"), tokens[0])
        group = info.neg_risk_market_id if info.neg_risk else None
        old = self._s.markets.get(info.condition_id)
        self._s.markets[info.condition_id] = MarketMeta(
            tokens=tokens, yes_token=yes, group=group, augmented=info.neg_risk_augmented,
            winner=None if old is None else old.winner)
        for token in tokens:
            self._s.token_market[token] = info.condition_id
        if group is not None:
            members = set(self._s.groups.get(group, [])) | {info.condition_id}
            self._s.groups[group] = sorted(members)

    def _resolve(self, market_id: str, meta: MarketMeta, winner: str, ts_ns: int) -> ExecResult:
        if winner not in meta.tokens:
            return ExecResult(kind="ignored", ts_ns=ts_ns,
                              detail=f"winner {winner} is not a token of {market_id}")
        meta.winner = winner
        realized = sum(self._settle(t, ts_ns) for t in meta.tokens)
        return ExecResult(kind="resolved", ts_ns=ts_ns, token_id=winner,
                          size_micros=realized, detail=market_id)

    def _settle(self, token_id: str, ts_ns: int) -> int:
        market = self._s.markets.get(self.market_of(token_id))
        pos = self._s.tokens.get(token_id)
        if market is None or market.winner is None or pos is None:
            return 0
        if pos.qty_micros == 0 and pos.cost_micros == 0:
            return 0
        payout = pos.qty_micros if token_id == market.winner else 0
        realized = payout - pos.cost_micros
        pos.qty_micros = pos.cost_micros = 0
        self._realize(pos, realized, ts_ns)
        return realized

    # ---- fills ---------------------------------------------------------------------------

    def book_fill(self, trade_id: str, token_id: str, side: Side, price_micros: int,
                  size_micros: int, fee_micros: int, ts_ns: int) -> Booked:
        """Apply one new fill (rules 1-2, 4) and remember its effect under trade_id.

        Raises:
            ValueError: trade_id was booked before (the caller dedupes trades).
        """
        if trade_id in self._s.booked:
            raise ValueError(f"trade {trade_id} booked twice")
        pos = self._s.tokens.setdefault(token_id, TokenPosition())
        if side == "BUY":
            dq, cash = size_micros - fee_micros, cost_up(price_micros, size_micros)
            pos.fees_shares_micros += fee_micros
        else:
            dq, cash = -size_micros, fee_micros - proceeds_down(price_micros, size_micros)
            pos.fees_collateral_micros += fee_micros
        cost, realized = _trade(pos.qty_micros, pos.cost_micros, dq, cash)
        pos.qty_micros += dq
        pos.cost_micros += cost
        pos.last_price_micros = price_micros
        self._realize(pos, realized, ts_ns)
        before_qty, before_cost = pos.qty_micros, pos.cost_micros
        settled = self._settle(token_id, ts_ns)
        booked = Booked(
            token_id=token_id, qty_micros=dq + pos.qty_micros - before_qty,
            cost_micros=cost + pos.cost_micros - before_cost, realized_micros=realized + settled,
            fees_shares_micros=fee_micros if side == "BUY" else 0,
            fees_collateral_micros=0 if side == "BUY" else fee_micros)
        self._s.booked[trade_id] = booked
        self._hedge = None
        return booked

    def void(self, trade_id: str, ts_ns: int) -> Booked | None:
        """Reverse a booked fill exactly (rule 3). None when unknown or already voided.

        Returns:
            The effect of the void itself (the negated fill, plus any resolution settlement).
        """
        booked = self._s.booked.get(trade_id)
        if booked is None or booked.voided:
            return None
        booked.voided = True
        pos = self._s.tokens[booked.token_id]
        pos.qty_micros -= booked.qty_micros
        pos.cost_micros -= booked.cost_micros
        pos.fees_shares_micros -= booked.fees_shares_micros
        pos.fees_collateral_micros -= booked.fees_collateral_micros
        self._realize(pos, -booked.realized_micros, ts_ns)
        before_qty, before_cost = pos.qty_micros, pos.cost_micros
        settled = self._settle(booked.token_id, ts_ns)
        self._hedge = None
        return Booked(
            token_id=booked.token_id, qty_micros=pos.qty_micros - before_qty - booked.qty_micros,
            cost_micros=pos.cost_micros - before_cost - booked.cost_micros,
            realized_micros=settled - booked.realized_micros,
            fees_shares_micros=-booked.fees_shares_micros,
            fees_collateral_micros=-booked.fees_collateral_micros)

    def merge(self, market_id: str, sets_micros: int, ts_ns: int) -> int:
        """Merge complete sets of a market into collateral ($1 per set) and realize them.

        Returns:
            The realized P&L of the merge: $1 per set minus the sets' prorated cost.

        Raises:
            ValueError: unknown market, or fewer than sets_micros of some token held.
        """
        meta = self._s.markets.get(market_id)
        if meta is None or sets_micros <= 0:
            raise ValueError(f"cannot merge {sets_micros} sets of {market_id}")
        positions = [self._s.tokens.get(t, TokenPosition()) for t in meta.tokens]
        if min(p.qty_micros for p in positions) < sets_micros:
            raise ValueError(f"merge of {sets_micros} exceeds the sets held in {market_id}")
        total = 0
        for i, pos in enumerate(positions):
            removed = prorate(pos.cost_micros, sets_micros, pos.qty_micros)
            pos.qty_micros -= sets_micros
            pos.cost_micros -= removed
            gain = (sets_micros if i == 0 else 0) - removed  # the $1 is booked on the first
            self._realize(pos, gain, ts_ns)
            total += gain
        self._hedge = None
        return total

    def _realize(self, pos: TokenPosition, amount: int, ts_ns: int) -> None:
        if amount:
            pos.realized_micros += amount
            day = utc_day(ts_ns)
            self._s.daily_realized[day] = self._s.daily_realized.get(day, 0) + amount

    # ---- P&L queries ---------------------------------------------------------------------

    def position(self, token_id: str) -> TokenPosition:
        """A copy of one token's position (all zero when never traded)."""
        pos = self._s.tokens.get(token_id)
        return TokenPosition() if pos is None else msgspec.structs.replace(pos)

    def market_positions(self, market_id: str) -> dict[str, TokenPosition]:
        """Copies of the positions of a market's tokens, in the market's token order."""
        return {t: self.position(t) for t in self._tokens_of(market_id)}

    def market_realized_micros(self, market_id: str) -> int:
        """Realized P&L of one market (all days)."""
        return sum(p.realized_micros for p in self.market_positions(market_id).values())

    def held_tokens(self) -> list[str]:
        """Tokens with a nonzero quantity, sorted."""
        return sorted(t for t, p in self._s.tokens.items() if p.qty_micros)

    def realized_micros(self) -> int:
        """Realized P&L of the whole run (all days)."""
        return sum(p.realized_micros for p in self._s.tokens.values())

    def realized_on(self, day: str) -> int:
        """Realized P&L booked on one UTC day (YYYY-MM-DD) of event time."""
        return self._s.daily_realized.get(day, 0)

    def realized_today(self, now_ns: int) -> int:
        """Realized P&L on the UTC day of now_ns (event time), for the daily loss limit."""
        return self.realized_on(utc_day(now_ns))

    def daily_realized(self) -> dict[str, int]:
        """Realized P&L by UTC day, sorted by day."""
        return dict(sorted(self._s.daily_realized.items()))

    def locked_edge_micros(self) -> int:
        """$1 per hedged set held minus those sets' prorated cost (rule 5)."""
        hedge = self._hedges()
        cost = sum(prorate(self._s.tokens[t].cost_micros, h, self._s.tokens[t].qty_micros)
                   for t, h in hedge.hedged.items())
        return hedge.sets_micros - cost

    def unrealized_micros(self, book_of: BookLookup) -> int:
        """Mark-to-market of open positions minus their cost (rule 7)."""
        hedge = self._hedges()
        value = hedge.sets_micros
        cost = 0
        for token in self.held_tokens():
            pos = self._s.tokens[token]
            cost += pos.cost_micros
            rest = pos.qty_micros - hedge.hedged.get(token, 0)
            mark = _mark(book_of(token), pos.last_price_micros)
            value += (prorate(pos.cost_micros, rest, pos.qty_micros) if mark is None
                      else _value(rest, mark))
        return value - cost

    # ---- ExposureView ----------------------------------------------------------------------

    def market_of(self, token_id: str) -> str:
        """The market (condition id) of a token; the token id itself when never registered."""
        return self._s.token_market.get(token_id, token_id)

    def group_of(self, market_id: str) -> str | None:
        """The neg-risk group id of a market, or None."""
        meta = self._s.markets.get(market_id)
        return None if meta is None else meta.group

    def token_exposure_micros(self, token_id: str) -> int:
        """What one token's position can still lose (rule 6)."""
        pos = self._s.tokens.get(token_id)
        if pos is None or pos.qty_micros == 0:
            return 0
        if pos.qty_micros < 0:
            return max(0, -pos.qty_micros + pos.cost_micros)
        rest = pos.qty_micros - self._hedges().hedged.get(token_id, 0)
        return max(0, prorate(pos.cost_micros, rest, pos.qty_micros))

    def market_exposure_micros(self, market_id: str) -> int:
        """Exposure of one market (rule 6)."""
        return sum(self.token_exposure_micros(t) for t in self._tokens_of(market_id))

    def group_exposure_micros(self, group_id: str) -> int:
        """Exposure of one neg-risk group: the sum of its markets."""
        return sum(self.market_exposure_micros(m) for m in self._s.groups.get(group_id, []))

    def total_exposure_micros(self) -> int:
        """Exposure of all positions."""
        return sum(self.token_exposure_micros(t) for t in self.held_tokens())

    def open_positions(self) -> int:
        """Markets holding more than dust of unhedged shares (long or short)."""
        hedged = self._hedges().hedged
        return len({self.market_of(t) for t in self.held_tokens()
                    if abs(self._s.tokens[t].qty_micros) - hedged.get(t, 0) > self.dust})

    # ---- snapshot --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as canonical JSON-able data (sorted keys)."""
        data: dict[str, Any] = msgspec.to_builtins(self._s, order="sorted")
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with snapshot() output.

        Raises:
            msgspec.ValidationError: data is not a positions snapshot.
        """
        self._s = msgspec.convert(data, _State)
        self._hedge = None

    # ---- internals -------------------------------------------------------------------------

    def _tokens_of(self, market_id: str) -> list[str]:
        meta = self._s.markets.get(market_id)
        return [market_id] if meta is None else meta.tokens

    def _qty(self, token_id: str) -> int:
        pos = self._s.tokens.get(token_id)
        return 0 if pos is None else pos.qty_micros

    def _hedges(self) -> _Hedge:
        if self._hedge is None:
            self._hedge = self._compute_hedges()
        return self._hedge

    def _compute_hedges(self) -> _Hedge:
        hedged: dict[str, int] = {}
        sets = 0
        held = {self.market_of(t) for t in self.held_tokens()}
        for market_id in sorted(held):
            meta = self._s.markets.get(market_id)
            if meta is None or len(meta.tokens) < 2:
                continue
            n = min(self._qty(t) for t in meta.tokens)
            if n > 0:
                sets += n
                hedged.update({t: n for t in meta.tokens})
        for _, members in sorted(self._s.groups.items()):
            yes = [self._s.markets[m].yes_token for m in members]
            if len(members) < 2 or any(self._s.markets[m].augmented for m in members):
                continue
            n = min(self._qty(t) - hedged.get(t, 0) for t in yes)
            if n > 0:
                sets += n
                hedged.update({t: hedged.get(t, 0) + n for t in yes})
        return _Hedge(hedged, sets)


def _trade(qty: int, cost: int, dq: int, cash: int) -> tuple[int, int]:
    """(cost delta, realized) of adding dq shares for cash (paid > 0) to (qty, cost)."""
    if dq == 0:
        return 0, -cash  # all shares withheld as fee: the cash is simply lost
    if qty == 0 or (qty > 0) == (dq > 0):
        return cash, 0
    close = min(abs(dq), abs(qty))
    cost_removed = prorate(cost, close, abs(qty))
    cash_close = prorate(cash, close, abs(dq))
    return cash - cash_close - cost_removed, -cash_close - cost_removed


def _mark(book: BookView | None, last: int | None) -> int | None:
    if book is not None and book.usable:
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        if bid is not None or ask is not None:
            return bid if ask is None else ask
    return last


def _value(qty: int, mark: int) -> int:
    return qty * mark // MICROS
