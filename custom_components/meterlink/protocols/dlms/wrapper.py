"""Sans-I/O IEC 62056-47 TCP/UDP wrapper framing (the "wrapper" of DLMS over IP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DlmsFramingError

if TYPE_CHECKING:
    from collections.abc import Iterator

# IEC 62056-47 clause 5.3 (Green Book 7.3.3.2): 8-byte header of four big-endian uint16:
# version, source wPort, destination wPort, length of the APDU that follows.
WRAPPER_VERSION = 0x0001
WRAPPER_HEADER_SIZE = 8
WRAPPER_MAX_LENGTH = 0xFFFF
# IANA-registered DLMS/COSEM port (IEC 62056-47 clause 5.2).
WRAPPER_DEFAULT_PORT = 4059


@dataclass(frozen=True, kw_only=True, slots=True)
class WrapperFrame:
    """One wrapper frame: source and destination wPort and the APDU it carries."""

    source: int
    destination: int
    payload: bytes


def encode_wrapper_frame(frame: WrapperFrame) -> bytes:
    """Return the wire bytes of ``frame``."""
    for name, port in (("source", frame.source), ("destination", frame.destination)):
        if not 0 <= port <= 0xFFFF:  # noqa: PLR2004
            msg = f"wrapper {name} wPort {port} is outside 0..65535"
            raise DlmsFramingError(msg)
    if len(frame.payload) > WRAPPER_MAX_LENGTH:
        msg = f"wrapper payload of {len(frame.payload)} bytes exceeds 65535"
        raise DlmsFramingError(msg)
    header = (
        WRAPPER_VERSION.to_bytes(2, "big")
        + frame.source.to_bytes(2, "big")
        + frame.destination.to_bytes(2, "big")
        + len(frame.payload).to_bytes(2, "big")
    )
    return header + frame.payload


class WrapperDecoder:
    """Turn a TCP byte stream into wrapper frames; fed arbitrary chunks.

    A header with a wrong version means the stream has lost sync; TCP gives no way to find the
    next header, so the decoder drops everything buffered and raises :class:`DlmsFramingError`.
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Number of bytes waiting for the rest of a frame."""
        return len(self._buffer)

    def needed(self) -> int:
        """Return how many more bytes complete the current frame (at least 1)."""
        buf = self._buffer
        if len(buf) < WRAPPER_HEADER_SIZE:
            return WRAPPER_HEADER_SIZE - len(buf)
        total = WRAPPER_HEADER_SIZE + int.from_bytes(buf[6:8], "big")
        return max(1, total - len(buf))

    def frames(self) -> Iterator[WrapperFrame]:
        """Yield every complete frame; errors propagate."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def next_frame(self) -> WrapperFrame | None:
        """Return the next frame, None if incomplete; raise on a malformed header."""
        buf = self._buffer
        if len(buf) < 2:  # noqa: PLR2004
            return None
        version = int.from_bytes(buf[0:2], "big")
        if version != WRAPPER_VERSION:
            snippet = bytes(buf[:WRAPPER_HEADER_SIZE])
            buf.clear()
            msg = f"wrapper version is 0x{version:04X}, expected 0x0001"
            raise DlmsFramingError(msg, snippet=snippet)
        if len(buf) < WRAPPER_HEADER_SIZE:
            return None
        length = int.from_bytes(buf[6:8], "big")
        if len(buf) < WRAPPER_HEADER_SIZE + length:
            return None
        frame = WrapperFrame(
            source=int.from_bytes(buf[2:4], "big"),
            destination=int.from_bytes(buf[4:6], "big"),
            payload=bytes(buf[WRAPPER_HEADER_SIZE : WRAPPER_HEADER_SIZE + length]),
        )
        del buf[: WRAPPER_HEADER_SIZE + length]
        return frame
