# Property tests: random sequences of orders, cancels, splits, time and settlement failures
# keep every invariant: uncrossed mirrored books, exact conservation of collateral and tokens,
# no negative or inconsistent balances, FOK all-or-nothing, FAK never resting, price-time
# priority in every trade, and determinism.
from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.numbers import parse_micros
from polyarb.sim import Exchange, OrderEvent, SimError, TradeEvent
from polyarb.sim import errors as E
from polyarb.sim.model import MICROS
from tests.sim.helpers import CID, CRYPTO, NO, YES, M, exchange, order

OWNERS = ("a", "b", "c", "d")
S = 1_000_000_000

_place = st.tuples(
    st.just("place"),
    st.sampled_from(OWNERS),
    st.sampled_from((YES, NO)),
    st.sampled_from(("BUY", "SELL")),
    st.integers(30, 70).map(lambda k: k * 10_000),
    st.one_of(st.integers(5, 40).map(lambda k: k * M),  # round sizes
              st.integers(5 * M, 40 * M)),  # any micro size: inexact notionals
    st.sampled_from(("GTC", "GTC", "GTD", "FOK", "FAK")),
    st.sampled_from((False, False, False, True)),  # post-only
)
_other = st.one_of(
    st.tuples(st.just("cancel"), st.sampled_from(OWNERS), st.integers(0, 50)),
    st.tuples(st.just("cancel_all"), st.sampled_from(OWNERS)),
    st.tuples(st.just("split"), st.sampled_from(OWNERS), st.integers(1, 30 * M)),
    st.tuples(st.just("advance"), st.integers(0, 20 * S)),
    st.tuples(st.just("heartbeat"), st.sampled_from(OWNERS)),
    st.tuples(st.just("fail"), st.integers(0, 50)),
    st.tuples(st.just("retry"), st.integers(0, 50)),
)
# one_of would treat repeated strategies as one; pick places ~75% of the time instead
_op = st.integers(0, 3).flatmap(lambda k: _other if k == 0 else _place)
OPS = st.lists(_op, min_size=10, max_size=60)


