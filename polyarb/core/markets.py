# The market registry: which tokens exist, how they pair up, how they trade.
#
# Rules:
# 1. Built only from MarketsLoaded (upsert by condition id) and the market facts the engine
#    forwards (tick_size_change, new_market, market_resolved, accepting-orders changes). A bad
#    market is returned as a Rejection for the engine to journal, never silently dropped and
#    never a crash. A condition's token ids never change; a reload that changes them is refused.
# 2. Binary pair = the two tokens of one condition. Neg-risk group = every market sharing a
#    neg_risk_market_id; its outcomes are ordered by condition id so the order never depends on
#    load order or hashing. A member's YES token is the one whose outcome is "Yes" (any case),
#    else its first token. The registry trusts the loader to load whole neg-risk events: a
#    basket over a partial group is not an arbitrage.
# 3. A group member that resolved NO drops out of the basket (its YES is worth 0). A group is
#    tradable only if it has >= 2 remaining outcomes and each one is tradable
#    (active, not closed, accepting orders). Augmented groups are marked; detection skips them
#    unless configured otherwise.
# 4. Lookups never iterate the whole registry, so per-frame cost does not grow with its size.
#    Detection reads precompiled plans (BinaryPlan, GroupPlan), rebuilt only for what changed.
#    Plans hold interned token ids, as books do, so lookups between them match by identity.
# 5. snapshot() is canonical JSON-able data (markets sorted by condition id); restore() rebuilds
#    every index from it.
from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec

from polyarb.core.fees import FeeModel, compile_fee, schedule_error
from polyarb.events.inputs import MarketInfo, MarketsLoaded

MICROS = 1_000_000
_P = TypeVar("_P")


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """A market the registry refused, and why (the engine journals it)."""

    condition_id: str
    reason: str


class Touched(msgspec.Struct, frozen=True, kw_only=True):
    """Binary markets and neg-risk groups touched by some tokens, each sorted."""

    markets: tuple[str, ...]
    groups: tuple[str, ...]


class BinaryPlan:
    """What detection needs about one binary market, precompiled."""

    __slots__ = ("fee", "grouped", "market_id", "min_size_micros", "tokens", "tradable")

    def __init__(self, info: MarketInfo) -> None:
        self.market_id = info.condition_id
        # Interned, as Book interns its token id: detection's book lookups by these ids then
        # match by identity instead of comparing 77 digits in memory that is likely cold.
        self.tokens = (sys.intern(info.tokens[0].token_id), sys.intern(info.tokens[1].token_id))
        self.tradable = is_tradable(info)
        self.grouped = _group_id(info) is not None  # a token of it may sit in a basket
        self.min_size_micros = info.min_order_size_micros
        self.fee: FeeModel = compile_fee(info.fees)


class GroupPlan:
    """What detection needs about one neg-risk group: its live outcomes in stable order."""

    __slots__ = ("augmented", "fees", "group_id", "market_ids", "min_size_micros", "tokens",
                 "tradable")

    def __init__(self, group_id: str, members: list[MarketInfo]) -> None:
        live = [m for m in members if not _resolved_no(m)]
        self.group_id = group_id
        self.market_ids = tuple(m.condition_id for m in live)
        self.tokens = tuple(sys.intern(yes_token(m)) for m in live)  # see BinaryPlan
        self.fees: tuple[FeeModel, ...] = tuple(compile_fee(m.fees) for m in live)
        self.augmented = any(m.neg_risk_augmented for m in members)
        self.tradable = len(live) >= 2 and all(is_tradable(m) for m in live)
        self.min_size_micros = max((m.min_order_size_micros for m in live), default=0)


def is_tradable(info: MarketInfo) -> bool:
    """True when orders can be placed: active, not closed, accepting orders."""
    return info.active and not info.closed and info.accepting_orders


def yes_token(info: MarketInfo) -> str:
    """The YES token of a market: outcome "Yes" (any case), else the first token."""
    for tok in info.tokens:
        if tok.outcome.strip().lower() == "yes":
            return tok.token_id
    return info.tokens[0].token_id


def _resolved_no(info: MarketInfo) -> bool:
    win = info.winning_token_id
    return info.closed and win is not None and win != yes_token(info)


def _unique_sorted(plans: dict[str, _P]) -> list[_P]:
    return [plans[k] for k in sorted(plans)]


def _group_id(info: MarketInfo) -> str | None:
    return info.neg_risk_market_id if info.neg_risk and info.neg_risk_market_id else None


def market_error(info: MarketInfo) -> str | None:
    """Return why a market cannot be registered, or None when it is fine."""
    ids = [t.token_id for t in info.tokens]
    if not info.condition_id:
        return "empty condition id"
    if len(ids) != 2:
        return f"expected 2 tokens, got {len(ids)}"
    if ids[0] == ids[1] or "" in ids:
        return "token ids must be two distinct non-empty strings"
    if not 0 < info.tick_size_micros < MICROS:
        return f"tick size {info.tick_size_micros} outside (0, 1e6)"
    if info.min_order_size_micros < 0:
        return f"negative minimum order size {info.min_order_size_micros}"
    if info.winning_token_id is not None and info.winning_token_id not in ids:
        return "winning token is not one of the market's tokens"
    return schedule_error(info.fees)


