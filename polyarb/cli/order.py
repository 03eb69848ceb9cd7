# `polyarb order sign`: print the exact JSON body `POST /order` would carry for one order,
# offline, signed with the key in POLYMARKET_PRIVATE_KEY. Nothing is sent anywhere.
#
# Rules:
# 1. The order is signed exactly as `polyarb run` signs it: an OrderIntent through the live
#    venue's amount rule (polyarb.venues.polymarket.venue.intent_amounts) and OrderBuilder, and
#    the body from order_builder.order_body. Prices and sizes are parsed exactly (Decimal text
#    to micro-units); an off-tick price, a size off the 0.01 grid or an unknown tick is a
#    usage error (exit 2) saying what is wrong.
# 2. The key comes from the environment only (never a flag: flags land in shell history). The
#    funder and signature type come from flags, else POLYMARKET_FUNDER /
#    POLYMARKET_SIGNATURE_TYPE. The owner (the API key the body names) from --owner, else
#    POLYMARKET_API_KEY.
# 3. No message ever contains the private key: every error text passes a Redactor that knows
#    the key (with and without 0x), even texts that echo a mistyped flag value.
# 4. stdout carries the body alone (pipe it); the order hash, signer and maker go to stderr.
from __future__ import annotations

import os
import time
from collections.abc import Mapping

import typer

order_app = typer.Typer(help="Offline order tools (nothing is sent).", no_args_is_help=True)


def _fail(message: str, redact: object, code: int = 2) -> typer.Exit:
    text = redact(message) if callable(redact) else message
    typer.echo(f"error: {text}", err=True)
    return typer.Exit(code)


def signed_body(env: Mapping[str, str], *, token_id: str, price: str, size: str, side: str,
                tick_size: str, neg_risk: bool, signature_type: str | None,
                funder: str | None, salt: int, timestamp_ms: int, order_type: str,
                owner: str | None, expiration: int, post_only: bool) -> tuple[str, str]:
    """The exact body and the order hash (rule 1).

    Raises:
        CredentialsError, AmountError, OrderFormatError: what is wrong, never the key.
    """
    from polyarb.events.decisions import OrderIntent
    from polyarb.venues.polymarket import amounts as am
    from polyarb.venues.polymarket import credentials as cr
    from polyarb.venues.polymarket.order_builder import (
        OrderBuilder,
        OrderFormatError,
        order_body,
    )
    from polyarb.venues.polymarket.venue import intent_amounts

    picked = {cr.ENV_PRIVATE_KEY: env.get(cr.ENV_PRIVATE_KEY, ""),
              cr.ENV_FUNDER: funder if funder is not None else env.get(cr.ENV_FUNDER, ""),
              cr.ENV_SIGNATURE_TYPE: signature_type if signature_type is not None
              else env.get(cr.ENV_SIGNATURE_TYPE, "")}
    creds = cr.load_credentials(picked)
    owner = owner if owner is not None else env.get(cr.ENV_API_KEY, "").strip() or None
    if owner is None:
        raise OrderFormatError(f"no owner: pass --owner API_KEY or set {cr.ENV_API_KEY}")
    if side not in ("BUY", "SELL"):
        raise OrderFormatError("side must be BUY or SELL")
    intent = OrderIntent(
        client_order_id="cli", token_id=token_id, side=side,  # type: ignore[arg-type]
        price_micros=am.to_micros(price, "price"), size_micros=am.to_micros(size, "size"),
        order_type=order_type,  # type: ignore[arg-type]
        tick_size_micros=am.tick_config(tick_size).tick_micros, neg_risk=neg_risk)
    builder = OrderBuilder.from_credentials(creds)
    signed = builder.build(token_id, intent_amounts(intent), neg_risk=neg_risk, salt=salt,
                           timestamp_ms=timestamp_ms, expiration=expiration)
    body = order_body(signed, owner, order_type, post_only=post_only)  # type: ignore[arg-type]
    return body, f"order hash {signed.order_hash} signer {signed.order.signer} maker " \
                 f"{signed.order.maker}"


@order_app.command("sign")
def sign(
    token_id: str = typer.Option(..., "--token-id", help="CLOB token id (decimal string)."),
    price: str = typer.Option(..., "--price", help="Limit price, e.g. 0.52 (on the tick)."),
    size: str = typer.Option(..., "--size", help="Shares, at most 2 decimals."),
    side: str = typer.Option(..., "--side", help="BUY or SELL."),
    tick_size: str = typer.Option(..., "--tick-size", help="The market's tick, e.g. 0.01."),
    neg_risk: bool = typer.Option(False, "--neg-risk", help="Sign for the neg-risk exchange."),
    signature_type: str | None = typer.Option(
        None, "--signature-type", help="0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE (default: "
        "POLYMARKET_SIGNATURE_TYPE, else 0)."),
    funder: str | None = typer.Option(None, "--funder", help="Proxy/Safe address (maker)."),
    salt: int | None = typer.Option(None, "--salt", min=0, help="Salt (default: random)."),
    timestamp_ms: int | None = typer.Option(None, "--timestamp-ms", min=0,
                                            help="Order timestamp (default: now)."),
    order_type: str = typer.Option("GTC", "--order-type", help="GTC, GTD, FOK or FAK."),
    owner: str | None = typer.Option(None, "--owner",
                                     help="API key the body names (default: "
                                          "POLYMARKET_API_KEY)."),
    expiration: int = typer.Option(0, "--expiration", min=0,
                                   help="GTD expiry, unix seconds (GTD only)."),
    post_only: bool = typer.Option(False, "--post-only", help="Rest only (GTC/GTD)."),
) -> None:
    """Print the exact JSON body of POST /order for one signed order (offline).

    The private key is read from POLYMARKET_PRIVATE_KEY; it is never printed.
    """
    from polyarb.venues.polymarket.amounts import AmountError
    from polyarb.venues.polymarket.credentials import ENV_PRIVATE_KEY, CredentialsError
    from polyarb.venues.polymarket.order_builder import OrderFormatError
    from polyarb.venues.polymarket.outcomes import Redactor
    from polyarb.venues.polymarket.venue import random_salt

    key = os.environ.get(ENV_PRIVATE_KEY, "").strip()
    redact = Redactor([v for v in (key, key.removeprefix("0x")) if len(v) >= 8])
    try:
        body, info = signed_body(
            os.environ, token_id=token_id, price=price, size=size, side=side.upper(),
            tick_size=tick_size, neg_risk=neg_risk, signature_type=signature_type,
            funder=funder, salt=random_salt() if salt is None else salt,
            timestamp_ms=time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms,
            order_type=order_type.upper(), owner=owner, expiration=expiration,
            post_only=post_only)
    except (AmountError, OrderFormatError, CredentialsError) as exc:
        message = str(exc)
    else:
        typer.echo(body)
        typer.echo(info, err=True)
        return
    raise _fail(message, redact)
