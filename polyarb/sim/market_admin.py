# Scenario-driven changes to a simulated market's parameters, as the venue announces them.
#
# Rules:
# 1. Sans-I/O and deterministic like exchange.py (whose header states the exchange's rules):
#    the caller passes `now_ns`, and the events come back in a fixed order (YES token, then NO)
#    for the exchange to queue; nothing here touches orders or balances.
# 2. A value the venue does not use is a SimError before anything changes.
from __future__ import annotations

from polyarb.sim import errors as E
from polyarb.sim.model import VALID_TICKS_MICROS, Market
from polyarb.sim.records import TickSizeChange


def retick(market: Market, tick_micros: int, now_ns: int) -> list[TickSizeChange]:
    """Set a market's tick; return one tick_size_change per token (none when unchanged).

    Args:
        market: the market to change.
        tick_micros: the new tick, one of VALID_TICKS_MICROS.
        now_ns: the events' time.

    Raises:
        SimError: a tick the venue does not use.
    """
    if tick_micros not in VALID_TICKS_MICROS:
        raise E.SimError(f"unknown tick size {tick_micros}")
    old, market.tick_micros = market.tick_micros, tick_micros
    if old == tick_micros:
        return []
    return [TickSizeChange(market=market.condition_id, asset_id=token, old_tick_micros=old,
                           new_tick_micros=tick_micros, ts_ns=now_ns)
            for token in (market.yes_token, market.no_token)]
