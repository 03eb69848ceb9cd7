# Benchmark: polyarb's pipeline against NautilusTrader's Polymarket decode + book path, on the
# same NDJSON feed in the same process run, with a bare orjson.loads loop as the common floor.
#
# Run: python bench/bench_nautilus.py --input FEED.ndjson [--markets-file M.json] [--repeats R]
#      (without --input: a generated feed of --frames frames over --markets markets, in memory)
# Feed: polyarb bench feed --out FEED.ndjson --markets 100 --frames 200000
#
# Paths measured (best of R each, gc off during a loop, the same frames):
#   orjson     orjson.loads of every frame (the floor every JSON consumer pays).
#   polyarb    polyarb.bench.pipeline.run_pipeline: journal append (default durability, temporary
#              journal), Engine.apply (parse, books, detection), decisions journaled; and again
#              with durability "none" (written, never fsynced), to show the disk's share.
#   nautilus   NautilusTrader's public Polymarket pieces, as its data client uses them: msgspec
#              decode into the adapter's websocket message types; price_change -> one
#              OrderBookDelta per change (UPDATE/DELETE), OrderBookDeltas applied to the token's
#              Rust OrderBook (L2_MBP); book -> the schema's parse_to_snapshot applied to a fresh
#              OrderBook; then best bid and ask read. last_trade_price -> the schema's
#              parse_to_trade_tick; tick_size_change -> the adapter's update_instrument.
#              Instruments come from the adapter's parse_instrument, looked up by asset id in a
#              dict (cheaper than the data client's per-message InstrumentId.from_str + cache
#              lookup, so this path is a lower bound of the shipped handler's cost). No journal.
# Prints µs/frame and frames/s of each path, each against orjson, and polyarb against nautilus
# (target: polyarb >= 4x nautilus frames/s, issue 7). Numbers only, never a verdict on exit.
#
# nautilus_trader is never a polyarb dependency. When it is not importable, the script says how
# to install it in a separate benchmarking venv, runs the other two paths, and exits 0.
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson

from polyarb.bench.feedgen import FeedGenerator
from polyarb.bench.pipeline import (
    InputError,
    infer_markets,
    load_markets,
    read_frames,
    run_pipeline,
)
from polyarb.events.inputs import MarketInfo
from polyarb.journal import Durability
from polyarb.journal.writer import DEFAULT_DURABILITY

TARGET_VS_NAUTILUS = 4.0
INSTALL_HINT = (
    "nautilus_trader is not importable here ({why}): skipping its path.\n"
    "  To compare against it, install it in a separate venv (benchmarking only, never a polyarb\n"
    "  dependency), from the repository root:\n"
    "    python -m venv .venv-bench\n"
    "    .venv-bench/bin/pip install 'nautilus_trader[polymarket]' -e .\n"
    "    .venv-bench/bin/python bench/bench_nautilus.py --input FEED.ndjson\n"
    "  (the [polymarket] extra brings py-clob-client, which its Polymarket adapter imports)"
)


def _best_ns(run: Callable[[], int], repeats: int) -> int:
    """The fastest of `repeats` timed runs (each returns its own elapsed ns), gc off."""
    best = 0
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            ns = run()
        finally:
            gc.enable()
        best = ns if not best else min(best, ns)
    return best


def _orjson_ns(frames: Sequence[str]) -> int:
    loads, clock = orjson.loads, time.perf_counter_ns
    t0 = clock()
    for line in frames:
        try:  # noqa: SIM105 (a try costs nothing when nothing raises)
            loads(line)
        except orjson.JSONDecodeError:
            pass
    return clock() - t0


def _polyarb_ns(frames: Sequence[str], markets: tuple[MarketInfo, ...] | None,
                policy: Literal["none", "batch", "always"] | None = None) -> int:
    durability = DEFAULT_DURABILITY if policy is None else Durability(policy=policy)
    result = run_pipeline(frames, markets, durability=durability)
    return int(float(result["seconds"]) * 1e9)


