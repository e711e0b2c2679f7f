"""Pure conversion between Modbus registers/bits and point values (no I/O)."""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

from .errors import ModbusValueError
from .models import ByteOrder, DataType, ModbusPoint, PointValue, WordOrder

if TYPE_CHECKING:
    from collections.abc import Sequence

_STRUCT = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}
_REGISTER_MAX = 0xFFFF


def registers_to_bytes(
    registers: Sequence[int], *, byte_order: ByteOrder, word_order: WordOrder
) -> bytes:
    """Arrange registers into one big-endian byte string according to the point's orders."""
    words = list(registers)
    if word_order is WordOrder.LITTLE:
        words.reverse()
    out = bytearray()
    for word in words:
        pair = word.to_bytes(2, "big")
        out += pair[::-1] if byte_order is ByteOrder.LITTLE else pair
    return bytes(out)


def bytes_to_registers(data: bytes, *, byte_order: ByteOrder, word_order: WordOrder) -> list[int]:
    """Inverse of :func:`registers_to_bytes` for an even number of bytes."""
    words = []
    for index in range(0, len(data), 2):
        pair = data[index : index + 2]
        if byte_order is ByteOrder.LITTLE:
            pair = pair[::-1]
        words.append(int.from_bytes(pair, "big"))
    if word_order is WordOrder.LITTLE:
        words.reverse()
    return words


def _scaled(point: ModbusPoint, raw: float) -> PointValue:
    """Apply scale, offset and precision; keep integers integral when nothing changes them."""
    if point.scale == 1 and point.offset == 0 and isinstance(raw, int):
        return raw if point.precision is None else round(float(raw), point.precision)
    value = raw * point.scale + point.offset
    if point.precision is not None and math.isfinite(value):
        return round(value, point.precision)
    return value


def decode_registers(point: ModbusPoint, registers: Sequence[int]) -> PointValue:
    """Decode a point's value from exactly its registers."""
    if len(registers) != point.register_count:
        msg = f"point {point.key!r} needs {point.register_count} register(s), got {len(registers)}"
        raise ModbusValueError(msg, point=point.key)
    for word in registers:
        if not 0 <= word <= _REGISTER_MAX:
            msg = f"point {point.key!r}: register value {word} is outside 0..65535"
            raise ModbusValueError(msg, point=point.key)
    if point.data_type is DataType.BIT:
        return bool((registers[0] >> (point.bit or 0)) & 1)
    if point.data_type is DataType.STRING:
        data = registers_to_bytes(registers, byte_order=point.byte_order, word_order=WordOrder.BIG)
        return data.split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")
    data = registers_to_bytes(registers, byte_order=point.byte_order, word_order=point.word_order)
    raw: int | float = struct.unpack(_STRUCT[point.data_type], data)[0]
    return _scaled(point, raw)


def _raw_number(point: ModbusPoint, value: PointValue) -> int | float:
    """Undo scale and offset, checking the result fits the data type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"point {point.key!r} ({point.data_type}) needs a number, not {value!r}"
        raise ModbusValueError(msg, point=point.key)
    raw = (value - point.offset) / point.scale if (point.scale, point.offset) != (1, 0) else value
    if point.data_type.is_integer:
        if not math.isfinite(raw):
            msg = f"point {point.key!r}: {value!r} is not a finite number"
            raise ModbusValueError(msg, point=point.key)
        integral = round(raw)
        low, high = point.data_type.int_range
        if not low <= integral <= high:
            msg = (
                f"point {point.key!r}: {value!r} gives raw {integral}, outside "
                f"{point.data_type} range {low}..{high}"
            )
            raise ModbusValueError(msg, point=point.key)
        return integral
    if point.data_type is DataType.FLOAT32 and math.isfinite(raw):
        try:
            struct.pack(">f", raw)
        except OverflowError as err:
            msg = f"point {point.key!r}: {value!r} does not fit a float32"
            raise ModbusValueError(msg, point=point.key) from err
    return float(raw)


def encode_value(point: ModbusPoint, value: PointValue, *, current: int | None = None) -> list[int]:
    """Encode a value into the registers of a register point.

    For a bit inside a register the register's ``current`` content is required; the other
    15 bits are kept.
    """
    if point.table.is_bit_table:
        msg = f"point {point.key!r} is a {point.table}; use encode_bit"
        raise ModbusValueError(msg, point=point.key)
    if point.data_type is DataType.BIT:
        if current is None:
            msg = f"point {point.key!r}: writing bit {point.bit} needs the current register"
            raise ModbusValueError(msg, point=point.key)
        mask = 1 << (point.bit or 0)
        return [(current | mask) if encode_bit(point, value) else (current & ~mask & 0xFFFF)]
    if point.data_type is DataType.STRING:
        if not isinstance(value, str):
            msg = f"point {point.key!r} (string) needs text, not {value!r}"
            raise ModbusValueError(msg, point=point.key)
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError as err:
            msg = f"point {point.key!r}: {value!r} has characters outside Latin-1"
            raise ModbusValueError(msg, point=point.key) from err
        size = 2 * point.register_count
        if len(data) > size:
            msg = f"point {point.key!r}: {len(data)} characters do not fit {size}"
            raise ModbusValueError(msg, point=point.key)
        return bytes_to_registers(
            data.ljust(size, b"\x00"), byte_order=point.byte_order, word_order=WordOrder.BIG
        )
    raw = _raw_number(point, value)
    data = struct.pack(_STRUCT[point.data_type], raw)
    return bytes_to_registers(data, byte_order=point.byte_order, word_order=point.word_order)


def encode_bit(point: ModbusPoint, value: PointValue) -> bool:
    """Turn a value for a bit point into True/False, accepting bools and 0/1."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    msg = f"point {point.key!r} (bit) needs true/false or 0/1, not {value!r}"
    raise ModbusValueError(msg, point=point.key)
