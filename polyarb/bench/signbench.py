# Order signing cost: build + EIP-712 sign + POST /order body of one Polymarket V2 limit order,
# ours (polyarb.venues.polymarket) vs the official py-clob-client-v2 in the same process, for
# `polyarb bench sign` and bench/bench_sign.py.
#
# Rules:
# 1. Inputs cycle over tick sizes, sides, prices and sizes (so the amount math is exercised) with
#    salt and timestamp varied per order; the key is a well-known test key, never a real one.
# 2. The official client is the baseline only when it is importable; its absence is reported,
#    never an error.
# 3. Best of `repeats` passes (after a gc.collect each): the least disturbed pass on a shared
#    machine. Numbers are returned, never judged.
from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

TARGET_US = 150.0
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # a public test key
FUNDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OWNER = "0f2c5b0e-1111-4222-8333-444455556666"
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
INPUTS: list[tuple[Any, str, str, str]] = [
    ("BUY", "0.52", "100", "0.01"), ("SELL", "0.335", "37.5", "0.001"),
    ("BUY", "0.0725", "10", "0.0001"), ("SELL", "0.3475", "17.17", "0.0025"),
    ("BUY", "0.125", "99.99", "0.005"), ("SELL", "0.7", "1234.5", "0.1"),
]

Call = Callable[[int], object]


def time_per_call(fn: Call, n: int, repeats: int) -> float:
    """µs per call of fn(i) for i in range(n), best of `repeats` passes (rule 3)."""
    best = float("inf")
    for _ in range(max(repeats, 1)):
        gc.collect()
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / max(n, 1))
    return best * 1e6


def ours() -> tuple[Call, Call]:
    """Our (build + sign + body, sign only) calls."""
    from polyarb.venues.polymarket import signing as sg
    from polyarb.venues.polymarket.order_builder import OrderBuilder, order_body

    builder = OrderBuilder(sg.LocalSigner.from_hex(KEY), signature_type=2, funder=FUNDER)
    domain = builder.domain(False)
    template = builder.build_limit(TOKEN, "BUY", "0.52", "100", "0.01", neg_risk=False, salt=1,
                                   timestamp_ms=1).order

    def build_sign_body(i: int) -> str:
        side, price, size, tick = INPUTS[i % len(INPUTS)]
        signed = builder.build_limit(TOKEN, side, price, size, tick, neg_risk=bool(i & 1),
                                     salt=1000 + i, timestamp_ms=1761234567000 + i)
        return order_body(signed, OWNER, "GTC")

    def sign_only(_i: int) -> bytes:
        return builder.signer.sign_digest(sg.order_digest(template, domain))

    return build_sign_body, sign_only


def official() -> Call | None:
    """The official client's build + sign + body, or None when it is not installed (rule 2)."""
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


def run_sign(orders: int = 2000, repeats: int = 5) -> dict[str, Any]:
    """Measure ours and (when importable) the official client on the same inputs.

    Args:
        orders: orders per pass for ours; the slower official client gets a quarter (>= 50).
        repeats: passes; the best one counts (rule 3).

    Returns:
        orders, us_per_order (ours build+sign+body), sign_only_us, target_us, and
        official_us_per_order / ratio_official_vs_ours (None without the official client).
    """
    full, sign = ours()
    result: dict[str, Any] = {
        "orders": orders, "repeats": repeats, "target_us": TARGET_US,
        "us_per_order": round(time_per_call(full, orders, repeats), 2),
        "sign_only_us": round(time_per_call(sign, orders, repeats), 2),
        "official_us_per_order": None, "ratio_official_vs_ours": None,
    }
    theirs = official()
    if theirs is not None:
        t = time_per_call(theirs, max(orders // 4, 50), repeats)
        result["official_us_per_order"] = round(t, 2)
        result["ratio_official_vs_ours"] = round(t / result["us_per_order"], 2)
    return result


def render(r: dict[str, Any]) -> str:
    """The text report of run_sign's result, the target next to the measured value."""
    lines = [
        f"ours     build+sign+body : {r['us_per_order']:8.1f} µs/order  "
        f"(target <= {r['target_us']:.0f} µs)",
        f"ours     sign only       : {r['sign_only_us']:8.1f} µs/order",
    ]
    if r["official_us_per_order"] is None:
        lines.append("official py-clob-client-v2 not installed: no baseline")
    else:
        lines += [f"official build+sign+body : {r['official_us_per_order']:8.1f} µs/order",
                  f"ratio official / ours    : {r['ratio_official_vs_ours']:8.1f}x"]
    return "\n".join(lines)
