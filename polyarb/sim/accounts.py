# Accounts of the simulated exchange: collateral, outcome tokens, reservations, the fee account
# and the collateral locked in minted YES/NO pairs.
#
# Rules:
# 1. Integers only (micro-pUSD, micro-shares). An account is keyed by its owner (the API key);
#    a new owner is created on first use with `default_collateral_micros` and no tokens.
# 2. `reserved` is the part of a balance held by open orders: collateral for BUYs
#    (ceil(size * price)), tokens for SELLs (the remaining size). available = balance -
#    reserved. Orders are only accepted against available balance, so fills, which spend from
#    the order's own reservation, can never drive a balance negative.
# 3. Tokens exist only in YES/NO pairs: a mint (BUY vs BUY across the two tokens, or `split`)
#    locks 1 collateral per pair, a merge (SELL vs SELL, or `merge`) unlocks it. Hence the
#    conservation laws checked by `problems()`:
#      sum(collateral over accounts incl. the fee account) + sum(locked) == deposited
#      for each market: supply(YES) == supply(NO) == locked[market]
# 4. The fee account takes taker fees (collateral on SELL, shares on BUY) and the rounding dust
#    of fills (see polyarb/sim/fills.py), and never trades.
# 5. Iteration is in insertion order (dicts), never over sets, so results are deterministic.
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from polyarb.sim.errors import SimError

COLLATERAL = ""
"""The asset key of collateral in balance and delta maps (token ids are never empty)."""


class Account:
    """Balances of one owner. `tokens`/`tokens_reserved` map token id -> micro-shares."""

    __slots__ = ("address", "collateral", "collateral_reserved", "owner", "tokens",
                 "tokens_reserved")

    def __init__(self, owner: str, address: str, collateral: int) -> None:
        self.owner = owner
        self.address = address
        self.collateral = collateral
        self.collateral_reserved = 0
        self.tokens: dict[str, int] = {}
        self.tokens_reserved: dict[str, int] = {}

    def available(self, asset: str) -> int:
        """Balance not held by open orders; `asset` is a token id or COLLATERAL."""
        if asset == COLLATERAL:
            return self.collateral - self.collateral_reserved
        return self.tokens.get(asset, 0) - self.tokens_reserved.get(asset, 0)

    def balance(self, asset: str) -> int:
        """Total balance of one asset, reserved part included."""
        return self.collateral if asset == COLLATERAL else self.tokens.get(asset, 0)


def default_address(owner: str) -> str:
    """A deterministic 0x address for an owner that never told us its own."""
    return "0x" + hashlib.sha256(b"polyarb-sim-address:" + owner.encode()).hexdigest()[:40]


