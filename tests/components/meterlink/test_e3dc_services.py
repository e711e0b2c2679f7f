"""The E3/DC actions against the simulator: manual charge, power limits, history, idle periods."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.e3dc.commands import PowerMode
from custom_components.meterlink.protocols.e3dc.tags import RscpTag as T

from .conftest import setup_entry
from .e3dc_helpers import (
    add_entry,
    e3dc_sim,
    recorder_config,  # noqa: F401 - the fixture
)


async def test_manual_charge_and_power_limits(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        settings = sim.model.settings
        entry_id = entry.entry_id

        await hass.services.async_call(
            DOMAIN,
            "e3dc_start_manual_charge",
            {"config_entry_id": entry_id, "energy": 2000},
            blocking=True,
        )
        assert settings.manual_charge_wh == 2000
        with pytest.raises(HomeAssistantError) as err:  # once every few hours only
            await hass.services.async_call(
                DOMAIN,
                "e3dc_start_manual_charge",
                {"config_entry_id": entry_id, "energy": 3000},
                blocking=True,
            )
        assert err.value.translation_key == "e3dc_manual_charge_refused"
        assert settings.manual_charge_wh == 2000

        response = await hass.services.async_call(
            DOMAIN,
            "e3dc_set_power_limits",
            {"config_entry_id": entry_id, "max_discharge_power": 2500, "powersave": False},
            blocking=True,
            return_response=True,
        )
        assert response == {
            "power_limits_used": True,
            "max_charge_power": 4500,  # untouched: sent back as read
            "max_discharge_power": 2500,
            "discharge_start_power": 65,
            "powersave": False,
            "weather_regulated_charge": False,
        }
        assert (settings.power_limits_used, settings.max_discharge_w) == (True, 2500)
        assert settings.powersave is False
        response = await hass.services.async_call(
            DOMAIN,
            "e3dc_set_power_limits",
            {"config_entry_id": entry_id, "remove_limits": True, "weather_regulated_charge": True},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert response["power_limits_used"] is False
        assert settings.power_limits_used is False
        assert settings.weather_regulated_charge is True
        assert settings.powersave is False
        limits = hass.states.get("binary_sensor.e3_dc_s10_e_power_limits_in_use")
        assert limits is not None
        assert limits.state == "off"
        for bad, key in (
            ({"remove_limits": True, "max_charge_power": 1000}, "e3dc_limits_and_remove"),
            ({}, "e3dc_nothing_to_set"),
        ):
            with pytest.raises(ServiceValidationError) as verr:
                await hass.services.async_call(
                    DOMAIN,
                    "e3dc_set_power_limits",
                    {"config_entry_id": entry_id, **bad},
                    blocking=True,
                )
            assert verr.value.translation_key == key
        with pytest.raises(ServiceValidationError) as invalid:
            await hass.services.async_call(
                DOMAIN,
                "e3dc_set_power_limits",
                {"config_entry_id": entry_id, "max_charge_power": -5},
                blocking=True,
            )
        assert invalid.value.translation_key == "action_value_out_of_range"
        assert invalid.value.translation_placeholders == {
            "action": "e3dc_set_power_limits",
            "field": "max_charge_power",
            "min": "0",
            "max": "100000",
        }
        await hass.config_entries.async_unload(entry.entry_id)
        with pytest.raises(ServiceValidationError) as verr:
            await hass.services.async_call(
                DOMAIN,
                "e3dc_start_manual_charge",
                {"config_entry_id": entry_id, "energy": 100},
                blocking=True,
            )
        assert verr.value.translation_key == "entry_not_loaded"


async def test_get_history(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        yesterday = dt_util.now().date() - timedelta(days=1)
        response = await hass.services.async_call(
            DOMAIN,
            "e3dc_get_history",
            {"config_entry_id": entry.entry_id, "period": "day", "start": yesterday},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        start = datetime.combine(yesterday, time(), tzinfo=dt_util.get_default_time_zone())
        end = start + timedelta(days=1)
        assert response["start"] == start.isoformat()
        assert response["end"] == end.isoformat()
        totals = sim.model.history(int(start.timestamp()), int((end - start).total_seconds()))
        assert response["solar_production"] == pytest.approx(totals["pv"] / 1000, abs=1e-3)
        assert response["house_consumption"] == pytest.approx(totals["house"] / 1000, abs=1e-3)
        assert response["grid_import"] == pytest.approx(totals["grid_out"] / 1000, abs=1e-3)
        assert response["unit"] == "kWh"
        for period, first in (
            ("week", yesterday - timedelta(days=yesterday.weekday())),
            ("month", yesterday.replace(day=1)),
            ("year", date(yesterday.year, 1, 1)),
        ):
            response = await hass.services.async_call(
                DOMAIN,
                "e3dc_get_history",
                {"config_entry_id": entry.entry_id, "period": period, "start": yesterday},
                blocking=True,
                return_response=True,
            )
            assert response is not None
            assert response["period"] == period
            assert response["start"].startswith(first.isoformat())
            assert response["solar_production"] is not None
        response = await hass.services.async_call(  # today so far by default
            DOMAIN,
            "e3dc_get_history",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert response["start"].startswith(dt_util.now().date().isoformat())
        await hass.config_entries.async_unload(entry.entry_id)


async def test_idle_periods(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        entry_id = entry.entry_id
        for day, begin in (("monday", "06:00"), ("tuesday", "07:30")):
            response = await hass.services.async_call(
                DOMAIN,
                "e3dc_set_idle_period",
                {
                    "config_entry_id": entry_id,
                    "type": "charge",
                    "day": day,
                    "start": begin,
                    "end": "10:00",
                },
                blocking=True,
                return_response=True,
            )
        assert response is not None
        assert sorted(response["idle_periods"], key=lambda p: p["day"]) == [
            {"type": "charge", "day": "monday", "active": True, "start": "06:00", "end": "10:00"},
            {"type": "charge", "day": "tuesday", "active": True, "start": "07:30", "end": "10:00"},
        ]
        assert len(sim.model.settings.idle_periods) == 2
        response = await hass.services.async_call(
            DOMAIN,
            "e3dc_get_idle_periods",
            {"config_entry_id": entry_id},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert len(response["idle_periods"]) == 2
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "e3dc_set_idle_period",
                {
                    "config_entry_id": entry_id,
                    "type": "discharge",
                    "day": "sunday",
                    "start": "10:00",
                    "end": "09:00",
                },
                blocking=True,
            )
        assert err.value.translation_key == "e3dc_idle_period_order"
        await hass.config_entries.async_unload(entry.entry_id)


async def test_actions_check_the_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    other = MockConfigEntry(domain=DOMAIN, title="DCS x", data={"system": "dcs"})
    other.add_to_hass(hass)
    for entry_id, key in (("nope", "entry_not_found"), (other.entry_id, "wrong_system")):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "e3dc_get_idle_periods",
                {"config_entry_id": entry_id},
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == key


async def test_power_mode_is_kept_then_released(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        settings = sim.model.settings
        await hass.services.async_call(
            DOMAIN,
            "e3dc_set_power_mode",
            {
                "config_entry_id": entry.entry_id,
                "mode": "grid_charge",
                "power": 2000,
                "duration": {"seconds": 25},
            },
            blocking=True,
        )
        assert (settings.power_mode, settings.power_mode_value) == (4, 2000)
        sent = sim.stats.requests_by_tag[T.EMS_REQ_SET_POWER]
        runtime = entry.runtime_data
        assert runtime.power_mode == (PowerMode.GRID_CHARGE, 2000, 2)  # 25 s: two repeats
        # what the 10-second timer runs (called here: firing timers would expire the
        # client's own timeouts too)
        for _ in range(2):
            await runtime.async_keep_power_mode(dt_util.utcnow())
        assert sim.stats.requests_by_tag[T.EMS_REQ_SET_POWER] == sent + 2
        assert settings.power_mode == 4
        await runtime.async_keep_power_mode(dt_util.utcnow())  # time is up: back to normal
        assert settings.power_mode == 0
        assert runtime.power_mode is None
        await runtime.async_keep_power_mode(dt_util.utcnow())
        assert sim.stats.requests_by_tag[T.EMS_REQ_SET_POWER] == sent + 3  # no longer sent
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "e3dc_set_power_mode",
                {"config_entry_id": entry.entry_id, "mode": "charge"},
                blocking=True,
            )
        assert err.value.translation_key == "e3dc_power_mode_needs_power"
        await hass.services.async_call(
            DOMAIN,
            "e3dc_set_power_mode",
            {"config_entry_id": entry.entry_id, "mode": "idle"},
            blocking=True,
        )
        assert settings.power_mode == 1
        await hass.services.async_call(
            DOMAIN,
            "e3dc_set_power_mode",
            {"config_entry_id": entry.entry_id, "mode": "normal"},
            blocking=True,
        )
        assert settings.power_mode == 0
        assert entry.runtime_data.power_mode is None
        await hass.services.async_call(  # still forced when the entry unloads: timer stopped
            DOMAIN,
            "e3dc_set_power_mode",
            {"config_entry_id": entry.entry_id, "mode": "discharge", "power": 500},
            blocking=True,
        )
        assert settings.power_mode == 2
        await hass.config_entries.async_unload(entry.entry_id)
        assert runtime.power_mode is None
