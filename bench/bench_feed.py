# Benchmark: MarketFeed's receive path over loopback, with and without the journal.
#
# Run: /tmp/venv/bin/python bench/bench_feed.py [--frames N] [--repeat R]
# A loopback websockets server (this process, same event loop) waits for the client's first
# frame, then writes N pre-built price_change-shaped text frames (~400-600 bytes) as one stream of
# pre-encoded websocket bytes, so the server costs almost nothing per frame. Each run ends when
# the client has counted N frames. Runs (best of R each, same process, same frames):
#   baseline     a bare `websockets` client: `await ws.recv()` and count (the floor any
#                websockets-based feed pays),
#   feed         MarketFeed, sink counts (asset-silence scan off),
#   feed+scan    MarketFeed with the per-asset silence scan on (its default),
#   feed+none    MarketFeed, sink calls JournalWriter.append_raw_frame, durability "none",
#   feed+batch   the same with durability "batch" (group commit, fsync every 5 ms / 1000 records).
# Prints frames/s, µs/frame and the ratio of each run's µs/frame to the baseline's. The machine
# is shared (2 cores), so absolute numbers move; the ratios are steadier.
from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import struct
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import websockets
from websockets.asyncio.server import ServerConnection, serve

from polyarb.events.base import Input
from polyarb.journal import Durability, JournalWriter
from polyarb.venues.polymarket.backoff import BackoffPolicy
from polyarb.venues.polymarket.feed import MarketFeed

TOKENS = [str(10**76 + i) for i in range(50)]


def frames(n: int, rng: random.Random) -> list[bytes]:
    """price_change frames of one or two entries over TOKENS, as UTF-8 bytes."""
    out = []
    for i in range(n):
        changes = ",".join(_change(rng) for _ in range(rng.randrange(1, 3)))
        market = f"0x{rng.getrandbits(256):064x}"
        out.append((f'{{"event_type":"price_change","market":"{market}","price_changes":'
                    f'[{changes}],"timestamp":"{1766800000000 + i}"}}').encode())
    return out


def _change(rng: random.Random) -> str:
    return (f'{{"asset_id":"{rng.choice(TOKENS)}","price":"0.{rng.randrange(1, 99):02d}",'
            f'"size":"{rng.randrange(1, 10**5)}.{rng.randrange(10)}",'
            f'"side":"{rng.choice(["BUY", "SELL"])}","hash":"{rng.getrandbits(160):040x}",'
            f'"best_bid":"0.{rng.randrange(1, 50):02d}",'
            f'"best_ask":"0.{rng.randrange(50, 99):02d}"}}')


def wire(payloads: list[bytes]) -> bytes:
    """Unmasked server-to-client text frames (RFC 6455 section 5.2), back to back."""
    parts = []
    for p in payloads:
        n = len(p)
        if n < 126:
            head = bytes([0x81, n])
        elif n < 65536:
            head = b"\x81\x7e" + struct.pack("!H", n)
        else:
            head = b"\x81\x7f" + struct.pack("!Q", n)
        parts.append(head + p)
    return b"".join(parts)


class Streamer:
    """The loopback server: on a client's first frame, write the whole stream."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream

    async def handle(self, ws: ServerConnection) -> None:
        await ws.recv()  # the subscription
        ws.transport.write(self.stream)  # asyncio buffers what the socket cannot take yet
        async for _ in ws:  # keep the socket open until the client closes it
            pass


class CountSink:
    def __init__(self, target: int, journal: JournalWriter | None = None) -> None:
        self.target = target
        self.count = 0
        self.done = asyncio.Event()
        self.append = journal.append_raw_frame if journal is not None else None
        self.events: list[Input] = []

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        if self.append is not None:
            self.append(ts_recv_ns, conn, data)
        self.count += 1
        if self.count == self.target:
            self.done.set()

    def on_event(self, event: Input) -> None:
        self.events.append(event)


async def run_baseline(url: str, n: int) -> float:
    async with websockets.connect(url, compression=None, ping_interval=None, proxy=None,
                                  max_size=None, max_queue=64) as ws:
        start = time.perf_counter()
        await ws.send('{"assets_ids":[],"type":"market"}')
        recv = ws.recv
        for _ in range(n):
            await recv()
        return time.perf_counter() - start


async def run_feed(url: str, n: int, scan: bool,
                   durability: Literal["none", "batch"] | None) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="bench-feed-"))
    journal = None
    if durability is not None:
        journal = JournalWriter.open(tmp / "j", durability=Durability(policy=durability))
    sink = CountSink(n, journal)
    feed = MarketFeed(url, sink, proxy=None, compression=None, ws_ping_interval_s=None,
                      silence_timeout_s=None, asset_silence_timeout_s=300.0 if scan else None,
                      backoff=BackoffPolicy(initial_s=0.01, max_s=0.1))
    feed.subscribe(TOKENS)
    task = asyncio.create_task(feed.run())
    start = time.perf_counter()
    await sink.done.wait()
    elapsed = time.perf_counter() - start
    await feed.close()
    await task
    if journal is not None:
        journal.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return elapsed


async def best(fn: Callable[[], Awaitable[float]], repeat: int) -> float:
    return min([await fn() for _ in range(repeat)])


async def main(n: int, repeat: int) -> None:
    payloads = frames(n, random.Random(1))
    stream = wire(payloads)
    print(f"{n:,} frames, {len(stream) / n:.0f} bytes each on average, best of {repeat}")
    streamer = Streamer(stream)
    async with serve(streamer.handle, "127.0.0.1", 0, compression=None, ping_interval=None,
                     max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ws/market"
        runs: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("baseline", lambda: run_baseline(url, n)),
            ("feed", lambda: run_feed(url, n, False, None)),
            ("feed+scan", lambda: run_feed(url, n, True, None)),
            ("feed+none", lambda: run_feed(url, n, False, "none")),
            ("feed+batch", lambda: run_feed(url, n, False, "batch")),
        ]
        base_us = 0.0
        for name, fn in runs:
            elapsed = await best(fn, repeat)
            us = elapsed / n * 1e6
            base_us = base_us or us
            print(f"{name:<11} {n / elapsed:>10,.0f} frames/s  {us:6.2f} µs/frame  "
                  f"x{us / base_us:.2f} vs baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.frames, args.repeat))
