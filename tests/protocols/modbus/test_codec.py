"""Register codec: known vectors, every type and order, round trips, pymodbus as an oracle."""

from __future__ import annotations

import math
import struct

from hypothesis import given, strategies as st
from pymodbus.client import ModbusTcpClient
import pytest

from custom_components.meterlink.protocols.modbus.codec import (
    bytes_to_registers,
    encode_bit,
    encode_value,
    registers_to_bytes,
)
from custom_components.meterlink.protocols.modbus.errors import ModbusValueError
from custom_components.meterlink.protocols.modbus.models import (
    ByteOrder,
    DataType,
    ModbusPoint,
    Table,
    WordOrder,
)
from custom_components.meterlink.protocols.modbus.planner import ReadRequest, decode_block


def point(data_type: DataType, **kwargs: object) -> ModbusPoint:
    """Build a holding-register point with defaults."""
    fields: dict[str, object] = {
        "key": "p",
        "unit_id": 1,
        "table": Table.HOLDING_REGISTER,
        "address": 0,
        "data_type": data_type,
    }
    fields.update(kwargs)
    return ModbusPoint(**fields)  # type: ignore[arg-type]


def decode(p: ModbusPoint, registers: list[int]) -> object:
    """Decode through decode_block as the client does."""
    request = ReadRequest(
        unit_id=p.unit_id, table=p.table, address=p.address, count=p.register_count, points=(p,)
    )
    return decode_block(request, registers)[p.key]


# float32 123.5 = 0x42F70000 (IEEE 754), the register pair pymodbus' docs also use.
@pytest.mark.parametrize(
    ("byte_order", "word_order", "registers"),
    [
        (ByteOrder.BIG, WordOrder.BIG, [0x42F7, 0x0000]),  # ABCD
        (ByteOrder.BIG, WordOrder.LITTLE, [0x0000, 0x42F7]),  # CDAB
        (ByteOrder.LITTLE, WordOrder.BIG, [0xF742, 0x0000]),  # BADC
        (ByteOrder.LITTLE, WordOrder.LITTLE, [0x0000, 0xF742]),  # DCBA
    ],
)
def test_float32_all_orders(byte_order, word_order, registers):
    p = point(DataType.FLOAT32, byte_order=byte_order, word_order=word_order)
    assert decode(p, registers) == 123.5
    assert encode_value(p, 123.5) == registers


@pytest.mark.parametrize(
    ("data_type", "registers", "value"),
    [
        (DataType.INT16, [0xFFFF], -1),
        (DataType.UINT16, [0xFFFF], 65535),
        (DataType.INT16, [0x8000], -32768),
        (DataType.INT32, [0xFFFF, 0xFFFE], -2),
        (DataType.UINT32, [0x0001, 0x0000], 65536),
        (DataType.INT64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], -1),
        (DataType.UINT64, [0x0001, 0, 0, 0], 2**48),
        (DataType.FLOAT64, [0x3FF0, 0, 0, 0], 1.0),
        (DataType.FLOAT64, [0xC000, 0, 0, 0], -2.0),
    ],
)
def test_known_vectors(data_type, registers, value):
    p = point(data_type)
    decoded = decode(p, registers)
    assert decoded == value
    assert type(decoded) is type(value)
    assert encode_value(p, value) == registers


def test_int32_word_swapped():
    p = point(DataType.INT32, word_order=WordOrder.LITTLE)
    assert decode(p, [0x5678, 0x1234]) == 0x12345678
    assert encode_value(p, 0x12345678) == [0x5678, 0x1234]


def test_scale_offset_precision():
    p = point(DataType.INT16, scale=0.1, offset=-40.0, precision=1)
    assert decode(p, [652]) == 25.2
    assert encode_value(p, 25.2) == [652]
    q = point(DataType.UINT16, precision=2)
    assert decode(q, [7]) == 7.0
    r = point(DataType.UINT32, scale=10)
    assert decode(r, [0, 3]) == 30


def test_string_and_byte_swapped_string():
    p = point(DataType.STRING, count=3)
    assert decode(p, [0x4142, 0x4300, 0x0000]) == "ABC"
    assert encode_value(p, "ABC") == [0x4142, 0x4300, 0x0000]
    q = point(DataType.STRING, count=2, byte_order=ByteOrder.LITTLE)
    assert decode(q, [0x4241, 0x2044]) == "ABD"
    assert decode(point(DataType.STRING, count=2), [0x4142, 0x2020]) == "AB"


def test_string_errors():
    p = point(DataType.STRING, count=1)
    with pytest.raises(ModbusValueError, match="3 characters do not fit 2"):
        encode_value(p, "abc")
    with pytest.raises(ModbusValueError, match="outside Latin-1"):
        encode_value(p, "€")
    with pytest.raises(ModbusValueError, match="needs text"):
        encode_value(p, 5)


