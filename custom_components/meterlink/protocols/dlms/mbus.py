"""Sans-I/O wired M-Bus long frames carrying DLMS (EN 13757-2 link layer, DLMS transport)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DlmsChecksumError, DlmsFramingError

if TYPE_CHECKING:
    from collections.abc import Iterator

# EN 13757-2 clause 5: long frame = 68 L L 68 C A CI data CS 16; L counts C, A, CI and data;
# CS is the arithmetic sum (mod 256) of C..data.
MBUS_START = 0x68
MBUS_STOP = 0x16
MBUS_MIN_L = 3
# EN 13757-3 / EN 13757-1 CI-field table: 0x00..0x1F are "reserved for DLMS-based applications";
# HAN-port meters (e.g. Austrian Kaifa MA309, L+G E450) use bits 0-3 as segment sequence
# number and bit 4 as the final-segment flag (first frame 0x00, last 0x11 / single 0x10).
MBUS_CI_DLMS_MAX = 0x1F
MBUS_CI_FINAL = 0x10
# C-field SND_UD (0x53/0x73, FCB toggles) seen from HAN-port meters; A-field 0xFF broadcast.
MBUS_C_SND_UD = 0x53
MBUS_A_BROADCAST = 0xFF
# Transport layer addresses: STSAP 0x01 (management logical device), DTSAP 0x67 (103,
# consumer information push client) as used on HAN ports.
MBUS_STSAP_MANAGEMENT = 0x01
MBUS_DTSAP_PUSH_CLIENT = 0x67
MBUS_MAX_DATA = 252 - 5  # L is one byte (max 0xFF); 3 for C/A/CI, 2 for the TSAPs


@dataclass(frozen=True, kw_only=True, slots=True)
class MbusFrame:
    """One long frame carrying a DLMS segment."""

    control: int
    address: int
    ci: int
    stsap: int
    dtsap: int
    data: bytes

    @property
    def sequence(self) -> int:
        """Segment sequence number (CI bits 0-3)."""
        return self.ci & 0x0F

    @property
    def final(self) -> bool:
        """True for the last (or only) segment of an APDU (CI bit 4)."""
        return bool(self.ci & MBUS_CI_FINAL)


def _check_byte(name: str, value: int) -> None:
    """Reject a field value outside one byte."""
    if not 0 <= value <= 0xFF:  # noqa: PLR2004
        msg = f"M-Bus {name} {value} is outside one byte"
        raise DlmsFramingError(msg)


def encode_mbus_frame(frame: MbusFrame) -> bytes:
    """Return the wire bytes of ``frame``."""
    for name in ("control", "address", "ci", "stsap", "dtsap"):
        _check_byte(name, getattr(frame, name))
    if frame.ci > MBUS_CI_DLMS_MAX:
        msg = f"M-Bus CI 0x{frame.ci:02X} is not a DLMS CI (0x00..0x1F)"
        raise DlmsFramingError(msg)
    body = bytes((frame.control, frame.address, frame.ci, frame.stsap, frame.dtsap)) + frame.data
    if len(body) > 0xFF:  # noqa: PLR2004
        msg = f"M-Bus frame body of {len(body)} bytes exceeds the 1-byte L field"
        raise DlmsFramingError(msg)
    length = len(body)
    return (
        bytes((MBUS_START, length, length, MBUS_START))
        + body
        + bytes((sum(body) & 0xFF, MBUS_STOP))
    )


def segment_mbus(
    apdu: bytes,
    *,
    max_data: int = MBUS_MAX_DATA,
    control: int = MBUS_C_SND_UD,
    address: int = MBUS_A_BROADCAST,
    stsap: int = MBUS_STSAP_MANAGEMENT,
    dtsap: int = MBUS_DTSAP_PUSH_CLIENT,
) -> list[bytes]:
    """Split an APDU into encoded long frames with sequence numbers and the final flag."""
    if not 0 < max_data <= MBUS_MAX_DATA:
        msg = f"M-Bus segment size {max_data} must be 1..{MBUS_MAX_DATA}"
        raise DlmsFramingError(msg)
    chunks = [apdu[i : i + max_data] for i in range(0, len(apdu), max_data)] or [b""]
    if len(chunks) > 16:  # noqa: PLR2004
        msg = f"APDU of {len(apdu)} bytes needs {len(chunks)} M-Bus segments (max 16)"
        raise DlmsFramingError(msg)
    frames = []
    for index, chunk in enumerate(chunks):
        ci = index | (MBUS_CI_FINAL if index == len(chunks) - 1 else 0)
        frame = MbusFrame(
            control=control, address=address, ci=ci, stsap=stsap, dtsap=dtsap, data=chunk
        )
        frames.append(encode_mbus_frame(frame))
    return frames


class MbusDecoder:
    """Turn a byte stream into M-Bus long frames; fed arbitrary chunks.

    ``next_frame()`` returns a frame, None when more bytes are needed, or raises after dropping
    the offending bytes (so the next call resynchronises on the next 0x68).
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of a frame (at most 4 + 255 + 2 once drained)."""
        return len(self._buffer)

    def frames(self) -> Iterator[MbusFrame]:
        """Yield every complete frame; errors propagate (call again to continue)."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def _drop_start(self, message: str, snippet: bytes) -> DlmsFramingError:
        """Drop the start byte and return an error to raise."""
        del self._buffer[0]
        return DlmsFramingError(message, snippet=snippet[:16])

    def next_frame(self) -> MbusFrame | None:  # noqa: C901
        """Return the next frame, None if incomplete; raise on malformed bytes."""
        buf = self._buffer
        if not buf:
            return None
        if buf[0] != MBUS_START:
            start = buf.find(MBUS_START)
            garbage = bytes(buf if start < 0 else buf[:start])
            del buf[: len(garbage)]
            msg = f"{len(garbage)} byte(s) outside any M-Bus long frame"
            raise DlmsFramingError(msg, snippet=garbage[:16])
        if len(buf) < 4:  # noqa: PLR2004
            return None
        length = buf[1]
        if buf[2] != length:
            msg = f"M-Bus L fields differ (0x{length:02X} and 0x{buf[2]:02X})"
            raise self._drop_start(msg, bytes(buf[:4]))
        if buf[3] != MBUS_START:
            msg = f"M-Bus second start byte is 0x{buf[3]:02X}, expected 0x68"
            raise self._drop_start(msg, bytes(buf[:4]))
        if length < MBUS_MIN_L + 2:
            msg = f"M-Bus L field {length} leaves no room for CI, STSAP and DTSAP"
            raise self._drop_start(msg, bytes(buf[:4]))
        total = 4 + length + 2
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        body = raw[4 : 4 + length]
        if raw[-1] != MBUS_STOP:
            msg = f"M-Bus stop byte is 0x{raw[-1]:02X}, expected 0x16"
            raise self._drop_start(msg, raw)
        if sum(body) & 0xFF != raw[-2]:
            del buf[:total]
            msg = f"M-Bus checksum 0x{raw[-2]:02X} does not match 0x{sum(body) & 0xFF:02X}"
            raise DlmsChecksumError(msg, snippet=raw[:16])
        del buf[:total]
        ci = body[2]
        if ci > MBUS_CI_DLMS_MAX:
            msg = f"M-Bus CI 0x{ci:02X} does not carry DLMS (expected 0x00..0x1F)"
            raise DlmsFramingError(msg, snippet=raw[:16])
        return MbusFrame(
            control=body[0], address=body[1], ci=ci, stsap=body[3], dtsap=body[4], data=body[5:]
        )


