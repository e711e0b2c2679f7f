"""Sans-I/O framing codecs: HDLC, wrapper, M-Bus, IEC 62056-21 mode E."""

from __future__ import annotations

import contextlib

from dlms_cosem.crc import CRCCCITT
from dlms_cosem.hdlc import frames as cosem_frames
from dlms_cosem.hdlc.address import HdlcAddress as CosemHdlcAddress
from gurux_dlms import GXDLMSClient  # type: ignore[import-untyped]
from gurux_dlms.enums import InterfaceType  # type: ignore[import-untyped]
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.dlms.crc import crc16_x25, crc16_x25_bytes
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsChecksumError,
    DlmsError,
    DlmsFramingError,
    DlmsUnsupportedError,
)
from custom_components.meterlink.protocols.dlms.hdlc import (
    LLC_REQUEST,
    HdlcAddress,
    HdlcDecoder,
    HdlcFrame,
    HdlcFrameKind,
    HdlcReassembler,
    encode_hdlc_frame,
    parse_hdlc_frame,
    segment_information,
    strip_llc,
)
from custom_components.meterlink.protocols.dlms.mbus import (
    MbusDecoder,
    MbusFrame,
    MbusReassembler,
    encode_mbus_frame,
    segment_mbus,
)
from custom_components.meterlink.protocols.dlms.mode_e import (
    ModeEIdentification,
    ModeELineDecoder,
    encode_ack_mode_e,
    encode_identification,
    encode_sign_on,
    parse_identification,
)
from custom_components.meterlink.protocols.dlms.wrapper import (
    WrapperDecoder,
    WrapperFrame,
    encode_wrapper_frame,
)

CLIENT = HdlcAddress(value=16)
SERVER = HdlcAddress(value=1)


def _feed_all(decoder: HdlcDecoder, data: bytes, sizes: list[int]) -> list[HdlcFrame]:
    frames: list[HdlcFrame] = []
    pos = 0
    for size in [*sizes, len(data)]:
        decoder.feed(data[pos : pos + size])
        pos += size
        frames.extend(decoder.frames())
    return frames


# --- CRC ---------------------------------------------------------------------------------


def test_crc_check_value_and_known_frames() -> None:
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_x25_bytes(bytes.fromhex("a007032193")) == bytes.fromhex("0f01")


@given(st.binary(max_size=64))
def test_crc_matches_dlms_cosem(data: bytes) -> None:
    assert crc16_x25_bytes(data) == bytes(CRCCCITT().calculate_for(data))


# --- HDLC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (
            HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.SNRM),
            "7ea0070321930f017e",
        ),
        (
            HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.DISC),
            "7ea00703215303c77e",
        ),
        (HdlcFrame(destination=CLIENT, source=SERVER, kind=HdlcFrameKind.UA), "7ea00721037301407e"),
        (
            HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.RR, receive_sequence=1),
            "7ea00703213117877e",
        ),
    ],
)
def test_hdlc_known_vectors(frame: HdlcFrame, wire: str) -> None:
    assert encode_hdlc_frame(frame).hex() == wire
    assert parse_hdlc_frame(bytes.fromhex(wire)) == frame


def test_hdlc_parses_gurux_snrm_and_aarq() -> None:
    client = GXDLMSClient(True, 16, 1, interfaceType=InterfaceType.HDLC)
    snrm = parse_hdlc_frame(bytes(client.snrmRequest()))
    assert snrm.kind is HdlcFrameKind.SNRM
    assert (snrm.destination, snrm.source) == (SERVER, CLIENT)
    aarq_frames = client.aarqRequest()
    frame = parse_hdlc_frame(bytes(aarq_frames[0]))
    assert frame.kind is HdlcFrameKind.I
    assert (frame.send_sequence, frame.receive_sequence, frame.control) == (0, 0, 0x10)
    assert strip_llc(frame.information, expect=LLC_REQUEST)[0] == 0x60  # AARQ tag


