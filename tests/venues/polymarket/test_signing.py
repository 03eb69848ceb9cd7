# Order signatures: sign -> recover round trips for every signature type, the exchange's
# rejection rules (tampering, wrong signer, maker/signer per type, malleable signatures), L1
# ClobAuth headers (build/verify), and private-key parsing that never echoes the key.
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.amounts import OrderAmounts
from polyarb.venues.polymarket.order_builder import OrderBuilder, SignedOrder

KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


def _signed(sig_type: int = 0, neg_risk: bool = False, key: str = KEY) -> SignedOrder:
    funder = None if sig_type == 0 else FUNDER
    builder = OrderBuilder(sg.LocalSigner.from_hex(key), signature_type=sig_type, funder=funder)
    return builder.build(TOKEN, OrderAmounts(sg.BUY, 52_000_000, 100_000_000),
                         neg_risk=neg_risk, salt=12345, timestamp_ms=1761234567890)


@pytest.mark.parametrize("sig_type", [0, 1, 2])
@pytest.mark.parametrize("neg_risk", [False, True])
def test_verify_order_signature_each_type_recovers_signer(sig_type: int, neg_risk: bool) -> None:
    # Arrange
    signed = _signed(sig_type, neg_risk)
    domain = sg.order_domain(c.POLYGON, neg_risk)

    # Act
    recovered = sg.verify_order_signature(signed.order, signed.signature, domain)

    # Assert
    assert recovered == sg.LocalSigner.from_hex(KEY).address == signed.order.signer
    assert signed.order.maker == (signed.order.signer if sig_type == 0 else FUNDER)
    assert signed.order_hash == "0x" + sg.order_digest(signed.order, domain).hex()


@settings(max_examples=25, deadline=None)
@given(st.integers(1, sg.SECP256K1_N - 1), st.binary(min_size=32, max_size=32))
def test_recover_address_any_key_round_trips(secret: int, digest: bytes) -> None:
    # Arrange
    signer = sg.LocalSigner(secret.to_bytes(32, "big"))

    # Act
    recovered = sg.recover_address(digest, signer.sign_digest(digest))

    # Assert
    assert recovered == signer.address


def test_verify_order_signature_tampered_amount_rejected() -> None:
    # Arrange
    signed = _signed()
    tampered = sg.OrderV2(**{**_fields(signed.order), "taker_amount": 200_000_000})

    # Act / Assert
    with pytest.raises(sg.SignatureError) as info:
        sg.verify_order_signature(tampered, signed.signature, sg.order_domain(c.POLYGON, False))
    assert info.value.reason == "signer_mismatch"


def _fields(order: sg.OrderV2) -> dict[str, Any]:
    return {name: getattr(order, name) for name in order.__struct_fields__}


def test_verify_order_signature_wrong_exchange_rejected() -> None:
    # Arrange: signed for the standard exchange, checked against the neg-risk one
    signed = _signed(neg_risk=False)

    # Act / Assert
    with pytest.raises(sg.SignatureError, match="signer_mismatch"):
        sg.verify_order_signature(signed.order, signed.signature, sg.order_domain(c.POLYGON, True))


def test_verify_order_signature_other_key_claiming_signer_rejected() -> None:
    # Arrange: OTHER_KEY signs an order that names KEY's address as signer
    honest = _signed()
    forged_sig = sg.LocalSigner.from_hex(OTHER_KEY).sign_digest(
        sg.order_digest(honest.order, sg.order_domain(c.POLYGON, False)))

    # Act / Assert
    with pytest.raises(sg.SignatureError, match="signer_mismatch"):
        sg.verify_order_signature(honest.order, forged_sig, sg.order_domain(c.POLYGON, False))


@pytest.mark.parametrize(
    ("sig_type", "maker", "reason"),
    [(0, FUNDER, "maker_not_signer"), (1, None, "maker_is_signer"), (2, None, "maker_is_signer"),
     (3, None, "unsupported_signature_type")],
)
def test_check_maker_signer_rule_violations_rejected(
    sig_type: int, maker: str | None, reason: str
) -> None:
    # Arrange
    base = _signed().order
    order = sg.OrderV2(**{**_fields(base), "signature_type": sig_type,
                          "maker": maker or base.signer})

    # Act / Assert
    with pytest.raises(sg.SignatureError) as info:
        sg.check_maker_signer(order)
    assert info.value.reason == reason


