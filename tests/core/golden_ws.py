# Runner for the golden market-channel payloads in tests/golden/ws/*.json.
#
# Each file is {"description", "steps": [...]}; a step holds exactly one input
# ("frame": a JSON value sent as bytes, "frame_text": raw text sent as UTF-8 bytes, "frame_hex":
# raw bytes, or "text": a non-JSON text frame) and "expect": what parse_frame yields (messages,
# rejects, unknown) and what MarketData.apply_frame then does (touched tokens, decisions, the
# books' state and levels). The file's "final_counters" are MarketData.stats() at the end.
#
# Regenerate expectations after a deliberate change, then review the diff by hand:
#   /tmp/venv/bin/python tests/core/golden_ws.py
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import msgspec
import orjson

from polyarb.core.marketdata import MarketData
from polyarb.core.wire import parse_frame

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "ws"
TS0 = 1_766_790_000_000_000_000
_SCALAR_ARRAY = re.compile(r"\[\n\s*([^\[\]{}]*?)\n\s*\]")
_FLAT_OBJECT = re.compile(r"\{\n\s*([^\[\]{}]{0,120}?)\n\s*\}")
_ITEM_SEP = re.compile(r",\n\s*")


def golden_files() -> list[Path]:
    """Every golden payload file, sorted by name."""
    return sorted(GOLDEN_DIR.glob("*.json"))


def _inputs(step: dict[str, Any]) -> tuple[bytes | None, str | None]:
    if "frame" in step:
        return orjson.dumps(step["frame"]), None
    if "frame_text" in step:
        return step["frame_text"].encode("utf-8"), None
    if "frame_hex" in step:
        return bytes.fromhex(step["frame_hex"]), None
    return None, step["text"]


def _plain(value: Any) -> Any:
    # What the JSON file holds: tuples become lists.
    return orjson.loads(msgspec.json.encode(value))


def _books(store: MarketData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for token in store.token_ids():
        book = store.book(token)
        assert book is not None
        out[token] = {
            "state": book.state,
            "epoch": book.epoch,
            "best_bid": book.best_bid(),
            "best_ask": book.best_ask(),
            "bids": [list(level) for level in book.bids_descending()],
            "asks": [list(level) for level in book.asks_ascending()],
        }
    return out


def run_file(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Run one golden file's steps through a fresh MarketData: per-step results, final stats."""
    store = MarketData()
    results: list[dict[str, Any]] = []
    for i, step in enumerate(data["steps"]):
        frame, text = _inputs(step)
        parsed = parse_frame(frame, text)
        touched, decisions = store.apply_frame(parsed, TS0 + i * 1_000_000, i + 1)
        results.append(
            {
                "messages": _plain(parsed.messages),
                "rejects": [list(r) for r in parsed.rejects],
                "unknown": parsed.unknown,
                "touched": list(touched),
                "decisions": _plain(list(decisions)),
                "books": _books(store),
            }
        )
    return results, store.stats()


def _join(match: re.Match[str]) -> str:
    return ", ".join(_ITEM_SEP.split(match.group(1)))


def _dump(data: Any) -> str:
    # Indented JSON with scalar arrays and small flat objects on one line; must read back equal.
    text = json.dumps(data, indent=1, ensure_ascii=False)
    compact = _SCALAR_ARRAY.sub(lambda m: f"[{_join(m)}]", text)
    compact = _FLAT_OBJECT.sub(lambda m: f"{{{_join(m)}}}", compact)
    return (compact if json.loads(compact) == data else text) + "\n"


def regenerate() -> None:
    """Rewrite every file's expectations from the current code."""
    for path in golden_files():
        data = json.loads(path.read_text())
        results, stats = run_file(data)
        for step, result in zip(data["steps"], results, strict=True):
            step["expect"] = result
        data["final_counters"] = stats
        path.write_text(_dump(data))
        sys.stdout.write(f"wrote {path.name}\n")


if __name__ == "__main__":
    regenerate()
