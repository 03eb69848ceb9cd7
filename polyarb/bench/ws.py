# `polyarb bench ws`: the simulator streams market frames over loopback to the feed of `polyarb
# run`, at a fixed rate or at full speed; we report sustained frames/s and wire->decision latency.
#
# Rules:
# 1. Two processes, one clock. The simulator (SimServer, its websocket endpoint and subscription
#    handling) runs in a spawned child (ws_sim.py), so it shares neither core nor GIL. Both
#    sides stamp with time.monotonic_ns, a system-wide clock (CLOCK_MONOTONIC on Linux), so
#    stamps from the two processes compare directly.
# 2. The measured path is exactly `polyarb run`'s, built by its own startup functions: journal
#    opened from a default RunConfig (default durability, group commit poller), RunStarted and
#    MarketsLoaded through EngineLoop.handle, MarketFeed -> QueueSink -> EngineLoop.run, with the
#    ticker and the book resync running. The one difference: order actions are journaled and
#    synced but never sent (no venue), as in `polyarb bench pipeline`.
# 3. Wire -> decision: from the child's stamp taken just before it writes a frame to the socket,
#    to the moment EngineLoop.handle returns for that frame (journaled, applied, decisions
#    journaled). A websocket keeps order, so the i-th data frame handled from a connection is
#    the i-th frame the child sent on it; every 1024th frame's text is compared to make sure
#    (`mismatched` counts failures). The engine side only appends per frame: no hashing.
# 4. Frames are the deterministic generated feed (polyarb.bench.feedgen, the one `bench pipeline`
#    uses: realistic mix, arbitrage windows), cycled when a run needs more than the pool. The
#    simulator's own scenario is not the source: it tops out below the full-speed target, so it,
#    not the engine, would be measured.
# 5. Pacing: a fixed rate follows a schedule (frame k due at start + k/rate) with sub-ms sleeps;
#    full speed writes back to back and lets TCP backpressure (aiohttp's drain) set the pace.
# 6. Numbers are returned and printed, never judged.
from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import queue
import tempfile
import time
from array import array
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyarb.bench.feedgen import FeedGenerator
from polyarb.bench.ws_sim import START_TIMEOUT_S, sim_main
from polyarb.events.base import Decision
from polyarb.events.decisions import FrameRejected

TARGET_FPS = 50_000
TARGET_RATE = 5_000
TARGET_P99_US = 500
POOL_MAX = 100_000  # distinct frames generated; longer runs cycle them (rule 4)
_DRAIN_TIMEOUT_S = 30.0
_DATA_START = ("{", "[")


class BenchError(RuntimeError):
    """The benchmark could not run (the simulator died, nobody subscribed, ...)."""


class _Recorder:
    """Wraps EngineLoop.handle; per data frame: its connection, receive stamp, start and end.

    Only appends per frame (no hashing: it would add ~1 µs to the path measured); every
    SAMPLE-th frame's text is kept to check the matching afterwards.
    """

    SAMPLE = 1024

    def __init__(self) -> None:
        self.conns: list[str] = []
        self.recv: array[int] = array("q")  # the feed's ts_recv_ns (wall clock)
        self.begin: array[int] = array("q")
        self.done: array[int] = array("q")
        self.samples: list[tuple[int, str]] = []
        self.rejected = 0
        self.wall_offset = time.time_ns() - time.monotonic_ns()

    def install(self, loop: Any) -> None:
        from polyarb.runtime.loop import Frame

        handle, clock, mask = loop.handle, time.monotonic_ns, self.SAMPLE - 1
        conns, recv, begin, done = self.conns, self.recv, self.begin, self.done
        samples = self.samples

        def timed(item: Any) -> list[Decision]:
            t0 = clock()
            decisions: list[Decision] = handle(item)
            t1 = clock()
            # data frames only: PONG and other control texts were not sent by the plan
            if type(item) is Frame and item.data[:1] in _DATA_START:
                conns.append(item.conn)
                recv.append(item.ts_recv_ns)
                begin.append(t0)
                done.append(t1)
                if not len(done) & mask:
                    samples.append((len(done) - 1, item.data))  # type: ignore[arg-type]
            return decisions

        loop.handle = timed
        loop.observers.append(self._observe)

    def figures(self) -> dict[str, Any]:
        """What was recorded, receive stamps moved onto the monotonic clock."""
        # the feed stamps with the wall clock: map it with the mean offset over the run
        offset = (self.wall_offset + time.time_ns() - time.monotonic_ns()) // 2
        return {"done": self.done, "begin": self.begin, "recv": [t - offset for t in self.recv],
                "samples": self.samples, "rejected": self.rejected}

    def _observe(self, decision: Decision) -> None:
        if type(decision) is FrameRejected:
            self.rejected += 1


