# Benchmark: build + sign one Polymarket V2 limit order and serialise its POST /order body,
# ours (polyarb.venues.polymarket) vs the official py-clob-client-v2, in the same process.
#
# Run: /tmp/venv/bin/python bench/bench_sign.py [--orders N] [--repeats R]
# Prints µs per order (best of R repeats) for: ours build+sign+body, ours sign only (digest +
# secp256k1), the official OrderBuilder.build_order + order_to_json_v2 + json.dumps, and the
# ratio official / ours. Target: ours <= 150 µs per order. Inputs cycle over tick sizes, sides,
# prices and sizes so amount math is exercised, with salts and timestamps varied per order.
from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from typing import Any

from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.order_builder import OrderBuilder, order_body

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OWNER = "0f2c5b0e-1111-4222-8333-444455556666"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
INPUTS: list[tuple[Any, str, str, str]] = [
    ("BUY", "0.52", "100", "0.01"), ("SELL", "0.335", "37.5", "0.001"),
    ("BUY", "0.0725", "10", "0.0001"), ("SELL", "0.3475", "17.17", "0.0025"),
    ("BUY", "0.125", "99.99", "0.005"), ("SELL", "0.7", "1234.5", "0.1"),
]


def _time_per_call(fn: Callable[[int], object], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def _ours() -> tuple[Callable[[int], object], Callable[[int], object]]:
    builder = OrderBuilder(sg.LocalSigner.from_hex(KEY), signature_type=2, funder=FUNDER)
    domain = builder.domain(False)
    template = builder.build_limit(TOKEN, "BUY", "0.52", "100", "0.01", neg_risk=False, salt=1,
                                   timestamp_ms=1).order

    def build_sign_body(i: int) -> str:
        side, price, size, tick = INPUTS[i % len(INPUTS)]
        signed = builder.build_limit(TOKEN, side, price, size, tick, neg_risk=bool(i & 1),
                                     salt=1000 + i, timestamp_ms=1761234567000 + i)
        return order_body(signed, OWNER, "GTC")

    def sign_only(i: int) -> bytes:
        return builder.signer.sign_digest(sg.order_digest(template, domain))

    return build_sign_body, sign_only


def _official() -> Callable[[int], object] | None:
    try:
        from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
        from py_clob_client_v2.order_builder.builder import OrderBuilder as Official
        from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
        from py_clob_client_v2.signer import Signer
    except ImportError:
        return None
    builder = Official(Signer(KEY, 137), signature_type=2, funder=FUNDER)

    def build_sign_body(i: int) -> str:
        side, price, size, tick = INPUTS[i % len(INPUTS)]
        args = OrderArgsV2(token_id=TOKEN, price=float(price), size=float(size), side=side)
        order = builder.build_order(args, CreateOrderOptions(tick_size=tick, neg_risk=bool(i & 1)))
        payload = order_to_json_v2(order, OWNER, "GTC")
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)

    return build_sign_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ours_full, ours_sign = _ours()
    full = _time_per_call(ours_full, args.orders, args.repeats)
    sign = _time_per_call(ours_sign, args.orders, args.repeats)
    print(f"ours     build+sign+body : {full:8.1f} µs/order  (target <= 150: "
          f"{'OK' if full <= 150 else 'MISSED'})")
    print(f"ours     sign only       : {sign:8.1f} µs/order")
    official = _official()
    if official is None:
        print("official py-clob-client-v2 not installed: no baseline")
        return
    theirs = _time_per_call(official, max(args.orders // 4, 50), args.repeats)
    print(f"official build+sign+body : {theirs:8.1f} µs/order")
    print(f"ratio official / ours    : {theirs / full:8.1f}x")


if __name__ == "__main__":
    main()
