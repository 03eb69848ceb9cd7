# Which markets a run trades: polyarb.venues.polymarket.discovery (Gamma events and the CLOB
# listing, completed from /clob-markets) under the [markets] section, narrowed to the configured
# condition ids. The result becomes one journaled MarketsLoaded, before any subscription.
#
# Rules:
# 1. Sources: the live venue uses Gamma ([venue] gamma_url) with the CLOB behind it; the
#    embedded simulator serves no Gamma, so its runs are CLOB-only (the same listing code).
# 2. Units, not markets: a binary market or a whole neg-risk event passes or fails as one
#    (discovery rule 4), and `condition_ids` keeps every unit holding one of them, so a basket
#    is never loaded over part of its event. A configured id no unit holds is an error.
# 3. Everything discovery skipped is logged (one line per market or event, with why); a source
#    that cannot answer is a MarketLoadError with one clear line, and nothing trades.
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from polyarb.config import MarketsSection
from polyarb.events.inputs import MarketInfo
from polyarb.venues.polymarket.discovery import DiscoveryConfig, DiscoveryError, discover

log = logging.getLogger(__name__)


class MarketLoadError(RuntimeError):
    """The markets could not be loaded (the message says which source or market)."""


@dataclass(frozen=True)
class Loaded:
    """The markets to trade and where they came from (`gamma` or `clob`)."""

    markets: tuple[MarketInfo, ...]
    source: str


def discovery_config(section: MarketsSection, clob_url: str, gamma_url: str | None,
                     timeout_s: float) -> DiscoveryConfig:
    """The DiscoveryConfig of a [markets] section (rules 1-2)."""
    return DiscoveryConfig(
        gamma_url=gamma_url, clob_url=clob_url, tags=section.tags, slugs=section.slugs,
        min_volume=Decimal(section.min_volume) if section.min_volume else None,
        min_liquidity=Decimal(section.min_liquidity) if section.min_liquidity else None,
        limit=None if section.condition_ids or section.limit == 0 else section.limit,
        include_closed=section.include_closed, timeout_s=timeout_s)


def narrow(units: Sequence[tuple[MarketInfo, ...]],
           condition_ids: Sequence[str]) -> tuple[MarketInfo, ...]:
    """Every unit holding one of `condition_ids` (all units when none), flattened (rule 2).

    Raises:
        MarketLoadError: a condition id no unit holds.
    """
    if not condition_ids:
        return tuple(m for unit in units for m in unit)
    wanted = set(condition_ids)
    kept = [unit for unit in units if wanted & {m.condition_id for m in unit}]
    found = {m.condition_id for unit in kept for m in unit}
    missing = [cid for cid in condition_ids if cid not in found]
    if missing:
        raise MarketLoadError(f"market(s) not found or not tradable: {', '.join(missing)}")
    return tuple(m for unit in kept for m in unit)


async def load_markets(section: MarketsSection, clob_url: str, gamma_url: str | None,
                       timeout_s: float = 15.0) -> Loaded:
    """Discover the run's markets (rules 1-3).

    Raises:
        MarketLoadError: a source could not answer, a filter needs Gamma on a CLOB-only
            source, a configured market was not found, or nothing is left to trade.
    """
    try:
        found = await discover(discovery_config(section, clob_url, gamma_url, timeout_s))
    except DiscoveryError as exc:
        raise MarketLoadError(f"market discovery failed: {exc}") from None
    for issue in found.issues:
        (log.warning if issue.skipped else log.info)("markets: %s: %s", issue.ref, issue.reason)
    markets = narrow([listing.markets for listing in found.listings], section.condition_ids)
    if not markets:
        raise MarketLoadError("no market to trade: check the [markets] filters")
    return Loaded(markets, found.source)
