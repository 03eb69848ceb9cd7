# Benchmark: build + sign one Polymarket V2 limit order and serialise its POST /order body,
# ours (polyarb.venues.polymarket) vs the official py-clob-client-v2, in the same process.
#
# Run: /tmp/venv/bin/python bench/bench_sign.py [--orders N] [--repeats R]
# (the same measurement as `polyarb bench sign`; the logic lives in polyarb/bench/signbench.py)
# Prints µs per order (best of R repeats) for: ours build+sign+body, ours sign only (digest +
# secp256k1), the official OrderBuilder.build_order + order_to_json_v2 + json.dumps, and the
# ratio official / ours. Target: ours <= 150 µs per order. Inputs cycle over tick sizes, sides,
# prices and sizes so amount math is exercised, with salts and timestamps varied per order.
from __future__ import annotations

import argparse

from polyarb.bench.signbench import render, run_sign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(render(run_sign(args.orders, args.repeats)))


if __name__ == "__main__":
    main()
