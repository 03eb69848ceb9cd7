# The read side shared by both websocket channels: the PING/PONG keepalive, the subscription
# deadline, and handing every other text frame to the channel's parser.
#
# Rules:
# 1. Text `PING` is answered `PONG` at once, straight to the socket (not through the outbox),
#    so a stalled or delayed data stream still answers keepalives, as the venue's does.
# 2. A socket that has not subscribed within the deadline is closed (the venue closes idle
#    sockets that never subscribe).
# 3. A binary frame is not a valid request: it gets `INVALID OPERATION` like any bad text.
# 4. The channel's `on_text` returns False to end the connection (user channel: bad auth); the
#    socket is then closed with the policy-violation code and the venue's auth message.
from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from polyarb.sim.server.outbox import Outbox

INVALID_OPERATION = b"INVALID OPERATION"
_END = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def read_loop(ws: web.WebSocketResponse, outbox: Outbox, on_text: Callable[[str], bool],
                    subscribed: Callable[[], bool], timeout_s: float,
                    close_message: bytes = b"") -> None:
    """Serve one websocket's inbound frames until it closes (rules 1-4)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not outbox.dead:
        timeout = None if subscribed() else max(0.0, deadline - loop.time())
        try:
            msg = await ws.receive(timeout=timeout)
        except TimeoutError:
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"subscription timeout")
            return
        if msg.type == WSMsgType.TEXT:
            if msg.data == "PING":
                try:
                    await ws.send_str("PONG")
                except (ConnectionError, RuntimeError):
                    return
            elif not on_text(msg.data):
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=close_message)
                return
        elif msg.type == WSMsgType.BINARY:
            outbox.push_control(INVALID_OPERATION)
        elif msg.type in _END:
            return
