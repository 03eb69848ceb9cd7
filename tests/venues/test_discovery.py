# Market discovery (polyarb.venues.polymarket.discovery, gamma.py, discovery_clob.py): our
# recorded-format Gamma/CLOB payloads (tests/venues/recorded_gamma/) through httpx.MockTransport
# (pagination, odd fields, whole neg-risk events, augmented flags, CLOB completion, filters,
# retries, the Gamma -> CLOB fallback), a property test that parsing never raises, and
# discovery from the simulator's REST API on loopback folded by the engine.
from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.engine import Engine
from polyarb.events.decisions import MarketRejected
from polyarb.events.inputs import FeeSchedule, MarketInfo
from polyarb.venues.polymarket.discovery import (
    Discovery,
    DiscoveryConfig,
    DiscoveryError,
    discover,
)
from polyarb.venues.polymarket.discovery_clob import AUGMENTATION_UNKNOWN, parse_clob_market
from polyarb.venues.polymarket.gamma import Draft, Issue, json_list, parse_event, parse_market
from tests.sim.server.helpers import config as sim_config
from tests.sim.server.helpers import scenario, serving

DATA = Path(__file__).parent / "recorded_gamma"
GAMMA = "https://gamma.test"
CLOB = "https://clob.test"
T0 = 1_776_000_000_000_000_000


def cid(n: int) -> str:
    return "0x" + f"{n:02x}" * 32


def tok(n: int, side: int) -> str:
    return str(10**75 + n * 1000 + side)


def load(name: str) -> Any:
    """A payload as plain JSON (the router re-serializes it)."""
    return orjson.loads((DATA / name).read_bytes())


def exact(name: str) -> Any:
    """A payload decoded the way discovery decodes replies (numbers never via float)."""
    return msgspec.json.Decoder(float_hook=Decimal).decode((DATA / name).read_bytes())


class Router:
    """Serves the recorded payloads by host and path; records every request."""

    def __init__(self, page_size: int = 4, fail: dict[str, list[int]] | None = None,
                 gamma_404: bool = False) -> None:
        self.page_size = page_size
        self.fail = fail or {}
        self.gamma_404 = gamma_404
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.pages = [load("events_page1.json"), load("events_page2.json")]
        self.clob = load("clob_markets.json")
        self.listing: list[Any] = []  # the CLOB's GET /markets rows (one page)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host, path, q = request.url.host, request.url.path, dict(request.url.params)
        self.seen.append((host, path, q))
        codes = self.fail.get(path)
        if codes:
            return httpx.Response(codes.pop(0), json={"error": "try again"})
        if host == "gamma.test":
            return self._gamma(path, q)
        if path == "/markets":
            return httpx.Response(200, json={"data": self.listing, "next_cursor": "LTE="})
        if path.startswith("/clob-markets/"):
            obj = self.clob.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, json=obj) if obj else httpx.Response(404, json={})
        return httpx.Response(404, json={"error": "not found"})

    def _gamma(self, path: str, q: dict[str, str]) -> httpx.Response:
        if self.gamma_404:
            return httpx.Response(404, json={"error": "not found"})
        events = [e for page in self.pages for e in page]
        if path == "/events" and "slug" in q:
            return httpx.Response(200, json=[e for e in events if isinstance(e, dict)
                                             and e.get("slug") == q["slug"]])
        if path == "/events":
            assert q["limit"] == str(self.page_size) and q["order"] == "volume24hr"
            start = int(q["offset"])
            return httpx.Response(200, json=events[start:start + self.page_size])
        if path == "/markets":
            rows = load("markets_slug_neg_risk.json")
            return httpx.Response(200, json=[m for m in rows if m["slug"] == q.get("slug")])
        if path == "/events/9004":
            return httpx.Response(200, json=load("event_9004.json"))
        return httpx.Response(404, json={"error": "not found"})

    def count(self, host: str, path: str) -> int:
        return sum(1 for h, p, _ in self.seen if h == host and p == path)


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def run_discover(router: Router, **kw: Any) -> Discovery:
    config = DiscoveryConfig(**{"gamma_url": GAMMA, "clob_url": CLOB, "page_size": 4, **kw})
    return asyncio.run(discover(config, transport=httpx.MockTransport(router),
                                sleep=_no_sleep))


