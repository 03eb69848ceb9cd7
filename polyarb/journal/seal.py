# Sealing: a Parquet copy of a closed UTC day (`sealed.parquet`), so queries skip JSON parsing.
#
# Rules:
# 1. Only a closed day is sealed (days never reopen, so its segments are final). The NDJSON
#    segments stay: they remain the source of truth, and the copy can always be rebuilt.
# 2. Never seal bad bytes: every segment's size and sha256 must match the manifest first, and
#    every line is parsed strictly (explicit columns, no ignore_errors).
# 3. The copy has the stored columns of the `events` view (polyarb.reports.schema) in seq order.
#    It is checked before it is published: row count, first and last seq, and that row i holds
#    seq first_seq + i (so no gap, duplicate or reordering).
# 4. Crash-safe publication: temp file, fsync, 0600, rename, fsync of the directory, then the
#    manifest records SealInfo atomically. A crash in between leaves a sealed.parquet that no
#    manifest vouches for; readers ignore it (they need `manifest.sealed`) and the next seal
#    replaces it. A crash before the rename leaves `sealed.parquet.tmp-<pid>`, which nothing
#    reads; the next seal of that day deletes it once no process has that pid (a concurrent
#    sealer's copy is left alone).
# 5. Sealing a sealed day returns the recorded SealInfo when the file still matches it; a
#    mismatching file is an error (delete it to re-seal), never silently replaced.
# 6. Only the newest day of a root can change after it is closed (a writer restarting within the
#    same UTC day reopens it and drops its seal), so sealing the newest day holds the writer lock
#    throughout; older days never change and are sealed without it, next to a running writer.
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import msgspec

from polyarb.journal import layout
from polyarb.journal.errors import JournalError, JournalLocked
from polyarb.journal.lock import WriterLock
from polyarb.reports import scan
from polyarb.reports.schema import quote_str

_CHUNK = 1 << 20


class SealError(JournalError):
    """A day that cannot be sealed (open, empty, corrupt, or a mismatching existing copy)."""


def seal_day(day_dir: Path) -> layout.SealInfo:
    """Write and record the Parquet copy of one closed day.

    Args:
        day_dir: the day directory (`<journal root>/YYYY-MM-DD`).

    Returns:
        The SealInfo now recorded in the day's manifest (or already recorded there).

    Raises:
        SealError: the day is not closed, has no records, a segment does not match the manifest
            or holds a bad line, the copy fails verification, an existing copy does not match
            its seal record, or it is the newest day and a writer holds the journal.
    """
    root = day_dir.parent
    if layout.list_days(root)[-1:] != [day_dir.name]:
        return _seal(day_dir)
    try:
        lock = WriterLock.acquire(root)
    except JournalLocked as exc:
        raise SealError(
            f"{day_dir.name} is the newest day and {exc}; a restarting writer could reopen it, "
            "so seal it when no writer runs or once a later day exists"
        ) from exc
    try:
        return _seal(day_dir)
    finally:
        lock.release()


def _seal(day_dir: Path) -> layout.SealInfo:
    manifest = _closed_manifest(day_dir)
    _remove_dead_temps(day_dir)
    existing = _existing_seal(day_dir, manifest)
    if existing is not None:
        return existing
    segments = _checked_segments(day_dir, manifest)
    tmp = day_dir / f"{layout.SEALED_NAME}.tmp-{os.getpid()}"
    try:
        _write_parquet(segments, tmp, day_dir)
        _verify_parquet(tmp, manifest, day_dir)
        digest = _publish(tmp, day_dir / layout.SEALED_NAME)
    finally:
        tmp.unlink(missing_ok=True)
    assert manifest.first_seq is not None and manifest.last_seq is not None
    info = layout.SealInfo(
        file=layout.SEALED_NAME,
        first_seq=manifest.first_seq,
        last_seq=manifest.last_seq,
        records=manifest.records,
        sha256=digest,
    )
    layout.write_manifest(day_dir, msgspec.structs.replace(manifest, sealed=info))
    return info


