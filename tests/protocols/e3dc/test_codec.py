"""Tests of the RSCP item/frame codec, the chunk-fed decoders, and interop with pye3dc."""

from __future__ import annotations

import contextlib
import math
import struct
import zlib

from e3dc._RSCPEncryptDecrypt import RSCPEncryptDecrypt
from e3dc._rscpLib import rscpDecode, rscpEncode, rscpFrame, rscpFrameDecode
from e3dc._rscpTags import RscpTag as PyTag, RscpType as PyType
from hypothesis import given, settings, strategies as st
import pytest
from rscp_lib.RscpFrame import RscpFrame
from rscp_lib.RscpValue import RscpValue

from custom_components.meterlink.protocols.e3dc import commands
from custom_components.meterlink.protocols.e3dc.cipher import RscpCipher
from custom_components.meterlink.protocols.e3dc.codec import (
    HEADER_SIZE,
    MAX_FRAME_SIZE,
    RscpFrameDecoder,
    RscpItem,
    RscpStreamDecoder,
    RscpTimestamp,
    container,
    decode_frame,
    decode_items,
    encode_frame,
    encode_items,
    item,
)
from custom_components.meterlink.protocols.e3dc.errors import (
    RscpCrcError,
    RscpError,
    RscpProtocolError,
)
from custom_components.meterlink.protocols.e3dc.tags import RscpTag as T, RscpType

# Fact sheet section 1 example, generated there with pye3dc 0.10.0 (EMS_REQ_POWER_PV, CRC on).
FACT_SHEET_FRAME = bytes.fromhex("e3dc00110abf066b00000000f4000000070001000001000000d0e1fe60")

VALUES: list[tuple[RscpType, object]] = [
    (RscpType.NONE, None),
    (RscpType.BOOL, True),
    (RscpType.BOOL, False),
    (RscpType.CHAR8, -128),
    (RscpType.UCHAR8, 255),
    (RscpType.INT16, -32768),
    (RscpType.UINT16, 65535),
    (RscpType.INT32, -(2**31)),
    (RscpType.UINT32, 2**32 - 1),
    (RscpType.INT64, -(2**63)),
    (RscpType.UINT64, 2**64 - 1),
    (RscpType.FLOAT32, 1.5),
    (RscpType.DOUBLE64, -2.25e300),
    (RscpType.BITFIELD, b"\x01\x80"),
    (RscpType.STRING, "Grüße S10"),
    (RscpType.STRING, ""),
    (RscpType.BYTEARRAY, bytes(range(10))),
    (RscpType.TIMESTAMP, RscpTimestamp(1_700_000_000, 123_456_789)),
    (RscpType.ERROR, 6),
]


@pytest.mark.parametrize(("rscp_type", "value"), VALUES)
def test_every_type_round_trips(rscp_type: RscpType, value: object) -> None:
    entry = RscpItem(0x01000001, rscp_type, value)  # type: ignore[arg-type]
    encoded = encode_items([entry])
    assert struct.unpack_from("<IBH", encoded) == (0x01000001, int(rscp_type), len(encoded) - 7)
    assert decode_items(encoded) == [entry]


def test_container_round_trip_and_lookup() -> None:
    tree = container(
        T.BAT_DATA,
        item(T.BAT_INDEX, RscpType.UINT16, 1),
        item(T.BAT_RSOC, RscpType.FLOAT32, 50.0),
        item(T.BAT_CURRENT, RscpType.ERROR, 6),
        container(T.BAT_DEVICE_STATE, item(T.BAT_DEVICE_CONNECTED, RscpType.BOOL, True)),
    )
    (decoded,) = decode_items(encode_items([tree]))
    assert decoded == tree
    assert decoded.get(T.BAT_RSOC) == 50.0
    assert decoded.get(T.BAT_CURRENT) is None  # error items read as missing
    assert decoded.find(T.BAT_CURRENT) is not None
    assert decoded.find(T.BAT_CURRENT).is_error  # type: ignore[union-attr]
    assert decoded.find(T.BAT_DEVICE_STATE).get(T.BAT_DEVICE_CONNECTED) is True  # type: ignore[union-attr]
    assert decoded.name == "BAT_DATA"


