# The journal line codec: one event <-> one newline-terminated line of JSON.
#
# Rules:
# 1. A line is `{"seq":N,"v":V,"kind":"...","ts_recv_ns":T,<fields>,"crc":"xxxxxxxx"}\n` where
#    V is the kind's schema version and crc is the CRC-32 (zlib, 8 lowercase hex digits) of every
#    byte before `,"crc":`. The layout is fixed so seq, v and crc are read without a JSON parse.
#    docs/journal-format.md is the normative description; change both together.
# 2. Decoding never guesses: an unknown kind, a newer schema version, a bad checksum or a
#    malformed line raises a CodecError subclass naming the reason. Older versions are upcast
#    through UPCASTERS (upcasts.py), one step at a time.
# 3. Raw frames take a hot path that never re-encodes the frame: valid JSON is spliced in as is.
#    embed_text_frame classifies a frame once; its EmbeddedFrame is spliced without a re-check.
# 4. Verbatim JSON (a raw frame, or any msgspec.Raw field) is embedded only when it is one line of
#    valid JSON with no surrounding whitespace and bounded nesting, so every line written reads
#    back to the same event; anything else is refused at encode time instead of corrupting the
#    journal.
from __future__ import annotations

import base64
import zlib
from typing import Any

import msgspec
import orjson

from polyarb.events import decisions, inputs
from polyarb.events.base import Event, Record
from polyarb.events.codec_errors import DECODE_ERRORS as _DECODE_ERRORS
from polyarb.events.codec_errors import (
    ChecksumMismatch,
    CodecError,
    MalformedRecord,
    UnknownKind,
    UnsupportedVersion,
)
from polyarb.events.json_depth import few_brackets as _few_brackets
from polyarb.events.json_depth import shallow_json as _shallow_json
from polyarb.events.upcasts import UPCASTERS, Upcaster, upcast_record

# Re-exported: importers name these from the codec (errors in codec_errors, upcasts in upcasts).
__all__ = [
    "ALL_KINDS",
    "FORMAT_VERSION",
    "UPCASTERS",
    "ChecksumMismatch",
    "CodecError",
    "EmbeddedFrame",
    "MalformedRecord",
    "UnknownKind",
    "UnsupportedVersion",
    "Upcaster",
    "decode_event",
    "decode_record",
    "embed_text_frame",
    "encode_event",
    "encode_raw_frame",
    "encode_record",
    "frame_is_embeddable",
    "split_line",
]

FORMAT_VERSION = 1

_MODULES = (inputs, decisions)


def _collect_kinds() -> dict[str, type[Event]]:
    kinds: dict[str, type[Event]] = {}
    for module in _MODULES:
        for obj in vars(module).values():
            if not isinstance(obj, type) or obj.__module__ != module.__name__:
                continue
            if issubclass(obj, Event):
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

_PARTS_DECODER = msgspec.json.Decoder(dict[str, msgspec.Raw])
_VALIDATOR = msgspec.json.Decoder(msgspec.Raw)

# Deeper JSON is not embedded: msgspec's reader recurses once per level and stops near Python's
# recursion limit (1000), so this leaves a wide margin for the reader's own stack.
_JSON_SPACE = frozenset(b" \t\n\r")


def _raw_fields(cls: type[Event]) -> tuple[tuple[str, object], ...]:
    return tuple((f.name, f.default) for f in msgspec.structs.fields(cls) if f.type is msgspec.Raw)


# kind class -> (name, default) of its msgspec.Raw fields, checked before encoding.
_RAW_FIELDS = {cls: fields for cls in ALL_KINDS.values() if (fields := _raw_fields(cls))}

_CRC_TAIL = b',"crc":"'
_CRC_LEN = len(_CRC_TAIL) + 8 + 2  # ,"crc":"xxxxxxxx"}


def _finish(body: bytes) -> bytes:
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def _check_raw_fields(event: Event) -> None:
    for name, default in _RAW_FIELDS.get(type(event), ()):
        value = getattr(event, name)
        # msgspec omits a default only when it is the very default object; anything else,
        # even an empty Raw, is spliced into the line as is.
        if value is not default and not frame_is_embeddable(bytes(value)):
            kind = type(event).__struct_config__.tag
            raise MalformedRecord(
                f"{kind}.{name}: msgspec.Raw must hold one line of valid JSON "
                "without surrounding whitespace"
            )


