# Raw websocket frames: what encode_raw_frame writes and that decoding gives the frame back.
#
# Rules: a frame is journaled exactly as received. Valid one-line JSON is embedded byte for byte in
# `frame`; any other text is kept in `text`; binary frames are base64 in `text` with `binary` true.
# These tests pin both the line layout (what SQL users see) and the lossless round trip.
from __future__ import annotations

import base64

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events import RawFrame, decode_record, encode_raw_frame, encode_record
from polyarb.events.codec import frame_is_embeddable

FRAME_KEY = b',"frame":'
CRC_KEY = b',"crc":"'

JSON_FRAMES = [
    '[{"event_type":"book","asset_id":"123","bids":[{"price":"0.48","size":"30"}]}]',
    '{"event_type":"price_change","changes":[]}',
    '{ "spaced" : [1, 2 ,3] ,"u":"\\u00e9" }',
    '{"price":"0.5","big":123456789012345678901234567890}',
    '{"emoji":"💥","quote":"\\"","tab":"a\\tb"}',
    "[]",
    "null",
    "0",
    '"just a string"',
]
TEXT_FRAMES = [
    "PONG",
    "INVALID OPERATION",
    '{"event_type":"book","bids":[',  # truncated JSON
    '{\n  "pretty": true\n}',  # valid JSON but with a raw newline
    '{"a":1}\r',
    "",
    " 1 ",  # valid JSON, but surrounding whitespace would not survive the Raw round trip
    "\t[]",
    "[1,]",
    "NaN",
    "héllo 💥 \u2028",
    '{"a":1},"crc":"00000000"}',
]


def _frame_bytes(line: bytes) -> bytes:
    start = line.index(FRAME_KEY) + len(FRAME_KEY)
    return line[start : line.rindex(CRC_KEY)]


def _decode_frame(line: bytes) -> RawFrame:
    record = decode_record(line)
    assert isinstance(record.event, RawFrame)
    return record.event


@pytest.mark.parametrize("frame", JSON_FRAMES)
def test_encode_raw_frame_json_text_embedded_verbatim(frame: str) -> None:
    # Act
    line = encode_raw_frame(5, 1_766_793_600_123_456_789, "market-0", frame)

    # Assert
    assert _frame_bytes(line) == frame.encode()
    event = _decode_frame(line)
    assert bytes(event.frame) == frame.encode()
    assert orjson.loads(bytes(event.frame)) == orjson.loads(frame)
    assert event.text is None
    assert event.binary is False


@pytest.mark.parametrize("frame", TEXT_FRAMES)
def test_encode_raw_frame_non_json_text_kept_in_text(frame: str) -> None:
    # Act
    line = encode_raw_frame(6, 1, "market-0", frame)

    # Assert
    assert line.count(b"\n") == 1
    assert FRAME_KEY not in line.split(CRC_KEY)[0].split(b',"text":')[0]
    event = _decode_frame(line)
    assert event.text == frame
    assert bytes(event.frame) == b""
    assert event.binary is False


@pytest.mark.parametrize("data", [b"", b"\x00\xff\xfe", b"PONG", b'{"a":1}', bytes(range(256))])
def test_encode_raw_frame_binary_base64_in_text(data: bytes) -> None:
    # Act
    event = _decode_frame(encode_raw_frame(7, 1, "user-0", data, channel="user"))

    # Assert
    assert event.binary is True
    assert event.text is not None
    assert base64.b64decode(event.text, validate=True) == data
    assert event.channel == "user"
    assert event.conn == "user-0"


@pytest.mark.parametrize("frame", ["1e400", '{"x":-1e999}', '"\\ud800"'])
def test_encode_raw_frame_json_edge_numbers_lossless(frame: str) -> None:
    # JSON that some parsers refuse (an infinite number, a lone surrogate escape) is kept
    # byte for byte, embedded or as text; the core's parser decides what it means.
    event = _decode_frame(encode_raw_frame(1, 1, "market-0", frame))

    assert (bytes(event.frame) == frame.encode()) if event.text is None else event.text == frame


def test_encode_raw_frame_envelope_fields_decoded() -> None:
    line = encode_raw_frame(42, 1_766_793_600_123_456_789, 'we"ird\nconn', "PONG", channel="user")

    record = decode_record(line)

    assert record.seq == 42
    assert record.event == RawFrame(
        ts_recv_ns=1_766_793_600_123_456_789, conn='we"ird\nconn', channel="user", text="PONG"
    )
    assert line.startswith(b'{"seq":42,"v":1,"kind":"raw_frame","ts_recv_ns":1766793600123456789,')