def _remove_dead_temps(day_dir: Path) -> None:
    """Delete the temporary copies of sealers that died mid-seal (SIGKILL, power loss)."""
    for path in day_dir.glob(f"{layout.SEALED_NAME}.tmp-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_exists(int(pid)):
            path.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _closed_manifest(day_dir: Path) -> layout.Manifest:
    try:
        manifest = layout.read_manifest(day_dir)
    except (OSError, msgspec.DecodeError) as exc:
        raise SealError(f"{day_dir}: cannot read the manifest: {exc}") from exc
    if not manifest.closed:
        raise SealError(
            f"{day_dir.name} is not closed (a writer may still append to it); "
            "only a closed day can be sealed"
        )
    if manifest.records == 0 or manifest.first_seq is None or manifest.last_seq is None:
        raise SealError(f"{day_dir.name} has no records to seal")
    return manifest


def _existing_seal(day_dir: Path, manifest: layout.Manifest) -> layout.SealInfo | None:
    sealed = manifest.sealed
    if sealed is None:
        return None
    path = day_dir / Path(sealed.file).name
    if not path.is_file():
        return None  # the copy was deleted: rebuild it from the segments
    if file_sha256(path) != sealed.sha256:
        raise SealError(
            f"{path} does not match the manifest's seal record (sha256 differs); "
            "delete it and seal again"
        )
    return sealed


def _checked_segments(day_dir: Path, manifest: layout.Manifest) -> list[Path]:
    paths = []
    for seg in manifest.segments:
        path = day_dir / seg.name
        try:
            size, digest = path.stat().st_size, file_sha256(path)
        except OSError as exc:
            raise SealError(f"{path}: cannot read the segment: {exc}") from exc
        if size != seg.bytes or digest != seg.sha256:
            raise SealError(
                f"{path} does not match the manifest (size {size} vs {seg.bytes}, or sha256); "
                "run `polyarb journal verify`"
            )
        paths.append(path)
    return paths


def _write_parquet(segments: list[Path], tmp: Path, day_dir: Path) -> None:
    query = scan.segments_select(segments)
    target = quote_str(str(tmp))
    with duckdb.connect(":memory:") as con:
        # Insertion order is DuckDB's default and keeps rows in segment (= seq) order;
        # _verify_parquet proves it. Setting it explicitly documents the dependency.
        con.execute("SET preserve_insertion_order = true")
        try:
            con.execute(f"COPY ({query}) TO {target} (FORMAT PARQUET, COMPRESSION zstd)")
        except duckdb.Error as exc:
            raise SealError(f"{day_dir.name}: cannot convert the segments: {exc}") from exc


def _verify_parquet(tmp: Path, manifest: layout.Manifest, day_dir: Path) -> None:
    scan_sql = f"read_parquet({quote_str(str(tmp))}, file_row_number=true)"
    with duckdb.connect(":memory:") as con:
        row = con.execute(
            f"SELECT count(*), min(seq), max(seq), "
            f"count(*) FILTER (WHERE seq IS DISTINCT FROM ? + file_row_number) FROM {scan_sql}",
            [manifest.first_seq],
        ).fetchone()
    assert row is not None
    records, first, last, misplaced = row
    want = (manifest.records, manifest.first_seq, manifest.last_seq, 0)
    if (records, first, last, misplaced) != want:
        raise SealError(
            f"{day_dir.name}: the Parquet copy has {records} rows, seqs {first}..{last} "
            f"({misplaced} out of place) but the manifest says {manifest.records} records, "
            f"seqs {manifest.first_seq}..{manifest.last_seq}; nothing was sealed"
        )


def _publish(tmp: Path, final: Path) -> str:
    os.chmod(tmp, layout.FILE_MODE)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    digest = file_sha256(tmp)
    os.replace(tmp, final)
    layout.fsync_dir(final.parent)
    return digest


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
