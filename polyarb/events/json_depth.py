# Proofs that valid JSON is nested at most MAX_DEPTH levels, for the codec's verbatim embedding.
#
# Rules:
# 1. Every function takes bytes already known to be valid JSON (the codec's skip-mode validator
#    ran first) and answers exactly: the verdict never depends on a guess or on the caller's
#    stack depth. `few_brackets` is the free proof (counts); `shallow_json` the full one.
# 2. Small values (every market frame, the hot path) take one orjson parse wrapped in
#    ORJSON_DEPTH - MAX_DEPTH lists; values above LARGE_VALUE (the state checkpoint, ~15 MiB)
#    a bracket scan with C-speed bytes methods, ~10x cheaper, numpy only for deep or
#    bracket-holding strings (imported there, so starting the CLI never pays for it).
# 3. Pure: no I/O, no clock. tests/events/test_codec_depth.py holds the scan to orjson's verdict.
from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 512
ORJSON_DEPTH = 1024  # orjson's nesting limit since 3.9.15 (pinned by tests/events)
_DEPTH_OPEN = b"[" * (ORJSON_DEPTH - MAX_DEPTH)
_DEPTH_CLOSE = b"]" * (ORJSON_DEPTH - MAX_DEPTH)


def few_brackets(data: bytes) -> bool:
    """True when counting alone proves `data` nests at most MAX_DEPTH levels."""
    # A cheap proof of shallowness: nesting depth never exceeds the number of openers, nor half
    # the length (every level needs an opener and a closer), so short values need no count.
    return len(data) <= 2 * MAX_DEPTH or data.count(b"[") + data.count(b"{") <= MAX_DEPTH


def shallow_json(data: bytes) -> bool:
    """True when valid JSON `data` nests at most MAX_DEPTH levels (exact)."""
    # For valid JSON `data`. Small values (every market frame) take one orjson parse; a large one
    # (the state checkpoint's ~15 MiB) is scanned for brackets instead, ~10x cheaper and exact:
    # same verdict, except that a number beyond a double (1e400) no longer refuses a large
    # value, just as it never refused a value with few brackets.
    if len(data) > LARGE_VALUE:
        return _is_utf8(data) and depth_at_most(structural_brackets(data), MAX_DEPTH)
    return orjson_shallow(data)


def orjson_shallow(data: bytes) -> bool:
    """shallow_json by one orjson parse (the small-value path)."""
    # For valid JSON `data`: orjson refuses nesting deeper than ORJSON_DEPTH, so wrapping the
    # value in (ORJSON_DEPTH - MAX_DEPTH) lists tests its depth in one C-speed parse. (A value
    # orjson refuses for another reason, such as 1e400, is then kept in `text`: still lossless.)
    try:
        orjson.loads(_DEPTH_OPEN + data + _DEPTH_CLOSE)
    except orjson.JSONDecodeError:
        return False
    return True


# Above this size the bracket scan replaces the orjson parse (~10x less CPU on a 15 MiB state
# checkpoint); smaller values, every market frame, keep the hot path exactly as it was.
LARGE_VALUE = 64 * 1024
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))  # translate's delete set
_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_AS_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as int8
_PEEL_PASSES = 16


def _is_utf8(data: bytes) -> bool:
    # The skip validator does not check UTF-8 inside strings but orjson does: keep its verdict.
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def structural_brackets(data: bytes) -> bytes:
    """The brackets of valid JSON `data` that lie outside strings, in order."""
    # Escapes first. In valid JSON a backslash occurs only inside a string, and the first
    # backslash of every maximal run of them starts an escape: the byte before the run is the
    # opening quote, a plain character or the last byte of an escape (`"`, `/`, a letter or a
    # hex digit, never a backslash). So the parser pairs each run left to right, as `\\`, `\\`,
    # ... plus, for an odd run, one `\` escaping the next byte, which is not a backslash.
    # bytes.replace also pairs left to right from each run's first byte, and leaves an odd run's
    # last backslash next to the byte it escapes; the second replace then removes exactly the
    # escaped quotes. Every `"` left delimits a string. (UTF-8 multi-byte sequences hold no
    # ASCII byte, and `\u0022` is no `"` byte, so neither can fake a quote or a bracket.)
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = data.translate(None, _NOT_STRUCTURE)  # quotes and brackets only
    # Quotes now alternate open, close. If removing adjacent pairs left to right removes them
    # all, then each string's opening quote was followed by its closing one (by induction from
    # the first quote): no string held a bracket, and every bracket left is structural.
    bare = marks.replace(b'""', b"")
    return _outside_strings(marks) if b'"' in bare else bare


def _outside_strings(marks: bytes) -> bytes:
    # Some string holds a bracket: keep what lies outside every string (an even number of
    # quotes before it), vectorised since such values can hold millions of strings.
    import numpy as np  # here, not at the top: starting the CLI never pays for it

    codes = np.frombuffer(marks, dtype=np.uint8)
    quote = codes == ord('"')
    outside = (np.cumsum(quote, dtype=_total_dtype(np, len(marks))) & 1) == 0
    return bytes(codes[outside & ~quote].tobytes())


def depth_at_most(brackets: bytes, limit: int) -> bool:
    """True when balanced structural `brackets` nest at most `limit` levels."""
    # `brackets`: the balanced structural brackets of a JSON value; is its nesting <= limit?
    if len(brackets) <= 2 * limit:
        return True
    # One replace removes every pair that is empty in its input (it never rescans its own
    # output), so a pair holding a nest h levels tall goes in pass h: empty after k passes
    # means at most k levels. Typical values (the checkpoint: 6) end here without numpy.
    # A large remainder that shrank by under a quarter is a deep one: numpy is then cheaper
    # than more passes, and the passes cost at most ~4 first passes in all.
    parens = brackets.translate(_AS_PARENS)
    for _ in range(min(_PEEL_PASSES, limit)):
        rest = parens.replace(b"()", b"")
        if not rest:
            return True
        if len(rest) > 4096 and 4 * len(rest) > 3 * len(parens):
            break
        parens = rest
    return max_depth(brackets) <= limit


def max_depth(brackets: bytes) -> int:
    """The nesting depth of balanced structural `brackets`."""
    # The highest running total of +1 per opener, -1 per closer.
    import numpy as np  # here, not at the top: starting the CLI never pays for it

    steps = np.frombuffer(brackets.translate(_AS_STEPS), dtype=np.int8)
    return int(np.cumsum(steps, dtype=_total_dtype(np, len(brackets))).max(initial=0))


def _total_dtype(np: Any, n: int) -> Any:
    # A running total over n bytes stays within +-n: int32 (half the memory) unless n is huge.
    return np.int32 if n < 2**31 else np.int64
