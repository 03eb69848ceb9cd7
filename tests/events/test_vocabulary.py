# Naming and shape rules of the event vocabulary (polyarb/events/base.py), checked on every kind.
#
# Rules: checks walk ALL_KINDS and msgspec's type info, so kinds added later are held to the same
# rules without editing this file. docs/events.md must mention every kind and list its fields.
from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import polyarb.events
from polyarb.events import ALL_KINDS, Decision, Event, Input, JournalNote, kind_tag

mi = msgspec.inspect
KINDS = sorted(ALL_KINDS)
ROLE_BASES: dict[str, type[Event]] = {"input": Input, "decision": Decision, "journal": JournalNote}
ENVELOPE_KEYS = {"seq", "v", "kind", "crc"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _walk(t: mi.Type, path: str) -> Iterator[tuple[str, mi.Type]]:
    """Yield (path, type) for a type and everything nested in it."""
    yield path, t
    if isinstance(t, mi.StructType):
        for field in t.fields:
            yield from _walk(field.type, f"{path}.{field.name}")
    elif isinstance(t, mi.UnionType):
        for member in t.types:
            yield from _walk(member, path)
    elif isinstance(t, mi.VarTupleType | mi.ListType | mi.SetType | mi.FrozenSetType):
        yield from _walk(t.item_type, f"{path}[]")
    elif isinstance(t, mi.TupleType):
        for i, item in enumerate(t.item_types):
            yield from _walk(item, f"{path}[{i}]")
    elif isinstance(t, mi.DictType):
        yield from _walk(t.key_type, f"{path}{{key}}")
        yield from _walk(t.value_type, f"{path}{{value}}")


def _info(kind: str) -> mi.StructType:
    info = mi.type_info(ALL_KINDS[kind])
    assert isinstance(info, mi.StructType)
    return info


def _field_types(kind: str) -> dict[str, mi.Type]:
    return {f.name: f.type for f in _info(kind).fields}


def _is_int_or_optional_int(t: mi.Type) -> bool:
    members = t.types if isinstance(t, mi.UnionType) else (t,)
    has_int = any(isinstance(m, mi.IntType) for m in members)
    return has_int and all(isinstance(m, mi.IntType | mi.NoneType) for m in members)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_tag_is_snake_case_of_class_name(kind: str) -> None:
    cls = ALL_KINDS[kind]

    assert kind == kind_tag(cls.__name__)
    assert cls.__struct_config__.tag == kind
    assert cls.__struct_config__.tag_field == "kind"
    assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", kind)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_frozen_and_keyword_only(kind: str) -> None:
    cls = ALL_KINDS[kind]
    params = inspect.signature(cls).parameters.values()

    assert cls.__struct_config__.frozen
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_has_int_ts_recv_ns(kind: str) -> None:
    field = next(f for f in _info(kind).fields if f.name == "ts_recv_ns")

    assert isinstance(field.type, mi.IntType)
    assert field.required


@pytest.mark.parametrize("kind", KINDS)
def test_kind_role_matches_base_class(kind: str) -> None:
    cls = ALL_KINDS[kind]

    assert cls.ROLE in ROLE_BASES
    assert issubclass(cls, ROLE_BASES[cls.ROLE])
    assert [role for role, base in ROLE_BASES.items() if issubclass(cls, base)] == [cls.ROLE]


@pytest.mark.parametrize("kind", [k for k in KINDS if ALL_KINDS[k].ROLE == "decision"])
def test_decision_has_int_cause_seq(kind: str) -> None:
    assert isinstance(_field_types(kind).get("cause_seq"), mi.IntType)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_schema_version_positive_int(kind: str) -> None:
    version = ALL_KINDS[kind].SCHEMA_VERSION

    assert isinstance(version, int)
    assert version >= 1


@pytest.mark.parametrize("kind", KINDS)
def test_kind_fields_do_not_collide_with_envelope(kind: str) -> None:
    assert ENVELOPE_KEYS.isdisjoint(f.encode_name for f in _info(kind).fields)


@pytest.mark.parametrize("kind", KINDS)
def test_kind_unit_suffixes_are_ints(kind: str) -> None:
    for path, t in _walk(_info(kind), kind):
        if isinstance(t, mi.StructType):
            for field in t.fields:
                if field.name.endswith(("_micros", "_ns", "_ms")):
                    assert _is_int_or_optional_int(field.type), f"{path}.{field.name}"


def test_no_float_or_any_in_any_event_field() -> None:
    offenders = [
        path
        for kind in KINDS
        for path, t in _walk(_info(kind), kind)
        if isinstance(t, mi.FloatType | mi.AnyType)
    ]

    assert offenders == []


class _Inner(msgspec.Struct, frozen=True):
    price: float


class _Outer(Event, frozen=True, kw_only=True):
    legs: tuple[_Inner | None, ...]


def test_walk_finds_nested_float() -> None:
    # Self-test of the walker used above: a float inside a tuple of optional structs is found.
    info = mi.type_info(_Outer)
    paths = [path for path, t in _walk(info, "outer") if isinstance(t, mi.FloatType)]

    assert paths == ["outer.legs[].price"]


@pytest.mark.parametrize("kind", KINDS)
def test_nested_structs_frozen(kind: str) -> None:
    for path, t in _walk(_info(kind), kind):
        if isinstance(t, mi.StructType):
            assert t.cls.__struct_config__.frozen, path


def test_kind_tags_and_class_names_unique() -> None:
    defined = [
        obj
        for module in (polyarb.events.inputs, polyarb.events.decisions)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Event) and obj.__module__ == module.__name__
    ]
    names = [cls.__name__ for cls in defined]

    assert len(names) == len(set(names))
    assert sorted(kind_tag(name) for name in names) == KINDS
    assert sorted(str(cls.__struct_config__.tag) for cls in ALL_KINDS.values()) == KINDS