def test_hdlc_matches_dlms_cosem_information_frame() -> None:
    payload = bytes(range(40))
    theirs = cosem_frames.InformationFrame(
        destination_address=CosemHdlcAddress(1, None, "server"),
        source_address=CosemHdlcAddress(16, None, "client"),
        payload=payload,
        send_sequence_number=3,
        receive_sequence_number=5,
    ).to_bytes()
    ours = HdlcFrame(
        destination=SERVER,
        source=CLIENT,
        kind=HdlcFrameKind.I,
        send_sequence=3,
        receive_sequence=5,
        information=payload,
    )
    assert encode_hdlc_frame(ours) == theirs
    assert parse_hdlc_frame(theirs) == ours


@pytest.mark.parametrize(
    ("logical", "physical", "size", "wire"),
    [(1, None, 1, "03"), (1, 17, 2, "0223"), (1, 0x1234, 4, "0002486901"[:8])],
)
def test_hdlc_server_addresses(logical: int, physical: int | None, size: int, wire: str) -> None:
    address = HdlcAddress.server(logical, physical)
    assert address.size == size
    assert (address.logical, address.physical) == (logical, physical)
    encoded = address.encode()
    assert len(encoded) == size
    assert encoded[-1] & 1
    assert all(not byte & 1 for byte in encoded[:-1])
    if size < 4:
        assert encoded.hex() == wire
    frame = HdlcFrame(destination=address, source=CLIENT, kind=HdlcFrameKind.I, information=b"x")
    assert parse_hdlc_frame(encode_hdlc_frame(frame)).destination == address


def test_hdlc_address_errors() -> None:
    with pytest.raises(DlmsFramingError, match="size 3"):
        HdlcAddress(value=1, size=3)
    with pytest.raises(DlmsFramingError, match="does not fit"):
        HdlcAddress(value=200, size=1)
    with pytest.raises(DlmsFramingError, match="no physical part"):
        HdlcAddress.server(1, 5, size=1)


ALL_KINDS = [
    HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.I, information=b"\x7e" * 5),
    HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.RR, receive_sequence=7),
    HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.RNR, receive_sequence=2),
    HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.SNRM),
    HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.DISC),
    HdlcFrame(destination=CLIENT, source=SERVER, kind=HdlcFrameKind.UA),
    HdlcFrame(destination=CLIENT, source=SERVER, kind=HdlcFrameKind.DM),
    HdlcFrame(destination=CLIENT, source=SERVER, kind=HdlcFrameKind.FRMR, information=b"\x01"),
    HdlcFrame(
        destination=HdlcAddress(value=0x10, size=1),
        source=HdlcAddress.server(1, 0x44, size=4),
        kind=HdlcFrameKind.UI,
        segmented=True,
        information=b"push",
    ),
]


@pytest.mark.parametrize("frame", ALL_KINDS, ids=lambda frame: frame.kind.value)
def test_hdlc_round_trip_every_kind(frame: HdlcFrame) -> None:
    assert parse_hdlc_frame(encode_hdlc_frame(frame)) == frame


def test_hdlc_control_bytes() -> None:
    assert ALL_KINDS[1].control == 0xF1
    assert ALL_KINDS[2].control == 0x55
    assert HdlcFrame(destination=SERVER, source=CLIENT, kind=HdlcFrameKind.UI).control == 0x13
    assert ALL_KINDS[6].control == 0x1F
    assert ALL_KINDS[7].control == 0x97


def _corrupt(wire: bytes, index: int, value: int) -> bytes:
    data = bytearray(wire)
    data[index] = value
    return bytes(data)


I_FRAME = encode_hdlc_frame(ALL_KINDS[0])