class Ledger:
    """All accounts, the fee account and the locked pair collateral per market."""

    def __init__(self, default_collateral_micros: int, fee_owner: str) -> None:
        self.default_collateral = default_collateral_micros
        self.accounts: dict[str, Account] = {}
        self.locked: dict[str, int] = {}  # condition id -> collateral locked in pairs
        self.deposited = 0
        self.dust = 0  # cumulative rounding dust credited to the fee account (may net to 0)
        self.fees = self.open(fee_owner, collateral_micros=0)

    def open(self, owner: str, *, address: str | None = None,
             collateral_micros: int | None = None) -> Account:
        """Create an account.

        Args:
            owner: the API key (or any unique owner name).
            address: the funder address shown as maker_address; derived when None.
            collateral_micros: starting collateral; the configured default when None.

        Raises:
            SimError: the owner exists already, or the amount is negative.
        """
        if owner in self.accounts:
            raise SimError(f"account {owner!r} exists already")
        amount = self.default_collateral if collateral_micros is None else collateral_micros
        if amount < 0:
            raise SimError(f"negative starting collateral {amount}")
        account = Account(owner, address or default_address(owner), amount)
        self.accounts[owner] = account
        self.deposited += amount
        return account

    def get(self, owner: str) -> Account:
        """The owner's account, created with the defaults on first use."""
        account = self.accounts.get(owner)
        return account if account is not None else self.open(owner)

    def deposit(self, owner: str, amount_micros: int) -> None:
        """Add collateral from outside the exchange (a pUSD transfer in).

        Raises:
            SimError: negative amount.
        """
        if amount_micros < 0:
            raise SimError(f"negative deposit {amount_micros}")
        self.get(owner).collateral += amount_micros
        self.deposited += amount_micros

    def split(self, owner: str, condition_id: str, tokens: tuple[str, str], amount: int) -> None:
        """Turn `amount` available collateral into `amount` of each token (a CTF split).

        Raises:
            SimError: non-positive amount or not enough available collateral.
        """
        account = self.get(owner)
        if amount <= 0 or account.available(COLLATERAL) < amount:
            raise SimError(f"cannot split {amount}: available {account.available(COLLATERAL)}")
        account.collateral -= amount
        for token in tokens:
            account.tokens[token] = account.tokens.get(token, 0) + amount
        self.locked[condition_id] = self.locked.get(condition_id, 0) + amount

    def merge(self, owner: str, condition_id: str, tokens: tuple[str, str], amount: int) -> None:
        """Turn `amount` available of each token back into collateral (a CTF merge).

        Raises:
            SimError: non-positive amount or not enough available tokens.
        """
        account = self.get(owner)
        have = min(account.available(t) for t in tokens)
        if amount <= 0 or have < amount:
            raise SimError(f"cannot merge {amount}: available pairs {have}")
        for token in tokens:
            account.tokens[token] -= amount
        account.collateral += amount
        self.locked[condition_id] -= amount

    # --- reservations -----------------------------------------------------------------------

    def reserve(self, account: Account, asset: str, amount: int) -> bool:
        """Hold `amount` of available balance for an order; False when it is not there."""
        if account.available(asset) < amount:
            return False
        if asset == COLLATERAL:
            account.collateral_reserved += amount
        else:
            account.tokens_reserved[asset] = account.tokens_reserved.get(asset, 0) + amount
        return True

    def release(self, account: Account, asset: str, amount: int) -> None:
        """Give back `amount` of a reservation (order closed, or a fill spent it)."""
        if asset == COLLATERAL:
            account.collateral_reserved -= amount
        else:
            account.tokens_reserved[asset] -= amount

    # --- movements ----------------------------------------------------------------------------

    def move(self, account: Account, asset: str, delta: int) -> None:
        """Change a balance by `delta` (callers keep reservations consistent)."""
        if asset == COLLATERAL:
            account.collateral += delta
        else:
            account.tokens[asset] = account.tokens.get(asset, 0) + delta

    def can_apply(self, deltas: Iterable[tuple[str, str, int]]) -> str | None:
        """Why applying (owner, asset, delta) changes would overdraw available balance, or None."""
        for owner, asset, delta in deltas:
            account = self.accounts[owner]
            if delta < 0 and account.available(asset) + delta < 0:
                return f"{owner} has {account.available(asset)} available of {asset or 'pUSD'}"
        return None

    # --- invariants ---------------------------------------------------------------------------

    def supply(self, token: str) -> int:
        """Total units of one token held over all accounts."""
        return sum(a.tokens.get(token, 0) for a in self.accounts.values())

    def problems(self, markets: Iterable[tuple[str, str, str]]) -> list[str]:
        """Conservation and sign violations (empty when all is well); see rule 3.

        Args:
            markets: (condition id, YES token, NO token) of every market.
        """
        out: list[str] = []
        total = sum(a.collateral for a in self.accounts.values())
        if total + sum(self.locked.values()) != self.deposited:
            out.append(f"collateral {total} + locked {sum(self.locked.values())} "
                       f"!= deposited {self.deposited}")
        for cid, yes, no in markets:
            locked = self.locked.get(cid, 0)
            if not self.supply(yes) == self.supply(no) == locked:
                out.append(f"{cid}: supply {self.supply(yes)}/{self.supply(no)} locked {locked}")
        for a in self.accounts.values():
            out.extend(_account_problems(a))
        return out


def _account_problems(a: Account) -> list[str]:
    out = []
    if a.collateral_reserved < 0 or a.collateral < a.collateral_reserved:
        out.append(f"{a.owner}: collateral {a.collateral} reserved {a.collateral_reserved}")
    for token, bal in a.tokens.items():
        held = a.tokens_reserved.get(token, 0)
        if held < 0 or bal < held:
            out.append(f"{a.owner}: token {token} balance {bal} reserved {held}")
    return out