class NautilusPath:
    """NautilusTrader's decode + book path over our markets (see the header)."""

    def __init__(self, markets: Sequence[MarketInfo]) -> None:
        import msgspec
        from nautilus_trader.adapters.polymarket.common.enums import PolymarketOrderSide
        from nautilus_trader.adapters.polymarket.common.parsing import (
            parse_instrument,
            update_instrument,
        )
        from nautilus_trader.adapters.polymarket.schemas import book as schemas
        from nautilus_trader.adapters.polymarket.websocket.types import MARKET_WS_MESSAGE
        from nautilus_trader.core.datetime import millis_to_nanos
        from nautilus_trader.model import data, enums
        from nautilus_trader.model.book import OrderBook

        self.decode = msgspec.json.Decoder(MARKET_WS_MESSAGE).decode
        self.schemas, self.data, self.enums = schemas, data, enums
        self.OrderBook, self.update_instrument = OrderBook, update_instrument
        self.millis_to_nanos = millis_to_nanos
        self.buy = PolymarketOrderSide.BUY  # msgspec decodes `side` into this Enum
        self.instruments: dict[str, Any] = {}
        self.books: dict[str, Any] = {}
        self.errors = 0
        for m in markets:
            info = {"condition_id": m.condition_id, "question": m.question or m.condition_id,
                    "minimum_tick_size": str(m.tick_size_micros / 1_000_000),
                    "minimum_order_size": m.min_order_size_micros // 1_000_000,
                    "end_date_iso": "2030-01-01T00:00:00Z", "maker_base_fee": 0,
                    "taker_base_fee": 0}
            for tok in m.tokens:
                inst = parse_instrument(info, tok.token_id, tok.outcome, 0)
                self.instruments[tok.token_id] = inst
                self.books[tok.token_id] = OrderBook(inst.id, book_type=enums.BookType.L2_MBP)

    def run_ns(self, frames: Sequence[str]) -> int:
        """Handle every frame; returns the elapsed ns."""
        handle, clock = self.handle, time.perf_counter_ns
        t0 = clock()
        for line in frames:
            try:
                handle(line)
            except Exception:  # as their data client: a bad frame is logged and skipped
                self.errors += 1
        return clock() - t0

    def handle(self, line: str) -> None:
        msg = self.decode(line)
        for item in msg if type(msg) is list else (msg,):
            kind, s = type(item), self.schemas
            if kind is s.PolymarketQuotes:
                self._quotes(item)
            elif kind is s.PolymarketBookSnapshot:
                self._snapshot(item)
            elif kind is s.PolymarketTrade:
                item.parse_to_trade_tick(self.instruments[item.asset_id], time.time_ns())
            elif kind is s.PolymarketTickSizeChange:
                inst = self.instruments[item.asset_id]
                self.instruments[item.asset_id] = self.update_instrument(inst, item,
                                                                         time.time_ns())

    def _quotes(self, msg: Any) -> None:
        d, e, buy = self.data, self.enums, self.buy
        ts_event = self.millis_to_nanos(float(msg.timestamp))
        for ch in msg.price_changes:
            inst = self.instruments[ch.asset_id]
            order = d.BookOrder(e.OrderSide.BUY if ch.side is buy else e.OrderSide.SELL,
                                inst.make_price(float(ch.price)), inst.make_qty(float(ch.size)), 0)
            action = e.BookAction.UPDATE if order.size > 0 else e.BookAction.DELETE
            delta = d.OrderBookDelta(inst.id, action, order, e.RecordFlag.F_LAST, 0, ts_event,
                                     time.time_ns())
            book = self.books[ch.asset_id]
            book.apply(d.OrderBookDeltas(inst.id, [delta]))
            book.best_bid_price()
            book.best_ask_price()

    def _snapshot(self, msg: Any) -> None:
        inst = self.instruments[msg.asset_id]
        deltas = msg.parse_to_snapshot(inst, time.time_ns())
        book = self.OrderBook(inst.id, book_type=self.enums.BookType.L2_MBP)
        if deltas is not None:
            book.apply_deltas(deltas)
        self.books[msg.asset_id] = book
        book.best_bid_price()
        book.best_ask_price()


