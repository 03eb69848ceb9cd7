# Gamma API payloads (gamma-api.polymarket.com /events, /markets) -> market drafts grouped into
# trading units, pure and lenient. discovery.py does the I/O and the CLOB enrichment.
#
# Rules:
# 1. Pure: the input is JSON decoded with numbers as int/Decimal (never float). Nothing raises
#    on venue input: a market that cannot be used becomes an Issue naming it and saying why,
#    never a crash and never a silent drop. Unknown fields are ignored; `tags: null` is fine.
# 2. `outcomes`, `outcomePrices` and `clobTokenIds` are JSON text inside JSON
#    ("[\"Yes\", \"No\"]"); real arrays are accepted too. Token ids stay strings.
# 3. A Draft leaves a field None when the payload does not say it (tick, minimum size, fee
#    schedule, accepting orders); discovery fills those from the CLOB (/clob-markets) or reports
#    the market. `finish` turns a complete Draft into the events vocabulary's MarketInfo.
# 4. Fees (reference 7.4): `feesEnabled: false` is fee-free; a `feeSchedule {rate, exponent,
#    takerOnly, rebateRate}` is used as given; enabled (or unknown) without a schedule is
#    unknown (None), never assumed free.
# 5. Units: each market of an ordinary event is its own binary unit; a neg-risk event (the
#    event or any of its markets says negRisk) is ONE unit with all its markets. If any member
#    cannot be parsed the whole event is skipped: a basket over part of a group is not an
#    arbitrage. Augmented = `enableNegRisk && negRiskAugmented` (reference 6.4).
# 6. A market Gamma shows resolved (closed, outcomePrices exactly 1 and 0) carries its winner,
#    so the core drops a member that resolved NO from its basket.
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

import orjson

from polyarb.core.numbers import NumberError, parse_micros
from polyarb.events.inputs import FeeSchedule, MarketInfo, TokenInfo

MICROS = 1_000_000
VENUE_TICKS_MICROS = (100_000, 10_000, 5_000, 2_500, 1_000, 100)
UnitKind = Literal["binary", "neg_risk"]


class Issue(NamedTuple):
    """A market or event discovery skipped (or adjusted): what it is and why."""

    ref: str
    reason: str
    skipped: bool = True


@dataclass(frozen=True, slots=True)
class Draft:
    """One market as far as a payload describes it (rule 3)."""

    condition_id: str
    tokens: tuple[TokenInfo, ...]
    question: str = ""
    slug: str = ""
    tick_micros: int | None = None
    min_size_micros: int | None = None
    fees: FeeSchedule | None = None
    accepting: bool | None = None
    active: bool = True
    closed: bool = False
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    augmented: bool = False
    winner: str | None = None

    def missing(self) -> tuple[str, ...]:
        """The fields a CLOB lookup must supply before `finish` can succeed."""
        names = (("tick size", self.tick_micros), ("minimum order size", self.min_size_micros),
                 ("fee schedule", self.fees), ("accepting orders", self.accepting))
        return tuple(name for name, value in names if value is None)


@dataclass(frozen=True, slots=True)
class Unit:
    """What filters and --limit count: one binary market or one whole neg-risk event."""

    kind: UnitKind
    key: str  # condition id, or the negRiskMarketID of the event
    title: str
    slug: str
    drafts: tuple[Draft, ...]
    event_slug: str = ""
    tags: tuple[str, ...] = ()  # lower-cased tag slugs and labels
    volume: Decimal | None = None
    liquidity: Decimal | None = None
    volume_24h: Decimal | None = None

    def with_drafts(self, drafts: tuple[Draft, ...]) -> Unit:
        """The same unit with its drafts replaced (after enrichment)."""
        return replace(self, drafts=drafts)


# --- values ---------------------------------------------------------------------------------


def json_list(value: object) -> list[Any] | None:
    """A list given as a JSON array or as JSON text of one (rule 2); None otherwise."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value if isinstance(value, list) else None


def dec(value: object) -> Decimal | None:
    """A finite Decimal from an int, Decimal or numeric string; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        return None
    try:
        out = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def first_dec(obj: dict[str, Any], *names: str) -> Decimal | None:
    """The first of `names` that holds a readable number (null and junk are skipped)."""
    for name in names:
        value = dec(obj.get(name))
        if value is not None:
            return value
    return None


def micros(value: object) -> int | None:
    """Exact micro-units of a non-negative decimal (at most 6 decimals); None otherwise."""
    if isinstance(value, Decimal):
        value = format(value, "f") if value.is_finite() else None
    try:
        return parse_micros(value)
    except NumberError:
        return None


