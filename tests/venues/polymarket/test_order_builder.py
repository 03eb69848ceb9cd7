# Order builder and POST bodies without the official client: wire types of every field
# (reference 5.6), venue order-type rules, batch limits, builder configuration errors, field
# validation, and the simulator's parse -> verify path round-tripping what we send.
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.amounts import OrderAmounts
from polyarb.venues.polymarket.order_builder import (
    MAX_SALT,
    OrderBuilder,
    OrderFormatError,
    SignedOrder,
    order_body,
    orders_body,
    parse_wire_order,
)

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
OWNER = "0f2c5b0e-1111-4222-8333-444455556666"
SIGNER = sg.LocalSigner.from_hex(KEY)


def _builder(sig_type: int = 2) -> OrderBuilder:
    return OrderBuilder(SIGNER, signature_type=sig_type, funder=None if sig_type == 0 else FUNDER)


def _order(expiration: int = 0, side: int = sg.BUY, **kw: object) -> SignedOrder:
    fields: dict[str, object] = dict(neg_risk=False, salt=479249096354,
                                     timestamp_ms=1761234567890, expiration=expiration)
    fields.update(kw)
    return _builder().build(TOKEN, OrderAmounts(side, 52_000_000, 100_000_000), **fields)  # type: ignore[arg-type]


def test_order_body_wire_types_match_reference() -> None:
    # Act
    body = json.loads(order_body(_order(), OWNER, "GTC"))

    # Assert
    order = body["order"]
    assert list(body) == ["order", "owner", "orderType", "deferExec", "postOnly"]
    assert list(order) == ["salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount",
                           "side", "expiration", "signatureType", "timestamp", "metadata",
                           "builder", "signature"]
    assert order["salt"] == 479249096354 and order["signatureType"] == 2
    assert (order["makerAmount"], order["takerAmount"]) == ("52000000", "100000000")
    assert (order["tokenId"], order["expiration"], order["timestamp"]) == (
        TOKEN, "0", "1761234567890")
    assert order["side"] == "BUY" and order["maker"] == FUNDER
    assert order["signer"] == SIGNER.address
    assert (body["owner"], body["orderType"], body["deferExec"], body["postOnly"]) == (
        OWNER, "GTC", False, False)


def test_order_body_equals_compact_json_dumps_of_same_payload() -> None:
    # Arrange
    text = order_body(_order(side=sg.SELL), OWNER, "FAK", defer_exec=True)

    # Act
    redumped = json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)

    # Assert
    assert text == redumped


@pytest.mark.parametrize(
    ("expiration", "order_type", "post_only", "message"),
    [
        (0, "IOC", False, "order_type must be one of"),
        (0, "FOK", True, "postOnly is only allowed"),
        (0, "FAK", True, "postOnly is only allowed"),
        (0, "GTD", False, "GTD orders need a non-zero expiration"),
        (1900000000, "GTC", False, "GTD orders need a non-zero expiration"),
    ],
)
def test_order_body_invalid_options_rejected(
    expiration: int, order_type: str, post_only: bool, message: str
) -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match=message):
        order_body(_order(expiration), OWNER, order_type, post_only=post_only)  # type: ignore[arg-type]


def test_order_body_gtd_post_only_accepted() -> None:
    # Act
    body = json.loads(order_body(_order(1900000000), OWNER, "GTD", post_only=True))

    # Assert
    assert body["order"]["expiration"] == "1900000000" and body["postOnly"] is True


def test_order_body_empty_owner_rejected() -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match="owner"):
        order_body(_order(), "", "GTC")


def test_orders_body_batch_limits_enforced() -> None:
    # Arrange
    entry = (_order(), "GTC")

    # Act
    body = orders_body([entry] * 15, OWNER)  # type: ignore[list-item]

    # Assert
    assert len(json.loads(body)) == 15
    with pytest.raises(OrderFormatError, match="1 to 15"):
        orders_body([entry] * 16, OWNER)  # type: ignore[list-item]
    with pytest.raises(OrderFormatError, match="1 to 15"):
        orders_body([], OWNER)


