"""Sans-I/O IEC 60870-5-104 codec: APDU framing and ASDU encoding/decoding (no I/O, no clock)."""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

from .errors import Iec104ProtocolError, Iec104UnknownTypeError
from .models import (
    MAX_COMMON_ADDRESS,
    MAX_IOA,
    MAX_SEQ,
    Apdu,
    Asdu,
    CP56Time2a,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

START = 0x68  # IEC 60870-5-104, 5.1: start character of every APDU
MAX_APDU_LENGTH = 253  # IEC 60870-5-104, 5.1: length field counts control field + ASDU, max 253
CONTROL_LENGTH = 4  # four control octets
ASDU_HEADER = 6  # type(1) VSQ(1) COT(2) CA(2): 104 profile, IEC 60870-5-104 9
IOA_LENGTH = 3  # IEC 60870-5-104, 9
TIME_LENGTH = 7  # CP56Time2a, IEC 60870-5-101 7.2.6.18
MAX_OBJECTS = 0x7F  # VSQ bits 0-6, IEC 60870-5-101 7.2.2
NVA_SCALE = 32768  # normalized value: F16 fixed point, -1 .. 1 - 2^-15 (101, 7.2.6.6)
QDS_MASK = 0xF1  # OV, BL, SB, NT, IV (101, 7.2.6.3)
SIQ_QUALITY_MASK = 0xF0  # BL, SB, NT, IV in SIQ/DIQ (101, 7.2.6.1/7.2.6.2)


# -- APCI --------------------------------------------------------------------------------


def encode_apdu(frame: Apdu, asdu: bytes | None = None) -> bytes:
    """Encode an I-, S- or U-frame (IEC 60870-5-104, 5.1-5.3)."""
    if isinstance(frame, IFrame):
        payload = frame.asdu if asdu is None else asdu
        if len(payload) + CONTROL_LENGTH > MAX_APDU_LENGTH:
            msg = f"ASDU of {len(payload)} octets exceeds the APDU limit of 253"
            raise Iec104ProtocolError(msg, snippet=payload[:16])
        control = struct.pack(
            "<HH", (frame.send_seq % MAX_SEQ) << 1, (frame.recv_seq % MAX_SEQ) << 1
        )
        return bytes([START, CONTROL_LENGTH + len(payload)]) + control + payload
    if isinstance(frame, SFrame):
        control = b"\x01\x00" + struct.pack("<H", (frame.recv_seq % MAX_SEQ) << 1)
        return bytes([START, CONTROL_LENGTH]) + control
    return bytes([START, CONTROL_LENGTH, frame.function, 0, 0, 0])


class ApduDecoder:
    """Splits a byte stream into APDUs; feed it any chunks.

    A framing error leaves the stream unusable (104 has no resynchronisation), so after one
    every later call raises again; the connection must be closed.
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()
        self._error: Iec104ProtocolError | None = None

    def feed(self, data: bytes) -> None:
        """Append received bytes (dropped after a framing error: the stream is unusable)."""
        if self._error is None:
            self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of an APDU (at most 1 + MAX_APDU_LENGTH)."""
        return len(self._buffer)

    def frames(self) -> Iterator[Apdu]:
        """Yield every complete APDU in the buffer."""
        while True:
            if self._error is not None:
                raise self._error
            if len(self._buffer) < 2:  # noqa: PLR2004 - start + length
                return
            try:
                frame, size = _parse_apdu(self._buffer)
            except Iec104ProtocolError as err:
                self._error = err
                raise
            if frame is None:
                return
            del self._buffer[:size]
            yield frame


def _parse_apdu(buffer: bytearray) -> tuple[Apdu | None, int]:
    """Parse the APDU at the start of the buffer; (None, 0) when it is not complete yet."""
    if buffer[0] != START:
        msg = f"APDU does not start with 0x68 but 0x{buffer[0]:02x}"
        raise Iec104ProtocolError(msg, snippet=bytes(buffer[:16]))
    length = buffer[1]
    if not CONTROL_LENGTH <= length <= MAX_APDU_LENGTH:
        msg = f"APDU length {length} is outside 4..253"
        raise Iec104ProtocolError(msg, snippet=bytes(buffer[:16]))
    if len(buffer) < 2 + length:
        return None, 0
    raw = bytes(buffer[: 2 + length])
    return _parse_control(raw, length), len(raw)


def _parse_control(raw: bytes, length: int) -> Apdu:
    """Interpret the control octets of a complete APDU."""
    c1, c2, c3, c4 = raw[2:6]
    if c1 & 0x01 == 0:  # I-format: bit 0 of octet 1 is 0
        if c3 & 0x01:
            msg = "I-frame with bit 0 of control octet 3 set"
            raise Iec104ProtocolError(msg, snippet=raw[:16])
        if length == CONTROL_LENGTH:
            msg = "I-frame without ASDU"
            raise Iec104ProtocolError(msg, snippet=raw)
        send_seq = (c1 | c2 << 8) >> 1
        recv_seq = (c3 | c4 << 8) >> 1
        return IFrame(send_seq=send_seq, recv_seq=recv_seq, asdu=raw[6:])
    if length != CONTROL_LENGTH:
        msg = f"S/U-frame with length {length} instead of 4"
        raise Iec104ProtocolError(msg, snippet=raw[:16])
    if c1 & 0x03 == 0x01:  # S-format
        if c1 != 0x01 or c2 != 0 or c3 & 0x01:
            msg = "S-frame with reserved bits set"
            raise Iec104ProtocolError(msg, snippet=raw)
        return SFrame(recv_seq=(c3 | c4 << 8) >> 1)
    try:
        function = UFunction(c1)
    except ValueError:
        msg = f"U-frame with invalid function octet 0x{c1:02x}"
        raise Iec104ProtocolError(msg, snippet=raw) from None
    if c2 or c3 or c4:
        msg = "U-frame with non-zero control octets 2-4"
        raise Iec104ProtocolError(msg, snippet=raw)
    return UFrame(function=function)


# -- CP56Time2a --------------------------------------------------------------------------


def encode_time(time: CP56Time2a) -> bytes:
    """Encode a CP56Time2a (IEC 60870-5-101, 7.2.6.18)."""
    if not (
        0 <= time.millisecond <= 59999  # noqa: PLR2004
        and 0 <= time.minute <= 59  # noqa: PLR2004
        and 0 <= time.hour <= 23  # noqa: PLR2004
        and 0 <= time.day <= 31  # noqa: PLR2004
        and 0 <= time.day_of_week <= 7  # noqa: PLR2004
        and 0 <= time.month <= 12  # noqa: PLR2004
        and 2000 <= time.year <= 2099  # noqa: PLR2004
    ):
        msg = f"time tag {time} has a field out of range"
        raise Iec104ProtocolError(msg)
    return bytes(
        [
            time.millisecond & 0xFF,
            time.millisecond >> 8,
            time.minute | (0x40 if time.substituted else 0) | (0x80 if time.invalid else 0),
            time.hour | (0x80 if time.summer_time else 0),
            time.day | time.day_of_week << 5,
            time.month,
            time.year - 2000,
        ]
    )


def decode_time(data: bytes) -> CP56Time2a:
    """Decode the seven octets of a CP56Time2a; fields are kept even when out of range."""
    if len(data) != TIME_LENGTH:
        msg = f"CP56Time2a is {len(data)} octets, expected {TIME_LENGTH}"
        raise Iec104ProtocolError(msg, snippet=bytes(data[:16]))
    return CP56Time2a(
        millisecond=data[0] | data[1] << 8,
        minute=data[2] & 0x3F,
        substituted=bool(data[2] & 0x40),
        invalid=bool(data[2] & 0x80),
        hour=data[3] & 0x1F,
        summer_time=bool(data[3] & 0x80),
        day=data[4] & 0x1F,
        day_of_week=data[4] >> 5,
        month=data[5] & 0x0F,
        year=2000 + (data[6] & 0x7F),
    )


# -- information elements ------------------------------------------------------------------


def _enc_nva(value: object) -> bytes:
    """Normalized value -1..1 as F16 (clamped to the largest positive code)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"normalized value must be a finite number, not {value!r}"
        raise Iec104ProtocolError(msg)
    code = max(-NVA_SCALE, min(NVA_SCALE - 1, round(value * NVA_SCALE)))
    return struct.pack("<h", code)


def _enc_int(fmt: str, value: object, what: str) -> bytes:
    """Pack an integer, turning range errors into protocol errors."""
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{what} must be an integer, not {value!r}"
        raise Iec104ProtocolError(msg)
    try:
        return struct.pack(fmt, value)
    except struct.error as err:
        msg = f"{what} {value} is out of range"
        raise Iec104ProtocolError(msg) from err


def _enc_float(value: object) -> bytes:
    """IEEE 754 short float (101, 7.2.6.8)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"short float must be a number, not {value!r}"
        raise Iec104ProtocolError(msg)
    try:
        return struct.pack("<f", value)
    except OverflowError as err:
        msg = f"{value!r} does not fit a short float"
        raise Iec104ProtocolError(msg) from err


def _qualifier(obj: InformationObject, limit: int, what: str) -> int:
    """Check a qualifier's range."""
    if not 0 <= obj.qualifier <= limit:
        msg = f"{what} {obj.qualifier} is outside 0..{limit}"
        raise Iec104ProtocolError(msg)
    return obj.qualifier


def _se(obj: InformationObject) -> int:
    """S/E bit (bit 7)."""
    return 0x80 if obj.select else 0


def _encode_element(type_id: TypeId, obj: InformationObject) -> bytes:
    """Encode the information element(s) of one object, without IOA and time tag."""
    kind = _KIND[type_id]
    if kind in {"sco", "dco", "nva_qos", "sva_qos", "float_qos"}:
        return _encode_command(kind, obj)
    if kind == "byte":
        return _enc_int("<B", obj.value, f"qualifier of {type_id.name}")
    if kind in {"time", "none"}:
        return b""  # clock sync: the time tag is the whole element; read: no element
    return _encode_monitor(kind, obj)


def _encode_monitor(kind: str, obj: InformationObject) -> bytes:
    """Encode a monitor-direction element (SIQ, DIQ, measured values, BCR)."""
    quality = int(obj.quality)
    if kind == "siq":
        return bytes([(1 if obj.value else 0) | (quality & SIQ_QUALITY_MASK)])
    if kind == "diq":
        return bytes([_enc_int("<B", obj.value, "double point")[0] & 0x03 | (quality & 0xF0)])
    if kind == "nva_qds":
        return _enc_nva(obj.value) + bytes([quality & QDS_MASK])
    if kind == "sva_qds":
        return _enc_int("<h", obj.value, "scaled value") + bytes([quality & QDS_MASK])
    if kind == "float_qds":
        return _enc_float(obj.value) + bytes([quality & QDS_MASK])
    if kind == "bcr":
        if not 0 <= obj.sequence <= 31:  # noqa: PLR2004
            msg = f"counter sequence number {obj.sequence} is outside 0..31"
            raise Iec104ProtocolError(msg)
        flags = obj.sequence | (0x20 if obj.carry else 0) | (0x40 if obj.adjusted else 0)
        flags |= 0x80 if obj.quality & Quality.INVALID else 0
        return _enc_int("<i", obj.value, "counter reading") + bytes([flags])
    msg = f"no encoder for element kind {kind}"
    raise Iec104ProtocolError(msg)


def _encode_command(kind: str, obj: InformationObject) -> bytes:
    """Encode a command or set-point element (SCO, DCO, value + QOS)."""
    if kind == "sco":
        qu = _qualifier(obj, 31, "qualifier of command")
        return bytes([(1 if obj.value else 0) | qu << 2 | _se(obj)])
    if kind == "dco":
        qu = _qualifier(obj, 31, "qualifier of command")
        state = _enc_int("<B", obj.value, "double command")[0]
        if state not in (1, 2):
            msg = f"double command state must be 1 (off) or 2 (on), not {state}"
            raise Iec104ProtocolError(msg)
        return bytes([state | qu << 2 | _se(obj)])
    ql = _qualifier(obj, 127, "qualifier of set-point")
    if kind == "nva_qos":
        body = _enc_nva(obj.value)
    elif kind == "sva_qos":
        body = _enc_int("<h", obj.value, "scaled set-point")
    else:
        body = _enc_float(obj.value)
    return body + bytes([ql | _se(obj)])


def _decode_element(  # noqa: PLR0911
    type_id: TypeId, data: bytes, ioa: int, time: CP56Time2a | None
) -> InformationObject:
    """Decode one object's elements (without IOA and time tag)."""
    kind = _KIND[type_id]
    if kind == "siq":
        return InformationObject(
            ioa=ioa, time=time, value=bool(data[0] & 1), quality=Quality(data[0] & SIQ_QUALITY_MASK)
        )
    if kind == "diq":
        return InformationObject(
            ioa=ioa, time=time, value=data[0] & 0x03, quality=Quality(data[0] & 0xF0)
        )
    if kind in {"nva_qds", "sva_qds", "float_qds"}:
        value: float = _unpack_value(kind, data)
        return InformationObject(
            ioa=ioa, time=time, value=value, quality=Quality(data[-1] & QDS_MASK)
        )
    if kind == "bcr":
        flags = data[4]
        return InformationObject(
            ioa=ioa,
            time=time,
            value=struct.unpack("<i", data[:4])[0],
            quality=Quality.INVALID if flags & 0x80 else Quality.GOOD,
            sequence=flags & 0x1F,
            carry=bool(flags & 0x20),
            adjusted=bool(flags & 0x40),
        )
    if kind in {"sco", "dco"}:
        octet = data[0]
        value_bits = octet & (0x01 if kind == "sco" else 0x03)
        return InformationObject(
            ioa=ioa,
            time=time,
            value=bool(value_bits) if kind == "sco" else value_bits,
            qualifier=(octet >> 2) & 0x1F,
            select=bool(octet & 0x80),
        )
    if kind in {"nva_qos", "sva_qos", "float_qos"}:
        value = _unpack_value(kind, data)
        return InformationObject(
            ioa=ioa, time=time, value=value, qualifier=data[-1] & 0x7F, select=bool(data[-1] & 0x80)
        )
    if kind == "byte":
        return InformationObject(ioa=ioa, time=time, value=data[0])
    return InformationObject(ioa=ioa, time=time)


def _unpack_value(kind: str, data: bytes) -> float:
    """Unpack the value part of a measured value or set-point."""
    if kind.startswith("nva"):
        return int(struct.unpack("<h", data[:2])[0]) / NVA_SCALE
    if kind.startswith("sva"):
        return int(struct.unpack("<h", data[:2])[0])
    return float(struct.unpack("<f", data[:4])[0])


# (element kind, element length, carries CP56Time2a) per type (IEC 60870-5-101, 7.3).
_KIND: dict[TypeId, str] = {
    TypeId.M_SP_NA_1: "siq",
    TypeId.M_SP_TB_1: "siq",
    TypeId.M_DP_NA_1: "diq",
    TypeId.M_DP_TB_1: "diq",
    TypeId.M_ME_NA_1: "nva_qds",
    TypeId.M_ME_TD_1: "nva_qds",
    TypeId.M_ME_NB_1: "sva_qds",
    TypeId.M_ME_TE_1: "sva_qds",
    TypeId.M_ME_NC_1: "float_qds",
    TypeId.M_ME_TF_1: "float_qds",
    TypeId.M_IT_NA_1: "bcr",
    TypeId.M_IT_TB_1: "bcr",
    TypeId.C_SC_NA_1: "sco",
    TypeId.C_SC_TA_1: "sco",
    TypeId.C_DC_NA_1: "dco",
    TypeId.C_DC_TA_1: "dco",
    TypeId.C_SE_NA_1: "nva_qos",
    TypeId.C_SE_TA_1: "nva_qos",
    TypeId.C_SE_NB_1: "sva_qos",
    TypeId.C_SE_TB_1: "sva_qos",
    TypeId.C_SE_NC_1: "float_qos",
    TypeId.C_SE_TC_1: "float_qos",
    TypeId.M_EI_NA_1: "byte",  # COI
    TypeId.C_IC_NA_1: "byte",  # QOI
    TypeId.C_CI_NA_1: "byte",  # QCC
    TypeId.C_CS_NA_1: "time",
    TypeId.C_RD_NA_1: "none",  # the IOA alone names what to read (101, 7.3.4.3)
}
_KIND_LENGTH = {
    "siq": 1,
    "diq": 1,
    "nva_qds": 3,
    "sva_qds": 3,
    "float_qds": 5,
    "bcr": 5,
    "sco": 1,
    "dco": 1,
    "nva_qos": 3,
    "sva_qos": 3,
    "float_qos": 5,
    "byte": 1,
    "time": 0,
    "none": 0,
}
_TIMED = {
    TypeId.M_SP_TB_1,
    TypeId.M_DP_TB_1,
    TypeId.M_ME_TD_1,
    TypeId.M_ME_TE_1,
    TypeId.M_ME_TF_1,
    TypeId.M_IT_TB_1,
    TypeId.C_SC_TA_1,
    TypeId.C_DC_TA_1,
    TypeId.C_SE_TA_1,
    TypeId.C_SE_TB_1,
    TypeId.C_SE_TC_1,
    TypeId.C_CS_NA_1,
}


def has_time_tag(type_id: TypeId) -> bool:
    """Whether objects of the type carry a CP56Time2a."""
    return type_id in _TIMED


def object_length(type_id: TypeId) -> int:
    """Octets of one object's elements including its time tag (without the IOA)."""
    return _KIND_LENGTH[_KIND[type_id]] + (TIME_LENGTH if type_id in _TIMED else 0)


# -- ASDU ----------------------------------------------------------------------------------


def _check_header(asdu: Asdu) -> None:
    """Check the header fields of an ASDU to encode."""
    count = len(asdu.objects)
    if count > MAX_OBJECTS:
        msg = f"{count} objects exceed the 127 one ASDU can carry"
        raise Iec104ProtocolError(msg)
    if not 0 <= asdu.cot <= 0x3F:  # noqa: PLR2004
        msg = f"cause of transmission {asdu.cot} is outside 0..63"
        raise Iec104ProtocolError(msg)
    if not 0 <= asdu.common_address <= MAX_COMMON_ADDRESS:
        msg = f"common address {asdu.common_address} is outside 0..65535"
        raise Iec104ProtocolError(msg)
    if not 0 <= asdu.originator <= 0xFF:  # noqa: PLR2004
        msg = f"originator address {asdu.originator} is outside 0..255"
        raise Iec104ProtocolError(msg)


def encode_asdu(asdu: Asdu) -> bytes:
    """Encode an ASDU with 104's field sizes (COT 2 octets, CA 2, IOA 3)."""
    _check_header(asdu)
    count = len(asdu.objects)
    cot = asdu.cot | (0x40 if asdu.negative else 0) | (0x80 if asdu.test else 0)
    out = bytearray([asdu.type_id, count | (0x80 if asdu.sequence else 0), cot, asdu.originator])
    out += struct.pack("<H", asdu.common_address)
    timed = asdu.type_id in _TIMED
    for index, obj in enumerate(asdu.objects):
        if not 0 <= obj.ioa <= MAX_IOA:
            msg = f"information object address {obj.ioa} is outside 0..16777215"
            raise Iec104ProtocolError(msg)
        if asdu.sequence and obj.ioa != asdu.objects[0].ioa + index:
            msg = f"SQ=1 needs consecutive addresses, object {index} has {obj.ioa}"
            raise Iec104ProtocolError(msg)
        if index == 0 or not asdu.sequence:
            out += obj.ioa.to_bytes(IOA_LENGTH, "little")
        out += _encode_element(asdu.type_id, obj)
        if timed:
            if obj.time is None:
                msg = f"{asdu.type_id.name} object {obj.ioa} needs a time tag"
                raise Iec104ProtocolError(msg)
            out += encode_time(obj.time)
    if len(out) + CONTROL_LENGTH > MAX_APDU_LENGTH:
        msg = f"ASDU of {len(out)} octets exceeds the APDU limit of 253"
        raise Iec104ProtocolError(msg)
    return bytes(out)


def decode_asdu(data: bytes) -> Asdu:
    """Decode an ASDU; any malformed input raises :class:`Iec104ProtocolError`."""
    if len(data) < ASDU_HEADER:
        msg = f"ASDU of {len(data)} octets is shorter than its 6-octet header"
        raise Iec104ProtocolError(msg, snippet=data)
    try:
        type_id = TypeId(data[0])
    except ValueError:
        msg = f"unknown type identification {data[0]}"
        raise Iec104UnknownTypeError(msg, type_id=data[0], snippet=data[:16]) from None
    count = data[1] & MAX_OBJECTS
    sequence = bool(data[1] & 0x80)
    size = object_length(type_id)
    expected = ASDU_HEADER + (
        (IOA_LENGTH + count * size) if sequence and count else count * (IOA_LENGTH + size)
    )
    if len(data) != expected:
        msg = (
            f"{type_id.name} ASDU with {count} object(s) (SQ={int(sequence)}) needs "
            f"{expected} octets, got {len(data)}"
        )
        raise Iec104ProtocolError(msg, snippet=data[:16])
    objects: list[InformationObject] = []
    position = ASDU_HEADER
    base_ioa = 0
    decode: Callable[[TypeId, bytes, int, CP56Time2a | None], InformationObject] = _decode_element
    timed = type_id in _TIMED
    for index in range(count):
        if not sequence or index == 0:
            base_ioa = int.from_bytes(data[position : position + IOA_LENGTH], "little")
            position += IOA_LENGTH
        ioa = base_ioa + index if sequence else base_ioa
        if ioa > MAX_IOA:
            msg = f"SQ=1 addresses run past 16777215 at object {index}"
            raise Iec104ProtocolError(msg, snippet=data[:16])
        element_length = size - (TIME_LENGTH if timed else 0)
        element = data[position : position + element_length]
        position += element_length
        time = None
        if timed:
            time = decode_time(data[position : position + TIME_LENGTH])
            position += TIME_LENGTH
        objects.append(decode(type_id, element, ioa, time))
    return Asdu(
        type_id=type_id,
        cot=data[2] & 0x3F,
        negative=bool(data[2] & 0x40),
        test=bool(data[2] & 0x80),
        originator=data[3],
        common_address=data[4] | data[5] << 8,
        sequence=sequence,
        objects=tuple(objects),
    )
