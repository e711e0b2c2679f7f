"""The EKM actions: timed relay hold, meter time from Home Assistant's clock, settings."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from simulators.ekm.bus import EkmSimBus

from .conftest import EKM_V3, EKM_V4_1, EKM_V4_2, EkmClock, setup_entry


def device(hass: HomeAssistant, address: str) -> str:
    entry = dr.async_get(hass).async_get_device({(DOMAIN, f"ekm_{address}")})
    assert entry is not None
    return entry.id


async def call(hass: HomeAssistant, action: str, **data: object) -> None:
    await hass.services.async_call(DOMAIN, action, data, blocking=True)


async def test_timed_relay_hold(
    hass: HomeAssistant,
    ekm_sim: EkmSimBus,
    ekm_clock: EkmClock,
    ekm_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, ekm_entry)
    relay = ekm_sim.meters[EKM_V4_1].relays[0]
    await call(hass, "ekm_relay_hold", device_id=device(hass, EKM_V4_1), relay="1", seconds=90)
    await hass.async_block_till_done()
    assert relay.closed is True
    assert relay.revert_at == pytest.approx(ekm_clock.now + 90, abs=1)
    switch = entity_registry.async_get_entity_id("switch", DOMAIN, f"ekm_{EKM_V4_1}_relay_1")
    assert switch is not None
    assert hass.states.get(switch).state == "on"
    ekm_clock.advance(91)  # the meter switches it back by itself
    await ekm_entry.runtime_data.by_address[EKM_V4_1].async_refresh()  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert hass.states.get(switch).state == "off"


async def test_set_time_from_home_assistant_clock(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_clock: EkmClock, ekm_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, ekm_entry)
    await call(hass, "ekm_set_time", device_id=device(hass, EKM_V3))
    meter = ekm_sim.meters[EKM_V3]
    shown = meter.meter_datetime(ekm_clock.now)
    expected = dt_util.now().replace(tzinfo=None)
    assert abs((shown - expected).total_seconds()) < 5
    # a given time, in Home Assistant's zone
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt_util.get_default_time_zone())
    await call(hass, "ekm_set_time", device_id=device(hass, EKM_V4_2), time=when.isoformat())
    shown = ekm_sim.meters[EKM_V4_2].meter_datetime(ekm_clock.now)
    assert abs(shown - when.replace(tzinfo=None)) < timedelta(seconds=5)


async def test_settings_reach_the_meter(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, ekm_entry)
    meter = ekm_sim.meters[EKM_V4_1]
    dev = device(hass, EKM_V4_1)
    await call(hass, "ekm_set_ct_ratio", device_id=dev, ratio="400")
    assert meter.ct_ratio == 400
    await call(hass, "ekm_set_max_demand_period", device_id=dev, period="30")
    assert meter.max_demand_period == 2
    await call(hass, "ekm_set_max_demand_reset", device_id=dev, interval="weekly")
    assert meter.max_demand_reset == 2
    await call(hass, "ekm_set_pulse_output_ratio", device_id=dev, ratio="1600")
    assert meter.pulse_output_ratio == 1600
    await call(hass, "ekm_set_pulse_input_ratio", device_id=dev, line=2, ratio=25)
    assert meter.pulse_ratios == [1, 25, 1]
    await call(hass, "ekm_set_lcd_items", device_id=dev, items=[1, 2, 47])
    assert meter.lcd_items == [1, 2, 47]
    meter.resettable_wh = 5000.0
    await call(hass, "ekm_reset_resettable_kwh", device_id=dev)
    assert meter.resettable_wh == 0
    meter.max_demand_w = 1234.0
    await call(hass, "ekm_reset_max_demand", device_id=dev)
    assert meter.max_demand_w == 0
    await hass.async_block_till_done()
    ct = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"ekm_{EKM_V4_1}_ct_ratio")
    assert ct is not None
    assert hass.states.get(ct).state == "400"


async def test_action_errors(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, ekm_entry)
    with pytest.raises(ServiceValidationError) as info:
        await call(hass, "ekm_relay_hold", device_id=device(hass, EKM_V3), relay=1, seconds=5)
    assert info.value.translation_key == "ekm_needs_v4"
    with pytest.raises(ServiceValidationError) as info:
        await call(hass, "ekm_reset_max_demand", device_id="nope")
    assert info.value.translation_key == "ekm_not_a_meter"
    hub = dr.async_get(hass).async_get_device({(DOMAIN, f"ekm_bus_{ekm_entry.entry_id}")})
    assert hub is not None
    with pytest.raises(ServiceValidationError) as info:
        await call(hass, "ekm_reset_max_demand", device_id=hub.id)
    assert info.value.translation_key == "ekm_not_a_meter"
    with pytest.raises(ServiceValidationError) as invalid:
        await call(hass, "ekm_set_ct_ratio", device_id=device(hass, EKM_V3), ratio=123)
    assert invalid.value.translation_key == "action_value_not_allowed"
    assert invalid.value.translation_placeholders is not None
    assert invalid.value.translation_placeholders["field"] == "ratio"
    assert "5000" in invalid.value.translation_placeholders["choices"]
    assert "ratio must be one of 100, 200" in str(invalid.value)  # the translated text
    ekm_sim.meters[EKM_V3].password = "99999999"
    with pytest.raises(HomeAssistantError) as info:
        await call(hass, "ekm_set_ct_ratio", device_id=device(hass, EKM_V3), ratio=100)
    assert info.value.translation_key == "ekm_wrong_password"
    dev = device(hass, EKM_V4_2)
    await hass.config_entries.async_unload(ekm_entry.entry_id)
    with pytest.raises(ServiceValidationError) as info:
        await call(hass, "ekm_reset_max_demand", device_id=dev)
    assert info.value.translation_key == "entry_not_loaded"
