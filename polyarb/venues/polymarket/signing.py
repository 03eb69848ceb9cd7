# EIP-712 signing for Polymarket: the V2 order struct (hash, sign, recover, verify) and the L1
# ClobAuth message behind API-key creation (build and verify the POLY_* L1 headers).
#
# Rules:
# 1. Pure and deterministic: no clock, no randomness, no environment. Salts and timestamps are
#    arguments; secp256k1 signatures use RFC 6979 nonces (libsecp256k1 via coincurve), so the
#    same key and digest always give the same 65 bytes, byte-identical to eth-account's.
# 2. A private key never appears in a repr, str, or exception message. Key parsing reports what
#    is wrong (length, characters, range) without echoing any of the key; it validates before
#    converting, so no library exception (which could quote the key) is ever raised or chained.
# 3. Verification mirrors the exchange contract: signatures must be 65 bytes with v in {27, 28}
#    and a low s; the recovered address must equal `signer`; EOA orders need maker == signer;
#    proxy and Safe orders need maker (the funder) != signer.
# 4. Struct layout is protocol: field order of ORDER_TYPE is part of every digest (reference
#    section 5.2). Constant parts (type hashes, domain separators) are computed once.
from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import coincurve
import msgspec

from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket.contracts import keccak256

BUY: Final = 0
SELL: Final = 1
SIDE_NAMES: Final = {BUY: "BUY", SELL: "SELL"}

ORDER_TYPE: Final = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,"
    "bytes32 builder)"
)
CLOB_AUTH_TYPE: Final = "ClobAuth(address address,string timestamp,uint256 nonce,string message)"
ORDER_TYPEHASH: Final = keccak256(ORDER_TYPE.encode())
CLOB_AUTH_TYPEHASH: Final = keccak256(CLOB_AUTH_TYPE.encode())
_CLOB_AUTH_MESSAGE_HASH: Final = keccak256(c.CLOB_AUTH_MESSAGE.encode())

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_PAD12: Final = bytes(12)


class KeyFormatError(ValueError):
    """A private key is malformed. The message never contains the key or any part of it."""


class SignatureError(ValueError):
    """A signature is malformed or does not match; `reason` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class OrderV2(msgspec.Struct, frozen=True, kw_only=True):
    """The V2 order as signed, plus the unsigned `expiration` the JSON body carries.

    Amounts are 6-decimal base units; `side` is BUY (0) or SELL (1); `token_id` is the decimal
    token id string sent verbatim; `metadata` and `builder` are 0x + 64 hex digits.
    """

    salt: int
    maker: str
    signer: str
    token_id: str
    maker_amount: int
    taker_amount: int
    side: int
    signature_type: int
    timestamp_ms: int
    metadata: str = c.BYTES32_ZERO
    builder: str = c.BYTES32_ZERO
    expiration: int = 0  # GTD expiry in unix seconds; NOT part of the signed struct


def parse_private_key(text: str) -> bytes:
    """Parse a hex private key (`0x` optional) into 32 bytes without ever echoing it.

    Raises:
        KeyFormatError: wrong type, length, characters, or outside 1..n-1 of secp256k1.
    """
    if not isinstance(text, str):
        raise KeyFormatError(f"private key must be a hex string, got {type(text).__name__}")
    body = text.strip()
    if body[:2] in ("0x", "0X"):
        body = body[2:]
    if len(body) != 64:
        raise KeyFormatError(f"private key must be 64 hex digits (32 bytes), got {len(body)}")
    if not c.is_hex(body):
        raise KeyFormatError("private key contains non-hex characters")
    if not 0 < int(body, 16) < SECP256K1_N:
        raise KeyFormatError("private key is outside the secp256k1 range 1..n-1")
    return bytes.fromhex(body)


def _address_of_public_key(public_key: coincurve.PublicKey) -> str:
    return c.address_from_bytes(keccak256(public_key.format(compressed=False)[1:])[12:])


class LocalSigner:
    """A secp256k1 key that signs digests. Its repr shows the address only."""

    __slots__ = ("_address", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != 32:
            raise KeyFormatError("private key must be 32 bytes")
        if not 0 < int.from_bytes(key, "big") < SECP256K1_N:
            raise KeyFormatError("private key is outside the secp256k1 range 1..n-1")
        self._key = coincurve.PrivateKey(bytes(key))
        self._address = _address_of_public_key(self._key.public_key)

    @classmethod
    def from_hex(cls, text: str) -> LocalSigner:
        """Signer for a hex private key (see parse_private_key)."""
        return cls(parse_private_key(text))

    @property
    def address(self) -> str:
        """The checksummed EOA address of this key."""
        return self._address

    def sign_digest(self, digest: bytes) -> bytes:
        """65-byte `r || s || v` signature of a 32-byte digest, v in {27, 28}, low s."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes((raw[64] + 27,))

    def __repr__(self) -> str:
        return f"LocalSigner(address={self._address}, key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("LocalSigner holds a private key and cannot be pickled")


