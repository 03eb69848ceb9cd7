# Helpers for the report tests: journals written by the real writer (write_journal), journals
# with an exact layout (write_synthetic: open days, segment boundaries by record count, for torn
# tails), and one sample event of any kind built from its msgspec schema (so a new kind is
# covered without editing the tests).
#
# write_synthetic follows docs/journal-format.md (manifest with per-segment sha256 and the day's
# hash chain, 0600 files, 0700 directories) from lines encoded with polyarb.events.encode_record.
from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from polyarb.events import Event, RawFrame, TradeUpdated, encode_record
from polyarb.journal import Durability, JournalWriter, iter_records, layout

DAY0_NS = 1_766_793_600 * 1_000_000_000  # 2025-12-27T00:00:00Z
DAY_NS = 86_400 * 1_000_000_000


def write_journal(
    root: Path, events: Iterable[Event], *, segment_bytes: int = 64 << 20
) -> list[tuple[int, Event]]:
    """Append events with the real writer and close it; return every record as read back.

    The records include what the writer adds itself (a day_opened at the start of each day).
    Every day ends closed: earlier ones by the day roll, the last one by close().
    """
    with JournalWriter.open(root, durability=Durability(policy="none"),
                            segment_max_bytes=segment_bytes) as writer:  # fmt: skip
        for event in events:
            writer.append(event)
    return [(r.seq, r.event) for r in iter_records(root)]


def write_synthetic(
    root: Path,
    events: Sequence[Event],
    *,
    start_seq: int = 1,
    segment_records: int | None = None,
    open_last_day: bool = False,
) -> list[tuple[int, Event]]:
    """Write events (in order) as a journal under root; return the (seq, event) records.

    Days come from each event's ts_recv_ns. Every day is closed except, with open_last_day, the
    last one, whose last segment is then left open (no sha256, closed false) like a live writer's.
    """
    layout.make_dir(root)
    records = list(enumerate(events, start=start_seq))
    by_day: dict[int, list[tuple[int, Event]]] = {}  # UTC day number -> records
    for seq, event in records:
        by_day.setdefault(event.ts_recv_ns // DAY_NS, []).append((seq, event))
    prev_digest = None
    for i, (day_number, recs) in enumerate(sorted(by_day.items())):
        day = layout.day_of_ns(day_number * DAY_NS)
        is_open = open_last_day and i == len(by_day) - 1
        lines = [encode_record(seq, ev) for seq, ev in recs]
        manifest = write_day(root / day, day, lines, recs[0][0], segment_records, is_open)
        manifest.prev_digest = prev_digest
        manifest.digest = None if is_open else layout.day_digest(manifest)
        layout.write_manifest(root / day, manifest)
        prev_digest = manifest.digest
    return records


def write_day(
    day_dir: Path,
    day: str,
    lines: Sequence[bytes],
    first_seq: int,
    segment_records: int | None,
    is_open: bool,
) -> layout.Manifest:
    """Write one day's segments; return its manifest (not yet written, digest not set)."""
    layout.make_dir(day_dir)
    per = segment_records or len(lines)
    segments = []
    for start in range(0, len(lines), per):
        chunk = lines[start : start + per]
        seg_first = first_seq + start
        data = b"".join(chunk)
        path = day_dir / layout.segment_name(seg_first)
        write_file(path, data)
        last = start + per >= len(lines)
        closed = not (is_open and last)
        segments.append(
            layout.SegmentInfo(
                name=path.name,
                first_seq=seg_first,
                last_seq=seg_first + len(chunk) - 1,
                records=len(chunk),
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest() if closed else None,
                closed=closed,
            )
        )
    return layout.Manifest(
        day=day,
        first_seq=first_seq,
        last_seq=first_seq + len(lines) - 1,
        records=len(lines),
        segments=segments,
        closed=not is_open,
    )


def write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, layout.FILE_MODE)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def sample_value(t: mi.Type, name: str, rng: random.Random) -> Any:
    """A non-default value of a msgspec type (for sample events)."""
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.IntType):
        return rng.randrange(1, 10**15)
    if isinstance(t, mi.StrType):
        return f"{name}-{rng.randrange(10**6)}'\"é"
    if isinstance(t, mi.DecimalType):
        return Decimal(rng.randrange(1, 10**9)) / 1000
    if isinstance(t, mi.LiteralType):
        return t.values[-1]
    if isinstance(t, mi.RawType):
        return msgspec.Raw(b'{"k":[1,"two",{"x":null}],"n":12345678901234567890}')
    if isinstance(t, mi.UnionType):
        return sample_value(next(m for m in t.types if not isinstance(m, mi.NoneType)), name, rng)
    if isinstance(t, mi.VarTupleType | mi.ListType):
        return tuple(sample_value(t.item_type, name, rng) for _ in range(2))
    if isinstance(t, mi.StructType):
        return t.cls(**{f.name: sample_value(f.type, f.name, rng) for f in t.fields})
    raise AssertionError(f"no sample for {t!r} ({name}); extend sample_value")


def sample_event(
    cls: type[Event], ts_recv_ns: int, *, minimal: bool = False, seed: int = 0
) -> Event:
    """An event of any kind: every field set (minimal: only the required ones)."""
    rng = random.Random(f"{cls.__name__}-{seed}")
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    kwargs = {
        f.name: sample_value(f.type, f.name, rng)
        for f in info.fields
        if f.name != "ts_recv_ns" and (f.required or not minimal)
    }
    return cls(ts_recv_ns=ts_recv_ns, **kwargs)


TOKENS = ("1111", "2222", "3333", "98765432109876543210987654321")


def trades(n: int, rng: random.Random, ts0: int = DAY0_NS, step_ns: int = 1_000) -> list[Event]:
    """n trade_updated events with large sizes, so products and sums exceed 64 bits."""
    return [
        TradeUpdated(
            ts_recv_ns=ts0 + i * step_ns,
            trade_id=f"t{i}",
            venue_order_id=f"o{i}",
            token_id=rng.choice(TOKENS),
            side=rng.choice(("BUY", "SELL")),
            price_micros=rng.randrange(1, 1_000_000),
            size_micros=rng.randrange(1, 10**13),
            status="MATCHED",
            fee_micros=rng.choice((0, rng.randrange(1, 10**6))),
        )
        for i in range(n)
    ]


def frames(n: int, ts0: int = DAY0_NS, step_ns: int = 1_000) -> list[Event]:
    return [
        RawFrame(
            ts_recv_ns=ts0 + i * step_ns,
            conn="market-0",
            frame=msgspec.Raw(b'[{"event_type":"book","asset_id":"%d"}]' % i),
        )
        for i in range(n)
    ]


def interleave(*groups: Iterable[Event]) -> list[Event]:
    """All events sorted by ts_recv_ns (stable), like a single writer would see them."""
    return sorted((e for g in groups for e in g), key=lambda e: e.ts_recv_ns)


class JournalKit:
    """The helpers above as one fixture: under --import-mode=importlib a test module cannot
    import conftest, so tests reach them as `kit.write_journal(...)`."""

    DAY0_NS = DAY0_NS
    DAY_NS = DAY_NS
    TOKENS = TOKENS
    write_journal = staticmethod(write_journal)
    write_synthetic = staticmethod(write_synthetic)
    write_file = staticmethod(write_file)
    sample_event = staticmethod(sample_event)
    trades = staticmethod(trades)
    frames = staticmethod(frames)
    interleave = staticmethod(interleave)


@pytest.fixture(scope="session")
def kit() -> type[JournalKit]:
    return JournalKit


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20251227)
