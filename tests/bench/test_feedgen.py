# The feed generator: deterministic bytes per seed, realistic frames, clean books.
from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.bench.feedgen import FeedGenerator, write_feed


def _digest(path: Path, seed: int) -> str:
    write_feed(path, FeedGenerator(6, 2, seed=seed, window_rate=0.02), 3_000)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_feed_same_seed_byte_identical(tmp_path: Path) -> None:
    assert _digest(tmp_path / "a.ndjson", 7) == _digest(tmp_path / "b.ndjson", 7)


def test_write_feed_other_seed_differs(tmp_path: Path) -> None:
    assert _digest(tmp_path / "a.ndjson", 7) != _digest(tmp_path / "b.ndjson", 8)


def test_frames_count_and_kinds_all_present() -> None:
    frames = [orjson.loads(f) for f in FeedGenerator(5, 1, seed=2).frames(5_000)]
    kinds = {f["event_type"] for f in frames}
    assert len(frames) == 5_000
    assert kinds == {"book", "price_change", "last_trade_price", "tick_size_change"}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), markets=st.integers(0, 4), events=st.integers(0, 2))
def test_frames_any_seed_on_grid_two_decimals_never_crossed(seed: int, markets: int,
                                                           events: int) -> None:
    if markets + events == 0:
        return
    for line in FeedGenerator(markets, events, seed=seed, window_rate=0.05).frames(600):
        frame = orjson.loads(line)
        for change in frame.get("price_changes", ()):
            assert len(change["price"]) == 4  # 0.xx: on the 0.01 grid
            assert change["size"] == "0" or len(change["size"].rsplit(".", 1)[1]) == 2
            bid, ask = change["best_bid"], change["best_ask"]
            assert bid == "0" or ask == "1" or bid < ask


def test_market_infos_neg_risk_fairs_sum_to_one() -> None:
    gen = FeedGenerator(2, 3, seed=5)
    groups: dict[str, int] = {}
    for m in gen.markets:
        if m.group is not None:
            groups[m.group] = groups.get(m.group, 0) + m.yes.fair
    infos = gen.market_infos()
    assert len(groups) == 3 and set(groups.values()) == {100}
    assert sum(1 for i in infos if i.neg_risk) == len(infos) - 2


def test_feed_generator_no_market_raises() -> None:
    with pytest.raises(ValueError):
        FeedGenerator(0, 0)