def test_every_kind_exported_from_package() -> None:
    for cls in ALL_KINDS.values():
        assert getattr(polyarb.events, cls.__name__) is cls
        assert cls.__name__ in polyarb.events.__all__


# --- docs/events.md ----------------------------------------------------------------------------


def _doc_row(kind: str) -> str:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith(f"| `{kind}` |")]
    assert len(rows) == 1, f"docs/events.md needs exactly one table row for `{kind}`"
    return rows[0]


@pytest.mark.parametrize("kind", KINDS)
def test_docs_events_md_lists_kind_and_fields(kind: str) -> None:
    row = _doc_row(kind)
    base_fields = {"ts_recv_ns", "cause_seq"}  # documented once per role, not per row

    missing = [
        f.name for f in _info(kind).fields if f.name not in base_fields and f"`{f.name}`" not in row
    ]

    assert missing == [], f"docs/events.md row for `{kind}` misses fields {missing}"


def test_docs_events_md_lists_nested_structs() -> None:
    text = DOC.read_text()
    nested = {
        t.cls
        for kind in KINDS
        for _, t in _walk(_info(kind), kind)
        if isinstance(t, mi.StructType) and not issubclass(t.cls, Event)
    }

    for cls in sorted(nested, key=lambda c: c.__name__):
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        rows = [line for line in text.splitlines() if line.startswith(f"| `{cls.__name__}` |")]
        assert len(rows) == 1, f"docs/events.md needs one row for `{cls.__name__}`"
        missing = [f.name for f in info.fields if f"`{f.name}`" not in rows[0]]
        assert missing == [], f"docs/events.md row for `{cls.__name__}` misses {missing}"


def test_docs_events_md_names_no_stale_kind() -> None:
    # A row for a kind that no longer exists would mislead SQL users.
    text = DOC.read_text()
    documented = re.findall(r"^\| `([a-z][a-z0-9_]*)` \|", text, flags=re.MULTILINE)

    assert sorted(documented) == KINDS
