# What the market feed says on the wire and to its sink: subscription frames, the sink protocol,
# the asset-id scan, the wording of close reasons, and the receive fast lane: a websocket frame
# splitter and the connection class that uses it (FeedConnection).
#
# Rules (protocol reference sections 1.2-1.5):
# 1. A connection sends ONE initial frame ({"assets_ids", "type": "market", "initial_dump",
#    "custom_feature_enabled"}); every later change is an `operation` frame. Sending the initial
#    frame twice is answered `INVALID OPERATION`.
# 2. Asset ids are strings (77-digit decimals) and are sent as given, never parsed as numbers.
# 3. The asset scan is a text search, not a parse: it runs after the sink has the frame and only
#    feeds the per-asset silence watchdog, so a frame it misreads costs a spurious probe at
#    worst, never a lost or altered frame.
# 4. The splitter (`split_frames`) takes only what it can take exactly as websockets would
#    deliver it: whole unfragmented, unmasked TEXT/BINARY frames without reserved bits, at most
#    the size limit, text that is valid UTF-8 (decoded strictly, as websockets does). A control
#    frame is cut out whole for websockets to process; anything else (fragments, reserved bits or
#    opcodes, a masked or oversized frame, bad UTF-8) stops the lane at that frame's first byte,
#    so websockets sees it and raises, closes or assembles exactly as it always did.
# 5. The fast lane (FeedConnection, given to websockets through its documented
#    `create_connection` hook): once started, and only if websockets' parser sits at a frame
#    boundary with nothing queued and no extension negotiated, whole data frames are cut from
#    each socket read by split_frames and handed to the lane's receiver right there, skipping
#    websockets' per-frame parser, assembler queue and recv() coroutines. Control frames are fed
#    to websockets whole, so its protocol state (PING answers, pongs, the close handshake) is
#    what it would be without the lane. What the lane does not take, and everything after it,
#    goes to websockets for good (the lane never reopens), as does all input once the
#    connection leaves OPEN; the lane's frames all precede those, so the order is the socket's.
#    An exception from the receiver aborts the connection and is kept in `lane_error`.
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal, Protocol

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import OPEN
from websockets.streams import StreamReader

from polyarb.events.base import Input

Operation = Literal["subscribe", "unsubscribe"]
MAX_ASSETS_PER_CONNECTION = 500  # the venue stops delivering to a socket above this (section 1.1)
PING = "PING"
PONG = "PONG"

# `"asset_id"` with its closing quote: never matches `"assets_ids"` (new_market announcements).
_ASSET_ID = re.compile(r'"asset_id"\s*:\s*"([^"]+)"')
scan_asset_ids = _ASSET_ID.findall
"""Return the asset ids a text frame names (in order, with repeats)."""


# split_frames' verdicts besides a control frame's end (> the position it stopped at)
NEED_DATA = 0  # the rest is the start of a frame: wait for more bytes
HAND_OVER = -1  # the frame at the position is not the lane's: websockets takes it from there
_TEXT, _BINARY = 0x81, 0x82  # first header byte of a whole (FIN) text / binary frame
_DATA = (_TEXT, _BINARY)
_CONTROL = (0x88, 0x89, 0x8A)  # FIN + close / ping / pong
_AT_EOF = StreamReader.at_eof.__code__  # where websockets' parser waits between frames
Take = Callable[[list[str | bytes]], None]


class FeedSink(Protocol):
    """Where a feed delivers what it receives. Both methods are called synchronously, in order,
    on the event loop's thread; an exception from either stops the feed (`run()` re-raises it),
    because a sink that cannot journal must halt the engine rather than lose input."""

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        """One frame exactly as received: str for a text frame, bytes for a binary one."""

    def on_event(self, event: Input) -> None:
        """A lifecycle fact: ConnectionOpened/Closed, ReconnectScheduled, SubscriptionSent."""