def _noop(_decision: Decision) -> None:
    """No venue: order actions are journaled and synced, never sent (rule 2)."""


async def _get(q: Any, timeout: float, proc: Any) -> tuple[str, Any]:
    """The child's next message; BenchError when it reports one, dies or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg: tuple[str, Any] = await asyncio.to_thread(q.get, True, 0.5)
        except queue.Empty:
            if not proc.is_alive():
                raise BenchError(f"the simulator process exited ({proc.exitcode})") from None
            if time.monotonic() > deadline:
                raise BenchError("the simulator process did not answer in time") from None
            continue
        if msg[0] == "error":
            raise BenchError(f"simulator: {msg[1]}")
        return msg


async def _engine(infos: Sequence[Any], config: Any, seconds: float, out: Any,
                  proc: Any) -> dict[str, Any]:
    """Run `polyarb run`'s engine side against the child's simulator (rule 2)."""
    from polyarb.runtime import startup
    from polyarb.runtime.counters import Counters
    from polyarb.runtime.loop import EngineLoop

    _, url = await _get(out, START_TIMEOUT_S, proc)
    hook = startup.HookTarget()
    writer = startup.open_writer(config, hook)
    try:
        rebuilt = startup.rebuild_engine(writer)
        loop = EngineLoop(writer, startup.engine_of(rebuilt, config), _noop, Counters())
        hook.loop = loop
        startup.start_run(loop, rebuilt, config, "r-bench-ws", "sim", time.time_ns)
        startup.load_into(loop, infos, "bench", time.time_ns)
        rec = _Recorder()
        rec.install(loop)
        return await _take_feed(loop, rec, config, url, infos, seconds, out, proc)
    finally:
        writer.close()


async def _take_feed(loop: Any, rec: _Recorder, config: Any, url: str, infos: Sequence[Any],
                     seconds: float, out: Any, proc: Any) -> dict[str, Any]:
    """Start the run's tasks as the supervisor does, take the stream, drain, stop."""
    from polyarb.runtime.loop import poll_forever, tick_forever
    from polyarb.runtime.resync import Resync
    from polyarb.runtime.sinks import QueueSink
    from polyarb.venues.polymarket.feed import MarketFeed

    feed = MarketFeed(url, QueueSink(loop, "market"),
                      tokens_per_connection=config.venue.tokens_per_connection)
    feed.subscribe([t.token_id for m in infos for t in m.tokens])
    resync = Resync(feed)
    loop.observers.append(resync.observe)
    consumer = asyncio.create_task(loop.run(), name="engine-loop")
    tick_s = config.run.tick_ms / 1000
    others = [asyncio.create_task(c) for c in (
        feed.run(), resync.run_forever(tick_s), tick_forever(loop, tick_s, time.time_ns),
        poll_forever(loop.writer, config.journal.batch_ms / 1000))]
    cpu = time.process_time()  # this process's CPU (every thread) while it takes the feed
    _, (stamps, conn_of, assets, sim_cpu) = await _get(out, seconds + START_TIMEOUT_S, proc)
    deadline = time.monotonic() + _DRAIN_TIMEOUT_S
    while len(rec.done) < len(stamps) and time.monotonic() < deadline and not consumer.done():
        await asyncio.sleep(0.01)
    cpu = time.process_time() - cpu
    where = {tok: conn for conn, toks in feed.assignment.items() for tok in toks}
    index_of = {where[asset]: j for j, asset in enumerate(assets)}  # our conn -> its index
    await feed.close()
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    loop.stop_consumer()
    await consumer  # re-raises an engine failure
    loop.writer.sync()
    return {"stamps": stamps, "conn_of": conn_of, "conns": len(assets),
            "handled_conn": [index_of.get(c, -1) for c in rec.conns], **rec.figures(),
            "opportunities": loop.counters.opportunities, "decisions": loop.counters.decisions,
            "cpu_s": cpu, "sim_cpu_s": sim_cpu}


# --- one run, and its figures ----------------------------------------------------------------