@pytest.mark.parametrize(
    ("wire", "error", "match"),
    [
        (_corrupt(I_FRAME, len(I_FRAME) - 2, I_FRAME[-2] ^ 1), DlmsChecksumError, "FCS"),
        (b"\x7e\xb0" + I_FRAME[2:], DlmsFramingError, "format type"),
        (I_FRAME[:-1] + b"\x00", DlmsFramingError, "ends with"),
        (b"\x00" + I_FRAME[1:], DlmsFramingError, "starts with"),
        (I_FRAME[:5], DlmsFramingError, "shorter"),
        (I_FRAME + b"\x00", DlmsFramingError, "length field"),
    ],
)
def test_hdlc_malformed_frames(wire: bytes, error: type[DlmsError], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_hdlc_frame(wire)


def _raw_frame(body: bytes) -> bytes:
    """Frame ``body`` (everything after format) with a valid FCS but arbitrary contents."""
    fmt = (0xA000 | (len(body) + 4)).to_bytes(2, "big")
    content = fmt + body
    return b"\x7e" + content + crc16_x25_bytes(content) + b"\x7e"


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b"\x02\x04\x07\x21\x93", DlmsFramingError, "3 bytes long"),
        (b"\x02\x04\x06\x08\x0a", DlmsFramingError, "longer than 4"),
        (b"\x03\x21\x19", DlmsUnsupportedError, "REJ"),
        (b"\x03\x21\xff", DlmsFramingError, "not a DLMS frame type"),
        (b"\x03\x21\x10\x00", DlmsFramingError, "1 byte between"),
        (b"\x03\x21\x10\x00\x00\x01", DlmsChecksumError, "HCS"),
    ],
)
def test_hdlc_malformed_headers(body: bytes, error: type[DlmsError], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_hdlc_frame(_raw_frame(body))


def test_hdlc_segmentation_bit_on_u_frame_rejected() -> None:
    wire = bytearray(encode_hdlc_frame(ALL_KINDS[3]))
    wire[1] |= 0x08
    content = bytes(wire[1:-3])
    wire[-3:-1] = crc16_x25_bytes(content)
    with pytest.raises(DlmsFramingError, match="segmentation bit"):
        parse_hdlc_frame(bytes(wire))


def test_hdlc_decoder_shared_flags_idle_flags_and_garbage() -> None:
    first, second = encode_hdlc_frame(ALL_KINDS[0]), encode_hdlc_frame(ALL_KINDS[1])
    stream = b"\x7e\x7e" + first[:-1] + second + b"junk" + first
    decoder = HdlcDecoder()
    decoder.feed(stream)
    assert decoder.next_frame() == ALL_KINDS[0]
    assert decoder.next_frame() == ALL_KINDS[1]
    with pytest.raises(DlmsFramingError, match="4 byte"):
        decoder.next_frame()
    assert decoder.next_frame() == ALL_KINDS[0]
    assert decoder.next_frame() is None


def test_hdlc_decoder_recovers_after_bad_fcs_and_missing_flag() -> None:
    good = encode_hdlc_frame(ALL_KINDS[0])
    bad_fcs = _corrupt(good, len(good) - 2, good[-2] ^ 0xFF)
    no_flag = good[:-1] + b"\x00"
    decoder = HdlcDecoder()
    decoder.feed(bad_fcs + no_flag + good)
    with pytest.raises(DlmsChecksumError):
        decoder.next_frame()
    results: list[object] = []
    for _ in range(10):
        try:
            frame = decoder.next_frame()
        except DlmsError as err:
            results.append(type(err))
            continue
        if frame is None:
            break
        results.append(frame)
    assert results[-1] == ALL_KINDS[0]
    assert DlmsFramingError in results


def test_hdlc_decoder_short_length_field() -> None:
    decoder = HdlcDecoder()
    decoder.feed(b"\x7e\xa0\x03\x00\x00")
    with pytest.raises(DlmsFramingError, match="below the minimum"):
        decoder.next_frame()


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_hdlc_decoder_arbitrary_chunks(sizes: list[int]) -> None:
    stream = b"".join(encode_hdlc_frame(frame) for frame in ALL_KINDS)
    assert _feed_all(HdlcDecoder(), stream, sizes) == ALL_KINDS


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_hdlc_decoder_fuzz_only_typed_errors(data: bytes) -> None:
    decoder = HdlcDecoder()
    decoder.feed(data)
    for _ in range(len(data) + 2):
        try:
            if decoder.next_frame() is None:
                break
        except DlmsError:
            continue


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=60))
def test_hdlc_decoder_fuzz_mutated_frames(junk: bytes, position: int) -> None:
    wire = bytearray(b"".join(encode_hdlc_frame(frame) for frame in ALL_KINDS[:3]))
    wire[position : position + len(junk)] = junk
    decoder = HdlcDecoder()
    decoder.feed(bytes(wire))
    for _ in range(len(wire) + 2):
        try:
            if decoder.next_frame() is None:
                break
        except DlmsError:
            continue


