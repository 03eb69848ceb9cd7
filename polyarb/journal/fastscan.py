# Fast checks and decodes of journal lines in bulk: the hot loop of iter_records and replay.
#
# Rules:
# 1. Never looser than the reference path (polyarb.events.codec.split_line and decode_record):
#    a line passes the fast check only when the reference path accepts it with the same result.
#    Anything else (an uppercase CRC, an older schema version to upcast, a line that is not a
#    record at all) is left to the reference path, which raises the same errors as before.
# 2. A checked line has the canonical envelope `{"seq":<seq>,"v":<V>,"kind":"<tag>",...,"crc":
#    "<8 lowercase hex>"}` with the expected seq, V its kind's current schema version, and a
#    CRC-32 that matches every byte before `,"crc":` (docs/journal-format.md): one format, one
#    CRC and a few byte comparisons per line. The version is looked up per kind in
#    CURRENT_VERSIONS (kind -> current V, built from the event registry, codec.ALL_KINDS), so a
#    line at any other version (an older one to upcast, a newer one to refuse) is left to the
#    reference path whichever kinds get bumped. raw_frame lines, nearly all of a journal, are
#    told by one prefix test that holds their current version and kind (from the same table).
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

CURRENT_VERSIONS: dict[bytes, bytes] = {
    tag.encode(): b"%d" % cls.SCHEMA_VERSION for tag, cls in sorted(ALL_KINDS.items())}
"""Each kind's tag -> its current schema version as written (rule 2). Empty: no line is fast."""

_HOT_KIND = b"raw_frame"  # the kind of nearly every line, tested first with one prefix test
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
    current = CURRENT_VERSIONS
    if not current:
        return start
    crc32 = zlib.crc32
    hot_v = current.get(_HOT_KIND)
    # `%%d` stays the seq's placeholder; a line never starts with NUL, so no hot kind: no match
    hot = b'{"seq":%%d,"v":%s,"kind":"%s"' % (hot_v, _HOT_KIND) if hot_v else b"\0%d"
    i, end = start, len(lines)
    while i < end:
        line = lines[i]
        if not line.startswith(hot % seq) and not _at_current(
                line, b'{"seq":%d,"v":' % seq, current):
            return i
        if line[-_CRC_LEN:] != b',"crc":"%08x"}' % crc32(line[:-_CRC_LEN]):
            return i
        i += 1
        seq += 1
    return end


def _at_current(line: bytes, vhead: bytes, current: dict[bytes, bytes]) -> bool:
    """Whether `line` starts `vhead<V>,"kind":"<tag>"` with V the tag's current version."""
    if not line.startswith(vhead):
        return False
    at = len(vhead)
    comma = line.find(b',"kind":"', at)  # `"kind"` right after `"v"`, else V holds more
    if comma < 0:
        return False
    quote = line.find(b'"', comma + 9)
    return quote > 0 and current.get(line[comma + 9 : quote]) == line[at:comma]


def seq_run(lines: list[bytes], start: int, seq: int) -> int:
    """Like checked_run, for seq continuity only: how far lines[start:] begin `{"seq":<seq>,`."""
    i, end = start, len(lines)
    while i < end and lines[i].startswith(b'{"seq":%d,' % seq):
        i += 1
        seq += 1
    return i
