# Trade records and their on-chain settlement timeline: MATCHED -> MINED -> CONFIRMED, with
# injected RETRYING and FAILED.
#
# Rules:
# 1. Time only arrives as `now_ns` arguments. A new trade is due MINED `mine_after_ns` after
#    the match and CONFIRMED `confirm_after_ns` after MINED; `advance(now_ns)` applies every
#    transition that is due, in due-time order (ties by scheduling order), and returns the
#    changed records.
# 2. `retry` (MATCHED/MINED -> RETRYING, MINED again `retry_after_ns` later) and `fail`
#    (anything not terminal -> FAILED) are the scenario's hooks. Each hook bumps the trade's
#    epoch, which voids transitions scheduled before it.
# 3. FAILED reverses exactly the balance changes the trade made (its delta map, and the pairs
#    it minted or merged). It is refused (SimError) if an account has since spent what would be
#    taken back: balances never go negative. Orders are not re-opened (the venue does not
#    either); only balances move back.
# 4. CONFIRMED and FAILED are terminal. The newest `trade_retention` terminal trades are kept
#    for queries; older ones are forgotten so a long simulation runs in bounded memory.
# 5. The transaction hash is assigned when a trade is first MINED (empty before, as on the
#    venue), from the exchange's deterministic id source.
from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

import msgspec

from polyarb.events.inputs import SettlementStatus
from polyarb.sim.accounts import Ledger
from polyarb.sim.errors import SimError
from polyarb.sim.fills import Deltas
from polyarb.sim.records import Trade

_TERMINAL = ("CONFIRMED", "FAILED")


class _State:
    __slots__ = ("deltas", "epoch", "pairs", "trade")

    def __init__(self, trade: Trade, deltas: Deltas, pairs: int) -> None:
        self.trade = trade
        self.deltas = deltas
        self.pairs = pairs
        self.epoch = 0


class Settlement:
    """All retained trades, their settlement schedule and the per-owner index."""

    def __init__(self, ledger: Ledger, *, mine_after_ns: int, confirm_after_ns: int,
                 retry_after_ns: int, retention: int, new_tx_hash: Callable[[], str]) -> None:
        self._ledger = ledger
        self._mine_after = mine_after_ns
        self._confirm_after = confirm_after_ns
        self._retry_after = retry_after_ns
        self._retention = retention
        self._new_tx_hash = new_tx_hash
        self._trades: dict[str, _State] = {}
        self._by_owner: dict[str, dict[str, None]] = {}
        self._queue: list[tuple[int, int, str, int, SettlementStatus]] = []
        self._seq = 0
        self._done: deque[str] = deque()

    def add(self, trade: Trade, deltas: Deltas, pairs: int) -> None:
        """Record a new MATCHED trade and schedule its mining."""
        self._trades[trade.id] = _State(trade, deltas, pairs)
        for owner in trade.owners():
            self._by_owner.setdefault(owner, {})[trade.id] = None
        self._schedule(trade.match_time_ns + self._mine_after, trade.id, 0, "MINED")

    def get(self, trade_id: str) -> Trade | None:
        """The current record of a retained trade."""
        state = self._trades.get(trade_id)
        return None if state is None else state.trade

    def for_owner(self, owner: str) -> list[Trade]:
        """Retained trades where `owner` is the taker or a maker, oldest first."""
        ids = self._by_owner.get(owner, {})
        return [self._trades[t].trade for t in ids]

    def advance(self, now_ns: int) -> list[Trade]:
        """Apply every scheduled transition due at `now_ns`; return the changed records."""
        changed: list[Trade] = []
        queue = self._queue
        while queue and queue[0][0] <= now_ns:
            due, _, trade_id, epoch, target = heapq.heappop(queue)
            state = self._trades.get(trade_id)
            if state is None or state.epoch != epoch or state.trade.status in _TERMINAL:
                continue
            changed.append(self._to(state, target, due))
            if target == "MINED":
                self._schedule(due + self._confirm_after, trade_id, epoch, "CONFIRMED")
        return changed

    def retry(self, trade_id: str, now_ns: int) -> Trade:
        """Inject RETRYING (the tx reverted and is resubmitted); MINED again later.

        Raises:
            SimError: unknown trade, or not MATCHED/MINED.
        """
        state = self._state(trade_id)
        if state.trade.status not in ("MATCHED", "MINED"):
            raise SimError(f"trade {trade_id} is {state.trade.status}: cannot retry")
        state.epoch += 1
        self._schedule(now_ns + self._retry_after, trade_id, state.epoch, "MINED")
        return self._to(state, "RETRYING", now_ns)

    def fail(self, trade_id: str, now_ns: int) -> Trade:
        """Inject FAILED: the settlement never happens; the trade's balance changes reverse.

        Raises:
            SimError: unknown or terminal trade, or the reversal would overdraw an account.
        """
        state = self._state(trade_id)
        if state.trade.status in _TERMINAL:
            raise SimError(f"trade {trade_id} is {state.trade.status}: cannot fail")
        reversal = [(owner, asset, -delta) for (owner, asset), delta in state.deltas.items()]
        why = self._ledger.can_apply(reversal)
        if why is not None:
            raise SimError(f"cannot fail trade {trade_id}: {why}")
        for owner, asset, delta in reversal:
            self._ledger.move(self._ledger.accounts[owner], asset, delta)
        cid = state.trade.market
        self._ledger.locked[cid] = self._ledger.locked.get(cid, 0) - state.pairs
        state.epoch += 1
        return self._to(state, "FAILED", now_ns)

    def _state(self, trade_id: str) -> _State:
        state = self._trades.get(trade_id)
        if state is None:
            raise SimError(f"unknown trade {trade_id}")
        return state

    def _schedule(self, due: int, trade_id: str, epoch: int, target: SettlementStatus) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, trade_id, epoch, target))

    def _to(self, state: _State, status: SettlementStatus, now_ns: int) -> Trade:
        trade = state.trade
        tx = trade.transaction_hash
        if status == "MINED" and not tx:
            tx = self._new_tx_hash()
        state.trade = msgspec.structs.replace(
            trade, status=status, last_update_ns=now_ns, transaction_hash=tx)
        if status in _TERMINAL:
            self._retire(trade.id)
        return state.trade

    def _retire(self, trade_id: str) -> None:
        self._done.append(trade_id)
        while len(self._done) > self._retention:
            old = self._trades.pop(self._done.popleft())
            for owner in old.trade.owners():
                index = self._by_owner[owner]
                del index[old.trade.id]
                if not index:
                    del self._by_owner[owner]
