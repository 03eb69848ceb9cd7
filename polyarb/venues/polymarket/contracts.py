# Polymarket constants (chains, contract addresses, EIP-712 domains, header names) and the
# address/hash primitives every signing module shares.
#
# Rules:
# 1. Pure: no clock, no randomness, no environment, no I/O. Values come from
#    ../shared/reference/polymarket-protocol.md sections 4 and 5 and are pinned by tests.
# 2. Addresses leave this module EIP-55 checksummed. Input may be all lower or all upper case
#    hex; mixed case must carry a valid checksum (a wrong one is almost always a typo).
# 3. Domain separators are computed once per (chain, contract, version) and cached: they are
#    the constant half of every order digest.
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from Crypto.Hash import keccak as _keccak_mod

POLYGON = 137
AMOY = 80002

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BYTES32_ZERO = "0x" + "00" * 32

ORDER_DOMAIN_NAME = "Polymarket CTF Exchange"
ORDER_DOMAIN_VERSION = "2"
CLOB_AUTH_DOMAIN_NAME = "ClobAuthDomain"
CLOB_AUTH_DOMAIN_VERSION = "1"
CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"

# HTTP header names of L1 (ClobAuth) and L2 (HMAC) authentication, exactly as the venue spells them.
POLY_ADDRESS = "POLY_ADDRESS"
POLY_SIGNATURE = "POLY_SIGNATURE"
POLY_TIMESTAMP = "POLY_TIMESTAMP"
POLY_NONCE = "POLY_NONCE"
POLY_API_KEY = "POLY_API_KEY"
POLY_PASSPHRASE = "POLY_PASSPHRASE"

# Signature types of the V2 order struct (POLY_1271 deposit wallets are not supported here).
EOA = 0
POLY_PROXY = 1
POLY_GNOSIS_SAFE = 2
SIGNATURE_TYPES = (EOA, POLY_PROXY, POLY_GNOSIS_SAFE)
SIGNATURE_TYPE_NAMES = {EOA: "EOA", POLY_PROXY: "POLY_PROXY", POLY_GNOSIS_SAFE: "POLY_GNOSIS_SAFE"}


@dataclass(frozen=True, slots=True)
class ChainContracts:
    """Contract addresses of one chain (checksummed)."""

    chain_id: int
    exchange_v2: str
    neg_risk_exchange_v2: str
    neg_risk_adapter: str
    collateral: str
    conditional_tokens: str


CONTRACTS: dict[int, ChainContracts] = {
    POLYGON: ChainContracts(
        chain_id=POLYGON,
        exchange_v2="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange_v2="0xe2222d279d744050d28e00520010520000310F59",
        neg_risk_adapter="0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296",
        collateral="0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB",
        conditional_tokens="0x4D97DCd97eC945f40cF65F87097ACe5EA0476045",
    ),
    # Amoy testnet: the official SDK config reuses the mainnet V2 exchange addresses.
    AMOY: ChainContracts(
        chain_id=AMOY,
        exchange_v2="0xE111180000d2663C0091e4f400237545B87B996B",
        neg_risk_exchange_v2="0xe2222d279d744050d28e00520010520000310F59",
        neg_risk_adapter="0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296",
        collateral="0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB",
        conditional_tokens="0x69308FB512518e39F9b16112fA8d994F4e2Bf8bB",
    ),
}

_HEX = re.compile(r"[0-9a-fA-F]+")


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's hash, not NIST SHA3-256) of `data`."""
    return _keccak_mod.new(data=data, digest_bits=256).digest()


def is_hex(text: str) -> bool:
    """True when `text` is non-empty and made only of hex digits (no 0x prefix)."""
    return _HEX.fullmatch(text) is not None


def _checksum_of_lower(lower_hex: str) -> str:
    digest = keccak256(lower_hex.encode("ascii")).hex()[:40]
    chars = (c.upper() if d in "89abcdef" else c for c, d in zip(lower_hex, digest, strict=True))
    return "0x" + "".join(chars)


@lru_cache(maxsize=4096)
def to_checksum_address(address: str) -> str:
    """Validate a 20-byte hex address and return its EIP-55 checksummed form.

    Args:
        address: `0x` + 40 hex digits, all lower, all upper, or correctly checksummed.

    Returns:
        The checksummed address.

    Raises:
        ValueError: not a 20-byte hex address, or mixed case with a wrong checksum.
    """
    if not isinstance(address, str) or len(address) != 42 or address[:2] not in ("0x", "0X"):
        raise ValueError(f"not an address (want 0x + 40 hex digits): {address!r}")
    body = address[2:]
    if not is_hex(body):
        raise ValueError(f"address has non-hex characters: {address!r}")
    checksummed = _checksum_of_lower(body.lower())
    mixed = body != body.lower() and body != body.upper()
    if mixed and checksummed[2:] != body:
        raise ValueError(f"address has a wrong EIP-55 checksum (typo?): {address!r}")
    return checksummed


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a (validated) address."""
    return bytes.fromhex(to_checksum_address(address)[2:])


def address_from_bytes(raw: bytes) -> str:
    """Checksummed address of 20 raw bytes."""
    return _checksum_of_lower(raw.hex())


def same_address(a: str, b: str) -> bool:
    """Case-insensitive address equality (both must be valid addresses)."""
    return to_checksum_address(a) == to_checksum_address(b)


def exchange_address(chain_id: int, neg_risk: bool) -> str:
    """The V2 exchange that verifies an order: the neg-risk exchange for neg-risk markets.

    Raises:
        ValueError: unknown chain id.
    """
    contracts = CONTRACTS.get(chain_id)
    if contracts is None:
        raise ValueError(f"unknown chain id {chain_id} (known: {sorted(CONTRACTS)})")
    return contracts.neg_risk_exchange_v2 if neg_risk else contracts.exchange_v2


_DOMAIN_TYPEHASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_CLOB_AUTH_DOMAIN_TYPEHASH = keccak256(b"EIP712Domain(string name,string version,uint256 chainId)")


@lru_cache(maxsize=64)
def order_domain_separator(
    chain_id: int, verifying_contract: str, version: str = ORDER_DOMAIN_VERSION
) -> bytes:
    """EIP-712 domain separator of the CTF exchange `verifying_contract` on `chain_id`."""
    return keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(ORDER_DOMAIN_NAME.encode())
        + keccak256(version.encode())
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + address_bytes(verifying_contract)
    )


@lru_cache(maxsize=16)
def clob_auth_domain_separator(chain_id: int) -> bytes:
    """EIP-712 domain separator of ClobAuth (name, version, chainId; no contract, no salt)."""
    return keccak256(
        _CLOB_AUTH_DOMAIN_TYPEHASH
        + keccak256(CLOB_AUTH_DOMAIN_NAME.encode())
        + keccak256(CLOB_AUTH_DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
    )