class MarketRegistry:
    """Every known market, indexed by condition id, token and neg-risk group."""

    def __init__(self) -> None:
        self._markets: dict[str, MarketInfo] = {}
        self._token_market: dict[str, str] = {}
        self._token_groups: dict[str, tuple[str, ...]] = {}
        self._token_plan: dict[str, BinaryPlan] = {}
        self._group_members: dict[str, dict[str, MarketInfo]] = {}
        self._binary: dict[str, BinaryPlan] = {}
        self._groups: dict[str, GroupPlan] = {}

    def __len__(self) -> int:
        return len(self._markets)

    # -- updates ---------------------------------------------------------------------------

    def apply_markets_loaded(self, event: MarketsLoaded) -> list[Rejection]:
        """Fold a MarketsLoaded event: upsert each market. Returns the markets refused."""
        return self.load(event.markets)

    def load(self, markets: Iterable[MarketInfo]) -> list[Rejection]:
        """Insert or replace markets (by condition id); markets not listed are kept.

        Args:
            markets: market metadata, in any order.

        Returns:
            One Rejection per market refused (invalid fields, or token ids that clash with
            another market or with the condition's earlier token ids), in input order.
        """
        rejected: list[Rejection] = []
        dirty: dict[str, None] = {}
        for info in markets:
            reason = market_error(info) or self._clash(info)
            if reason is not None:
                rejected.append(Rejection(condition_id=info.condition_id, reason=reason))
                continue
            self._put(info, dirty)
        self._rebuild_groups(dirty)
        return rejected

    def add_market(self, info: MarketInfo) -> list[Rejection]:
        """Register a market announced by a `new_market` event (same rules as `load`)."""
        return self.load((info,))

    def set_tick_size(self, token_id: str, tick_size_micros: int) -> bool:
        """Apply a `tick_size_change` for a token's market. False if unknown or invalid."""
        if not 0 < tick_size_micros < MICROS:
            return False
        return self._update(self._token_market.get(token_id), tick_size_micros=tick_size_micros)

    def set_accepting_orders(self, condition_id: str, accepting: bool) -> bool:
        """Record that a market started or stopped accepting orders. False if unknown."""
        return self._update(condition_id, accepting_orders=accepting)

    def resolve(self, condition_id: str, winning_token_id: str | None) -> bool:
        """Apply `market_resolved`: closed, not accepting, with its winner (None if unknown).

        Returns:
            False if the market is unknown or the winner is not one of its tokens.
        """
        info = self._markets.get(condition_id)
        if info is None:
            return False
        if winning_token_id is not None and winning_token_id not in self.tokens_of(condition_id):
            return False
        return self._update(
            condition_id, closed=True, accepting_orders=False, winning_token_id=winning_token_id
        )

    # -- lookups ---------------------------------------------------------------------------

    def market(self, condition_id: str) -> MarketInfo | None:
        """The market's metadata, or None."""
        return self._markets.get(condition_id)

    def market_of(self, token_id: str) -> str | None:
        """The condition id a token belongs to, or None."""
        return self._token_market.get(token_id)

    def tokens_of(self, condition_id: str) -> tuple[str, ...]:
        """A market's token ids in the order it was loaded with (empty if unknown)."""
        plan = self._binary.get(condition_id)
        return plan.tokens if plan is not None else ()

    def complement(self, token_id: str) -> str | None:
        """The other token of the token's binary pair, or None."""
        plan = self._binary.get(self._token_market.get(token_id, ""))
        if plan is None:
            return None
        return plan.tokens[1] if plan.tokens[0] == token_id else plan.tokens[0]

    def groups_of(self, token_id: str) -> tuple[str, ...]:
        """Neg-risk groups whose basket includes this token (only YES tokens belong)."""
        return self._token_groups.get(token_id, ())

    def group_markets(self, group_id: str) -> tuple[str, ...]:
        """Condition ids of a group's remaining outcomes, in basket order."""
        plan = self._groups.get(group_id)
        return plan.market_ids if plan is not None else ()

    def group_tokens(self, group_id: str) -> tuple[str, ...]:
        """YES token ids of a group's remaining outcomes, in basket order."""
        plan = self._groups.get(group_id)
        return plan.tokens if plan is not None else ()

    def binary_plan(self, condition_id: str) -> BinaryPlan | None:
        """The precompiled binary plan of a market, or None."""
        return self._binary.get(condition_id)

    def group_plan(self, group_id: str) -> GroupPlan | None:
        """The precompiled plan of a neg-risk group, or None."""
        return self._groups.get(group_id)

    def touched(self, token_ids: Iterable[str]) -> Touched:
        """Markets and groups a set of tokens can affect; cost grows only with the tokens.

        Unknown tokens are ignored (a book for a market we never loaded opens no trade).
        """
        markets: dict[str, None] = {}
        groups: dict[str, None] = {}
        for tok in token_ids:
            cid = self._token_market.get(tok)
            if cid is None:
                continue
            markets[cid] = None
            for gid in self._token_groups[tok]:
                groups[gid] = None
        return Touched(markets=tuple(sorted(markets)), groups=tuple(sorted(groups)))

    def sole_plan(self, token_ids: Iterable[str]) -> BinaryPlan | None:
        """The one binary plan some tokens touch when that is all they touch, else None.

        The common frame (a market's YES and NO, no neg-risk basket) needs no lists: None
        means "ask plans_touched" (several markets, a basket, or no known token).
        """
        found = None
        token_plan = self._token_plan
        for tok in token_ids:
            if found is not None and (tok is found.tokens[0] or tok is found.tokens[1]):
                continue  # interned ids (MarketData reports them): the other side, no lookup
            plan = token_plan.get(tok)
            if plan is None or plan.grouped or (found is not None and plan is not found):
                return None
            found = plan
        return found

    def plans_touched(
        self, token_ids: Iterable[str]
    ) -> tuple[list[BinaryPlan], list[GroupPlan]]:
        """The plans of the markets and groups some tokens touch, each sorted by id.

        The hot path of detection: one dict lookup per token (two for a neg-risk market's);
        repeats of the previous market (a frame's YES and NO) are dropped on the fly, and only a
        list of several is sorted.
        """
        markets: list[BinaryPlan] = []
        groups: list[GroupPlan] = []
        token_plan = self._token_plan
        last = None
        for tok in token_ids:
            plan = token_plan.get(tok)
            if plan is None:
                continue
            if plan is not last:
                markets.append(plan)
                last = plan
            if plan.grouped:
                for gid in self._token_groups[tok]:
                    groups.append(self._groups[gid])
        if len(markets) > 1:
            markets = _unique_sorted({p.market_id: p for p in markets})
        if len(groups) > 1:
            groups = _unique_sorted({g.group_id: g for g in groups})
        return markets, groups

    # -- snapshot --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Canonical JSON-able state: every market, sorted by condition id."""
        infos = [self._markets[cid] for cid in sorted(self._markets)]
        return {"markets": msgspec.to_builtins(infos)}

    @classmethod
    def restore(cls, data: Mapping[str, Any]) -> MarketRegistry:
        """Rebuild a registry from `snapshot()` output.

        Raises:
            ValueError: the data is malformed or holds a market the registry would refuse.
        """
        try:
            infos = msgspec.convert(data["markets"], list[MarketInfo])
        except (KeyError, TypeError, msgspec.ValidationError) as exc:
            raise ValueError(f"bad market registry snapshot: {exc}") from exc
        reg = cls()
        rejected = reg.load(infos)
        if rejected:
            raise ValueError(f"bad market registry snapshot: {rejected[0].reason}")
        return reg

    # -- internals -------------------------------------------------------------------------

    def _clash(self, info: MarketInfo) -> str | None:
        old = self._markets.get(info.condition_id)
        ids = tuple(t.token_id for t in info.tokens)
        if old is not None and tuple(t.token_id for t in old.tokens) != ids:
            return "token ids of a known condition changed"
        for tok in ids:
            owner = self._token_market.get(tok, info.condition_id)
            if owner != info.condition_id:
                return f"token {tok} already belongs to market {owner}"
        return None

    def _put(self, info: MarketInfo, dirty: dict[str, None]) -> None:
        cid = info.condition_id
        old = self._markets.get(cid)
        old_gid = _group_id(old) if old is not None else None
        if old_gid is not None:
            self._group_members[old_gid].pop(cid, None)
            dirty[old_gid] = None
        self._markets[cid] = info
        gid = _group_id(info)
        yes = yes_token(info)
        for tok in info.tokens:
            self._token_market[tok.token_id] = cid
            basket = (gid,) if gid is not None and tok.token_id == yes else ()
            self._token_groups[tok.token_id] = basket
        plan = self._binary[cid] = BinaryPlan(info)
        for token_id in plan.tokens:  # interned: a lookup by a book's id matches by identity
            self._token_plan[token_id] = plan
        if gid is not None:
            self._group_members.setdefault(gid, {})[cid] = info
            dirty[gid] = None

    def _rebuild_groups(self, dirty: Mapping[str, None]) -> None:
        for gid in dirty:
            members = self._group_members.get(gid, {})
            if not members:
                self._group_members.pop(gid, None)
                self._groups.pop(gid, None)
                continue
            self._groups[gid] = GroupPlan(gid, [members[c] for c in sorted(members)])

    def _update(self, condition_id: str | None, **changes: Any) -> bool:
        info = self._markets.get(condition_id) if condition_id is not None else None
        if info is None:
            return False
        dirty: dict[str, None] = {}
        self._put(msgspec.structs.replace(info, **changes), dirty)
        self._rebuild_groups(dirty)
        return True