class BatchSink(FeedSink, Protocol):
    """A FeedSink that can also take the frames of one socket read in one call (optional: the
    feed uses `on_frames` when the sink has it, else `on_frame` per frame)."""

    def on_frames(self, ts_recv_ns: int, conn: str, frames: list[str | bytes]) -> None:
        """Frames received together, in order, all stamped `ts_recv_ns`."""


def initial_frame(asset_ids: tuple[str, ...], *, custom_feature_enabled: bool,
                  initial_dump: bool) -> str:
    """The one subscription frame a new connection sends (rule 1)."""
    return orjson.dumps({
        "assets_ids": asset_ids,
        "type": "market",
        "initial_dump": initial_dump,
        "custom_feature_enabled": custom_feature_enabled,
    }).decode()


def operation_frame(operation: Operation, asset_ids: tuple[str, ...], *,
                    custom_feature_enabled: bool) -> str:
    """A dynamic subscribe/unsubscribe frame on a live connection (rule 1)."""
    return orjson.dumps({
        "operation": operation,
        "assets_ids": asset_ids,
        "custom_feature_enabled": custom_feature_enabled,
    }).decode()


def split_frames(buf: bytes, pos: int, limit: int | None,
                 ) -> tuple[list[str | bytes], int, int]:
    """Cut the server's websocket frames in `buf[pos:]` into messages (rule 4).

    Args:
        buf: bytes received on a connection; `pos` is the start of a frame.
        pos: where to start.
        limit: the largest payload taken (websockets' max_size); None: no limit.

    Returns:
        (messages, stop, verdict): the payloads of the whole data frames from `pos` on (str for
        text, bytes for binary), the position the lane stopped at, and NEED_DATA (the rest is
        an incomplete frame), HAND_OVER (the frame at `stop` is for websockets, and so is all
        that follows) or the end of the whole control frame at `stop`.
    """
    out: list[str | bytes] = []
    append = out.append
    n = len(buf)
    while n - pos >= 2:
        head, length = buf[pos], buf[pos + 1]
        start = pos + 2
        if length > 125:  # 126/127: a longer length follows; above 127: masked (never ours)
            if length == 126 and n - pos >= 4:
                length, start = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
            elif length == 127 and n - pos >= 10:
                length, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            elif length > 127:
                return out, pos, HAND_OVER
            else:
                break
        end = start + length
        if head in _DATA:
            if limit is not None and length > limit:
                return out, pos, HAND_OVER
            if end > n:
                break
            if head == _BINARY:
                append(buf[start:end])
            else:
                try:
                    append(buf[start:end].decode())
                except UnicodeDecodeError:
                    return out, pos, HAND_OVER
        elif head in _CONTROL and length <= 125:
            return out, pos, (end if end <= n else NEED_DATA)
        else:
            return out, pos, HAND_OVER
        pos = end
    return out, pos, NEED_DATA


