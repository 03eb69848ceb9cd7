# Where a replay starts and with which config (polyarb/replay.py rule 2 and 4).
#
# Rules:
# 1. The asked days are those of a day directory (one) or of a journal root (all). The replay
#    starts at the first asked day's `state_checkpoint` (the record right after its `day_opened`,
#    named by `checkpoint_seq`). A day without one is replayed from an earlier day: walking back
#    along `day_opened.prev_day` to the nearest day with a checkpoint, or to the journal's first
#    day (`prev_day` null). An earlier day that is named but not on disk stops the walk:
#    ReplayError, never a replay from a guessed state.
# 2. The config before the first record replayed: an explicit one, else the `config` of the
#    latest `run_started` before the start (found through the closed days' manifests, whose
#    `run_ids` say which days hold one), else EngineConfig() defaults (with a warning when the
#    replay starts from a checkpoint taken after some records, since an earlier run_started may
#    have been pruned).
# 3. Read-only, like every reader: only the first two records of each day on the walk and the
#    lines of the one day holding the latest run_started are read here.
from __future__ import annotations

import itertools
from pathlib import Path

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.events import CodecError, DayOpened, RunStarted, StateCheckpoint, decode_record
from polyarb.journal import layout
from polyarb.journal.errors import JournalCorrupt, JournalUnreadable, Problem
from polyarb.journal.reader import iter_blocks
from polyarb.journal.scan import kind_of_line, locate, read_manifest_or_none
from polyarb.replay_config import ConfigError, config_from_journal

_RUN_STARTED = b'"kind":"run_started"'


class ReplayError(Exception):
    """The journal cannot be replayed as asked (no usable start, bad checkpoint or config)."""


class ReplayPlan(msgspec.Struct, kw_only=True):
    """What to read and how to begin.

    Attributes:
        root: the journal root.
        days: the days to read, in order (earlier days first when the walk went back).
        asked: the days asked for.
        from_seq: the first seq to fold (1, or the one after the start checkpoint).
        checkpoint: (seq, record) of the checkpoint the engine starts from, if any.
        config: the config before the first record.
        warnings: things the user should know (defaults used, ...).
    """

    root: Path
    days: list[str]
    asked: list[str]
    from_seq: int = 1
    checkpoint: tuple[int, StateCheckpoint] | None = None
    config: EngineConfig = msgspec.field(default_factory=EngineConfig)
    warnings: list[str] = msgspec.field(default_factory=list)

    def describe(self) -> str:
        """One line: where the replay starts."""
        first = self.days[0] if self.days else "?"
        if self.checkpoint is not None:
            where = f"state_checkpoint seq {self.checkpoint[0]} of {first}"
        else:
            where = f"the start of the journal ({first})"
        extra = [d for d in self.days if d not in self.asked]
        if extra:
            where += f"; earlier days replayed first: {', '.join(extra)}"
        return where


def plan_replay(path: Path | str, config: EngineConfig | None) -> ReplayPlan:
    """Plan a replay of a journal root or day directory (rules 1-2).

    Raises:
        JournalUnreadable: not a journal, or one without days.
        JournalCorrupt: a day's first records cannot be read.
        ReplayError: an earlier day needed for the start is missing; a bad journaled config.
    """
    root, asked = locate(path)
    if not asked:
        raise JournalUnreadable(f"{root}: the journal holds no days yet")
    all_days = layout.list_days(root)
    days, checkpoint = _walk_back(root, asked[0], all_days)
    plan = ReplayPlan(root=root, days=days + asked, asked=asked, checkpoint=checkpoint)
    if checkpoint is not None:
        plan.from_seq = checkpoint[0] + 1
    if config is not None:
        plan.config = config
    elif checkpoint is not None and checkpoint[1].at_seq > 0:
        plan.config = _config_before(root, all_days, plan.days[0], plan)
    return plan


def _walk_back(root: Path, day: str, all_days: list[str]
               ) -> tuple[list[str], tuple[int, StateCheckpoint] | None]:
    """Earlier days to read before `day`, and the checkpoint to start from (rule 1)."""
    earlier: list[str] = []
    while True:
        opened, checkpoint = _head(root, day)
        if checkpoint is not None:
            return earlier, checkpoint
        prev = _prev_day(opened, day, all_days)
        if prev is None:
            return earlier, None
        if prev not in all_days:
            raise ReplayError(
                f"day {day} has no state_checkpoint, so it replays from the days before it, but "
                f"day {prev} is not in {root}; restore the earlier days or replay a day that "
                "has a checkpoint")
        earlier.insert(0, prev)
        day = prev


def _head(root: Path, day: str) -> tuple[DayOpened | None, tuple[int, StateCheckpoint] | None]:
    """The day's `day_opened` and the checkpoint that follows it, when there is one."""
    # Seq continuity over the first chunk, the reference decode (CRC included) of two lines.
    blocks = iter_blocks(root, day=day, check=False)  # dropped (its file closed) on return
    records = (record for block in blocks for record in block.records())
    head = list(itertools.islice(records, 2))
    first = head[0] if head else None
    second = head[1] if len(head) > 1 else None
    if first is None or type(first.event) is not DayOpened:
        return None, None
    opened = first.event
    if (second is not None and type(second.event) is StateCheckpoint
            and opened.checkpoint_seq == second.seq):
        return opened, (second.seq, second.event)
    return opened, None


def _prev_day(opened: DayOpened | None, day: str, all_days: list[str]) -> str | None:
    if opened is not None:
        return opened.prev_day
    # A day that does not start with day_opened (not written by JournalWriter): the days on disk
    # are all there is to go by.
    i = all_days.index(day)
    return all_days[i - 1] if i > 0 else None


def _config_before(root: Path, all_days: list[str], start_day: str,
                   plan: ReplayPlan) -> EngineConfig:
    """The config of the latest run_started before the start day (rule 2)."""
    for day in reversed(all_days[: all_days.index(start_day)]):
        manifest, _ = read_manifest_or_none(root / day)
        if manifest is None or not manifest.run_ids:
            continue
        found = _last_run_started(root, day)
        if found is not None:
            seq, event = found
            try:
                return config_from_journal(bytes(event.config), seq)
            except ConfigError as exc:
                raise ReplayError(f"{exc}; pass --config to replay with another config") from None
    plan.warnings.append(
        f"no run_started before the checkpoint of {start_day}: replaying with the default "
        "EngineConfig (pass --config if the run used another)")
    return EngineConfig()


def _last_run_started(root: Path, day: str) -> tuple[int, RunStarted] | None:
    found = None
    for block in iter_blocks(root, day=day, check=False):
        if _RUN_STARTED not in b"\n".join(block.lines):  # one search per chunk, not per line
            continue
        for i, line in enumerate(block.lines):
            if kind_of_line(line) == "run_started":
                found = (block.first_seq + i, line)
    if found is None:
        return None
    try:
        event = decode_record(found[1]).event
    except CodecError as exc:
        raise JournalCorrupt([Problem(file=day, seq=found[0], message=exc.reason)]) from None
    assert type(event) is RunStarted  # kind_of_line said so and the CRC holds
    return found[0], event