def encode_record(seq: int, event: Event) -> bytes:
    """Encode one event as a complete journal line (with the trailing newline).

    Raises:
        MalformedRecord: a msgspec.Raw field would not read back (see frame_is_embeddable).
    """
    if type(event) in _RAW_FIELDS:
        _check_raw_fields(event)
    enc = _ENCODER.encode(event)
    return _finish(b'{"seq":%d,"v":%d,' % (seq, event.SCHEMA_VERSION) + enc[1:-1])


def _fits_one_line(data: bytes) -> bool:
    # Surrounding whitespace is valid JSON but a decoded msgspec.Raw drops it: not verbatim.
    return (
        data != b""
        and data[0] not in _JSON_SPACE
        and data[-1] not in _JSON_SPACE
        and b"\n" not in data
        and b"\r" not in data
    )


def _embeddable_line(data: bytes) -> bool:
    # frame_is_embeddable for bytes already known to hold no CR or LF (the hot path).
    if not data or data[0] in _JSON_SPACE or data[-1] in _JSON_SPACE:
        return False
    try:
        # The reader's own parser, in skip mode: accepts exactly what decode_record will read
        # and builds no objects, so it is several times faster than a full parse.
        _VALIDATOR.decode(data)
    except _DECODE_ERRORS:
        return False
    return _few_brackets(data) or _shallow_json(data)


def _cheap_checks_hold(data: bytes) -> bool:
    return _fits_one_line(data) and _few_brackets(data)


def frame_is_embeddable(data: bytes) -> bool:
    """True when a frame can be stored verbatim as a JSON value on one line.

    That is: valid JSON, no raw CR or LF, no leading or trailing whitespace, and nested at most
    512 levels deep, so the line reads back with exactly these bytes.
    """
    return b"\n" not in data and b"\r" not in data and _embeddable_line(data)


class EmbeddedFrame:
    """A text frame proven embeddable verbatim (frame_is_embeddable holds), as its UTF-8 bytes.

    Only `embed_text_frame` makes one: encode_raw_frame (and so the journal writer) splices
    `raw` into the line without checking it again, so a frame is classified once (rule 4).

    Attributes:
        raw: the frame's bytes, exactly as they go into the line.
    """

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def embed_text_frame(text: str, raw: bytes, *, parsed: bool = False) -> EmbeddedFrame | None:
    """Classify a text frame once: an EmbeddedFrame when it can be stored verbatim, else None.

    Args:
        text: the frame as received.
        raw: `text.encode("utf-8", "surrogatepass")`, which the caller needs anyway.
        parsed: True only when a msgspec JSON decoder (any schema) accepted exactly `raw`; the
            validity parse is then skipped, since every msgspec decoder accepts a subset of what
            the reader's skip parser accepts. The layout and depth checks still run.
    """
    # Newlines are checked on the str: several times cheaper than on the encoded bytes.
    if not raw or "\n" in text or "\r" in text:
        return None
    if not parsed:
        return EmbeddedFrame(raw) if _embeddable_line(raw) else None
    if raw[0] in _JSON_SPACE or raw[-1] in _JSON_SPACE:
        return None
    return EmbeddedFrame(raw) if _few_brackets(raw) or _shallow_json(raw) else None


_RAW_FRAME_V = inputs.RawFrame.SCHEMA_VERSION


