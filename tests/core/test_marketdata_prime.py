# MarketData.prime: the shell's one decode per frame is a cache that never changes a result.
#
# - apply_raw after prime == apply_raw alone (touched, decisions, messages, state, stats).
# - a prime only serves the very object it decoded; any other frame decodes itself.
# - prime's True means the bytes are valid JSON to the journal's own validity parser.
from __future__ import annotations

from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.marketdata import MarketData
from tests.core.test_marketdata import A, _book, _draw_frame

SEC = 1_000_000_000
_VALIDATOR = msgspec.json.Decoder(msgspec.Raw)


def _fold(md: MarketData, frame: msgspec.Raw, seq: int, *, prime: bool) -> Any:
    if prime:
        md.prime(frame)
    touched, decisions, messages = md.apply_raw(frame, None, seq * SEC, seq)
    return touched, decisions, list(messages)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_prime_then_apply_raw_equals_apply_raw_alone(data: st.DataObject) -> None:
    primed, plain = MarketData(), MarketData()
    naive: dict[str, dict[bool, dict[int, int]]] = {}
    for seq in range(1, data.draw(st.integers(1, 25)) + 1):
        frame = msgspec.Raw(orjson.dumps(_draw_frame(data, naive)))

        assert _fold(primed, frame, seq, prime=True) == _fold(plain, frame, seq, prime=False)
    assert primed.snapshot() == plain.snapshot()
    assert primed.stats() == plain.stats()


def test_prime_other_object_is_decoded_on_its_own() -> None:
    md, ref = MarketData(), MarketData()
    snapshot = _book(A, {400_000: 1_000_000}, {600_000: 1_000_000})
    md.prime(msgspec.Raw(orjson.dumps(_book(A, {}, {}))))  # never applied
    frame = msgspec.Raw(orjson.dumps(snapshot))

    assert md.apply_raw(frame, None, SEC, 1) == ref.apply_raw(frame, None, SEC, 1)
    assert md.snapshot() == ref.snapshot()


def test_prime_outside_the_schema_is_false_and_still_applies() -> None:
    md, ref = MarketData(), MarketData()
    frame = msgspec.Raw(b'[{"event_type":"new_market","market":"0x1"}]')

    assert md.prime(frame) is False
    assert md.apply_raw(frame, None, SEC, 1) == ref.apply_raw(frame, None, SEC, 1)


_SEEDS = [
    b'{"event_type":"book","asset_id":"a","bids":[{"price":"0.4","size":"1"}],"x":[[[[1]]]]}',
    b'[{"event_type":"price_change","price_changes":[{"asset_id":"a","price":"0.4",'
    b'"size":"1","side":"BUY"}],"t":{"u":"\\u00e9"}}]',
    b'{"event_type":"last_trade_price","asset_id":"a","price":"0.5","y":1e400}',
]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(raw)))
        raw[at:at + draw(st.integers(0, 1))] = draw(st.binary(min_size=0, max_size=2))
    return bytes(raw)


@settings(max_examples=300, deadline=None)
@given(_mutated())
def test_prime_true_means_the_journal_validator_accepts_the_bytes(raw: bytes) -> None:
    # embed_text_frame(parsed=True) relies on this: msgspec's strict decode accepts a subset of
    # what the reader's skip parser accepts (it also validates UTF-8 in the strings it reads).
    if MarketData().prime(msgspec.Raw(raw)):
        _VALIDATOR.decode(raw)
