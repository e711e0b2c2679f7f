"""Device templates: every template parses, and the E3/DC map reads an E3/DC-like simulator."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.meterlink.systems.scada.const import Protocol
from custom_components.meterlink.systems.scada.items import parse_items
from custom_components.meterlink.systems.scada.templates import TEMPLATES, load_template

from .conftest import setup_entry
from .scada_helpers import fast_timing, modbus_simulator, scada_entry, unload


def words(text: str, count: int) -> list[int]:
    data = text.encode().ljust(2 * count, b"\0")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def int32_low_word_first(value: int) -> list[int]:
    raw = value & 0xFFFFFFFF
    return [raw & 0xFFFF, raw >> 16]


def test_every_template_parses() -> None:
    for key, template in TEMPLATES.items():
        protocol = Protocol.MODBUS_TCP if template.modbus else Protocol.IEC104
        result = load_template(key, protocol, 5)
        assert result.errors == [], key
        assert len(result.items) >= 8, key
        items, errors = parse_items(protocol, 5, result.items)
        assert errors == [], key
        assert all(item.term == 5 for item in items)


async def test_e3dc_template_reads_the_power_station(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator(size=40200) as sim:
            # E3/DC mode: magic 0xE3DC at 40001, strings, INT32 powers with the low word first
            await sim.set_values(1, "holding_register", 40000, [0xE3DC])
            await sim.set_values(1, "holding_register", 40003, words("HagerEnergy", 16))
            await sim.set_values(1, "holding_register", 40019, words("S10 E AIO", 16))
            await sim.set_values(1, "holding_register", 40067, int32_low_word_first(4200))
            await sim.set_values(1, "holding_register", 40069, int32_low_word_first(-1500))
            await sim.set_values(1, "holding_register", 40073, int32_low_word_first(-2700))
            await sim.set_values(1, "holding_register", 40082, [77])
            await sim.set_values(1, "holding_register", 40098, [523])
            entry = scada_entry(hass, sim.port, terms=[])
            await setup_entry(hass, entry)
            result = await hass.config_entries.subentries.async_init(
                (entry.entry_id, "scada_term"), context={"source": SOURCE_USER}
            )
            result = await hass.config_entries.subentries.async_configure(
                result["flow_id"], {"term": 1, "name": "E3DC", "template": "e3dc_s10"}
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            await hass.async_block_till_done()
            assert hass.states.get("sensor.e3dc_solar_power").state == "4200"
            assert hass.states.get("sensor.e3dc_battery_power").state == "-1500"
            assert hass.states.get("sensor.e3dc_grid_power").state == "-2700"
            assert hass.states.get("sensor.e3dc_battery_state_of_charge").state == "77"
            assert hass.states.get("sensor.e3dc_string_1_current").state == "5.23"
            assert hass.states.get("sensor.e3dc_manufacturer").state == "HagerEnergy"
            assert hass.states.get("sensor.e3dc_model").state == "S10 E AIO"
            # 24 items in few requests: the planner merged the register map
            assert entry.runtime_data.diagnostics()["requests_per_poll"] <= 2
            # editable afterwards: the template's items are ordinary items of the term
            subentry_id = next(iter(entry.subentries))
            result = await hass.config_entries.subentries.async_init(
                (entry.entry_id, "scada_term"),
                context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
            )
            result = await hass.config_entries.subentries.async_configure(
                result["flow_id"], {"next_step_id": "remove_items"}
            )
            result = await hass.config_entries.subentries.async_configure(
                result["flow_id"], {"keys": ["wallbox_power", "wallbox_solar_power"]}
            )
            assert result["reason"] == "items_removed"
            await hass.async_block_till_done()
            assert hass.states.get("sensor.e3dc_wallbox_power") is None
            assert hass.states.get("sensor.e3dc_solar_power").state == "4200"
            await unload(hass, entry)
