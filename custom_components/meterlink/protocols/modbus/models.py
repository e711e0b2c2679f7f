"""Modbus point model: where a value lives on the device and how to turn registers into it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math

from .errors import ModbusPointError

MAX_ADDRESS = 0xFFFF  # Modbus Application Protocol V1.1b3, 4.4: 16-bit PDU addresses
MAX_UNIT_ID = 255  # MBAP unit identifier is one byte (Modbus Messaging on TCP/IP V1.0b, 3.1.3)
MAX_BIT = 15  # bits of a 16-bit register are numbered 0 (LSB) .. 15 (MSB)
MAX_PRECISION = 15  # decimals a float64 can meaningfully carry
MAX_STRING_REGISTERS = 125  # longest single read of holding/input registers (MAP V1.1b3, 6.3/6.4)


class Table(StrEnum):
    """The four Modbus data tables (MAP V1.1b3, 4.3 "MODBUS Data model")."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING_REGISTER = "holding_register"
    INPUT_REGISTER = "input_register"

    @property
    def is_bit_table(self) -> bool:
        """Whether the table holds single bits (coils, discrete inputs)."""
        return self in {Table.COIL, Table.DISCRETE_INPUT}

    @property
    def writable(self) -> bool:
        """Whether a master may write the table (coils and holding registers)."""
        return self in {Table.COIL, Table.HOLDING_REGISTER}

    @property
    def read_function_code(self) -> int:
        """Function code reading this table (MAP V1.1b3, 6.1-6.4)."""
        return _READ_FC[self]


_READ_FC = {
    Table.COIL: 1,
    Table.DISCRETE_INPUT: 2,
    Table.HOLDING_REGISTER: 3,
    Table.INPUT_REGISTER: 4,
}


class DataType(StrEnum):
    """How the registers (or bit) of a point are interpreted."""

    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BIT = "bit"

    @property
    def fixed_registers(self) -> int | None:
        """Registers the type occupies, or None for string (given by ``count``) and bit."""
        return _FIXED_REGISTERS.get(self)

    @property
    def is_integer(self) -> bool:
        """Whether raw values of the type are integers."""
        return self in _INT_RANGES

    @property
    def int_range(self) -> tuple[int, int]:
        """Smallest and largest raw value of an integer type."""
        return _INT_RANGES[self]


_FIXED_REGISTERS = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}
_INT_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


class ByteOrder(StrEnum):
    """Order of the two bytes inside each register (Modbus itself is big-endian, MAP 4.2)."""

    BIG = "big"
    LITTLE = "little"


class WordOrder(StrEnum):
    """Order of the registers of a multi-register value: big = most significant first."""

    BIG = "big"
    LITTLE = "little"


type PointValue = int | float | str | bool


@dataclass(frozen=True, kw_only=True, slots=True)
class ModbusPoint:
    """One value on a Modbus device (an "item" under a "term" = unit id).

    ``address`` is the 0-based protocol address. ``count`` is the number of registers of a
    string; for other types it may be left out (or must equal the type's size). ``bit`` picks
    one bit (0 = least significant) of a register for data type ``bit`` on register tables.
    The value is ``raw * scale + offset``, rounded to ``precision`` decimals when given.
    """

    key: str
    unit_id: int
    table: Table
    address: int
    data_type: DataType
    count: int | None = None
    bit: int | None = None
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = None

    def __post_init__(self) -> None:
        """Reject definitions no device could serve, naming the field."""
        if not self.key:
            msg = "key must not be empty"
            raise ModbusPointError(msg, field="key")
        if not 0 <= self.unit_id <= MAX_UNIT_ID:
            msg = f"point {self.key!r}: unit_id {self.unit_id} is outside 0..{MAX_UNIT_ID}"
            raise ModbusPointError(msg, field="unit_id")
        if not 0 <= self.address <= MAX_ADDRESS:
            msg = f"point {self.key!r}: address {self.address} is outside 0..{MAX_ADDRESS}"
            raise ModbusPointError(msg, field="address")
        self._check_type()
        if self.address + self.register_count - 1 > MAX_ADDRESS:
            msg = (
                f"point {self.key!r}: address {self.address} + {self.register_count} "
                f"word(s) runs past {MAX_ADDRESS}"
            )
            raise ModbusPointError(msg, field="count")
        if not math.isfinite(self.scale) or self.scale == 0:
            msg = f"point {self.key!r}: scale must be a finite non-zero number, not {self.scale}"
            raise ModbusPointError(msg, field="scale")
        if not math.isfinite(self.offset):
            msg = f"point {self.key!r}: offset must be finite, not {self.offset}"
            raise ModbusPointError(msg, field="offset")
        if self.precision is not None and not 0 <= self.precision <= MAX_PRECISION:
            msg = f"point {self.key!r}: precision {self.precision} is outside 0..15"
            raise ModbusPointError(msg, field="precision")

    def _check_type(self) -> None:
        """Check data type, count and bit against the table."""
        if self.table.is_bit_table or self.data_type is DataType.BIT:
            self._check_bit()
            return
        if self.bit is not None:
            msg = f"point {self.key!r}: bit is only used with data_type bit"
            raise ModbusPointError(msg, field="bit")
        fixed = self.data_type.fixed_registers
        if fixed is None:  # string
            if self.count is None or not 1 <= self.count <= MAX_STRING_REGISTERS:
                msg = (
                    f"point {self.key!r}: a string needs count 1..{MAX_STRING_REGISTERS} "
                    f"registers, not {self.count}"
                )
                raise ModbusPointError(msg, field="count")
        elif self.count not in (None, fixed):
            msg = (
                f"point {self.key!r}: {self.data_type} occupies {fixed} register(s), "
                f"count {self.count} does not match"
            )
            raise ModbusPointError(msg, field="count")

    def _check_bit(self) -> None:
        """Check a bit point: a coil/discrete input, or one bit of a register."""
        if self.table.is_bit_table:
            if self.data_type is not DataType.BIT:
                msg = (
                    f"point {self.key!r}: table {self.table} holds bits, "
                    f"data_type must be bit, not {self.data_type}"
                )
                raise ModbusPointError(msg, field="data_type")
            if self.count not in (None, 1):
                msg = f"point {self.key!r}: a bit point has count 1, not {self.count}"
                raise ModbusPointError(msg, field="count")
            if self.bit is not None:
                msg = f"point {self.key!r}: bit applies to register tables only"
                raise ModbusPointError(msg, field="bit")
            return
        if self.data_type is DataType.BIT:
            if self.bit is None or not 0 <= self.bit <= MAX_BIT:
                msg = f"point {self.key!r}: a bit in a register needs bit 0..15, not {self.bit}"
                raise ModbusPointError(msg, field="bit")
            if self.count not in (None, 1):
                msg = f"point {self.key!r}: a bit point has count 1, not {self.count}"
                raise ModbusPointError(msg, field="count")

    @property
    def register_count(self) -> int:
        """Registers (or bits, on bit tables) the point occupies."""
        if self.data_type is DataType.BIT:
            return 1
        fixed = self.data_type.fixed_registers
        if fixed is not None:
            return fixed
        return self.count or 1

    @property
    def end(self) -> int:
        """First address after the point."""
        return self.address + self.register_count