def test_fact_sheet_frame_decodes_and_reencodes_identically() -> None:
    frame = decode_frame(FACT_SHEET_FRAME)
    assert frame.items == (item(T.EMS_REQ_POWER_PV),)
    assert frame.crc is True
    assert frame.seconds == 0x6B06BF0A
    assert frame.nanoseconds == 0xF4
    again = encode_frame(frame.items, seconds=frame.seconds, nanoseconds=frame.nanoseconds)
    assert again == FACT_SHEET_FRAME


def test_frame_without_crc() -> None:
    data = encode_frame([item(T.EMS_REQ_BAT_SOC)], crc=False)
    assert data[2:4] == b"\x00\x01"
    assert len(data) == HEADER_SIZE + 7
    assert decode_frame(data).crc is False


def test_crc_mismatch_is_a_typed_error() -> None:
    data = bytearray(encode_frame([item(T.EMS_REQ_BAT_SOC)]))
    data[-1] ^= 0xFF
    with pytest.raises(RscpCrcError, match="CRC-32"):
        decode_frame(bytes(data))


def test_crc_is_zlib_over_header_and_data() -> None:
    data = encode_frame([item(T.EMS_REQ_POWER_PV)], seconds=5)
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_unknown_tag_and_namespace_decode_raw() -> None:
    newer = item(0x0100003F, RscpType.UINT32, 7)
    alien = item(0x7A001234, RscpType.BYTEARRAY, b"\x00")
    (a, b) = decode_items(encode_items([newer, alien]))
    assert a.value == 7
    assert a.name == "EMS_0x0100003F"
    assert b.name == "UNKNOWN_0x7A001234"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x00\x01\x07\x04\x00\x01\x02", "runs past"),
        (b"\x01\x00\x00\x01\x07\x02\x00\x01\x02", "INT32 needs 4 bytes"),
        (b"\x01\x00\x00\x01\x42\x00\x00", "unknown data type 0x42"),
        (b"\x01\x00\x00", "stray bytes"),
        (b"\x01\x00\x00\x01\x00\x01\x00\x00", "NONE needs 0 bytes, item says 1"),
        (b"\x01\x00\x00\x01\x0f\x01\x00\x00", "TIMESTAMP needs 12"),
        (b"\x01\x00\x00\x01\xff\x00\x00", "ERROR needs 1..8"),
    ],
)
def test_malformed_items_name_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(RscpProtocolError, match=message):
        decode_items(data)


def test_deep_nesting_is_refused_not_recursed() -> None:
    inner = b""
    for _ in range(40):
        inner = struct.pack("<IBH", T.BAT_DATA, 0x0E, len(inner)) + inner
    with pytest.raises(RscpProtocolError, match="nested deeper"):
        decode_items(inner)


def test_bad_magic_and_ctrl() -> None:
    good = encode_frame([item(T.EMS_REQ_POWER_PV)])
    with pytest.raises(RscpProtocolError, match="magic"):
        decode_frame(b"\x00\x00" + good[2:])
    with pytest.raises(RscpProtocolError, match="control word 0x1200"):
        decode_frame(good[:2] + b"\x00\x12" + good[4:])


def test_encode_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(RscpProtocolError, match="does not fit type UCHAR8"):
        encode_items([item(T.EMS_REQ_BAT_SOC, RscpType.UCHAR8, 256)])
    with pytest.raises(RscpProtocolError, match="not valid for type BYTEARRAY"):
        encode_items([item(T.WB_EXTERN_DATA, RscpType.BYTEARRAY, 3)])


# ------------------------------------------------------------------------------ decoders


def _frames() -> list[bytes]:
    return [
        encode_frame(commands.live(), seconds=1),
        encode_frame([commands.battery(0), commands.battery(1)], seconds=2, crc=False),
        encode_frame([commands.set_switch(3, on=True)], seconds=3),
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=30))
def test_frame_decoder_accepts_any_chunking(cuts: list[int]) -> None:
    stream = b"".join(_frames())
    decoder = RscpFrameDecoder()
    got = []
    pos = 0
    for cut in cuts * 20:
        got += decoder.feed(stream[pos : pos + cut])
        pos += cut
        if pos >= len(stream):
            break
    got += decoder.feed(stream[pos:])
    assert [f.seconds for f in got] == [1, 2, 3]
    assert got[0].items == tuple(commands.live())
    assert decoder.buffered == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=20))
