"""The term subentry flow: add (with templates), every item step and the bulk import."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import setup_entry
from .scada_helpers import fast_timing, modbus_simulator, scada_entry, term, unload

GOOD_CSV = """# a comment line
key,table,address,data_type,scale,name,unit,device_class,state_class,writable,min,max
voltage,input_register,10,float32,,Voltage,V,voltage,measurement,,0,500
limit,holding_register,30,uint16,0.1,Limit,kW,power,,yes,0,
"""
BAD_CSV = """key,table,address,data_type,count,name,device_class,writable
ok_one,holding_register,40,uint16,,OK one,,
bad_table,register,41,uint16,,,,
bad_address,holding_register,70000,uint16,,,,
no_count,holding_register,42,string,,,,
bad_class,input_register,43,uint16,,,banana,
ro_write,input_register,44,uint16,,,,yes
other_unit,holding_register,45,uint16,,,,
ok_one,holding_register,46,uint16,,,,
"""


def entry_for(hass: HomeAssistant, items: list[dict[str, Any]] | None = None) -> MockConfigEntry:
    """An entry (not loaded) with term 1."""
    return scada_entry(hass, 1502, terms=[term(1, list(items or []), "Meter 1")])


async def reconfigure(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": "term1"},
    )
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


def items_of(entry: MockConfigEntry) -> list[dict[str, Any]]:
    return list(entry.subentries["term1"].data["items"])


async def test_add_terms_with_and_without_template(hass: HomeAssistant) -> None:
    entry = entry_for(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"), context={"source": SOURCE_USER}
    )
    assert result["step_id"] == "user"
    templates = [o["value"] for o in result["data_schema"].schema["template"].config["options"]]
    assert templates == ["none", "e3dc_s10", "sdm630", "sdm120"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"term": 1, "template": "none"}
    )
    assert result["errors"] == {"term": "term_exists"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"term": 3, "name": "House meter", "template": "sdm630"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    new = next(s for s in entry.subentries.values() if s.unique_id == "3")
    assert new.title == "House meter"
    keys = [i["key"] for i in new.data["items"]]
    assert keys[:3] == ["voltage_l1", "voltage_l2", "voltage_l3"]
    assert len(keys) == 15
    energy = next(i for i in new.data["items"] if i["key"] == "energy_import")
    assert energy["address"] == 72
    assert energy["state_class"] == "total_increasing"
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"term": 7, "template": "none"}
    )
    empty = next(s for s in entry.subentries.values() if s.unique_id == "7")
    assert empty.title == "Modbus TCP 7"
    assert empty.data["items"] == []


async def test_add_edit_remove_items(hass: HomeAssistant) -> None:
    entry = entry_for(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": "term1"},
    )
    assert result["menu_options"] == ["add_item", "add_formula", "import_items", "settings"]
    result = await reconfigure(hass, entry, "add_item")
    flow_id = result["flow_id"]
    base = {
        "table": "holding_register",
        "address": 5,
        "data_type": "uint16",
        "byte_order": "big",
        "word_order": "big",
        "writable": True,
        "scale": 1.0,
        "offset": 0.0,
    }
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"key": "Bad Key", **base}
    )
    assert result["errors"] == {"key": "invalid_item"}
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"key": "text", **base, "data_type": "string"}
    )
    assert result["errors"] == {"base": "invalid_item"}
    assert "count" in result["description_placeholders"]["error"]
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"key": "limit", "name": "Limit", **base, "min": 0.0, "max": 100.0}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "item_added"
    assert items_of(entry) == [{"key": "limit", "name": "Limit", **base, "min": 0.0, "max": 100.0}]
    # a second item with the same key is refused
    result = await reconfigure(hass, entry, "add_item")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"key": "limit", **base, "address": 6}
    )
    assert result["errors"] == {"key": "invalid_item"}
    # a formula: a broken template is refused, a good one stored
    result = await reconfigure(hass, entry, "add_formula")
    with pytest.raises(InvalidData):
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"key": "twice", "formula": "{{ items.limit * 2 "}
        )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"key": "twice", "formula": "{{ items.limit * 2 }}", "unit": "W"}
    )
    assert result["reason"] == "item_added"
    # edit the register item (key stays)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": "term1"},
    )
    assert "edit_item" in result["menu_options"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "edit_item"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"item": "limit"}
    )
    assert result["step_id"] == "edit_item_form"
    assert "key" not in result["data_schema"].schema
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**base, "address": 8, "name": "Export limit", "min": 5.0, "max": 1.0}
    )
    assert result["errors"] == {"min": "invalid_item"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**base, "address": 8, "name": "Export limit"}
    )
    assert result["reason"] == "item_saved"
    assert items_of(entry)[0]["address"] == 8
    assert items_of(entry)[0]["key"] == "limit"
    # edit the formula
    result = await reconfigure(hass, entry, "edit_item")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"item": "twice"}
    )
    assert result["step_id"] == "edit_formula"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"formula": "{{ items.limit * 3 }}"}
    )
    assert result["reason"] == "item_saved"
    assert items_of(entry)[1] == {"key": "twice", "formula": "{{ items.limit * 3 }}"}
    # remove
    result = await reconfigure(hass, entry, "remove_items")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"keys": ["twice"]}
    )
    assert result["reason"] == "items_removed"
    assert [i["key"] for i in items_of(entry)] == ["limit"]
    # rename
    result = await reconfigure(hass, entry, "settings")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Inverter"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries["term1"].title == "Inverter"
    assert entry.subentries["term1"].data["name"] == "Inverter"


async def test_iec104_item_form(hass: HomeAssistant) -> None:
    entry = scada_entry(hass, 2404, protocol="iec104", terms=[term(1, [], "Station 1")])
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "scada_term"), context={"source": SOURCE_USER}
    )
    assert result["description_placeholders"]["low"] == "1"
    assert result["description_placeholders"]["high"] == "65534"
    templates = [o["value"] for o in result["data_schema"].schema["template"].config["options"]]
    assert templates == ["none", "iec104_station"]
    result = await reconfigure(hass, entry, "add_item")
    assert "ioa" in result["data_schema"].schema
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            "key": "breaker",
            "type": "double_command",
            "ioa": 103,
            "select_before_operate": True,
            "scale": 1.0,
            "offset": 0.0,
            "unit": "",
        },
    )
    assert result["reason"] == "item_added"
    assert items_of(entry)[0]["type"] == "double_command"
    assert "unit" not in items_of(entry)[0]


async def test_import_good_bad_and_json(hass: HomeAssistant) -> None:
    entry = entry_for(
        hass, [{"key": "existing", "table": "coil", "address": 0, "data_type": "bit"}]
    )
    result = await reconfigure(hass, entry, "import_items")
    flow_id = result["flow_id"]
    result = await hass.config_entries.subentries.async_configure(
        flow_id,
        {"text": BAD_CSV + "existing,coil,1,bit,,,,\n", "replace": False, "skip_bad_rows": False},
    )
    assert result["errors"] == {"base": "import_failed"}
    report = result["description_placeholders"]["report"]
    assert "line 3, field 'table'" in report
    assert "line 4, field 'address'" in report
    assert "line 5, field 'count'" in report
    assert "line 6, field 'device_class'" in report
    assert "line 7, field 'writable'" in report
    assert "line 9, field 'key'" in report  # used twice in the list
    assert "line 10, field 'key'" in report  # already in the term
    assert "2 good row(s), 7 bad row(s)" in report
    assert "- line 2" not in report
    assert "- line 8" not in report
    assert len(items_of(entry)) == 1  # nothing stored yet
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"text": BAD_CSV, "replace": False, "skip_bad_rows": True}
    )
    assert result["reason"] == "items_imported"
    assert result["description_placeholders"]["count"] == "2"
    assert [i["key"] for i in items_of(entry)] == ["existing", "ok_one", "other_unit"]
    # CSV with every column, replacing the term's items
    result = await reconfigure(hass, entry, "import_items")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"text": GOOD_CSV, "replace": True, "skip_bad_rows": False}
    )
    assert result["reason"] == "items_imported"
    items = items_of(entry)
    assert [i["key"] for i in items] == ["voltage", "limit"]
    assert items[1]["writable"] is True
    assert items[1]["scale"] == 0.1
    assert items[0]["max"] == 500.0
    # JSON, with a row for another unit
    result = await reconfigure(hass, entry, "import_items")
    flow_id = result["flow_id"]
    json_text = (
        '[{"key": "freq", "table": "ir", "address": 70, "data_type": "float32", "unit": "Hz"},'
        ' {"key": "far", "unit_id": 9, "table": "ir", "address": 1, "data_type": "uint16"}, 5]'
    )
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"text": json_text, "replace": False, "skip_bad_rows": False}
    )
    report = result["description_placeholders"]["report"]
    assert "item 2, field 'unit_id': belongs to 9, this term is 1" in report
    assert "item 3: expected an object" in report
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"text": "not,a,point,list\n", "replace": False, "skip_bad_rows": True}
    )
    assert result["errors"] == {"base": "import_nothing"}
    with patch("custom_components.meterlink.systems.scada.flow._REPORT_LINES", 1):
        result = await hass.config_entries.subentries.async_configure(
            flow_id, {"text": json_text, "replace": False, "skip_bad_rows": False}
        )
    assert "1 more" in result["description_placeholders"]["report"]
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"text": json_text, "replace": False, "skip_bad_rows": True}
    )
    assert result["reason"] == "items_imported"
    assert [i["key"] for i in items_of(entry)] == ["voltage", "limit", "freq"]


async def test_too_many_items(hass: HomeAssistant) -> None:
    entry = entry_for(hass, [{"key": "one", "table": "coil", "address": 0, "data_type": "bit"}])
    result = await reconfigure(hass, entry, "add_formula")
    with patch("custom_components.meterlink.systems.scada.flow.MAX_ITEMS", 1):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"key": "two", "formula": "{{ 1 }}"}
        )
    assert result["errors"] == {"base": "too_many_items"}


async def test_changes_reload_the_loaded_channel(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            assert hass.states.get("sensor.meter_1_voltage") is None
            result = await reconfigure(hass, entry, "import_items")
            result = await hass.config_entries.subentries.async_configure(
                result["flow_id"], {"text": GOOD_CSV, "replace": False, "skip_bad_rows": False}
            )
            assert result["reason"] == "items_imported"
            await hass.async_block_till_done()
            assert hass.states.get("sensor.meter_1_voltage") is not None
            assert hass.states.get("number.meter_1_limit") is not None
            # removing the term removes its entities; the channel's last-read sensor stays
            assert len(er.async_entries_for_config_entry(entity_registry, entry.entry_id)) > 3
            hass.config_entries.async_remove_subentry(entry, "term1")
            await hass.async_block_till_done()
            assert entity_registry.async_get("sensor.meter_1_power") is None
            assert hass.states.get("sensor.meter_1_power") is None
            remaining = er.async_entries_for_config_entry(entity_registry, entry.entry_id)
            assert [e.unique_id for e in remaining] == [f"scada_{entry.entry_id}_last_read"]
            await unload(hass, entry)
