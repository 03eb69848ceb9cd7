# CLOB market payloads (GET /markets pages, GET /clob-markets/{condition_id}) -> drafts and
# units, pure and lenient: the half of discovery that works without Gamma (the simulator serves
# only the CLOB API) and the enrichment that completes Gamma's drafts.
#
# Rules:
# 1. Pure, never raises on venue input (as gamma.py): unusable markets become Issues.
# 2. A CLOB market object (reference 6.1) gives tokens, tick, minimum size, flags, neg-risk
#    group and winner, but no fee schedule: its Draft's fees stay None until the compact
#    /clob-markets object (6.2) supplies `fd {r, e, to}`. A compact object without `fd` is
#    fee-free (the venue omits it when there is no fee).
# 3. Enrichment treats the compact object as the matching engine's truth: its tick (`mts`),
#    minimum size (`mos`), fees and accepting flag (`ao`) replace the draft's. Token ids must
#    agree with the draft's, else the market is refused (two sources disagree on what trades).
# 4. Neg-risk groups from a CLOB listing are the markets sharing `neg_risk_market_id`, and
#    only whole groups are units (the listing is complete when every page was read). The CLOB
#    does not say whether an event is augmented: such groups get augmented=False and
#    discovery adds a note (Issue with skipped=False) per selected group; see
#    docs/live-trading.md.
from __future__ import annotations

from typing import Any

from polyarb.events.inputs import FeeSchedule, TokenInfo
from polyarb.venues.polymarket.gamma import (
    Draft,
    Issue,
    Unit,
    dec,
    flag,
    micros,
    tag_names,
    text,
    tick_micros,
)

AUGMENTATION_UNKNOWN = "CLOB-only discovery cannot tell whether this event is augmented"


def _clob_tokens(value: object) -> tuple[tuple[TokenInfo, ...], str | None] | str:
    rows = value if isinstance(value, list) else []
    ids = [text(r.get("token_id")) for r in rows if isinstance(r, dict)]
    if len(rows) != 2 or len(ids) != 2 or ids[0] == ids[1] or \
            not all(i.isascii() and i.isdigit() for i in ids):
        return "tokens are not two distinct decimal token ids"
    tokens = tuple(TokenInfo(token_id=i, outcome=text(r.get("outcome")))
                   for i, r in zip(ids, rows, strict=True))
    winners = [i for i, r in zip(ids, rows, strict=True) if flag(r.get("winner")) is True]
    return tokens, winners[0] if len(winners) == 1 else None


def parse_clob_market(m: object) -> Draft | Issue:
    """One CLOB market object (GET /markets row) as a Draft without fees (rule 2)."""
    if not isinstance(m, dict):
        return Issue("market ?", f"not an object: {type(m).__name__}")
    cid = text(m.get("condition_id"))
    ref = f"market {cid or '?'}"
    if not (cid.startswith("0x") and len(cid) > 2):
        return Issue(ref, "no condition_id")
    got = _clob_tokens(m.get("tokens"))
    tick = tick_micros(m.get("minimum_tick_size"))
    if isinstance(got, str) or isinstance(tick, str):
        return Issue(ref, got if isinstance(got, str) else str(tick))
    tokens, winner = got
    neg_risk = flag(m.get("neg_risk")) is True
    closed = flag(m.get("closed")) is True
    tradable = flag(m.get("enable_order_book")) is not False
    return Draft(
        condition_id=cid, tokens=tokens, question=text(m.get("question")),
        slug=text(m.get("market_slug")), tick_micros=tick,
        min_size_micros=micros(m.get("minimum_order_size")),
        accepting=(flag(m.get("accepting_orders")) if tradable else False),
        active=flag(m.get("active")) is not False, closed=closed, neg_risk=neg_risk,
        neg_risk_market_id=text(m.get("neg_risk_market_id")) or None if neg_risk else None,
        winner=winner if closed else None)


def compact_fees(obj: dict[str, Any]) -> FeeSchedule | str:
    """The fee schedule of a compact /clob-markets object (rule 2), or an error string."""
    fd = obj.get("fd")
    if fd is None:
        return FeeSchedule()
    rate = dec(fd.get("r")) if isinstance(fd, dict) else None
    exponent = dec(fd.get("e", 1)) if isinstance(fd, dict) else None
    if rate is None or exponent is None or exponent != exponent.to_integral_value():
        return "fd (fee details) unreadable"
    taker_only = flag(fd.get("to")) if isinstance(fd, dict) else None
    return FeeSchedule(rate=rate, exponent=int(exponent),
                       taker_only=True if taker_only is None else taker_only)


def enrich(draft: Draft, obj: object) -> Draft | str:
    """The draft completed and corrected by a compact /clob-markets object (rule 3)."""
    if not isinstance(obj, dict):
        return "/clob-markets answer is not an object"
    rows = obj.get("t")
    ids = sorted(text(r.get("t")) for r in rows if isinstance(r, dict)) \
        if isinstance(rows, list) else []
    if ids and ids != sorted(t.token_id for t in draft.tokens):
        return "CLOB token ids differ from the listing's"
    tick = tick_micros(obj.get("mts"))
    fees = compact_fees(obj)
    if isinstance(tick, str) or isinstance(fees, str):
        return str(tick) if isinstance(tick, str) else str(fees)
    accepting = flag(obj.get("ao"))
    mos = micros(obj.get("mos"))
    neg_risk = draft.neg_risk or flag(obj.get("nr")) is True
    return Draft(
        condition_id=draft.condition_id, tokens=draft.tokens, question=draft.question,
        slug=draft.slug, tick_micros=tick if tick is not None else draft.tick_micros,
        min_size_micros=mos if mos is not None else draft.min_size_micros, fees=fees,
        accepting=accepting if accepting is not None else draft.accepting,
        active=draft.active, closed=draft.closed, neg_risk=neg_risk,
        neg_risk_market_id=draft.neg_risk_market_id, augmented=draft.augmented,
        winner=draft.winner)


def _unit(draft: Draft, row: dict[str, Any]) -> Unit:
    return Unit(kind="binary", key=draft.condition_id, title=draft.question, slug=draft.slug,
                drafts=(draft,), tags=tag_names(row.get("tags")))


def clob_units(rows: list[Any]) -> tuple[list[Unit], list[Issue]]:
    """Units of a complete CLOB listing: binary markets, then whole neg-risk groups (rule 4).

    Groups come in order of their first member in the listing; members keep listing order.
    """
    units: list[Unit] = []
    issues: list[Issue] = []
    groups: dict[str, list[tuple[Draft, dict[str, Any]]]] = {}
    for row in rows:
        draft = parse_clob_market(row)
        if isinstance(draft, Issue):
            issues.append(draft)
        elif draft.neg_risk and draft.neg_risk_market_id is None:
            issues.append(Issue(f"market {draft.condition_id}", "neg-risk without a group id"))
        elif draft.neg_risk:
            assert draft.neg_risk_market_id is not None and isinstance(row, dict)
            groups.setdefault(draft.neg_risk_market_id, []).append((draft, row))
        else:
            assert isinstance(row, dict)
            units.append(_unit(draft, row))
    for group, members in groups.items():
        tags = tuple(dict.fromkeys(t for _, row in members for t in tag_names(row.get("tags"))))
        units.append(Unit(kind="neg_risk", key=group, title=members[0][0].question,
                          slug=members[0][0].slug, drafts=tuple(d for d, _ in members),
                          tags=tags))
    return units, issues
