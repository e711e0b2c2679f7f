"""Setting up E3/DC entries against the simulator: devices, sensors, faults, recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.e3dc.tags import RscpUserLevel
from custom_components.meterlink.systems.e3dc import E3DC_SYSTEM
from custom_components.meterlink.systems.e3dc.runtime import E3dcRuntime

from .conftest import setup_entry
from .e3dc_helpers import (
    SERIAL,
    USER,
    add_entry,
    e3dc_sim,
    recorder_config,  # noqa: F401 - the fixture
)


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


async def test_fault_makes_entities_unavailable_then_they_recover(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        runtime = entry.runtime_data
        pv = entity(entity_registry, "sensor", "pv_power")
        last_read = entity(entity_registry, "sensor", "last_read")
        assert state(hass, pv).state != STATE_UNAVAILABLE
        read_at = state(hass, last_read).state
        sim.faults.mismatch = 1  # a reply that answers none of the requests
        await runtime.live.async_refresh()
        await hass.async_block_till_done()
        assert state(hass, pv).state == STATE_UNAVAILABLE
        assert state(hass, last_read).state == read_at  # tells when reads stopped
        assert runtime.live.last_error is not None
        await runtime.live.async_refresh()  # a fresh connection, a good reply
        await hass.async_block_till_done()
        assert float(state(hass, pv).state) == runtime.live.data.pv_power_w
        await hass.config_entries.async_unload(entry.entry_id)


async def test_rejected_login_starts_reauth(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        sim.users = {USER: ("changed-in-the-portal", RscpUserLevel.USER)}
        sim.drop_all()
        await entry.runtime_data.live.async_refresh()
        await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress()
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
        await hass.config_entries.async_unload(entry.entry_id)


async def test_device_offline_is_not_ready_not_reauth(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    async with e3dc_sim() as sim:
        sim.faults.auth = "offline"
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert "E3/DC's servers" in str(entry.reason)
        assert not hass.config_entries.flow.async_progress()
        issue_id = f"e3dc_portal_unreachable_{entry.entry_id}"
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
        sim.faults.auth = None  # back online: the retry loads it and clears the issue
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
        await hass.config_entries.async_unload(entry.entry_id)


async def call(hass: HomeAssistant, domain: str, service: str, entity_id: str, **data: Any) -> None:
    await hass.services.async_call(
        domain, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )


async def test_switches_numbers_and_button_are_confirmed(  # noqa: PLR0915 - one setup, every control
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        model = sim.model
        settings = model.settings
        box = model.wallboxes[0]

        heat_pump = entity(entity_registry, "switch", "smart_switch_1")
        await call(hass, "switch", "turn_on", heat_pump)
        assert model.switches[0].on is True
        assert state(hass, heat_pump).state == STATE_ON
        powersave = entity(entity_registry, "switch", "powersave")
        await call(hass, "switch", "turn_off", powersave)
        assert settings.powersave is False
        assert state(hass, powersave).state == STATE_OFF
        weather = entity(entity_registry, "switch", "weather_regulated_charge")
        await call(hass, "switch", "turn_on", weather)
        assert settings.weather_regulated_charge is True
        assert settings.powersave is False  # read-modify-write: untouched
        to_car = entity(entity_registry, "switch", "battery_to_car")
        await call(hass, "switch", "turn_on", to_car)
        assert settings.battery_to_car is True
        assert state(hass, to_car).state == STATE_ON
        before_car = entity(entity_registry, "switch", "battery_before_car")
        await call(hass, "switch", "turn_off", before_car)
        assert settings.battery_before_car is False
        enforce = entity(entity_registry, "switch", "enforce_power_assignment")
        await call(hass, "switch", "turn_on", enforce)
        assert settings.wb_enforce_power_assignment is True
        assert state(hass, enforce).state == STATE_ON
        sun = entity(entity_registry, "switch", "wallbox_0_sun_mode")
        await call(hass, "switch", "turn_off", sun)
        assert box.sun_mode is False
        assert state(hass, sun).state == STATE_OFF
        charging = entity(entity_registry, "switch", "wallbox_0_charging")
        await call(hass, "switch", "turn_off", charging)
        assert box.charging is False
        await call(hass, "switch", "turn_off", charging)  # already off: no toggle sent
        assert box.charging is False
        await call(hass, "switch", "turn_on", charging)
        assert box.charging is True
        schuko = entity(entity_registry, "switch", "wallbox_0_schuko")
        assert state(hass, schuko).state == (STATE_ON if box.schuko_on else STATE_OFF)
        await call(hass, "switch", "turn_on", schuko)
        assert box.schuko_on is True
        assert state(hass, schuko).state == STATE_ON
        await call(hass, "switch", "turn_off", schuko)
        assert box.schuko_on is False

        max_charge = entity(entity_registry, "number", "max_charge_power")
        await call(hass, "number", "set_value", max_charge, value=3000)
        assert settings.max_charge_w == 3000
        assert settings.power_limits_used is True
        assert (settings.max_discharge_w, settings.discharge_start_w) == (4500, 65)
        assert float(state(hass, max_charge).state) == 3000
        max_discharge = entity(entity_registry, "number", "max_discharge_power")
        await call(hass, "number", "set_value", max_discharge, value=2500)
        assert (settings.max_charge_w, settings.max_discharge_w) == (3000, 2500)
        start = entity(entity_registry, "number", "discharge_start_power")
        await call(hass, "number", "set_value", start, value=120)
        assert settings.discharge_start_w == 120
        until = entity(entity_registry, "number", "wallbox_discharge_battery_until")
        await call(hass, "number", "set_value", until, value=55)
        assert settings.wb_discharge_bat_until == 55
        current = entity(entity_registry, "number", "wallbox_0_max_current")
        await call(hass, "number", "set_value", current, value=10)
        assert box.max_current_a == 10
        assert float(state(hass, current).state) == 10

        phases = entity(entity_registry, "button", "wallbox_0_toggle_phases")
        await call(hass, "button", "press", phases)
        assert box.phases == 1
        assert (
            float(state(hass, entity(entity_registry, "sensor", "wallbox_0_wallbox_phases")).state)
            == 1
        )

        # refused: the device keeps another value than the one written
        model.max_battery_power_w = 2000  # the device clamps the limit to its rating
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "number", "set_value", max_charge, value=2800)
        assert err.value.translation_key == "device_error"
        assert settings.max_charge_w == 2000
        model.switches.pop(0)  # the actuator is gone: the device refuses the command
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "switch", "turn_off", heat_pump)
        assert err.value.translation_key == "e3dc_write_not_confirmed"
        box.plugged = False  # no car: charging cannot start
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "switch", "turn_on", charging)
        assert err.value.translation_key == "e3dc_write_not_confirmed"
        # lost: the device drops the request and the one retry
        sim.faults.drop = 2
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "switch", "turn_on", powersave)
        assert err.value.translation_key == "cannot_connect"
        assert settings.powersave is False
        await hass.config_entries.async_unload(entry.entry_id)


async def test_farm_members_and_stale_devices(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    async with e3dc_sim() as sim:
        sim.farm_members = [("S10-729000000001", "Barn")]
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        gone = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, f"{SERIAL}_wallbox_7")}
        )
        kept = device_registry.async_get_device({(DOMAIN, f"{SERIAL}_wallbox_0")})
        assert kept is not None
        system = device_registry.async_get_device({(DOMAIN, SERIAL)})
        member = device_registry.async_get_device({(DOMAIN, f"{SERIAL}_farm_S10-729000000001")})
        assert system is not None
        assert member is not None
        assert member.via_device_id == system.id
        assert member.serial_number == "S10-729000000001"
        remove = E3DC_SYSTEM.remove_device
        assert remove is not None
        assert remove(hass, entry, gone) is True
        assert remove(hass, entry, kept) is False
        assert remove(hass, entry, member) is False
        await hass.config_entries.async_unload(entry.entry_id)


async def test_todays_energy_restarts_at_local_midnight(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entity_registry: er.EntityRegistry
) -> None:
    await hass.config.async_set_time_zone("Europe/Berlin")
    freezer.move_to(datetime(2026, 6, 15, 21, 50, tzinfo=UTC))  # 23:50 in Berlin
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        solar = entity(entity_registry, "sensor", "solar_energy_today")
        evening = float(state(hass, solar).state)
        midnight = datetime(2026, 6, 14, 22, tzinfo=UTC).timestamp()
        expected = sim.model.history(int(midnight), 86400)["pv"] / 1000
        assert evening == pytest.approx(expected, abs=0.01)
        assert evening > 10
        freezer.move_to(datetime(2026, 6, 15, 22, 10, tzinfo=UTC))  # 00:10: a new day
        await entry.runtime_data.details.async_refresh()
        await hass.async_block_till_done()
        night = state(hass, solar)
        assert float(night.state) == 0.0  # taken as the day's new start, not held back
        assert night.attributes["state_class"] == "total_increasing"
        await hass.config_entries.async_unload(entry.entry_id)


async def test_new_farm_member_is_added_on_the_hourly_discovery(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        ident = (DOMAIN, f"{SERIAL}_farm_S10-729000000002")
        assert device_registry.async_get_device({ident}) is None
        sim.farm_members = [("S10-729000000002", "Stable")]
        await entry.runtime_data.static.async_refresh()
        await hass.async_block_till_done()  # the entry reloads with the new part
        assert entry.state is ConfigEntryState.LOADED
        device = device_registry.async_get_device({ident})
        assert device is not None
        assert device.name == "E3/DC farm member Stable"
        await hass.config_entries.async_unload(entry.entry_id)
