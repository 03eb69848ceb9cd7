# File permissions of everything the journal writes, and the refusal of a world-writable journal.
#
# Rules: every test that writes runs under umask 0 (the most permissive a user can have), so a
# file or directory that relies on the umask instead of an explicit mode shows up as 0666/0777.
# The umask is process-wide; it is restored after each test (xdist workers are processes).
from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyarb.cli import app
from polyarb.events.inputs import ConnectionOpened
from polyarb.journal import Durability, JournalUnreadable, JournalWriter, layout
from polyarb.journal.layout import JournalInsecure, check_not_world_writable
from polyarb.journal.seal import seal_day
from tests.replay.journal_builder import standard_journal

MIDNIGHT_NS = 1_766_793_600 * 1_000_000_000  # 2025-12-27T00:00:00Z
SEC = 1_000_000_000


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    """Permission bits of the root and everything under it, by path relative to the root."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in sorted(root.rglob("*")):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def _assert_owner_only(root: Path) -> dict[str, int]:
    modes = _modes(root)
    for name, mode in modes.items():
        want = layout.DIR_MODE if (root / name).is_dir() else layout.FILE_MODE
        assert mode == want, f"{name} is {oct(mode)}, want {oct(want)}"
    return modes


def _write_small_segments(root: Path, count: int, start_ns: int) -> None:
    with JournalWriter.open(root, durability=Durability(policy="none"),
                            segment_max_bytes=300) as writer:
        for i in range(count):
            writer.append(ConnectionOpened(ts_recv_ns=start_ns + i * SEC, conn=f"market-{i}",
                                           url="wss://test/ws"))


def test_journal_files_under_umask_zero_are_owner_only(tmp_path: Path, umask_zero: None) -> None:
    root = tmp_path / "a" / "b" / "journal"  # missing parents are created too

    standard_journal(root)  # two days, day roll, engine checkpoints, a restart
    seal_day(root / "2025-12-27")  # sealed Parquet and the manifest rewrite

    modes = _assert_owner_only(root)
    for parent in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(parent.stat().st_mode) == layout.DIR_MODE
    names = {Path(n).name for n in modes}
    assert {layout.LOCK_NAME, layout.MANIFEST_NAME, layout.SEALED_NAME} <= names
    assert any(layout.is_segment_name(n) for n in names)


_CRASHING_WRITER = """
import os, sys
from polyarb.events.inputs import ConnectionOpened
from polyarb.journal import Durability, JournalWriter
w = JournalWriter.open(sys.argv[1], durability=Durability(policy="always"), segment_max_bytes=300)
for i in range(12):
    w.append(ConnectionOpened(ts_recv_ns=int(sys.argv[2]) + i * 10**9, conn="c", url="wss://t"))
os._exit(0)  # a crash: segment and day left open, lock released by the kernel
"""


def test_journal_segment_roll_and_crash_recovery_keep_owner_only(tmp_path: Path,
                                                                 umask_zero: None) -> None:
    root = tmp_path / "journal"
    subprocess.run([sys.executable, "-c", _CRASHING_WRITER, str(root), str(MIDNIGHT_NS)],
                   check=True, timeout=60)
    [day] = layout.list_days(root)
    last = sorted(p for p in (root / day).iterdir() if layout.is_segment_name(p.name))[-1]
    with open(last, "ab") as f:
        f.write(b'{"torn": ')  # a torn last line: the next open truncates and journals it

    _write_small_segments(root, 3, MIDNIGHT_NS + 86_400 * SEC)  # recovery, then a new day

    modes = _assert_owner_only(root)
    assert sum(layout.is_segment_name(Path(n).name) for n in modes) > 3


def test_check_not_world_writable_names_root_and_fix(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    root.mkdir()
    os.chmod(root, 0o777)

    with pytest.raises(JournalInsecure) as info:
        check_not_world_writable(root)

    assert info.value.path == root
    assert f"chmod o-w {root}" in str(info.value)
    assert isinstance(info.value, JournalUnreadable)


def test_check_not_world_writable_day_dir_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    _write_small_segments(root, 2, MIDNIGHT_NS)
    [day] = layout.list_days(root)
    os.chmod(root / day, 0o757)

    with pytest.raises(JournalInsecure, match=f"chmod o-w {root / day}"):
        check_not_world_writable(root)


def test_check_not_world_writable_accepts_missing_group_writable_and_owner_only(
        tmp_path: Path) -> None:
    check_not_world_writable(tmp_path / "missing")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o770)
    check_not_world_writable(shared)


def test_writer_open_refuses_world_writable_root_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    root.mkdir()
    os.chmod(root, 0o777)

    with pytest.raises(JournalInsecure, match="world-writable"):
        JournalWriter.open(root)

    assert list(root.iterdir()) == []  # not even the lock file


def test_writer_open_refuses_world_writable_day_dir(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    _write_small_segments(root, 2, MIDNIGHT_NS)
    [day] = layout.list_days(root)
    os.chmod(root / day, 0o777)

    with pytest.raises(JournalInsecure):
        JournalWriter.open(root)


def test_seal_refuses_world_writable_newest_day(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    standard_journal(root)
    newest = root / layout.list_days(root)[-1]
    os.chmod(root, 0o777)

    with pytest.raises(JournalInsecure):
        seal_day(newest)


def test_cli_run_refuses_world_writable_journal_with_exit_2(tmp_path: Path) -> None:
    root = tmp_path / "journal"
    root.mkdir()
    os.chmod(root, 0o777)

    done = CliRunner().invoke(app, ["run", "--duration", "1", "--quiet",
                                    "--journal-dir", str(root)])

    assert done.exit_code == 2, done.output
    assert f"chmod o-w {root}" in done.output
    assert "world-writable" in done.output
    assert list(root.iterdir()) == []