def by_id(result: Discovery) -> dict[str, MarketInfo]:
    return {m.condition_id: m for m in result.markets}


# --- parsing --------------------------------------------------------------------------------


def test_json_list_string_encoded_and_real_arrays_both_read() -> None:
    assert json_list('["1", "2"]') == ["1", "2"]
    assert json_list(["1", "2"]) == ["1", "2"]
    assert json_list("not json") is None and json_list(None) is None


def test_parse_market_string_encoded_token_ids_become_token_strings() -> None:
    units, issues = parse_event(exact("events_page1.json")[0])
    [draft] = units[0].drafts
    assert issues == [] and units[0].tags == ("crypto", "21")
    assert [(t.token_id, t.outcome) for t in draft.tokens] == [(tok(1, 1), "Up"),
                                                                (tok(1, 2), "Down")]
    assert draft.tick_micros == 10_000 and draft.min_size_micros == 5_000_000
    assert draft.fees == FeeSchedule(rate=Decimal("0.07"), exponent=1, taker_only=True,
                                     rebate_rate=Decimal("0.2"))


def test_parse_market_fees_enabled_without_schedule_is_unknown_not_free() -> None:
    market = exact("events_page2.json")[1]["markets"][0]
    draft = parse_market(market)
    assert isinstance(draft, Draft)
    assert draft.fees is None and "fee schedule" in draft.missing()


def test_parse_event_broken_member_skips_the_whole_neg_risk_event() -> None:
    units, [issue] = parse_event(exact("events_page2.json")[0])
    assert units == [] and "whole neg-risk event skipped" in issue.reason
    assert issue.ref == "event broken-group"


