# The receive fast lane of the market feed (feed_wire.py rules 4-5): split_frames on its own,
# then FeedConnection against websockets' own ClientConnection on the same byte streams (the
# lane plus websockets must deliver, answer and close exactly as websockets alone), then the
# lane on a live loopback connection.
from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import OPEN
from websockets.streams import StreamReader
from websockets.uri import parse_uri

from polyarb.venues.polymarket.feed_conn import Session, Shard, Stamp
from polyarb.venues.polymarket.feed_watch import WatchPolicy
from polyarb.venues.polymarket.feed_wire import (
    HAND_OVER,
    NEED_DATA,
    FeedConnection,
    frame_size,
    split_frames,
)
from tests.venues.polymarket.test_feed_support import (
    Recorder,
    fast_feed,
    run,
    running,
    until,
    venue,
)

LIMIT = 300  # a small max_size, so oversized frames are easy to generate


def wire(payload: bytes, head: int = 0x81, *, mask: bytes | None = None) -> bytes:
    """One frame as a server would put it on the wire (our own encoder: any header allowed)."""
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        header = bytes([head, bit | n])
    elif n < 65536:
        header = bytes([head, bit | 126]) + struct.pack("!H", n)
    else:
        header = bytes([head, bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return header + payload
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# --- split_frames ---------------------------------------------------------------------------


def test_split_frames_takes_text_and_binary_across_length_encodings() -> None:
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 70000]
    buf = b"".join(wire(b"a" * n, 0x81 if i % 2 else 0x82) for i, n in enumerate(sizes))
    messages, pos, verdict = split_frames(buf, 0, None)
    assert (pos, verdict) == (len(buf), NEED_DATA)
    assert messages == [b"a" * n if i % 2 == 0 else "a" * n for i, n in enumerate(sizes)]


def test_split_frames_waits_on_a_partial_frame_at_its_start() -> None:
    whole = wire(b"x" * 200)
    for cut in range(len(whole)):
        buf = wire(b"one") + whole[:cut]
        assert split_frames(buf, 0, None) == (["one"], 5, NEED_DATA)


def test_split_frames_cuts_a_control_frame_out_whole() -> None:
    buf = wire(b"a") + wire(b"ping!", 0x89) + wire(b"b")
    assert split_frames(buf, 0, None) == (["a"], 3, 10)
    assert split_frames(buf, 10, None) == (["b"], len(buf), NEED_DATA)
    assert split_frames(buf[:9], 3, None) == ([], 3, NEED_DATA)  # a partial control frame


@pytest.mark.parametrize("frame", [
    wire(b"frag", 0x01),  # text, not FIN: a fragment
    wire(b"cont", 0x80),  # continuation
    wire(b"rsv", 0xC1),  # RSV1 without an extension
    wire(b"op", 0x83),  # reserved data opcode
    wire(b"x" * 126, 0x89),  # control frame over 125 bytes
    wire(b"\xff\xfe", 0x81),  # text that is not UTF-8
    wire(b"\xed\xa0\x80", 0x81),  # an encoded surrogate: not UTF-8 either
    wire(b"masked", 0x81, mask=b"abcd"),  # a server never masks
    wire(b"y" * (LIMIT + 1))[:10],  # over the limit: handed over before its payload arrives
])
def test_split_frames_hands_over_what_is_not_its_own(frame: bytes) -> None:
    buf = wire(b"ok") + frame + wire(b"after")
    assert split_frames(buf, 0, LIMIT) == (["ok"], 4, HAND_OVER)


def test_split_frames_takes_a_frame_at_the_limit() -> None:
    buf = wire(b"y" * LIMIT)
    assert split_frames(buf, 0, LIMIT) == (["y" * LIMIT], len(buf), NEED_DATA)


def test_frame_size_is_the_whole_frame_once_the_header_is_there() -> None:
    for n in (0, 125, 126, 65535, 65536):
        whole = wire(b"z" * n)
        assert frame_size(whole[:len(whole) - n]) == len(whole)
    assert [frame_size(wire(b"z" * 70000)[:k]) for k in (0, 1, 5, 9)] == [2, 2, 10, 10]
    assert frame_size(wire(b"z" * 300)[:3]) == 4


# --- FeedConnection vs websockets' ClientConnection ----------------------------------------


class FakeTransport:
    """Enough of an asyncio transport for a connection fed by hand: records writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def is_closing(self) -> bool:
        return self.aborted

    def close(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _open(cls: type[ClientConnection]) -> tuple[ClientConnection, FakeTransport]:
    protocol = ClientProtocol(parse_uri("ws://127.0.0.1/ws/market"), state=OPEN,
                              max_size=LIMIT)
    conn = cls(protocol, ping_interval=None, ping_timeout=None, max_queue=None)
    conn.response = Response(101, "Switching Protocols", Headers())  # the handshake is done
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport


def _messages(frames: list[Frame]) -> list[tuple[str, bytes]]:
    """Messages assembled from queued data frames, as recv() would return them (bytes)."""
    out: list[tuple[str, bytes]] = []
    parts: list[bytes] = []
    kind = ""
    for frame in frames:
        if frame.opcode is not Opcode.CONT:
            kind = "text" if frame.opcode is Opcode.TEXT else "binary"
        parts.append(bytes(frame.data))
        if frame.fin:
            out.append((kind, b"".join(parts)))
            parts = []
    return out


def _sent(transport: FakeTransport) -> list[tuple[Opcode, bytes] | str]:
    """What the client wrote, unmasked (mask keys are random)."""
    reader = StreamReader()
    for chunk in transport.writes:
        if chunk != b"<eof>":
            reader.feed_data(chunk)
    out: list[tuple[Opcode, bytes] | str] = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            out.append((done.value.opcode, bytes(done.value.data)))
    return out + [c.decode() for c in transport.writes if c == b"<eof>"]


def _outcome(conn: ClientConnection, transport: FakeTransport,
             lane: list[tuple[str, bytes]]) -> dict[str, Any]:
    queued = list(conn.recv_messages.frames.queue)
    protocol = conn.protocol
    return {"messages": lane + _messages(queued), "sent": _sent(transport),
            "state": protocol.state, "close_rcvd": protocol.close_rcvd,
            "close_sent": protocol.close_sent, "error": type(protocol.parser_exc)}


def _feed_both(chunks: list[bytes], eof: bool) -> tuple[dict[str, Any], dict[str, Any], int]:
    async def main() -> tuple[dict[str, Any], dict[str, Any], int]:
        ref, ref_transport = _open(ClientConnection)
        fast, fast_transport = _open(FeedConnection)
        lane: list[tuple[str, bytes]] = []
        assert isinstance(fast, FeedConnection)
        assert fast.start_lane(lambda ms: lane.extend(
            ("text", m.encode()) if isinstance(m, str) else ("binary", m) for m in ms))
        for chunk in chunks:
            ref.data_received(chunk)
            fast.data_received(chunk)
        if eof:
            ref.eof_received()
            fast.eof_received()
        return (_outcome(ref, ref_transport, []), _outcome(fast, fast_transport, lane),
                fast.lane_frames)
    return asyncio.run(main())


_payload = st.binary(max_size=LIMIT + 20)
_text = st.text(max_size=100).map(str.encode)
_frames = st.one_of(
    st.tuples(st.sampled_from([0x81, 0x82]), st.one_of(_text, _payload)),  # whole data frames
    st.tuples(st.sampled_from([0x89, 0x8A]), st.binary(max_size=20)),  # ping / pong
    st.tuples(st.sampled_from([0x01, 0x02, 0x00, 0x80]), _text),  # fragments
    st.tuples(st.just(0x88), st.sampled_from([b"", struct.pack("!H", 1000) + b"bye"])),
    st.tuples(st.sampled_from([0xC1, 0x83, 0x8B]), _text),  # reserved bits / opcodes
)


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(_frames, max_size=12), cuts=st.lists(st.integers(0, 2000), max_size=6),
       tail=st.binary(max_size=4), eof=st.booleans())
def test_lane_with_websockets_equals_websockets_alone(
        frames: list[tuple[int, bytes]], cuts: list[int], tail: bytes, eof: bool) -> None:
    stream = b"".join(wire(payload, head) for head, payload in frames) + tail
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    ref, fast, _ = _feed_both(chunks, eof)
    assert fast == ref


def test_lane_takes_plain_data_frames_and_answers_a_ping_through_websockets() -> None:
    stream = wire(b"a") + wire(b"\x00\x01", 0x82) + wire(b"hello", 0x89) + wire(b"b")
    ref, fast, lane_frames = _feed_both([stream[:5], stream[5:]], eof=False)
    assert fast == ref and lane_frames == 3
    assert fast["sent"] == [(Opcode.PONG, b"hello")]


def test_lane_hands_a_fragmented_message_and_what_follows_to_websockets() -> None:
    stream = wire(b"a") + wire(b"fr", 0x01) + wire(b"ag", 0x80) + wire(b"b")
    ref, fast, lane_frames = _feed_both([stream], eof=False)
    assert fast == ref and lane_frames == 1
    assert fast["messages"] == [("text", b"a"), ("text", b"frag"), ("text", b"b")]


def test_lane_joins_a_long_frame_sent_in_many_reads() -> None:
    stream = wire(b"a") + wire(b"L" * 250) + wire(b"\x01" * 200, 0x82) + wire(b"b")
    chunks = [stream[i:i + 7] for i in range(0, len(stream), 7)]
    ref, fast, lane_frames = _feed_both(chunks, eof=False)
    assert fast == ref and lane_frames == 4


def test_lane_refuses_to_start_with_a_message_queued() -> None:
    async def main() -> None:
        conn, _ = _open(FeedConnection)
        assert isinstance(conn, FeedConnection)
        conn.data_received(wire(b"early"))
        assert not conn.start_lane(lambda ms: None) and not conn.on_lane
    asyncio.run(main())


def test_lane_refuses_to_start_mid_frame() -> None:
    async def main() -> None:
        conn, _ = _open(FeedConnection)
        assert isinstance(conn, FeedConnection)
        conn.data_received(wire(b"x" * 200)[:4])  # header read, payload pending
        assert not conn.start_lane(lambda ms: None)
    asyncio.run(main())


def test_lane_receiver_failure_aborts_and_is_kept() -> None:
    async def main() -> None:
        conn, transport = _open(FeedConnection)
        assert isinstance(conn, FeedConnection)

        def boom(messages: list[str | bytes]) -> None:
            raise RuntimeError("journal full")

        assert conn.start_lane(boom)
        conn.data_received(wire(b"a") + wire(b"b"))
        assert transport.aborted and isinstance(conn.lane_error, RuntimeError)
        assert not conn.on_lane
    asyncio.run(main())


# --- on a live loopback connection ---------------------------------------------------------


def _sends() -> list[Any]:
    """Frames for the venue to send: many small, binary, long, non-ASCII, fragmented."""
    sends: list[Any] = [f'{{"event_type":"n","n":{i}}}' for i in range(200)]
    return [*sends, b"\x00binary", "x" * 70000, "é✓", iter(["frag", "mented"]), "after"]


def _stream_through(fast_lane: bool) -> tuple[list[str | bytes], list[str]]:
    async def main() -> tuple[list[str | bytes], list[str]]:
        sends = _sends()
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, fast_lane=fast_lane)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)  # the book answering the subscribe
                for item in sends:
                    await server.conns[0].send(item)
                await until(lambda: len(rec.data()) == 1 + len(sends))
                ws = feed._shards[0].session.ws  # type: ignore[union-attr]
                on_lane = isinstance(ws, FeedConnection) and ws.lane_frames > 0
            assert on_lane == fast_lane
            return rec.data(), rec.closes()
    return run(main)


def test_lane_live_delivers_exactly_what_websockets_delivers() -> None:
    fast, _ = _stream_through(True)
    slow, _ = _stream_through(False)
    assert fast == slow and len(fast) == 1 + len(_sends())
    assert fast[-2:] == ["fragmented", "after"]


# --- the asset scan of a session (feed_conn.py rule 1) ---------------------------------------


def _session(assets: tuple[str, ...], *, watch_assets: bool = True) -> tuple[Session, Recorder]:
    shard = Shard("market-0")
    shard.tokens = dict.fromkeys(assets)
    rec = Recorder()
    policy = WatchPolicy(asset_silence_timeout_s=300.0 if watch_assets else None)
    session = Session(None, shard, rec, Stamp(iter(range(1, 99)).__next__),  # type: ignore[arg-type]
                      watch=policy, custom_feature_enabled=True, initial_dump=True)
    session._watch_assets(assets)
    return session, rec


def _named(*assets: str) -> str:
    changes = ",".join(f'{{"asset_id":"{a}"}}' for a in assets)
    return f'{{"event_type":"price_change","price_changes":[{changes}]}}'


def test_session_take_counts_and_stamps_a_read_once() -> None:
    session, rec = _session(("1",))
    session._take([_named("1"), "PONG", b"\x00"])
    assert [ts for ts, _, _ in rec.frames] == [1, 1, 1]
    assert (session.frames, session.pongs) == (2, 1)


def test_session_scan_stops_once_every_watched_asset_was_seen() -> None:
    session, _ = _session(("1", "2", "3"))
    session._take([_named("1", "9"), _named("3")])
    assert session.unseen == {"2"}
    session._take([_named("2")])
    assert session.unseen == set()
    assert session._seen_since_check() == ["1", "2", "3"]  # subscription order
    assert session.unseen == {"1", "2", "3"}  # a new check period watches them all again
    session._take([_named("2")])
    assert session._seen_since_check() == ["2"]


def test_session_scan_watches_assets_subscribed_mid_period() -> None:
    session, _ = _session(("1",))
    session._watch_assets(("5",))
    session._deliver(7, _named("5"))
    assert session._seen_since_check() == ["5"]


def test_session_scan_is_off_without_the_asset_watchdog() -> None:
    session, _ = _session(("1",), watch_assets=False)
    session._take([_named("1")])
    assert session.unseen == set() and session._seen_since_check() == []


def test_lane_live_protocol_pongs_still_reach_websockets() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, ws_ping_interval_s=0.05, ws_ping_timeout_s=0.3)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                ws = feed._shards[0].session.ws  # type: ignore[union-attr]
                for i in range(60):  # 0.6 s of data: keepalive pings go out meanwhile
                    await server.conns[0].send(f'{{"n":{i}}}')
                    await asyncio.sleep(0.01)
                assert isinstance(ws, FeedConnection) and ws.on_lane and ws.lane_frames > 0
                assert ws.latency > 0  # websockets matched a pong to its ping
            assert rec.closes() == ["client_close"]
    run(main)
