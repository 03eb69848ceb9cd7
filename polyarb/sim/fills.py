# Settling the fills of one taker order: balance movements, fees, and the trade records.
#
# Rules:
# 1. Each fill has two legs, the taker's and the maker's, each in its own token at its own
#    execution price (the maker's price; the taker's is the same YES-space price seen from the
#    taker's token). A BUY leg pays collateral and receives shares; a SELL leg gives shares and
#    receives collateral. Same token: a direct trade. Different tokens: both BUY is a MINT
#    (the pair's collateral gets locked), both SELL a MERGE (unlocked).
# 2. Exact rounding without drift: every order accumulates the exact notional of its fills
#    (size * price, in micro-shares * micros). A BUY order has paid ceil(notional / 1e6) in
#    total, a SELL order has received floor(notional / 1e6); each fill moves the difference.
#    So a BUY never pays more than ceil(size * limit), which is exactly what it reserved, and
#    the exact amounts of each fill cancel out (buyer = seller, or YES + NO = 1 per pair), so
#    what the rounding leaves (the "dust", >= 0 in total) goes to the fee account. With the
#    venue's usual precision (2-decimal sizes, tick >= 0.0001) every fill is exact and no dust
#    arises at all.
# 3. Fees (polyarb/core/fees.py, rounded UP to the venue's 5-decimal grid): takers pay; makers
#    only on a schedule that is not taker_only. On BUY the fee is withheld in shares, on SELL in
#    collateral; both go to the fee account, capped at what the fill delivers.
# 4. Consecutive fills at the same taker price form one trade (bucket); a new price, or more
#    than `max_makers` maker orders, starts the next bucket (bucket_index + 1).
# 5. Every balance change is also written to the bucket's delta map, so a FAILED settlement
#    can reverse exactly that trade (polyarb/sim/settlement.py).
from __future__ import annotations

from collections.abc import Callable

from polyarb.sim.accounts import COLLATERAL, Ledger
from polyarb.sim.model import MICROS, Order
from polyarb.sim.records import MakerFill, Trade

Deltas = dict[tuple[str, str], int]
"""(owner, asset) -> signed change; asset is a token id or COLLATERAL."""


class Bucket:
    """One trade in the making, plus what it moved (for a FAILED reversal)."""

    __slots__ = ("deltas", "fee_coll", "fee_shares", "maker_orders", "makers", "pairs", "price",
                 "size")

    def __init__(self, price: int) -> None:
        self.price = price
        self.size = 0
        self.fee_coll = 0
        self.fee_shares = 0
        self.pairs = 0  # + minted / - merged pairs
        self.makers: list[MakerFill] = []
        self.maker_orders: list[Order] = []
        self.deltas: Deltas = {}


class FillOutcome:
    """What one taker's fills produced: buckets (in order) and the taker's totals."""

    __slots__ = ("buckets", "making", "taking")

    def __init__(self) -> None:
        self.buckets: list[Bucket] = []
        self.making = 0
        self.taking = 0


def _add(deltas: Deltas, owner: str, asset: str, delta: int) -> None:
    if delta:
        key = (owner, asset)
        deltas[key] = deltas.get(key, 0) + delta