class MbusReassembler:
    """Join DLMS segments of consecutive long frames into one APDU."""

    def __init__(self, *, max_size: int = 65536) -> None:
        """Start with no pending segments; ``max_size`` bounds one reassembled message."""
        self._parts = bytearray()
        self._expected = 0
        self._max_size = max_size

    def reset(self) -> None:
        """Forget buffered segments."""
        self._parts.clear()
        self._expected = 0

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished message (never more than ``max_size``)."""
        return len(self._parts)

    def add(self, frame: MbusFrame) -> bytes | None:
        """Add one frame; return the APDU when its final segment arrives."""
        if frame.sequence != self._expected:
            if frame.sequence != 0:
                expected = self._expected
                self.reset()
                msg = f"M-Bus segment {frame.sequence} arrived, expected segment {expected}"
                raise DlmsFramingError(msg, snippet=frame.data[:8])
            # A new first segment abandons an unfinished message.
            self.reset()
        if len(self._parts) + len(frame.data) > self._max_size:
            # The 4-bit sequence number wraps, so only a size limit ends an endless message.
            size = len(self._parts) + len(frame.data)
            self.reset()
            msg = f"segmented M-Bus message of {size}+ bytes exceeds {self._max_size}"
            raise DlmsFramingError(msg, snippet=frame.data[:8])
        self._parts += frame.data
        if frame.final:
            whole = bytes(self._parts)
            self.reset()
            return whole
        self._expected = (frame.sequence + 1) & 0x0F
        return None
