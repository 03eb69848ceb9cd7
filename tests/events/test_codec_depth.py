# The codec's depth proof for large embedded JSON (json_depth.shallow_json above _LARGE_VALUE).
#
# Rules of these tests:
# - the bracket scan (_structural_brackets + _depth_at_most) must give the verdict of the orjson
#   parse it replaces (_orjson_shallow) on every valid JSON value orjson can hold, and the exact
#   nesting depth the value was built with: hypothesis builds values around the 512 limit whose
#   strings hold brackets, quotes, backslash runs, \u escapes and non-ASCII text;
# - the large-value path is forced on small values by lowering json_depth.LARGE_VALUE (monkeypatch);
# - a StateCheckpoint's journal line is byte for byte the line the orjson proof allowed.
# No timing here: the costs are measured by the commands in the change's report.
from __future__ import annotations

import json

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.engine import Engine
from polyarb.events import StateCheckpoint, codec, decode_record, encode_record, json_depth
from polyarb.events.codec_errors import MalformedRecord
from polyarb.events.inputs import MarketInfo, MarketsLoaded, RawFrame, TokenInfo

LIMIT = 512


def _scan_verdict(value: bytes) -> bool:
    return json_depth.depth_at_most(json_depth.structural_brackets(value), LIMIT)


def _scan_depth(value: bytes) -> int:
    return json_depth.max_depth(json_depth.structural_brackets(value))


def _large_path_verdict(value: bytes) -> bool:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(json_depth, "LARGE_VALUE", 0)
        return json_depth.shallow_json(value)


# Strings that trip a naive scanner: brackets, quotes, backslash runs before quotes and
# brackets, escapes spelled as \u, non-ASCII. Encoded both ways (\u escapes or raw UTF-8).
_NASTY_CHARS = st.sampled_from(list('[]{}"\\/,:ab \u00e9\u20ac\U0001f600\u2028\t\n'))
_TEXT = st.lists(_NASTY_CHARS | st.characters(codec="utf-8"), max_size=12).map("".join)
_STRING = st.tuples(_TEXT, st.booleans()).map(lambda t: json.dumps(t[0], ensure_ascii=t[1]))
_ATOM = _STRING | st.sampled_from(["0", "-1.5e3", "true", "false", "null"])
_SCALAR = _ATOM | st.sampled_from(["[]", "{}"])


@st.composite
def nested_values(draw: st.DrawFn, depths: st.SearchStrategy[int]) -> tuple[bytes, int]:
    """(JSON text, its nesting depth): a spine of lists and objects with siblings and keys."""
    depth = draw(depths)
    kinds = draw(st.integers(0, 2**depth - 1))  # bit i set: level i is a list, else an object
    keys = draw(st.lists(_STRING, min_size=1, max_size=3))
    # A few levels get a sibling next to the spine (no container: the spine sets the depth).
    siblings = dict(draw(st.lists(st.tuples(st.integers(0, max(depth - 1, 0)), _ATOM),
                                  max_size=6)))
    opens, closes = [], []
    for level in range(depth):
        sibling, key = siblings.get(level), keys[level % len(keys)]
        if kinds >> level & 1:
            opens.append("[" if sibling is None else f"[{sibling},")
            closes.append("]")
        else:
            opens.append(f"{{{key}:" if sibling is None else f'{{"s":{sibling},{key}:')
            closes.append("}")
    core = draw(_SCALAR)  # [] or {} make one level more
    text = "".join(opens) + core + "".join(reversed(closes))
    return text.encode(), depth + (core in ("[]", "{}"))


@settings(max_examples=150, deadline=None)
@given(case=nested_values(st.integers(495, 525)))
def test_bracket_scan_near_the_limit_matches_orjson(case: tuple[bytes, int]) -> None:
    value, depth = case

    assert _scan_depth(value) == depth
    assert _scan_verdict(value) is json_depth.orjson_shallow(value) is (depth <= LIMIT)
    assert _large_path_verdict(value) is json_depth.orjson_shallow(value)


@settings(max_examples=150, deadline=None)
@given(case=nested_values(st.integers(0, 40)), limit=st.integers(0, 40))
def test_depth_at_most_peel_and_numpy_agree_with_exact_depth(
    case: tuple[bytes, int], limit: int
) -> None:
    # Small limits: the peeling passes decide (or give up to numpy) against the built depth.
    value, depth = case

    brackets = json_depth.structural_brackets(value)
    assert json_depth.depth_at_most(brackets, limit) is (depth <= limit)


@settings(max_examples=100, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
))
def test_bracket_scan_of_any_value_matches_a_parse(value: object) -> None:
    # Shallow, wide values: the depth the scan finds is the depth a parse finds.
    text = msgspec.json.encode(value)

    assert _scan_depth(text) == _python_depth(value)