def test_recover_address_high_s_rejected() -> None:
    # Arrange: (r, n - s, flipped v) is the same point but malleable; contracts refuse it
    signed = _signed()
    raw = sg.signature_bytes(signed.signature)
    s = int.from_bytes(raw[32:64], "big")
    flipped = raw[:32] + (sg.SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - raw[64],))
    digest = sg.order_digest(signed.order, sg.order_domain(c.POLYGON, False))

    # Act / Assert
    with pytest.raises(sg.SignatureError, match="lower half"):
        sg.recover_address(digest, flipped)


@pytest.mark.parametrize(
    "signature",
    ["", "0x", "0x1234", "1b" * 65, "0x" + "zz" * 65, "0x" + "11" * 64 + "05", b"\x00" * 64],
)
def test_recover_address_malformed_signature_rejected(signature: str | bytes) -> None:
    # Act / Assert
    with pytest.raises(sg.SignatureError) as info:
        sg.recover_address(b"\x01" * 32, signature)
    assert info.value.reason == "malformed_signature"


def test_l1_headers_build_then_verify_returns_identity() -> None:
    # Arrange
    signer = sg.LocalSigner.from_hex(KEY)
    headers = sg.build_l1_headers(signer, chain_id=c.POLYGON, timestamp=1761234567, nonce=4)

    # Act
    identity = sg.verify_l1_headers({k.lower(): v for k, v in headers.items()},
                                    chain_id=c.POLYGON, now_s=1761234600)

    # Assert
    assert identity == sg.L1Identity(address=signer.address, nonce=4, timestamp=1761234567)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"POLY_NONCE": "5"}, "signer_mismatch"),
        ({"POLY_TIMESTAMP": "1761234568"}, "signer_mismatch"),
        ({"POLY_ADDRESS": FUNDER}, "signer_mismatch"),
        ({"POLY_TIMESTAMP": "1761230000"}, "stale_timestamp"),
        ({"POLY_TIMESTAMP": "soon"}, "bad_timestamp"),
        ({"POLY_NONCE": "-1"}, "bad_nonce"),
        ({"POLY_ADDRESS": "0xnotanaddress"}, "bad_address"),
        ({"POLY_SIGNATURE": "0x00"}, "malformed_signature"),
    ],
)
def test_verify_l1_headers_altered_header_rejected(change: dict[str, str], reason: str) -> None:
    # Arrange
    headers = sg.build_l1_headers(sg.LocalSigner.from_hex(KEY), chain_id=c.POLYGON,
                                  timestamp=1761234567, nonce=4)
    headers.update(change)

    # Act / Assert
    with pytest.raises(sg.SignatureError) as info:
        sg.verify_l1_headers(headers, chain_id=c.POLYGON, now_s=1761234567)
    assert info.value.reason == reason


def test_verify_l1_headers_missing_signature_rejected() -> None:
    # Arrange
    headers = sg.build_l1_headers(sg.LocalSigner.from_hex(KEY), chain_id=c.POLYGON,
                                  timestamp=1761234567)
    del headers["POLY_SIGNATURE"]

    # Act / Assert
    with pytest.raises(sg.SignatureError, match="missing_header"):
        sg.verify_l1_headers(headers, chain_id=c.POLYGON, now_s=1761234567)


MARKER = "c0ffee" * 10 + "1234"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MARKER[:-2], "64 hex digits"),
        (MARKER + "00", "64 hex digits"),
        ("0x" + MARKER[:-1] + "g", "non-hex"),
        ("0" * 64, "range"),
        ("f" * 64, "range"),
    ],
)
def test_parse_private_key_malformed_error_never_echoes_key(text: str, message: str) -> None:
    # Act
    with pytest.raises(sg.KeyFormatError, match=message) as info:
        sg.LocalSigner.from_hex(text)

    # Assert: no fragment of the key in the message, its repr or a chained cause
    rendered = f"{info.value} {info.value!r} {info.value.__cause__!r} {info.value.__context__!r}"
    assert "c0ffee" not in rendered and "fff" not in rendered
    assert info.value.__cause__ is None


def test_local_signer_repr_and_pickle_hide_key() -> None:
    # Arrange
    import pickle

    signer = sg.LocalSigner.from_hex("0x" + MARKER)

    # Act / Assert
    assert "c0ffee" not in repr(signer) and "c0ffee" not in str(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
