"""Hostile input against every decoder: each length, count or depth read from the wire (or a
point-list file) is bounded before anything is allocated or looped over.

Every test feeds input a malicious device could send and asserts the typed MeterLink error (or
a bounded discard), that the decoder's buffer stays under its documented maximum, and that
memory (tracemalloc peak) and time stay bounded while tens of MB stream through. The limits
are listed in README.md ("Protocol libraries", input limits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import replace
import datetime as dt
import struct
import time
import tracemalloc

from aiohttp import web
import pytest

from custom_components.meterlink.protocols.dcs import (
    DcsClient,
    DcsMalformedResponseError,
    client as dcs_client,
)
from custom_components.meterlink.protocols.dcs.codec import (
    MAX_PENDING,
    DcsReadingsDecoder,
    loads,
)
from custom_components.meterlink.protocols.dlms import client as dlms_client
from custom_components.meterlink.protocols.dlms.axdr import decode_data
from custom_components.meterlink.protocols.dlms.client import (
    DlmsAuthentication,
    DlmsClient,
    DlmsTransport,
)
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsDataError,
    DlmsError,
    DlmsFramingError,
    DlmsProtocolError,
)
from custom_components.meterlink.protocols.dlms.hdlc import (
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    HdlcFrameKind,
    HdlcReassembler,
    encode_hdlc_frame,
)
from custom_components.meterlink.protocols.dlms.mbus import MbusFrame, encode_mbus_frame
from custom_components.meterlink.protocols.dlms.mode_e import ModeELineDecoder
from custom_components.meterlink.protocols.dlms.push import DlmsPushDecoder, PushFraming
from custom_components.meterlink.protocols.dlms.wrapper import (
    WRAPPER_HEADER_SIZE,
    WRAPPER_MAX_LENGTH,
    WrapperDecoder,
    WrapperFrame,
    encode_wrapper_frame,
)
from custom_components.meterlink.protocols.e3dc import client as e3dc_client, commands
from custom_components.meterlink.protocols.e3dc.cipher import BLOCK_SIZE, RscpCipher
from custom_components.meterlink.protocols.e3dc.codec import (
    CTRL_CRC_FLAG,
    CTRL_VERSION_1,
    HEADER_SIZE,
    MAGIC,
    MAX_DEPTH,
    MAX_FRAME_SIZE,
    RscpFrameDecoder,
    RscpItem,
    RscpStreamDecoder,
    decode_items,
    encode_frame,
)
from custom_components.meterlink.protocols.e3dc.errors import RscpCrcError, RscpProtocolError
from custom_components.meterlink.protocols.e3dc.tags import RscpTag as T, RscpType
from custom_components.meterlink.protocols.ekm.codec import (
    BLOCK_LENGTH,
    ETX,
    SOH,
    STX,
    EkmDecoder,
    EkmRequestDecoder,
)
from custom_components.meterlink.protocols.ekm.errors import EkmError
from custom_components.meterlink.protocols.errors import MeterLinkError
from custom_components.meterlink.protocols.iec104 import client as iec104_client
from custom_components.meterlink.protocols.iec104.client import Iec104Client
from custom_components.meterlink.protocols.iec104.codec import (
    MAX_APDU_LENGTH,
    ApduDecoder,
    decode_asdu,
    encode_apdu,
    encode_asdu,
)
from custom_components.meterlink.protocols.iec104.errors import Iec104ProtocolError
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    Cot,
    IFrame,
    InformationObject,
    TypeId,
    UFrame,
    UFunction,
)
from custom_components.meterlink.protocols.iec104.pointlist import (
    parse_iec104_point_list_csv,
    parse_iec104_point_list_json,
)
from custom_components.meterlink.protocols.modbus import pointlist as modbus_pointlist
from custom_components.meterlink.protocols.modbus.errors import ModbusPointListError
from custom_components.meterlink.protocols.modbus.pointlist import (
    MAX_POINT_LIST_ROWS,
    MAX_POINT_LIST_SIZE,
    parse_point_list_csv,
    parse_point_list_json,
)
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, Faults, SimTransport

MIB = 1 << 20
CHUNK = 64 * 1024
FEED = 50 * MIB  # what a cheap decoder is fed
PEAK_LIMIT = 4 * MIB  # "a few MB": the most a streaming decoder may hold while fed FEED bytes
SAMPLE = 64  # errors kept per test (every one is still checked to be a MeterLinkError)


class Measure:
    """tracemalloc peak and wall time of a block."""

    peak = 0
    seconds = 0.0


@contextlib.contextmanager
def bounded(peak_limit: int = PEAK_LIMIT, seconds: float = 4.0) -> Iterator[Measure]:
    """Measure the block; fail if its memory peak or time exceeds the bounds."""
    result = Measure()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        result.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert result.peak < peak_limit, f"peak {result.peak} bytes"
    assert result.seconds < seconds, f"took {result.seconds:.2f} s"


def chunks(pattern: bytes, total: int, size: int = CHUNK) -> Iterator[bytes]:
    """``total`` bytes of ``pattern`` repeated without a seam, in slices of ``size``."""
    block = pattern * (size // len(pattern) + 2)  # any slice of ``size`` from offset < len
    view = memoryview(block)
    sent, offset = 0, 0
    while sent < total:
        yield view[offset : offset + size].tobytes()
        sent += size
        offset = (offset + size) % len(pattern)


def keep(errors: list[Exception], err: Exception) -> None:
    """Record ``err`` without its traceback (whose frames would hold the input alive)."""
    err.__traceback__ = err.__context__ = err.__cause__ = None
    if len(errors) < SAMPLE:
        errors.append(err)


def drain[E](step: Callable[[], E | None], errors: list[Exception]) -> list[E]:
    """Call ``step`` until it returns None, collecting typed errors (anything else fails)."""
    out: list[E] = []
    while True:
        try:
            got = step()
        except MeterLinkError as err:
            keep(errors, err)
            continue
        if got is None:
            return out
        out.append(got)


# --- E3/DC RSCP ---------------------------------------------------------------------------


def test_rscp_frame_claiming_65535_bytes_then_endless_bytes() -> None:
    """A header claiming the largest frame, then endless bytes: waits at most one frame."""
    header = struct.pack("<2sHQIH", MAGIC, CTRL_VERSION_1 | CTRL_CRC_FLAG, 0, 0, 0xFFFF)
    frame_like = header + bytes(MAX_FRAME_SIZE - HEADER_SIZE)  # CRC field zero: wrong
    decoder = RscpFrameDecoder()
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(frame_like, FEED):
            try:
                assert decoder.feed(chunk) == []
            except RscpProtocolError as err:
                keep(errors, err)
            assert decoder.buffered < MAX_FRAME_SIZE
    assert any(isinstance(err, RscpCrcError) for err in errors)  # waited for the whole frame


def test_rscp_encrypted_stream_of_endless_garbage() -> None:
    """Ciphertext that decrypts to garbage: typed errors, buffer never past one frame."""
    decoder = RscpStreamDecoder(RscpCipher("hostile-device"))
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(bytes(range(256)) * 3 + b"\x17", MIB, 4096 + 7):
            try:
                decoder.feed(chunk)
            except RscpProtocolError as err:
                keep(errors, err)
            assert decoder.buffered < MAX_FRAME_SIZE + 2 * BLOCK_SIZE
    assert errors


def test_rscp_containers_nested_9000_deep() -> None:
    """Containers nested as deep as a 64 KiB frame allows: refused at our depth limit."""
    data = b""
    for _ in range(9000):
        data = (
            struct.pack("<IBH", T.EMS_REQ_START_MANUAL_CHARGE, RscpType.CONTAINER, len(data)) + data
        )
    assert len(data) <= 0xFFFF
    with bounded(), pytest.raises(RscpProtocolError, match=f"deeper than {MAX_DEPTH}"):
        decode_items(data)


def test_rscp_topology_counts_are_clamped() -> None:
    """A device reporting 2^32-1 strings, phases and modules gets a bounded request."""
    huge = 0xFFFFFFFF
    reply = [
        RscpItem(
            T.BAT_DATA,
            RscpType.CONTAINER,
            (
                RscpItem(T.BAT_INDEX, RscpType.UINT16, 0),
                RscpItem(T.BAT_DCB_COUNT, RscpType.UINT32, huge),
            ),
        ),
        RscpItem(
            T.PVI_DATA,
            RscpType.CONTAINER,
            (
                RscpItem(T.PVI_INDEX, RscpType.UINT16, 0),
                RscpItem(T.PVI_TYPE, RscpType.UCHAR8, 1),
                RscpItem(T.PVI_USED_STRING_COUNT, RscpType.UINT32, huge),
                RscpItem(T.PVI_AC_MAX_PHASE_COUNT, RscpType.UINT32, huge),
            ),
        ),
    ]
    with bounded():
        topology = e3dc_client._topology(reply)
        assert topology.battery_modules == (e3dc_client.MAX_MODULES,)
        (layout,) = topology.inverters
        assert layout.strings == e3dc_client.MAX_DC_STRINGS
        assert layout.phases == e3dc_client.MAX_AC_PHASES
        request = [
            commands.battery(0, modules=topology.battery_modules[0]),
            commands.inverter(0, strings=layout.strings, phases=layout.phases),
        ]
        assert len(encode_frame(request)) < MAX_FRAME_SIZE


# --- DLMS: A-XDR -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x84\xff\xff\xff\xff" + bytes(16), "claims 4294967295 elements"),  # array 2^32-1
        (b"\x02\x84\xff\xff\xff\xff" + bytes(16), "claims 4294967295 elements"),  # structure
        (b"\x02\x01" * 10_000 + b"\x00", "nested deeper"),  # structures 10,000 deep
        (b"\x01\x01" * 10_000 + b"\x00", "nested deeper"),  # arrays 10,000 deep
        (b"\x09\x84\x80\x00\x00\x00" + bytes(64), "needs 2147483648 bytes"),  # octet string 2^31
        (b"\x0a\x84\x80\x00\x00\x00" + bytes(64), "needs 2147483648 bytes"),  # visible string
        (b"\x04\x84\xff\xff\xff\xff" + bytes(64), "needs 536870912 bytes"),  # bit string
        (b"\x09\x85\x01\x00\x00\x00\x00", "1..4 allowed"),  # 5-byte length
    ],
    ids=[
        "array-2^32",
        "structure-2^32",
        "structure-10000-deep",
        "array-10000-deep",
        "octet-string-2^31",
        "visible-string-2^31",
        "bit-string-2^32-bits",
        "5-byte-length",
    ],
)
def test_axdr_lengths_and_depth_are_bounded(data: bytes, match: str) -> None:
    with bounded(MIB, 1.0), pytest.raises(DlmsDataError, match=match):
        decode_data(data)


def test_profile_buffer_row_count_and_cut_off_cells() -> None:
    client = DlmsClient(host="127.0.0.1")
    columns = [(8, "0.0.1.0.0.255"), (3, "1.0.1.8.0.255")]
    with bounded(MIB, 1.0):
        with pytest.raises(DlmsDataError, match="claims 4294967295 rows"):
            list(client.iter_profile(b"\x01\x84\xff\xff\xff\xff" + bytes(32), columns))
        # A row structure announcing two cells, followed by one: typed, not IndexError.
        with pytest.raises(DlmsDataError, match="cut off"):
            list(client.iter_profile(b"\x01\x01\x02\x02\x06\x00\x00\x00\x01", columns))


# --- DLMS: framing and reassembly ----------------------------------------------------------


def test_wrapper_length_at_maximum_then_endless_bytes() -> None:
    """Frames claiming 65535 bytes back to back: one frame buffered at most, all delivered."""
    header = struct.pack(">HHHH", 1, 1, 16, WRAPPER_MAX_LENGTH)
    decoder = WrapperDecoder()
    frames = 0
    with bounded():
        for chunk in chunks(header + bytes(WRAPPER_MAX_LENGTH), FEED):
            decoder.feed(chunk)
            while (frame := decoder.next_frame()) is not None:
                assert len(frame.payload) == WRAPPER_MAX_LENGTH
                frames += 1
            assert decoder.buffered < WRAPPER_HEADER_SIZE + WRAPPER_MAX_LENGTH
    assert frames >= FEED // (WRAPPER_HEADER_SIZE + WRAPPER_MAX_LENGTH) - 1


def test_wrapper_beyond_maximum_and_lost_sync() -> None:
    with pytest.raises(DlmsFramingError, match="exceeds 65535"):
        encode_wrapper_frame(WrapperFrame(source=1, destination=16, payload=bytes(0x10000)))
    decoder = WrapperDecoder()
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(b"\xff\xff" + bytes(30), FEED):
            decoder.feed(chunk)
            assert drain(decoder.next_frame, errors) == []
            assert decoder.buffered == 0  # a bad version drops everything buffered
    assert all(isinstance(err, DlmsFramingError) for err in errors)


def test_hdlc_length_at_maximum_without_closing_flag_then_garbage() -> None:
    """Format A, length 0x7FF, no closing flag, then garbage: typed errors, bounded buffer."""
    pattern = b"\x7e\xa7\xff" + b"\x55" * 5000
    decoder = HdlcDecoder()
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(pattern, 4 * MIB):
            decoder.feed(chunk)
            assert drain(decoder.next_frame, errors) == []
            assert decoder.buffered <= 65536
    assert errors
    assert all(isinstance(err, DlmsFramingError) for err in errors)


def _i_frame(information: bytes, *, segmented: bool) -> HdlcFrame:
    return HdlcFrame(
        destination=HdlcAddress(value=16),
        source=HdlcAddress.server(1),
        kind=HdlcFrameKind.I,
        segmented=segmented,
        information=information,
    )


def test_hdlc_reassembly_that_never_completes() -> None:
    join = HdlcReassembler()
    segment = _i_frame(bytes(128), segmented=True)
    errors = 0
    with bounded(peak_limit=MIB):
        for _ in range(3 * 65536 // 128):
            try:
                assert join.add(segment) is None
            except DlmsFramingError:
                errors += 1
            assert join.buffered <= 65536
    assert errors == 2


def test_mbus_reassembly_that_never_completes() -> None:
    """Non-final M-Bus segments forever (the 4-bit sequence wraps): refused at 64 KiB."""
    frames = b"".join(
        encode_mbus_frame(
            MbusFrame(control=0x53, address=0xFE, ci=seq, stsap=1, dtsap=1, data=bytes(240))
        )
        for seq in range(16)
    )
    decoder = DlmsPushDecoder(framing=PushFraming.MBUS)
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(frames, MIB // 2, 4096):  # 8x the limit
            decoder.feed(chunk)
            assert drain(decoder.next_notification, errors) == []
            assert decoder.buffered <= 65536 + 4096
    assert errors
    assert all(isinstance(err, DlmsFramingError) for err in errors)
    assert any("exceeds 65536" in str(err) for err in errors)


def test_push_hdlc_segments_that_never_complete() -> None:
    wire = encode_hdlc_frame(_i_frame(bytes(100), segmented=True))
    decoder = DlmsPushDecoder(framing=PushFraming.HDLC)
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(wire, 96 * 1024, 4096):  # 1.5x the limit
            decoder.feed(chunk)
            assert drain(decoder.next_notification, errors) == []
            assert decoder.buffered <= 2 * 65536
    assert any("exceeds 65536" in str(err) for err in errors)


def test_mode_e_endless_line_without_lf() -> None:
    decoder = ModeELineDecoder()
    errors: list[Exception] = []
    with bounded():
        for chunk in chunks(b"/ABC5\\2meter-identification-that-never-ends", 512 * 1024, 4096):
            decoder.feed(chunk)
            assert drain(decoder.next_identification, errors) == []
            assert decoder.buffered <= 4096 + 57
    assert errors
    assert all(isinstance(err, DlmsFramingError) for err in errors)


# --- DLMS: GET block transfer against the simulator (real loopback socket) ----------------


NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("limit", "value", "max_pdu", "match"),
    [
        ("MAX_BLOCK_TRANSFER_BLOCKS", 40, 0xFFFF, "blocks"),  # block numbers forever
        ("MAX_BLOCK_TRANSFER_SIZE", 1024, 128, "bytes"),  # total size past the limit
    ],
)
async def test_dlms_block_transfer_that_never_ends(
    monkeypatch: pytest.MonkeyPatch, limit: str, value: int, max_pdu: int, match: str
) -> None:
    """The meter never sends its last block: a typed error after a bounded number of rounds.

    The limits are lowered so the test is fast; the defaults are the same check, larger.
    """
    monkeypatch.setattr(dlms_client, limit, value)
    simulator = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        transport=SimTransport.WRAPPER,
        max_pdu=max_pdu,
        faults=Faults(endless_blocks=True),
    )
    await simulator.start()
    try:
        client = DlmsClient(
            transport=DlmsTransport.WRAPPER,
            host="127.0.0.1",
            port=simulator.port,
            authentication=DlmsAuthentication.NONE,
            request_timeout=2.0,
        )
        start = time.perf_counter()
        async with client:
            with pytest.raises(DlmsProtocolError, match=f"block transfer.*{match}"):
                await client.read("0.0.96.1.0.255", class_id=1)
        assert time.perf_counter() - start < 4.0
        assert simulator.stats.requests < 4 * (value + 10)  # bounded rounds, retries included
    finally:
        await simulator.close()


@pytest.mark.parametrize(
    ("blocks", "match"),
    [
        ([(1, b"\x01\x02"), (1, b"\x01\x02")], "block 1 arrived after block 1"),  # repeated
        ([(1, b"\x01\x02"), (7, b"\x01\x02")], "block 7 arrived after block 1"),  # skipped
        ([(1, b"\x84\x7f\xff\xff\xff" + bytes(8))], "claims 2147483647 bytes"),  # cut off
    ],
)
def test_dlms_block_numbers_and_sizes_are_checked(
    blocks: list[tuple[int, bytes]], match: str
) -> None:
    def transfer() -> None:
        previous = None
        total = 0
        for count, (number, data) in enumerate(blocks, start=1):
            response = bytes((0xC4, 2, 0x81, 0)) + number.to_bytes(4, "big") + b"\x00" + data
            previous = dlms_client._check_block(response, previous)
            size, pos = dlms_client.decode_length(response, 9)
            dlms_client._check_block_data(response, pos, size, blocks=count, total=total)
            total += size

    with pytest.raises(DlmsProtocolError, match=match):
        transfer()
    with pytest.raises(DlmsProtocolError, match="shorter than its header"):
        dlms_client._check_block(bytes((0xC4, 2, 0x81, 0, 0, 0)), None)


# --- IEC 60870-5-104 ------------------------------------------------------------------------


@pytest.mark.parametrize("length", [254, 255])
def test_iec104_apdu_length_over_253(length: int) -> None:
    """Length octet over 253: typed error, and the dead stream buffers nothing more."""
    decoder = ApduDecoder()
    decoder.feed(bytes((0x68, length)) + bytes(length))
    with pytest.raises(Iec104ProtocolError, match=r"outside 4\.\.253"):
        list(decoder.frames())
    with bounded():
        for chunk in chunks(b"\x68\xff", FEED):
            decoder.feed(chunk)
            with pytest.raises(Iec104ProtocolError):
                list(decoder.frames())
            assert decoder.buffered <= 2 + length


def test_iec104_maximum_apdus_back_to_back() -> None:
    """253-octet I-frames forever: each delivered, at most one APDU buffered."""
    frame = bytes((0x68, MAX_APDU_LENGTH, 0, 0, 0, 0)) + bytes(MAX_APDU_LENGTH - 4)
    decoder = ApduDecoder()
    count = 0
    with bounded():
        for chunk in chunks(frame, MIB, 4096):
            decoder.feed(chunk)
            for apdu in decoder.frames():
                assert isinstance(apdu, IFrame)
                count += 1
            assert decoder.buffered < 2 + MAX_APDU_LENGTH
    assert count >= MIB // (2 + MAX_APDU_LENGTH) - 1


async def test_iec104_interrogation_that_never_terminates(monkeypatch: pytest.MonkeyPatch) -> None:
    """An outstation answers an interrogation with data forever and never terminates it."""
    monkeypatch.setattr(iec104_client, "MAX_INTERROGATION_ASDUS", 300)  # default 16384
    sent = 0

    async def outstation(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        decoder = ApduDecoder()
        send_seq = 0

        def send(asdu: bytes) -> None:
            nonlocal send_seq
            writer.write(encode_apdu(IFrame(send_seq=send_seq, recv_seq=1, asdu=asdu)))
            send_seq += 1

        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                decoder.feed(data)
                for apdu in decoder.frames():
                    if isinstance(apdu, UFrame) and apdu.function is UFunction.STARTDT_ACT:
                        writer.write(encode_apdu(UFrame(function=UFunction.STARTDT_CON)))
                    if not isinstance(apdu, IFrame):
                        continue
                    request = decode_asdu(apdu.asdu)
                    send(encode_asdu(replace(request, cot=Cot.ACTIVATION_CON)))
                    point = Asdu(
                        type_id=TypeId.M_SP_NA_1,
                        cot=Cot.INTERROGATED_BY_STATION,
                        common_address=request.common_address,
                        objects=(InformationObject(ioa=1, value=True),),
                    )
                    raw = encode_asdu(point)
                    # 10x the limit, never a termination; stops early when the client goes.
                    while sent < 3000 and not writer.is_closing():
                        send(raw)
                        sent += 1
                        if sent % 16 == 0:
                            await writer.drain()
                            await asyncio.sleep(0)  # a yield, not a wait: let the client read
        writer.close()

    server = await asyncio.start_server(outstation, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = Iec104Client(host="127.0.0.1", port=port, command_timeout_s=5.0)
        start = time.perf_counter()
        async with client:
            with pytest.raises(Iec104ProtocolError, match="more than 300 ASDUs"):
                await client.interrogation()
        assert time.perf_counter() - start < 4.0
    finally:
        server.close()
        await server.wait_closed()
    assert sent > 300


# --- DCS streamed JSON ---------------------------------------------------------------------


def _feed_dcs(decoder: DcsReadingsDecoder, head: bytes, filler: bytes, total: int) -> int:
    """Feed ``head`` then ``filler`` until the typed error; return the bytes fed."""
    fed = 0
    with pytest.raises(DcsMalformedResponseError):  # noqa: PT012 - the error ends the loop
        decoder.feed(head)
        fed = len(head)
        for chunk in chunks(filler, total):
            decoder.feed(chunk)
            fed += len(chunk)
            assert fed < total
    return fed


@pytest.mark.parametrize(
    ("layout", "head"),
    [
        ("web_standard", b'{"name":"'),  # a header value
        ("web_standard", b'{"readings":[{"timestamp":"'),  # inside a reading
        ("v3", b'[{"timestamp":"'),  # v3 array of readings
    ],
)
def test_dcs_100_mb_string_fed_in_chunks(layout: str, head: bytes) -> None:
    decoder = DcsReadingsDecoder(layout)  # type: ignore[arg-type]
    with bounded(4 * MAX_PENDING + PEAK_LIMIT):
        fed = _feed_dcs(decoder, head, b"x" * 4096, 100 * MIB)
    assert fed <= MAX_PENDING + CHUNK + len(head)


@pytest.mark.parametrize(
    ("layout", "head"),
    [
        ("web_standard", b'{"name":'),
        ("web_standard", b'{"readings":[{"timestamp":"2024-01-01T00:00:00Z","x":'),
        ("v3", b'[{"x":'),
    ],
)
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_dcs_nesting_a_million_deep_fed_in_chunks(layout: str, head: bytes, opening: bytes) -> None:
    decoder = DcsReadingsDecoder(layout)  # type: ignore[arg-type]
    with bounded(4 * MAX_PENDING + PEAK_LIMIT):
        _feed_dcs(decoder, head, opening * 1024, len(opening) * 1_000_000)


def test_dcs_whole_json_nested_too_deeply() -> None:
    with pytest.raises(DcsMalformedResponseError, match="nested too deeply"):
        loads(b"[" * 1_000_000, "meter list")


@pytest.mark.parametrize("announce", [False, True])
async def test_dcs_endless_json_body_is_refused(
    monkeypatch: pytest.MonkeyPatch, announce: bool
) -> None:
    """A server streaming a meter list without end (or announcing 1 TB): refused at the cap."""
    monkeypatch.setattr(dcs_client, "MAX_BODY_SIZE", 2 * MIB)
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if announce:
            response.content_length = 1 << 40
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(b"[")
            sent += 1
            while sent < 64 * MIB:
                await response.write(b" " * CHUNK)
                sent += CHUNK
        return response

    app = web.Application()
    app.router.add_get("/public/meters", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = DcsClient(url=f"http://127.0.0.1:{port}", request_timeout=5.0)
        start = time.perf_counter()
        try:
            with pytest.raises(DcsMalformedResponseError, match="limit"):
                await client.login()
        finally:
            await client.close()
        assert time.perf_counter() - start < 4.0
    finally:
        await runner.cleanup()
    assert sent < 16 * MIB  # the client stopped reading long before the server's 64 MiB


# --- EKM -----------------------------------------------------------------------------------


def test_ekm_endless_non_frame_bytes_are_discarded() -> None:
    decoder = EkmDecoder()
    decoder.expect_block()
    with bounded():
        for chunk in chunks(b"\x55\xaa\x30", FEED):
            decoder.feed(chunk)
            assert decoder.next_event() is None
            assert decoder.buffered == 0
    assert decoder.skipped >= FEED


def test_ekm_endless_bad_blocks() -> None:
    """STX + garbage blocks forever, the client asking again after each: bounded buffer."""
    decoder = EkmDecoder()
    decoder.expect_block()
    errors = 0
    with bounded():
        for chunk in chunks(bytes((STX,)) + b"\x30" * (BLOCK_LENGTH - 1), MIB // 4, 4096):
            decoder.feed(chunk)
            while True:
                try:
                    event = decoder.next_event()
                except EkmError:
                    errors += 1
                    decoder.expect_block()
                    continue
                assert event is None
                break
            assert decoder.buffered < BLOCK_LENGTH
    assert errors >= MIB // 4 // 4096 - 1  # one per chunk: asking again drops the rest


def test_ekm_meter_side_command_without_etx_in_reach() -> None:
    """SOH bytes with the only ETX far away: each call scans a bounded window."""
    decoder = EkmRequestDecoder()
    decoder.feed(bytes((SOH,)) * 4000 + bytes((ETX,)) + b"\x00\x00")
    errors: list[Exception] = []
    with bounded(MIB, 3.0):
        drain(decoder.next_event, errors)
    assert len(errors) == SAMPLE  # one error per dropped byte; each call is O(1)
    assert all(isinstance(err, EkmError) for err in errors)


# --- point lists (config flow CSV / JSON) --------------------------------------------------

_CSV_HEADER = "key,table,address,data_type\n"
_ROWS = 100  # the row limit, lowered for speed (the default is the same check)

_POINT_LISTS: dict[str, tuple[Callable[[], str], str]] = {
    "csv-1e6-rows": (
        lambda: _CSV_HEADER + "k,holding,1,uint16\n" * 10**6,
        "limit is",
    ),
    "csv-rows": (lambda: _CSV_HEADER + "a,h,1,u\n" * (_ROWS + 1), f"more than {_ROWS} rows"),
    "csv-bad-rows": (lambda: _CSV_HEADER + "a,b,c,d,e\n" * (_ROWS + 1), f"more than {_ROWS}"),
    "csv-1MB-line": (lambda: _CSV_HEADER + "k,holding,1," + "x" * MIB + "\n", "longer than 4096"),
    "csv-columns": (lambda: ",".join("c" * 100) + "\n", "more than 64 columns"),
    "json-1e6-rows": (lambda: "[" + "{}," * 10**6 + "{}]", "limit is"),
    "json-rows": (lambda: "[" + ",".join(["{}"] * (_ROWS + 1)) + "]", f"more than {_ROWS} rows"),
    "json-deep": (lambda: "[" * 1_000_000, "nested too deeply"),
    "json-big-string": (lambda: '["' + "x" * (MAX_POINT_LIST_SIZE + 1) + '"]', "limit is"),
    "json-fields": (lambda: "[{" + ",".join(f'"f{i}":1' for i in range(100)) + "}]", "limit is"),
}


@pytest.mark.parametrize("case", list(_POINT_LISTS))
def test_point_lists_are_bounded(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """Hostile point lists: one typed error, no rows, bounded memory and time."""
    monkeypatch.setattr(modbus_pointlist, "MAX_POINT_LIST_ROWS", _ROWS)
    make, match = _POINT_LISTS[case]
    text = make()
    is_json = text.startswith("[")
    with bounded(16 * MIB, 3.0):
        result = (parse_point_list_json if is_json else parse_point_list_csv)(text)
    assert result.rows == ()
    assert all(isinstance(err, ModbusPointListError) for err in result.errors)
    assert match in str(result.errors[0])


@pytest.mark.parametrize("case", ["csv-1e6-rows", "json-deep", "json-rows"])
def test_iec104_point_lists_share_the_limits(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.setattr(modbus_pointlist, "MAX_POINT_LIST_ROWS", _ROWS)
    make, match = _POINT_LISTS[case]
    text = make().replace(_CSV_HEADER, "key,ioa,type\n", 1)
    is_json = text.startswith("[")
    with bounded(16 * MIB, 3.0):
        result = (parse_iec104_point_list_json if is_json else parse_iec104_point_list_csv)(text)
    assert result.rows == ()
    assert all(isinstance(err, MeterLinkError) for err in result.errors)
    assert match in str(result.errors[0])


def test_ekm_address_list_is_linear() -> None:
    """A pasted list of 10 000 meter addresses is parsed in linear time (was quadratic)."""
    from custom_components.meterlink.systems.ekm.flow import parse_addresses  # noqa: PLC0415

    text = " ".join(str(i) for i in range(10_000)) + " 7"
    start = time.perf_counter()
    addresses = parse_addresses(text)
    assert time.perf_counter() - start < 1.0
    assert len(addresses) == 10_000


def test_limits_leave_real_inputs_alone() -> None:
    """A point list at the row limit and an RSCP frame at the size limit still decode."""
    rows = "".join(f"k{i},holding,{i},uint16\n" for i in range(MAX_POINT_LIST_ROWS))
    result = parse_point_list_csv(_CSV_HEADER + rows, default_unit_id=1)
    assert len(result.rows) == MAX_POINT_LIST_ROWS
    big = RscpItem(T.EMS_REQ_START_MANUAL_CHARGE, RscpType.BYTEARRAY, bytes(0xFFFF - 7))
    frames = RscpFrameDecoder().feed(encode_frame([big]))
    assert frames[0].items[0].value == bytes(0xFFFF - 7)


def test_errors_are_meterlink_errors() -> None:
    """Every error these tests expect derives from MeterLinkError (nothing untyped escapes)."""
    for error in (
        RscpProtocolError,
        DlmsDataError,
        DlmsFramingError,
        DlmsProtocolError,
        DlmsError,
        Iec104ProtocolError,
        DcsMalformedResponseError,
        EkmError,
        ModbusPointListError,
    ):
        assert issubclass(error, MeterLinkError)
