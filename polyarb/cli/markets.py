# `polyarb markets`: discover the markets polyarb would trade and print them (rich table or JSON).
#
# Rules:
# 1. Parse options, build a DiscoveryConfig, call polyarb.venues.polymarket.discovery.discover,
#    print. A source that cannot answer is exit 1 with one clear line; bad options exit 2.
# 2. Sources: with neither URL given, the public Gamma and CLOB APIs. `--clob-url` alone means
#    CLOB-only (the simulator serves no Gamma); `--gamma-url none` forces CLOB-only.
# 3. Everything skipped is reported (stderr in table mode, the "issues" list in JSON mode);
#    numbers are printed from exact micro-units / Decimals, never through float.
from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Any

import typer

from polyarb.core.numbers import format_micros

_ENRICH = ("missing", "all", "none")


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        out = Decimal(value)
    except InvalidOperation:
        out = Decimal("NaN")
    if not out.is_finite() or out < 0:
        raise typer.BadParameter("must be a non-negative number", param_hint=name)
    return out


def build_config(*, tags: list[str], slugs: list[str], min_volume: str | None,
                 min_liquidity: str | None, limit: int | None, gamma_url: str | None,
                 clob_url: str | None, include_closed: bool, enrich: str) -> Any:
    """The DiscoveryConfig of the command's options (rule 2).

    Raises:
        typer.BadParameter: a malformed number or enrich mode.
    """
    from polyarb.venues.polymarket.discovery import CLOB_URL, GAMMA_URL, DiscoveryConfig

    if enrich not in _ENRICH:
        raise typer.BadParameter(f"one of {', '.join(_ENRICH)}", param_hint="--enrich")
    gamma: str | None = GAMMA_URL if clob_url is None else None
    if gamma_url is not None:
        gamma = None if gamma_url.strip().lower() in ("", "none", "off") else gamma_url
    return DiscoveryConfig(
        gamma_url=gamma, clob_url=clob_url or CLOB_URL, tags=tuple(tags), slugs=tuple(slugs),
        min_volume=_decimal(min_volume, "--min-volume"),
        min_liquidity=_decimal(min_liquidity, "--min-liquidity"), limit=limit,
        include_closed=include_closed, enrich=enrich)  # type: ignore[arg-type]


def _amount(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.quantize(Decimal(1)):,}"


def _fee(info: Any) -> str:
    fees = info.fees
    if not fees.rate:
        return "free"
    return f"{fees.rate}" + (f"^{fees.exponent}" if fees.exponent != 1 else "")


def _state(info: Any) -> str:
    if info.closed:
        return "closed"
    if not info.active:
        return "inactive"
    return "open" if info.accepting_orders else "paused"


def _table(result: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"{len(result.markets)} markets in {len(result.listings)} units "
                        f"(source: {result.source})")
    amounts = result.source != "clob"  # the CLOB has no volume or liquidity
    names = ("unit", "condition id", "question", "outcomes", "tick", "min", "fee", "state")
    for name in names + (("volume", "liquidity") if amounts else ()):
        table.add_column(name, no_wrap=name not in ("question", "outcomes"),
                         max_width=48 if name == "question" else None)
    for listing in result.listings:
        unit = listing.unit
        kind = "binary" if unit.kind == "binary" else (
            "neg-risk (augmented)" if any(m.neg_risk_augmented for m in listing.markets)
            else "neg-risk")
        money = [_amount(unit.volume), _amount(unit.liquidity)] if amounts else []
        if unit.kind == "neg_risk":
            table.add_row(kind, unit.key[:12] + "…", unit.title,
                          f"{len(listing.markets)} markets", "", "", "", "", *money)
        for info in listing.markets:
            table.add_row(
                kind if unit.kind == "binary" else "  member", info.condition_id[:12] + "…",
                info.question, " / ".join(t.outcome for t in info.tokens),
                format_micros(info.tick_size_micros), format_micros(info.min_order_size_micros),
                _fee(info), _state(info), *(money if unit.kind == "binary" else
                                            ["", ""][:len(money)]))
    return table


def as_json(result: Any) -> bytes:
    """The discovery as JSON: units with their markets (MarketInfo fields), then the issues."""
    import msgspec

    units = [{
        "kind": li.unit.kind, "key": li.unit.key, "title": li.unit.title, "slug": li.unit.slug,
        "event_slug": li.unit.event_slug, "tags": list(li.unit.tags),
        "volume": li.unit.volume, "liquidity": li.unit.liquidity, "markets": li.markets,
    } for li in result.listings]
    issues = [{"ref": i.ref, "reason": i.reason, "skipped": i.skipped} for i in result.issues]
    return msgspec.json.encode({"source": result.source, "units": units, "issues": issues})


def markets(
    tag: list[str] = typer.Option([], "--tag", help="Keep units with this tag (slug or label)."),
    min_volume: str | None = typer.Option(None, "--min-volume", help="Minimum volume (USDC)."),
    min_liquidity: str | None = typer.Option(None, "--min-liquidity",
                                             help="Minimum liquidity (USDC)."),
    slug: list[str] = typer.Option([], "--slug", help="Only this event or market slug."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="At most this many units (market or whole event)."),
    as_json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    gamma_url: str | None = typer.Option(None, "--gamma-url",
                                         help="Gamma API base URL ('none': CLOB only)."),
    clob_url: str | None = typer.Option(None, "--clob-url",
                                        help="CLOB API base URL (alone: CLOB only, e.g. the "
                                             "simulator)."),
    include_closed: bool = typer.Option(False, "--include-closed",
                                        help="Keep closed/inactive markets too."),
    enrich: str = typer.Option("missing", "--enrich",
                               help="Ask the CLOB for market details: missing, all or none."),
) -> None:
    """List tradable markets and neg-risk events from Gamma and the CLOB (or the simulator)."""
    from polyarb.venues.polymarket.discovery import DiscoveryError, discover

    config = build_config(tags=tag, slugs=slug, min_volume=min_volume,
                          min_liquidity=min_liquidity, limit=limit, gamma_url=gamma_url,
                          clob_url=clob_url, include_closed=include_closed, enrich=enrich)
    try:
        result = asyncio.run(discover(config))
    except DiscoveryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json_out:
        typer.echo(as_json(result).decode())
        return
    from rich.console import Console

    Console().print(_table(result))
    for issue in result.issues:
        word = "skipped" if issue.skipped else "note"
        typer.echo(f"{word}: {issue.ref}: {issue.reason}", err=True)
