"""Sans-I/O HDLC framing for DLMS (IEC 62056-46, "frame format type 3")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .crc import crc16_x25_bytes
from .errors import DlmsChecksumError, DlmsFramingError, DlmsUnsupportedError

if TYPE_CHECKING:
    from collections.abc import Iterator

# IEC 62056-46 clause 6.3: opening and closing flag; frames are not byte-stuffed, so the
# length field (not the next flag) marks the end (0x7E may occur inside HCS/FCS/info).
HDLC_FLAG = 0x7E
# IEC 62056-46 clause 6.4.1: frame format field = type 0xA (4 bits), segmentation bit S,
# 11-bit frame length (all bytes between the flags).
HDLC_FORMAT_TYPE = 0xA
HDLC_SEGMENTATION_BIT = 0x0800
HDLC_MAX_LENGTH = 0x07FF
# Smallest frame: format (2) + destination (1) + source (1) + control (1) + FCS (2).
HDLC_MIN_LENGTH = 7
# IEC 62056-46 clause 6.4.2: address sizes allowed for the server (client is always 1 byte).
HDLC_ADDRESS_SIZES = (1, 2, 4)
# IEC 62056-46 clause 6.4.3 (ISO/IEC 13239): U-frame commands/responses with P/F bit cleared.
_U_SNRM = 0x83
_U_DISC = 0x43
_U_UA = 0x63
_U_DM = 0x0F
_U_FRMR = 0x87
_U_UI = 0x03
_PF_BIT = 0x10
# IEC 62056-46 clause 8.1 (via ISO/IEC 8802-2): LLC header in front of every APDU.
LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"
# Default maximum information field length when SNRM/UA carry no parameters (clause 6.4.4.4.3.2).
HDLC_DEFAULT_MAX_INFO = 128


class HdlcFrameKind(StrEnum):
    """The frame types DLMS HDLC uses (IEC 62056-46 clause 6.4.3)."""

    I = "I"  # noqa: E741 - the standard's name for information frames
    RR = "RR"
    RNR = "RNR"
    SNRM = "SNRM"
    DISC = "DISC"
    UA = "UA"
    DM = "DM"
    FRMR = "FRMR"
    UI = "UI"


_U_KIND = {
    _U_SNRM: HdlcFrameKind.SNRM,
    _U_DISC: HdlcFrameKind.DISC,
    _U_UA: HdlcFrameKind.UA,
    _U_DM: HdlcFrameKind.DM,
    _U_FRMR: HdlcFrameKind.FRMR,
    _U_UI: HdlcFrameKind.UI,
}
_U_CODE = {kind: code for code, kind in _U_KIND.items()}


@dataclass(frozen=True, kw_only=True, slots=True)
class HdlcAddress:
    """An HDLC address: its numeric value and how many bytes it takes on the wire."""

    value: int
    size: int = 1

    def __post_init__(self) -> None:
        """Reject sizes and values the address field cannot carry."""
        if self.size not in HDLC_ADDRESS_SIZES:
            msg = f"HDLC address size {self.size} is not 1, 2 or 4 bytes"
            raise DlmsFramingError(msg)
        if not 0 <= self.value < 1 << (7 * self.size):
            msg = f"HDLC address {self.value} does not fit in {self.size} byte(s)"
            raise DlmsFramingError(msg)

    @classmethod
    def server(cls, logical: int, physical: int | None = None, size: int = 0) -> HdlcAddress:
        """Build a server address from logical and physical parts (IEC 62056-46 clause 6.4.2.2).

        ``size`` 0 picks the smallest form: 1 byte without a physical part, 2 bytes when both
        parts are below 0x80, otherwise 4 bytes.
        """
        if physical is None:
            return cls(value=logical, size=size or 1)
        if not size:
            size = 2 if logical < 0x80 and physical < 0x80 else 4  # noqa: PLR2004
        if size == 1:
            msg = "a 1-byte server address has no physical part"
            raise DlmsFramingError(msg)
        shift = 7 if size == 2 else 14  # noqa: PLR2004
        if physical >= 1 << shift or logical >= 1 << shift:
            msg = f"server address {logical}/{physical} does not fit in {size} bytes"
            raise DlmsFramingError(msg)
        return cls(value=logical << shift | physical, size=size)

    @property
    def logical(self) -> int:
        """Upper part (logical device) of a server address."""
        if self.size == 1:
            return self.value
        return self.value >> (7 if self.size == 2 else 14)  # noqa: PLR2004

    @property
    def physical(self) -> int | None:
        """Lower part (physical device) of a server address, None for 1-byte addresses."""
        if self.size == 1:
            return None
        return self.value & ((1 << (7 if self.size == 2 else 14)) - 1)  # noqa: PLR2004

    def encode(self) -> bytes:
        """Return the address bytes: 7 bits each, LSB 1 marks the last byte."""
        out = bytearray()
        for index in range(self.size):
            shift = 7 * (self.size - 1 - index)
            out.append(((self.value >> shift) & 0x7F) << 1)
        out[-1] |= 1
        return bytes(out)


@dataclass(frozen=True, kw_only=True, slots=True)
class HdlcFrame:
    """One decoded HDLC frame."""

    destination: HdlcAddress
    source: HdlcAddress
    kind: HdlcFrameKind
    poll_final: bool = True
    send_sequence: int = 0
    receive_sequence: int = 0
    segmented: bool = False
    information: bytes = b""

    @property
    def control(self) -> int:
        """Return the control byte (IEC 62056-46 clause 6.4.3)."""
        pf = _PF_BIT if self.poll_final else 0
        if self.kind is HdlcFrameKind.I:
            return (self.receive_sequence & 7) << 5 | pf | (self.send_sequence & 7) << 1
        if self.kind is HdlcFrameKind.RR:
            return (self.receive_sequence & 7) << 5 | pf | 0x01
        if self.kind is HdlcFrameKind.RNR:
            return (self.receive_sequence & 7) << 5 | pf | 0x05
        return _U_CODE[self.kind] | pf


def _decode_control(control: int) -> tuple[HdlcFrameKind, bool, int, int]:
    """Split a control byte into kind, P/F bit, N(S) and N(R)."""
    poll_final = bool(control & _PF_BIT)
    if not control & 0x01:
        return HdlcFrameKind.I, poll_final, (control >> 1) & 7, (control >> 5) & 7
    if control & 0x03 == 0x01:
        function = (control >> 2) & 0x03
        if function == 0:
            return HdlcFrameKind.RR, poll_final, 0, (control >> 5) & 7
        if function == 1:
            return HdlcFrameKind.RNR, poll_final, 0, (control >> 5) & 7
        msg = f"HDLC supervisory frame 0x{control:02X} (REJ/SREJ) is not used by DLMS"
        raise DlmsUnsupportedError(msg, snippet=bytes([control]))
    kind = _U_KIND.get(control & ~_PF_BIT & 0xFF)
    if kind is None:
        msg = f"HDLC control field 0x{control:02X} is not a DLMS frame type"
        raise DlmsFramingError(msg, snippet=bytes([control]))
    return kind, poll_final, 0, 0


def _read_address(data: bytes, offset: int, end: int, which: str) -> tuple[HdlcAddress, int]:
    """Read a 1/2/4-byte address starting at ``offset``; return it and the next offset."""
    value = 0
    for size in range(1, 5):
        pos = offset + size - 1
        if pos >= end:
            msg = f"HDLC {which} address runs past the frame header"
            raise DlmsFramingError(msg, snippet=data[offset:end])
        byte = data[pos]
        value = value << 7 | byte >> 1
        if byte & 1:
            if size == 3:  # noqa: PLR2004
                msg = f"HDLC {which} address is 3 bytes long (only 1, 2 or 4 are allowed)"
                raise DlmsFramingError(msg, snippet=data[offset : pos + 1])
            return HdlcAddress(value=value, size=size), pos + 1
    msg = f"HDLC {which} address is longer than 4 bytes"
    raise DlmsFramingError(msg, snippet=data[offset : offset + 5])


def parse_hdlc_frame(data: bytes) -> HdlcFrame:
    """Parse exactly one frame, flags included; raise a typed error for anything malformed."""
    data = bytes(data)
    if len(data) < HDLC_MIN_LENGTH + 2:
        msg = f"HDLC frame of {len(data)} bytes is shorter than the minimum of 9"
        raise DlmsFramingError(msg, snippet=data)
    if data[0] != HDLC_FLAG:
        msg = f"HDLC frame starts with 0x{data[0]:02X} instead of the 0x7E flag"
        raise DlmsFramingError(msg, snippet=data[:8])
    fmt = int.from_bytes(data[1:3], "big")
    if fmt >> 12 != HDLC_FORMAT_TYPE:
        msg = f"HDLC frame format type is 0x{fmt >> 12:X}, expected 0xA"
        raise DlmsFramingError(msg, snippet=data[:8])
    length = fmt & HDLC_MAX_LENGTH
    if length + 2 != len(data):
        msg = f"HDLC length field says {length} bytes between flags, frame has {len(data) - 2}"
        raise DlmsFramingError(msg, snippet=data[:8])
    if data[-1] != HDLC_FLAG:
        msg = f"HDLC frame ends with 0x{data[-1]:02X} instead of the 0x7E flag"
        raise DlmsFramingError(msg, snippet=data[-8:])
    return _parse_body(data, length)


def _parse_body(data: bytes, length: int) -> HdlcFrame:
    """Parse the bytes of a frame whose flags and length are already checked."""
    if length < HDLC_MIN_LENGTH:
        msg = f"HDLC length field {length} is below the minimum of {HDLC_MIN_LENGTH}"
        raise DlmsFramingError(msg, snippet=data[:8])
    end = 1 + length  # index just past the FCS
    fcs_start = end - 2
    if crc16_x25_bytes(data[1:fcs_start]) != data[fcs_start:end]:
        msg = f"HDLC FCS mismatch (frame says {data[fcs_start:end].hex()})"
        raise DlmsChecksumError(msg, snippet=data[: min(len(data), 16)])
    fmt = int.from_bytes(data[1:3], "big")
    destination, offset = _read_address(data, 3, fcs_start, "destination")
    source, offset = _read_address(data, offset, fcs_start, "source")
    if offset >= fcs_start:
        msg = "HDLC frame has no control field"
        raise DlmsFramingError(msg, snippet=data[:8])
    control = data[offset]
    offset += 1
    remaining = fcs_start - offset
    information = b""
    if remaining:
        if remaining < 2:  # noqa: PLR2004
            msg = "HDLC frame has 1 byte between control field and FCS (no room for an HCS)"
            raise DlmsFramingError(msg, snippet=data[:16])
        if crc16_x25_bytes(data[1:offset]) != data[offset : offset + 2]:
            msg = f"HDLC HCS mismatch (frame says {data[offset : offset + 2].hex()})"
            raise DlmsChecksumError(msg, snippet=data[: offset + 2])
        information = data[offset + 2 : fcs_start]
    kind, poll_final, ns, nr = _decode_control(control)
    segmented = bool(fmt & HDLC_SEGMENTATION_BIT)
    if segmented and kind not in (HdlcFrameKind.I, HdlcFrameKind.UI):
        msg = f"HDLC {kind} frame has the segmentation bit set"
        raise DlmsFramingError(msg, snippet=data[:8])
    return HdlcFrame(
        destination=destination,
        source=source,
        kind=kind,
        poll_final=poll_final,
        send_sequence=ns,
        receive_sequence=nr,
        segmented=segmented,
        information=information,
    )


def encode_hdlc_frame(frame: HdlcFrame) -> bytes:
    """Return the wire bytes of ``frame``, flags, HCS and FCS included."""
    header_tail = frame.destination.encode() + frame.source.encode() + bytes([frame.control])
    length = 2 + len(header_tail) + 2
    if frame.information:
        length += 2 + len(frame.information)
    if length > HDLC_MAX_LENGTH:
        msg = f"HDLC frame of {length} bytes exceeds the 11-bit length field"
        raise DlmsFramingError(msg)
    fmt = HDLC_FORMAT_TYPE << 12 | length
    if frame.segmented:
        fmt |= HDLC_SEGMENTATION_BIT
    out = bytearray(fmt.to_bytes(2, "big"))
    out += header_tail
    if frame.information:
        out += crc16_x25_bytes(out)
        out += frame.information
    out += crc16_x25_bytes(out)
    return bytes((HDLC_FLAG, *out, HDLC_FLAG))


class HdlcDecoder:
    """Turn a byte stream into HDLC frames; fed arbitrary chunks, never blocks.

    ``next_frame()`` returns the next complete frame, None when more bytes are needed, or
    raises a :class:`DlmsFramingError` after dropping the offending bytes, so calling it
    again continues with the rest of the stream. Back-to-back frames may share one flag.
    """

    def __init__(self, *, max_buffer: int = 65536) -> None:
        """Start with an empty buffer; ``max_buffer`` bounds memory for hostile input."""
        self._buffer = bytearray()
        self._max_buffer = max_buffer

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data
        if len(self._buffer) > self._max_buffer:
            del self._buffer[: len(self._buffer) - self._max_buffer]

    @property
    def buffered(self) -> int:
        """Number of bytes waiting for the rest of a frame."""
        return len(self._buffer)

    def frames(self) -> Iterator[HdlcFrame]:
        """Yield every complete frame; errors propagate (call again to continue)."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def next_frame(self) -> HdlcFrame | None:  # noqa: C901
        """Return the next frame, None if incomplete; raise after skipping malformed bytes."""
        buf = self._buffer
        while True:
            if not buf:
                return None
            if buf[0] != HDLC_FLAG:
                flag = buf.find(HDLC_FLAG)
                garbage = bytes(buf if flag < 0 else buf[:flag])
                del buf[: len(garbage)]
                msg = f"{len(garbage)} byte(s) outside any HDLC frame"
                raise DlmsFramingError(msg, snippet=garbage[:16])
            if len(buf) < 2:  # noqa: PLR2004
                return None
            if buf[1] == HDLC_FLAG:
                # Idle flags, or the closing flag of the previous frame followed by an opening one.
                del buf[0]
                continue
            if buf[1] >> 4 != HDLC_FORMAT_TYPE:
                # A closing flag followed by something that is not a frame: drop the flag and
                # report the bytes after it on the next round.
                del buf[0]
                continue
            break
        if len(buf) < 3:  # noqa: PLR2004
            return None
        length = int.from_bytes(buf[1:3], "big") & HDLC_MAX_LENGTH
        if length < HDLC_MIN_LENGTH:
            del buf[0]
            msg = f"HDLC length field {length} is below the minimum of {HDLC_MIN_LENGTH}"
            raise DlmsFramingError(msg, snippet=bytes(buf[:3]))
        if len(buf) < length + 2:
            return None
        if buf[length + 1] != HDLC_FLAG:
            snippet = bytes(buf[: length + 2])
            del buf[0]
            msg = f"HDLC closing flag missing after {length} bytes (found 0x{snippet[-1]:02X})"
            raise DlmsFramingError(msg, snippet=snippet[:16])
        data = bytes(buf[: length + 2])
        # Keep the closing flag: it may be the opening flag of the next frame.
        del buf[: length + 1]
        return _parse_body(data, length)


