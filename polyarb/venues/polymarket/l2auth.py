# L2 authentication: HMAC-SHA256 POLY_* headers on every trading request, built by the live
# client and verified by the simulator; plus the simulator's deterministic API-key derivation.
#
# Rules (reference section 4.2):
# 1. message = timestamp (unix seconds) + METHOD + path + body, where path has no query string
#    and body is the exact string sent (nothing for a bodiless request). The key is the
#    URL-safe-base64-decoded secret; the signature is URL-safe base64 with `=` padding kept.
# 2. We sign exactly the bytes we send. The official Python client signs
#    `body.replace("'", '"')` instead, which differs only when the body holds a `'`: building
#    such a header is refused (our bodies never contain one), and verification accepts either
#    form so the official client's requests verify.
# 3. Pure: the clock arrives as `timestamp`/`now_s`; secrets arrive in ApiCredentials and are
#    compared in constant time; errors never contain a secret.
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from typing import NamedTuple

from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.signing import SignatureError, header, parse_timestamp

DEFAULT_MAX_SKEW_S = 30


def request_path(path: str) -> str:
    """The signed part of a request target: the path without query string or fragment."""
    return path.split("?", 1)[0].split("#", 1)[0]


def _body_bytes(body: str | bytes | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def hmac_signature(
    key: bytes, timestamp: int | str, method: str, path: str, body: str | bytes | None = None
) -> str:
    """URL-safe base64 HMAC-SHA256 of timestamp + METHOD + path(no query) + body.

    Args:
        key: decoded API secret (ApiCredentials.hmac_key).
        timestamp: unix seconds.
        method: HTTP method exactly as sent ("POST"); signed verbatim, as official clients do.
        path: request path; any query string is dropped.
        body: exact body bytes/string sent, or None.
    """
    message = f"{timestamp}{method}{request_path(path)}".encode() + _body_bytes(body)
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def build_l2_headers(
    address: str,
    api: ApiCredentials,
    *,
    timestamp: int,
    method: str,
    path: str,
    body: str | bytes | None = None,
) -> dict[str, str]:
    """The five POLY_* L2 headers of one request.

    Args:
        address: the signer EOA (not the funder); checksummed here.
        api: API key, secret and passphrase.
        timestamp: unix seconds (the caller owns the clock).
        method: HTTP method.
        path: request path (query dropped from the signed message).
        body: the exact body that will be sent, or None.

    Raises:
        ValueError: the body contains a single quote (see rule 2) or the address is malformed.
    """
    raw = _body_bytes(body)
    if b"'" in raw:
        raise ValueError("refusing to sign a body containing ' (official clients disagree on it)")
    return {
        c.POLY_ADDRESS: c.to_checksum_address(address),
        c.POLY_SIGNATURE: hmac_signature(api.hmac_key, timestamp, method, path, raw),
        c.POLY_TIMESTAMP: str(timestamp),
        c.POLY_API_KEY: api.api_key.reveal(),
        c.POLY_PASSPHRASE: api.passphrase.reveal(),
    }


class ApiKeyRecord(NamedTuple):
    """What a server knows about an API key: the address it belongs to and its credentials."""

    address: str
    credentials: ApiCredentials


def _required(headers: Mapping[str, str], name: str) -> str:
    value = header(headers, name)
    if value is None or not value:
        raise SignatureError("missing_header", name)
    return value


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verify_l2_headers(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: str | bytes | None,
    lookup: Callable[[str], ApiKeyRecord | None],
    now_s: int,
    max_skew_s: int = DEFAULT_MAX_SKEW_S,
) -> ApiKeyRecord:
    """Verify a request's L2 headers as the CLOB server does.

    Args:
        headers: request headers (names matched case-insensitively).
        method: HTTP method of the request.
        path: request target; the query string is ignored.
        body: the exact body bytes received, or None.
        lookup: api key -> its record, or None when unknown.
        now_s: server clock, unix seconds.
        max_skew_s: accepted |now - POLY_TIMESTAMP|.

    Returns:
        The record of the authenticated API key.

    Raises:
        SignatureError: with reason missing_header, unknown_api_key, bad_passphrase,
            address_mismatch, bad_timestamp, stale_timestamp or bad_signature.
    """
    api_key = _required(headers, c.POLY_API_KEY)
    record = lookup(api_key)
    if record is None:
        raise SignatureError("unknown_api_key", "no such API key")
    if not _equal(_required(headers, c.POLY_PASSPHRASE), record.credentials.passphrase.reveal()):
        raise SignatureError("bad_passphrase", "passphrase does not match the API key")
    address = _required(headers, c.POLY_ADDRESS)
    if address.lower() != record.address.lower():
        raise SignatureError("address_mismatch", "POLY_ADDRESS is not the API key's address")
    ts_text = _required(headers, c.POLY_TIMESTAMP)
    parse_timestamp(ts_text, now_s=now_s, max_skew_s=max_skew_s)
    given = _required(headers, c.POLY_SIGNATURE)
    raw = _body_bytes(body)
    key = record.credentials.hmac_key
    candidates = [raw] if b"'" not in raw else [raw, raw.replace(b"'", b'"')]
    if any(_equal(given, hmac_signature(key, ts_text, method, path, b)) for b in candidates):
        return record
    raise SignatureError("bad_signature", "HMAC does not match the request")


_DERIVE_DOMAIN = b"polyarb-sim/api-key/v1\x00"


def derive_api_credentials(server_seed: bytes, address: str, nonce: int = 0) -> ApiCredentials:
    """Deterministic API credentials for (address, nonce) under a simulator's secret seed.

    The real CLOB also derives keys deterministically (GET /auth/derive-api-key returns the
    same key for the same address and nonce); its function is private, so the simulator uses
    its own: base = HMAC-SHA256(seed, domain || checksummed address || 0x00 || nonce), then
    api key = a version-4 UUID from HMAC(base, "api-key")[:16], secret = URL-safe base64 of
    HMAC(base, "secret") (44 characters with padding, like real secrets), passphrase = hex of
    HMAC(base, "passphrase") (64 characters).

    Args:
        server_seed: at least 16 secret bytes owned by the simulator.
        address: wallet address (any case).
        nonce: API-key nonce (non-negative).

    Raises:
        ValueError: short seed, negative nonce or malformed address.
    """
    if len(server_seed) < 16:
        raise ValueError("server seed must be at least 16 bytes")
    if nonce < 0:
        raise ValueError("nonce must be non-negative")
    info = _DERIVE_DOMAIN + c.to_checksum_address(address).encode() + b"\x00" + str(nonce).encode()
    base = hmac.new(server_seed, info, hashlib.sha256).digest()

    def part(label: bytes) -> bytes:
        return hmac.new(base, label, hashlib.sha256).digest()

    api_key = str(uuid.UUID(bytes=part(b"api-key")[:16], version=4))
    secret = base64.urlsafe_b64encode(part(b"secret")).decode("ascii")
    return ApiCredentials.of(api_key, secret, part(b"passphrase").hex())
