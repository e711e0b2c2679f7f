"""IEC 104 points and point-list import: good rows, one named error per bad row."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st
import pytest

from custom_components.meterlink.protocols.iec104.errors import (
    Iec104PointError,
    Iec104PointListError,
)
from custom_components.meterlink.protocols.iec104.models import TypeId
from custom_components.meterlink.protocols.iec104.pointlist import (
    Iec104Point,
    parse_iec104_point_list_csv,
    parse_iec104_point_list_json,
)

GOOD = """\
key,common_address,ioa,type,select_before_operate,scale,offset,name,unit
power,1,11,float,,1000,,Active power,W
voltage,1,12,M_ME_TF_1,,,,Voltage,V
breaker,1,22,double,,,,Breaker,
energy,1,31,15,,0.001,,Energy,kWh
breaker_cmd,1,103,double_command,yes,,,Breaker command,
limit,2,111,setpoint_float,no,,,Export limit,W
"""


def test_good_csv():
    result = parse_iec104_point_list_csv(GOOD)
    assert result.errors == ()
    power, voltage, breaker, energy, command, limit = result.points
    assert (power.type_id, power.scale) == (TypeId.M_ME_NC_1, 1000)
    assert voltage.type_id is TypeId.M_ME_NC_1  # the timed variant maps to its base type
    assert breaker.type_id is TypeId.M_DP_NA_1
    assert energy.type_id is TypeId.M_IT_NA_1
    assert (command.type_id, command.select_before_operate) == (TypeId.C_DC_NA_1, True)
    assert (limit.common_address, limit.is_command) == (2, True)
    assert result.rows[0].extra == {"name": "Active power", "unit": "W"}
    assert voltage.accepts(TypeId.M_ME_TF_1, 1, 12)
    assert voltage.accepts(TypeId.M_ME_NC_1, 1, 12)
    assert not voltage.accepts(TypeId.M_ME_NB_1, 1, 12)
    assert not voltage.accepts(TypeId.M_ME_NC_1, 2, 12)


BAD = """\
key,common_address,ioa,type,select_before_operate,scale
ok,1,1,single,,
no_type,1,2,,,
bad_type,1,3,M_XX_NA_1,,
system,1,4,C_IC_NA_1,,
big_ioa,1,16777216,float,,
ca_zero,0,5,float,,
sbo_on_measure,1,6,float,yes,
sbo_word,1,7,single_command,perhaps,
zero_scale,1,8,float,,0
ok,1,9,float,,
same_ioa,1,1,double,,
"""


def test_bad_csv_names_line_and_field():
    result = parse_iec104_point_list_csv(BAD)
    assert [p.key for p in result.points] == ["ok"]
    assert [(e.line, e.field) for e in result.errors] == [
        (3, "type"),
        (4, "type"),
        (5, "type"),
        (6, "ioa"),
        (7, "common_address"),
        (8, "select_before_operate"),
        (9, "select_before_operate"),
        (10, "scale"),
        (11, "key"),
        (12, "ioa"),
    ]
    assert str(result.errors[-1]) == "line 12, field 'ioa': IOA 1 of station 1 is already 'ok'"
    assert "'m_xx_na_1' is not one of" in str(result.errors[1])


def test_default_common_address_and_json():
    text = json.dumps([{"key": "p", "ioa": 11, "type": "scaled"}, {"key": "q", "ioa": "x"}])
    result = parse_iec104_point_list_json(text, default_common_address=4)
    assert result.points[0].common_address == 4
    assert [(e.line, e.field) for e in result.errors] == [(2, "ioa")]
    assert str(result.errors[0]).startswith("item 2, field 'ioa'")
    missing = parse_iec104_point_list_csv("key,ioa,type\np,1,float\n")
    assert [(e.line, e.field) for e in missing.errors] == [(2, "common_address")]


def test_point_model_checks():
    with pytest.raises(Iec104PointError, match="system type") as err:
        Iec104Point(key="x", common_address=1, ioa=1, type_id=TypeId.C_RD_NA_1)
    assert err.value.field == "type"
    with pytest.raises(Iec104PointError, match="offset must be finite"):
        Iec104Point(key="x", common_address=1, ioa=1, type_id=TypeId.M_SP_NA_1, offset=float("inf"))


@given(st.text(max_size=200))
def test_csv_never_raises_untyped(text):
    result = parse_iec104_point_list_csv(text, default_common_address=1)
    assert all(isinstance(e, Iec104PointListError) for e in result.errors)
