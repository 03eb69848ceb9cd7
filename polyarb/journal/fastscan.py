# Fast checks and decodes of journal lines in bulk: the hot loop of iter_records and replay.
#
# Rules:
# 1. Never looser than the reference path (polyarb.events.codec.split_line and decode_record):
#    a line passes the fast check only when the reference path accepts it with the same result.
#    Anything else (an uppercase CRC, an older schema version to upcast, a line that is not a
#    record at all) is left to the reference path, which raises the same errors as before.
# 2. A checked line has the canonical envelope `{"seq":<seq>,"v":<V>,...,"crc":"<8 lowercase
#    hex>"}` with the expected seq, its kind's current schema version V, and a CRC-32 that
#    matches every byte before `,"crc":` (docs/journal-format.md): one format, one CRC and a few
#    byte comparisons per line. Most kinds share one version (SHARED_VERSION): a line at it is
#    current unless its kind is one of the few at another version (`"kind":"<tag>"` follows the
#    version, so one prefix test tells); a line at another version must name one of those kinds
#    at its current version. Anything else (an older line to upcast) takes the reference path.
#    raw_frame lines, nearly all of a journal, are told by one prefix test that includes the kind.
# 3. A checked line decodes whole with `decode` (the codec's union decoder): the envelope's
#    seq, v and crc are not event fields and are skipped (decode_record decodes the same bytes
#    minus the crc), so no slicing, no Record, no Python-level envelope parse per line. If it
#    raises, the reference decode names the reason.
from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import msgspec

from polyarb.events.base import Event
from polyarb.events.codec import ALL_KINDS

_UNION: Any = None
for _cls in ALL_KINDS.values():
    _UNION = _cls if _UNION is None else _UNION | _cls

decode: Callable[[bytes], Event] = msgspec.json.Decoder(_UNION).decode
"""The codec's decoder (same union, same options) for lines checked_run vouched for (rule 3)."""

_VERSIONS = sorted(cls.SCHEMA_VERSION for cls in ALL_KINDS.values())
SHARED_VERSION: int | None = max(_VERSIONS, key=_VERSIONS.count)  # ties: the lowest
"""The schema version most kinds are at (rule 2); None makes no line fast."""

_ODD = sorted((tag, cls.SCHEMA_VERSION) for tag, cls in ALL_KINDS.items()
              if cls.SCHEMA_VERSION != SHARED_VERSION)
_ODD_KINDS = tuple(b'%s"' % tag.encode() for tag, _ in _ODD)
"""After `"v":<SHARED_VERSION>,"kind":"`: kinds at another version, so the line is to upcast."""
_ODD_CURRENT = tuple(b'%d,"kind":"%s"' % (v, tag.encode()) for tag, v in _ODD)
"""After `"v":`: the current lines of those kinds."""

_HOT = b'raw_frame"' if ALL_KINDS["raw_frame"].SCHEMA_VERSION == SHARED_VERSION else b"\0"
"""The kind of nearly every line, tested first; a NUL never matches when it is not current."""

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
    if SHARED_VERSION is None:
        return start
    crc32, odd, odd_current = zlib.crc32, _ODD_KINDS, _ODD_CURRENT
    # `"kind"` right after `"v"` (the canonical layout): else the odd-kind test could miss
    head = b'{"seq":%d,"v":' + b'%d,"kind":"' % SHARED_VERSION
    hot = head + _HOT  # the bulk of a journal: one prefix test, as with a single version
    i, end = start, len(lines)
    while i < end:
        line = lines[i]
        if not line.startswith(hot % seq):
            shared = head % seq
            if line.startswith(shared):
                if odd and line.startswith(odd, len(shared)):
                    return i
            elif not odd_current or not _at_current(line, b'{"seq":%d,"v":' % seq,
                                                    odd_current):
                return i
        if line[-_CRC_LEN:] != b',"crc":"%08x"}' % crc32(line[:-_CRC_LEN]):
            return i
        i += 1
        seq += 1
    return end


def _at_current(line: bytes, vhead: bytes, current: tuple[bytes, ...]) -> bool:
    return line.startswith(vhead) and line.startswith(current, len(vhead))


def seq_run(lines: list[bytes], start: int, seq: int) -> int:
    """Like checked_run, for seq continuity only: how far lines[start:] begin `{"seq":<seq>,`."""
    i, end = start, len(lines)
    while i < end and lines[i].startswith(b'{"seq":%d,' % seq):
        i += 1
        seq += 1
    return i
