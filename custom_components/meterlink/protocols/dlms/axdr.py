"""Sans-I/O A-XDR coding of COSEM ``Data`` (IEC 62056-6-2 / DLMS Green Book clause 9.5)."""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from enum import IntEnum
import struct

from .errors import DlmsDataError, DlmsUnsupportedError

_MAX_DEPTH = 16
# Blue Book 4.1.6.1: deviation 0x8000 means "not specified".
_DEVIATION_UNSPECIFIED = -0x8000


class DataTag(IntEnum):
    """Data CHOICE tags (Green Book, Data ::= CHOICE)."""

    NULL = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27


# Fixed-size integer types: (size, signed).
_INTS: dict[DataTag, tuple[int, bool]] = {
    DataTag.DOUBLE_LONG: (4, True),
    DataTag.DOUBLE_LONG_UNSIGNED: (4, False),
    DataTag.BCD: (1, False),
    DataTag.INTEGER: (1, True),
    DataTag.LONG: (2, True),
    DataTag.UNSIGNED: (1, False),
    DataTag.LONG_UNSIGNED: (2, False),
    DataTag.LONG64: (8, True),
    DataTag.LONG64_UNSIGNED: (8, False),
    DataTag.ENUM: (1, False),
}
_FIXED_BYTES = {DataTag.DATE_TIME: 12, DataTag.DATE: 5, DataTag.TIME: 4}
_INTEGER_TAGS = frozenset(_INTS)

type DataValue = bool | int | float | str | bytes | CosemDateTime | tuple[DataItem, ...] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CosemDateTime:
    """A COSEM date-time (Blue Book 4.1.6.1); None marks "not specified" fields."""

    year: int | None
    month: int | None
    day: int | None
    weekday: int | None
    hour: int | None
    minute: int | None
    second: int | None
    hundredths: int | None
    deviation_min: int | None
    clock_status: int | None

    @classmethod
    def from_bytes(cls, raw: bytes) -> CosemDateTime:
        """Decode the 12-byte octet-string form."""
        if len(raw) != 12:  # noqa: PLR2004
            msg = f"COSEM date-time is {len(raw)} bytes, expected 12"
            raise DlmsDataError(msg, snippet=raw[:16])
        year = int.from_bytes(raw[0:2], "big")
        deviation = int.from_bytes(raw[9:11], "big", signed=True)

        def field(value: int, unspecified: int = 0xFF) -> int | None:
            """Map the not-specified marker to None."""
            return None if value == unspecified else value

        return cls(
            year=None if year == 0xFFFF else year,  # noqa: PLR2004
            month=field(raw[2]),
            day=field(raw[3]),
            weekday=field(raw[4]),
            hour=field(raw[5]),
            minute=field(raw[6]),
            second=field(raw[7]),
            hundredths=field(raw[8]),
            deviation_min=None if deviation == _DEVIATION_UNSPECIFIED else deviation,
            clock_status=field(raw[11]),
        )

    @classmethod
    def from_datetime(
        cls, value: dt.datetime, *, deviation_min: int | None = None, clock_status: int = 0
    ) -> CosemDateTime:
        """Build from a Python datetime (naive local time of the meter)."""
        return cls(
            year=value.year,
            month=value.month,
            day=value.day,
            weekday=value.isoweekday(),
            hour=value.hour,
            minute=value.minute,
            second=value.second,
            hundredths=value.microsecond // 10000,
            deviation_min=deviation_min,
            clock_status=clock_status,
        )

    def to_bytes(self) -> bytes:
        """Encode the 12-byte octet-string form."""

        def field(value: int | None) -> int:
            """Map None to the not-specified marker."""
            return 0xFF if value is None else value

        deviation = _DEVIATION_UNSPECIFIED if self.deviation_min is None else self.deviation_min
        return (
            (0xFFFF if self.year is None else self.year).to_bytes(2, "big")
            + bytes(
                field(value)
                for value in (
                    self.month,
                    self.day,
                    self.weekday,
                    self.hour,
                    self.minute,
                    self.second,
                    self.hundredths,
                )
            )
            + deviation.to_bytes(2, "big", signed=True)
            + bytes((field(self.clock_status),))
        )

    def to_datetime(self) -> dt.datetime | None:
        """Return a naive datetime, or None when date or time fields are unspecified."""
        parts = (self.year, self.month, self.day, self.hour, self.minute)
        if any(part is None for part in parts):
            return None
        try:
            return dt.datetime(  # noqa: DTZ001 - meter local time; deviation kept separately
                self.year or 0,
                self.month or 0,
                self.day or 0,
                self.hour or 0,
                self.minute or 0,
                self.second or 0,
                (self.hundredths or 0) * 10000 if (self.hundredths or 0) < 100 else 0,  # noqa: PLR2004
            )
        except ValueError:
            return None


