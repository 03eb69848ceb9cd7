# The column schema derived from the event Structs: every field becomes a column, shared names
# agree on one type, and anything without an exact mapping fails loudly.
from __future__ import annotations

from decimal import Decimal

import msgspec
import msgspec.inspect as mi
import pytest

from polyarb.events import ALL_KINDS, Event
from polyarb.reports.schema import (
    ENVELOPE,
    TRAILER,
    SchemaError,
    build_schema,
    default_literal,
    journal_schema,
    stored_type,
)


class AlphaSeen(Event, frozen=True, kw_only=True):
    amount: int


class BetaSeen(Event, frozen=True, kw_only=True):
    amount: str


class FloatSeen(Event, frozen=True, kw_only=True):
    price: float


class CrcSeen(Event, frozen=True, kw_only=True):
    crc: str


class ShardSeen(Event, frozen=True, kw_only=True):
    shard: str


def test_journal_schema_every_field_of_every_kind_is_a_column() -> None:
    # Arrange
    schema = journal_schema()
    columns = dict(schema.columns)
    # Act / Assert
    for kind, cls in ALL_KINDS.items():
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        for f in info.fields:
            assert f.encode_name in columns, f"{kind}.{f.encode_name} has no column"
            assert columns[f.encode_name] == stored_type(f.type, kind)
        assert [f.name for f in schema.kinds[kind]] == [
            f.encode_name for f in info.fields if f.encode_name != "ts_recv_ns"
        ]


def test_journal_schema_shared_field_names_have_one_stored_type() -> None:
    # The check build_schema enforces, spelled out over the real vocabulary.
    seen: dict[str, set[str]] = {}
    for fields in journal_schema().kinds.values():
        for f in fields:
            seen.setdefault(f.name, set()).add(f.stored_type)
    conflicts = {name: types for name, types in seen.items() if len(types) > 1}
    assert conflicts == {}


def test_journal_schema_columns_are_envelope_fields_then_crc_without_duplicates() -> None:
    names = [name for name, _ in journal_schema().columns]
    assert tuple(journal_schema().columns[: len(ENVELOPE)]) == ENVELOPE
    assert tuple(journal_schema().columns[-len(TRAILER) :]) == TRAILER
    assert len(names) == len(set(names))


def test_build_schema_same_name_different_types_raises() -> None:
    with pytest.raises(SchemaError, match=r"'amount' is BIGINT in alpha_seen but VARCHAR in beta"):
        build_schema({"alpha_seen": AlphaSeen, "beta_seen": BetaSeen})


def test_build_schema_float_field_raises() -> None:
    with pytest.raises(SchemaError, match=r"float_seen\.price: float field"):
        build_schema({"float_seen": FloatSeen})


@pytest.mark.parametrize(("kind", "cls"), [("crc_seen", CrcSeen), ("shard_seen", ShardSeen)])
def test_build_schema_field_named_like_an_envelope_column_raises(
    kind: str, cls: type[Event]
) -> None:
    with pytest.raises(SchemaError, match="envelope/view column"):
        build_schema({kind: cls})


def test_build_schema_decimal_stored_as_text_viewed_as_decimal() -> None:
    fields = {f.name: f for f in journal_schema().kinds["breaker_transitioned"]}
    assert (fields["limit"].stored_type, fields["limit"].view_type) == ("VARCHAR", "DECIMAL(38,18)")


def test_build_schema_raw_struct_and_tuple_fields_are_json() -> None:
    columns = dict(journal_schema().columns)
    assert (columns["frame"], columns["markets"], columns["orders"], columns["asset_ids"]) == (
        "JSON",
        "JSON",
        "JSON",
        "JSON",
    )


@pytest.mark.parametrize(
    ("value", "view_type", "expected"),
    [
        (None, "BIGINT", None),
        (msgspec.Raw(), "JSON", None),
        (msgspec.Raw(b"[1]"), "JSON", "CAST('[1]' AS JSON)"),
        (False, "BOOLEAN", "false"),
        (0, "BIGINT", "0"),
        ("it's", "VARCHAR", "CAST('it''s' AS VARCHAR)"),
        (Decimal("0.5"), "DECIMAL(38,18)", "CAST('0.5' AS DECIMAL(38,18))"),
        ((), "JSON", "CAST('[]' AS JSON)"),
    ],
)
def test_default_literal_values_map_to_sql(value: object, view_type: str, expected: str) -> None:
    assert default_literal(value, view_type) == expected