def test_encrypted_stream_decoder_handles_partial_cipher_blocks(cuts: list[int]) -> None:
    sender = RscpCipher("s3cret")
    stream = b"".join(sender.encrypt(frame) for frame in _frames())
    decoder = RscpStreamDecoder(RscpCipher("s3cret"))
    got = []
    pos = 0
    for cut in cuts * 40:
        got += decoder.feed(stream[pos : pos + cut])
        pos += cut
        if pos >= len(stream):
            break
    got += decoder.feed(stream[pos:])
    assert [f.seconds for f in got] == [1, 2, 3]
    assert decoder.buffered == 0


def test_wrong_key_gives_a_typed_error_not_struct_error() -> None:
    ciphertext = RscpCipher("right-key").encrypt(encode_frame(commands.live()))
    with pytest.raises(RscpProtocolError, match="magic"):
        RscpStreamDecoder(RscpCipher("wrong-key")).feed(ciphertext)


def test_nonzero_padding_is_rejected() -> None:
    frame = encode_frame([item(T.EMS_REQ_POWER_PV)])
    padded = frame + b"\x01" * (32 - len(frame) % 32)
    with pytest.raises(RscpProtocolError, match="padding"):
        RscpFrameDecoder(block_size=32).feed(padded)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_fuzz_only_typed_errors_escape(data: bytes, chunk: int) -> None:
    for decoder in (RscpFrameDecoder(), RscpFrameDecoder(block_size=32)):
        try:
            for pos in range(0, len(data), chunk):
                decoder.feed(data[pos : pos + chunk])
                assert decoder.buffered <= MAX_FRAME_SIZE + 32
        except RscpError:
            pass
    with contextlib.suppress(RscpError):
        decode_items(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=100), max_size=12))
def test_fuzz_encrypted_stream_memory_stays_bounded(chunks: list[bytes]) -> None:
    decoder = RscpStreamDecoder(RscpCipher("fuzz"))
    with contextlib.suppress(RscpError):
        for chunk in chunks:
            decoder.feed(chunk)
            assert decoder.buffered <= MAX_FRAME_SIZE + 64


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=HEADER_SIZE, max_size=300))
def test_fuzz_with_valid_header_prefix(body: bytes) -> None:
    length = len(body) - HEADER_SIZE
    header = struct.pack("<2sHQIH", b"\xe3\xdc", 0x0100, 0, 0, length)
    with contextlib.suppress(RscpError):
        decode_frame(header + body[HEADER_SIZE:])
    with contextlib.suppress(RscpError):
        RscpStreamDecoder(RscpCipher("k")).feed(body)


_leaf = st.one_of(
    st.builds(lambda v: (RscpType.BOOL, v), st.booleans()),
    st.builds(lambda v: (RscpType.INT32, v), st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda v: (RscpType.UINT64, v), st.integers(0, 2**64 - 1)),
    st.builds(lambda v: (RscpType.DOUBLE64, v), st.floats(allow_nan=False)),
    st.builds(lambda v: (RscpType.STRING, v), st.text(max_size=20)),
    st.builds(lambda v: (RscpType.BYTEARRAY, v), st.binary(max_size=20)),
    st.builds(lambda v: (RscpType.ERROR, v), st.integers(0, 2**32 - 1)),
    st.just((RscpType.NONE, None)),
)


def _tree() -> st.SearchStrategy[RscpItem]:
    leaves = st.builds(
        lambda tag, tv: RscpItem(tag, tv[0], tv[1]), st.integers(0, 2**32 - 1), _leaf
    )
    return st.recursive(
        leaves,
        lambda children: st.builds(
            lambda tag, kids: RscpItem(tag, RscpType.CONTAINER, tuple(kids)),
            st.integers(0, 2**32 - 1),
            st.lists(children, max_size=4),
        ),
        max_leaves=20,
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(_tree(), max_size=4), st.booleans(), st.integers(0, 2**40))
def test_random_item_trees_round_trip(items: list[RscpItem], crc: bool, seconds: int) -> None:
    data = encode_frame(items, seconds=seconds, nanoseconds=999, crc=crc)
    frame = decode_frame(data)
    assert list(frame.items) == items
    assert (frame.seconds, frame.nanoseconds, frame.crc) == (seconds, 999, crc)


