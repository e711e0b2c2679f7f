"""Sensor metadata derived from OBIS codes and COSEM units, and the restored counter guard."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import mock_restore_cache_with_extra_data

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.dlms.units import describe, is_default_register

from .conftest import setup_entry
from .dlms_helpers import SERIAL, add_entry, meter_sim, polled_data, polled_options

# (OBIS, COSEM unit) -> (unit, device class, state class, translation key); one test, as
# every test in this folder pays for a recorder
CASES = [
    (
        "1.0.1.8.0.255",
        "Wh",
        "Wh",
        SensorDeviceClass.ENERGY,
        "total_increasing",
        "energy_import",
    ),
    (
        "1.0.2.8.1.255",
        None,
        "Wh",
        SensorDeviceClass.ENERGY,
        "total_increasing",
        "energy_export_tariff_1",
    ),
    ("1.0.23.7.0.255", None, "var", SensorDeviceClass.REACTIVE_POWER, "measurement", None),
    ("1.0.4.8.0.255", None, "varh", None, "total_increasing", "reactive_energy_export"),
    ("1.0.71.7.0.255", None, "A", SensorDeviceClass.CURRENT, "measurement", "current_l3"),
    ("1.0.52.7.0.255", None, "V", SensorDeviceClass.VOLTAGE, "measurement", "voltage_l2"),
    ("1.0.14.7.0.255", None, "Hz", SensorDeviceClass.FREQUENCY, "measurement", "frequency"),
    ("1.0.33.7.0.255", None, None, SensorDeviceClass.POWER_FACTOR, "measurement", None),
    ("1.0.1.6.0.255", "W", "W", SensorDeviceClass.POWER, "measurement", "max_demand_import"),
    ("1.0.0.9.1.255", None, None, None, None, None),
    ("7.0.3.8.0.255", "m³", "m³", None, None, None),
    ("not.an.obis", "W", None, None, None, None),
    ("1.0.1.8", "Wh", None, None, None, None),
]


def test_describe() -> None:
    for obis, unit, ha_unit, device_class, state_class, key in CASES:
        info = describe(obis, unit)
        assert info.unit == ha_unit, obis
        assert info.device_class == device_class, obis
        assert info.state_class == (SensorStateClass(state_class) if state_class else None), obis
        assert info.translation_key == key, obis


def test_default_registers() -> None:
    assert is_default_register("1.0.1.8.0.255")
    assert is_default_register("1.0.72.7.0.255")
    assert not is_default_register("1.0.1.8.1.255")  # tariff registers are opt-in
    assert not is_default_register("1.0.14.7.0.255")
    assert not is_default_register("0.0.96.1.0.255")


async def test_restored_total_keeps_the_counter_from_stepping_back(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        entity_id = entity_registry.async_get_or_create(
            "sensor", DOMAIN, f"{SERIAL}_1.0.1.8.0.255", config_entry=entry
        ).entity_id
        higher = sim.meter.physical_value("1.0.1.8.0.255") + 5000
        mock_restore_cache_with_extra_data(
            hass,
            [
                (
                    State(entity_id, str(higher)),
                    {"native_value": higher, "native_unit_of_measurement": "Wh"},
                )
            ],
        )
        await setup_entry(hass, entry)
        state = hass.states.get(entity_id)
        assert state is not None
        assert state.attributes["unit_of_measurement"] == "Wh"  # registered before: no kWh
        assert float(state.state) == pytest.approx(higher)
        # a second lower read is still taken as a glitch, not a meter reset
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
        state = hass.states.get(entity_id)
        assert state is not None
        assert float(state.state) == pytest.approx(higher)
        assert await hass.config_entries.async_unload(entry.entry_id)
