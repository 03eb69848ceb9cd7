# On-disk layout of a journal root: names of day directories, segments and manifests, and the
# manifest record itself. docs/journal-format.md is the normative description; change both
# together. Writing a manifest is atomic (temp file, fsync, rename, fsync of the directory).
#
# Rules: paths are built only here; files are created owner-only (0600, directories 0700),
# whatever the umask. A journal whose root or day directory is world-writable is refused before
# anything is written or locked (check_not_world_writable): anyone on the machine could have
# planted or swapped a segment, manifest or symlink there, so the fix is the operator's call.
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import stat
from pathlib import Path

import msgspec

from polyarb.journal.errors import JournalUnreadable

MANIFEST_NAME = "manifest.json"
LOCK_NAME = "writer.lock"
SEALED_NAME = "sealed.parquet"
SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".ndjson"
JOURNAL_FORMAT = "polyarb-journal"
JOURNAL_FORMAT_VERSION = 1
DIR_MODE = 0o700
FILE_MODE = 0o600

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEGMENT_RE = re.compile(r"^seg-\d{12,}\.ndjson$")
NS_PER_DAY = 86_400 * 1_000_000_000


class JournalInsecure(JournalUnreadable):
    """A journal directory is world-writable; `path` names it (the CLI exits 2)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"journal directory {path} is world-writable (anyone on this machine "
                         f"could plant or replace journal files); fix it with: chmod o-w {path}")


class SegmentInfo(msgspec.Struct, kw_only=True):
    """One segment file of a day. `sha256`/`last_seq`/`bytes` are final once `closed`."""

    name: str
    first_seq: int
    last_seq: int | None = None
    records: int = 0
    bytes: int = 0
    sha256: str | None = None
    closed: bool = False


class SealInfo(msgspec.Struct, kw_only=True):
    """A Parquet copy of a closed day (see `polyarb journal seal`)."""

    file: str
    first_seq: int
    last_seq: int
    records: int
    sha256: str


class Manifest(msgspec.Struct, kw_only=True):
    """Per-day manifest. `digest` is the hash chain over the day's segments, set when closed."""

    format: str = JOURNAL_FORMAT
    format_version: int = JOURNAL_FORMAT_VERSION
    schema_version: int = 1
    day: str
    first_seq: int | None = None
    last_seq: int | None = None
    records: int = 0
    run_ids: list[str] = msgspec.field(default_factory=list)
    segments: list[SegmentInfo] = msgspec.field(default_factory=list)
    prev_digest: str | None = None
    digest: str | None = None
    closed: bool = False
    sealed: SealInfo | None = None


def day_of_ns(ts_ns: int) -> str:
    """The UTC day (`YYYY-MM-DD`) of a nanosecond timestamp."""
    return _dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, _dt.UTC).strftime("%Y-%m-%d")


def day_end_ns(day: str) -> int:
    """First nanosecond of the UTC day after `day`."""
    start = _dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=_dt.UTC)
    return int(start.timestamp()) * 1_000_000_000 + NS_PER_DAY


def day_start_ns(day: str) -> int:
    """First nanosecond of the UTC day `day`."""
    return day_end_ns(day) - NS_PER_DAY


def is_day_name(name: str) -> bool:
    return _DAY_RE.match(name) is not None


def list_days(root: Path) -> list[str]:
    """Day directory names under a journal root, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and is_day_name(p.name))


def segment_name(first_seq: int) -> str:
    return f"{SEGMENT_PREFIX}{first_seq:012d}{SEGMENT_SUFFIX}"


def is_segment_name(name: str) -> bool:
    """True for a segment file name (`seg-` + 12 digits + `.ndjson`)."""
    return _SEGMENT_RE.match(name) is not None


def chain_start(day: str, prev_digest: str | None) -> str:
    """Seed of a day's hash chain: it links the day to the previous day's digest."""
    seed = f"{JOURNAL_FORMAT}-v{JOURNAL_FORMAT_VERSION}:{day}:{prev_digest or ''}"
    return hashlib.sha256(seed.encode()).hexdigest()


def chain_step(chain: str, segment_sha256: str) -> str:
    return hashlib.sha256(bytes.fromhex(chain) + bytes.fromhex(segment_sha256)).hexdigest()


def day_digest(manifest: Manifest) -> str | None:
    """The chain over the manifest's segments; None while any segment is still open."""
    chain = chain_start(manifest.day, manifest.prev_digest)
    for seg in manifest.segments:
        if seg.sha256 is None:
            return None
        chain = chain_step(chain, seg.sha256)
    return chain


def read_manifest(day_dir: Path) -> Manifest:
    """Read a day's manifest. Raises OSError or msgspec errors on a missing or bad file."""
    return msgspec.json.decode((day_dir / MANIFEST_NAME).read_bytes(), type=Manifest)


def write_manifest(day_dir: Path, manifest: Manifest) -> None:
    """Atomically replace a day's manifest."""
    data = msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n"
    tmp = day_dir / (MANIFEST_NAME + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, day_dir / MANIFEST_NAME)
    fsync_dir(day_dir)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir(path: Path) -> None:
    """Create a directory and its missing parents owner-only (0700 whatever the umask).

    `Path.mkdir(parents=True)` would create the parents with the umask's permissions (0777
    under umask 0), so each missing level is created here; existing ones are left alone.
    """
    missing = []
    level = Path(path)
    while not level.exists() and level != level.parent:
        missing.append(level)
        level = level.parent
    for new in reversed(missing):
        new.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(new, DIR_MODE)
    if not missing:
        path.mkdir(mode=DIR_MODE, exist_ok=True)  # raises if it exists as a file
        os.chmod(path, DIR_MODE)


def _world_writable(path: Path) -> bool:
    try:
        mode = path.stat().st_mode  # follows a symlinked root: its target is what gets written
    except OSError:
        return False  # missing: it will be created 0700 (other errors surface when opened)
    return stat.S_ISDIR(mode) and bool(mode & stat.S_IWOTH)


def check_not_world_writable(root: Path) -> None:
    """Refuse a journal whose root or any day directory is world-writable (o+w).

    A missing root passes (it is created 0700). Group-writable is allowed: a shared group is a
    deliberate choice, "others" never is.

    Raises:
        JournalInsecure: names the first world-writable directory and the `chmod o-w` fix.
    """
    root = Path(root)
    for path in [root, *(root / day for day in list_days(root))]:
        if _world_writable(path):
            raise JournalInsecure(path)