@dataclass(frozen=True, kw_only=True, slots=True)
class DataItem:
    """One decoded COSEM Data value with its type tag."""

    tag: DataTag
    value: DataValue

    @property
    def children(self) -> tuple[DataItem, ...]:
        """Elements of an array or structure (empty for simple types)."""
        if isinstance(self.value, tuple):
            return self.value
        return ()

    @property
    def is_obis(self) -> bool:
        """True for a 6-byte octet-string, the way logical names are sent."""
        return (
            self.tag is DataTag.OCTET_STRING
            and isinstance(self.value, bytes)
            and len(self.value) == 6  # noqa: PLR2004
        )

    @property
    def is_integer(self) -> bool:
        """True for integer types (including enum and BCD)."""
        return self.tag in _INTEGER_TAGS


def decode_length(data: bytes, offset: int) -> tuple[int, int]:
    """Decode an A-XDR/BER length at ``offset``; return (length, next offset)."""
    if offset >= len(data):
        msg = f"length byte missing at offset {offset}"
        raise DlmsDataError(msg, snippet=data[-8:])
    first = data[offset]
    if first < 0x80:  # noqa: PLR2004
        return first, offset + 1
    count = first & 0x7F
    if not 1 <= count <= 4:  # noqa: PLR2004
        msg = f"length at offset {offset} uses {count} length bytes (1..4 allowed)"
        raise DlmsDataError(msg, snippet=data[offset : offset + 6])
    end = offset + 1 + count
    if end > len(data):
        msg = f"length at offset {offset} is cut off"
        raise DlmsDataError(msg, snippet=data[offset:end])
    return int.from_bytes(data[offset + 1 : end], "big"), end


