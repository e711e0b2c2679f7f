"""The DLMS actions against the simulator: read/write OBIS, load profile, clock."""

from __future__ import annotations

import datetime as dt

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.dlms.axdr import CosemDateTime

from .conftest import setup_entry
from .dlms_helpers import (
    NOW,
    add_entry,
    listen_data,
    meter_sim,
    polled_data,
    polled_options,
    push_sim,
    pushing,
)


async def test_read_obis_many_with_per_item_errors(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        response = await hass.services.async_call(
            DOMAIN,
            "dlms_read_obis",
            {
                "config_entry_id": entry.entry_id,
                "obis": ["1.0.1.8.0.255", "1.0.32.7.0.255", "1.0.99.99.0.255"],
            },
            blocking=True,
            return_response=True,
        )
        assert response is not None
        energy, voltage, missing = response["results"]  # type: ignore[misc]
        assert energy["value"] == pytest.approx(sim.meter.physical_value("1.0.1.8.0.255"))
        assert energy["unit"] == "Wh"
        assert energy["scaler"] == 1
        assert voltage["value"] == pytest.approx(sim.meter.physical_value("1.0.32.7.0.255"))
        assert "1.0.99.99.0.255" in missing["error"]
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_write_obis_sets_the_clock_attribute(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        target = NOW + dt.timedelta(hours=2)
        raw = CosemDateTime.from_datetime(target, deviation_min=None).to_bytes()
        await hass.services.async_call(
            DOMAIN,
            "dlms_write_obis",
            {
                "config_entry_id": entry.entry_id,
                "obis": "0.0.1.0.0.255",
                "class_id": 8,
                "attribute": 2,
                "value": raw.hex(),
                "data_type": "octet_string",
            },
            blocking=True,
        )
        assert sim.meter.now() == target
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "dlms_write_obis",
                {
                    "config_entry_id": entry.entry_id,
                    "obis": "0.0.1.0.0.255",
                    "class_id": 8,
                    "attribute": 2,
                    "value": "not hex",
                    "data_type": "octet_string",
                },
                blocking=True,
            )
        assert err.value.translation_key == "dlms_invalid_value"
        # the simulator has no writable register value: the meter's refusal is reported
        with pytest.raises(HomeAssistantError) as refused:
            await hass.services.async_call(
                DOMAIN,
                "dlms_write_obis",
                {
                    "config_entry_id": entry.entry_id,
                    "obis": "1.0.1.8.0.255",
                    "class_id": 3,
                    "attribute": 2,
                    "value": "5",
                    "data_type": "double_long_unsigned",
                },
                blocking=True,
            )
        assert refused.value.translation_key == "device_error"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_read_load_profile_by_date_range(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        start = NOW - dt.timedelta(hours=2)
        response = await hass.services.async_call(
            DOMAIN,
            "dlms_read_load_profile",
            {"config_entry_id": entry.entry_id, "start": start, "end": NOW, "limit": 5},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert response["obis"] == "1.0.99.1.0.255"
        assert response["columns"] == [
            {"obis": "1.0.1.8.0.255", "unit": "Wh"},
            {"obis": "1.0.2.8.0.255", "unit": "Wh"},
        ]
        assert response["count"] == 5
        assert response["truncated"] is True
        first = response["rows"][0]  # type: ignore[index]
        assert first["timestamp"] == start.isoformat()
        assert first["values"][0] == pytest.approx(sim.meter.physical_value("1.0.1.8.0.255", start))
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "dlms_read_load_profile",
                {"config_entry_id": entry.entry_id, "start": NOW, "end": start},
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == "dlms_invalid_span"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_set_clock_is_confirmed(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        wanted = NOW + dt.timedelta(minutes=7)
        await hass.services.async_call(
            DOMAIN,
            "dlms_set_clock",
            {"config_entry_id": entry.entry_id, "time": wanted},
            blocking=True,
        )
        assert sim.meter.now() == wanted
        await hass.services.async_call(
            DOMAIN, "dlms_set_clock", {"config_entry_id": entry.entry_id}, blocking=True
        )
        local_now = dt_util.now().replace(tzinfo=None)
        assert abs(sim.meter.now() - local_now) < dt.timedelta(seconds=5)
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_actions_refuse_push_meters_and_unknown_entries(hass: HomeAssistant) -> None:
    async with push_sim() as sim:
        data = listen_data(sim)
        entry = add_entry(hass, data, {"registers": data["registers"], "capture_frames": False})
        async with pushing(sim):
            await setup_entry(hass, entry)
            with pytest.raises(ServiceValidationError) as err:
                await hass.services.async_call(
                    DOMAIN, "dlms_set_clock", {"config_entry_id": "nope"}, blocking=True
                )
            assert err.value.translation_key == "entry_not_found"
            with pytest.raises(ServiceValidationError) as err:
                await hass.services.async_call(
                    DOMAIN,
                    "dlms_read_obis",
                    {"config_entry_id": entry.entry_id, "obis": "1.0.1.8.0.255"},
                    blocking=True,
                    return_response=True,
                )
            assert err.value.translation_key == "dlms_push_meter"
            assert await hass.config_entries.async_unload(entry.entry_id)
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "dlms_set_clock", {"config_entry_id": entry.entry_id}, blocking=True
            )
        assert err.value.translation_key == "entry_not_loaded"