def run_ws(rate: float, seconds: float, markets: int, seed: int = 1,
           durability: str | None = None) -> dict[str, Any]:
    """One measured run: the simulator sends for `seconds` at `rate` frames/s (0: full speed).

    Args:
        rate: frames per second the simulator sends; 0 sends as fast as the client takes them.
        seconds: how long the simulator sends.
        markets: binary markets in the generated feed (2 tokens each).
        seed: the feed generator's seed.
        durability: the journal policy ("none", "batch", "always"); None: `polyarb run`'s
            default.

    Returns:
        rate, seconds, markets, durability, load_avg, tokens, connections, sent, handled,
        matched, checked, mismatched, sim_frames_per_s, frames_per_s, cpu_us_per_frame (CPU
        time of this process while it took the feed, per frame: the machine's load does not
        inflate it as it does wall time), sim_cpu_us_per_frame, p50_us, p99_us,
        p999_us, max_us, mean_us, {wire,queue,handle}_{p50,p99}_us (the parts of
        wire->decision), rejected, opportunities, decisions.

    Raises:
        BenchError: the simulator process failed or the client never subscribed.
        ValueError: bad arguments.
    """
    if rate < 0 or seconds <= 0 or markets < 1:
        raise ValueError("need rate >= 0, seconds > 0 and markets >= 1")
    from polyarb.config import JournalSection, RunConfig, RunSection

    policy = durability if durability is not None else JournalSection().durability
    if policy not in ("none", "batch", "always"):
        raise ValueError(f"durability must be none, batch or always, not {policy!r}")
    gen = FeedGenerator(markets, seed=seed)
    want = rate * seconds if rate > 0 else 60_000 * seconds
    frames = list(gen.frames(max(2 * markets + 1, min(POOL_MAX, math.ceil(want)))))
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="polyarb-bench-ws-") as tmp:
        feed_path = Path(tmp) / "feed.ndjson"
        feed_path.write_text("\n".join(frames) + "\n", encoding="utf-8")
        out, inbox = ctx.Queue(), ctx.Queue()
        proc = ctx.Process(target=sim_main, args=(str(feed_path), rate, seconds, out, inbox),
                           name="polyarb-bench-sim", daemon=True)
        proc.start()
        try:
            config = RunConfig(run=RunSection(journal_dir=str(Path(tmp) / "journal")),
                               journal=JournalSection(durability=policy))  # type: ignore[arg-type]
            raw = asyncio.run(_engine(gen.market_infos(), config, seconds, out, proc))
        finally:
            inbox.put("stop")
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    ks = _match(len(raw["stamps"]), raw["conn_of"], raw["handled_conn"])
    bad = sum(1 for i, text in raw["samples"] if ks[i] < 0 or frames[ks[i] % len(frames)] != text)
    stamps = raw["stamps"]
    sent_at = [stamps[k] if k >= 0 else -1 for k in ks]
    return {**_summary(rate, seconds, markets, raw, sent_at), "durability": policy,
            "checked": len(raw["samples"]), "mismatched": bad,
            "load_avg": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0}


def _match(sent: int, conn_of: Sequence[int], handled_conn: Sequence[int]) -> list[int]:
    """The send index k of each handled frame (-1: none), in order per connection (rule 3).

    Args:
        sent: how many frames the child sent; the k-th was pool frame k % len(conn_of).
        conn_of: the connection index each pool frame was sent on.
        handled_conn: the connection index of each handled frame, in handling order.
    """
    n = len(conn_of)
    per: dict[int, deque[int]] = {}
    for k in range(sent):
        j = conn_of[k % n]
        q = per.get(j)
        if q is None:
            q = per[j] = deque()
        q.append(k)
    out = []
    for j in handled_conn:
        q = per.get(j)
        out.append(q.popleft() if q else -1)
    return out


