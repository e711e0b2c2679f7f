"""Setting up E3/DC entries against the simulator: devices, sensors, faults, recovery."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.e3dc.runtime import E3dcRuntime

from .conftest import setup_entry
from .e3dc_helpers import SERIAL, add_entry, e3dc_sim


def entity(registry: er.EntityRegistry, platform: str, key: str) -> str:
    entity_id = registry.async_get_entity_id(platform, DOMAIN, f"{SERIAL}_{key}")
    assert entity_id is not None, key
    return entity_id


def state(hass: HomeAssistant, entity_id: str) -> Any:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current


async def test_setup_devices_and_sensors(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        runtime = entry.runtime_data
        assert isinstance(runtime, E3dcRuntime)
        system = device_registry.async_get_device({(DOMAIN, SERIAL)})
        assert system is not None
        assert system.serial_number == SERIAL
        assert system.model == "S10 E"
        assert system.sw_version == "S10_2024_062"
        assert (dr.CONNECTION_NETWORK_MAC, "00:1a:2b:3c:4d:5e") in system.connections
        for ident in (f"{SERIAL}_battery_0", f"{SERIAL}_battery_1", f"{SERIAL}_wallbox_0"):
            device = device_registry.async_get_device({(DOMAIN, ident)})
            assert device is not None, ident
            assert device.via_device_id == system.id
        pv = state(hass, entity(entity_registry, "sensor", "pv_power"))
        live = runtime.live.data
        assert float(pv.state) == live.pv_power_w
        assert pv.attributes["device_class"] == "power"
        await hass.config_entries.async_unload(entry.entry_id)
        assert entry.state is ConfigEntryState.NOT_LOADED
        assert not runtime.client.connected
