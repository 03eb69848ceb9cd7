# The journal line codec: one event <-> one newline-terminated line of JSON.
#
# Rules:
# 1. A line is `{"seq":N,"v":V,"kind":"...","ts_recv_ns":T,<fields>,"crc":"xxxxxxxx"}\n` where
#    V is the kind's schema version and crc is the CRC-32 (zlib, 8 lowercase hex digits) of every
#    byte before `,"crc":`. The layout is fixed so seq, v and crc are read without a JSON parse.
#    docs/journal-format.md is the normative description; change both together.
# 2. Decoding never guesses: an unknown kind, a newer schema version, a bad checksum or a
#    malformed line raises a CodecError subclass naming the reason. Older versions are upcast
#    through UPCASTERS, one step at a time.
# 3. Raw frames take a hot path that never re-encodes the frame: valid JSON is spliced in as is.
from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from polyarb.events import decisions, inputs
from polyarb.events.base import Event, Record

FORMAT_VERSION = 1

_MODULES = (inputs, decisions)


def _collect_kinds() -> dict[str, type[Event]]:
    kinds: dict[str, type[Event]] = {}
    for module in _MODULES:
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Event) and obj.__module__ == module.__name__:
                tag = obj.__struct_config__.tag
                assert isinstance(tag, str)
                kinds[tag] = obj
    return dict(sorted(kinds.items()))


ALL_KINDS: dict[str, type[Event]] = _collect_kinds()
"""Every event kind by its `kind` tag."""

_UNION: Any = None
for _cls in ALL_KINDS.values():
    _UNION = _cls if _UNION is None else _UNION | _cls
_DECODER = msgspec.json.Decoder(_UNION)
_ENCODER = msgspec.json.Encoder(decimal_format="string")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(kind, from_version) -> function turning a v(from) field dict into a v(from+1) one."""

_CRC_TAIL = b',"crc":"'
_CRC_LEN = len(_CRC_TAIL) + 8 + 2  # ,"crc":"xxxxxxxx"}


class CodecError(ValueError):
    """A journal line that cannot be turned into an event. `seq` is set when it was readable."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason if seq is None else f"seq {seq}: {reason}")
        self.reason = reason
        self.seq = seq


class MalformedRecord(CodecError):
    """Not a polyarb journal line (bad layout or JSON, or fields of the wrong type)."""


class ChecksumMismatch(CodecError):
    """The line's CRC does not match its bytes: corruption."""


class UnknownKind(CodecError):
    """A kind this version of polyarb does not know (written by a newer polyarb?)."""


class UnsupportedVersion(CodecError):
    """A schema version newer than this polyarb understands for that kind."""


def _finish(body: bytes) -> bytes:
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def encode_record(seq: int, event: Event) -> bytes:
    """Encode one event as a complete journal line (with the trailing newline)."""
    enc = _ENCODER.encode(event)
    return _finish(b'{"seq":%d,"v":%d,' % (seq, event.SCHEMA_VERSION) + enc[1:-1])


def frame_is_embeddable(data: bytes) -> bool:
    """True when a frame can be stored verbatim as a JSON value on one line."""
    if b"\n" in data or b"\r" in data:
        return False
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


_RAW_FRAME_V = inputs.RawFrame.SCHEMA_VERSION


def encode_raw_frame(
    seq: int,
    ts_recv_ns: int,
    conn: str,
    data: bytes | str,
    *,
    channel: str = "market",
    embeddable: bool | None = None,
) -> bytes:
    """Encode a websocket frame as a RawFrame line without re-encoding valid JSON.

    Args:
        data: the frame as received (str for text frames, bytes for binary frames).
        embeddable: pass the result of a JSON parse the caller already did; None checks here.
    """
    head = b'{"seq":%d,"v":%d,"kind":"raw_frame","ts_recv_ns":%d,"conn":%s' % (
        seq,
        _RAW_FRAME_V,
        ts_recv_ns,
        orjson.dumps(conn),
    )
    if channel != "market":
        head += b',"channel":' + orjson.dumps(channel)
    if isinstance(data, bytes):
        text = base64.b64encode(data).decode("ascii")
        return _finish(head + b',"text":' + orjson.dumps(text) + b',"binary":true')
    raw = data.encode("utf-8", "surrogatepass")
    if embeddable is None:
        embeddable = frame_is_embeddable(raw)
    if embeddable:
        return _finish(head + b',"frame":' + raw)
    return _finish(head + b',"text":' + orjson.dumps(data))


