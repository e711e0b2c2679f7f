"""Setting up an EKM bus entry against the simulator: devices, sensors, relays, faults."""

from __future__ import annotations

import json

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.ekm.runtime import EkmRuntime
from simulators.ekm.bus import EkmSimBus, Fault

from .conftest import EKM_V3, EKM_V4_1, EKM_V4_2, EkmClock, ekm_entry_options, setup_entry


def entity(entity_registry: er.EntityRegistry, platform: str, address: str, key: str) -> str:
    entity_id = entity_registry.async_get_entity_id(platform, DOMAIN, f"ekm_{address}_{key}")
    assert entity_id is not None, (address, key)
    return entity_id


def value(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_setup_creates_hub_meters_and_sensors(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    assert ekm_entry.state is ConfigEntryState.LOADED
    runtime = ekm_entry.runtime_data
    assert isinstance(runtime, EkmRuntime)

    hub = device_registry.async_get_device({(DOMAIN, f"ekm_bus_{ekm_entry.entry_id}")})
    assert hub is not None
    meters = {
        d.serial_number: d
        for d in dr.async_entries_for_config_entry(device_registry, ekm_entry.entry_id)
        if d.via_device_id == hub.id
    }
    assert set(meters) == {EKM_V4_1, EKM_V4_2, EKM_V3}
    assert meters[EKM_V4_1].model == "Omnimeter v4"
    assert meters[EKM_V3].model == "Omnimeter v3"
    assert meters[EKM_V4_1].sw_version == ekm_sim.meters[EKM_V4_1].firmware

    sim_meter = ekm_sim.meters[EKM_V4_2]
    energy = hass.states.get(entity(entity_registry, "sensor", EKM_V4_2, "energy_total"))
    assert energy is not None
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert float(energy.state) == pytest.approx(sum(sim_meter.energy_wh) / 1000, abs=0.1)
    volts = float(value(hass, entity(entity_registry, "sensor", EKM_V4_2, "voltage_l1")))
    assert volts == pytest.approx(sim_meter.voltage_v[0])
    power = float(value(hass, entity(entity_registry, "sensor", EKM_V4_2, "power_total")))
    assert power == pytest.approx(sum(sim_meter.line_power_w(sim_meter.clock())), abs=2)
    assert float(value(hass, entity(entity_registry, "sensor", EKM_V4_2, "frequency"))) == (
        pytest.approx(60, abs=0.1)
    )
    ct = value(hass, entity(entity_registry, "sensor", EKM_V3, "ct_ratio"))
    assert int(ct) == ekm_sim.meters[EKM_V3].ct_ratio
    tariff = value(hass, entity(entity_registry, "sensor", EKM_V3, "energy_tariff_1"))
    assert float(tariff) > 0

    # v3 meters have no relays and no frequency; rare values are disabled by default
    assert entity_registry.async_get_entity_id("switch", DOMAIN, f"ekm_{EKM_V3}_relay_1") is None
    assert entity_registry.async_get_entity_id("sensor", DOMAIN, f"ekm_{EKM_V3}_frequency") is None
    rare = entity_registry.async_get(entity(entity_registry, "sensor", EKM_V4_1, "pulse_count_1"))
    assert rare is not None
    assert rare.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    meter_time = entity_registry.async_get(
        entity(entity_registry, "sensor", EKM_V4_1, "meter_time")
    )
    assert meter_time is not None
    assert meter_time.entity_category is not None
    last_read = entity(entity_registry, "sensor", EKM_V3, "last_read")
    assert value(hass, last_read) != STATE_UNAVAILABLE


async def test_relay_switch_is_confirmed_and_changes_the_meter(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    relay_2 = entity(entity_registry, "switch", EKM_V4_1, "relay_2")
    assert value(hass, relay_2) == STATE_OFF
    await hass.services.async_call("switch", "turn_on", {"entity_id": relay_2}, blocking=True)
    assert value(hass, relay_2) == STATE_ON
    assert ekm_sim.meters[EKM_V4_1].relays[1].closed is True
    assert ekm_sim.meters[EKM_V4_1].relays[0].closed is False
    writes = [e for e in ekm_sim.events if e.kind == "write"]
    assert [(e.address, e.detail) for e in writes] == [(EKM_V4_1, "0082(10000)")]
    await hass.services.async_call("switch", "turn_off", {"entity_id": relay_2}, blocking=True)
    assert value(hass, relay_2) == STATE_OFF
    assert ekm_sim.meters[EKM_V4_1].relays[1].closed is False


async def test_refused_relay_command_raises_and_keeps_state(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    relay_1 = entity(entity_registry, "switch", EKM_V4_2, "relay_1")
    ekm_sim.inject(Fault.NO_ANSWER, address=EKM_V4_2, count=5)
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("switch", "turn_on", {"entity_id": relay_1}, blocking=True)
    assert info.value.translation_key == "timeout"
    assert ekm_sim.meters[EKM_V4_2].relays[0].closed is False


async def test_wrong_password_is_its_own_error_and_starts_reauth(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    ekm_sim.meters[EKM_V4_1].password = "24681357"
    relay_1 = entity(entity_registry, "switch", EKM_V4_1, "relay_1")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call("switch", "turn_on", {"entity_id": relay_1}, blocking=True)
    assert info.value.translation_key == "ekm_wrong_password"
    assert info.value.translation_placeholders["address"] == EKM_V4_1
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    # reading goes on: the entry stays loaded
    assert ekm_entry.state is ConfigEntryState.LOADED
    assert value(hass, relay_1) == STATE_OFF


async def test_dead_meter_goes_unavailable_without_stalling_the_others(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    runtime = ekm_entry.runtime_data
    assert isinstance(runtime, EkmRuntime)
    dead = entity(entity_registry, "sensor", EKM_V4_1, "energy_total")
    alive = entity(entity_registry, "sensor", EKM_V4_2, "energy_total")
    last_read = entity(entity_registry, "sensor", EKM_V4_1, "last_read")
    before = value(hass, dead)

    ekm_sim.inject(Fault.NO_ANSWER, address=EKM_V4_1, count=1)
    for coordinator in runtime.coordinators:
        await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert value(hass, dead) == STATE_UNAVAILABLE  # never 0
    assert value(hass, alive) != STATE_UNAVAILABLE
    assert value(hass, last_read) != STATE_UNAVAILABLE
    failed = runtime.by_address[EKM_V4_1]
    assert failed.update_interval < failed.base_interval

    # a corrupted frame is retried by the bus owner: no outage at all
    ekm_sim.inject(Fault.CORRUPT_BYTE, address=EKM_V4_1, count=1)
    await failed.async_refresh()
    await hass.async_block_till_done()
    assert value(hass, dead) == before
    assert failed.update_interval == failed.base_interval


async def test_setup_retries_while_the_bus_or_every_meter_is_down(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"system": "ekm", "port": "socket://127.0.0.1:9", "password": "00000000"},
        options=ekm_entry_options(),
    )
    entry.add_to_hass(hass)
    ekm_sim.inject(Fault.NO_ANSWER, count=20)
    await setup_entry(hass, ekm_entry)  # sets up both entries of the domain
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert ekm_entry.state is ConfigEntryState.SETUP_RETRY


async def test_diagnostics_redact_the_password(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ekm_sim: EkmSimBus,
    ekm_url: str,
) -> None:
    for meter in ekm_sim.meters.values():
        meter.password = "24681357"
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"system": "ekm", "port": ekm_url, "password": "24681357"},
        options=ekm_entry_options(capture_frames=True),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    await hass.services.async_call(
        DOMAIN, "ekm_reset_max_demand", {"device_id": _device(hass, EKM_V3)}, blocking=True
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert "24681357" not in text
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    frames = diagnostics["frames"]["frames"]
    assert any("P1" in f["text"] and "********" in f["text"] for f in frames)
    meters = diagnostics["device"]["meters"]
    assert [m["address"] for m in meters] == [EKM_V4_1, EKM_V4_2, EKM_V3]
    assert meters[0]["reading"]["a"]["address"] == EKM_V4_1
    await hass.config_entries.async_unload(entry.entry_id)


def _device(hass: HomeAssistant, address: str) -> str:
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"ekm_{address}")})
    assert device is not None
    return device.id


async def test_stale_devices_can_be_removed_and_unload_closes_the_bus(
    hass: HomeAssistant, ekm_entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    from custom_components.meterlink import async_remove_config_entry_device  # noqa: PLC0415

    await setup_entry(hass, ekm_entry)
    in_use = device_registry.async_get_device({(DOMAIN, f"ekm_{EKM_V3}")})
    assert in_use is not None
    assert not await async_remove_config_entry_device(hass, ekm_entry, in_use)
    stale = device_registry.async_get_or_create(
        config_entry_id=ekm_entry.entry_id, identifiers={(DOMAIN, "ekm_000000000042")}
    )
    assert await async_remove_config_entry_device(hass, ekm_entry, stale)
    # unloading closes the bus
    runtime = ekm_entry.runtime_data
    assert isinstance(runtime, EkmRuntime)
    assert runtime.bus.is_open
    assert await hass.config_entries.async_unload(ekm_entry.entry_id)
    assert not runtime.bus.is_open


async def test_counters_survive_a_clock_step(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_clock: EkmClock,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    energy = entity(entity_registry, "sensor", EKM_V4_2, "energy_total")
    before = float(value(hass, energy))
    ekm_clock.advance(3600)  # one hour at ~1 kW
    await ekm_entry.runtime_data.by_address[EKM_V4_2].async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    after = float(value(hass, energy))
    assert after == pytest.approx(before + 1.0, abs=0.2)
    # a register that steps backwards (a glitch) never reaches the Energy dashboard
    ekm_sim.meters[EKM_V4_2].energy_wh = [0.0, 0.0, 0.0]
    await ekm_entry.runtime_data.by_address[EKM_V4_2].async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert float(value(hass, energy)) == after
