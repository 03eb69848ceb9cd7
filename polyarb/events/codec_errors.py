# The journal codec's errors: why a line cannot be turned into an event (see codec.py).
#
# Rules:
# 1. Every decode failure is one of these classes (codec rule 2: decoding never guesses), and
#    each names its reason; `seq` is set whenever the line's seq was readable.
# 2. Data only: no I/O and no imports from the rest of polyarb, so codec.py and upcasts.py can
#    both raise them without an import cycle. polyarb.events.codec re-exports every name here.
from __future__ import annotations

import msgspec

# Errors a decoder raises on hostile bytes: bad JSON or types, invalid UTF-8, absurd nesting.
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


class CodecError(ValueError):
    """A journal line that cannot be turned into an event. `seq` is set when it was readable."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason if seq is None else f"seq {seq}: {reason}")
        self.reason = reason
        self.seq = seq


class MalformedRecord(CodecError):
    """Not a polyarb journal line (bad layout or JSON, or fields of the wrong type).

    Also raised by the encoders for an event that would encode to such a line: a msgspec.Raw
    field that is empty, not JSON, or not on one line.
    """


class ChecksumMismatch(CodecError):
    """The line's CRC does not match its bytes: corruption."""


class UnknownKind(CodecError):
    """A kind this version of polyarb does not know (written by a newer polyarb?)."""


class UnsupportedVersion(CodecError):
    """A schema version newer than this polyarb understands for that kind."""
