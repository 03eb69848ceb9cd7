# Folding a journal's records through a fresh engine, one input at a time, with the decisions
# the journal holds after each input: what the invariant checks (polyarb.chaos.checks) inspect.
#
# Rules:
# 1. The same fold as a restart's rebuild (polyarb/runtime/rebuild.py rule 1): records in the
#    order given, inputs applied to the engine, decisions and journal notes not applied; at
#    each run_started the state carries over under that run's journaled engine config.
# 2. A Step is yielded once the journal has moved past its input's decisions (at the next
#    input, or at the end), so `step.engine` is the state right after the input and
#    `step.decisions` are exactly the JOURNALED ones (the checks judge what polyarb did, not
#    what a replay would do; replay divergence is its own check).
# 3. Pure: records in, steps out; no I/O, no clock. The engine object is shared between steps
#    (it moves on): read what you need from it before asking for the next step.
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events.base import Decision, Input, Record
from polyarb.events.inputs import RunStarted
from polyarb.runtime.rebuild import engine_for_run


@dataclass
class Step:
    """One input, the engine right after it, and the decisions journaled after it."""

    seq: int
    event: Input
    engine: Engine
    config: EngineConfig
    decisions: list[tuple[int, Decision]] = field(default_factory=list)


def fold(records: Iterable[Record]) -> Iterator[Step]:
    """Yield a Step per input record (rules 1-2).

    Raises:
        ConfigError: a run_started holds no valid engine config.
    """
    engine: Engine | None = None
    config = EngineConfig()
    step: Step | None = None
    for rec in records:
        ev = rec.event
        if isinstance(ev, Decision):
            if step is not None:
                step.decisions.append((rec.seq, ev))
            continue
        if not isinstance(ev, Input):
            continue
        if step is not None:
            yield step
        if isinstance(ev, RunStarted):
            engine, config = engine_for_run(engine, ev)
        if engine is None:
            engine = Engine(config)
        engine.apply(rec.seq, ev)
        step = Step(seq=rec.seq, event=ev, engine=engine, config=config)
    if step is not None:
        yield step