def test_hdlc_segmentation_and_reassembly() -> None:
    payload = bytes(range(256)) * 2
    parts = segment_information(payload, max_info=128)
    assert [flag for _, flag in parts] == [True, True, True, False]
    join = HdlcReassembler()
    results = [
        join.add(
            HdlcFrame(
                destination=CLIENT,
                source=SERVER,
                kind=HdlcFrameKind.I,
                send_sequence=index,
                segmented=flag,
                information=chunk,
            )
        )
        for index, (chunk, flag) in enumerate(parts)
    ]
    assert results[:-1] == [None, None, None]
    assert results[-1] == payload
    assert not join.pending
    assert join.add(ALL_KINDS[1]) is None


def test_hdlc_reassembler_limit_and_llc_errors() -> None:
    join = HdlcReassembler(max_size=10)
    big = HdlcFrame(destination=CLIENT, source=SERVER, kind=HdlcFrameKind.I, information=b"x" * 11)
    with pytest.raises(DlmsFramingError, match="exceeds"):
        join.add(big)
    with pytest.raises(DlmsFramingError, match="LLC header"):
        strip_llc(b"\xe6\xe6\x00\x01")
    with pytest.raises(DlmsFramingError, match="positive"):
        segment_information(b"x", max_info=0)
    oversize = HdlcFrame(
        destination=CLIENT, source=SERVER, kind=HdlcFrameKind.I, information=b"x" * 2100
    )
    with pytest.raises(DlmsFramingError, match="11-bit"):
        encode_hdlc_frame(oversize)


# --- Wrapper ------------------------------------------------------------------------------


def test_wrapper_parses_gurux_aarq() -> None:
    client = GXDLMSClient(True, 16, 1, interfaceType=InterfaceType.WRAPPER)
    wire = bytes(client.aarqRequest()[0])
    decoder = WrapperDecoder()
    decoder.feed(wire)
    frame = decoder.next_frame()
    assert frame is not None
    assert (frame.source, frame.destination) == (16, 1)
    assert frame.payload[0] == 0x60
    assert encode_wrapper_frame(frame) == wire


@given(st.binary(max_size=600), st.lists(st.integers(min_value=1, max_value=50), max_size=20))
def test_wrapper_round_trip_in_chunks(payload: bytes, sizes: list[int]) -> None:
    frame = WrapperFrame(source=16, destination=1, payload=payload)
    wire = encode_wrapper_frame(frame) * 2
    decoder = WrapperDecoder()
    out: list[WrapperFrame] = []
    pos = 0
    for size in [*sizes, len(wire)]:
        assert decoder.needed() >= 1
        decoder.feed(wire[pos : pos + size])
        pos += size
        out.extend(decoder.frames())
    assert out == [frame, frame]
    assert decoder.buffered == 0


