# The simulator side of `polyarb bench ws`: a child process serving the simulator's websocket,
# waiting for the client's subscription, then writing the feed's frames on a schedule or back
# to back, stamping each just before its write (polyarb/bench/ws.py rules 1, 3-5).
#
# Rules:
# 1. Runs in its own process (spawned by ws.run_ws) with its own event loop; talks to the parent
#    only through two multiprocessing queues: ("ready", url), then ("done", (stamps, conn_of,
#    assets, cpu_s)) or ("error", text); it stops when the parent puts "stop".
# 2. Frames go out through the simulator's own connection (aiohttp's send_frame on the
#    connection that subscribed to the frame's asset), so the transport is the simulator's.
# 3. Stamps are time.monotonic_ns, taken just before each write; a frame that could not be
#    written (the client went away) has no stamp.
from __future__ import annotations

import asyncio
import functools
import time
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

START_TIMEOUT_S = 60.0
Send = Callable[[bytes], Awaitable[None]]


def sim_main(feed_path: str, rate: float, seconds: float, out: Any, inbox: Any) -> None:
    """Entry point of the child process: serve, stream, report the send stamps, wait for stop.

    Args:
        feed_path: NDJSON file of the frames to send (cycled when a run needs more).
        rate: frames per second; 0 sends back to back (TCP backpressure paces).
        seconds: how long to send.
        out: queue to the parent.
        inbox: queue from the parent ("stop").
    """
    try:
        asyncio.run(_sim(feed_path, rate, seconds, out, inbox))
    except Exception as exc:  # reported to the parent, which raises BenchError
        out.put(("error", f"{type(exc).__name__}: {exc}"))


async def _sim(feed_path: str, rate: float, seconds: float, out: Any, inbox: Any) -> None:
    from polyarb.sim.server import ServerConfig, SimServer

    frames = Path(feed_path).read_text(encoding="utf-8").splitlines()
    routes = [_route(f) for f in frames]
    server = SimServer(ServerConfig())
    await server.start()
    try:
        out.put(("ready", server.ws_url + "/market"))
        plan, conn_of, assets = await _wait_subscribed(server.venue.market_hub, frames, routes)
        cpu = time.process_time()
        stamps = await (_paced(plan, rate, seconds) if rate > 0 else _flood(plan, seconds))
        cpu = time.process_time() - cpu
        out.put(("done", (stamps, conn_of, assets, cpu)))
        await asyncio.to_thread(inbox.get)  # "stop": the client has drained and closed
    finally:
        await server.stop()


def _route(frame: str) -> str:
    """The asset a frame is about (the subscription that routes it)."""
    msg = orjson.loads(frame)
    if isinstance(msg, list):
        msg = msg[0]
    changes = msg.get("price_changes")
    return str(changes[0]["asset_id"] if changes else msg["asset_id"])


async def _wait_subscribed(hub: Any, frames: list[str], routes: list[str],
                           ) -> tuple[list[tuple[bytes, Send]], list[int], list[str]]:
    """Wait until every routed asset has a subscriber; pair each frame with its writer.

    Returns:
        (frame bytes, writer) per frame; the connection index of each frame; one subscribed
        asset per connection index (how the parent names the connection).
    """
    from aiohttp import WSMsgType

    needed = set(routes)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not all(hub.subs.get(t) for t in needed):
        if time.monotonic() > deadline:
            raise TimeoutError("the client did not subscribe to every asset")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # let the client's feed settle (its first frames, its keeper)
    senders: dict[Any, tuple[int, Send]] = {}
    plan: list[tuple[bytes, Send]] = []
    conn_of: list[int] = []
    assets: list[str] = []
    for frame, token in zip(frames, routes, strict=True):
        conn = next(iter(hub.subs[token]))
        known = senders.get(conn)
        if known is None:
            known = senders[conn] = (len(assets), functools.partial(conn.outbox.ws.send_frame,
                                                                    opcode=WSMsgType.TEXT))
            assets.append(token)
        plan.append((frame.encode(), known[1]))
        conn_of.append(known[0])
    return plan, conn_of, assets


async def _paced(plan: list[tuple[bytes, Send]], rate: float, seconds: float) -> array[int]:
    """Send on a fixed schedule (rule 5); returns the stamp of each frame sent."""
    clock, stamps, n = time.monotonic_ns, array("q"), len(plan)
    interval = 1e9 / rate
    start = clock() + 1_000_000
    for k in range(max(1, int(rate * seconds))):
        due = start + int(k * interval)
        wait = due - clock()
        if wait > 2_000_000:  # long gaps: let the server's loop run meanwhile
            await asyncio.sleep((wait - 1_000_000) / 1e9)
            wait = due - clock()
        if wait > 0:
            time.sleep(wait / 1e9)  # sub-ms precision the event loop's timer lacks
        frame, send = plan[k % n]
        stamps.append(clock())
        try:
            await send(frame)
        except ConnectionError:
            stamps.pop()
            break
        await asyncio.sleep(0)  # send_frame wrote it; let the server handle its input (PING)
    return stamps


async def _flood(plan: list[tuple[bytes, Send]], seconds: float) -> array[int]:
    """Send back to back for `seconds`; TCP backpressure paces (rule 5)."""
    clock, stamps, n = time.monotonic_ns, array("q"), len(plan)
    end = clock() + int(seconds * 1e9)
    k = 0
    while True:
        frame, send = plan[k % n]
        stamps.append(clock())
        try:
            await send(frame)  # suspends only while the transport is paused (drain)
        except ConnectionError:
            stamps.pop()
            break
        k += 1
        if k & 127 == 0:
            if clock() >= end:
                break
            await asyncio.sleep(0)
    return stamps
