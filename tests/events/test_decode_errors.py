# Explicit handling of the unknown: what the codec does with lines it cannot read as written.
#
# Rules: decoding never guesses. Every unreadable line raises a CodecError subclass naming the
# reason (and the seq when it was readable); older schema versions are upcast only through a
# registered upcaster; nothing is silently mangled. Test lines are built here with their own CRC
# so each layer (layout, checksum, JSON, types, kind, version) is exercised on its own.
from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events import (
    ChecksumMismatch,
    ClockTick,
    CodecError,
    MalformedRecord,
    OperatorCommand,
    OpportunityBlocked,
    Record,
    RunStarted,
    RunStopped,
    UnknownKind,
    UnsupportedVersion,
    codec,
    decode_event,
    decode_record,
    encode_event,
    encode_record,
)


def _line(body: bytes) -> bytes:
    """A journal line with a correct CRC around `body` (everything before `,"crc":`)."""
    return body + b',"crc":"%08x"}\n' % zlib.crc32(body)


def _run_stopped_v(v: int, fields: bytes = b'"run_id":"r-1","reason":"done"') -> bytes:
    return _line(b'{"seq":3,"v":%d,"kind":"run_stopped","ts_recv_ns":5,%s' % (v, fields))


# --- unknown kinds and versions ----------------------------------------------------------------


def test_decode_record_unknown_kind_raises_with_seq() -> None:
    line = _line(b'{"seq":9,"v":1,"kind":"teleported","ts_recv_ns":1,"to":"mars"')

    with pytest.raises(UnknownKind, match="teleported") as info:
        decode_record(line)

    assert info.value.seq == 9
    assert str(info.value).startswith("seq 9:")


def test_decode_record_newer_version_raises_naming_kind_and_versions() -> None:
    with pytest.raises(UnsupportedVersion) as info:
        decode_record(_run_stopped_v(2))

    message = str(info.value)
    assert "run_stopped" in message
    assert "v2" in message
    assert "v1" in message
    assert info.value.seq == 3


def test_decode_record_newer_version_with_new_fields_still_unsupported() -> None:
    # A v2 line whose fields no longer fit v1 must not be reported as merely malformed.
    line = _run_stopped_v(7, b'"run":{"id":"r-1"}')

    with pytest.raises(UnsupportedVersion, match="v7"):
        decode_record(line)


def test_decode_record_older_version_without_upcaster_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(RunStopped, "SCHEMA_VERSION", 2)

    with pytest.raises(UnsupportedVersion, match="no upcaster for run_stopped v1"):
        decode_record(_run_stopped_v(1))


def test_decode_record_version_zero_raises() -> None:
    with pytest.raises(UnsupportedVersion, match="v0"):
        decode_record(_run_stopped_v(0))


