# Which files hold each day of a journal, as seen by a reader that never blocks the writer.
#
# Rules:
# 1. Read-only: nothing here writes, locks or repairs anything.
# 2. One source per day, so a record is never counted twice: the Parquet copy when the manifest
#    records a seal AND the file exists, else the NDJSON segments the manifest lists.
# 3. The manifest is the authority on segments. The directory is listed BEFORE the manifest is
#    read: the writer lists a segment in the manifest before creating it, so every file seen in
#    that listing must be in the manifest; one that is not is an error, never silently skipped.
# 4. Segments the manifest marks closed are read strictly; open ones (a live or crashed writer's
#    tail) are read tolerating a torn last line (see scan.py).
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from polyarb.journal import layout


class JournalQueryError(ValueError):
    """A journal root or day that cannot be queried as asked (missing, empty, inconsistent)."""


class DaySource(msgspec.Struct, frozen=True, kw_only=True):
    """The files one day of one journal root is read from.

    Attributes:
        shard: the resolved journal root (the `shard` column of every view).
        day: `YYYY-MM-DD`.
        parquet: the sealed Parquet copy, when the day is read from it.
        closed: NDJSON segments read strictly (final, listed closed in the manifest).
        open: NDJSON segments a writer may still append to (torn last line tolerated).
        records: the record count the manifest states (provisional while the day is open).
        seal: the manifest's record of the Parquet copy, when the day is read from it.
    """

    shard: str
    day: str
    parquet: Path | None = None
    closed: tuple[Path, ...] = ()
    open: tuple[Path, ...] = ()
    records: int = 0
    seal: layout.SealInfo | None = None

    @property
    def kind(self) -> str:
        return "parquet" if self.parquet is not None else "ndjson"


def _segment_files(day_dir: Path) -> set[str]:
    return {
        p.name
        for p in day_dir.iterdir()
        if p.name.startswith(layout.SEGMENT_PREFIX) and p.name.endswith(layout.SEGMENT_SUFFIX)
    }


def _read_manifest(day_dir: Path) -> layout.Manifest:
    try:
        manifest = layout.read_manifest(day_dir)
    except (OSError, msgspec.DecodeError) as exc:
        raise JournalQueryError(
            f"{day_dir / layout.MANIFEST_NAME}: unreadable manifest: {exc}"
        ) from exc
    if manifest.day != day_dir.name:
        raise JournalQueryError(f"{day_dir}: manifest is for day {manifest.day!r}")
    return manifest


def _sealed_file(day_dir: Path, manifest: layout.Manifest) -> Path | None:
    if manifest.sealed is None:
        return None
    path = day_dir / Path(manifest.sealed.file).name
    # A missing copy is not an error: the segments stay the source of truth.
    return path if path.is_file() else None


def plan_day(root: Path, day: str, *, use_sealed: bool = True) -> DaySource | None:
    """The files to read for one day directory; None for a day the writer is still creating.

    With use_sealed false a sealed day is read from its segments (the source of truth).

    Raises:
        JournalQueryError: unreadable manifest, segment files the manifest does not list, or a
            closed segment that is missing.
    """
    day_dir = root / day
    on_disk = _segment_files(day_dir)  # before the manifest: rule 3
    if not (day_dir / layout.MANIFEST_NAME).exists():
        if on_disk:
            raise JournalQueryError(f"{day_dir}: segments but no {layout.MANIFEST_NAME}")
        return None
    manifest = _read_manifest(day_dir)
    base = DaySource(shard=str(root), day=day, records=manifest.records)
    unlisted = sorted(on_disk - {s.name for s in manifest.segments})
    if unlisted:
        raise JournalQueryError(f"{day_dir}: segment files not in the manifest: {unlisted}")
    parquet = _sealed_file(day_dir, manifest) if use_sealed else None
    if parquet is not None:
        return msgspec.structs.replace(base, parquet=parquet, seal=manifest.sealed)
    closed: list[Path] = []
    open_: list[Path] = []
    for seg in manifest.segments:
        path = day_dir / seg.name
        if seg.closed or manifest.closed:
            if seg.name not in on_disk:
                raise JournalQueryError(f"{path}: closed segment is missing")
            closed.append(path)
        elif seg.name in on_disk:  # an open segment may be listed just before it is created
            open_.append(path)
    return msgspec.structs.replace(base, closed=tuple(closed), open=tuple(open_))


def _day_name(day: str | dt.date) -> str:
    name = day.isoformat() if isinstance(day, dt.date) else str(day)
    if not layout.is_day_name(name):
        raise JournalQueryError(f"not a day (YYYY-MM-DD): {day!r}")
    return name


def plan_roots(
    roots: Sequence[Path],
    days: Iterable[str | dt.date] | None = None,
    *,
    use_sealed: bool = True,
) -> list[DaySource]:
    """Plan every selected day of every root, oldest day first within each root.

    Args:
        roots: journal roots (shards); each must exist and hold at least one day directory.
        days: only these days (`YYYY-MM-DD` or dates); each must exist in at least one root.
        use_sealed: read sealed days from their Parquet copy (false: from their segments).

    Raises:
        JournalQueryError: a missing or repeated root, a root without days, a requested day
            found in no root, or an inconsistent day directory (see plan_day).
    """
    if len({r.resolve() for r in roots}) != len(roots):
        raise JournalQueryError(f"a journal root is given twice: {[str(r) for r in roots]}")
    wanted = None if days is None else {_day_name(d) for d in days}
    plans: list[DaySource] = []
    found: set[str] = set()
    for root in roots:
        names = _root_days(root)
        selected = names if wanted is None else [d for d in names if d in wanted]
        found.update(selected)
        for day in selected:
            plan = plan_day(root, day, use_sealed=use_sealed)
            if plan is not None:
                plans.append(plan)
    missing = sorted((wanted or set()) - found)
    if missing:
        raise JournalQueryError(f"days not found in {[str(r) for r in roots]}: {missing}")
    return plans


def _root_days(root: Path) -> list[str]:
    if not root.exists():
        raise JournalQueryError(f"journal root {root} does not exist")
    if not root.is_dir():
        raise JournalQueryError(f"journal root {root} is not a directory")
    names = layout.list_days(root)
    if not names:
        raise JournalQueryError(
            f"journal root {root} holds no day directories (YYYY-MM-DD/): "
            "is this a journal root (--journal-dir)?"
        )
    return names
