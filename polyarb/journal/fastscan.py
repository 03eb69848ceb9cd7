# Fast checks and decodes of journal lines in bulk: the hot loop of iter_records and replay.
#
# Rules:
# 1. Never looser than the reference path (polyarb.events.codec.split_line and decode_record):
#    a line passes the fast check only when the reference path accepts it with the same result.
#    Anything else (an uppercase CRC, an older schema version to upcast, a line that is not a
#    record at all) is left to the reference path, which raises the same errors as before.
# 2. A checked line has the canonical envelope `{"seq":<seq>,"v":<V>,...,"crc":"<8 lowercase
#    hex>"}` with the expected seq, the schema version V every kind is at, and a CRC-32 that
#    matches every byte before `,"crc":` (docs/journal-format.md): one format, one CRC and two
#    byte comparisons per line. When kinds are at different versions the check cannot tell a
#    current line from one to upcast without the kind, so no line is fast (all take the
#    reference path) until this module learns the kind -> version map.
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

_VERSIONS = {cls.SCHEMA_VERSION for cls in ALL_KINDS.values()}
SHARED_VERSION: int | None = _VERSIONS.pop() if len(_VERSIONS) == 1 else None
"""The schema version of every kind, or None when they differ (rule 2: then nothing is fast)."""

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
    crc32 = zlib.crc32
    head = b'{"seq":%d,"v":' + b"%d," % SHARED_VERSION
    i, end = start, len(lines)
    while i < end:
        line = lines[i]
        if not line.startswith(head % seq):
            return i
        if line[-_CRC_LEN:] != b',"crc":"%08x"}' % crc32(line[:-_CRC_LEN]):
            return i
        i += 1
        seq += 1
    return end


def seq_run(lines: list[bytes], start: int, seq: int) -> int:
    """Like checked_run, for seq continuity only: how far lines[start:] begin `{"seq":<seq>,`."""
    i, end = start, len(lines)
    while i < end and lines[i].startswith(b'{"seq":%d,' % seq):
        i += 1
        seq += 1
    return i