def _python_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_python_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_python_depth(v) for v in value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (b'"' + b"[" * 2000 + b'"', 0),  # brackets only inside a string
        (b'["' + b"{" * 600 + b'",' + b"[" * 3 + b"]" * 3 + b"]", 4),
        (b'["\\\\",[]]', 2),  # an escaped backslash ends the string: `[]` is structural
        (b'["\\\\\\"[",[]]', 2),  # \\ then \" : the string goes on past the quote
        (b'["\\\\\\\\"," [[[ "]', 1),  # an even run: the quote after it closes the string
        (b'["\\"]\\"",{}]', 2),  # escaped quotes around a bracket
        (b'["\\u005b\\u0022",[[]]]', 3),  # \u escapes are no brackets and no quotes
        (b'["\xc3\xa9[",{"\xe2\x82\xac]":[]}]', 3),  # non-ASCII next to brackets
        (b'{"a":"}","b":{"c":"{{"}}', 2),
        (b"123", 0),
        (b'""', 0),
        (b"[]", 1),
        (b"[" * 512 + b"]" * 512, 512),
        (b"[" * 513 + b"]" * 513, 513),
        (b'{"k":' * 512 + b"1" + b"}" * 512, 512),
        (b'{"k":' * 513 + b"1" + b"}" * 513, 513),
    ],
)
def test_bracket_scan_edge_cases_exact_depth(value: bytes, depth: int) -> None:
    assert _scan_depth(value) == depth
    assert _scan_verdict(value) is (depth <= LIMIT) is json_depth.orjson_shallow(value)


@pytest.mark.parametrize(("inner", "embedded"), [(511, True), (512, False), (700, False)])
def test_frame_is_embeddable_large_value_depth_boundary(inner: int, embedded: bool) -> None:
    # Over _LARGE_VALUE and over 512 openers: the real (unpatched) large path decides.
    value = b"[" + b'{"s":"[[[\\\\\\"{"},' * 8000 + b"[" * inner + b"]" * inner + b"]"
    assert len(value) > json_depth.LARGE_VALUE

    assert codec.frame_is_embeddable(value) is embedded is json_depth.orjson_shallow(value)


def test_frame_is_embeddable_large_invalid_utf8_refused_like_orjson() -> None:
    # The skip validator lets bad UTF-8 inside a string through; the orjson proof refused it.
    value = b'["\xed\xa0\x80",' + b"[]," * 30000 + b"1]"

    assert codec.frame_is_embeddable(value) is False
    assert json_depth.orjson_shallow(value) is False


def test_frame_is_embeddable_large_number_beyond_double_is_embedded() -> None:
    # The one intended difference: orjson refuses 1e400 (no double holds it), the scan only
    # judges depth, so a large value now follows the rule small values always had.
    value = b"[1e400," + b"[]," * 30000 + b"1]"

    assert codec.frame_is_embeddable(value) is True
    assert codec.frame_is_embeddable(b"[1e400]") is True


def _engine(tokens: int, levels: int) -> Engine:
    engine = Engine()
    infos = tuple(
        MarketInfo(condition_id=f"0x{i:064x}", tick_size_micros=1_000,
                   min_order_size_micros=5_000_000,
                   tokens=(TokenInfo(token_id=f"{i:076d}", outcome="Yes"),
                           TokenInfo(token_id=f"{i + tokens:076d}", outcome="No")))
        for i in range(tokens // 2))
    engine.apply(1, MarketsLoaded(ts_recv_ns=1, source="test", markets=infos))
    seq = 2
    for info in infos:
        for tok in info.tokens:
            book = {"event_type": "book", "asset_id": tok.token_id, "market": info.condition_id,
                    "bids": [{"price": f"0.{300 + k:03d}", "size": "10"} for k in range(levels)],
                    "asks": [{"price": f"0.{700 - k:03d}", "size": "10"} for k in range(levels)],
                    "timestamp": "1", "hash": "ab"}
            engine.apply(seq, RawFrame(ts_recv_ns=seq, conn="market-0",
                                       frame=msgspec.Raw(orjson.dumps(book))))
            seq += 1
    return engine


def _orjson_line(seq: int, ckpt: StateCheckpoint) -> bytes:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(json_depth, "LARGE_VALUE", 1 << 62)
        return encode_record(seq, ckpt)


def test_encode_record_state_checkpoint_line_unchanged() -> None:
    ckpt = _engine(tokens=60, levels=20).checkpoint(10, 99, run_seq=1)
    assert len(ckpt.state) > json_depth.LARGE_VALUE

    line = encode_record(11, ckpt)

    assert line == _orjson_line(11, ckpt)
    assert decode_record(line).event == ckpt


def test_encode_record_too_deep_large_state_refused() -> None:
    state = b'{"pad":"' + b"x" * 70_000 + b'","deep":' + b"[" * 600 + b"]" * 600 + b"}"
    ckpt = StateCheckpoint(ts_recv_ns=1, at_seq=1, state_hash="0", state=msgspec.Raw(state))

    with pytest.raises(MalformedRecord):
        encode_record(2, ckpt)
    with pytest.raises(MalformedRecord):
        _orjson_line(2, ckpt)


@pytest.mark.parametrize(("limit", "within"), [(17, False), (18, True), (512, True)])
def test_depth_at_most_large_deep_remainder_hands_over_to_numpy(limit: int, within: bool) -> None:
    # Many 18-deep chains: each pass removes one level only, so the passes stop early.
    brackets = b"[" + (b"{" * 17 + b"}" * 17 + b",") * 2000 + b"[]]"
    brackets = brackets.replace(b",", b"")

    assert json_depth.depth_at_most(brackets, limit) is within
