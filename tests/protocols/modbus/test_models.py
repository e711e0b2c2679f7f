"""Point model validation: every bad field is named."""

from __future__ import annotations

import pytest

from custom_components.meterlink.protocols.modbus.errors import ModbusPointError
from custom_components.meterlink.protocols.modbus.models import DataType, ModbusPoint, Table


def make(**kw: object) -> ModbusPoint:
    """A valid holding-register uint16 point with overrides."""
    fields: dict[str, object] = {
        "key": "p",
        "unit_id": 1,
        "table": Table.HOLDING_REGISTER,
        "address": 0,
        "data_type": DataType.UINT16,
    }
    fields.update(kw)
    return ModbusPoint(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"key": ""}, "key", "empty"),
        ({"unit_id": 256}, "unit_id", "unit_id 256"),
        ({"unit_id": -1}, "unit_id", "unit_id -1"),
        ({"address": 65536}, "address", "address 65536"),
        ({"address": 65535, "data_type": DataType.INT32}, "count", "runs past"),
        ({"table": Table.COIL}, "data_type", "must be bit"),
        ({"table": Table.COIL, "data_type": DataType.BIT, "count": 2}, "count", "count 1"),
        ({"table": Table.COIL, "data_type": DataType.BIT, "bit": 1}, "bit", "register tables"),
        ({"data_type": DataType.BIT}, "bit", "needs bit 0..15"),
        ({"data_type": DataType.BIT, "bit": 16}, "bit", "not 16"),
        ({"data_type": DataType.BIT, "bit": 1, "count": 2}, "count", "count 1"),
        ({"bit": 2}, "bit", "only used with data_type bit"),
        ({"data_type": DataType.STRING}, "count", "string needs count"),
        ({"data_type": DataType.STRING, "count": 126}, "count", "not 126"),
        ({"data_type": DataType.FLOAT32, "count": 4}, "count", "occupies 2"),
        ({"scale": 0}, "scale", "non-zero"),
        ({"scale": float("nan")}, "scale", "finite"),
        ({"offset": float("inf")}, "offset", "finite"),
        ({"precision": 16}, "precision", "precision 16"),
    ],
)
def test_invalid_points_name_the_field(overrides, field, message):
    with pytest.raises(ModbusPointError, match=message) as err:
        make(**overrides)
    assert err.value.field == field


def test_sizes():
    assert make(data_type=DataType.FLOAT64).register_count == 4
    assert make(data_type=DataType.STRING, count=10).end == 10
    assert make(data_type=DataType.BIT, bit=0).register_count == 1
    assert make(data_type=DataType.INT32, count=2, address=65534).end == 65536
    assert Table.COIL.writable
    assert not Table.INPUT_REGISTER.writable
