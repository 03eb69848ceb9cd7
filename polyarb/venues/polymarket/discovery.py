# Market discovery: which markets to trade, loaded from Gamma (metadata, events, volume) and the
# CLOB (tick, minimum size, fees, accepting orders), as one MarketsLoaded event.
#
# Rules:
# 1. I/O shell around the pure parsers (gamma.py, discovery_clob.py): httpx.AsyncClient with an
#    injectable transport; both base URLs are configurable so it runs against the simulator.
#    GETs retry 429/5xx and transport errors a few times with backoff; a source that still
#    cannot answer is a DiscoveryError (clear, no traceback). Single bad markets are Issues.
# 2. With a Gamma URL: /events?active=true&closed=false (events embed their markets) ordered
#    by 24 h volume, paged by limit/offset; `--slug` asks /events?slug= and falls back to
#    /markets?slug= (a neg-risk market then loads its whole event from /events/{id}). Gamma
#    answering 404 (the simulator serves no Gamma) falls back to CLOB-only, with a note.
# 3. CLOB-only: every page of GET /markets (next_cursor from "MA==" to "LTE="), then
#    /clob-markets/{condition_id} for fees. It cannot apply volume/liquidity filters (the CLOB
#    has no such numbers: DiscoveryError) nor see augmented events (a note per group).
# 4. Filters and --limit count units (a binary market, or a whole neg-risk event): a unit
#    passes or fails as a whole, so a neg-risk group is never partial. Closed/inactive binary
#    markets are left out unless asked for; a neg-risk event only when every member is closed.
# 5. Completion: a draft missing tick, minimum size, fees or accepting flag (or every draft,
#    with enrich="all"; always in CLOB-only mode, for fees) asks /clob-markets/{condition_id},
#    a few at a time. A unit with any market still incomplete is skipped as a whole, reported.
# 6. Output order is the sources' order (Gamma's volume ranking, the CLOB's listing), never a
#    set or hash order; prices and sizes are exact micro-units.
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final, Literal

import httpx
import msgspec

from polyarb.events.inputs import MarketInfo, MarketsLoaded
from polyarb.venues.polymarket.discovery_clob import AUGMENTATION_UNKNOWN, clob_units, enrich
from polyarb.venues.polymarket.gamma import (
    Draft,
    Issue,
    Unit,
    finish,
    market_unit,
    parse_event,
)

GAMMA_URL: Final = "https://gamma-api.polymarket.com"
CLOB_URL: Final = "https://clob.polymarket.com"
INITIAL_CURSOR: Final = "MA=="
END_CURSOR: Final = "LTE="
_RETRY: Final = frozenset({429, 500, 502, 503, 504})
_DECODE: Final = msgspec.json.Decoder(float_hook=Decimal)  # JSON numbers never via float
Enrich = Literal["missing", "all", "none"]


