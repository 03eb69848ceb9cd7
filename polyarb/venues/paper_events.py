# The paper venue's answers, made the way the live client makes them: simulator results are
# rendered in the venue's wire shapes (polyarb/sim/server/wire.py) and then parsed by the live
# client's own code (outcomes.py for placements and cancels, user_parse.py for the user
# channel's order/trade events and REST rows), so paper and live journals are identical in shape.
#
# Rules:
# 1. Pure: no clock (ts_recv_ns is an argument), no I/O, never raises on simulator output.
# 2. Only what concerns our account becomes an event: our orders' updates and trades we took
#    part in (as taker or maker); the book source's own activity is not ours to report.
# 3. Placement: one event per intent, like PolymarketVenue: a single order is POST /order (a
#    rejection is the venue's 400), a batch POST /orders (per-entry rejections inside a 200).
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import orjson

from polyarb.events.base import Input
from polyarb.sim.records import (
    CancelResult,
    OrderEvent,
    OrderView,
    PlaceResult,
    SimEvent,
    Trade,
    TradeEvent,
)
from polyarb.sim.server import wire
from polyarb.venues.polymarket.clob import rest_snapshot
from polyarb.venues.polymarket.outcomes import (
    Redactor,
    Reply,
    SentOrder,
    cancel_events,
    entry_event,
    parse_entry,
)
from polyarb.venues.polymarket.user_parse import Deduper, UserIdentity, parse_element, parse_rows

_NO_SECRETS = Redactor()
_SECOND_NS = 1_000_000_000


def placement_event(client_order_id: str, result: PlaceResult, ts_ns: int, *,
                    batch: bool) -> Input:
    """OrderAccepted / OrderRejected of one simulated placement (rule 3)."""
    entry = parse_entry(wire.place_response(result))
    status = 200 if batch or result.success else 400
    return entry_event(SentOrder(client_order_id, result.order_id), entry, ts_ns, _NO_SECRETS,
                       status)


def user_updates(events: Iterable[SimEvent], owner: str, me: UserIdentity, ts_ns: int,
                 dedupe: Deduper) -> list[Input]:
    """OrderUpdated / TradeUpdated for our orders and fills, deduplicated (rule 2)."""
    out: list[Input] = []
    for event in events:
        if isinstance(event, OrderEvent) and event.order.owner == owner:
            obj = wire.order_event(event)
        elif isinstance(event, TradeEvent) and owner in event.trade.owners():
            obj = wire.trade_event(event.trade, owner, event.ts_ns)
        else:
            continue
        out += parse_element(orjson.loads(orjson.dumps(obj)), ts_ns, me).events
    return dedupe.fresh(out)


def cancel_result_events(requested: Sequence[str], result: CancelResult,
                         client_of: Mapping[str, str], ts_ns: int) -> list[Input]:
    """OrderCancelled / CancelFailed as the live client derives them from the same reply."""
    body = orjson.dumps({"canceled": list(result.canceled),
                         "not_canceled": dict(result.not_canceled)})
    return cancel_events(requested, Reply(200, body), client_of, ts_ns, _NO_SECRETS)


def open_order_events(views: Sequence[OrderView], ts_ns: int, me: UserIdentity) -> list[Input]:
    """The /data/orders page (RestSnapshot) and an OrderUpdated per open order."""
    rows = [wire.open_order(v) for v in views]
    return _page("/data/orders", {"next_cursor": "MA=="}, rows, "order", ts_ns, me)


def trade_events(trades: Sequence[Trade], owner: str, after_s: int | None, ts_ns: int,
                 me: UserIdentity) -> list[Input]:
    """The /data/trades page (RestSnapshot) and our fills matched after `after_s`."""
    chosen = [t for t in trades if after_s is None or t.match_time_ns // _SECOND_NS > after_s]
    params = {"next_cursor": "MA==", **({"after": str(after_s)} if after_s is not None else {})}
    return _page("/data/trades", params, [wire.trade(t, owner) for t in chosen], "trade",
                 ts_ns, me)


def _page(path: str, params: dict[str, str], rows: list[dict[str, object]], kind: str,
          ts_ns: int, me: UserIdentity) -> list[Input]:
    body = orjson.dumps({"limit": len(rows), "count": len(rows), "next_cursor": "LTE=",
                         "data": rows})
    snap = rest_snapshot(path, params, Reply(200, body), ts_ns)
    plain = orjson.loads(body)["data"]
    return [snap, *parse_rows(plain, kind, ts_ns, me).events]
