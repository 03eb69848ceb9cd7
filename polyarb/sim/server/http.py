# HTTP plumbing shared by the REST handlers: JSON responses, the venue's error shape, bodies,
# query parameters and cursor pagination.
#
# Rules:
# 1. Every error body is the venue's `{"error": "<message>"}` with the venue's status code
#    (protocol reference section 3, docs "error codes"). Handlers raise ApiError; the
#    middleware in app.py renders it. Nothing here swallows an exception.
# 2. Pagination is the venue's: `{"limit", "count", "next_cursor", "data"}` where the cursor
#    is base64 of the decimal offset ("MA==" = 0) and "LTE=" (base64 of "-1") means done.
# 3. Bodies are read once as bytes (the exact bytes the HMAC covers) with a size cap.
from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

INITIAL_CURSOR = "MA=="
END_CURSOR = "LTE="
JSON_TYPE = "application/json"
INVALID_TOKEN_ID = "Invalid token id"
NO_ORDERBOOK = "No orderbook exists for the requested token id"
INVALID_PAYLOAD = "Invalid payload"
INVALID_ORDER_PAYLOAD = "Invalid order payload"
INTERNAL_ERROR = "Internal server error"


class ApiError(Exception):
    """An HTTP error answered as `{"error": message}` with `status`.

    `reason` is a short machine-readable cause sent in the X-Polyarb-Sim-Reason header (the
    simulator's own addition: the venue's messages are deliberately vague, e.g. on auth).
    """

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def json_response(obj: Any, status: int = 200) -> web.Response:
    """A JSON response rendered with orjson (Fragments embed exact decimal literals)."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON_TYPE)


def error_response(status: int, message: str, reason: str = "") -> web.Response:
    """The venue's error shape."""
    response = json_response({"error": message}, status)
    if reason:
        response.headers["X-Polyarb-Sim-Reason"] = reason
    return response


async def read_body(request: web.Request) -> bytes:
    """The exact request body (empty for none).

    Raises:
        ApiError: 413 when it exceeds the server's limit.
    """
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "request body too large", "body_too_large") from None


def parse_json(body: bytes, message: str = INVALID_PAYLOAD) -> Any:
    """Decode a JSON body; `message` is the venue's error for this route when it is not JSON.

    Raises:
        ApiError: 400 on malformed JSON.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ApiError(400, message, "bad_json") from None


def token_param(request: web.Request) -> str:
    """The `token_id` query parameter (decimal digits), or 400 Invalid token id."""
    token = request.query.get("token_id", "")
    if not is_token_id(token):
        raise ApiError(400, INVALID_TOKEN_ID, "bad_token_id")
    return token


def is_token_id(value: object) -> bool:
    """A token id is a non-empty string of at most 78 ASCII digits (a uint256)."""
    return (isinstance(value, str) and 0 < len(value) <= 78 and value.isascii()
            and value.isdigit())


def encode_cursor(offset: int) -> str:
    """The venue's cursor for an offset: base64 of its decimal text."""
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(text: str | None) -> int:
    """Offset of a cursor; -1 for END_CURSOR. None/empty is the first page.

    Raises:
        ApiError: 400 when the cursor is not one of ours.
    """
    if not text:
        return 0
    try:
        offset = int(base64.b64decode(text, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid next_cursor", "bad_cursor") from None
    if offset < -1:
        raise ApiError(400, "invalid next_cursor", "bad_cursor")
    return offset


def page(items: Sequence[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of `items` in the venue's pagination envelope."""
    start = decode_cursor(cursor)
    chunk = [] if start < 0 else list(items[start:start + limit])
    end = start + len(chunk)
    done = start < 0 or end >= len(items)
    return {
        "limit": limit,
        "count": len(chunk),
        "next_cursor": END_CURSOR if done else encode_cursor(end),
        "data": chunk,
    }
