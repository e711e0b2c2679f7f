"""Point-list import from CSV and JSON: good rows, and one named error per bad row."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st
import pytest

from custom_components.meterlink.protocols.modbus.errors import ModbusPointListError
from custom_components.meterlink.protocols.modbus.models import (
    ByteOrder,
    DataType,
    Table,
    WordOrder,
)
from custom_components.meterlink.protocols.modbus.pointlist import (
    parse_point_list_csv,
    parse_point_list_json,
)

GOOD_CSV = """\
key,unit_id,table,address,data_type,count,scale,offset,precision,swap,name,unit
# comment line is skipped
power,1,holding,0x10,float32,,,,,word,Active power,W
energy,1,ir,100,uint64,,0.001,,3,,Energy,kWh

serial,2,4x,200,string,8,,,,,Serial,
relay,2,coil,5,bit,,,,,,Relay,
"""


def test_good_csv():
    result = parse_point_list_csv(GOOD_CSV)
    assert result.errors == ()
    power, energy, serial, relay = result.points
    assert (power.address, power.table, power.word_order) == (
        16,
        Table.HOLDING_REGISTER,
        WordOrder.LITTLE,
    )
    assert (energy.table, energy.scale, energy.precision) == (Table.INPUT_REGISTER, 0.001, 3)
    assert (serial.unit_id, serial.count, serial.data_type) == (2, 8, DataType.STRING)
    assert relay.table is Table.COIL
    assert result.rows[0].extra == {"name": "Active power", "unit": "W"}
    assert [row.line for row in result.rows] == [3, 4, 6, 7]
    result.raise_for_errors()


BAD_CSV = """\
key,unit_id,table,address,data_type,count,bit,byte_order
ok,1,holding,0,int16,,,
bad_table,1,register,0,int16,,,
bad_addr,1,holding,abc,int16,,,
,1,holding,1,int16,,,
bad_type,1,holding,1,int24,,,
no_count,1,holding,1,string,,,
ok,1,holding,2,int16,,,
bad_order,1,holding,3,int16,,,middle
too_many,1,holding,3,int16,,,,extra
bit_missing,1,hr,4,bit,,,
big_addr,1,hr,70000,int16,,,
"""


def test_bad_csv_reports_each_line_and_field():
    result = parse_point_list_csv(BAD_CSV)
    assert [p.key for p in result.points] == ["ok"]
    got = [(e.line, e.field) for e in result.errors]
    assert got == [
        (3, "table"),
        (4, "address"),
        (5, "key"),
        (6, "data_type"),
        (7, "count"),
        (8, "key"),
        (9, "byte_order"),
        (10, None),
        (11, "bit"),
        (12, "address"),
    ]
    messages = [str(e) for e in result.errors]
    assert messages[0].startswith("line 3, field 'table': 'register' is not one of")
    assert "'abc' is not a whole number" in messages[1]
    assert "already used on line 2" in messages[5]
    with pytest.raises(ModbusPointListError, match="line 3"):
        result.raise_for_errors()


def test_csv_header_problems():
    result = parse_point_list_csv("key,table\nx,coil\n")
    assert [(e.line, e.field) for e in result.errors] == [(1, "address")]
    assert "address, data_type" in str(result.errors[0])
    assert parse_point_list_csv("").errors[0].reason.startswith("the file is empty")


def test_default_unit_id():
    text = "key,table,address,data_type\nv,hr,1,int16\n"
    assert parse_point_list_csv(text, default_unit_id=7).points[0].unit_id == 7
    (error,) = parse_point_list_csv(text).errors
    assert (error.line, error.field) == (2, "unit_id")


def test_json_good_and_bad():
    doc = {
        "points": [
            {
                "key": "a",
                "unit_id": 3,
                "table": "input_register",
                "address": 1,
                "data_type": "int32",
                "byte_order": "little",
                "scale": 0.5,
                "device_class": "power",
            },
            {
                "key": "b",
                "unit_id": 3,
                "table": "hr",
                "address": 1,
                "data_type": "float32",
                "scale": "x",
            },
            "not an object",
            {
                "key": "c",
                "unit_id": 3,
                "table": "di",
                "address": 0,
                "data_type": "bit",
                "count": None,
            },
        ]
    }
    result = parse_point_list_json(json.dumps(doc))
    assert [p.key for p in result.points] == ["a", "c"]
    assert result.points[0].byte_order is ByteOrder.LITTLE
    assert result.rows[0].extra == {"device_class": "power"}
    assert [(e.line, e.field) for e in result.errors] == [(2, "scale"), (3, None)]
    assert str(result.errors[0]).startswith("item 2, field 'scale'")


@pytest.mark.parametrize("text", ["{", "42", '{"points": 1}', '"x"'])
def test_json_document_errors(text):
    result = parse_point_list_json(text)
    assert result.points == ()
    assert result.errors[0].line == 1


@given(st.text(max_size=300))
def test_csv_never_raises_untyped(text):
    result = parse_point_list_csv(text)
    assert all(isinstance(e, ModbusPointListError) for e in result.errors)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=5),
        max_leaves=20,
    )
)
def test_json_never_raises_untyped(document):
    result = parse_point_list_json(json.dumps(document))
    assert all(isinstance(e, ModbusPointListError) for e in result.errors)