def test_wrapper_errors() -> None:
    decoder = WrapperDecoder()
    decoder.feed(b"\x00\x02\x00\x10\x00\x01\x00\x00")
    with pytest.raises(DlmsFramingError, match="version is 0x0002"):
        decoder.next_frame()
    assert decoder.buffered == 0
    with pytest.raises(DlmsFramingError, match="source wPort"):
        encode_wrapper_frame(WrapperFrame(source=70000, destination=1, payload=b""))
    with pytest.raises(DlmsFramingError, match="exceeds"):
        encode_wrapper_frame(WrapperFrame(source=1, destination=1, payload=b"x" * 70000))


@given(st.binary(max_size=100))
def test_wrapper_fuzz_only_typed_errors(data: bytes) -> None:
    decoder = WrapperDecoder()
    decoder.feed(data)
    with contextlib.suppress(DlmsError):
        list(decoder.frames())


# --- M-Bus --------------------------------------------------------------------------------


def test_mbus_layout_matches_han_port_frames() -> None:
    frames = segment_mbus(bytes(range(150)) * 2, max_data=200)
    assert len(frames) == 2
    first = frames[0]
    assert first[:4] == bytes((0x68, 205, 205, 0x68))
    assert first[4:9] == bytes((0x53, 0xFF, 0x00, 0x01, 0x67))
    assert first[-1] == 0x16
    assert first[-2] == sum(first[4:-2]) & 0xFF
    assert frames[1][6] == 0x11


@given(
    st.binary(min_size=1, max_size=900),
    st.lists(st.integers(min_value=1, max_value=80), max_size=30),
)
def test_mbus_segments_reassemble_in_chunks(apdu: bytes, sizes: list[int]) -> None:
    wire = b"".join(segment_mbus(apdu))
    decoder, join = MbusDecoder(), MbusReassembler()
    out: list[bytes] = []
    pos = 0
    for size in [*sizes, len(wire)]:
        decoder.feed(wire[pos : pos + size])
        pos += size
        for frame in decoder.frames():
            whole = join.add(frame)
            if whole is not None:
                out.append(whole)
    assert out == [apdu]


def test_mbus_malformed_frames() -> None:
    good = encode_mbus_frame(
        MbusFrame(control=0x53, address=0xFF, ci=0x10, stsap=1, dtsap=0x67, data=b"\x0f")
    )
    cases = [
        (_corrupt(good, len(good) - 2, good[-2] ^ 1), DlmsChecksumError, "checksum"),
        (_corrupt(good, 2, good[2] + 1), DlmsFramingError, "L fields differ"),
        (_corrupt(good, 3, 0x00), DlmsFramingError, "second start"),
        (_corrupt(good, len(good) - 1, 0x00), DlmsFramingError, "stop byte"),
        (b"\x68\x03\x03\x68\x53\xff\x10\x62\x16", DlmsFramingError, "no room"),
        (b"zz" + good, DlmsFramingError, "outside"),
    ]
    for wire, error, match in cases:
        decoder = MbusDecoder()
        decoder.feed(wire)
        with pytest.raises(error, match=match):
            decoder.next_frame()
    body = bytes((0x53, 0xFF, 0x72, 1, 0x67))
    decoder = MbusDecoder()
    decoder.feed(bytes((0x68, 5, 5, 0x68)) + body + bytes((sum(body) & 0xFF, 0x16)))
    with pytest.raises(DlmsFramingError, match="does not carry DLMS"):
        decoder.next_frame()


def test_mbus_sequence_errors_and_encoding_limits() -> None:
    join = MbusReassembler()
    second = MbusFrame(control=0x53, address=0xFF, ci=0x02, stsap=1, dtsap=0x67, data=b"x")
    with pytest.raises(DlmsFramingError, match="segment 2 arrived, expected segment 0"):
        join.add(second)
    with pytest.raises(DlmsFramingError, match="not a DLMS CI"):
        encode_mbus_frame(
            MbusFrame(control=0x53, address=0xFF, ci=0x72, stsap=1, dtsap=1, data=b"")
        )
    with pytest.raises(DlmsFramingError, match="outside one byte"):
        encode_mbus_frame(MbusFrame(control=0x153, address=0xFF, ci=0, stsap=1, dtsap=1, data=b""))
    with pytest.raises(DlmsFramingError, match="max 16"):
        segment_mbus(b"x" * 5000)


