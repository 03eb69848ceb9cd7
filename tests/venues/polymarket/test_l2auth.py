# L2 HMAC headers: build -> verify round trip, every rejection the simulator relies on (wrong
# signature, stale timestamp, wrong body, wrong key, ...), the query-string and quote rules,
# and the deterministic API-key derivation.
from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.venues.polymarket import l2auth
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.l2auth import ApiKeyRecord
from polyarb.venues.polymarket.signing import SignatureError

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SEED = b"simulator-seed-0123456789abcdef"
CREDS = l2auth.derive_api_credentials(SEED, ADDRESS, 0)
OTHER = l2auth.derive_api_credentials(SEED, ADDRESS, 1)
BODY = '{"order":{"salt":1},"owner":"x","orderType":"GTC"}'
NOW = 1761234567


def _lookup(api_key: str) -> ApiKeyRecord | None:
    records = {CREDS.api_key.reveal(): ApiKeyRecord(ADDRESS, CREDS),
               OTHER.api_key.reveal(): ApiKeyRecord(ADDRESS, OTHER)}
    return records.get(api_key)


def _headers(creds: ApiCredentials = CREDS, body: str | None = BODY, path: str = "/order",
             timestamp: int = NOW) -> dict[str, str]:
    return l2auth.build_l2_headers(ADDRESS, creds, timestamp=timestamp, method="POST",
                                   path=path, body=body)


def _verify(headers: dict[str, str], body: str | bytes | None = BODY, path: str = "/order",
            method: str = "POST") -> ApiKeyRecord:
    return l2auth.verify_l2_headers(headers, method=method, path=path, body=body,
                                    lookup=_lookup, now_s=NOW + 5)


def test_verify_l2_headers_built_headers_accepted() -> None:
    # Act
    record = _verify(_headers())

    # Assert
    assert record.credentials == CREDS
    assert set(_headers()) == {"POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP",
                               "POLY_API_KEY", "POLY_PASSPHRASE"}


def test_verify_l2_headers_lowercase_names_and_bytes_body_accepted() -> None:
    # Arrange
    headers = {k.lower(): v for k, v in _headers().items()}

    # Act / Assert
    assert _verify(headers, body=BODY.encode()).address == ADDRESS


def test_verify_l2_headers_query_string_ignored() -> None:
    # Arrange: signed without query, received with one (and vice versa)
    signed = l2auth.build_l2_headers(ADDRESS, CREDS, timestamp=NOW, method="GET",
                                     path="/data/orders?market=0xabc&next_cursor=MA==")

    # Act / Assert
    assert _verify(signed, body=None, path="/data/orders", method="GET").address == ADDRESS


def test_verify_l2_headers_bodiless_request_accepted() -> None:
    # Act / Assert
    assert _verify(_headers(body=None, path="/cancel-all"), body=None, path="/cancel-all")


def _flip_first(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.update(POLY_SIGNATURE=_flip_first(h["POLY_SIGNATURE"])), "bad_signature"),
        (lambda h: h.update(POLY_TIMESTAMP=str(NOW - 600)), "stale_timestamp"),
        (lambda h: h.update(POLY_TIMESTAMP=str(NOW + 600)), "stale_timestamp"),
        (lambda h: h.update(POLY_TIMESTAMP=str(NOW + 1)), "bad_signature"),
        (lambda h: h.update(POLY_TIMESTAMP="1.5e9"), "bad_timestamp"),
        (lambda h: h.update(POLY_API_KEY="00000000-0000-4000-8000-000000000000"),
         "unknown_api_key"),
        (lambda h: h.update(POLY_API_KEY=OTHER.api_key.reveal(),
                            POLY_PASSPHRASE=OTHER.passphrase.reveal()), "bad_signature"),
        (lambda h: h.update(POLY_PASSPHRASE="guess"), "bad_passphrase"),
        (lambda h: h.update(POLY_ADDRESS="0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
         "address_mismatch"),
        (lambda h: h.pop("POLY_SIGNATURE"), "missing_header"),
        (lambda h: h.pop("POLY_API_KEY"), "missing_header"),
    ],
)
def test_verify_l2_headers_tampered_header_rejected(mutate: object, reason: str) -> None:
    # Arrange
    headers = _headers()
    mutate(headers)  # type: ignore[operator]

    # Act / Assert
    with pytest.raises(SignatureError) as info:
        _verify(headers)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("body", "path", "method"),
    [
        (BODY.replace("GTC", "FOK"), "/order", "POST"),
        (BODY + " ", "/order", "POST"),
        (None, "/order", "POST"),
        (BODY, "/orders", "POST"),
        (BODY, "/order", "DELETE"),
    ],
)
def test_verify_l2_headers_different_request_rejected(
    body: str | None, path: str, method: str
) -> None:
    # Act / Assert
    with pytest.raises(SignatureError, match="bad_signature"):
        _verify(_headers(), body=body, path=path, method=method)


def test_verify_l2_headers_error_messages_hold_no_secret() -> None:
    # Arrange
    headers = _headers()
    headers["POLY_PASSPHRASE"] = "guess"
    secrets = (CREDS.secret.reveal(), CREDS.passphrase.reveal(), CREDS.api_key.reveal())

    # Act
    with pytest.raises(SignatureError) as info:
        _verify(headers)

    # Assert
    assert not any(s in str(info.value) for s in secrets)


def test_build_l2_headers_single_quote_body_refused() -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="'"):
        _headers(body="{\"owner\":\"o'brien\"}")


def test_verify_l2_headers_official_python_quote_quirk_accepted() -> None:
    # Arrange: py-clob-client signs body.replace("'", '"') but sends the original bytes
    body = "{\"note\":\"it's\"}"
    message = f"{NOW}POST/order" + body.replace("'", '"')
    import hashlib
    import hmac

    digest = hmac.new(CREDS.hmac_key, message.encode(), hashlib.sha256).digest()
    headers = _headers(body=None)
    headers["POLY_SIGNATURE"] = base64.urlsafe_b64encode(digest).decode()

    # Act / Assert
    assert _verify(headers, body=body).address == ADDRESS


def test_derive_api_credentials_deterministic_and_real_shaped() -> None:
    # Act
    again = l2auth.derive_api_credentials(SEED, ADDRESS.lower(), 0)

    # Assert
    assert again == CREDS
    assert CREDS != OTHER
    assert l2auth.derive_api_credentials(SEED + b"x", ADDRESS, 0) != CREDS
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        CREDS.api_key.reveal())
    assert len(CREDS.secret.reveal()) == 44 and len(CREDS.hmac_key) == 32
    assert re.fullmatch(r"[0-9a-f]{64}", CREDS.passphrase.reveal())


def test_derive_api_credentials_short_seed_rejected() -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="16 bytes"):
        l2auth.derive_api_credentials(b"short", ADDRESS, 0)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=200).filter(lambda s: "'" not in s),
       st.sampled_from(["GET", "POST", "DELETE"]),
       st.from_regex(r"/[a-z\-/]{0,30}", fullmatch=True))
def test_l2_headers_round_trip_any_body_property(body: str, method: str, path: str) -> None:
    # Arrange
    headers = l2auth.build_l2_headers(ADDRESS, CREDS, timestamp=NOW, method=method, path=path,
                                      body=body)

    # Act / Assert
    assert _verify(headers, body=body.encode(), path=path, method=method).address == ADDRESS
