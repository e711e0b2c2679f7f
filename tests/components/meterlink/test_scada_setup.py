"""SCADA setup, entities, writes, faults and recovery against the Modbus simulator."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.meterlink import async_remove_config_entry_device
from custom_components.meterlink.const import DOMAIN
from simulators.modbus.server import ExceptionRule

from .conftest import setup_entry
from .scada_helpers import fast_timing, modbus_simulator, scada_entry, unload


async def test_modbus_tcp_entities_and_devices(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, device_registry: dr.DeviceRegistry
) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            assert entry.state is ConfigEntryState.LOADED
            assert hass.states.get("sensor.meter_1_energy").state == "12.345"
            assert hass.states.get("sensor.meter_1_power").state == "500"
            assert hass.states.get("sensor.meter_1_power").attributes["quality"] == "good"
            assert hass.states.get("sensor.meter_1_double_power").state == "1000.0"
            assert hass.states.get("sensor.meter_1_serial_number").state == "SIM1"
            assert hass.states.get("number.meter_1_set_point").state == "42.0"
            assert hass.states.get("switch.meter_1_relay").state == STATE_OFF
            assert hass.states.get("binary_sensor.meter_1_alarm").state == STATE_ON
            # one device per term, via the channel device; entities belong to the subentry
            term = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}_1")})
            channel = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}")})
            assert term is not None
            assert channel is not None
            assert term.via_device_id == channel.id
            power = entity_registry.async_get("sensor.meter_1_power")
            assert power is not None
            assert power.config_subentry_id == "term1"
            # the planner merged the reads: input 0-2, holding 10..23, coil, discrete input
            runtime = entry.runtime_data
            assert runtime.diagnostics()["requests_per_poll"] == 4
            await unload(hass, entry)
            assert entry.state is ConfigEntryState.NOT_LOADED


async def test_writes_are_confirmed_or_raise(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            await hass.services.async_call(
                "number",
                "set_value",
                {"entity_id": "number.meter_1_set_point", "value": 1234},
                blocking=True,
            )
            assert await sim.get_values(1, "holding_register", 10) == [1234]
            assert hass.states.get("number.meter_1_set_point").state == "1234.0"
            await hass.services.async_call(
                "switch", "turn_on", {"entity_id": "switch.meter_1_relay"}, blocking=True
            )
            assert await sim.get_values(1, "coil", 0) == [True]
            assert hass.states.get("switch.meter_1_relay").state == STATE_ON
            # a device that acknowledges but ignores the write: the read-back tells
            sim.faults.ignore_writes.append(
                ExceptionRule(start=10, end=11, table="holding_register")
            )
            with pytest.raises(HomeAssistantError) as info:
                await hass.services.async_call(
                    "number",
                    "set_value",
                    {"entity_id": "number.meter_1_set_point", "value": 99},
                    blocking=True,
                )
            assert info.value.translation_key == "scada_write_not_confirmed"
            assert "99" in str(info.value.translation_placeholders)
            # an exception response is a translated device error
            sim.faults.ignore_writes.clear()
            sim.faults.exception_rules.append(
                ExceptionRule(start=0, end=1, table="coil", writes_only=True, code=4)
            )
            with pytest.raises(HomeAssistantError) as info:
                await hass.services.async_call(
                    "switch", "turn_off", {"entity_id": "switch.meter_1_relay"}, blocking=True
                )
            assert info.value.translation_key == "device_error"
            assert await sim.get_values(1, "coil", 0) == [True]
            await unload(hass, entry)


async def test_unavailable_under_fault_and_back_after_restart(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            coordinator = entry.runtime_data.coordinator
            # one unit silent (a device that stopped answering): everything unavailable, not 0
            sim.faults.silent_units.add(1)
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            assert hass.states.get("sensor.meter_1_power").state == STATE_UNAVAILABLE
            assert hass.states.get("switch.meter_1_relay").state == STATE_UNAVAILABLE
            # the last-read sensor keeps telling when reads stopped
            assert hass.states.get("sensor.meter_1_last_successful_read").state != STATE_UNAVAILABLE
            sim.faults.silent_units.clear()
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_power").state == "500"
            # a reboot: the port closes, then listens again with new values
            await sim.pause()
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_power").state == STATE_UNAVAILABLE
            await sim.set_values(1, "input_register", 2, [321])
            await sim.resume()
            for _ in range(50):  # the client's backoff (10-20 ms) may refuse the first tries
                await coordinator.async_refresh()
                if coordinator.last_update_success:
                    break
            assert hass.states.get("sensor.meter_1_power").state == "321"
            assert sim.connections >= 2
            await unload(hass, entry)


async def test_setup_retries_when_the_device_is_down(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            port = sim.port
        entry = scada_entry(hass, port)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_rtu_over_tcp_and_serial_bridge_channels(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator(rtu=True) as sim:
            for protocol in ("modbus_rtu_over_tcp", "modbus_rtu_serial"):
                entry = scada_entry(hass, sim.port, protocol=protocol)
                await setup_entry(hass, entry)
                assert entry.state is ConfigEntryState.LOADED, protocol
                assert hass.states.get("sensor.meter_1_power").state == "500"
                await hass.services.async_call(
                    "switch", "toggle", {"entity_id": "switch.meter_1_relay"}, blocking=True
                )
                await unload(hass, entry)
                await hass.config_entries.async_remove(entry.entry_id)
            assert await sim.get_values(1, "coil", 0) == [False]  # toggled twice


async def test_stale_devices_can_be_removed(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            term = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}_1")})
            channel = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}")})
            gone = device_registry.async_get_or_create(
                config_entry_id=entry.entry_id, identifiers={(DOMAIN, f"scada_{entry.entry_id}_9")}
            )
            assert term is not None
            assert channel is not None
            assert not await async_remove_config_entry_device(hass, entry, term)
            assert not await async_remove_config_entry_device(hass, entry, channel)
            assert await async_remove_config_entry_device(hass, entry, gone)
            await unload(hass, entry)


async def test_a_refused_register_only_takes_its_item_down(hass: HomeAssistant) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port)
            await setup_entry(hass, entry)
            # a hole in the device's map: the merged read is refused, then read point by point
            sim.faults.exception_rules.append(
                ExceptionRule(unit_id=1, start=20, end=24, table="holding_register", code=2)
            )
            await entry.runtime_data.coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_serial_number").state == STATE_UNAVAILABLE
            assert hass.states.get("number.meter_1_set_point").state == "42.0"
            assert hass.states.get("sensor.meter_1_power").state == "500"
            serial = entry.runtime_data.diagnostics()["terms"][0]["items"]["serial"]["state"]
            assert serial["quality"] == "error"
            assert "ILLEGAL DATA ADDRESS" in serial["error"]
            await unload(hass, entry)