def split_line(line: bytes) -> tuple[int, int, bytes]:
    """Check a line's layout and checksum; return (seq, version, body without the crc).

    Raises:
        MalformedRecord: the layout is not a journal line.
        ChecksumMismatch: the CRC does not match.
    """
    if line.endswith(b"\n"):
        line = line[:-1]
    if not line.startswith(b'{"seq":') or len(line) < _CRC_LEN + 8:
        raise MalformedRecord("line does not start with a seq envelope")
    comma = line.find(b",", 7)
    try:
        seq = int(line[7:comma])
    except ValueError:
        raise MalformedRecord("seq is not an integer") from None
    tail = line[-_CRC_LEN:]
    if not tail.startswith(_CRC_TAIL) or not tail.endswith(b'"}'):
        raise MalformedRecord("line does not end with a crc", seq)
    body = line[:-_CRC_LEN]
    try:
        crc = int(tail[len(_CRC_TAIL) : -2], 16)
    except ValueError:
        raise MalformedRecord("crc is not hexadecimal", seq) from None
    if zlib.crc32(body) != crc:
        raise ChecksumMismatch("checksum mismatch", seq)
    if line[comma + 1 : comma + 5] != b'"v":':
        raise MalformedRecord("schema version missing", seq)
    vend = line.find(b",", comma + 5)
    try:
        version = int(line[comma + 5 : vend])
    except ValueError:
        raise MalformedRecord("schema version is not an integer", seq) from None
    return seq, version, body


def decode_record(line: bytes) -> Record:
    """Decode and verify one journal line.

    Raises:
        CodecError: (a subclass) for any line that is not a valid record of a known kind.
    """
    seq, version, body = split_line(line)
    try:
        event: Event = _DECODER.decode(body + b"}")
    except msgspec.ValidationError as exc:
        return Record(seq, _decode_slow(seq, version, body, str(exc)))
    except msgspec.DecodeError as exc:
        raise MalformedRecord(f"invalid JSON: {exc}", seq) from None
    if version != event.SCHEMA_VERSION:
        return Record(seq, _decode_slow(seq, version, body, None))
    return Record(seq, event)


def _decode_slow(seq: int, version: int, body: bytes, error: str | None) -> Event:
    try:
        fields: dict[str, Any] = orjson.loads(body + b"}")
    except orjson.JSONDecodeError as exc:
        raise MalformedRecord(f"invalid JSON: {exc}", seq) from None
    kind = fields.get("kind")
    cls = ALL_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise UnknownKind(f"unknown event kind {kind!r}", seq)
    if version > cls.SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"{kind} schema v{version} is newer than this polyarb reads (v{cls.SCHEMA_VERSION})",
            seq,
        )
    if version == cls.SCHEMA_VERSION:
        raise MalformedRecord(f"{kind}: {error}", seq)
    for step in range(version, cls.SCHEMA_VERSION):
        upcast = UPCASTERS.get((cls.__struct_config__.tag, step))  # type: ignore[arg-type]
        if upcast is None:
            raise UnsupportedVersion(f"no upcaster for {kind} v{step}", seq)
        fields = upcast(fields)
    for key in ("seq", "v"):
        fields.pop(key, None)
    try:
        return msgspec.json.decode(orjson.dumps(fields), type=cls)
    except msgspec.ValidationError as exc:
        raise MalformedRecord(f"{kind} after upcast: {exc}", seq) from None


def encode_event(event: Event) -> bytes:
    """Canonical JSON of one event (no envelope): the form replay compares decisions in."""
    return _ENCODER.encode(event)


def decode_event(data: bytes) -> Event:
    """Inverse of encode_event, for any current-version kind."""
    try:
        event: Event = _DECODER.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise MalformedRecord(str(exc)) from None
    return event
