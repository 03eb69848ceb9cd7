# Signed V2 orders and the exact JSON bodies of POST /order and POST /orders.
#
# Rules:
# 1. Pure: salt and timestamp_ms are arguments (the shell owns clock and randomness). Salt is
#    at most 2**53 - 1 because the backend parses it as an IEEE-754 double.
# 2. Bodies are byte-identical to py-clob-client-v2's `json.dumps(payload, separators=(",",
#    ":"), ensure_ascii=False)`: same key order, numeric salt and signatureType, string
#    amounts/tokenId/expiration/timestamp, side "BUY"/"SELL". They are formatted directly (no
#    dict, no JSON encoder) because every field is validated to need no escaping; only the
#    owner string goes through json.dumps.
# 3. maker/signer follow the signature type: EOA maker = signer = key address; POLY_PROXY and
#    POLY_GNOSIS_SAFE maker = funder, signer = key address. Addresses are EIP-55 checksummed.
# 4. Order-type rules the venue enforces are checked before a body exists: postOnly only with
#    GTC/GTD, a non-zero expiration only (and always) with GTD, at most 15 orders per batch.
# 5. `parse_wire_order` is the inverse for the simulator: it parses the wire order object
#    strictly and reports the first bad field by name.
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec

from polyarb.venues.polymarket import amounts as am
from polyarb.venues.polymarket import contracts as c
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.credentials import PolymarketCredentials
from polyarb.venues.polymarket.signing import LocalSigner, OrderV2

OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
ORDER_TYPES: Final = ("GTC", "GTD", "FOK", "FAK")
MAX_SALT: Final = 2**53 - 1
MAX_BATCH: Final = 15
_MAX_UINT256: Final = 2**256 - 1


class OrderFormatError(ValueError):
    """An order field or body option is invalid; the message names the field."""


class SignedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A V2 order with its 65-byte signature (0x hex) and EIP-712 digest (the order hash)."""

    order: OrderV2
    signature: str
    order_hash: str


def _is_digits(text: object) -> bool:
    return isinstance(text, str) and text.isascii() and text.isdigit()


def _check_uint(name: str, value: object, limit: int = _MAX_UINT256) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise OrderFormatError(f"{name} must be an integer in 0..{limit}")
    return value


def _check_token_id(token_id: object, name: str = "token_id") -> str:
    canonical = _is_digits(token_id) and (token_id == "0" or not str(token_id).startswith("0"))
    if not canonical or int(str(token_id)) > _MAX_UINT256:
        raise OrderFormatError(f"{name} must be a canonical decimal uint256 string")
    return str(token_id)


def _check_bytes32(name: str, value: object) -> str:
    if not (isinstance(value, str) and len(value) == 66 and value[:2] == "0x"
            and c.is_hex(value[2:])):
        raise OrderFormatError(f"{name} must be 0x + 64 hex digits")
    return value


def _maker_for(signer: LocalSigner, signature_type: int, funder: str | None) -> str:
    if signature_type not in c.SIGNATURE_TYPES:
        raise OrderFormatError("signature type must be 0 (EOA), 1 or 2; POLY_1271 is unsupported")
    maker = signer.address if funder is None else c.to_checksum_address(funder)
    if signature_type == c.EOA and maker != signer.address:
        raise OrderFormatError("EOA orders need funder == the key's address (or no funder)")
    if signature_type != c.EOA and maker == signer.address:
        raise OrderFormatError("proxy/Safe orders need the proxy/Safe address as funder")
    return maker


class OrderBuilder:
    """Builds and signs V2 orders for one key, funder and signature type."""

    __slots__ = ("_domains", "chain_id", "maker", "signature_type", "signer")

    def __init__(
        self,
        signer: LocalSigner,
        *,
        chain_id: int = c.POLYGON,
        signature_type: int = c.EOA,
        funder: str | None = None,
    ) -> None:
        self.signer = signer
        self.chain_id = chain_id
        self.signature_type = signature_type
        self.maker = _maker_for(signer, signature_type, funder)
        self._domains = (sg.order_domain(chain_id, False), sg.order_domain(chain_id, True))

    @classmethod
    def from_credentials(
        cls, creds: PolymarketCredentials, chain_id: int = c.POLYGON
    ) -> OrderBuilder:
        """Builder for loaded credentials (key, signature type, funder)."""
        return cls(creds.signer(), chain_id=chain_id, signature_type=creds.signature_type,
                   funder=creds.funder)

    def domain(self, neg_risk: bool) -> bytes:
        """Domain separator of the exchange that verifies orders of this kind."""
        return self._domains[1 if neg_risk else 0]

    def build(
        self,
        token_id: str,
        amounts: am.OrderAmounts,
        *,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        expiration: int = 0,
        metadata: str = c.BYTES32_ZERO,
        builder: str = c.BYTES32_ZERO,
    ) -> SignedOrder:
        """Build and sign an order from precomputed amounts (see amounts.py).

        Raises:
            OrderFormatError: a field outside its range or format.
        """
        if amounts.side not in (sg.BUY, sg.SELL):
            raise OrderFormatError("side must be BUY (0) or SELL (1)")
        if amounts.maker_amount <= 0 or amounts.taker_amount <= 0:
            raise OrderFormatError("maker and taker amounts must be positive")
        order = OrderV2(
            salt=_check_uint("salt", salt, MAX_SALT),
            maker=self.maker,
            signer=self.signer.address,
            token_id=_check_token_id(token_id),
            maker_amount=_check_uint("maker_amount", amounts.maker_amount),
            taker_amount=_check_uint("taker_amount", amounts.taker_amount),
            side=amounts.side,
            signature_type=self.signature_type,
            timestamp_ms=_check_uint("timestamp_ms", timestamp_ms),
            metadata=_check_bytes32("metadata", metadata),
            builder=_check_bytes32("builder", builder),
            expiration=_check_uint("expiration", expiration),
        )
        return self._sign(order, self.domain(neg_risk))

    def _sign(self, order: OrderV2, domain: bytes) -> SignedOrder:
        digest = sg.order_digest(order, domain)
        signature = "0x" + self.signer.sign_digest(digest).hex()
        return SignedOrder(order=order, signature=signature, order_hash="0x" + digest.hex())

    def build_limit(
        self,
        token_id: str,
        side: am.SideName,
        price: Decimal | str,
        size: Decimal | str,
        tick: str | Decimal | int,
        **fields: Any,
    ) -> SignedOrder:
        """Limit order from decimal price/size; `fields` as in build (neg_risk, salt, ...)."""
        return self.build(token_id, am.limit_amounts(side, price, size, tick), **fields)

    def build_market(
        self,
        token_id: str,
        side: am.SideName,
        amount: Decimal | str,
        price: Decimal | str,
        tick: str | Decimal | int,
        **fields: Any,
    ) -> SignedOrder:
        """Market order (BUY spends `amount` collateral, SELL sells `amount` shares)."""
        return self.build(token_id, am.market_amounts(side, amount, price, tick), **fields)

    def __repr__(self) -> str:
        kind = c.SIGNATURE_TYPE_NAMES[self.signature_type]
        return (f"OrderBuilder(signer={self.signer.address}, maker={self.maker}, "
                f"signature_type={kind}, chain_id={self.chain_id})")


def _check_options(order: OrderV2, order_type: str, post_only: bool) -> None:
    if order_type not in ORDER_TYPES:
        raise OrderFormatError(f"order_type must be one of {', '.join(ORDER_TYPES)}")
    if post_only and order_type not in ("GTC", "GTD"):
        raise OrderFormatError("postOnly is only allowed with GTC and GTD orders")
    if (order.expiration != 0) != (order_type == "GTD"):
        raise OrderFormatError("GTD orders need a non-zero expiration; other types need 0")


def order_body(
    signed: SignedOrder,
    owner: str,
    order_type: OrderType,
    *,
    post_only: bool = False,
    defer_exec: bool = False,
) -> str:
    """Exact JSON text of `POST /order` for one signed order.

    Args:
        signed: the signed order.
        owner: the API key of the L2 headers.
        order_type: GTC, GTD, FOK or FAK.
        post_only: rest only, never take (GTC/GTD only).
        defer_exec: V2 deferred execution flag (sent, meaning server-side unconfirmed).

    Raises:
        OrderFormatError: see module rule 4, or an empty owner.
    """
    if not isinstance(owner, str) or not owner:
        raise OrderFormatError("owner (the API key) must be a non-empty string")
    o = signed.order
    _check_options(o, order_type, post_only)
    return (
        f'{{"order":{{"salt":{o.salt},"maker":"{o.maker}","signer":"{o.signer}",'
        f'"tokenId":"{o.token_id}","makerAmount":"{o.maker_amount}",'
        f'"takerAmount":"{o.taker_amount}","side":"{sg.SIDE_NAMES[o.side]}",'
        f'"expiration":"{o.expiration}","signatureType":{o.signature_type},'
        f'"timestamp":"{o.timestamp_ms}","metadata":"{o.metadata}","builder":"{o.builder}",'
        f'"signature":"{signed.signature}"}},"owner":{json.dumps(owner, ensure_ascii=False)},'
        f'"orderType":"{order_type}","deferExec":{_bool(defer_exec)},'
        f'"postOnly":{_bool(post_only)}}}'
    )


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def orders_body(
    entries: Sequence[tuple[SignedOrder, OrderType]],
    owner: str,
    *,
    post_only: bool = False,
    defer_exec: bool = False,
) -> str:
    """Exact JSON text of `POST /orders`: an array of order bodies (1 to 15 entries).

    Like the official client, post_only and defer_exec apply to the whole batch.

    Raises:
        OrderFormatError: empty or oversized batch, or any per-order error of order_body.
    """
    if not 1 <= len(entries) <= MAX_BATCH:
        raise OrderFormatError(f"a batch holds 1 to {MAX_BATCH} orders, got {len(entries)}")
    parts = [order_body(s, owner, t, post_only=post_only, defer_exec=defer_exec)
             for s, t in entries]
    return "[" + ",".join(parts) + "]"


def _field(obj: Mapping[str, Any], name: str) -> Any:
    if name not in obj:
        raise OrderFormatError(f"order.{name} is missing")
    return obj[name]


def _digits(obj: Mapping[str, Any], name: str) -> int:
    value = _field(obj, name)
    if not _is_digits(value):
        raise OrderFormatError(f"order.{name} must be a string of decimal digits")
    return _check_uint(f"order.{name}", int(value))


def _address(obj: Mapping[str, Any], name: str) -> str:
    value = _field(obj, name)
    try:
        c.to_checksum_address(value)
    except (ValueError, TypeError):
        raise OrderFormatError(f"order.{name} must be a 0x address") from None
    return str(value)


def parse_wire_order(obj: Mapping[str, Any]) -> tuple[OrderV2, str]:
    """Parse the `order` object of a POST /order body into the order and its signature.

    This is the simulator's side of order_body. Addresses are kept as sent (case included);
    verify with signing.verify_order_signature and hash with signing.order_digest.

    Raises:
        OrderFormatError: the first missing or malformed field, by name.
    """
    salt = _field(obj, "salt")
    signature_type = _field(obj, "signatureType")
    for name, value in (("salt", salt), ("signatureType", signature_type)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise OrderFormatError(f"order.{name} must be a JSON integer")
    side = _field(obj, "side")
    if side not in ("BUY", "SELL"):
        raise OrderFormatError('order.side must be "BUY" or "SELL"')
    order = OrderV2(
        salt=_check_uint("order.salt", salt),
        maker=_address(obj, "maker"),
        signer=_address(obj, "signer"),
        token_id=_check_token_id(_field(obj, "tokenId"), "order.tokenId"),
        maker_amount=_digits(obj, "makerAmount"),
        taker_amount=_digits(obj, "takerAmount"),
        side=sg.BUY if side == "BUY" else sg.SELL,
        signature_type=_check_uint("order.signatureType", signature_type, 255),
        timestamp_ms=_digits(obj, "timestamp"),
        metadata=_check_bytes32("order.metadata", _field(obj, "metadata")),
        builder=_check_bytes32("order.builder", _field(obj, "builder")),
        expiration=_digits(obj, "expiration"),
    )
    signature = _field(obj, "signature")
    try:
        sg.signature_bytes(signature)
    except sg.SignatureError:
        raise OrderFormatError("order.signature must be 0x + 130 hex digits") from None
    return order, str(signature)
