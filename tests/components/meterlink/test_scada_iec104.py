"""SCADA over IEC 60870-5-104 against the c104 outstation: interrogation, spontaneous data,
commands confirmed or refused, and the link coming back after an outstation reboot."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.meterlink.const import DOMAIN

from .conftest import setup_entry
from .scada_helpers import IEC104_ITEMS, fast_timing, iec104_simulator, scada_entry, term, unload
from .scada_wait import wait_for_state


async def test_iec104_values_commands_and_reboot(hass: HomeAssistant) -> None:
    with fast_timing():
        async with iec104_simulator() as sim:
            entry = scada_entry(
                hass, sim.port, protocol="iec104", terms=[term(1, IEC104_ITEMS, "Station 1")]
            )
            await setup_entry(hass, entry)
            assert entry.state is ConfigEntryState.LOADED
            # the general interrogation after connecting filled every monitored item
            assert hass.states.get("sensor.station_1_power").state == "21.5"
            assert hass.states.get("sensor.station_1_energy").state == "1000.0"
            assert hass.states.get("binary_sensor.station_1_alarm").state == STATE_ON
            assert hass.states.get("binary_sensor.station_1_breaker").state == STATE_ON
            # spontaneous data arrives by itself
            sim.set_value(11, 30.25, spontaneous=True)
            await wait_for_state(hass, "sensor.station_1_power", lambda s: s.state == "30.25")
            # an invalid quality flag: no value is shown
            sim.set_quality(11, "Invalid", spontaneous=True)
            await wait_for_state(
                hass, "sensor.station_1_power", lambda s: s.state == STATE_UNAVAILABLE
            )
            sim.set_quality(11, spontaneous=True)
            await wait_for_state(hass, "sensor.station_1_power", lambda s: s.state == "30.25")
            # read now (C_RD_NA_1): values with quality and the device's time tag
            station = dr.async_get(hass).async_get_device({(DOMAIN, f"scada_{entry.entry_id}_1")})
            assert station is not None
            sim.set_value(21, False)
            response = await hass.services.async_call(
                DOMAIN,
                "scada_read_items",
                {"device_id": station.id, "items": ["alarm", "power", "relay"]},
                blocking=True,
                return_response=True,
            )
            assert response is not None
            read = {i["key"]: i for i in response["items"]}
            assert read["alarm"]["value"] is False
            assert read["alarm"]["quality"] == "good"
            assert read["power"]["value"] == 30.25
            assert read["relay"]["value"] is None  # a command has nothing to read
            assert hass.states.get("binary_sensor.station_1_alarm").state == STATE_OFF
            # commands: direct, select-before-operate, set-point; confirmed by the outstation
            await hass.services.async_call(
                "switch", "turn_on", {"entity_id": "switch.station_1_relay"}, blocking=True
            )
            assert hass.states.get("switch.station_1_relay").state == STATE_ON
            await hass.services.async_call(
                "switch",
                "turn_off",
                {"entity_id": "switch.station_1_breaker_command"},
                blocking=True,
            )
            assert hass.states.get("switch.station_1_breaker_command").state == STATE_OFF
            await hass.services.async_call(
                "number",
                "set_value",
                {"entity_id": "number.station_1_power_limit", "value": 55.5},
                blocking=True,
            )
            assert hass.states.get("number.station_1_power_limit").state == "55.5"
            received = [(c.ioa, c.value) for c in sim.faults.commands if not c.select]
            assert (101, True) in received
            assert (111, 55.5) in received
            assert any(c.ioa == 103 for c in sim.faults.commands)
            with pytest.raises(HomeAssistantError) as info:
                await hass.services.async_call(
                    "switch",
                    "turn_on",
                    {"entity_id": "switch.station_1_refusing_command"},
                    blocking=True,
                )
            assert info.value.translation_key == "scada_command_refused"
            # an outstation reboot: unavailable, then back with a fresh interrogation
            await sim.pause()
            await wait_for_state(
                hass, "sensor.station_1_power", lambda s: s.state == STATE_UNAVAILABLE
            )
            with pytest.raises(HomeAssistantError) as info:  # the entity is skipped: the action
                await hass.services.async_call(
                    DOMAIN,
                    "scada_send_command",
                    {"device_id": station.id, "item": "relay", "command": "on"},
                    blocking=True,
                    return_response=True,
                )
            assert info.value.translation_key == "cannot_connect"
            sim.set_value(11, 77.0)
            await sim.resume()
            await wait_for_state(hass, "sensor.station_1_power", lambda s: s.state == "77.0")
            assert sim.connections >= 2
            await unload(hass, entry)


async def test_iec104_setup_retries_when_down(hass: HomeAssistant) -> None:
    with fast_timing():
        async with iec104_simulator() as sim:
            port = sim.port
        entry = scada_entry(hass, port, protocol="iec104", terms=[term(1, IEC104_ITEMS)])
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY
