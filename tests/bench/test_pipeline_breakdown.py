# The pipeline breakdown (polyarb/bench/pipeline.py rule 5): every frame lands in exactly one
# class, the classes follow the documented precedence, and the text report renders. Times are
# never asserted (machines are noisy), only counts and shapes.
from __future__ import annotations

from pathlib import Path

import pytest

from polyarb.bench.feedgen import FeedGenerator
from polyarb.bench.pipeline import (
    event_type,
    frame_class,
    main,
    render_breakdown,
    run_breakdown,
)
from polyarb.events.decisions import ContinuityRestored, OpportunityDetected, PlaceOrders

_OPP = OpportunityDetected(ts_recv_ns=1, cause_seq=1, opp_id="x1", strategy="complete_set_buy",
                           market_id="m", legs=(), size_micros=1, cost_micros=1, fees_micros=0,
                           edge_micros=1)
_PLACE = PlaceOrders(ts_recv_ns=1, cause_seq=1, batch_id="b1", opp_id="x1", orders=())
_RESTORED = ContinuityRestored(ts_recv_ns=1, cause_seq=1, token_id="t", epoch=2)


def test_event_type_shapes_named() -> None:
    assert event_type('{"event_type":"book","asset_id":"1"}') == "book"
    assert event_type('[{"event_type":"book"}]') == "list"
    assert event_type('{"asset_id":"1"}') == "other"
    assert event_type("3") == "other"
    assert event_type("not json") == "bad"


def test_frame_class_precedence_order_commit_opportunity_decisions() -> None:
    assert frame_class("price_change", [_OPP, _PLACE], committed=True) == "order"
    assert frame_class("price_change", [_OPP], committed=True) == "commit"
    assert frame_class("price_change", [_OPP, _PLACE], committed=False) == "order"
    assert frame_class("price_change", [_OPP], committed=False) == "opportunity"
    assert frame_class("book", [_RESTORED], committed=False) == "book+decisions"
    assert frame_class("book", [], committed=False) == "book"


def test_run_breakdown_generated_feed_every_frame_classed_once() -> None:
    gen = FeedGenerator(6, 0, seed=4, window_rate=0.02)
    frames = list(gen.frames(1_500))
    result = run_breakdown(frames)
    for clock in ("wall", "cpu"):
        table = result[clock]["classes"]
        assert sum(row["frames"] for row in table) == 1_500
        assert sum(row["in_band"] for row in table) >= 1
        names = {row["class"] for row in table}
        assert "price_change" in names and "opportunity" in names | {"order", "commit"}
        assert result[clock]["p50_us"] <= result[clock]["p99_us"] <= result[clock]["p99_9_us"]
    text = render_breakdown(result)
    assert text.count("class") == 2 and "price_change" in text


def test_breakdown_main_prints_the_table(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "feed.ndjson"
    feed.write_text("\n".join(FeedGenerator(3, 0, seed=2).frames(300)) + "\n")
    main([str(feed)])
    out = capsys.readouterr().out
    assert out.startswith("wall: p50") and "cpu: p50" in out