# ------------------------------------------------------------------------------ pye3dc interop

PYE3DC_CASES = [
    ((PyTag.EMS_REQ_POWER_PV, PyType.NoneType, None), item(T.EMS_REQ_POWER_PV)),
    ((PyTag.EMS_POWER_PV, PyType.Int32, -1234), item(T.EMS_POWER_PV, RscpType.INT32, -1234)),
    ((PyTag.EMS_BAT_SOC, PyType.UChar8, 77), item(T.EMS_BAT_SOC, RscpType.UCHAR8, 77)),
    ((PyTag.EMS_AUTARKY, PyType.Float32, 98.5), item(T.EMS_AUTARKY, RscpType.FLOAT32, 98.5)),
    ((PyTag.BAT_RSOC, PyType.Double64, 1.25), item(T.BAT_RSOC, RscpType.DOUBLE64, 1.25)),
    (
        (PyTag.EMS_POWER_LIMITS_USED, PyType.Bool, True),
        item(T.EMS_POWER_LIMITS_USED, RscpType.BOOL, True),
    ),
    (
        (PyTag.INFO_SERIAL_NUMBER, PyType.CString, "S10-123456789"),
        item(T.INFO_SERIAL_NUMBER, RscpType.STRING, "S10-123456789"),
    ),
    (
        (PyTag.WB_EXTERN_DATA, PyType.ByteArray, b"\x01\x02\x03\x04\x05\x06"),
        item(T.WB_EXTERN_DATA, RscpType.BYTEARRAY, b"\x01\x02\x03\x04\x05\x06"),
    ),
    (
        (PyTag.DB_REQ_HISTORY_TIME_START, PyType.Uint64, 2**40),
        item(T.DB_REQ_HISTORY_TIME_START, RscpType.UINT64, 2**40),
    ),
    ((PyTag.PM_POWER_L1, PyType.Int64, -5), item(T.PM_POWER_L1, RscpType.INT64, -5)),
    ((PyTag.BAT_CURRENT, PyType.Int16, -300), item(T.BAT_CURRENT, RscpType.INT16, -300)),
    ((PyTag.BAT_DCB_COUNT, PyType.Uint16, 3), item(T.BAT_DCB_COUNT, RscpType.UINT16, 3)),
    ((PyTag.EMS_SYS_SPEC_VALUE_INT, PyType.Uint32, 9), item(0x0100009C, RscpType.UINT32, 9)),
    ((PyTag.EMS_RES_MAX_CHARGE_POWER, PyType.Char8, -1), item(0x01800101, RscpType.CHAR8, -1)),
    (
        (
            PyTag.HA_REQ_COMMAND_ACTUATOR,
            PyType.Container,
            [
                (PyTag.HA_DATAPOINT_INDEX, PyType.Uint16, 2),
                (PyTag.HA_REQ_COMMAND, PyType.CString, "on"),
            ],
        ),
        commands.set_switch(2, on=True),
    ),
    (
        (
            PyTag.RSCP_REQ_AUTHENTICATION,
            PyType.Container,
            [
                (PyTag.RSCP_AUTHENTICATION_USER, PyType.CString, "user@example.com"),
                (PyTag.RSCP_AUTHENTICATION_PASSWORD, PyType.CString, "pw"),
            ],
        ),
        commands.authentication("user@example.com", "pw"),
    ),
]


@pytest.mark.parametrize(("theirs", "ours"), PYE3DC_CASES)
def test_pye3dc_frames_decode_in_ours(theirs: tuple[object, ...], ours: RscpItem) -> None:
    frame = decode_frame(rscpFrame(rscpEncode(theirs)))  # type: ignore[arg-type]
    assert frame.items == (ours,)
    assert frame.crc is True


@pytest.mark.parametrize(("theirs", "ours"), PYE3DC_CASES)
def test_our_frames_decode_in_pye3dc(theirs: tuple[object, ...], ours: RscpItem) -> None:
    decoded, _length = rscpDecode(encode_frame([ours], seconds=1_700_000_000))
    assert decoded == _py_names(theirs)


