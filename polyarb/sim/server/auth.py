# Authentication as the CLOB does it: L1 ClobAuth headers for API-key creation/derivation, L2
# HMAC headers on every trading route, and the raw-credential frame of the user websocket.
#
# Rules:
# 1. The crypto lives in polyarb/venues/polymarket (signing.verify_l1_headers,
#    l2auth.verify_l2_headers, l2auth.derive_api_credentials); this module only keeps the key
#    registry and maps every failure to the venue's answer: 401 `Invalid L1 Request headers`
#    for L1, 401 `Unauthorized/Invalid api key` for L2 (whatever the cause: missing header,
#    unknown key, wrong passphrase, stale timestamp, bad HMAC), 400 `Could not create api key`
#    when (address, nonce) has a key already. The precise cause goes in ApiError.reason.
# 2. Keys are deterministic per (address, nonce) under the server seed, as on the venue: the
#    same wallet gets the same credentials after a restart with the same seed.
# 3. Secrets are compared in constant time and never logged or put in an error.
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from polyarb.sim.server.http import ApiError
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.l2auth import (
    ApiKeyRecord,
    derive_api_credentials,
    verify_l2_headers,
)
from polyarb.venues.polymarket.signing import L1Identity, SignatureError, verify_l1_headers

L1_ERROR = "Invalid L1 Request headers"
L2_ERROR = "Unauthorized/Invalid api key"
CREATE_KEY_ERROR = "Could not create api key"


def server_secret(seed: str) -> bytes:
    """The 32-byte secret behind API-key derivation, from the server seed."""
    return hashlib.sha256(b"polyarb-sim-server:" + seed.encode()).digest()


class KeyStore:
    """API keys by key and by (address, nonce)."""

    def __init__(self, seed: str) -> None:
        self._secret = server_secret(seed)
        self.by_key: dict[str, ApiKeyRecord] = {}
        self._by_identity: dict[tuple[str, int], str] = {}

    def derive(self, address: str, nonce: int) -> ApiCredentials:
        """The deterministic credentials of (address, nonce), registering them if new."""
        address = c.to_checksum_address(address)
        creds = derive_api_credentials(self._secret, address, nonce)
        key = creds.api_key.reveal()
        if key not in self.by_key:
            self.by_key[key] = ApiKeyRecord(address=address, credentials=creds)
            self._by_identity[(address, nonce)] = key
        return creds

    def exists(self, address: str, nonce: int) -> bool:
        """Whether (address, nonce) has a registered key."""
        return (c.to_checksum_address(address), nonce) in self._by_identity

    def lookup(self, api_key: str) -> ApiKeyRecord | None:
        """The record of a registered key, None when unknown."""
        return self.by_key.get(api_key)

    def delete(self, api_key: str) -> None:
        """Forget a key (DELETE /auth/api-key); creating it again gives the same key."""
        record = self.by_key.pop(api_key, None)
        if record is not None:
            for identity, key in list(self._by_identity.items()):
                if key == api_key:
                    del self._by_identity[identity]

    def keys_of(self, address: str) -> list[str]:
        """Every registered key of an address, in creation order."""
        want = address.lower()
        return [k for k, r in self.by_key.items() if r.address.lower() == want]

    def check_raw(self, api_key: object, secret: object, passphrase: object) -> bool:
        """The user channel's auth: the three raw credentials must match a registered key."""
        if not all(isinstance(v, str) for v in (api_key, secret, passphrase)):
            return False
        record = self.by_key.get(str(api_key))
        if record is None:
            return False
        creds = record.credentials
        return _equal(str(secret), creds.secret.reveal()) & _equal(
            str(passphrase), creds.passphrase.reveal())


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def check_l1(headers: Mapping[str, str], *, chain_id: int, now_s: int,
             max_skew_s: int) -> L1Identity:
    """Verify L1 headers.

    Raises:
        ApiError: 401 Invalid L1 Request headers (reason = the signing module's reason).
    """
    try:
        return verify_l1_headers(headers, chain_id=chain_id, now_s=now_s, max_skew_s=max_skew_s)
    except SignatureError as exc:
        raise ApiError(401, L1_ERROR, exc.reason) from None


def check_l2(headers: Mapping[str, str], *, method: str, path: str, body: bytes,
             keys: KeyStore, now_s: int, max_skew_s: int) -> tuple[str, ApiKeyRecord]:
    """Verify L2 headers; returns (api key, its record).

    Raises:
        ApiError: 401 Unauthorized/Invalid api key (reason = why, for the sim's header).
    """
    try:
        record = verify_l2_headers(headers, method=method, path=path, body=body or None,
                                   lookup=keys.lookup, now_s=now_s, max_skew_s=max_skew_s)
    except SignatureError as exc:
        raise ApiError(401, L2_ERROR, exc.reason) from None
    return record.credentials.api_key.reveal(), record
