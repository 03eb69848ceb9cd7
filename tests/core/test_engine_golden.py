# Golden engine streams: a committed list of input events and the decision stream the engine
# must produce for it, compared byte for byte (encode_event, one decision per line).
#
# Layout: tests/golden/engine/<name>/inputs.ndjson (one encode_event line per input; its journal
# seq is its line number) and expected.ndjson (the decisions). To regenerate after an intended
# change, run with POLYARB_UPDATE_GOLDEN=1 and review the diff of expected.ndjson by hand before
# committing it. A missing inputs.ndjson is written from the builder below (same variable).
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from polyarb.core.engine import Engine
from polyarb.events import decode_event, encode_event
from polyarb.events.base import Input
from polyarb.events.decisions import PlaceOrders, Unwind
from tests.core.engine_helpers import (
    SEC,
    USD,
    Run,
    encoded,
    group_markets,
    market,
    of,
    text_frame,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "engine"
UPDATE = os.environ.get("POLYARB_UPDATE_GOLDEN") == "1"


def _basic() -> list[Input]:
    """A complete set filled, a crossed book, a neg-risk basket legged and unwound, a halt."""
    run = Run()
    run.load(market("0xm1", "Y1", "N1"), *group_markets("0xgroup", 3))
    run.book("Y1", [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    [batch] = of(run.book("N1", [(400_000, 100 * USD)], [(500_000, 40 * USD)]), PlaceOrders)
    run.fill_all([batch])
    run.feed(text_frame("PONG", run.next_ts()))  # a control text: nothing to decide
    run.feed(text_frame("{oops", run.next_ts()))
    run.change(("Y1", "BUY", 500_000, 40 * USD))  # crosses YES's own 0.45 ask
    run.book("Y1", [(400_000, 100 * USD)], [(520_000, 40 * USD)])
    for i in (1, 2):
        run.book(f"gY{i}", [(250_000, 100 * USD)], [(300_000, 50 * USD)])
    [basket] = of(run.book("gY3", [(250_000, 100 * USD)], [(300_000, 50 * USD)]), PlaceOrders)
    o1, o2, o3 = basket.orders
    for intent in (o1, o2):
        run.accept(intent)
        run.fill(intent)
    assert of(run.reject(o3), Unwind)  # a retry the venue never answers
    run.clock(11 * SEC)  # past the unwind timeout
    run.operator("halt", "golden")
    run.clock(61 * SEC)
    run.operator("resume", "golden")
    return [event for _, event in run.inputs]


STREAMS: dict[str, Callable[[], list[Input]]] = {"basic": _basic}


def _read_inputs(path: Path) -> list[Input]:
    events = [decode_event(line) for line in path.read_bytes().splitlines() if line]
    assert all(isinstance(e, Input) for e in events)
    return events  # type: ignore[return-value]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_engine_golden_stream_gives_the_committed_decisions(name: str) -> None:
    # Arrange
    folder = GOLDEN / name
    inputs_path, expected_path = folder / "inputs.ndjson", folder / "expected.ndjson"
    if UPDATE and not inputs_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        inputs_path.write_bytes(b"".join(encode_event(e) + b"\n" for e in STREAMS[name]()))
    inputs = _read_inputs(inputs_path)

    # Act
    engine = Engine()
    decisions = [d for seq, event in enumerate(inputs, start=1)
                 for d in engine.apply(seq, event)]
    got = encoded(decisions)

    # Assert
    if UPDATE:
        expected_path.write_bytes(got)
    assert got == expected_path.read_bytes()


def test_engine_golden_inputs_match_their_builder() -> None:
    # Arrange / Act: the committed inputs are what the builder makes (kept in sync on purpose)
    for name, build in sorted(STREAMS.items()):
        committed = (GOLDEN / name / "inputs.ndjson").read_bytes()

        # Assert
        assert committed == b"".join(encode_event(e) + b"\n" for e in build())