def signature_bytes(signature: str | bytes) -> bytes:
    """Parse a 65-byte signature given as 0x-hex or bytes.

    Raises:
        SignatureError: `malformed_signature` when not 65 bytes of hex.
    """
    if isinstance(signature, bytes):
        raw = signature
    elif isinstance(signature, str) and signature[:2] == "0x" and c.is_hex(signature[2:]):
        raw = bytes.fromhex(signature[2:]) if len(signature) % 2 == 0 else b""
    else:
        raise SignatureError("malformed_signature", "signature must be 0x-prefixed hex")
    if len(raw) != 65:
        raise SignatureError("malformed_signature", f"signature must be 65 bytes, got {len(raw)}")
    return raw


def recover_address(digest: bytes, signature: str | bytes) -> str:
    """Recover the signer address of a digest, with the checks Ethereum contracts apply.

    Raises:
        SignatureError: malformed signature, v not 27/28, high s, or no recoverable key.
    """
    raw = signature_bytes(signature)
    v = raw[64]
    if v not in (27, 28):
        raise SignatureError("malformed_signature", f"v must be 27 or 28, got {v}")
    s = int.from_bytes(raw[32:64], "big")
    if not 0 < s <= SECP256K1_N // 2:
        raise SignatureError("malformed_signature", "s must be in the lower half of the curve")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except (ValueError, TypeError) as exc:
        raise SignatureError("bad_signature", f"no public key recovers: {exc}") from None
    return _address_of_public_key(public_key)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def order_struct_hash(order: OrderV2) -> bytes:
    """EIP-712 hashStruct of the order (field order is protocol)."""
    return keccak256(
        b"".join(
            (
                ORDER_TYPEHASH,
                _word(order.salt),
                _PAD12 + c.address_bytes(order.maker),
                _PAD12 + c.address_bytes(order.signer),
                _word(int(order.token_id)),
                _word(order.maker_amount),
                _word(order.taker_amount),
                _word(order.side),
                _word(order.signature_type),
                _word(order.timestamp_ms),
                bytes.fromhex(order.metadata[2:]),
                bytes.fromhex(order.builder[2:]),
            )
        )
    )


def order_digest(order: OrderV2, domain_separator: bytes) -> bytes:
    """EIP-712 digest (`0x1901 || domain || hashStruct`): what is signed and the order hash."""
    return keccak256(b"\x19\x01" + domain_separator + order_struct_hash(order))


def order_domain(chain_id: int, neg_risk: bool) -> bytes:
    """Domain separator of the V2 exchange (standard or neg-risk) on `chain_id`."""
    return c.order_domain_separator(chain_id, c.exchange_address(chain_id, neg_risk))


def check_maker_signer(order: OrderV2) -> None:
    """Check the maker/signer rule of the order's signature type.

    Raises:
        SignatureError: `unsupported_signature_type`, `maker_not_signer` (EOA orders must have
            maker == signer) or `maker_is_signer` (proxy/Safe orders have maker = funder).
    """
    kind = order.signature_type
    if kind not in c.SIGNATURE_TYPES:
        raise SignatureError("unsupported_signature_type", f"signature type {kind}")
    same = c.same_address(order.maker, order.signer)
    if kind == c.EOA and not same:
        raise SignatureError("maker_not_signer", "EOA orders need maker == signer")
    if kind != c.EOA and same:
        name = c.SIGNATURE_TYPE_NAMES[kind]
        raise SignatureError("maker_is_signer", f"{name} orders need maker = funder != signer")


