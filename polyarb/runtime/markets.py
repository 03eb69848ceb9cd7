# Loading the markets a run trades from the CLOB REST API (the venue's or the simulator's):
# GET /markets (every cursor page) for the market objects, GET /clob-markets/{condition_id} for
# each selected market's fee schedule. The result becomes one journaled MarketsLoaded.
#
# Rules:
# 1. Selection: the configured condition ids, or (none configured) every tradable market
#    (enable_order_book, active, not closed, accepting orders) in listing order, up to
#    max_markets. A neg-risk event is always taken whole, with every listed member whatever its
#    status: the registry trusts the loader for that, since a basket over part of an event is
#    not an arbitrage. An event that would overflow max_markets is left out entirely.
# 2. Exact numbers: JSON numbers are decoded as Decimal (never float) and converted to
#    micro-units exactly; a market whose numbers do not convert is skipped with a warning,
#    never loaded with a guess. Fees come only from the market's own fee details (`fd`); when
#    they cannot be read the load fails rather than assume a market is fee-free.
# 3. Public endpoints only: no credentials, so `--detect-only` needs no keys.
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from polyarb.core.numbers import NumberError, parse_micros
from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo

log = logging.getLogger(__name__)

_EXACT = msgspec.json.Decoder(float_hook=Decimal)
_END_CURSORS = ("LTE=", "", None)
_MAX_PAGES = 2_000
_RETRY_STATUS = (425, 429, 500, 502, 503, 504)


class MarketLoadError(RuntimeError):
    """The markets could not be loaded (the message says which request or market)."""