class Run:
    """Applies ops to a fresh exchange and checks the invariants after each one."""

    def __init__(self, delay_ns: int = 0) -> None:
        self.ex: Exchange = exchange(fees=CRYPTO, default_collateral_micros=300 * M,
                                     delay_ns=delay_ns)
        for owner in OWNERS:
            self.ex.split(owner, CID, 40 * M)
        self.now = 0
        self.placed: list[str] = []
        self.market_orders: dict[str, tuple[str, int]] = {}  # FOK/FAK id -> (type, size)
        self.rested: dict[str, int] = {}  # order id -> when it entered the book (event count)
        self.trades: list[str] = []
        self.log: list[bytes] = []

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "place":
            self._place(*op[1:])
        elif kind == "cancel" and self.placed:
            self.ex.cancel(op[1], self.placed[op[2] % len(self.placed)], self.now)
        elif kind == "cancel_all":
            self.ex.cancel_all(op[1], self.now)
        elif kind == "split":
            with contextlib.suppress(SimError):
                self.ex.split(op[1], CID, op[2])
        elif kind == "advance":
            self.now += op[1]
            self.ex.advance(self.now)
        elif kind == "heartbeat":
            self.ex.heartbeat(op[1], self.now)
        elif kind in ("fail", "retry") and self.trades:
            self._inject(kind, self.trades[op[1] % len(self.trades)])
        self._drain()

    def _place(self, owner: str, token: str, side: str, price: int, size: int,
               order_type: str, post_only: bool) -> None:
        expiration = (self.now + 61 * S) // S + 30 if order_type == "GTD" else 0
        result = self.ex.place(order(owner, token, side, price, size, order_type=order_type,
                                     post_only=post_only, expiration_s=expiration), self.now)
        if not result.success and result.code not in (E.FOK_NOT_FILLED, E.FAK_NO_MATCH):
            return
        self.placed.append(result.order_id)
        if order_type in ("FOK", "FAK"):
            self.market_orders[result.order_id] = (order_type, size)
        view = self.ex.order(result.order_id)
        assert view is not None
        if order_type == "FOK" and view.status != "DELAYED":
            assert (view.size_matched_micros == size) == result.success
        if result.code == E.FAK_NO_MATCH:
            assert view.size_matched_micros == 0

    def _inject(self, kind: str, trade_id: str) -> None:
        with contextlib.suppress(SimError):  # not every trade can fail/retry at every moment
            if kind == "fail":
                self.ex.fail_trade(trade_id, self.now)
            else:
                self.ex.retry_trade(trade_id, self.now)

    def _drain(self) -> None:
        for event in self.ex.take_events():
            self.log.append(msgspec.json.encode(event))
            if isinstance(event, OrderEvent) and event.type == "PLACEMENT":
                self.rested[event.order.id] = len(self.log)
            if isinstance(event, TradeEvent) and event.trade.status == "MATCHED":
                self.trades.append(event.trade.id)
                self._check_priority(event.trade.maker_orders, event.trade.asset_id)
        self.check()

    def _check_priority(self, makers: Any, taker_token: str) -> None:
        # Within one trade every maker has the same effective price, so the time each entered
        # the book rules (a delayed order enters when its delay ends, not when it arrived).
        entered = [self.rested[m.order_id] for m in makers]
        assert entered == sorted(entered)
        prices = {m.price_micros if m.asset_id == taker_token else MICROS - m.price_micros
                  for m in makers}
        assert len(prices) == 1

    def check(self) -> None:
        assert self.ex.problems() == []
        for order_id, (order_type, size) in self.market_orders.items():
            view = self.ex.order(order_id)
            assert view is not None
            if view.status != "DELAYED":  # FOK/FAK never rest; FOK is all or nothing
                assert view.status in ("MATCHED", "CANCELED")
                assert order_type == "FAK" or view.size_matched_micros in (0, size)
        bid_yes, ask_yes = self.ex.best_prices(YES)
        bid_no, ask_no = self.ex.best_prices(NO)
        assert bid_yes < ask_yes and bid_no < ask_no
        assert bid_yes + bid_no < MICROS < ask_yes + ask_no
        for account in self.ex.ledger.accounts.values():
            assert account.collateral >= 0
            assert all(v >= 0 for v in account.tokens.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_random_sequences_keep_invariants(ops: list[tuple[Any, ...]]) -> None:
    run = Run()
    for op in ops:
        run.apply(op)

    # the NO book is the exact mirror of the YES book, level by level (best last in both)
    yes, no = run.ex.book_json(YES, 0), run.ex.book_json(NO, 0)
    assert _levels(yes["bids"], mirror=True) == _levels(no["asks"], mirror=False)
    assert _levels(yes["asks"], mirror=True) == _levels(no["bids"], mirror=False)


def _levels(levels: list[dict[str, str]], *, mirror: bool) -> list[tuple[int, int]]:
    out = [(parse_micros(lv["price"]), parse_micros(lv["size"])) for lv in levels]
    return [(MICROS - p, s) for p, s in out] if mirror else out


@settings(max_examples=100, deadline=None)
@given(OPS)
def test_random_sequences_with_match_delay_keep_invariants(ops: list[tuple[Any, ...]]) -> None:
    run = Run(delay_ns=3 * S)
    for op in ops:
        run.apply(op)
    run.ex.advance(run.now + 10 * S)
    run._drain()

    for owner in OWNERS:
        assert all(o.status != "DELAYED" for o in run.ex.open_orders(owner))


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_same_ops_same_events(ops: list[tuple[Any, ...]]) -> None:
    first, second = Run(), Run()
    for op in ops:
        first.apply(op)
        second.apply(op)

    assert first.log == second.log


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_failing_every_trade_restores_starting_tokens(ops: list[tuple[Any, ...]]) -> None:
    # Only place/cancel (no time, no injections): then failing every trade in reverse order
    # always succeeds, and balances return to where they started.
    run = Run()
    start = {o: (run.ex.balance(o).balance_micros, run.ex.balance(o, YES).balance_micros)
             for o in OWNERS}
    for op in ops:
        if op[0] in ("place", "cancel", "cancel_all"):
            run.apply(op)
    for owner in OWNERS:
        run.ex.cancel_all(owner, run.now)
    for trade_id in reversed(run.trades):
        run.ex.fail_trade(trade_id, run.now)

    assert {o: (run.ex.balance(o).balance_micros, run.ex.balance(o, YES).balance_micros)
            for o in OWNERS} == start
    assert run.ex.problems() == []