class HdlcReassembler:
    """Join the information fields of segmented I/UI frames into one APDU (clause 6.4.4.4.3.3)."""

    def __init__(self, *, max_size: int = 65536) -> None:
        """Start with no pending segments; ``max_size`` bounds one reassembled message."""
        self._parts = bytearray()
        self._pending = False
        self._max_size = max_size

    @property
    def pending(self) -> bool:
        """True while segments of an unfinished message are buffered."""
        return self._pending

    def reset(self) -> None:
        """Forget buffered segments (after link reset or an error)."""
        self._parts.clear()
        self._pending = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished message (never more than ``max_size``)."""
        return len(self._parts)

    def add(self, frame: HdlcFrame) -> bytes | None:
        """Add one frame; return the complete information when its last segment arrives."""
        if frame.kind not in (HdlcFrameKind.I, HdlcFrameKind.UI):
            return None
        if len(self._parts) + len(frame.information) > self._max_size:
            size = len(self._parts) + len(frame.information)
            self.reset()
            msg = f"segmented HDLC message of {size}+ bytes exceeds {self._max_size}"
            raise DlmsFramingError(msg)
        self._parts += frame.information
        if frame.segmented:
            self._pending = True
            return None
        whole = bytes(self._parts)
        self.reset()
        return whole


def strip_llc(payload: bytes, *, expect: bytes = LLC_RESPONSE) -> bytes:
    """Remove the 3-byte LLC header (IEC 62056-46 clause 8.1); raise if it is not ``expect``."""
    if payload[:3] != expect:
        msg = f"LLC header is {payload[:3].hex()} instead of {expect.hex()}"
        raise DlmsFramingError(msg, snippet=payload[:8])
    return payload[3:]


def segment_information(
    payload: bytes, *, max_info: int = HDLC_DEFAULT_MAX_INFO
) -> list[tuple[bytes, bool]]:
    """Split ``payload`` into (chunk, segmented-bit) pairs of at most ``max_info`` bytes."""
    if max_info <= 0:
        msg = f"maximum information field length {max_info} must be positive"
        raise DlmsFramingError(msg)
    if not payload:
        return [(b"", False)]
    chunks = [payload[i : i + max_info] for i in range(0, len(payload), max_info)]
    return [(chunk, index < len(chunks) - 1) for index, chunk in enumerate(chunks)]