def encode_raw_frame(
    seq: int,
    ts_recv_ns: int,
    conn: str,
    data: bytes | str | EmbeddedFrame,
    *,
    channel: str = "market",
    embeddable: bool | None = None,
) -> bytes:
    """Encode a websocket frame as a RawFrame line without re-encoding valid JSON.

    Args:
        data: the frame as received (str for text frames, bytes for binary frames), or the
            EmbeddedFrame that embed_text_frame made of a text frame (spliced unchecked).
        embeddable: pass the result of a JSON parse the caller already did; None checks here.
            A True hint is still checked for the cheap layout conditions (one line, no
            surrounding whitespace, bounded nesting). Ignored for an EmbeddedFrame.
    """
    tails = _CONN_TAILS.get((conn, channel))
    if tails is None:
        tails = _conn_tails(conn, channel)
    if isinstance(data, EmbeddedFrame):  # classified once by embed_text_frame: the hot path
        body = b'{"seq":%d,"v":%d,"kind":"raw_frame","ts_recv_ns":%d%s%s' % (
            seq, _RAW_FRAME_V, ts_recv_ns, tails[0], data.raw)
        return body + b',"crc":"%08x"}\n' % zlib.crc32(body)
    if isinstance(data, bytes):
        text = base64.b64encode(data).decode("ascii")
        body = _raw_head(seq, ts_recv_ns) + tails[1] + orjson.dumps(text) + b',"binary":true'
        return body + b',"crc":"%08x"}\n' % zlib.crc32(body)
    # Newlines are checked on the str: several times cheaper than on the encoded bytes.
    if "\n" not in data and "\r" not in data:
        raw = data.encode("utf-8", "surrogatepass")
        if embeddable is None:
            embeddable = _embeddable_line(raw)
        elif embeddable:
            embeddable = _cheap_checks_hold(raw)
        if embeddable:
            body = b'{"seq":%d,"v":%d,"kind":"raw_frame","ts_recv_ns":%d%s%s' % (
                seq, _RAW_FRAME_V, ts_recv_ns, tails[0], raw)
            return body + b',"crc":"%08x"}\n' % zlib.crc32(body)
    body = _raw_head(seq, ts_recv_ns) + tails[1] + orjson.dumps(data)
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


# (conn, channel) -> (bytes before an embedded frame, bytes before a text frame). Connection
# ids are few and long-lived; the cache is bounded anyway.
_CONN_TAILS: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _conn_tails(conn: str, channel: str) -> tuple[bytes, bytes]:
    mid = b',"conn":' + orjson.dumps(conn)
    if channel != "market":
        mid += b',"channel":' + orjson.dumps(channel)
    tails = (mid + b',"frame":', mid + b',"text":')
    if len(_CONN_TAILS) >= 4096:
        _CONN_TAILS.clear()
    _CONN_TAILS[(conn, channel)] = tails
    return tails


def _raw_head(seq: int, ts_recv_ns: int) -> bytes:
    return b'{"seq":%d,"v":%d,"kind":"raw_frame","ts_recv_ns":%d' % (seq, _RAW_FRAME_V, ts_recv_ns)


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
    except _DECODE_ERRORS as exc:
        raise MalformedRecord(f"invalid JSON: {exc}", seq) from None
    if version != event.SCHEMA_VERSION:
        return Record(seq, _decode_slow(seq, version, body, None))
    return Record(seq, event)


def _decode_slow(seq: int, version: int, body: bytes, error: str | None) -> Event:
    try:
        parts = _PARTS_DECODER.decode(body + b"}")
        kind = msgspec.json.decode(parts["kind"]) if "kind" in parts else None
    except _DECODE_ERRORS as exc:
        raise MalformedRecord(f"invalid JSON: {exc}", seq) from None
    if not isinstance(kind, str):
        raise MalformedRecord("kind is missing or not a string", seq)
    cls = ALL_KINDS.get(kind)
    if cls is None:
        raise UnknownKind(f"unknown event kind {kind!r}", seq)
    if version > cls.SCHEMA_VERSION:
        raise UnsupportedVersion(
            f"{kind} schema v{version} is newer than this polyarb reads (v{cls.SCHEMA_VERSION})",
            seq,
        )
    if version == cls.SCHEMA_VERSION:
        raise MalformedRecord(f"{kind}: {error}", seq)
    keep_raw = {name for name, _ in _RAW_FIELDS.get(cls, ())}
    return upcast_record(seq, version, kind, cls, parts, keep_raw)


def encode_event(event: Event) -> bytes:
    """Canonical JSON of one event (no envelope): the form replay compares decisions in.

    Raises:
        MalformedRecord: a msgspec.Raw field would not read back (see frame_is_embeddable).
    """
    if type(event) in _RAW_FIELDS:
        _check_raw_fields(event)
    return _ENCODER.encode(event)


def decode_event(data: bytes) -> Event:
    """Inverse of encode_event, for any current-version kind."""
    try:
        event: Event = _DECODER.decode(data)
    except _DECODE_ERRORS as exc:  # ValidationError is a DecodeError
        raise MalformedRecord(str(exc)) from None
    return event