@given(st.binary(max_size=200))
def test_mbus_fuzz_only_typed_errors(data: bytes) -> None:
    decoder = MbusDecoder()
    decoder.feed(data)
    for _ in range(len(data) + 2):
        try:
            if decoder.next_frame() is None:
                break
        except DlmsError:
            continue


# --- IEC 62056-21 mode E ------------------------------------------------------------------


def test_mode_e_messages() -> None:
    assert encode_sign_on() == b"/?!\r\n"
    assert encode_sign_on("12345678") == b"/?12345678!\r\n"
    assert encode_ack_mode_e("5") == b"\x062" + b"52\r\n"
    ident = parse_identification(b"/LGZ5\\2ZMD3104407\r\n")
    assert ident.manufacturer == "LGZ"
    assert ident.baud_rate == 9600
    assert ident.supports_mode_e
    assert not ident.fast_reaction
    assert encode_identification(ident) == b"/LGZ5\\2ZMD3104407\r\n"
    plain = parse_identification(b"/ISk5MT174-0001\r\n")
    assert plain.fast_reaction
    assert not plain.supports_mode_e
    assert parse_identification(b"/ABCE2000\r\n").baud_rate == 9600


@pytest.mark.parametrize(
    ("line", "match"),
    [
        (b"/LGZ5ZMD", "CR LF"),
        (b"LGZ5ZMD\r\n", "must start"),
        (b"/L1Z5ZMD\r\n", "three letters"),
        (b"/LGZ#ZMD\r\n", "baud rate character"),
        (b"/LGZ5\\\r\n", "capability"),
        (b"/LGZ5" + b"A" * 17 + b"\r\n", "16 printable"),
        (b"/LGZ5\xff\r\n", "non-ASCII"),
    ],
)
def test_mode_e_identification_errors(line: bytes, match: str) -> None:
    with pytest.raises(DlmsFramingError, match=match):
        parse_identification(line)


def test_mode_e_argument_errors() -> None:
    with pytest.raises(DlmsFramingError, match="baud rate character"):
        encode_ack_mode_e("9")
    with pytest.raises(DlmsFramingError, match="device address"):
        encode_sign_on("bad!")


@given(st.lists(st.integers(min_value=1, max_value=8), max_size=10))
def test_mode_e_line_decoder_skips_echo_and_parity(sizes: list[int]) -> None:
    ident = ModeEIdentification(
        manufacturer="KFM", baud_char="6", baud_rate=19200, enhanced="2", identification="MA309"
    )
    wire = encode_sign_on() + bytes(byte | 0x80 for byte in encode_identification(ident))
    decoder = ModeELineDecoder()
    out: list[ModeEIdentification] = []
    pos = 0
    for size in [*sizes, len(wire)]:
        decoder.feed(wire[pos : pos + size])
        pos += size
        out.extend(decoder.identifications())
    assert out == [ident]


def test_mode_e_line_decoder_errors() -> None:
    decoder = ModeELineDecoder()
    decoder.feed(b"garbage\r\n")
    with pytest.raises(DlmsFramingError, match="without '/'"):
        decoder.next_identification()
    decoder.feed(b"x" * 100)
    with pytest.raises(DlmsFramingError, match="without LF"):
        decoder.next_identification()


@given(st.binary(max_size=80))
def test_mode_e_fuzz_only_typed_errors(data: bytes) -> None:
    decoder = ModeELineDecoder()
    decoder.feed(data)
    for _ in range(len(data) + 2):
        try:
            if decoder.next_identification() is None:
                break
        except DlmsError:
            continue