def verify_order_signature(order: OrderV2, signature: str | bytes, domain_separator: bytes) -> str:
    """Verify a signed order as the exchange would and return the recovered signer.

    Args:
        order: the order as received.
        signature: its 65-byte signature.
        domain_separator: of the exchange the order was sent to (see order_domain).

    Returns:
        The checksummed address that signed the order (equal to `order.signer`).

    Raises:
        SignatureError: see recover_address and check_maker_signer; `signer_mismatch` when
            the signature was made by a key other than `order.signer`.
    """
    check_maker_signer(order)
    recovered = recover_address(order_digest(order, domain_separator), signature)
    if recovered != c.to_checksum_address(order.signer):
        raise SignatureError("signer_mismatch", f"signed by {recovered}, not {order.signer}")
    return recovered


def clob_auth_digest(address: str, timestamp: int | str, nonce: int, chain_id: int) -> bytes:
    """EIP-712 digest of the ClobAuth message (L1 auth); timestamp is unix seconds."""
    struct_hash = keccak256(
        CLOB_AUTH_TYPEHASH
        + _PAD12
        + c.address_bytes(address)
        + keccak256(str(timestamp).encode())
        + _word(nonce)
        + _CLOB_AUTH_MESSAGE_HASH
    )
    return keccak256(b"\x19\x01" + c.clob_auth_domain_separator(chain_id) + struct_hash)


def build_l1_headers(
    signer: LocalSigner, *, chain_id: int, timestamp: int, nonce: int = 0
) -> dict[str, str]:
    """POLY_* headers proving control of `signer` (for create/derive API key).

    Args:
        signer: the EOA key.
        chain_id: 137 on Polygon mainnet.
        timestamp: unix seconds (the caller owns the clock).
        nonce: API-key nonce, 0 by default.
    """
    digest = clob_auth_digest(signer.address, timestamp, nonce, chain_id)
    return {
        c.POLY_ADDRESS: signer.address,
        c.POLY_SIGNATURE: "0x" + signer.sign_digest(digest).hex(),
        c.POLY_TIMESTAMP: str(timestamp),
        c.POLY_NONCE: str(nonce),
    }


class L1Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who proved control of a wallet with L1 headers, and with which nonce."""

    address: str
    nonce: int
    timestamp: int


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def parse_timestamp(text: str | None, *, now_s: int, max_skew_s: int) -> int:
    """Parse a POLY_TIMESTAMP (unix seconds) and check it is within `max_skew_s` of now.

    Raises:
        SignatureError: `missing_header`, `bad_timestamp` or `stale_timestamp`.
    """
    if text is None:
        raise SignatureError("missing_header", c.POLY_TIMESTAMP)
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise SignatureError("bad_timestamp", "POLY_TIMESTAMP must be unix seconds")
    ts = int(text)
    if abs(now_s - ts) > max_skew_s:
        raise SignatureError("stale_timestamp", f"timestamp {ts} is {now_s - ts} s from now")
    return ts


def verify_l1_headers(
    headers: Mapping[str, str], *, chain_id: int, now_s: int, max_skew_s: int = 300
) -> L1Identity:
    """Verify L1 (ClobAuth) headers the way the CLOB server does for /auth endpoints.

    Raises:
        SignatureError: missing/malformed header, stale timestamp, or a signature that does not
            recover to POLY_ADDRESS.
    """
    values = {n: header(headers, n) for n in (c.POLY_ADDRESS, c.POLY_SIGNATURE, c.POLY_NONCE)}
    for name in (c.POLY_ADDRESS, c.POLY_SIGNATURE):
        if values[name] is None:
            raise SignatureError("missing_header", name)
    ts_text = header(headers, c.POLY_TIMESTAMP)
    timestamp = parse_timestamp(ts_text, now_s=now_s, max_skew_s=max_skew_s)
    nonce_text = values[c.POLY_NONCE] or "0"
    if not (nonce_text.isascii() and nonce_text.isdigit()) or int(nonce_text) >= 2**256:
        raise SignatureError("bad_nonce", "POLY_NONCE must be an integer in 0..2**256-1")
    try:
        address = c.to_checksum_address(str(values[c.POLY_ADDRESS]))
    except ValueError as exc:
        raise SignatureError("bad_address", str(exc)) from None
    nonce = int(nonce_text)
    digest = clob_auth_digest(address, str(ts_text), nonce, chain_id)
    recovered = recover_address(digest, str(values[c.POLY_SIGNATURE]))
    if recovered != address:
        raise SignatureError("signer_mismatch", f"signed by {recovered}, not {address}")
    return L1Identity(address=address, nonce=nonce, timestamp=timestamp)
