# The journal's exceptions and the Problem record every check reports.
#
# Rules:
# 1. Three failure classes the CLI maps to exit codes: JournalUnreadable (not a journal, missing,
#    no permission: exit 2), JournalCorrupt (a journal whose bytes or manifests are wrong: exit 1),
#    JournalLocked (another writer holds the journal).
# 2. Every problem names where it is: the file (relative to the journal root), and the line, seq
#    and byte offset when they are known. Messages are for humans; the fields are for code.
from __future__ import annotations

from collections.abc import Sequence

import msgspec


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with a journal, and where.

    Attributes:
        file: path relative to the journal root (`2025-12-27/seg-000000000001.ndjson`).
        line: 1-based line number in that file, when the problem is a line.
        seq: the record's seq (or the seq expected there), when known.
        offset: byte offset of the line or region in the file, when known.
        message: what is wrong.
    """

    file: str
    message: str
    line: int | None = None
    seq: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        return f"{', '.join(where)}: {self.message}"


class JournalError(Exception):
    """Base of every journal error."""


class JournalUnreadable(JournalError):
    """Not a readable journal: missing, not a directory, not a journal, or no permission."""


class JournalCorrupt(JournalError):
    """The journal's contents are wrong. `problems` lists them; the message names the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "unknown problem"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(f"journal is corrupt: {first}{suffix}")


class JournalLocked(JournalError):
    """Another writer holds the journal's lock. The holder's pid, host and start time are named."""

    def __init__(self, root: str, pid: int | None, host: str | None, since: str | None) -> None:
        self.root = root
        self.pid = pid
        self.host = host
        self.since = since
        if pid is None:
            holder = "another writer (holder details not yet written)"
        else:
            holder = f"pid {pid} on host {host or '?'}"
        when = f" (since {since})" if since else ""
        super().__init__(f"journal {root} is locked by {holder}{when}")


class JournalClosed(JournalError):
    """The writer was closed, or failed earlier and refuses further writes (crash-only)."""
