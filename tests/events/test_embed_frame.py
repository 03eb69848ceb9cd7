# embed_text_frame: the one classification of a text frame that the journal writer then trusts.
#
# - unparsed, it agrees with frame_is_embeddable (plus the str's own CR/LF check);
# - parsed (the caller's msgspec decode vouched for validity), it still refuses what the layout
#   or the reader's depth limit forbids;
# - the line of an EmbeddedFrame is byte for byte the line of the same text frame.
from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.events import decode_record, encode_raw_frame
from polyarb.events.codec import EmbeddedFrame, embed_text_frame, frame_is_embeddable
from tests.events.test_raw_frames import FRAME_TEXT, JSON_FRAMES, TEXT_FRAMES

DEEP = "[" * 600 + "]" * 600


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("frame", JSON_FRAMES + TEXT_FRAMES + [DEEP])
def test_embed_text_frame_unparsed_agrees_with_frame_is_embeddable(frame: str) -> None:
    embedded = embed_text_frame(frame, _raw(frame))

    assert (embedded is not None) is frame_is_embeddable(_raw(frame))


@pytest.mark.parametrize("frame", ['{\n"a": 1}', " [1] ", "[1]\r\n", "", "\t[]", DEEP])
def test_embed_text_frame_parsed_still_refuses_layout_and_depth(frame: str) -> None:
    assert embed_text_frame(frame, _raw(frame), parsed=True) is None


@settings(max_examples=200, deadline=None)
@given(frame=FRAME_TEXT, seq=st.integers(0, 2**63 - 1), ts=st.integers(0, 2**63 - 1))
def test_embed_text_frame_line_equals_the_text_frame_line(frame: str, seq: int, ts: int) -> None:
    raw = _raw(frame)
    parsed = True
    try:
        msgspec.json.decode(raw)
    except msgspec.DecodeError:
        parsed = False
    embedded = embed_text_frame(frame, raw, parsed=parsed)
    line = encode_raw_frame(seq, ts, "market-0", frame)

    assert (embedded is not None) is (embed_text_frame(frame, raw) is not None)
    if embedded is not None:
        assert isinstance(embedded, EmbeddedFrame)
        assert encode_raw_frame(seq, ts, "market-0", embedded) == line
        assert bytes(decode_record(line).event.frame) == raw  # type: ignore[attr-defined]
