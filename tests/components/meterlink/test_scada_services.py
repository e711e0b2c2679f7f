"""SCADA actions with response data: read items now, write an item, send a command."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.meterlink.const import DOMAIN

from .conftest import setup_entry
from .scada_helpers import (
    MODBUS_ITEMS,
    fast_timing,
    modbus_simulator,
    scada_entry,
    term,
    unload,
)


async def call(hass: HomeAssistant, action: str, data: dict) -> dict:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_actions(hass: HomeAssistant, device_registry: dr.DeviceRegistry) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(
                hass, sim.port, terms=[term(1, MODBUS_ITEMS, "Meter 1"), term(2, MODBUS_ITEMS[:2])]
            )
            await setup_entry(hass, entry)
            unit1 = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}_1")})
            channel = device_registry.async_get_device({(DOMAIN, f"scada_{entry.entry_id}")})
            assert unit1 is not None
            assert channel is not None
            # read now: the device's current values, not the last poll's
            await sim.set_values(1, "input_register", 2, [777])
            response = await call(
                hass, "scada_read_items", {"device_id": unit1.id, "items": ["power", "serial"]}
            )
            items = response["items"]
            assert [i["key"] for i in items] == ["power", "serial"]
            assert items[0]["value"] == 777
            assert items[0]["quality"] == "good"
            assert items[0]["unit"] == "W"
            assert items[0]["timestamp"] is not None
            assert items[1]["value"] == "SIM1"
            assert hass.states.get("sensor.meter_1_power").state == "777"
            # the channel's device reads every term; a key both terms have is ambiguous there
            response = await call(hass, "scada_read_items", {"device_id": channel.id})
            assert len(response["items"]) == len(MODBUS_ITEMS) + 2
            with pytest.raises(ServiceValidationError) as err:
                await call(hass, "scada_read_items", {"device_id": channel.id, "items": ["power"]})
            assert err.value.translation_key == "scada_ambiguous_item"
            # write: confirmed by read-back, returned
            response = await call(
                hass, "scada_write_item", {"device_id": unit1.id, "item": "setpoint", "value": 2500}
            )
            assert response["value"] == 2500
            assert response["confirmed"] is True
            assert await sim.get_values(1, "holding_register", 10) == [2500]
            response = await call(
                hass,
                "scada_send_command",
                {"device_id": unit1.id, "item": "relay", "command": "on"},
            )
            assert response["value"] is True
            assert await sim.get_values(1, "coil", 0) == [True]
            # errors, translated
            for action, data, key in (
                ("scada_write_item", {"item": "power", "value": 1}, "scada_not_writable"),
                ("scada_write_item", {"item": "nothing", "value": 1}, "scada_unknown_item"),
                (
                    "scada_send_command",
                    {"item": "setpoint", "command": "on"},
                    "scada_not_a_command",
                ),
                ("scada_write_item", {"item": "setpoint", "value": 70000}, "scada_invalid_value"),
            ):
                with pytest.raises(ServiceValidationError) as err:
                    await call(hass, action, {"device_id": unit1.id, **data})
                assert err.value.translation_key == key
            with pytest.raises(ServiceValidationError) as err:
                await call(hass, "scada_read_items", {"device_id": "nope"})
            assert err.value.translation_key == "scada_not_a_device"
            with pytest.raises(ServiceValidationError) as invalid:
                await call(
                    hass, "scada_write_item", {"device_id": unit1.id, "item": "x", "value": 1e20}
                )
            assert invalid.value.translation_key == "action_value_out_of_range"
            assert invalid.value.translation_placeholders is not None
            assert invalid.value.translation_placeholders["field"] == "value"
            await sim.pause()
            with pytest.raises(HomeAssistantError) as err:
                await call(hass, "scada_read_items", {"device_id": unit1.id})
            assert err.value.translation_key == "cannot_connect"
            await sim.resume()
            await unload(hass, entry)
            with pytest.raises(ServiceValidationError) as err:
                await call(hass, "scada_read_items", {"device_id": unit1.id})
            assert err.value.translation_key == "entry_not_loaded"