def test_bit_in_register_read_and_modify():
    p = point(DataType.BIT, bit=3)
    assert decode(p, [0b1000]) is True
    assert decode(p, [0b0111]) is False
    assert encode_value(p, True, current=0xF000) == [0xF008]
    assert encode_value(p, False, current=0xFFFF) == [0xFFF7]
    with pytest.raises(ModbusValueError, match="needs the current register"):
        encode_value(p, True)


def test_encode_bit_accepts_bool_and_01():
    p = ModbusPoint(key="c", unit_id=1, table=Table.COIL, address=0, data_type=DataType.BIT)
    assert encode_bit(p, 1) is True
    assert encode_bit(p, 0.0) is False
    with pytest.raises(ModbusValueError, match="true/false"):
        encode_bit(p, 2)
    with pytest.raises(ModbusValueError, match="use encode_bit"):
        encode_value(p, True)


@pytest.mark.parametrize(
    ("data_type", "value", "message"),
    [
        (DataType.INT16, 32768, "outside int16 range"),
        (DataType.UINT16, -1, "outside uint16 range"),
        (DataType.UINT64, 2**64, "outside uint64 range"),
        (DataType.INT32, math.inf, "not a finite number"),
        (DataType.FLOAT32, 1e39, "does not fit a float32"),
        (DataType.INT16, "12", "needs a number"),
        (DataType.INT16, True, "needs a number"),
    ],
)
def test_encode_rejects(data_type, value, message):
    p = point(data_type)
    with pytest.raises(ModbusValueError, match=message) as err:
        encode_value(p, value)
    assert err.value.point == "p"


def test_scaled_encode_range_is_checked_on_raw():
    p = point(DataType.INT16, scale=0.01)
    assert encode_value(p, 327.67) == [32767]
    with pytest.raises(ModbusValueError, match="raw 32768"):
        encode_value(p, 327.68)


def test_decode_wrong_register_count_and_range():
    p = point(DataType.INT32)
    request = ReadRequest(unit_id=1, table=p.table, address=0, count=2, points=(p,))
    with pytest.raises(ModbusValueError, match="does not reach address 0"):
        decode_block(request, [1])
    with pytest.raises(ModbusValueError, match=r"outside 0\.\.65535"):
        decode_block(request, [1, 70000])


ORDERS = st.sampled_from(list(ByteOrder)), st.sampled_from(list(WordOrder))
NUMERIC = [t for t in DataType if t.fixed_registers]


@given(
    data_type=st.sampled_from(NUMERIC),
    byte_order=ORDERS[0],
    word_order=ORDERS[1],
    words=st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
)
def test_registers_round_trip(data_type, byte_order, word_order, words):
    p = point(data_type, byte_order=byte_order, word_order=word_order)
    registers = words[: p.register_count]
    value = decode(p, registers)
    if isinstance(value, float) and math.isnan(value):
        return  # NaN payloads are not unique
    assert encode_value(p, value) == registers


@given(words=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=8))
def test_byte_helpers_are_inverse(words):
    for byte_order in ByteOrder:
        for word_order in WordOrder:
            data = registers_to_bytes(words, byte_order=byte_order, word_order=word_order)
            assert bytes_to_registers(data, byte_order=byte_order, word_order=word_order) == words


PYMODBUS_TYPES = {
    DataType.INT16: ModbusTcpClient.DATATYPE.INT16,
    DataType.UINT16: ModbusTcpClient.DATATYPE.UINT16,
    DataType.INT32: ModbusTcpClient.DATATYPE.INT32,
    DataType.UINT32: ModbusTcpClient.DATATYPE.UINT32,
    DataType.INT64: ModbusTcpClient.DATATYPE.INT64,
    DataType.UINT64: ModbusTcpClient.DATATYPE.UINT64,
    DataType.FLOAT32: ModbusTcpClient.DATATYPE.FLOAT32,
    DataType.FLOAT64: ModbusTcpClient.DATATYPE.FLOAT64,
}


@given(
    data_type=st.sampled_from(NUMERIC),
    word_order=ORDERS[1],
    words=st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
)
def test_agrees_with_pymodbus_convert(data_type, word_order, words):
    p = point(data_type, word_order=word_order)
    registers = words[: p.register_count]
    ours = decode(p, registers)
    theirs = ModbusTcpClient.convert_from_registers(
        registers, PYMODBUS_TYPES[data_type], word_order=word_order.value
    )
    if isinstance(ours, float) and math.isnan(ours):
        assert math.isnan(float(theirs))  # type: ignore[arg-type]
    elif data_type is DataType.FLOAT32:
        assert ours == struct.unpack(">f", struct.pack(">f", float(theirs)))[0]  # type: ignore[arg-type]
    else:
        assert ours == theirs


@given(value=st.integers(-(2**31), 2**31 - 1), scale=st.sampled_from([1, 0.5, 2, 0.001]))
def test_scaled_int_round_trip(value, scale):
    p = point(DataType.INT32, scale=scale)
    raw = encode_value(p, value * scale)
    assert raw == encode_value(point(DataType.INT32), value)