def _pct(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted ns, in µs."""
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), math.ceil(q / 100 * len(sorted_ns))))
    return round(sorted_ns[rank - 1] / 1000, 1)


def _segments(raw: dict[str, Any], sent_at: list[int]) -> dict[str, list[int]]:
    """Sorted ns per matched frame: total, and its parts wire->feed, queued, handle."""
    parts: dict[str, list[int]] = {"total": [], "wire": [], "queue": [], "handle": []}
    for s, r, b, d in zip(sent_at, raw["recv"], raw["begin"], raw["done"], strict=True):
        if s >= 0:
            parts["total"].append(d - s)
            parts["wire"].append(r - s)
            parts["queue"].append(b - r)
            parts["handle"].append(d - b)
    for values in parts.values():
        values.sort()
    return parts


def _summary(rate: float, seconds: float, markets: int, raw: dict[str, Any],
             sent_at: list[int]) -> dict[str, Any]:
    stamps, done = raw["stamps"], raw["done"]
    sent, handled = len(stamps), len(done)
    send_s = (stamps[-1] - stamps[0]) / 1e9 if sent > 1 else 0.0
    span_s = (done[-1] - stamps[0]) / 1e9 if sent and handled else 0.0
    parts = _segments(raw, sent_at)
    lat = parts["total"]
    split = {f"{name}_{q}_us": _pct(parts[name], p) for name in ("wire", "queue", "handle")
             for q, p in (("p50", 50), ("p99", 99))}
    return {**split,
        "rate": rate, "seconds": seconds, "markets": markets, "tokens": 2 * markets,
        "connections": raw["conns"], "sent": sent, "handled": handled, "matched": len(lat),
        "sim_frames_per_s": round(sent / send_s, 1) if send_s > 0 else 0.0,
        "frames_per_s": round(handled / span_s, 1) if span_s > 0 else 0.0,
        "p50_us": _pct(lat, 50), "p99_us": _pct(lat, 99), "p999_us": _pct(lat, 99.9),
        "max_us": round(lat[-1] / 1000, 1) if lat else 0.0,
        "mean_us": round(sum(lat) / len(lat) / 1000, 1) if lat else 0.0,
        "cpu_us_per_frame": round(raw["cpu_s"] * 1e6 / handled, 2) if handled else 0.0,
        "sim_cpu_us_per_frame": round(raw["sim_cpu_s"] * 1e6 / sent, 2) if sent else 0.0,
        "rejected": raw["rejected"], "opportunities": raw["opportunities"],
        "decisions": raw["decisions"],
    }


def render(result: dict[str, Any]) -> str:
    """The text report of one run, with the targets next to the figures (never judged)."""
    r = result
    mode = "full speed" if not r["rate"] else f"{r['rate']:,.0f} frames/s"
    fps_target = f"  (target >= {TARGET_FPS:,} at full speed)" if not r["rate"] else ""
    lat_target = (f"  (target p99 <= {TARGET_P99_US} µs at {TARGET_RATE:,}/s)"
                  if r["rate"] else "")
    return "\n".join([
        f"bench ws: {mode}, {r['seconds']:g} s, {r['markets']:,} markets ({r['tokens']:,} tokens)"
        f" on {r['connections']} connection(s), journal durability {r['durability']}, "
        f"load average {r['load_avg']:.2f} ({os.cpu_count()} CPUs)",
        f"  sent            {r['sent']:,} frames ({r['sim_frames_per_s']:,.0f} frames/s; "
        f"simulator CPU {r['sim_cpu_us_per_frame']:.1f} µs/frame)",
        f"  handled         {r['handled']:,} frames ({r['matched']:,} matched to a send; "
        f"{r['checked']:,} sampled texts checked, {r['mismatched']:,} mismatched)",
        f"  frames/s        {r['frames_per_s']:,.0f}{fps_target}",
        f"  CPU             {r['cpu_us_per_frame']:.1f} µs/frame in polyarb's process (one "
        f"core's ceiling {1e6 / max(r['cpu_us_per_frame'], 1e-9):,.0f} frames/s)",
        f"  wire->decision  p50 {r['p50_us']:,.1f} µs  p99 {r['p99_us']:,.1f} µs  "
        f"p99.9 {r['p999_us']:,.1f} µs  max {r['max_us']:,.1f} µs  mean {r['mean_us']:,.1f} µs"
        f"{lat_target}",
        f"  parts p50/p99   wire->feed {r['wire_p50_us']:,.1f}/{r['wire_p99_us']:,.1f} µs  "
        f"queued {r['queue_p50_us']:,.1f}/{r['queue_p99_us']:,.1f} µs  "
        f"handle {r['handle_p50_us']:,.1f}/{r['handle_p99_us']:,.1f} µs",
        f"  decisions       {r['decisions']:,} ({r['opportunities']:,} opportunities, "
        f"{r['rejected']:,} rejected)",
    ])