def _rename(old: str, new: str) -> codec.Upcaster:
    def upcast(fields: dict[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        out[new] = out.pop(old)
        return out

    return upcast


def test_decode_record_older_version_upcast(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange: pretend run_stopped is at v2, where v1's `why` became `reason`.
    monkeypatch.setattr(RunStopped, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(codec.UPCASTERS, ("run_stopped", 1), _rename("why", "reason"))
    line = _run_stopped_v(1, b'"run_id":"r-1","why":"operator"')

    # Act
    record = decode_record(line)

    # Assert
    assert record == Record(3, RunStopped(ts_recv_ns=5, run_id="r-1", reason="operator"))


def test_decode_record_upcasts_chain_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RunStopped, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(codec.UPCASTERS, ("run_stopped", 1), _rename("why", "cause"))
    monkeypatch.setitem(codec.UPCASTERS, ("run_stopped", 2), _rename("cause", "reason"))

    v1 = decode_record(_run_stopped_v(1, b'"run_id":"r-1","why":"w"'))
    v2 = decode_record(_run_stopped_v(2, b'"run_id":"r-1","cause":"w"'))

    assert v1.event == v2.event == RunStopped(ts_recv_ns=5, run_id="r-1", reason="w")


def test_decode_record_upcast_keeps_raw_and_big_ints_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # The upcast path must not re-serialise verbatim JSON (floats, spacing) or round big ints.
    monkeypatch.setattr(RunStarted, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(codec.UPCASTERS, ("run_started", 1), dict)
    config = b'{"fee": 1.10, "big": 123456789012345678901234567890}'
    line = _line(
        b'{"seq":4,"v":1,"kind":"run_started","ts_recv_ns":18446744073709551617,"run_id":"r",'
        b'"venue":"sim","code_version":"c","config_hash":"h","config":' + config
    )

    event = decode_record(line).event

    assert isinstance(event, RunStarted)
    assert bytes(event.config) == config
    assert event.ts_recv_ns == 18446744073709551617


def test_decode_record_upcast_to_invalid_fields_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RunStopped, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(codec.UPCASTERS, ("run_stopped", 1), lambda f: {**f, "reason": 42})

    with pytest.raises(MalformedRecord, match="after upcast"):
        decode_record(_run_stopped_v(1))


def test_upcast_monkeypatch_restored() -> None:
    # Guards the tests above: their patches must not leak into the real registry.
    assert RunStopped.SCHEMA_VERSION == 1
    assert ("run_stopped", 1) not in codec.UPCASTERS


# --- corruption and garbage --------------------------------------------------------------------

VALID = encode_record(12, OperatorCommand(ts_recv_ns=77, command="halt", reason="manual"))


def test_decode_record_valid_line_decodes() -> None:
    assert decode_record(VALID) == Record(
        12, OperatorCommand(ts_recv_ns=77, command="halt", reason="manual")
    )
    assert decode_record(VALID.rstrip(b"\n")) == decode_record(VALID)


def test_decode_record_flipped_byte_checksum_mismatch() -> None:
    corrupt = VALID.replace(b'"halt"', b'"hAlt"')

    with pytest.raises(ChecksumMismatch) as info:
        decode_record(corrupt)

    assert info.value.seq == 12


def test_decode_record_wrong_crc_digits_checksum_mismatch() -> None:
    tail = VALID.rindex(b'"}')
    corrupt = VALID[: tail - 1] + (b"0" if VALID[tail - 1 : tail] != b"0" else b"1") + VALID[tail:]

    with pytest.raises(ChecksumMismatch):
        decode_record(corrupt)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\n",
        b"hello world\n",
        b"{}\n",
        b'{"seq":1}\n',
        b'{"v":1,"seq":1,"kind":"clock_tick","ts_recv_ns":1,"crc":"00000000"}\n',
        b'{"seq":x,"v":1,"kind":"clock_tick","ts_recv_ns":1,"crc":"00000000"}\n',
        b'{"seq":1,"v":1,"kind":"clock_tick","ts_recv_ns":1,"crc":"zzzzzzzz"}\n',
        b'{"seq":1,"v":1,"kind":"clock_tick","ts_recv_ns":1}\n',
        b"\x00" * 80,
    ],
)
def test_decode_record_garbage_malformed(line: bytes) -> None:
    with pytest.raises(MalformedRecord):
        decode_record(line)


@pytest.mark.parametrize("cut", range(1, len(VALID) - 1))
def test_decode_record_truncated_line_malformed(cut: int) -> None:
    with pytest.raises(MalformedRecord):
        decode_record(VALID[:cut])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"seq":1,"vv":1,"kind":"clock_tick","ts_recv_ns":1', "version missing"),
        (b'{"seq":1,"v":one,"kind":"clock_tick","ts_recv_ns":1', "version is not an integer"),
        (b'{"seq":1,"v":1,"kind":"clock_tick","ts_recv_ns":1,,', "invalid JSON"),
        (b'{"seq":1,"v":1,"kind":"clock_tick","ts_recv_ns":"1"', "Expected `int`"),
        (b'{"seq":1,"v":1,"kind":"clock_tick","ts_recv_ns":1.5', "Expected `int`"),
        (b'{"seq":1,"v":1,"kind":"clock_tick"', "ts_recv_ns"),
        (b'{"seq":1,"v":1,"ts_recv_ns":1', "kind"),
        (b'{"seq":1,"v":1,"kind":7,"ts_recv_ns":1', "kind"),
        (b'{"seq":1,"v":1,"kind":"operator_command","ts_recv_ns":1,"command":"panic"', "command"),
        (
            b'{"seq":1,"v":1,"kind":"opportunity_blocked","ts_recv_ns":1,"cause_seq":1,'
            b'"opp_id":"o","gate":"g","limit":"abc","observed":"1"',
            "limit",
        ),
        (
            b'{"seq":1,"v":1,"kind":"raw_frame","ts_recv_ns":1,"conn":"c","frame":' + b"[" * 1200,
            "JSON",
        ),
    ],
)
def test_decode_record_bad_content_with_valid_crc_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason) as info:
        decode_record(_line(body))

    assert info.value.seq == 1