def flag(value: object) -> bool | None:
    """A JSON boolean (or "true"/"false"); None when absent or anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def text(value: object) -> str:
    """A string field, "" when absent or not a string."""
    return value if isinstance(value, str) else ""


def tag_names(value: object) -> tuple[str, ...]:
    """Lower-cased tag slugs/labels/ids from a list of tag objects or strings (null: none)."""
    out: list[str] = []
    for tag in value if isinstance(value, list) else ():
        parts = [tag] if isinstance(tag, str) else (
            [tag.get(k) for k in ("slug", "label", "id")] if isinstance(tag, dict) else [])
        out += [str(p).strip().lower() for p in parts if isinstance(p, str | int) and str(p)]
    return tuple(dict.fromkeys(out))


def fee_schedule(enabled: object, schedule: object) -> FeeSchedule | str | None:
    """The fee schedule of rule 4: a FeeSchedule, None (unknown) or an error string."""
    if isinstance(schedule, dict):
        rate, exponent = dec(schedule.get("rate")), dec(schedule.get("exponent", 1))
        rebate = dec(schedule.get("rebateRate", 0))
        taker_only = flag(schedule.get("takerOnly"))
        if rate is None or exponent is None or exponent != exponent.to_integral_value():
            return "feeSchedule rate/exponent unreadable"
        return FeeSchedule(rate=rate, exponent=int(exponent),
                           taker_only=True if taker_only is None else taker_only,
                           rebate_rate=rebate if rebate is not None else Decimal(0))
    return FeeSchedule() if flag(enabled) is False else None


def tick_micros(value: object) -> int | str | None:
    """A venue tick size in micro-units, None when absent, or an error string."""
    if value is None:
        return None
    got = micros(value)
    if got not in VENUE_TICKS_MICROS:
        return f"tick size {str(value)[:20]} is not a venue tick"
    return got


# --- markets --------------------------------------------------------------------------------


def _tokens(m: dict[str, Any]) -> tuple[TokenInfo, ...] | str:
    ids, outcomes = json_list(m.get("clobTokenIds")), json_list(m.get("outcomes"))
    if ids is None:
        return "no clobTokenIds (no order book)"
    if outcomes is None or len(outcomes) != len(ids):
        return "outcomes do not line up with clobTokenIds"
    if len(ids) != 2:
        return f"{len(ids)} outcomes: only binary markets trade on the CLOB"
    if not all(isinstance(t, str) and t.isascii() and t.isdigit() for t in ids) or \
            ids[0] == ids[1]:
        return "clobTokenIds are not two distinct decimal strings"
    return tuple(TokenInfo(token_id=t, outcome=str(o)) for t, o in zip(ids, outcomes,
                                                                        strict=True))


def _winner(m: dict[str, Any], tokens: tuple[TokenInfo, ...]) -> str | None:
    prices = json_list(m.get("outcomePrices"))
    if flag(m.get("closed")) is not True or prices is None or len(prices) != len(tokens):
        return None
    values = [micros(p) for p in prices]
    if sorted(v for v in values if v is not None) != [0, MICROS]:
        return None
    return tokens[values.index(MICROS)].token_id


class EventContext(NamedTuple):
    """What a market inherits from its event."""

    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    augmented: bool = False


_NO_EVENT = EventContext()


def parse_market(m: object, ctx: EventContext = _NO_EVENT) -> Draft | Issue:
    """One Gamma market object as a Draft, or the Issue saying why it is unusable."""
    if not isinstance(m, dict):
        return Issue("market ?", f"not an object: {type(m).__name__}")
    cid = text(m.get("conditionId"))
    ref = f"market {cid or text(m.get('slug')) or text(m.get('id')) or '?'}"
    if not (cid.startswith("0x") and len(cid) > 2):
        return Issue(ref, "no conditionId")
    tokens = _tokens(m)
    tick = tick_micros(m.get("orderPriceMinTickSize"))
    fees = fee_schedule(m.get("feesEnabled"), m.get("feeSchedule"))
    for problem in (tokens, tick, fees):
        if isinstance(problem, str):
            return Issue(ref, problem)
    assert isinstance(tokens, tuple) and not isinstance(tick, str) and not isinstance(fees, str)
    neg_risk = bool(flag(m.get("negRisk"))) or ctx.neg_risk
    book = flag(m.get("enableOrderBook"))
    accepting = flag(m.get("acceptingOrders"))
    return Draft(
        condition_id=cid, tokens=tokens, question=text(m.get("question")),
        slug=text(m.get("slug")), tick_micros=tick, min_size_micros=micros(m.get("orderMinSize")),
        fees=fees, accepting=False if book is False else accepting,
        active=flag(m.get("active")) is not False, closed=flag(m.get("closed")) is True,
        neg_risk=neg_risk,
        neg_risk_market_id=(text(m.get("negRiskMarketID")) or ctx.neg_risk_market_id
                            if neg_risk else None),
        augmented=ctx.augmented, winner=_winner(m, tokens))


def finish(draft: Draft) -> MarketInfo | str:
    """The MarketInfo of a complete Draft, or why it is still incomplete."""
    missing = draft.missing()
    if missing:
        return "unknown " + ", ".join(missing)
    assert draft.tick_micros is not None and draft.min_size_micros is not None
    assert draft.fees is not None and draft.accepting is not None
    return MarketInfo(
        condition_id=draft.condition_id, question=draft.question, slug=draft.slug,
        tokens=draft.tokens, tick_size_micros=draft.tick_micros,
        min_order_size_micros=draft.min_size_micros, neg_risk=draft.neg_risk,
        neg_risk_market_id=draft.neg_risk_market_id, neg_risk_augmented=draft.augmented,
        fees=draft.fees, active=draft.active, closed=draft.closed,
        accepting_orders=draft.accepting, winning_token_id=draft.winner)


# --- events ---------------------------------------------------------------------------------


def _is_neg_risk(event: dict[str, Any], markets: list[Any]) -> bool:
    if flag(event.get("negRisk")) or flag(event.get("enableNegRisk")):
        return True
    return any(isinstance(m, dict) and flag(m.get("negRisk")) for m in markets)


def _binary_unit(d: Draft, m: dict[str, Any], event: dict[str, Any]) -> Unit:
    return Unit(kind="binary", key=d.condition_id, title=d.question, slug=d.slug, drafts=(d,),
                event_slug=text(event.get("slug")),
                tags=tuple(dict.fromkeys(tag_names(event.get("tags")) + tag_names(m.get("tags")))),
                volume=first_dec(m, "volumeNum", "volume"),
                liquidity=first_dec(m, "liquidityNum", "liquidity"),
                volume_24h=dec(m.get("volume24hr")))


def _neg_risk_unit(event: dict[str, Any], markets: list[Any]) -> Unit | Issue:
    ref = f"event {text(event.get('slug')) or text(event.get('id')) or '?'}"
    ids = sorted({text(m.get("negRiskMarketID")) for m in markets if isinstance(m, dict)}
                 - {""})
    group = text(event.get("negRiskMarketID")) or (ids[0] if len(ids) == 1 else "")
    if not group or any(i != group for i in ids):
        return Issue(ref, "neg-risk event without one negRiskMarketID (whole event skipped)")
    ctx = EventContext(True, group, bool(flag(event.get("enableNegRisk")))
                       and bool(flag(event.get("negRiskAugmented"))))
    drafts: list[Draft] = []
    for m in markets:
        got = parse_market(m, ctx)
        if isinstance(got, Issue):
            return Issue(ref, f"{got.ref}: {got.reason} (whole neg-risk event skipped)")
        drafts.append(got)
    if not drafts:
        return Issue(ref, "neg-risk event without markets")
    return Unit(kind="neg_risk", key=group, title=text(event.get("title")),
                slug=text(event.get("slug")), drafts=tuple(drafts),
                event_slug=text(event.get("slug")), tags=tag_names(event.get("tags")),
                volume=dec(event.get("volume")), liquidity=dec(event.get("liquidity")),
                volume_24h=dec(event.get("volume24hr")))


def parse_event(event: object) -> tuple[list[Unit], list[Issue]]:
    """One Gamma event as units (rule 5) and the issues of what was skipped."""
    if not isinstance(event, dict):
        return [], [Issue("event ?", f"not an object: {type(event).__name__}")]
    markets = event.get("markets")
    markets = markets if isinstance(markets, list) else []
    if _is_neg_risk(event, markets):
        got = _neg_risk_unit(event, markets)
        return ([got], []) if isinstance(got, Unit) else ([], [got])
    units: list[Unit] = []
    issues: list[Issue] = []
    for m in markets:
        draft = parse_market(m)
        if isinstance(draft, Issue):
            issues.append(draft)
        else:
            units.append(_binary_unit(draft, m, event))
    return units, issues


def market_unit(m: object) -> Unit | Issue:
    """A lone Gamma market (from /markets) as a binary unit; neg-risk ones need their event."""
    draft = parse_market(m)
    if isinstance(draft, Issue):
        return draft
    assert isinstance(m, dict)
    if draft.neg_risk:
        return Issue(f"market {draft.condition_id}", "neg-risk market: load its whole event")
    events = m.get("events")
    event = events[0] if isinstance(events, list) and events and isinstance(events[0], dict) \
        else {}
    return _binary_unit(draft, m, event)
