# The simulated venue of a what-if replay: the simulator's exchange core (polyarb.sim.Exchange)
# holding the books a journal recorded, answering the engine's orders with the venue events a
# live run would have journaled.
#
# Rules:
# 1. Books: polyarb.sim.scenario.JournalScenario over the journal root, stepped exactly one
#    recorded market frame at a time (`book_frame`), in journal order, so the exchange shows the
#    book the engine is looking at when it decides. Its limits apply (docs/simulator.md): the
#    exchange keeps one YES-space book per market, so a recorded book crossed across the two
#    tokens (what a complete-set arbitrage is) loses its crossing side there.
# 2. Orders: every OrderIntent becomes an OrderRequest of one account (OWNER); each result is one
#    OrderAccepted or OrderRejected, in intent order, then the events the exchange queued (our
#    trades as TradeUpdated, our accepted orders' updates as OrderUpdated) in its order. A
#    rejection's RejectCode comes from the exchange's machine-readable code (`reject_code`),
#    never from its message. Cancels answer OrderCancelled / CancelFailed. Time-driven
#    settlement (MINED, CONFIRMED) comes from `advance`. Every event carries the ts it is
#    given: the recorded time of the input that led to it.
# 3. A trade fill follows polyarb/venues/polymarket/user_parse.py: as taker the fee is shares on
#    a BUY and collateral on a SELL; as maker each of our maker orders is one fill, with trade id
#    `<id>#<order id>` when two of ours share a trade. Deterministic: ids come from the
#    exchange's seed and counters.
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from polyarb.events.base import Input
from polyarb.events.decisions import OrderIntent
from polyarb.events.inputs import (
    CancelFailed,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderUpdated,
    RejectCode,
    TradeUpdated,
)
from polyarb.sim import Exchange, OrderEvent, OrderRequest, SimConfig, Trade, TradeEvent
from polyarb.sim import errors as sim_errors
from polyarb.sim.scenario import JournalScenario

OWNER = "whatif"
# The exchange's codes (polyarb/sim/errors.py) that are not a judgement of the order itself
_KILLED = (sim_errors.FOK_NOT_FILLED, sim_errors.FAK_NO_MATCH)
_VENUE_SIDE = (sim_errors.MARKET_NOT_READY,)
COLLATERAL_MICROS = 10**9 * 1_000_000  # enough that balance never decides a what-if


def reject_code(sim_code: str) -> RejectCode:
    """The RejectCode of a simulated rejection, from the exchange's code (rule 2)."""
    if sim_code in _KILLED:
        return "killed"
    return "other" if sim_code in _VENUE_SIDE else "invalid"


class SimVenue:
    """Exchange + recorded books + the id map between client and venue order ids (rules 1-3).

    Args:
        root: the journal root whose market frames fill the books.
        start_ns: the time of the first record replayed.
    """

    def __init__(self, root: Path, start_ns: int) -> None:
        self.exchange = Exchange(SimConfig())
        self.scenario = JournalScenario(root, max_frames_per_step=1)
        self.scenario.setup(self.exchange, start_ns)
        self.exchange.open_account(OWNER, collateral_micros=COLLATERAL_MICROS)
        self.client_of: dict[str, str] = {}  # venue order id -> client order id
        self.venue_of: dict[str, str] = {}  # client order id -> venue order id
        self.frames = 0

    def book_frame(self, ts: int) -> None:
        """Apply the next recorded market frame to the exchange's books."""
        due = self.scenario.next_due_ns()
        if due is not None:
            self.scenario.step(self.exchange, max(ts, due))
            self.frames += 1

    def place(self, intents: Sequence[OrderIntent], ts: int) -> list[Input]:
        """Send orders; one result each (intent order), then the exchange's events."""
        out: list[Input] = []
        for intent in intents:
            req = OrderRequest(owner=OWNER, token_id=intent.token_id, side=intent.side,
                               price_micros=intent.price_micros, size_micros=intent.size_micros,
                               order_type=intent.order_type)
            res = self.exchange.place(req, ts)
            cid = intent.client_order_id
            if res.success:
                self.client_of[res.order_id], self.venue_of[cid] = cid, res.order_id
                out.append(OrderAccepted(
                    ts_recv_ns=ts, client_order_id=cid, venue_order_id=res.order_id,
                    status=res.status, making_amount_micros=res.making_amount_micros or None,
                    taking_amount_micros=res.taking_amount_micros or None))
            else:
                out.append(OrderRejected(ts_recv_ns=ts, client_order_id=cid,
                                         reason=res.error_msg or res.code, http_status=400,
                                         reason_code=reject_code(res.code)))
        return out + self.drain(ts)

    def cancel(self, client_order_ids: Iterable[str], ts: int) -> list[Input]:
        """Cancel by client id; ids never accepted have no venue order to cancel."""
        ids = [self.venue_of[c] for c in client_order_ids if c in self.venue_of]
        if not ids:
            return []
        res = self.exchange.cancel_many(OWNER, ids, ts)
        out: list[Input] = [OrderCancelled(ts_recv_ns=ts, venue_order_id=v,
                                           client_order_id=self.client_of.get(v))
                            for v in res.canceled]
        out += [CancelFailed(ts_recv_ns=ts, venue_order_id=v, reason=why)
                for v, why in sorted(res.not_canceled.items())]
        return out + self.drain(ts)

    def advance(self, ts: int) -> list[Input]:
        """Time-driven work due at ts (settlement, expiry) and what it tells us."""
        self.exchange.advance(ts)
        return self.drain(ts)

    def drain(self, ts: int) -> list[Input]:
        """The exchange's queued events that concern us, as venue input events."""
        out: list[Input] = []
        for ev in self.exchange.take_events():
            if isinstance(ev, TradeEvent):
                out.extend(_fills(ev.trade, ts))
            elif isinstance(ev, OrderEvent) and ev.order.id in self.client_of:
                o = ev.order
                out.append(OrderUpdated(
                    ts_recv_ns=ts, venue_order_id=o.id, update_type=ev.type,
                    token_id=o.asset_id, side=o.side, price_micros=o.price_micros,
                    original_size_micros=o.original_size_micros,
                    size_matched_micros=o.size_matched_micros, status=o.status))
        return out


def _fills(trade: Trade, ts: int) -> list[TradeUpdated]:
    out: list[TradeUpdated] = []
    if trade.owner == OWNER:
        fee = trade.fee_shares_micros if trade.side == "BUY" else trade.fee_collateral_micros
        out.append(TradeUpdated(
            ts_recv_ns=ts, trade_id=trade.id, venue_order_id=trade.taker_order_id,
            token_id=trade.asset_id, side=trade.side, price_micros=trade.price_micros,
            size_micros=trade.size_micros, status=trade.status, trader_side="TAKER",
            fee_micros=fee, transaction_hash=trade.transaction_hash))
    mine = [m for m in trade.maker_orders if m.owner == OWNER]
    for m in mine:
        tid = trade.id if len(mine) == 1 else f"{trade.id}#{m.order_id}"
        out.append(TradeUpdated(
            ts_recv_ns=ts, trade_id=tid, venue_order_id=m.order_id, token_id=m.asset_id,
            side=m.side, price_micros=m.price_micros, size_micros=m.matched_amount_micros,
            status=trade.status, trader_side="MAKER", fee_micros=m.fee_micros,
            transaction_hash=trade.transaction_hash))
    return out
