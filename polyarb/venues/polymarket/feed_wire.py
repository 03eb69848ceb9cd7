# What the market feed says on the wire and to its sink: subscription frames, the sink protocol,
# the asset-id scan and the wording of close reasons.
#
# Rules (protocol reference sections 1.2-1.5):
# 1. A connection sends ONE initial frame ({"assets_ids", "type": "market", "initial_dump",
#    "custom_feature_enabled"}); every later change is an `operation` frame. Sending the initial
#    frame twice is answered `INVALID OPERATION`.
# 2. Asset ids are strings (77-digit decimals) and are sent as given, never parsed as numbers.
# 3. The asset scan is a text search, not a parse: it runs after the sink has the frame and only
#    feeds the per-asset silence watchdog, so a frame it misreads costs a spurious probe at
#    worst, never a lost or altered frame.
from __future__ import annotations

import re
from typing import Literal, Protocol

import orjson
from websockets.exceptions import ConnectionClosed

from polyarb.events.base import Input

Operation = Literal["subscribe", "unsubscribe"]
MAX_ASSETS_PER_CONNECTION = 500  # the venue stops delivering to a socket above this (section 1.1)
PING = "PING"
PONG = "PONG"

# `"asset_id"` with its closing quote: never matches `"assets_ids"` (new_market announcements).
_ASSET_ID = re.compile(r'"asset_id"\s*:\s*"([^"]+)"')
scan_asset_ids = _ASSET_ID.findall
"""Return the asset ids a text frame names (in order, with repeats)."""


class FeedSink(Protocol):
    """Where a feed delivers what it receives. Both methods are called synchronously, in order,
    on the event loop's thread; an exception from either stops the feed (`run()` re-raises it),
    because a sink that cannot journal must halt the engine rather than lose input."""

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        """One frame exactly as received: str for a text frame, bytes for a binary one."""

    def on_event(self, event: Input) -> None:
        """A lifecycle fact: ConnectionOpened/Closed, ReconnectScheduled, SubscriptionSent."""


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