class PublicRest:
    """GET requests to the public CLOB endpoints, JSON decoded exactly, a few retries."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, attempts: int = 3,
                 retry_delay_s: float = 1.0, transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                       transport=transport)
        self.attempts = attempts
        self.retry_delay_s = retry_delay_s

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET `path` and return its JSON (numbers as int/Decimal).

        Raises:
            MarketLoadError: no 200 answer after the retries, or a body that is not JSON.
        """
        why = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay_s * attempt)
            try:
                response = await self._http.get(path, params=params)
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 200:
                try:
                    return _EXACT.decode(response.content)
                except msgspec.DecodeError:
                    raise MarketLoadError(f"GET {path}: the answer is not JSON") from None
            why = f"http {response.status_code}"
            if response.status_code not in _RETRY_STATUS:
                break
        raise MarketLoadError(f"GET {path}: {why}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


async def list_markets(rest: PublicRest) -> list[dict[str, Any]]:
    """Every market object of GET /markets, following the cursor.

    Raises:
        MarketLoadError: a page failed or the cursor never ended.
    """
    rows: list[dict[str, Any]] = []
    cursor = "MA=="
    for _ in range(_MAX_PAGES):
        page = await rest.get("/markets", {"next_cursor": cursor})
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise MarketLoadError("GET /markets: a page without a data list")
        rows.extend(row for row in data if isinstance(row, dict))
        cursor = page.get("next_cursor")
        if cursor in _END_CURSORS:
            return rows
    raise MarketLoadError(f"GET /markets: more than {_MAX_PAGES} pages")


def tradable(row: dict[str, Any]) -> bool:
    """A CLOB market object that takes orders (reference 6.1)."""
    return (row.get("enable_order_book") is True and row.get("active") is True
            and row.get("closed") is not True and row.get("accepting_orders") is True)


def _group(row: dict[str, Any]) -> str | None:
    group = row.get("neg_risk_market_id")
    return group if row.get("neg_risk") is True and isinstance(group, str) and group else None


def select(rows: Sequence[dict[str, Any]], condition_ids: Iterable[str],
           max_markets: int) -> list[dict[str, Any]]:
    """Pick the rows to load (rule 1), in listing order.

    Raises:
        MarketLoadError: a configured condition id is not listed by the venue.
    """
    wanted = list(dict.fromkeys(condition_ids))
    by_id = {row.get("condition_id"): row for row in rows}
    missing = [cid for cid in wanted if cid not in by_id]
    if missing:
        raise MarketLoadError(f"market(s) not listed by the venue: {', '.join(missing)}")
    members: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        group = _group(row)
        if group is not None:
            members.setdefault(group, []).append(row)
    seeds = [by_id[cid] for cid in wanted] if wanted else [r for r in rows if tradable(r)]
    chosen: dict[str, dict[str, Any]] = {}
    for row in seeds:
        group = _group(row)
        unit = members[group] if group is not None else [row]
        new = [r for r in unit if r.get("condition_id") not in chosen]
        if new and len(chosen) + len(new) > max_markets:
            if wanted:
                raise MarketLoadError(f"the selected markets (with whole neg-risk events) "
                                      f"exceed markets.max_markets = {max_markets}")
            continue
        chosen.update((r["condition_id"], r) for r in new)
    return list(chosen.values())


def _micros(value: object, what: str) -> int:
    text = format(value, "f") if isinstance(value, Decimal) else value
    try:
        return parse_micros(text)
    except NumberError as exc:
        raise ValueError(f"{what}: {exc}") from None


def fee_schedule(details: Any) -> FeeSchedule:
    """The FeeSchedule of a /clob-markets object's `fd` (absent: no fee).

    Raises:
        ValueError: `fd` is present but malformed.
    """
    fd = details.get("fd") if isinstance(details, dict) else None
    if fd is None:
        return FeeSchedule()
    rate, exponent, taker_only = fd.get("r"), fd.get("e", 1), fd.get("to", True)
    if not isinstance(rate, (Decimal, int)) or not isinstance(exponent, int) \
            or not isinstance(taker_only, bool):
        raise ValueError("malformed fee details (fd)")
    return FeeSchedule(rate=Decimal(rate), exponent=exponent, taker_only=taker_only)


def market_info(row: dict[str, Any], fees: FeeSchedule) -> MarketInfo:
    """A MarketInfo from a CLOB market object and its fee schedule.

    Raises:
        ValueError: a field is missing or malformed (the message names it).
    """
    tokens = row.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, dict) for t in tokens):
        raise ValueError("tokens: not a list of objects")
    winner = next((t.get("token_id") for t in tokens if t.get("winner") is True), None)
    return MarketInfo(
        condition_id=str(row.get("condition_id")),
        question=str(row.get("question") or ""),
        slug=str(row.get("market_slug") or ""),
        tokens=tuple(TokenInfo(token_id=str(t.get("token_id")), outcome=str(t.get("outcome")))
                     for t in tokens),
        tick_size_micros=_micros(row.get("minimum_tick_size"), "minimum_tick_size"),
        min_order_size_micros=_micros(row.get("minimum_order_size"), "minimum_order_size"),
        neg_risk=row.get("neg_risk") is True,
        neg_risk_market_id=_group(row),
        fees=fees,
        active=row.get("active") is True,
        closed=row.get("closed") is True,
        accepting_orders=row.get("accepting_orders") is True,
        winning_token_id=str(winner) if winner is not None else None,
    )


async def load_markets(rest: PublicRest, condition_ids: Sequence[str] = (),
                       max_markets: int = 500) -> tuple[MarketInfo, ...]:
    """The markets to trade (rules 1-2), ready for a MarketsLoaded.

    Raises:
        MarketLoadError: listing or a fee lookup failed, or the selection is impossible.
    """
    rows = select(await list_markets(rest), condition_ids, max_markets)
    out: list[MarketInfo] = []
    broken: set[str] = set()  # neg-risk events with a skipped member: dropped whole (rule 1)
    for row in rows:
        cid = str(row.get("condition_id"))
        try:
            fees = fee_schedule(await rest.get(f"/clob-markets/{cid}"))
        except ValueError as exc:
            raise MarketLoadError(f"market {cid}: {exc}") from None
        try:
            out.append(market_info(row, fees))
        except ValueError as exc:
            group = _group(row)
            log.warning("market %s skipped%s: %s", cid,
                        f" with its neg-risk event {group}" if group else "", exc)
            if group is not None:
                broken.add(group)
    return tuple(m for m in out if m.neg_risk_market_id not in broken)
