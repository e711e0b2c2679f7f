"""CRC-16/X.25 as used for the HDLC HCS and FCS fields (IEC 62056-46 clause 6.4.4.8)."""

from __future__ import annotations

# IEC 62056-46 / ISO/IEC 13239: reflected polynomial 0x8408 (x^16+x^12+x^5+1), init 0xFFFF,
# final XOR 0xFFFF; check value of b"123456789" is 0x906E.
_POLY_REFLECTED = 0x8408


def _make_table() -> tuple[int, ...]:
    """Build the byte-wise lookup table for the reflected polynomial."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """Return the CRC-16/X.25 of ``data`` as an integer (sent least significant byte first)."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc16_x25_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """Return the CRC-16/X.25 of ``data`` as the two bytes that go on the wire."""
    return crc16_x25(data).to_bytes(2, "little")