def test_parse_clob_market_winner_and_flags() -> None:
    row = {"condition_id": cid(1), "tokens": [
        {"token_id": tok(1, 1), "outcome": "Yes", "winner": True},
        {"token_id": tok(1, 2), "outcome": "No", "winner": False}],
        "minimum_tick_size": Decimal("0.01"), "minimum_order_size": 5, "closed": True,
        "accepting_orders": True, "enable_order_book": False, "tags": None}
    draft = parse_clob_market(row)
    assert isinstance(draft, Draft)
    assert draft.winner == tok(1, 1) and draft.accepting is False and draft.fees is None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.decimals(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
KEYS = st.sampled_from(["conditionId", "clobTokenIds", "outcomes", "orderPriceMinTickSize",
                        "orderMinSize", "feesEnabled", "feeSchedule", "negRisk", "closed",
                        "outcomePrices", "acceptingOrders", "tags", "enableOrderBook"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, JSONISH | st.just('["1", "2"]') | st.just("0x01"), max_size=10),
       st.booleans())
def test_parse_market_and_event_never_raise_on_odd_input(market: dict[str, Any],
                                                        neg: bool) -> None:
    got = parse_market(market)
    assert isinstance(got, Draft | Issue)
    units, issues = parse_event({"negRisk": neg, "negRiskMarketID": "0x1",
                                 "markets": [market, market]})
    # A neg-risk event is whole or nothing; a plain event's markets are one binary unit each
    assert all(len(u.drafts) == (2 if u.kind == "neg_risk" else 1) for u in units)
    assert len(units) + len(issues) >= 1


# --- discovery over MockTransport --------------------------------------------------------------


def test_discover_gamma_pages_completes_drafts_and_reports_issues() -> None:
    router = Router()
    result = run_discover(router)
    markets = by_id(result)

    assert result.source == "gamma"
    assert [li.unit.kind for li in result.listings] == ["binary", "binary", "neg_risk",
                                                        "neg_risk", "binary"]
    assert list(markets) == [cid(n) for n in (1, 3, 4, 5, 6, 7, 8, 11)]
    assert router.count("gamma.test", "/events") == 3  # two full pages, then an empty one
    # only the drafts missing something asked the CLOB
    assert router.count("clob.test", f"/clob-markets/{cid(6)}") == 1
    assert router.count("clob.test", f"/clob-markets/{cid(11)}") == 1
    assert router.count("clob.test", f"/clob-markets/{cid(1)}") == 0
    assert sorted((i.ref, i.skipped) for i in result.issues) == [
        ("event ?", True), ("event broken-group", True), (f"market {cid(12)}", True)]


def test_discover_exact_micro_units_fees_and_neg_risk_flags() -> None:
    markets = by_id(run_discover(Router()))

    m1, m6, m7, m11 = (markets[cid(n)] for n in (1, 6, 7, 11))
    assert (m1.tick_size_micros, m1.min_order_size_micros) == (10_000, 5_000_000)
    assert m1.fees.rate == Decimal("0.07") and m1.fees.rebate_rate == Decimal("0.2")
    assert m6.tick_size_micros == 1_000  # from /clob-markets (Gamma had none)
    assert (m6.neg_risk, m6.neg_risk_market_id, m6.neg_risk_augmented) == (
        True, cid(0xA0), True)
    assert (m7.neg_risk_market_id, m7.neg_risk_augmented) == (cid(0xA1), False)
    assert m11.fees == FeeSchedule(rate=Decimal("0.07"), exponent=1, taker_only=True)
    assert m11.min_order_size_micros == 10_000_000
    assert markets[cid(3)].fees == FeeSchedule()  # feesEnabled false: free


def test_discover_closed_market_only_with_include_closed_and_carries_winner() -> None:
    assert cid(2) not in by_id(run_discover(Router()))
    closed = by_id(run_discover(Router(), include_closed=True))[cid(2)]
    assert closed.closed and not closed.accepting_orders
    assert closed.winning_token_id == tok(2, 1) and closed.tick_size_micros == 1_000


@pytest.mark.parametrize(("filters", "expected"), [
    ({"tags": ("Crypto",)}, [1, 11]),
    ({"min_volume": Decimal("60000")}, [1, 4, 5, 6, 7, 8]),
    ({"min_liquidity": Decimal("1000")}, [1, 4, 5, 6, 7, 8]),
    ({"min_volume": Decimal("2500"), "tags": ("economics",)}, [3]),
])
def test_discover_filters_select_whole_units(filters: dict[str, Any],
                                             expected: list[int]) -> None:
    assert list(by_id(run_discover(Router(), **filters))) == [cid(n) for n in expected]


def test_discover_limit_counts_units_and_stops_paging_early() -> None:
    router = Router()
    result = run_discover(router, limit=3)
    assert [li.unit.key for li in result.listings] == [cid(1), cid(3), cid(0xA0)]
    assert len(result.markets) == 5  # the neg-risk event counts once and comes whole
    assert router.count("gamma.test", "/events") == 1


def test_discover_slug_of_a_neg_risk_member_loads_its_whole_event() -> None:
    router = Router()
    result = run_discover(router, slugs=("will-france-win",))
    assert list(by_id(result)) == [cid(7), cid(8)]
    assert router.count("gamma.test", "/events/9004") == 1


def test_discover_event_slug_and_unknown_slug() -> None:
    result = run_discover(Router(), slugs=("democratic-nominee-2028", "no-such-thing"))
    assert list(by_id(result)) == [cid(4), cid(5), cid(6)]
    assert [(i.ref, i.reason) for i in result.issues] == [
        ("slug no-such-thing", "no Gamma event or market has this slug")]


def test_discover_enrich_all_asks_the_clob_for_every_market() -> None:
    router = Router()
    run_discover(router, enrich="all")
    asked = {p for h, p, _ in router.seen if p.startswith("/clob-markets/")}
    assert len(asked) == 8


def test_discover_incomplete_neg_risk_member_skips_the_whole_event() -> None:
    router = Router()
    del router.clob[cid(6)]  # the augmented event's "Other" has no tick anywhere now
    result = run_discover(router)
    assert cid(4) not in by_id(result) and cid(6) not in by_id(result)
    [issue] = [i for i in result.issues if i.ref == f"market {cid(6)}"]
    assert "CLOB lookup failed" in issue.reason and "whole neg-risk event" in issue.reason


def test_discover_retries_503_then_succeeds() -> None:
    router = Router(fail={"/events": [503, 429]})
    result = run_discover(router)
    assert len(result.markets) == 8 and router.count("gamma.test", "/events") == 5


def test_discover_source_down_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    config = DiscoveryConfig(gamma_url=GAMMA, clob_url=CLOB, attempts=2)
    with pytest.raises(DiscoveryError, match="ConnectError: connection refused"):
        asyncio.run(discover(config, transport=httpx.MockTransport(refuse), sleep=_no_sleep))


def test_discover_gamma_404_falls_back_to_the_clob_listing() -> None:
    router = Router(gamma_404=True)
    clob_rows = [{"condition_id": cid(20), "question": "Q?", "market_slug": "q", "tokens": [
        {"token_id": tok(20, 1), "outcome": "Yes"}, {"token_id": tok(20, 2), "outcome": "No"}],
        "minimum_tick_size": 0.01, "minimum_order_size": 5, "accepting_orders": True,
        "active": True, "closed": False, "enable_order_book": True, "neg_risk": False,
        "tags": None}]
    router.clob[cid(20)] = {"c": cid(20), "mts": 0.01, "mos": 5, "ao": True}
    router.listing = clob_rows
    result = run_discover(router)
    assert result.source == "clob" and list(by_id(result)) == [cid(20)]
    assert [i.skipped for i in result.issues] == [False]  # the fallback note


def test_discover_clob_only_refuses_volume_filters() -> None:
    config = DiscoveryConfig(gamma_url=None, clob_url=CLOB, min_volume=Decimal(1))
    with pytest.raises(DiscoveryError, match="need Gamma"):
        asyncio.run(discover(config, transport=httpx.MockTransport(Router()),
                             sleep=_no_sleep))


def test_discovery_event_is_one_markets_loaded_that_the_engine_folds() -> None:
    result = run_discover(Router(), include_closed=True)
    event = result.event(T0)
    decoded = msgspec.json.decode(msgspec.json.encode(event), type=type(event))

    rejected = [d for d in Engine().apply(1, decoded) if isinstance(d, MarketRejected)]
    assert decoded == event and decoded.source == "gamma" and rejected == []


# --- against the simulator --------------------------------------------------------------------


def _sim_discover(make: Callable[[str], DiscoveryConfig]) -> tuple[Discovery, list[MarketInfo]]:
    async def main() -> tuple[Discovery, list[MarketInfo]]:
        async with serving(sim_config(), scenario(markets=3, neg_risk_events=2)) as server:
            result = await discover(make(server.url))
            return result, server.venue.exchange.all_markets()
    return asyncio.run(asyncio.wait_for(main(), 30))


def test_discover_clob_only_from_the_simulator_matches_its_markets() -> None:
    result, truth = _sim_discover(lambda url: DiscoveryConfig(gamma_url=None, clob_url=url))

    def key(m: MarketInfo) -> tuple[Any, ...]:
        return (m.condition_id, m.tokens, m.tick_size_micros, m.min_order_size_micros,
                m.fees, m.neg_risk, m.neg_risk_market_id, m.accepting_orders, m.closed)

    assert result.source == "clob"
    assert sorted(map(key, result.markets)) == sorted(map(key, truth))
    groups = [li for li in result.listings if li.unit.kind == "neg_risk"]
    assert len(groups) == 2 and all(len(g.markets) >= 2 for g in groups)
    assert {i.reason for i in result.issues} == {AUGMENTATION_UNKNOWN}


def test_discover_with_gamma_url_at_the_simulator_falls_back_to_clob() -> None:
    result, _ = _sim_discover(lambda url: DiscoveryConfig(gamma_url=url, clob_url=url,
                                                          limit=2))
    assert result.source == "clob" and len(result.listings) == 2
    assert any("no Gamma API here" in i.reason for i in result.issues)
