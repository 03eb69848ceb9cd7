# Fast checks and decodes of journal lines in bulk: the hot loop of iter_records and replay.
#
# Rules:
# 1. Never looser than the reference path (polyarb.events.codec.split_line and decode_record):
#    a line passes a fast check only when the reference path accepts it with the same result.
#    Anything else (an uppercase CRC, an older schema version to upcast, a line that is not a
#    record at all) is left to the reference path, which raises the same errors as before.
# 2. A checked line has the canonical envelope `{"seq":<seq>,"v":...,"crc":"<8 lowercase hex>"}`
#    with the expected seq and a CRC-32 that matches every byte before `,"crc":` (docs/journal-
#    format.md); the check is one format, one CRC and two byte comparisons per line.
# 3. A checked line decodes whole with the codec's union decoder: the envelope's seq, v and crc
#    are not event fields and are skipped by the decoder (decode_record decodes the same bytes
#    minus the crc), so no slicing, no Record, no Python-level envelope parse per line.
from __future__ import annotations

import zlib
from typing import Any

import msgspec

from polyarb.events.base import Event
from polyarb.events.codec import ALL_KINDS

_UNION: Any = None
for _cls in ALL_KINDS.values():
    _UNION = _cls if _UNION is None else _UNION | _cls
_DECODER = msgspec.json.Decoder(_UNION)  # the codec's decoder: the same union, same options

# Event class -> the bytes after `"v":` of a current-version line of that kind.
_VERSION_TAIL = {cls: b"%d," % cls.SCHEMA_VERSION for cls in ALL_KINDS.values()}
_CRC_LEN = 18  # ,"crc":"xxxxxxxx"}


def checked_run(lines: list[bytes], start: int, seq: int) -> int:
    """How far lines[start:] hold records seq, seq + 1, ... in canonical form (rule 2).

    Args:
        lines: complete lines without their newline.
        start: the first index to check.
        seq: the seq lines[start] must have.

    Returns:
        The index of the first line from `start` on that fails the fast check (len(lines) when
        none does); the reference path decides about that line.
    """
    crc32 = zlib.crc32
    i = start
    end = len(lines)
    while i < end:
        line = lines[i]
        if not line.startswith(b'{"seq":%d,"v":' % seq):
            return i
        if line[-_CRC_LEN:] != b',"crc":"%08x"}' % crc32(line[:-_CRC_LEN]):
            return i
        i += 1
        seq += 1
    return end


def decode_checked(line: bytes) -> Event | None:
    """The event of a line that passed checked_run, or None for the reference path (rule 3).

    None when the line does not decode, or its schema version is not the kind's current one
    (decode_record then upcasts it or raises the precise error).
    """
    try:
        event: Event = _DECODER.decode(line)
    except Exception:  # any refusal: decode_record names the reason
        return None
    if not line.startswith(_VERSION_TAIL[type(event)], line.index(b",", 7) + 5):
        return None
    return event