def test_encode_raw_frame_market_channel_omitted() -> None:
    line = encode_raw_frame(1, 1, "market-0", "[]")

    assert b'"channel"' not in line


def test_encode_raw_frame_same_line_as_encode_record() -> None:
    # The hot path and the generic encoder agree byte for byte on the same event.
    frame = '{"event_type":"tick_size_change","new_tick_size":"0.001"}'
    event = RawFrame(ts_recv_ns=9, conn="market-1", frame=msgspec.Raw(frame.encode()))

    assert encode_raw_frame(3, 9, "market-1", frame) == encode_record(3, event)


@pytest.mark.parametrize("frame", ['{\n"a": 1}', " [1] ", "[1]\r\n", ""])
def test_encode_raw_frame_embeddable_hint_cannot_break_the_line(frame: str) -> None:
    # A caller's "I parsed it, it is JSON" must not embed something that breaks the line layout.
    event = _decode_frame(encode_raw_frame(1, 1, "market-0", frame, embeddable=True))

    assert event.text == frame


def test_encode_raw_frame_deep_nesting_stays_readable() -> None:
    # Deep enough that orjson accepts it but the reader's recursion limit would not.
    frame = "[" * 1000 + "]" * 1000

    event = _decode_frame(encode_raw_frame(1, 1, "market-0", frame))

    assert event.text == frame


def test_orjson_nesting_limit_is_what_the_codec_assumes() -> None:
    # json_depth.shallow_json measures depth with orjson's own limit; pin it.
    assert orjson.loads(b"[" * 1024 + b"]" * 1024) is not None
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b"[" * 1025 + b"]" * 1025)


@pytest.mark.parametrize(("depth", "embedded"), [(512, True), (513, False), (700, False)])
def test_frame_is_embeddable_depth_boundary(depth: int, embedded: bool) -> None:
    # Padding with many shallow objects defeats the cheap bracket count, forcing the depth check.
    inner = depth - 1  # the outer list is one level
    frame = b"[" + b'{"a":{}},' * 300 + b"[" * inner + b"]" * inner + b"]"

    assert frame_is_embeddable(frame) is embedded


def test_frame_is_embeddable_wide_shallow_frame() -> None:
    levels = b",".join(b'{"price":"0.%03d","size":"100"}' % i for i in range(999))
    frame = b'[{"event_type":"book","bids":[' + levels + b'],"asks":[' + levels + b"]}]"

    assert frame_is_embeddable(frame)


def test_frame_is_embeddable_examples() -> None:
    assert frame_is_embeddable(b'{"a":[1,2]}')
    assert not frame_is_embeddable(b"PONG")
    assert not frame_is_embeddable(b'{"a":\n1}')
    assert not frame_is_embeddable(b"")


_SAFE_TEXT = st.text(alphabet=st.characters(codec="utf-8"))
FRAME_TEXT = _SAFE_TEXT | st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_SAFE_TEXT, inner, max_size=4),
    max_leaves=12,
).map(msgspec.json.encode).flatmap(
    lambda compact: st.sampled_from(
        [
            compact.decode(),
            msgspec.json.format(compact, indent=2).decode(),  # pretty: raw newlines
            compact.decode().replace(",", " , "),  # insignificant whitespace inside
            f" {compact.decode()}\t",  # whitespace around: valid JSON, kept in `text`
        ]
    )
)


@settings(max_examples=300, deadline=None)
@given(frame=FRAME_TEXT, seq=st.integers(0, 2**63 - 1), ts=st.integers(0, 2**63 - 1))
def test_encode_raw_frame_any_text_reproduced_exactly(frame: str, seq: int, ts: int) -> None:
    # Act
    line = encode_raw_frame(seq, ts, "market-0", frame)
    record = decode_record(line)

    # Assert
    assert line.count(b"\n") == 1
    event = record.event
    assert isinstance(event, RawFrame)
    assert record.seq == seq
    assert event.ts_recv_ns == ts
    if event.text is None:
        assert _frame_bytes(line) == frame.encode()
        assert bytes(event.frame) == frame.encode()
        assert orjson.loads(bytes(event.frame)) == orjson.loads(frame)
    else:
        assert event.text == frame
        assert bytes(event.frame) == b""


@settings(max_examples=100, deadline=None)
@given(data=st.binary())
def test_encode_raw_frame_any_bytes_reproduced_exactly(data: bytes) -> None:
    event = _decode_frame(encode_raw_frame(1, 2, "market-0", data))

    assert event.binary is True
    assert event.text is not None
    assert base64.b64decode(event.text) == data