def test_decode_record_json_number_in_decimal_field_exact() -> None:
    # msgspec reads a JSON number into a Decimal from its text, so nothing is rounded via float.
    line = _line(
        b'{"seq":1,"v":1,"kind":"opportunity_blocked","ts_recv_ns":1,"cause_seq":1,'
        b'"opp_id":"o","gate":"g","limit":0.1000000000000000055511151231257827,"observed":"1"'
    )

    event = decode_record(line).event

    assert isinstance(event, OpportunityBlocked)
    assert event.limit == Decimal("0.1000000000000000055511151231257827")


@pytest.mark.parametrize("depth", [1010, 5000, 100_000])
def test_decode_record_deeply_nested_raw_never_recursion_error(depth: int) -> None:
    # Whether msgspec can skip a value this deep depends on how much Python stack is left
    # (it differs between a plain run and an xdist worker): decoding may succeed or be refused
    # as MalformedRecord, but no RecursionError (or anything else) may escape.
    deep = b"[" * depth + b"]" * depth
    line = _line(b'{"seq":2,"v":1,"kind":"raw_frame","ts_recv_ns":1,"conn":"c","frame":' + deep)

    try:
        record = decode_record(line)
    except MalformedRecord:
        return
    assert record.seq == 2


def test_codec_errors_are_value_errors() -> None:
    for cls in (MalformedRecord, ChecksumMismatch, UnknownKind, UnsupportedVersion):
        assert issubclass(cls, CodecError)
        assert issubclass(cls, ValueError)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decode_record_mutated_body_never_crashes(data: st.DataObject) -> None:
    # Mutate bytes of the body and re-sign it, so the JSON and type layers see the damage.
    body = VALID[: VALID.rindex(b',"crc":')]
    index = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.integers(0, 255))
    mutated = _line(body[:index] + bytes([byte]) + body[index + 1 :])

    try:
        record = decode_record(mutated)
    except CodecError:
        return
    assert isinstance(record, Record)
    assert encode_record(record.seq, record.event).count(b"\n") == 1


# --- decode_event ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"kind":"teleported","ts_recv_ns":1}',
        b'{"kind":"clock_tick"}',
        b'{"kind":"clock_tick","ts_recv_ns":"now"}',
        b'{"kind":"clock_tick","ts_recv_ns":1',
        b"[" * 1200 + b"]" * 1200,
    ],
)
def test_decode_event_bad_input_malformed(data: bytes) -> None:
    with pytest.raises(MalformedRecord):
        decode_event(data)


# --- msgspec.Raw fields must stay one line of valid JSON -----------------------------------------


def _run_started(config: bytes) -> RunStarted:
    return RunStarted(
        ts_recv_ns=1,
        run_id="r",
        venue="sim",
        code_version="c",
        config_hash="h",
        config=msgspec.Raw(config),
    )


@pytest.mark.parametrize(
    "config",
    [b'{\n  "a": 1\n}', b'{"a":1}\r', b"not json", b"", b" {}", b"{} ", b"[" * 1000 + b"]" * 1000],
)
def test_encode_record_bad_raw_field_raises_naming_field(config: bytes) -> None:
    event = _run_started(config)

    with pytest.raises(MalformedRecord, match=r"run_started\.config"):
        encode_record(1, event)
    with pytest.raises(MalformedRecord, match=r"run_started\.config"):
        encode_event(event)


def test_encode_record_default_raw_field_omitted() -> None:
    event = RunStarted(ts_recv_ns=1, run_id="r", venue="sim", code_version="c", config_hash="h")

    line = encode_record(1, event)

    assert b'"config"' not in line
    assert decode_record(line).event == event


def test_encode_record_compact_raw_field_roundtrips() -> None:
    event = _run_started(b'{"max_notional_micros":5000000,"nested":[1,{"b":null}]}')

    assert decode_record(encode_record(1, event)).event == event


def test_encode_record_event_without_raw_fields_unaffected() -> None:
    event = ClockTick(ts_recv_ns=2**70)

    assert decode_record(encode_record(1, event)) == Record(1, event)