def _py_names(message: tuple[object, ...]) -> tuple[object, ...]:
    tag, rscp_type, value = message
    if isinstance(value, list):
        value = [_py_names(child) for child in value]
    if isinstance(value, float):
        value = (
            struct.unpack("<f", struct.pack("<f", value))[0]
            if rscp_type == PyType.Float32
            else value
        )
    name = "None" if rscp_type == PyType.NoneType else rscp_type.name  # type: ignore[attr-defined]
    return (tag.name, name, value)  # type: ignore[attr-defined]


def test_pye3dc_reads_our_frame_header_and_batches() -> None:
    frame = encode_frame(commands.live(), seconds=1_700_000_123, nanoseconds=0)
    data, timestamp, total = rscpFrameDecode(frame, returnFrameLen=True)
    assert total == len(frame)
    assert timestamp == 1_700_000_123
    assert data == encode_items(commands.live())


def test_timestamp_layout_matches_pye3dc_decoding() -> None:
    # Ours: u64 seconds + u32 ns (E3/DC SDK SRscpTimestamp). pye3dc decodes "iii" and sums
    # the two 32-bit halves: our seconds for any time before 2106; ns are read the same.
    ts = item(T.INFO_UTC_TIME, RscpType.TIMESTAMP, RscpTimestamp(1_700_000_000, 250_000_000))
    decoded, _ = rscpDecode(encode_items([ts]))
    assert math.isclose(decoded[2], 1_700_000_000.25)


def test_pye3dc_timestamp_encoding_quirk_is_decoded_faithfully() -> None:
    # pye3dc's encoder packs (hi, lo, ns) as "iii" with the seconds in the *second* 32-bit word,
    # and crashes on its own float ns (struct.error) - it never sends timestamps. Read as the
    # official i64, that layout is seconds << 32. We keep the wire value; this documents it.
    with pytest.raises(struct.error):
        rscpEncode(PyTag.INFO_UTC_TIME, PyType.Timestamp, 1_700_000_000_000)
    theirs = struct.pack("<IBHiii", T.INFO_UTC_TIME, 0x0F, 12, 0, 1_700_000_000, 0)
    (decoded,) = decode_items(theirs)
    assert decoded.value == RscpTimestamp(1_700_000_000 << 32, 0)


def test_rscp_lib_frames_interoperate() -> None:
    # rscp-lib 1.0.2: an independent implementation; it sends frames without CRC (ctrl 0x0100).
    theirs = RscpFrame().packFrame(
        [
            RscpValue().withTagName("TAG_EMS_REQ_POWER_PV", None),
            RscpValue().withTagName("TAG_INFO_SERIAL_NUMBER", "S10-1"),
        ]
    )
    frame = decode_frame(theirs)
    assert frame.crc is False
    assert frame.items == (
        item(T.EMS_REQ_POWER_PV),
        item(T.INFO_SERIAL_NUMBER, RscpType.STRING, "S10-1"),
    )
    ours = encode_frame(
        [
            item(T.EMS_POWER_PV, RscpType.INT32, 4321),
            container(T.BAT_DATA, item(T.BAT_INDEX, RscpType.UINT16, 1)),
        ],
        seconds=1_700_000_000,
        crc=False,
    )
    parsed = RscpFrame()
    parsed.unpack(ours)
    pv, bat = parsed.getRscpValues()
    assert (pv.getTagName(), pv.getValue()) == ("TAG_EMS_POWER_PV", 4321)
    assert bat.get_child("TAG_BAT_INDEX").getValue() == 1


def test_frames_ending_in_zero_bytes_break_pye3dc_but_not_us() -> None:
    # py3rijndael's ZeroPadding strips trailing zeros of the last block after decryption,
    # eating a CRC that ends in 0x00 (about 1 frame in 256, unless the CRC's last byte opens
    # the last block): pye3dc then fails with struct.error and reconnects.
    reply = item(T.EMS_BAT_SOC, RscpType.UCHAR8, 77)  # a 30-byte frame
    frame = next(
        f
        for f in (encode_frame([reply], seconds=s) for s in range(1_700_000_000, 1_700_010_000))
        if f[-1] == 0
    )
    ciphertext = RscpCipher("k").encrypt(frame)
    with pytest.raises(struct.error):
        rscpDecode(RSCPEncryptDecrypt(b"k").decrypt(ciphertext))
    (decoded,) = RscpStreamDecoder(RscpCipher("k")).feed(ciphertext)
    assert decoded.items == (reply,)