def _leg(ledger: Ledger, order: Order, size: int, price: int, taker: bool,
         b: Bucket) -> tuple[int, int, int]:
    """Settle one side of a fill. Returns (collateral paid in, received out, fee charged)."""
    account = ledger.accounts[order.owner]
    fees = ledger.fees
    model = order.market.fee_model
    charge = not model.free and (taker or not model.taker_only)
    token = order.token_id
    order.notional += size * price
    if order.is_buy:
        total = -(-order.notional // MICROS)
        pay, order.settled = total - order.settled, total
        order.reserved -= pay
        account.collateral_reserved -= pay
        account.collateral -= pay
        fee = min(model.buy_fee_shares_micros(size, price, taker=taker), size) if charge else 0
        ledger.move(account, token, size - fee)
        _add(b.deltas, order.owner, COLLATERAL, -pay)
        _add(b.deltas, order.owner, token, size - fee)
        if fee:
            ledger.move(fees, token, fee)
            _add(b.deltas, fees.owner, token, fee)
        return pay, 0, fee
    total = order.notional // MICROS
    got, order.settled = total - order.settled, total
    order.reserved -= size
    account.tokens_reserved[token] -= size
    account.tokens[token] -= size
    fee = min(model.fee_micros(size, price, taker=taker), got) if charge else 0
    account.collateral += got - fee
    _add(b.deltas, order.owner, token, -size)
    _add(b.deltas, order.owner, COLLATERAL, got - fee)
    if fee:
        fees.collateral += fee
        _add(b.deltas, fees.owner, COLLATERAL, fee)
    return 0, got, fee


def _fill(ledger: Ledger, taker: Order, maker: Order, size: int, price: int, b: Bucket,
          out: FillOutcome) -> None:
    t_in, t_out, t_fee = _leg(ledger, taker, size, price, True, b)
    m_in, m_out, m_fee = _leg(ledger, maker, size, maker.price, False, b)
    pairs = 0 if taker.is_yes == maker.is_yes else (size if taker.is_buy else -size)
    if pairs:
        cid = taker.market.condition_id
        ledger.locked[cid] = ledger.locked.get(cid, 0) + pairs
        b.pairs += pairs
    dust = t_in + m_in - t_out - m_out - pairs
    if dust:
        ledger.fees.collateral += dust
        ledger.dust += dust
        _add(b.deltas, ledger.fees.owner, COLLATERAL, dust)
    b.size += size
    if taker.is_buy:
        b.fee_shares += t_fee
        out.making += t_in
        out.taking += size - t_fee
    else:
        b.fee_coll += t_fee
        out.making += size
        out.taking += t_out - t_fee
    b.maker_orders.append(maker)
    b.makers.append(MakerFill(
        order_id=maker.id, owner=maker.owner, maker_address=maker.address,
        matched_amount_micros=size, price_micros=maker.price, asset_id=maker.token_id,
        outcome=maker.market.outcome(maker.token_id), side=maker.side,
        fee_rate_bps=maker.market.fee_rate_bps if m_fee else 0, fee_micros=m_fee,
    ))


def settle(ledger: Ledger, taker: Order, fills: list[tuple[Order, int]],
           max_makers: int) -> FillOutcome:
    """Apply the balance effects of `fills` (from MarketBook.match) and group them in buckets.

    Args:
        ledger: the accounts.
        taker: the incoming order; its remaining/matched sizes are updated here.
        fills: (maker, size) in execution order.
        max_makers: maker orders per trade before a new bucket starts.

    Returns:
        The buckets (one future trade each) and the taker's making/taking totals.
    """
    out = FillOutcome()
    bucket: Bucket | None = None
    for maker, size in fills:
        price = maker.yes_price if taker.is_yes else MICROS - maker.yes_price
        if bucket is None or bucket.price != price or len(bucket.makers) >= max_makers:
            bucket = Bucket(price)
            out.buckets.append(bucket)
        _fill(ledger, taker, maker, size, price, bucket, out)
        taker.remaining -= size
        taker.matched += size
    return out


def make_trade(taker: Order, b: Bucket, index: int, trade_id: str, now_ns: int) -> Trade:
    """The MATCHED trade record of one bucket."""
    market = taker.market
    charged = b.fee_coll or b.fee_shares
    return Trade(
        id=trade_id, taker_order_id=taker.id, market=market.condition_id,
        asset_id=taker.token_id, side=taker.side, size_micros=b.size, price_micros=b.price,
        fee_rate_bps=market.fee_rate_bps if charged else 0,
        fee_collateral_micros=b.fee_coll, fee_shares_micros=b.fee_shares, status="MATCHED",
        match_time_ns=now_ns, last_update_ns=now_ns, outcome=market.outcome(taker.token_id),
        bucket_index=index, owner=taker.owner, maker_address=taker.address,
        transaction_hash="", maker_orders=tuple(b.makers),
    )


def trades_for(taker: Order, out: FillOutcome, now_ns: int,
               new_id: Callable[[], str]) -> list[Trade]:
    """Trade records for every bucket, and the trade ids attached to the orders involved."""
    trades = []
    for index, b in enumerate(out.buckets):
        trade = make_trade(taker, b, index, new_id(), now_ns)
        trades.append(trade)
        taker.trades.append(trade.id)
        for maker in b.maker_orders:
            maker.trades.append(trade.id)
    return trades