class DiscoveryError(Exception):
    """A source could not answer (or a filter it cannot apply). `status`: HTTP status if any."""

    def __init__(self, message: str, status: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.path = path


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """What to load and from where (rules 2-5). gamma_url None means CLOB-only."""

    gamma_url: str | None = GAMMA_URL
    clob_url: str = CLOB_URL
    tags: tuple[str, ...] = ()
    slugs: tuple[str, ...] = ()
    min_volume: Decimal | None = None
    min_liquidity: Decimal | None = None
    limit: int | None = None
    include_closed: bool = False
    enrich: Enrich = "missing"
    page_size: int = 100
    max_pages: int = 200
    concurrency: int = 8
    timeout_s: float = 15.0
    attempts: int = 3


@dataclass(frozen=True, slots=True)
class Listing:
    """A selected unit and its finished markets (same order as the unit's drafts)."""

    unit: Unit
    markets: tuple[MarketInfo, ...]


@dataclass(frozen=True, slots=True)
class Discovery:
    """The result: what was selected, and every market or event skipped (with why)."""

    source: str
    listings: tuple[Listing, ...]
    issues: tuple[Issue, ...] = field(default=())

    @property
    def markets(self) -> tuple[MarketInfo, ...]:
        """Every selected market, in listing order."""
        return tuple(m for listing in self.listings for m in listing.markets)

    def event(self, ts_recv_ns: int) -> MarketsLoaded:
        """The one MarketsLoaded input this discovery becomes."""
        return MarketsLoaded(ts_recv_ns=ts_recv_ns, source=self.source, markets=self.markets)


class _Http:
    """JSON GETs against one base URL with rule 1's retries."""

    def __init__(self, base_url: str, config: DiscoveryConfig,
                 transport: httpx.AsyncBaseTransport | None,
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.base_url = base_url.rstrip("/")
        self._attempts = max(1, config.attempts)
        self._sleep = sleep
        self._client = httpx.AsyncClient(base_url=self.base_url, transport=transport,
                                         timeout=config.timeout_s,
                                         headers={"Accept": "application/json"})

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """Decoded JSON of a 200 reply (numbers as int/Decimal).

        Raises:
            DiscoveryError: no 200 after the retries, or a body that is not JSON.
        """
        where = f"GET {self.base_url}{path}"
        for attempt in range(1, self._attempts + 1):
            status, body, error = await self._once(path, params)
            if status == 200:
                try:
                    return _DECODE.decode(body)
                except msgspec.DecodeError:
                    raise DiscoveryError(f"{where}: reply is not JSON", status, path) from None
            if (status is not None and status not in _RETRY) or attempt == self._attempts:
                break
            await self._sleep(0.5 * 2 ** (attempt - 1))
        raise DiscoveryError(f"{where}: {error or f'http {status}'}", status, path)

    async def _once(self, path: str, params: Mapping[str, str] | None
                    ) -> tuple[int | None, bytes, str]:
        try:
            reply = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            return None, b"", f"{type(exc).__name__}: {str(exc)[:200]}"
        return reply.status_code, reply.content, ""

    async def aclose(self) -> None:
        await self._client.aclose()


# --- Gamma --------------------------------------------------------------------------------


def _event_params(config: DiscoveryConfig, offset: int) -> dict[str, str]:
    params = {"limit": str(config.page_size), "offset": str(offset), "order": "volume24hr",
              "ascending": "false", "archived": "false"}
    if not config.include_closed:
        params |= {"active": "true", "closed": "false"}
    if len(config.tags) == 1:  # a server-side hint only: selects() filters again
        params["tag_slug"] = config.tags[0]
    return params


def _add(units: list[Unit], issues: list[Issue], got: tuple[list[Unit], list[Issue]]) -> None:
    units += got[0]
    issues += got[1]


async def _gamma_events(gamma: _Http, config: DiscoveryConfig) -> tuple[list[Unit], list[Issue]]:
    """Rule 2's paging; stops early once --limit units passed the filters."""
    units: list[Unit] = []
    issues: list[Issue] = []
    for page in range(config.max_pages):
        rows = await gamma.get("/events", _event_params(config, page * config.page_size))
        if not isinstance(rows, list):
            raise DiscoveryError("GET /events: reply is not a list")
        for row in rows:
            _add(units, issues, parse_event(row))
        enough = config.limit is not None and \
            sum(selects(u, config) for u in units) >= config.limit
        if len(rows) < config.page_size or enough:
            return units, issues
    issues.append(Issue("gamma /events", f"stopped after {config.max_pages} pages",
                        skipped=False))
    return units, issues


async def _gamma_slug(gamma: _Http, slug: str) -> tuple[list[Unit], list[Issue]]:
    units: list[Unit] = []
    issues: list[Issue] = []
    for row in _rows(await gamma.get("/events", {"slug": slug})):
        _add(units, issues, parse_event(row))
    if units or issues:
        return units, issues
    for row in _rows(await gamma.get("/markets", {"slug": slug})):
        got = market_unit(row)
        if isinstance(got, Unit):
            units.append(got)
        elif got.reason.startswith("neg-risk market") and isinstance(row, dict):
            _add(units, issues, await _parent_event(gamma, row, got))
        else:
            issues.append(got)
    if not units and not issues:
        issues.append(Issue(f"slug {slug}", "no Gamma event or market has this slug"))
    return units, issues


async def _parent_event(gamma: _Http, row: dict[str, Any],
                        issue: Issue) -> tuple[list[Unit], list[Issue]]:
    events = row.get("events")
    event_id = events[0].get("id") if isinstance(events, list) and events and \
        isinstance(events[0], dict) else None
    if not isinstance(event_id, str | int):
        return [], [Issue(issue.ref, "neg-risk market without its event id")]
    return parse_event(await gamma.get(f"/events/{event_id}"))


def _rows(obj: object) -> list[Any]:
    return obj if isinstance(obj, list) else [obj] if isinstance(obj, dict) else []


async def _from_gamma(gamma: _Http, config: DiscoveryConfig) -> tuple[list[Unit], list[Issue]]:
    if not config.slugs:
        return await _gamma_events(gamma, config)
    units: list[Unit] = []
    issues: list[Issue] = []
    for slug in config.slugs:
        _add(units, issues, await _gamma_slug(gamma, slug))
    return _dedupe(units), issues


def _dedupe(units: list[Unit]) -> list[Unit]:
    return list({u.key: u for u in reversed(units)}.values())[::-1]


# --- CLOB ---------------------------------------------------------------------------------


async def _from_clob(clob: _Http, config: DiscoveryConfig) -> tuple[list[Unit], list[Issue]]:
    """Rule 3: the whole CLOB listing."""
    rows: list[Any] = []
    cursor = INITIAL_CURSOR
    for _ in range(config.max_pages):
        page = await clob.get("/markets", {"next_cursor": cursor})
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise DiscoveryError("GET /markets: page without a data list")
        rows += data
        cursor = page.get("next_cursor") or END_CURSOR
        if cursor == END_CURSOR:
            return clob_units(rows)
    raise DiscoveryError(f"GET /markets: more than {config.max_pages} pages")


# --- selection and completion -------------------------------------------------------------


def selects(unit: Unit, config: DiscoveryConfig) -> bool:
    """Whether a unit passes the filters (rule 4)."""
    if not config.include_closed and all(d.closed or not d.active for d in unit.drafts):
        return False
    if config.tags and not {t.lower() for t in config.tags} & set(unit.tags):
        return False
    if config.slugs and not {unit.slug, unit.event_slug, *(d.slug for d in unit.drafts)} & \
            set(config.slugs):
        return False
    if config.min_volume is not None and (unit.volume is None or
                                          unit.volume < config.min_volume):
        return False
    return config.min_liquidity is None or (unit.liquidity is not None and
                                            unit.liquidity >= config.min_liquidity)


async def _complete(units: list[Unit], clob: _Http, config: DiscoveryConfig,
                    clob_only: bool) -> tuple[list[Listing], list[Issue]]:
    """Rule 5: ask the CLOB for what drafts miss, finish them, skip incomplete units."""
    gate = asyncio.Semaphore(max(1, config.concurrency))

    async def fill(draft: Draft) -> Draft | str:
        wanted = clob_only or config.enrich == "all" or (
            config.enrich == "missing" and draft.missing())
        if not wanted:
            return draft
        async with gate:
            try:
                obj = await clob.get(f"/clob-markets/{draft.condition_id}")
            except DiscoveryError as exc:
                return f"CLOB lookup failed ({exc})" if draft.missing() else draft
        return enrich(draft, obj)

    filled = await asyncio.gather(*(asyncio.gather(*(fill(d) for d in u.drafts))
                                    for u in units))
    listings: list[Listing] = []
    issues: list[Issue] = []
    for unit, drafts in zip(units, filled, strict=True):
        done = [finish(d) if isinstance(d, Draft) else d for d in drafts]
        bad = [(d.condition_id, why) for d, why in zip(unit.drafts, done, strict=True)
               if isinstance(why, str)]
        if bad:
            whole = " (whole neg-risk event skipped)" if unit.kind == "neg_risk" else ""
            issues += [Issue(f"market {cid}", why + whole) for cid, why in bad]
        else:
            listings.append(Listing(unit, tuple(m for m in done if isinstance(m, MarketInfo))))
    return listings, issues


async def discover(config: DiscoveryConfig, *,
                   transport: httpx.AsyncBaseTransport | None = None,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Discovery:
    """Load, filter and complete the markets to trade (rules 1-6).

    Args:
        config: sources and filters.
        transport: an httpx transport for both sources (httpx.MockTransport in tests).
        sleep: the retry pause (injected so tests never wait).

    Raises:
        DiscoveryError: a source could not answer, or CLOB-only with volume/liquidity filters.
    """
    clob = _Http(config.clob_url, config, transport, sleep)
    gamma = _Http(config.gamma_url, config, transport, sleep) if config.gamma_url else None
    try:
        units, issues, source = await _load(gamma, clob, config)
        # Gamma slug lookups already chose by slug (a market's slug can pick its whole event)
        filters = replace(config, slugs=()) if source == "gamma" else config
        chosen = [u for u in units if selects(u, filters)][:config.limit]
        listings, more = await _complete(chosen, clob, config, source == "clob")
        if source == "clob":  # discovery_clob rule 4
            more += [Issue(f"event {li.unit.key}", AUGMENTATION_UNKNOWN, skipped=False)
                     for li in listings if li.unit.kind == "neg_risk"]
    finally:
        await clob.aclose()
        if gamma is not None:
            await gamma.aclose()
    return Discovery(source=source, listings=tuple(listings), issues=tuple(issues + more))


async def _load(gamma: _Http | None, clob: _Http,
                config: DiscoveryConfig) -> tuple[list[Unit], list[Issue], str]:
    notes: list[Issue] = []
    if gamma is not None:
        try:
            units, issues = await _from_gamma(gamma, config)
            return units, issues, "gamma"
        except DiscoveryError as exc:
            if exc.status != 404 or exc.path != "/events":  # only a missing API falls back
                raise
        notes.append(Issue(f"gamma {gamma.base_url}", "no Gamma API here (404): CLOB only",
                           skipped=False))
    if config.min_volume is not None or config.min_liquidity is not None:
        raise DiscoveryError("volume and liquidity filters need Gamma: the CLOB listing has "
                             "no volume or liquidity")
    units, issues = await _from_clob(clob, config)
    return units, notes + issues, "clob"
