# The base of polyarb's event vocabulary.
#
# Rules for everything under polyarb/events:
# 1. Events are frozen msgspec Structs with keyword-only fields and a `kind` tag (snake_case of
#    the class name). The tag is the journal's `kind` column and the DuckDB view name.
# 2. Every event carries `ts_recv_ns`: integer nanoseconds since the Unix epoch, stamped by the
#    shell when the input arrived. Decisions carry the ts_recv_ns of the input that caused them,
#    so the core never needs a clock. A venue's own timestamp, where there is one, is kept
#    separately as `ts_venue_ns`.
# 3. Prices, sizes and money are exact: integer micro-units (fields ending in `_micros`: 1e-6 of
#    a share or of a collateral dollar) or Decimal. Never float. Token and condition ids are str.
# 4. Each kind has a SCHEMA_VERSION. Changing a kind's fields bumps it and registers an upcaster
#    in polyarb.events.codec so old journals stay readable.
# 5. This package imports nothing else from polyarb and does no I/O.
from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

MICROS = 1_000_000  # micro-units per share or per collateral dollar

Role = Literal["input", "decision", "journal"]


def kind_tag(class_name: str) -> str:
    """Return the `kind` tag for an event class name: `OrderFilled` -> `order_filled`."""
    out: list[str] = []
    for i, ch in enumerate(class_name):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class Event(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag_field="kind",
    tag=kind_tag,
):
    """Base of every journaled record.

    Subclasses set ROLE: "input" (a fact from outside, folded by the core), "decision" (an
    output of the core, regenerated and compared by replay) or "journal" (written by the
    journal itself, ignored by the core).
    """

    SCHEMA_VERSION: ClassVar[int] = 1
    ROLE: ClassVar[Role] = "input"

    ts_recv_ns: int


class Input(Event, frozen=True, kw_only=True):
    """A fact from outside the core: market data, venue responses, clock, operator."""

    ROLE: ClassVar[Role] = "input"


class Decision(Event, frozen=True, kw_only=True):
    """An output of the core. `cause_seq` is the journal seq of the input that caused it."""

    ROLE: ClassVar[Role] = "decision"

    cause_seq: int


class JournalNote(Event, frozen=True, kw_only=True):
    """A record the journal writes about itself (recovery, day roll)."""

    ROLE: ClassVar[Role] = "journal"


class Record(msgspec.Struct, frozen=True):
    """One journal entry: the writer-assigned global sequence number and its event."""

    seq: int
    event: Event
