# Subprocess script for the cross-process determinism test (tests/core/test_determinism.py).
#
# Usage: python tests/core/replay_child.py JOURNAL_ROOT
# Reads every record of the journal in seq order, takes the engine config from the first
# run_started record (its `config` field, canonical JSON), folds every record through
# Engine.apply and writes to stdout one line per decision (polyarb.events.encode_event) followed
# by `state_hash <hex>`. The parent runs it under different PYTHONHASHSEED values and compares
# the bytes. Imports only polyarb, never the tests package.
from __future__ import annotations

import sys

import msgspec

from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events import encode_event
from polyarb.events.inputs import RunStarted
from polyarb.journal import iter_records


def main(root: str) -> int:
    """Replay the journal at `root` and print the decision stream and final state hash."""
    out = sys.stdout.buffer
    engine: Engine | None = None
    for record in iter_records(root):
        event = record.event
        if engine is None and type(event) is RunStarted:
            engine = Engine(msgspec.json.decode(bytes(event.config), type=EngineConfig))
        if engine is None:
            continue  # journal notes before the run started
        for decision in engine.apply(record.seq, event):
            out.write(encode_event(decision) + b"\n")
    if engine is None:
        print("no run_started record", file=sys.stderr)
        return 2
    out.write(b"state_hash " + engine.state_hash().encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
