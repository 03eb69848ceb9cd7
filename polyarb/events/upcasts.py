# Schema upcasts: turning an older version of a kind's fields into the current one.
#
# Rules:
# 1. UPCASTERS[(kind, v)] turns the field dict of a kind's schema v into that of v+1; a record
#    goes up one step at a time to the current SCHEMA_VERSION. A missing step is an
#    UnsupportedVersion, never a guess (codec rule 2).
# 2. An upcast is a pure function of the fields: it gives an old journal's record the meaning the
#    core gave it then, so the journal replays to the decisions it holds.
# 3. Fields are parsed JSON (ints exact), except fields that are msgspec.Raw in the current class:
#    they stay msgspec.Raw, so verbatim JSON is never re-serialised by an upcast.
# 4. No import of codec.py (it imports this module): errors come from codec_errors.py.
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from polyarb.events.base import Event
from polyarb.events.codec_errors import DECODE_ERRORS, MalformedRecord, UnsupportedVersion

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(kind, from_version) -> function turning a v(from) field dict into a v(from+1) one.

Values are parsed JSON (ints exact), except fields that are msgspec.Raw in the current class:
they stay msgspec.Raw, so verbatim JSON is never re-serialised by an upcast.
"""

# --- order_rejected v1 -> v2 (added `reason_code`) -------------------------------------------
# A v1 journal's decisions were made by a core that read the venue's words: a rejection whose
# reason held one of these texts was a FOK/FAK kill and did not count toward the rejected-order
# rate; every other rejection counted. The upcast gives each v1 rejection a code that the core
# treats exactly that way, so an old journal replays to the decisions it holds: `killed` for
# those texts and a counted code otherwise (a 425/429/503 refusal counted then, so it is
# `other` here, not `rate_limited` / `venue_unavailable`). This is the only place that text
# matching survives; adapters set the code of new records.
_V1_KILL_TEXTS = (
    "FOK orders are filled or killed",
    "no orders found to match with FAK order",
    "there are no matching orders",
)
_V1_ABSENT_TEXTS = ("not found at the venue",)  # runtime/reconcile.py's reasons then
_V1_WHOLE_REQUEST = (425, 429, 503)


def _order_rejected_v1(fields: dict[str, Any]) -> dict[str, Any]:
    reason, status = fields.get("reason"), fields.get("http_status")
    text = reason if isinstance(reason, str) else ""
    if any(k in text for k in _V1_KILL_TEXTS):
        code = "killed"
    elif text.startswith(_V1_ABSENT_TEXTS):
        code = "absent"
    elif isinstance(status, int) and 400 <= status < 500 and status not in _V1_WHOLE_REQUEST:
        code = "invalid"
    else:
        code = "other"
    return {**fields, "reason_code": code}


UPCASTERS[("order_rejected", 1)] = _order_rejected_v1
# order_outcome_unknown v1 -> v2 added the optional `venue_order_id`: a v1 record had none.
UPCASTERS[("order_outcome_unknown", 1)] = dict
# state_checkpoint v1 -> v2 added the optional `run_seq`: a v1 record's is unknown (None), so a
# restart from it finds the run_started by a scan, as v1 did.
UPCASTERS[("state_checkpoint", 1)] = dict


def upcast_record(
    seq: int,
    version: int,
    kind: str,
    cls: type[Event],
    parts: dict[str, msgspec.Raw],
    keep_raw: set[str],
) -> Event:
    """Decode a record of an older schema version of `cls` through UPCASTERS.

    Args:
        seq: the line's seq, for error messages.
        version: the line's schema version, older than cls.SCHEMA_VERSION.
        kind: the record's kind tag.
        cls: the current class of that kind.
        parts: the record's top-level fields, undecoded.
        keep_raw: names of cls's msgspec.Raw fields, kept verbatim (rule 3).

    Raises:
        MalformedRecord: a field is not JSON, or the upcast fields do not fit cls.
        UnsupportedVersion: a step from `version` up has no upcaster.
    """
    try:
        fields = {k: v if k in keep_raw else msgspec.json.decode(v) for k, v in parts.items()}
    except DECODE_ERRORS as exc:
        raise MalformedRecord(f"invalid JSON: {exc}", seq) from None
    for step in range(version, cls.SCHEMA_VERSION):
        upcast = UPCASTERS.get((kind, step))
        if upcast is None:
            raise UnsupportedVersion(f"no upcaster for {kind} v{step}", seq)
        fields = upcast(fields)
    for key in ("seq", "v"):
        fields.pop(key, None)
    try:
        return msgspec.json.decode(msgspec.json.encode(fields), type=cls)
    except DECODE_ERRORS as exc:
        raise MalformedRecord(f"{kind} after upcast: {exc}", seq) from None