@pytest.mark.parametrize(
    ("sig_type", "funder", "message"),
    [
        (0, FUNDER, "EOA orders need funder"),
        (1, None, "proxy/Safe orders need"),
        (2, SIGNER.address.lower(), "proxy/Safe orders need"),
        (3, FUNDER, "POLY_1271 is unsupported"),
    ],
)
def test_order_builder_bad_funder_configuration_rejected(
    sig_type: int, funder: str | None, message: str
) -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match=message):
        OrderBuilder(SIGNER, signature_type=sig_type, funder=funder)


def test_order_builder_lowercase_funder_checksummed() -> None:
    # Act
    builder = OrderBuilder(SIGNER, signature_type=1, funder=FUNDER.lower())

    # Assert
    assert builder.maker == FUNDER


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"salt": MAX_SALT + 1}, "salt must be an integer"),
        ({"salt": -1}, "salt must be an integer"),
        ({"salt": True}, "salt must be an integer"),
        ({"timestamp_ms": 1.5}, "timestamp_ms"),
        ({"expiration": -1}, "expiration"),
        ({"metadata": "0x00"}, "metadata must be 0x"),
        ({"builder": "0x" + "g" * 64}, "builder must be 0x"),
    ],
)
def test_order_builder_bad_field_rejected(overrides: dict[str, Any], message: str) -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match=message):
        _order(**overrides)


@pytest.mark.parametrize("token_id", ["", "0123", "12a", "-1", str(2**256), " 12"])
def test_order_builder_bad_token_id_rejected(token_id: str) -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match="token_id"):
        _builder().build(token_id, OrderAmounts(sg.BUY, 1, 1), neg_risk=False, salt=1,
                         timestamp_ms=1)


def test_order_builder_zero_amount_rejected() -> None:
    # Act / Assert
    with pytest.raises(OrderFormatError, match="positive"):
        _builder().build(TOKEN, OrderAmounts(sg.BUY, 0, 1), neg_risk=False, salt=1,
                         timestamp_ms=1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, MAX_SALT), st.integers(1, 2**63), st.sampled_from([0, 1, 2]),
       st.booleans(), st.integers(1, 10**15), st.integers(1, 10**15))
def test_parse_wire_order_round_trips_and_verifies(
    salt: int, ts: int, sig_type: int, neg_risk: bool, maker_amount: int, taker_amount: int
) -> None:
    # Arrange
    signed = _builder(sig_type).build(TOKEN, OrderAmounts(sg.SELL, maker_amount, taker_amount),
                                      neg_risk=neg_risk, salt=salt, timestamp_ms=ts)
    wire = json.loads(order_body(signed, OWNER, "FOK"))["order"]

    # Act
    order, signature = parse_wire_order(wire)
    domain = sg.order_domain(c.POLYGON, neg_risk)

    # Assert
    assert order == signed.order and signature == signed.signature
    assert sg.verify_order_signature(order, signature, domain) == SIGNER.address
    assert "0x" + sg.order_digest(order, domain).hex() == signed.order_hash


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("salt", "479249096354", "order.salt must be a JSON integer"),
        ("salt", True, "order.salt must be a JSON integer"),
        ("signatureType", "2", "order.signatureType must be a JSON integer"),
        ("side", 0, "order.side must be"),
        ("maker", "0x1234", "order.maker must be a 0x address"),
        ("tokenId", 1234, "order.tokenId must be"),
        ("makerAmount", 52000000, "order.makerAmount must be a string"),
        ("takerAmount", "1e8", "order.takerAmount must be a string"),
        ("timestamp", "", "order.timestamp must be a string"),
        ("metadata", "0x", "order.metadata must be 0x"),
        ("signature", "0x1b", "order.signature must be"),
        ("expiration", None, "order.expiration must be a string"),
    ],
)
def test_parse_wire_order_bad_field_named(field: str, value: object, message: str) -> None:
    # Arrange
    wire = json.loads(order_body(_order(), OWNER, "GTC"))["order"]
    wire[field] = value

    # Act / Assert
    with pytest.raises(OrderFormatError, match=message):
        parse_wire_order(wire)


def test_parse_wire_order_missing_field_named() -> None:
    # Arrange
    wire = json.loads(order_body(_order(), OWNER, "GTC"))["order"]
    del wire["builder"]

    # Act / Assert
    with pytest.raises(OrderFormatError, match=r"order\.builder is missing"):
        parse_wire_order(wire)
