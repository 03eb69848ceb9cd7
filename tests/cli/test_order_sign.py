# `polyarb order sign`: the printed body equals the official py-clob-client-v2's POST /order
# body for the same inputs (skipped when it is not installed), its signature recovers to the
# key's address, and every error is clear, exits 2 and never contains the private key.
from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.order_builder import parse_wire_order

runner = CliRunner()
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
API = ("0f2c5b0e-1111-4222-8333-444455556666", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=",
       "d3f1a9c0b2e4f6a8c0e2d4f6a8b0c2e4d6f8a0b2c4e6d8f0a2b4c6d8e0f2a4b6")
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
CLEAN_ENV: dict[str, str | None] = {
    "POLYMARKET_PRIVATE_KEY": KEY, "POLYMARKET_API_KEY": None, "POLYMARKET_API_SECRET": None,
    "POLYMARKET_API_PASSPHRASE": None, "POLYMARKET_FUNDER": None,
    "POLYMARKET_SIGNATURE_TYPE": None}
HAS_OFFICIAL = importlib.util.find_spec("py_clob_client_v2") is not None


def sign(*extra: str, env: dict[str, str | None] | None = None) -> Any:
    args = ["order", "sign", "--token-id", TOKEN, "--salt", "479249096354",
            "--timestamp-ms", "1761234567890", *extra]
    return runner.invoke(app, args, env={**CLEAN_ENV, **(env or {})})


CASES = [
    # (price, size, side, tick, neg_risk, signature type, funder, order type)
    ("0.52", "100", "BUY", "0.01", False, 0, None, "GTC"),
    ("0.335", "37.5", "SELL", "0.001", True, 2, FUNDER, "GTC"),
    ("0.0725", "20", "BUY", "0.0001", False, 1, FUNDER, "FOK"),  # whole cents: 1.45
    ("0.45", "20", "SELL", "0.005", True, 0, None, "FAK"),
]


@pytest.mark.skipif(not HAS_OFFICIAL, reason="py_clob_client_v2 is not installed")
@pytest.mark.parametrize("case", CASES)
def test_order_sign_body_equals_the_official_clients(case: tuple[Any, ...]) -> None:
    from tests.venues.polymarket import official as off

    price, size, side, tick, neg_risk, sig_type, funder, order_type = case
    client, capture = off.make_client(KEY, chain_id=137, signature_type=sig_type, funder=funder,
                                      api=API, l2_timestamp=1761234567)
    order = off.create_limit(client, token_id=TOKEN, side=side, price=float(price),
                             size=float(size), tick=tick, neg_risk=neg_risk,
                             salt=479249096354, timestamp_ms=1761234567890)
    _, official_body = off.post(client, capture, order, order_type)

    flags = ["--neg-risk"] if neg_risk else []
    flags += ["--funder", funder] if funder else []
    result = sign("--price", price, "--size", size, "--side", side, "--tick-size", tick,
                  "--signature-type", str(sig_type), "--order-type", order_type,
                  "--owner", API[0], *flags)

    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip("\n") == official_body


def test_order_sign_market_buy_collateral_is_whole_cents_like_polyarb_run_sends() -> None:
    # 10 @ 0.0725 is 0.725: the venue wants market BUY collateral in cents (reference 3.3),
    # so the collateral is rounded down to 0.72 and the shares follow (venue.intent_amounts).
    result = sign("--price", "0.0725", "--size", "10", "--side", "BUY", "--tick-size",
                  "0.0001", "--order-type", "FAK", "--owner", "k")
    order = json.loads(result.stdout)["order"]
    assert (order["makerAmount"], order["takerAmount"]) == ("720000", "9931000")


def test_order_sign_signature_recovers_to_the_keys_address() -> None:
    result = sign("--price", "0.52", "--size", "100", "--side", "buy", "--tick-size", "0.01",
                  env={"POLYMARKET_API_KEY": API[0]})

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    order, signature = parse_wire_order(body["order"])
    digest = sg.order_digest(order, sg.order_domain(137, False))
    assert sg.recover_address(digest, signature) == ADDRESS
    assert body["owner"] == API[0] and body["orderType"] == "GTC"
    assert f"order hash 0x{digest.hex()}" in result.stderr


def test_order_sign_funder_and_signature_type_from_the_environment() -> None:
    result = sign("--price", "0.5", "--size", "10", "--side", "SELL", "--tick-size", "0.01",
                  "--owner", "k", env={"POLYMARKET_FUNDER": FUNDER,
                                       "POLYMARKET_SIGNATURE_TYPE": "POLY_GNOSIS_SAFE"})
    order = json.loads(result.stdout)["order"]
    assert (order["maker"], order["signer"], order["signatureType"]) == (FUNDER, ADDRESS, 2)


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--price", "0.525", "--tick-size", "0.01"], {}, "not a multiple of tick"),
    (["--price", "0.99", "--tick-size", "0.01", "--size", "1.234"], {}, "more than 2 decimals"),
    (["--price", "1", "--tick-size", "0.01"], {}, "outside"),
    (["--tick-size", "0.02"], {}, "unknown tick size"),
    ([], {"POLYMARKET_PRIVATE_KEY": None}, "POLYMARKET_PRIVATE_KEY is not set"),
    ([], {"POLYMARKET_PRIVATE_KEY": KEY[:-2] + "zz"}, "private key"),
    ([], {"POLYMARKET_SIGNATURE_TYPE": "1"}, "needs a funder"),
    (["--side", "HOLD"], {}, "side must be BUY or SELL"),
    (["--order-type", "GTD"], {}, "GTD orders need a non-zero expiration"),
    ([f"--price={KEY}"], {}, "<redacted>"),  # a key pasted into the wrong flag
])
def test_order_sign_errors_are_clear_and_never_echo_the_key(
        args: list[str], env: dict[str, str | None], message: str) -> None:
    base = {"--price": "0.5", "--size": "10", "--side": "BUY", "--tick-size": "0.01",
            "--owner": "owner-1"}
    given = {a.split("=")[0] for a in args if a.startswith("--")}
    flags = [x for k, v in base.items() if k not in given for x in (k, v)]
    result = sign(*flags, *args, env=env)

    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""
    for secret in (KEY, KEY[2:], KEY[2:-2]):
        assert secret not in result.output


def test_order_sign_without_owner_says_how_to_give_one() -> None:
    result = sign("--price", "0.5", "--size", "10", "--side", "BUY", "--tick-size", "0.01")
    assert result.exit_code == 2 and "--owner" in result.stderr
