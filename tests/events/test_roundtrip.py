# Round-trip properties of the journal codec over EVERY event kind.
#
# Rules: the strategy is derived from msgspec's type info, never written per kind, so a kind added
# later is covered without touching this file. A field type the builder does not know raises
# UnsupportedFieldType; that makes the per-kind test fail instead of silently skipping the kind.
# Floats are deliberately unsupported: no event may carry one.
from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events import ALL_KINDS, Event, Record, decode_event, decode_record, encode_record
from polyarb.events.codec import encode_event

KINDS = sorted(ALL_KINDS)
_ROUNDTRIP_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class UnsupportedFieldType(TypeError):
    """The generic builder met a field type it cannot generate values for."""


# Text with quotes, backslashes, newlines, NUL and astral characters; lone surrogates are excluded
# because they are not valid UTF-8 and never arrive from a websocket or HTTP body.
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=24) | st.sampled_from(
    ['"', "\\", "\n", '{"a":1}', "\u2028", "\x00", "💥", ',"crc":"00000000"}\n']
)
# Integers of every size: msgspec reads and writes ints beyond 64 bits exactly.
INTS = st.integers(-(2**63), 2**64 - 1) | st.integers() | st.sampled_from([0, -1, 10**30])
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal("0.07"), Decimal("-0"), Decimal("1E+30"), Decimal("1.000000000000000000001")]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
RAWS = JSON_VALUES.map(lambda v: msgspec.Raw(msgspec.json.encode(v)))


def _int_strategy(t: msgspec.inspect.IntType) -> st.SearchStrategy[int]:
    if t.multiple_of is not None:
        raise UnsupportedFieldType(f"int with multiple_of={t.multiple_of}")
    low = t.ge if t.gt is None else t.gt + 1
    high = t.le if t.lt is None else t.lt - 1
    if low is None and high is None:
        return INTS
    return st.integers(low, high)


def _str_strategy(t: msgspec.inspect.StrType) -> st.SearchStrategy[str]:
    if t.pattern is not None:
        raise UnsupportedFieldType(f"str with pattern={t.pattern!r}")
    if t.min_length is None and t.max_length is None:
        return TEXT
    return st.text(
        alphabet=st.characters(codec="utf-8"),
        min_size=t.min_length or 0,
        max_size=t.max_length,
    )


def strategy_for_type(t: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    """A strategy of valid values for one msgspec type, or UnsupportedFieldType."""
    mi = msgspec.inspect
    simple: dict[type[mi.Type], st.SearchStrategy[Any]] = {
        mi.BoolType: st.booleans(),
        mi.NoneType: st.none(),
        mi.DecimalType: DECIMALS,
        mi.RawType: RAWS,
    }
    if type(t) in simple:
        return simple[type(t)]
    if isinstance(t, mi.IntType):
        return _int_strategy(t)
    if isinstance(t, mi.StrType):
        return _str_strategy(t)
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.UnionType):
        return st.one_of([strategy_for_type(member) for member in t.types])
    if isinstance(t, mi.VarTupleType):
        return st.lists(strategy_for_type(t.item_type), max_size=3).map(tuple)
    if isinstance(t, mi.StructType):
        return strategy_for_struct(t)
    raise UnsupportedFieldType(f"no value strategy for {t!r}")


def strategy_for_struct(t: msgspec.inspect.StructType) -> st.SearchStrategy[Any]:
    """Valid instances of a Struct; optional fields are sometimes left at their default."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in t.fields:
        try:
            strategy = strategy_for_type(field.type)
        except UnsupportedFieldType as exc:
            raise UnsupportedFieldType(f"{t.cls.__name__}.{field.name}: {exc}") from None
        (required if field.required else optional)[field.name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(lambda kw: t.cls(**kw))


def strategy_for_kind(cls: type[Event]) -> st.SearchStrategy[Event]:
    """Valid instances of one event kind, built from its msgspec type info alone."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return strategy_for_struct(info)


@pytest.mark.parametrize("kind", KINDS)
def test_strategy_every_kind_buildable(kind: str) -> None:
    # Fails when a kind gains a field type the builder (and hence the round trip) does not cover.
    strategy_for_kind(ALL_KINDS[kind])


def test_strategy_float_field_raises_unsupported() -> None:
    class Floaty(Event, frozen=True, kw_only=True):
        price: float

    with pytest.raises(UnsupportedFieldType, match=r"Floaty\.price"):
        strategy_for_kind(Floaty)


def test_strategy_dict_field_raises_unsupported() -> None:
    class Mapped(Event, frozen=True, kw_only=True):
        sizes: dict[str, int]

    with pytest.raises(UnsupportedFieldType, match=r"Mapped\.sizes"):
        strategy_for_kind(Mapped)


@pytest.mark.parametrize("kind", KINDS)
def test_record_roundtrip_any_kind_equal(kind: str) -> None:
    @_ROUNDTRIP_SETTINGS
    @given(seq=st.integers(0, 2**63 - 1), event=strategy_for_kind(ALL_KINDS[kind]))
    def check(seq: int, event: Event) -> None:
        line = encode_record(seq, event)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1  # one record, one line
        assert decode_record(line) == Record(seq, event)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_event_roundtrip_any_kind_equal(kind: str) -> None:
    @_ROUNDTRIP_SETTINGS
    @given(event=strategy_for_kind(ALL_KINDS[kind]))
    def check(event: Event) -> None:
        data = encode_event(event)
        assert decode_event(data) == event
        assert encode_event(decode_event(data)) == data  # canonical: re-encoding is stable

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_record_layout_any_kind_fixed_key_order(kind: str) -> None:
    @settings(max_examples=10, deadline=None)
    @given(event=strategy_for_kind(ALL_KINDS[kind]))
    def check(event: Event) -> None:
        line = encode_record(7, event)
        head = b'{"seq":7,"v":%d,"kind":"%s","ts_recv_ns":' % (event.SCHEMA_VERSION, kind.encode())
        assert line.startswith(head)
        assert line[-len(b',"crc":"00000000"}\n') :].startswith(b',"crc":"')

    check()