def _nautilus_version() -> str | None:
    """The installed version, or None (printing how to install) when it cannot be used."""
    why = "not installed"
    if importlib.util.find_spec("nautilus_trader") is not None:
        try:
            import nautilus_trader
            import nautilus_trader.adapters.polymarket  # the [polymarket] extra

            return str(nautilus_trader.__version__)
        except ImportError as exc:
            why = f"{type(exc).__name__}: {exc}"
    print(INSTALL_HINT.format(why=why))
    return None


def _row(name: str, ns: int, n: int, base_ns: int, note: str = "") -> str:
    us = ns / max(n, 1) / 1000
    fps = n / (ns / 1e9) if ns else 0.0
    ratio = ns / base_ns if base_ns else 0.0
    return f"  {name:<10} {us:9.2f} µs/frame  {fps:>11,.0f} frames/s  {ratio:6.1f}x orjson{note}"


def _load(args: argparse.Namespace) -> tuple[list[str], tuple[MarketInfo, ...], str]:
    if args.input is None:
        gen = FeedGenerator(args.markets, seed=1)
        frames = list(gen.frames(args.frames))
        return frames, tuple(gen.market_infos()), f"generated feed ({args.markets} markets)"
    frames = read_frames(args.input)
    infos = infer_markets(frames) if args.markets_file is None else load_markets(
        args.markets_file)
    return frames, infos, str(args.input)


def main() -> None:
    """Measure the three paths and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, help="NDJSON feed, one text frame a line.")
    parser.add_argument("--markets-file", type=Path, help="JSON list of MarketInfo (default: "
                        "inferred from the frames).")
    parser.add_argument("--frames", type=int, default=20_000, help="Generated frames (no --input).")
    parser.add_argument("--markets", type=int, default=100, help="Generated markets (no --input).")
    parser.add_argument("--repeats", type=int, default=1, help="Best of R runs per path.")
    args = parser.parse_args()
    try:
        frames, infos, source = _load(args)
    except InputError as exc:
        sys.exit(f"error: {exc}")
    n, tokens = len(frames), sum(len(m.tokens) for m in infos)
    version = _nautilus_version()
    print(f"bench_nautilus: {source}: {n:,} frames, {len(infos):,} markets ({tokens:,} tokens); "
          f"nautilus_trader {version or 'not installed'}; best of {args.repeats}; load average "
          f"{os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    base = _best_ns(lambda: _orjson_ns(frames), args.repeats)
    ours = _best_ns(lambda: _polyarb_ns(frames, infos), args.repeats)
    no_fsync = _best_ns(lambda: _polyarb_ns(frames, infos, "none"), args.repeats)
    print(_row("orjson", base, n, base))
    print(_row("polyarb", ours, n, base, "  (journal + engine + detection)"))
    print(_row("  no fsync", no_fsync, n, base, "  (the same, journal durability none)"))
    if version is None:
        return
    paths: list[NautilusPath] = []

    def nautilus_ns() -> int:
        paths.append(NautilusPath(infos))  # fresh books and instruments each run, untimed
        return paths[-1].run_ns(frames)

    theirs = _best_ns(nautilus_ns, args.repeats)
    print(_row("nautilus", theirs, n, base, "  (decode + deltas + book + best bid/ask)"))
    print(f"  polyarb vs nautilus: {theirs / ours:.2f}x frames/s  (target >= "
          f"{TARGET_VS_NAUTILUS:g}x); without fsync {theirs / no_fsync:.2f}x; frames "
          f"nautilus's path refused: {paths[-1].errors:,}")


if __name__ == "__main__":
    main()
