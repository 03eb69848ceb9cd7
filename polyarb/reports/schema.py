# The journal's column schema for DuckDB, derived from the event Structs with msgspec.inspect.
#
# Rules:
# 1. No hand-written column lists: a new field or kind in polyarb.events shows up here (and in
#    every view and every newly sealed Parquet file) without an SQL change.
# 2. Stored columns (the `events` view, `sealed.parquet`) hold what the journal line holds:
#      int -> BIGINT      str, Literal[str] -> VARCHAR      bool -> BOOLEAN
#      Decimal -> VARCHAR (the exact decimal string as journaled: lossless, and one odd value can
#                 never fail a whole scan; the per-kind views cast it to DECIMAL(38,18))
#      msgspec.Raw, Structs, tuples, lists, dicts, mixed unions -> JSON
#    A field omitted from the line (it was at its default) is NULL in stored columns; the
#    per-kind views fill the default back in.
# 3. Float is refused (the journal never holds a float), and so is any type with no exact
#    column mapping: SchemaError at import of polyarb.reports, never a silently wrong column.
# 4. A field name shared by several kinds must map to one stored type, and no field may reuse an
#    envelope or view-added column name: SchemaError otherwise.
from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi

from polyarb.events import ALL_KINDS

BIGINT = "BIGINT"
VARCHAR = "VARCHAR"
BOOLEAN = "BOOLEAN"
JSON = "JSON"
DECIMAL = "DECIMAL(38,18)"

ENVELOPE: tuple[tuple[str, str], ...] = (
    ("seq", BIGINT),
    ("v", BIGINT),
    ("kind", VARCHAR),
    ("ts_recv_ns", BIGINT),
)
"""Leading envelope columns of every line, in line order."""

TRAILER: tuple[tuple[str, str], ...] = (("crc", VARCHAR),)
"""Envelope columns after the fields (the line's checksum)."""

SHARD = "shard"
"""Column the views add (not stored): the journal root a row came from."""

_RESERVED = frozenset({name for name, _ in ENVELOPE + TRAILER} | {SHARD})
_JSON_TYPES = (
    mi.RawType,
    mi.StructType,
    mi.VarTupleType,
    mi.TupleType,
    mi.ListType,
    mi.SetType,
    mi.FrozenSetType,
    mi.DictType,
)


class SchemaError(TypeError):
    """The event vocabulary cannot be mapped to one consistent set of typed columns."""


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """One event field as a column.

    Attributes:
        name: the column (the field's name on the journal line).
        stored_type: its type in `events` and in `sealed.parquet`.
        view_type: its type in the per-kind view (DECIMAL for Decimal fields, else stored_type).
        default_sql: SQL literal of the field's default (None: NULL stays NULL).
    """

    name: str
    stored_type: str
    view_type: str
    default_sql: str | None = None


class JournalSchema(msgspec.Struct, frozen=True, kw_only=True):
    """Stored columns (envelope, the union of every kind's fields, crc) and fields per kind."""

    columns: tuple[tuple[str, str], ...]
    kinds: dict[str, tuple[Field, ...]]


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (field names such as `limit` are reserved words)."""
    return '"' + name.replace('"', '""') + '"'


def quote_str(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def stored_type(t: mi.Type, where: str) -> str:
    """The stored column type of one msgspec type. Raises SchemaError when there is none."""
    if isinstance(t, mi.BoolType):
        return BOOLEAN
    if isinstance(t, mi.IntType):
        return BIGINT
    if isinstance(t, mi.StrType | mi.DecimalType):
        return VARCHAR
    if isinstance(t, mi.LiteralType):
        return _literal_type(t, where)
    if isinstance(t, _JSON_TYPES):
        return JSON
    if isinstance(t, mi.UnionType):
        members = {stored_type(m, where) for m in t.types if not isinstance(m, mi.NoneType)}
        return members.pop() if len(members) == 1 else JSON
    if isinstance(t, mi.FloatType):
        raise SchemaError(f"{where}: float field; the journal holds no floats (use *_micros)")
    raise SchemaError(f"{where}: no exact column type for {type(t).__name__}")


def _literal_type(t: mi.LiteralType, where: str) -> str:
    if all(isinstance(v, str) for v in t.values):
        return VARCHAR
    if all(isinstance(v, int) and not isinstance(v, bool) for v in t.values):
        return BIGINT
    raise SchemaError(f"{where}: Literal mixes value types {t.values!r}")


def _is_decimal(t: mi.Type) -> bool:
    if isinstance(t, mi.UnionType):
        return any(_is_decimal(m) for m in t.types)
    return isinstance(t, mi.DecimalType)


def default_literal(value: Any, view_type: str) -> str | None:
    """SQL literal for a field default, or None when the default is NULL (None or empty Raw)."""
    if value is None or value is msgspec.NODEFAULT:
        return None
    if isinstance(value, msgspec.Raw):
        text = bytes(memoryview(value)).decode()
        return None if text == "" else f"CAST({quote_str(text)} AS JSON)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str | Decimal):
        return f"CAST({quote_str(str(value))} AS {view_type})"
    return f"CAST({quote_str(msgspec.json.encode(value).decode())} AS JSON)"


def _field(kind: str, f: mi.Field) -> Field:
    where = f"{kind}.{f.encode_name}"
    stored = stored_type(f.type, where)
    view = DECIMAL if stored == VARCHAR and _is_decimal(f.type) else stored
    default = f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
    return Field(
        name=f.encode_name,
        stored_type=stored,
        view_type=view,
        default_sql=default_literal(default, view),
    )


def _kind_fields(kind: str, cls: type[msgspec.Struct]) -> tuple[Field, ...]:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):
        raise SchemaError(f"{kind}: not a msgspec Struct")
    fields = []
    for f in info.fields:
        if f.encode_name == "ts_recv_ns":
            if not isinstance(f.type, mi.IntType):
                raise SchemaError(f"{kind}.ts_recv_ns must be an int")
            continue
        if f.encode_name in _RESERVED:
            raise SchemaError(f"{kind}.{f.encode_name}: the name is an envelope/view column")
        fields.append(_field(kind, f))
    return tuple(fields)


def build_schema(kinds: Mapping[str, type[msgspec.Struct]]) -> JournalSchema:
    """Derive the column schema from event classes (kind tag -> Struct class).

    Columns are the envelope, then every field in order of first appearance over the kinds in
    sorted kind order (deterministic), then `crc`.

    Raises:
        SchemaError: a field has no exact column type, reuses an envelope name, or two kinds
            give one field name different stored types.
    """
    per_kind = {kind: _kind_fields(kind, kinds[kind]) for kind in sorted(kinds)}
    union: dict[str, tuple[str, str]] = {}  # name -> (stored type, first kind)
    for kind, fields in per_kind.items():
        for f in fields:
            seen = union.setdefault(f.name, (f.stored_type, kind))
            if seen[0] != f.stored_type:
                raise SchemaError(
                    f"field {f.name!r} is {seen[0]} in {seen[1]} but {f.stored_type} in {kind}"
                )
    columns = ENVELOPE + tuple((n, t) for n, (t, _) in union.items()) + TRAILER
    return JournalSchema(columns=columns, kinds=per_kind)


@functools.cache
def journal_schema() -> JournalSchema:
    """The schema of polyarb's own event vocabulary (polyarb.events.ALL_KINDS)."""
    return build_schema(ALL_KINDS)
