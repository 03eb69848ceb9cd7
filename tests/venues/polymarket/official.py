# The official py-clob-client-v2, driven offline as an oracle for our signing code.
#
# Rules:
# 1. No network I/O, guaranteed rather than hoped for: the client's module-level HTTP helpers
#    (get/post/delete) are swapped for functions that raise, and the instance's `_post` is a
#    capture. A test that would reach the network fails loudly instead.
# 2. The official code paths run unmodified (ClobClient.create_order / create_market_order /
#    post_order / post_orders); only its clock and salt source are pinned, by swapping the
#    `time` module its order builder reads and wrapping ExchangeOrderBuilderV2 so it receives
#    a fixed salt generator. Tick size and neg-risk are passed as options and the tick cache is
#    pre-filled, so no market lookups happen.
# 3. Swaps are undone on exit (a plain context manager; no mocking library).
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import py_clob_client_v2.client as client_mod
import py_clob_client_v2.order_builder.builder as builder_mod
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    MarketOrderArgsV2,
    OrderArgsV2,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
)
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2

HOST = "http://127.0.0.1:9"  # never contacted; the HTTP helpers are disabled below


def _no_network(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("the official client tried to do network I/O")


@contextlib.contextmanager
def _swapped(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Disable every HTTP helper the official client module uses."""
    with contextlib.ExitStack() as stack:
        for name in ("get", "post", "delete"):
            stack.enter_context(_swapped(client_mod, name, _no_network))
        yield


@contextlib.contextmanager
def pinned(salt: int, timestamp_ms: int) -> Iterator[None]:
    """Make the official order builder use this salt and this millisecond timestamp."""
    fixed_clock = SimpleNamespace(time_ns=lambda: timestamp_ms * 1_000_000)

    class FixedSaltBuilder(ExchangeOrderBuilderV2):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["generate_salt"] = lambda: str(salt)
            super().__init__(*args, **kwargs)

    with _swapped(builder_mod, "time", fixed_clock), \
            _swapped(builder_mod, "ExchangeOrderBuilderV2", FixedSaltBuilder):
        yield


@dataclass
class Capture:
    """What post_order handed to the transport."""

    calls: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def __call__(self, endpoint: str, headers: Any = None, data: Any = None,
                 params: Any = None) -> dict[str, Any]:
        self.calls.append((endpoint, dict(headers or {}), data))
        return {}


def make_client(key: str, *, chain_id: int, signature_type: int, funder: str | None,
                api: tuple[str, str, str], l2_timestamp: int) -> tuple[ClobClient, Capture]:
    """An official ClobClient with offline transport and a pinned L2 header clock."""
    client = ClobClient(HOST, chain_id, key=key, creds=ApiCreds(*api),
                        signature_type=signature_type, funder=funder)
    capture = Capture()
    client._post = capture  # instance attribute shadows the HTTP method
    client._get_timestamp = lambda: l2_timestamp
    return client, capture


def create_limit(client: ClobClient, *, token_id: str, side: str, price: float, size: float,
                 tick: str, neg_risk: bool, salt: int, timestamp_ms: int,
                 expiration: int = 0) -> Any:
    """SignedOrderV2 from the official create_order with fixed salt and timestamp."""
    client._ClobClient__tick_sizes[token_id] = tick
    options = PartialCreateOrderOptions(tick_size=tick, neg_risk=neg_risk, version=2)
    args = OrderArgsV2(token_id=token_id, price=price, size=size, side=side,
                       expiration=expiration)
    with offline(), pinned(salt, timestamp_ms):
        return client.create_order(args, options)


def create_market(client: ClobClient, *, token_id: str, side: str, amount: float, price: float,
                  tick: str, neg_risk: bool, salt: int, timestamp_ms: int) -> Any:
    """SignedOrderV2 from the official create_market_order (price given, no book walk)."""
    client._ClobClient__tick_sizes[token_id] = tick
    client._ClobClient__fee_infos[token_id] = object()  # marks market info as cached
    options = PartialCreateOrderOptions(tick_size=tick, neg_risk=neg_risk, version=2)
    args = MarketOrderArgsV2(token_id=token_id, amount=amount, side=side, price=price)
    with offline(), pinned(salt, timestamp_ms):
        return client.create_market_order(args, options)


def post(client: ClobClient, capture: Capture, order: Any, order_type: str,
         post_only: bool = False) -> tuple[dict[str, str], str]:
    """Headers and exact body the official post_order sends."""
    with offline():
        client.post_order(order, order_type, post_only)
    _endpoint, headers, body = capture.calls.pop()
    return headers, body


def post_batch(client: ClobClient, capture: Capture, entries: list[tuple[Any, str]],
               post_only: bool = False) -> tuple[dict[str, str], str]:
    """Headers and exact body the official post_orders sends."""
    args = [PostOrdersV2Args(order=o, orderType=t) for o, t in entries]
    with offline():
        client.post_orders(args, post_only)
    _endpoint, headers, body = capture.calls.pop()
    return headers, body


def l1_headers(client: ClobClient, *, nonce: int, timestamp: int) -> dict[str, str]:
    """The official L1 (ClobAuth) headers."""
    return dict(create_level_1_headers(client.signer, nonce=nonce, timestamp=timestamp))


def sign_amounts(key: str, *, chain_id: int, exchange: str, maker: str, signature_type: int,
                 token_id: str, side: int, maker_amount: int, taker_amount: int, salt: int,
                 timestamp_ms: int) -> str:
    """Official signature for explicit amounts (bypasses its float amount math)."""
    from py_clob_client_v2.order_utils import SignatureTypeV2
    from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2
    from py_clob_client_v2.order_utils.model.side import Side
    from py_clob_client_v2.signer import Signer

    signer = Signer(key, chain_id)
    builder = ExchangeOrderBuilderV2(exchange, chain_id, signer, generate_salt=lambda: str(salt))
    data = OrderDataV2(maker=maker, tokenId=token_id, makerAmount=str(maker_amount),
                       takerAmount=str(taker_amount), side=Side(side),
                       signer=signer.address(), signatureType=SignatureTypeV2(signature_type),
                       timestamp=str(timestamp_ms))
    return str(builder.build_signed_order(data).signature)


def body_json(body: str) -> Any:
    """Parsed body, for readable assertion diffs next to the byte comparison."""
    return json.loads(body)