class FeedConnection(ClientConnection):
    """websockets' client connection with the receive fast lane (rule 5).

    Attributes:
        lane_error: what the lane's receiver raised (the session re-raises it, rule 5).
        lane_frames: frames delivered by the lane (diagnostics and tests).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take: Take | None = None
        self._rest: list[bytes] = []  # the start of a frame not yet whole, in pieces
        self._have = 0  # bytes in _rest
        self._need = 0  # bytes _rest must reach before cutting is worth trying again
        self.lane_error: Exception | None = None
        self.lane_frames = 0

    @property
    def on_lane(self) -> bool:
        """True while frames take the fast lane."""
        return self._take is not None

    def start_lane(self, take: Take) -> bool:
        """Hand later whole data frames to `take` from data_received, if the lane can start.

        It starts only when nothing websockets holds could come after a lane frame: the
        connection is OPEN without extensions or a fragment limit, websockets' parser waits at
        a frame boundary with no bytes buffered, and no message is queued for recv().
        Returns whether it started.
        """
        if self._take is None and _at_frame_boundary(self):
            self._take = take
        return self._take is not None

    def data_received(self, data: bytes) -> None:
        """asyncio's callback: cut whole data frames out for the lane (rule 5)."""
        if self._take is None:
            super().data_received(data)
            return None
        if self._rest:  # a long frame arrives over many reads: join its pieces once
            self._rest.append(data)
            self._have += len(data)
            if self._have < self._need:
                return None
            buf, self._rest = b"".join(self._rest), []
        else:
            buf = data
        limit = self.protocol.max_message_size
        pos = 0
        while self.protocol.state is OPEN:
            messages, pos, verdict = split_frames(buf, pos, limit)
            if messages and not self._deliver(messages):
                return None
            if verdict == NEED_DATA:
                if pos < len(buf):
                    rest = buf[pos:]
                    self._rest, self._have, self._need = [rest], len(rest), frame_size(rest)
                return None
            if verdict == HAND_OVER:
                break
            super().data_received(buf[pos:verdict])  # a whole control frame
            pos = verdict
        self._leave_lane()
        if pos < len(buf):
            super().data_received(buf[pos:])
        return None

    def eof_received(self) -> None:
        """asyncio's callback: websockets gets the lane's partial frame before the EOF."""
        if self._take is not None:
            rest = b"".join(self._rest)
            self._leave_lane()
            if rest:
                super().data_received(rest)
        super().eof_received()

    def _deliver(self, messages: list[str | bytes]) -> bool:
        assert self._take is not None
        try:
            self._take(messages)
        except Exception as exc:  # the sink failed: stop reading, the session re-raises it
            self.lane_error = exc
            self._leave_lane()
            self.transport.abort()
            return False
        self.lane_frames += len(messages)
        return True

    def _leave_lane(self) -> None:
        self._take = None
        self._rest = []


def _at_frame_boundary(ws: ClientConnection) -> bool:
    """True when websockets' parser waits for a frame's first byte, with nothing queued.

    Reads websockets' internals (the parser generator's `yield from` chain, the assembler's
    queue): on any other shape this answers False and the connection simply stays off the
    lane.
    """
    try:  # every attribute below may be missing in another websockets release
        protocol = ws.protocol
        if (protocol.state is not OPEN or protocol.extensions or protocol.reader.buffer
                or protocol.current_size is not None
                or protocol.max_fragment_size is not None):
            return False
        if len(ws.recv_messages.frames) or ws.recv_messages.get_in_progress:
            return False
        inner = protocol.parser.gi_yieldfrom.gi_yieldfrom  # type: ignore[attr-defined]
    except AttributeError:
        return False
    return getattr(inner, "gi_code", None) is _AT_EOF


def frame_size(buf: bytes) -> int:
    """Bytes needed before the frame starting `buf` can be cut: the whole frame's size once its
    header is there, else the longest header (a lower bound: enough to read the length)."""
    if len(buf) < 2:
        return 2
    length = buf[1] & 0x7F
    if length == 126:
        return 4 + int.from_bytes(buf[2:4], "big") if len(buf) >= 4 else 4
    if length == 127:
        return 10 + int.from_bytes(buf[2:10], "big") if len(buf) >= 10 else 10
    return 2 + length


def describe_close(exc: ConnectionClosed) -> tuple[str, int | None]:
    """The reason and close code of a connection websockets reported closed.

    "remote_close" when the server sent a close frame, "local_close" when we did (e.g. the
    protocol keepalive timed out: 1011), "connection_lost" when the TCP stream just ended.
    """
    if exc.rcvd is not None:
        return _with_text("remote_close", exc.rcvd.reason), exc.rcvd.code
    if exc.sent is not None:
        return _with_text("local_close", exc.sent.reason), exc.sent.code
    return "connection_lost", None


def describe_error(prefix: str, exc: BaseException) -> str:
    """`prefix: ExceptionType: message`, bounded so a hostile message cannot bloat the journal."""
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{prefix}: {detail[:300]}"


def _with_text(reason: str, text: str) -> str:
    return f"{reason}: {text[:300]}" if text else reason
