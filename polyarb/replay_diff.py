# Field-by-field differences between two canonical JSON documents, for replay's divergence report.
#
# Rules:
# 1. Inputs are canonical bytes (polyarb.events.encode_event, Engine.snapshot_bytes); they are
#    decoded without floats (integers stay exact) and walked in a fixed order: object keys
#    sorted, list items by index. A path reads like `orders[1].price_micros`.
# 2. A field present on one side only shows `(absent)` on the other: events omit fields at their
#    default, so an absent field is the default value.
# 3. Output is plain text with aligned columns; long values are shortened in the middle so a
#    diff of a large state stays readable (the full bytes are in the journal).
from __future__ import annotations

from typing import Any

import msgspec

ABSENT = "(absent)"
_MAX_VALUE = 60


class FieldDiff(msgspec.Struct, frozen=True):
    """One differing field: its path, the journal's value and the replay's value (as text)."""

    path: str
    expected: str
    got: str


def diff_json(expected: bytes, got: bytes, *, limit: int = 50) -> list[FieldDiff]:
    """The differing fields of two JSON documents, in path order (at most `limit`)."""
    out: list[FieldDiff] = []
    _walk(msgspec.json.decode(expected), msgspec.json.decode(got), "", out, limit)
    return out


def _walk(a: Any, b: Any, path: str, out: list[FieldDiff], limit: int) -> None:
    if len(out) >= limit or (a == b and type(a) is type(b)):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                if len(out) < limit:
                    out.append(FieldDiff(sub, _show(a, key), _show(b, key)))
                continue
            _walk(a[key], b[key], sub, out, limit)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(a) or i >= len(b):
                if len(out) < limit:
                    out.append(FieldDiff(sub, _item(a, i), _item(b, i)))
                continue
            _walk(a[i], b[i], sub, out, limit)
        return
    out.append(FieldDiff(path or "(value)", _text(a), _text(b)))


def _show(obj: dict[str, Any], key: str) -> str:
    return _text(obj[key]) if key in obj else ABSENT


def _item(items: list[Any], i: int) -> str:
    return _text(items[i]) if i < len(items) else ABSENT


def _text(value: Any) -> str:
    text = msgspec.json.encode(value).decode("utf-8")
    if len(text) > _MAX_VALUE:
        half = (_MAX_VALUE - 3) // 2
        text = f"{text[:half]}...{text[-half:]}"
    return text


def render_diff(diffs: list[FieldDiff], *, left: str = "journal", right: str = "replay") -> str:
    """The diffs as an aligned three-column table (field, left value, right value)."""
    rows = [("field", left, right), *((d.path, d.expected, d.got) for d in diffs)]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"  {r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}".rstrip() for r in rows)
