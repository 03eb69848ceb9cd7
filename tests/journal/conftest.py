# Shared fixtures of the journal tests: a sample instance of every event kind and time constants.
#
# Test modules reach the helpers through the `kit` fixture (this module), because pytest runs in
# importlib mode where conftest is not importable.
#
# Rules: instances are derived from msgspec's type info, never written per kind, so a kind added
# later is journaled by the round-trip tests without touching this file. Every field is set to a
# non-default value so the encoder cannot omit it.
from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from polyarb.events import ALL_KINDS, Event
from polyarb.journal import layout

# 2025-12-27T00:00:00Z: a UTC midnight, so tests can cross it.
MIDNIGHT_NS = 1_766_793_600 * 1_000_000_000
SECOND_NS = 1_000_000_000


def _value(t: msgspec.inspect.Type, salt: int) -> Any:
    mi = msgspec.inspect
    if isinstance(t, mi.IntType):
        return 7 + salt if t.ge is None else max(t.ge, 7 + salt)
    if isinstance(t, mi.StrType):
        return f's{salt}-"quoted"\\n💥'
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.DecimalType):
        return Decimal("0.07") + salt
    if isinstance(t, mi.RawType):
        return msgspec.Raw(b'{"a":[1,2,{"b":null}],"n":%d}' % salt)
    if isinstance(t, mi.LiteralType):
        return t.values[-1]
    if isinstance(t, mi.UnionType):
        return _value(next(x for x in t.types if not isinstance(x, mi.NoneType)), salt)
    if isinstance(t, mi.VarTupleType | mi.ListType):
        return (_value(t.item_type, salt),)
    if isinstance(t, mi.StructType):
        return build_struct(t.cls, salt)
    raise TypeError(f"no sample value for {t!r}")


def build_struct(cls: type[Any], salt: int = 0, **overrides: Any) -> Any:
    """An instance of a msgspec Struct with every field set to a non-default sample value."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = {f.name: _value(f.type, salt) for f in info.fields if f.name not in overrides}
    return cls(**fields, **overrides)


def sample_event(kind: str, ts_recv_ns: int, salt: int = 0) -> Event:
    """One event of `kind` with every field set."""
    event: Event = build_struct(ALL_KINDS[kind], salt, ts_recv_ns=ts_recv_ns)
    return event


USER_KINDS = sorted(k for k in ALL_KINDS if k != "day_opened")
"""Kinds a caller may append (day_opened is written only by the writer itself)."""


@pytest.fixture
def journal_root(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture(scope="session")
def kit() -> ModuleType:
    """This module: sample_event, build_struct, segment_paths, MIDNIGHT_NS, ..."""
    return sys.modules[__name__]


def segment_paths(root: Path) -> list[Path]:
    """Every segment file under a journal root, in journal order."""
    return [
        root / day / seg.name
        for day in layout.list_days(root)
        for seg in layout.read_manifest(root / day).segments
    ]


_CRASH_SCRIPT = """
import json, os, sys
from polyarb.events import OrderRejected, StateCheckpoint
from polyarb.journal import Durability, JournalWriter
cfg = json.loads(sys.argv[1])
def hook(at_seq):
    return StateCheckpoint(ts_recv_ns=cfg["ts"], at_seq=at_seq, state_hash="h")
w = JournalWriter.open(
    cfg["root"],
    durability=Durability(batch_records=cfg["batch"]),
    segment_max_bytes=cfg["seg"],
    checkpoint_hook=hook if cfg["hook"] else None,
)
for i in range(cfg["count"]):
    ts = cfg["ts"] + i * cfg["step"]
    w.append(OrderRejected(ts_recv_ns=ts, client_order_id=f"c{i}", reason="r" * 40))
w.sync()
os._exit(0)  # a crash: no close, the day and the open segment stay open
"""


def write_then_crash(
    root: Path,
    count: int,
    ts: int,
    step: int = SECOND_NS,
    seg: int = 1500,
    batch: int = 5,
    hook: bool = False,
) -> None:
    """In a child process: open, append `count` records, fsync, and die without closing."""
    cfg = {"root": str(root), "count": count, "ts": ts, "step": step, "seg": seg, "batch": batch}
    cfg["hook"] = hook
    subprocess.run([sys.executable, "-c", _CRASH_SCRIPT, json.dumps(cfg)], check=True)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under a journal root except the lock (whose holder details change)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != layout.LOCK_NAME
    }
