"""IEC 104 codec: known frames, every type round trip, CP56Time2a, and fuzzing."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.iec104.codec import (
    ApduDecoder,
    decode_asdu,
    decode_time,
    encode_apdu,
    encode_asdu,
    encode_time,
    has_time_tag,
)
from custom_components.meterlink.protocols.iec104.errors import (
    Iec104ProtocolError,
    Iec104UnknownTypeError,
)
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    Cot,
    CP56Time2a,
    DoublePoint,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
)


# U-frames: 68 04 + function octet + 00 00 00 (IEC 60870-5-104, 5.3).
@pytest.mark.parametrize(
    ("function", "wire"),
    [
        (UFunction.STARTDT_ACT, "680407000000"),
        (UFunction.STARTDT_CON, "68040b000000"),
        (UFunction.STOPDT_ACT, "680413000000"),
        (UFunction.STOPDT_CON, "680423000000"),
        (UFunction.TESTFR_ACT, "680443000000"),
        (UFunction.TESTFR_CON, "680483000000"),
    ],
)
def test_u_frames(function, wire):
    assert encode_apdu(UFrame(function=function)).hex() == wire
    decoder = ApduDecoder()
    decoder.feed(bytes.fromhex(wire))
    assert list(decoder.frames()) == [UFrame(function=function)]


def test_s_and_i_frame_sequence_numbers():
    assert encode_apdu(SFrame(recv_seq=5)).hex() == "68040100" + "0a00"
    assert encode_apdu(SFrame(recv_seq=32767)).hex() == "680401" + "00feff"
    frame = IFrame(send_seq=300, recv_seq=32767, asdu=b"\x64\x01\x06\x00\x01\x00\x00\x00\x00\x14")
    wire = encode_apdu(frame)
    assert wire[:6].hex() == "680e" + "5802" + "feff"
    decoder = ApduDecoder()
    decoder.feed(wire)
    assert list(decoder.frames()) == [frame]


def test_general_interrogation_wire_format():
    asdu = Asdu(
        type_id=TypeId.C_IC_NA_1,
        cot=Cot.ACTIVATION,
        common_address=1,
        objects=(InformationObject(ioa=0, value=20),),
    )
    # type 100, VSQ 1, COT 6, OA 0, CA 1 (LE), IOA 0 (3 octets), QOI 20 (station).
    assert encode_asdu(asdu).hex() == "64010600010000000014"
    assert decode_asdu(bytes.fromhex("64010600010000000014")) == asdu


def test_short_float_with_time_known_bytes():
    time = CP56Time2a(
        year=2026, month=11, day=25, hour=13, minute=7, millisecond=30500, day_of_week=3
    )
    asdu = Asdu(
        type_id=TypeId.M_ME_TF_1,
        cot=Cot.SPONTANEOUS,
        common_address=0x1234,
        objects=(
            InformationObject(ioa=0x010203, value=21.5, quality=Quality.NOT_TOPICAL, time=time),
        ),
    )
    wire = encode_asdu(asdu)
    # 36, VSQ 1, COT 3, OA 0, CA 34 12, IOA 03 02 01, float 21.5 = 0x41AC0000 LE, QDS 0x40,
    # CP56: ms 30500 = 0x7724 LE, min 7, hour 13, day 25 | dow 3 << 5, month 11, year 26.
    assert wire.hex() == "2401030034120302010000ac41402477070d790b1a"
    assert decode_asdu(wire) == asdu


def test_negative_test_bits_and_originator():
    asdu = Asdu(
        type_id=TypeId.C_SC_NA_1,
        cot=Cot.ACTIVATION_CON,
        negative=True,
        test=True,
        originator=9,
        common_address=3,
        objects=(InformationObject(ioa=5, value=True, select=True, qualifier=1),),
    )
    wire = encode_asdu(asdu)
    assert wire[2] == 0x80 | 0x40 | 7
    assert wire[3] == 9
    assert wire[-1] == 0x80 | 1 << 2 | 1
    assert decode_asdu(wire) == asdu


def test_sequence_of_objects():
    asdu = Asdu(
        type_id=TypeId.M_ME_NB_1,
        cot=Cot.INTERROGATED_BY_STATION,
        common_address=1,
        sequence=True,
        objects=tuple(InformationObject(ioa=100 + i, value=i * 10 - 5) for i in range(4)),
    )
    wire = encode_asdu(asdu)
    assert len(wire) == 6 + 3 + 4 * 3
    assert wire[1] == 0x84
    assert decode_asdu(wire) == asdu
    with pytest.raises(Iec104ProtocolError, match="consecutive"):
        encode_asdu(
            Asdu(
                type_id=TypeId.M_ME_NB_1,
                cot=3,
                common_address=1,
                sequence=True,
                objects=(InformationObject(ioa=1), InformationObject(ioa=3)),
            )
        )


def test_normalized_values():
    def nva(value: float) -> bytes:
        return encode_asdu(
            Asdu(
                type_id=TypeId.M_ME_NA_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=value),),
            )
        )[9:11]

    assert nva(0.5) == b"\x00\x40"
    assert nva(-1.0) == b"\x00\x80"
    assert nva(1.0) == b"\xff\x7f"  # clamped to 1 - 2^-15
    decoded = decode_asdu(bytes.fromhex("09010300010001000000c000"))
    assert decoded.objects[0].value == -0.5


def test_integrated_totals_flags():
    obj = InformationObject(
        ioa=7, value=-123456, sequence=17, carry=True, adjusted=True, quality=Quality.INVALID
    )
    asdu = Asdu(
        type_id=TypeId.M_IT_NA_1,
        cot=Cot.REQUESTED_BY_GENERAL_COUNTER,
        common_address=1,
        objects=(obj,),
    )
    wire = encode_asdu(asdu)
    assert wire[-1] == 17 | 0x20 | 0x40 | 0x80
    assert decode_asdu(wire) == asdu


def test_cp56time2a_datetime():
    moment = dt.datetime(2026, 3, 29, 23, 59, 59, 999000, tzinfo=dt.UTC)
    tag = CP56Time2a.from_datetime(moment)
    assert tag.to_datetime() == moment
    assert decode_time(encode_time(tag)) == tag
    assert (
        CP56Time2a(year=2026, month=2, day=30, hour=0, minute=0, millisecond=0).to_datetime()
        is None
    )
    with pytest.raises(Iec104ProtocolError, match="out of range"):
        encode_time(CP56Time2a(year=2026, month=13, day=1, hour=0, minute=0, millisecond=0))
    raw = bytes([0x10, 0x27, 0x80 | 0x40 | 5, 0x80 | 7, 1 << 5 | 2, 1, 24])
    decoded = decode_time(raw)
    assert (decoded.millisecond, decoded.minute, decoded.invalid, decoded.substituted) == (
        10000,
        5,
        True,
        True,
    )
    assert (decoded.hour, decoded.summer_time, decoded.day, decoded.day_of_week) == (7, True, 2, 1)
    assert (decoded.month, decoded.year) == (1, 2024)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x01\x01\x03\x00\x01", "shorter than its 6-octet header"),
        (bytes.fromhex("0d0103000100010000"), "needs 14 octets, got 9"),
        (bytes.fromhex("0d8203000100ffffff00000000000000000000"), "run past 16777215"),
    ],
)
def test_malformed_asdus(data, error):
    with pytest.raises(Iec104ProtocolError, match=error):
        decode_asdu(data)


def test_unknown_type():
    with pytest.raises(Iec104UnknownTypeError, match="unknown type identification 7") as err:
        decode_asdu(bytes.fromhex("07010300010001000000000000"))
    assert err.value.type_id == 7


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("670407000000", "does not start with 0x68"),
        ("680307000000", "outside 4..253"),
        ("68fe", "outside 4..253"),
        ("680417000000", "invalid function octet 0x17"),
        ("680407010000", "non-zero control octets"),
        ("680400000000", "I-frame without ASDU"),
        ("680501000000ff", "S/U-frame with length 5"),
        ("680401020000", "S-frame with reserved bits"),
        ("68050000010064", "control octet 3"),
    ],
)
def test_malformed_apdus(wire, error):
    decoder = ApduDecoder()
    decoder.feed(bytes.fromhex(wire))
    with pytest.raises(Iec104ProtocolError, match=error):
        list(decoder.frames())
    with pytest.raises(Iec104ProtocolError):  # the stream stays broken
        list(decoder.frames())


@pytest.mark.parametrize(
    ("asdu", "error"),
    [
        (
            Asdu(
                type_id=TypeId.M_ME_TF_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=1.0),),
            ),
            "needs a time tag",
        ),
        (
            Asdu(
                type_id=TypeId.M_ME_NB_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=40000),),
            ),
            "scaled value 40000",
        ),
        (
            Asdu(
                type_id=TypeId.M_ME_NC_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=1e39),),
            ),
            "does not fit",
        ),
        (
            Asdu(
                type_id=TypeId.C_DC_NA_1,
                cot=6,
                common_address=1,
                objects=(InformationObject(ioa=1, value=0),),
            ),
            "1 .off. or 2 .on.",
        ),
        (
            Asdu(
                type_id=TypeId.C_SC_NA_1,
                cot=6,
                common_address=1,
                objects=(InformationObject(ioa=1, value=True, qualifier=32),),
            ),
            "outside 0..31",
        ),
        (
            Asdu(
                type_id=TypeId.C_SE_NC_1,
                cot=6,
                common_address=1,
                objects=(InformationObject(ioa=1, value=1.0, qualifier=128),),
            ),
            "outside 0..127",
        ),
        (Asdu(type_id=TypeId.M_SP_NA_1, cot=64, common_address=1), "outside 0..63"),
        (Asdu(type_id=TypeId.M_SP_NA_1, cot=3, common_address=65536), "common address"),
        (Asdu(type_id=TypeId.M_SP_NA_1, cot=3, common_address=1, originator=256), "originator"),
        (
            Asdu(
                type_id=TypeId.M_SP_NA_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=2**24),),
            ),
            "information object address",
        ),
        (
            Asdu(
                type_id=TypeId.M_SP_NA_1,
                cot=3,
                common_address=1,
                objects=tuple(InformationObject(ioa=i) for i in range(128)),
            ),
            "exceed the 127",
        ),
        (
            Asdu(
                type_id=TypeId.M_ME_TF_1,
                cot=3,
                common_address=1,
                objects=tuple(
                    InformationObject(
                        ioa=i,
                        value=1.0,
                        time=CP56Time2a(year=2026, month=1, day=1, hour=0, minute=0, millisecond=0),
                    )
                    for i in range(17)
                ),
            ),
            "exceeds the APDU limit",
        ),
        (
            Asdu(
                type_id=TypeId.M_IT_NA_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=1, sequence=32),),
            ),
            "sequence number",
        ),
        (
            Asdu(
                type_id=TypeId.M_ME_NA_1,
                cot=3,
                common_address=1,
                objects=(InformationObject(ioa=1, value=float("nan")),),
            ),
            "finite number",
        ),
    ],
)
def test_encode_errors(asdu, error):
    with pytest.raises(Iec104ProtocolError, match=error):
        encode_asdu(asdu)


# -- hypothesis -----------------------------------------------------------------------------

TIMES = st.builds(
    CP56Time2a,
    year=st.integers(2000, 2099),
    month=st.integers(1, 12),
    day=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    millisecond=st.integers(0, 59999),
    day_of_week=st.integers(0, 7),
    summer_time=st.booleans(),
    invalid=st.booleans(),
    substituted=st.booleans(),
)
QDS = st.sampled_from(
    [
        Quality.GOOD,
        Quality.OVERFLOW,
        Quality.INVALID | Quality.NOT_TOPICAL,
        Quality.BLOCKED | Quality.SUBSTITUTED,
    ]
)
SIQ = st.sampled_from([Quality.GOOD, Quality.INVALID, Quality.BLOCKED | Quality.NOT_TOPICAL])


def _object(type_id: TypeId, ioa: int):  # noqa: C901, PLR0911
    """Strategy for a valid object of a type."""
    time = TIMES if has_time_tag(type_id) else st.none()
    base = {"ioa": st.just(ioa), "time": time}
    name = type_id.name
    if name.startswith("M_SP"):
        return st.builds(InformationObject, value=st.booleans(), quality=SIQ, **base)
    if name.startswith("M_DP"):
        return st.builds(
            InformationObject, value=st.sampled_from(list(DoublePoint)), quality=SIQ, **base
        )
    if name in {"M_ME_NA_1", "M_ME_TD_1"}:
        return st.builds(
            InformationObject,
            value=st.integers(-32768, 32767).map(lambda v: v / 32768),
            quality=QDS,
            **base,
        )
    if name in {"M_ME_NB_1", "M_ME_TE_1"}:
        return st.builds(InformationObject, value=st.integers(-32768, 32767), quality=QDS, **base)
    if name in {"M_ME_NC_1", "M_ME_TF_1"}:
        return st.builds(
            InformationObject, value=st.floats(width=32, allow_nan=False), quality=QDS, **base
        )
    if name.startswith("M_IT"):
        return st.builds(
            InformationObject,
            value=st.integers(-(2**31), 2**31 - 1),
            quality=st.sampled_from([Quality.GOOD, Quality.INVALID]),
            sequence=st.integers(0, 31),
            carry=st.booleans(),
            adjusted=st.booleans(),
            **base,
        )
    if name.startswith("C_SC"):
        return st.builds(
            InformationObject,
            value=st.booleans(),
            select=st.booleans(),
            qualifier=st.integers(0, 31),
            **base,
        )
    if name.startswith("C_DC"):
        return st.builds(
            InformationObject,
            value=st.sampled_from([1, 2]),
            select=st.booleans(),
            qualifier=st.integers(0, 31),
            **base,
        )
    if name in {"C_SE_NA_1", "C_SE_TA_1"}:
        return st.builds(
            InformationObject,
            value=st.integers(-32768, 32767).map(lambda v: v / 32768),
            select=st.booleans(),
            qualifier=st.integers(0, 127),
            **base,
        )
    if name in {"C_SE_NB_1", "C_SE_TB_1"}:
        return st.builds(
            InformationObject,
            value=st.integers(-32768, 32767),
            select=st.booleans(),
            qualifier=st.integers(0, 127),
            **base,
        )
    if name in {"C_SE_NC_1", "C_SE_TC_1"}:
        return st.builds(
            InformationObject,
            value=st.floats(width=32, allow_nan=False),
            select=st.booleans(),
            qualifier=st.integers(0, 127),
            **base,
        )
    if name in {"C_CS_NA_1", "C_RD_NA_1"}:
        return st.builds(InformationObject, **base)
    return st.builds(InformationObject, value=st.integers(0, 255), **base)


@st.composite
def asdus(draw):
    """Valid ASDUs of every supported type."""
    type_id = draw(st.sampled_from(list(TypeId)))
    sequence = draw(st.booleans())
    count = draw(st.integers(0, 4))
    first = draw(st.integers(0, 2**24 - 9))
    objects = tuple(
        draw(_object(type_id, first + i if sequence else draw(st.integers(0, 2**24 - 1))))
        for i in range(count)
    )
    return Asdu(
        type_id=type_id,
        cot=draw(st.integers(0, 63)),
        negative=draw(st.booleans()),
        test=draw(st.booleans()),
        originator=draw(st.integers(0, 255)),
        common_address=draw(st.integers(0, 65535)),
        sequence=sequence and count > 0,
        objects=objects,
    )


@settings(max_examples=150)
@given(asdus())
def test_asdu_round_trip(asdu):
    assert decode_asdu(encode_asdu(asdu)) == asdu


@settings(max_examples=500)
@given(st.binary(max_size=260))
def test_decode_asdu_fuzz_only_typed_errors(data):
    try:
        asdu = decode_asdu(data)
    except Iec104ProtocolError:
        return
    assert encode_asdu(asdu) == data or asdu.sequence is False


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_apdu_decoder_fuzz_only_typed_errors(chunks):
    decoder = ApduDecoder()
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            for frame in decoder.frames():
                assert isinstance(frame, IFrame | SFrame | UFrame)
    except Iec104ProtocolError:
        pass


@given(asdus(), st.integers(0, 32767), st.integers(0, 32767), st.data())
def test_chunked_stream_decodes_same_frames(asdu, ns, nr, data):
    payload = encode_asdu(asdu)
    frames = [
        UFrame(function=UFunction.STARTDT_CON),
        IFrame(send_seq=ns, recv_seq=nr, asdu=payload),
        SFrame(recv_seq=nr),
    ]
    stream = b"".join(encode_apdu(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    decoder = ApduDecoder()
    got = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        decoder.feed(stream[previous:cut])
        previous = cut
        got.extend(decoder.frames())
    assert got == frames


@settings(max_examples=100)
@given(asdus(), st.data())
def test_mutated_asdus_only_typed_errors(asdu, data):
    wire = bytearray(encode_asdu(asdu))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    for candidate in (bytes(wire), bytes(wire[:cut])):
        try:
            decoded = decode_asdu(candidate)
        except Iec104ProtocolError:
            continue
        assert isinstance(decoded, Asdu)
