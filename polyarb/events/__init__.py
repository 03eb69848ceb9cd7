# polyarb's event vocabulary: every record the journal holds. See base.py for the rules.
from polyarb.events.base import MICROS, Decision, Event, Input, JournalNote, Record, kind_tag
from polyarb.events.codec import (
    ALL_KINDS,
    FORMAT_VERSION,
    ChecksumMismatch,
    CodecError,
    MalformedRecord,
    UnknownKind,
    UnsupportedVersion,
    decode_event,
    decode_record,
    encode_event,
    encode_raw_frame,
    encode_record,
)
from polyarb.events.decisions import *  # noqa: F403
from polyarb.events.inputs import *  # noqa: F403

__all__ = [
    "ALL_KINDS",
    "FORMAT_VERSION",
    "MICROS",
    "ChecksumMismatch",
    "CodecError",
    "Decision",
    "Event",
    "Input",
    "JournalNote",
    "MalformedRecord",
    "Record",
    "UnknownKind",
    "UnsupportedVersion",
    "decode_event",
    "decode_record",
    "encode_event",
    "encode_raw_frame",
    "encode_record",
    "kind_tag",
    *(cls.__name__ for cls in ALL_KINDS.values()),
]