def encode_length(length: int) -> bytes:
    """Encode an A-XDR/BER length."""
    if length < 0x80:  # noqa: PLR2004
        return bytes((length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    """Return ``size`` bytes at ``offset`` or raise naming what was cut off."""
    end = offset + size
    if end > len(data):
        msg = f"{what} at offset {offset} needs {size} bytes, {len(data) - offset} left"
        raise DlmsDataError(msg, snippet=data[offset : offset + 16])
    return data[offset:end]


def decode_data(data: bytes, offset: int = 0, depth: int = 0) -> tuple[DataItem, int]:  # noqa: C901, PLR0911, PLR0912, PLR0915
    """Decode one Data item at ``offset``; return it and the offset after it."""
    if depth > _MAX_DEPTH:
        msg = f"Data nested deeper than {_MAX_DEPTH} levels"
        raise DlmsDataError(msg, snippet=data[offset : offset + 8])
    if offset >= len(data):
        msg = f"Data tag missing at offset {offset}"
        raise DlmsDataError(msg, snippet=data[-8:])
    raw_tag = data[offset]
    try:
        tag = DataTag(raw_tag)
    except ValueError:
        msg = f"unknown Data tag 0x{raw_tag:02X} at offset {offset}"
        raise DlmsDataError(msg, snippet=data[offset : offset + 8]) from None
    pos = offset + 1
    if tag is DataTag.NULL:
        return DataItem(tag=tag, value=None), pos
    if tag in (DataTag.ARRAY, DataTag.STRUCTURE):
        count, pos = decode_length(data, pos)
        if count > len(data) - pos:
            msg = f"{tag.name.lower()} at offset {offset} claims {count} elements"
            raise DlmsDataError(msg, snippet=data[offset : offset + 8])
        items = []
        for _ in range(count):
            item, pos = decode_data(data, pos, depth + 1)
            items.append(item)
        return DataItem(tag=tag, value=tuple(items)), pos
    if tag is DataTag.BOOLEAN:
        raw = _take(data, pos, 1, "boolean")
        return DataItem(tag=tag, value=raw[0] != 0), pos + 1
    if tag in _INTS:
        size, signed = _INTS[tag]
        raw = _take(data, pos, size, tag.name.lower())
        return DataItem(tag=tag, value=int.from_bytes(raw, "big", signed=signed)), pos + size
    if tag is DataTag.FLOAT32:
        raw = _take(data, pos, 4, "float32")
        return DataItem(tag=tag, value=struct.unpack(">f", raw)[0]), pos + 4
    if tag is DataTag.FLOAT64:
        raw = _take(data, pos, 8, "float64")
        return DataItem(tag=tag, value=struct.unpack(">d", raw)[0]), pos + 8
    if tag in _FIXED_BYTES:
        size = _FIXED_BYTES[tag]
        raw = _take(data, pos, size, tag.name.lower())
        value: DataValue = CosemDateTime.from_bytes(raw) if tag is DataTag.DATE_TIME else raw
        return DataItem(tag=tag, value=value), pos + size
    if tag is DataTag.BIT_STRING:
        bits, pos = decode_length(data, pos)
        size = (bits + 7) // 8
        raw = _take(data, pos, size, "bit-string")
        return DataItem(tag=tag, value=raw), pos + size
    if tag in (DataTag.OCTET_STRING, DataTag.VISIBLE_STRING, DataTag.UTF8_STRING):
        size, pos = decode_length(data, pos)
        raw = _take(data, pos, size, tag.name.lower())
        if tag is DataTag.OCTET_STRING:
            return DataItem(tag=tag, value=raw), pos + size
        try:
            text = raw.decode("utf-8" if tag is DataTag.UTF8_STRING else "latin-1")
        except UnicodeDecodeError as err:
            msg = f"utf8-string at offset {offset} is not valid UTF-8"
            raise DlmsDataError(msg, snippet=raw[:16]) from err
        return DataItem(tag=tag, value=text), pos + size
    msg = f"Data type {tag.name.lower()} (tag {raw_tag}) is not supported"
    raise DlmsUnsupportedError(msg, snippet=data[offset : offset + 8])


def decode_data_exact(data: bytes) -> DataItem:
    """Decode a buffer that must hold exactly one Data item."""
    item, end = decode_data(bytes(data))
    if end != len(data):
        msg = f"{len(data) - end} byte(s) left after the Data item"
        raise DlmsDataError(msg, snippet=bytes(data[end : end + 16]))
    return item


def encode_data(item: DataItem) -> bytes:  # noqa: C901, PLR0911
    """Encode one Data item (used by tests and the simulator)."""
    tag, value = item.tag, item.value
    head = bytes((tag,))
    if tag is DataTag.NULL:
        return head
    if tag in (DataTag.ARRAY, DataTag.STRUCTURE) and isinstance(value, tuple):
        return head + encode_length(len(value)) + b"".join(encode_data(i) for i in value)
    if tag is DataTag.BOOLEAN:
        return head + (b"\x01" if value else b"\x00")
    if tag in _INTS and isinstance(value, int):
        size, signed = _INTS[tag]
        return head + value.to_bytes(size, "big", signed=signed)
    if tag is DataTag.FLOAT32 and isinstance(value, float | int):
        return head + struct.pack(">f", value)
    if tag is DataTag.FLOAT64 and isinstance(value, float | int):
        return head + struct.pack(">d", value)
    if tag is DataTag.DATE_TIME and isinstance(value, CosemDateTime):
        return head + value.to_bytes()
    if tag in _FIXED_BYTES and isinstance(value, bytes) and len(value) == _FIXED_BYTES[tag]:
        return head + value
    if tag is DataTag.OCTET_STRING and isinstance(value, bytes):
        return head + encode_length(len(value)) + value
    if tag in (DataTag.VISIBLE_STRING, DataTag.UTF8_STRING) and isinstance(value, str):
        raw = value.encode("utf-8" if tag is DataTag.UTF8_STRING else "latin-1")
        return head + encode_length(len(raw)) + raw
    if tag is DataTag.BIT_STRING and isinstance(value, bytes):
        return head + encode_length(len(value) * 8) + value
    msg = f"cannot encode {type(value).__name__} as {tag.name.lower()}"
    raise DlmsDataError(msg)


def obis_to_str(raw: bytes) -> str:
    """Format a 6-byte logical name as ``A.B.C.D.E.F``."""
    if len(raw) != 6:  # noqa: PLR2004
        msg = f"logical name is {len(raw)} bytes, expected 6"
        raise DlmsDataError(msg, snippet=raw[:8])
    return ".".join(str(byte) for byte in raw)


def obis_from_str(text: str) -> bytes:
    """Parse ``A.B.C.D.E.F`` or ``A-B:C.D.E.F`` (F defaults to 255) into 6 bytes."""
    parts = text.replace("-", ".").replace(":", ".").replace("*", ".").split(".")
    if len(parts) == 5:  # noqa: PLR2004
        parts.append("255")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 6 or not all(0 <= value <= 255 for value in values):  # noqa: PLR2004
        msg = f"OBIS code {text!r} is not six numbers 0..255"
        raise DlmsDataError(msg, snippet=text[:32])
    return bytes(values)


# Blue Book 4.3.2 (enumerated units), names as COSEM writes them; subset used by meters.
COSEM_UNITS: dict[int, str] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    8: "°",
    9: "°C",
    10: "currency",
    11: "m",
    12: "m/s",
    13: "m³",
    14: "m³",
    15: "m³/h",
    16: "m³/h",
    17: "m³/d",
    18: "m³/d",
    19: "l",
    20: "kg",
    21: "N",
    22: "Nm",
    23: "Pa",
    24: "bar",
    25: "J",
    26: "J/h",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    34: "C",
    35: "V",
    36: "V/m",
    37: "F",
    38: "Ω",
    39: "Ωm²/m",
    40: "Wb",
    41: "T",
    42: "A/m",
    43: "H",
    44: "Hz",
    45: "1/(Wh)",
    46: "1/(varh)",
    47: "1/(VAh)",
    48: "V²h",
    49: "A²h",
    50: "kg/s",
    51: "S",
    52: "K",
    53: "1/(V²h)",
    54: "1/(A²h)",
    55: "1/m³",
    56: "%",
    57: "Ah",
}
# Blue Book 4.3.2: 255 = count (unitless), 254 = other unit.
UNIT_COUNT = 255
UNIT_OTHER = 254


def unit_name(code: int | None) -> str | None:
    """Return the unit symbol for a COSEM unit code, None for unitless/unknown."""
    if code is None:
        return None
    return COSEM_UNITS.get(code)
