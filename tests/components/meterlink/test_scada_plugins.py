"""SCADA plugins: data checks (range, rate, stale) with repair issues, and formula items."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.meterlink.const import DOMAIN

from .conftest import setup_entry
from .scada_helpers import fast_timing, modbus_simulator, scada_entry, term, unload

ITEMS = [
    {
        "key": "power",
        "name": "Power",
        "table": "input_register",
        "address": 2,
        "data_type": "int16",
        "unit": "W",
        "min": -5000,
        "max": 5000,
    },
    {
        "key": "level",
        "name": "Level",
        "table": "holding_register",
        "address": 10,
        "data_type": "uint16",
        "max_rate": 10,
    },
    {
        "key": "temperature",
        "name": "Temperature",
        "table": "holding_register",
        "address": 11,
        "data_type": "int16",
        "stale_timeout": 60,
    },
    {"key": "net", "name": "Net", "formula": "{{ items.power - items.level }}", "precision": 1},
    {"key": "broken", "name": "Broken", "formula": "{{ items.missing * 2 }}"},
]


async def test_data_checks_and_formulas(  # noqa: PLR0915 - one story, one simulator
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            await sim.set_values(1, "holding_register", 10, [100, 20])
            # polls far apart: only the stale check runs when the time moves on
            entry = scada_entry(
                hass, sim.port, terms=[term(1, ITEMS, "Meter 1")], scan_interval=3600
            )
            await setup_entry(hass, entry)
            runtime = entry.runtime_data
            coordinator = runtime.coordinator
            issue_id = f"scada_data_check_{entry.entry_id}_1_power"
            assert hass.states.get("sensor.meter_1_power").state == "500"
            assert hass.states.get("sensor.meter_1_net").state == "400.0"
            assert hass.states.get("sensor.meter_1_broken").state == STATE_UNAVAILABLE
            # out of range: never shown, counted; a repair issue once it persists
            await sim.set_values(1, "input_register", 2, [9000])
            for expected_count in (1, 2):
                await coordinator.async_refresh()
                state = hass.states.get("sensor.meter_1_power")
                assert state.state == "500"
                assert state.attributes["quality"] == "rejected"
                assert runtime.stats["1_power"].rejected == expected_count
                assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
            await coordinator.async_refresh()
            issue = issue_registry.async_get_issue(DOMAIN, issue_id)
            assert issue is not None
            assert issue.translation_key == "scada_data_check"
            assert issue.translation_placeholders["reason"] == "out_of_range"
            assert issue.translation_placeholders["value"] == "9000"
            diagnostics = runtime.diagnostics()["terms"][0]["items"]["power"]["data_check"]
            assert diagnostics == {
                "rejected": 3,
                "stale": 0,
                "last_reason": "out_of_range",
                "last_rejected_value": 9000,
                "repair_issue": True,
            }
            # a valid value clears the issue
            await sim.set_values(1, "input_register", 2, [0x10000 - 200])
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_power").state == "-200"
            assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
            assert hass.states.get("sensor.meter_1_net").state == "-300.0"
            # rate of change: a jump of 1000 within a second is rejected
            await sim.set_values(1, "holding_register", 10, [1100])
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_level").state == "100"
            assert runtime.stats["1_level"].last_reason == "rate"
            # the same level again: a real step, not a spike; a lone spike stays rejected
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_level").state == "1100"
            await sim.set_values(1, "holding_register", 10, [5000])
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_level").attributes["quality"] == "rejected"
            await sim.set_values(1, "holding_register", 10, [1100])
            await coordinator.async_refresh()
            assert hass.states.get("sensor.meter_1_level").attributes["quality"] == "good"
            assert runtime.stats["1_level"].rejected == 2
            # stale: the temperature did not change for longer than its timeout
            assert hass.states.get("sensor.meter_1_temperature").state == "20"
            later = dt_util.utcnow() + timedelta(seconds=90)
            runtime.clock = lambda: later
            async_fire_time_changed(hass, later)
            await hass.async_block_till_done()
            assert hass.states.get("sensor.meter_1_temperature").state == STATE_UNAVAILABLE
            assert runtime.stats["1_temperature"].stale == 1
            assert (
                issue_registry.async_get_issue(
                    DOMAIN, f"scada_data_check_{entry.entry_id}_1_temperature"
                )
                is not None
            )
            await unload(hass, entry)
            assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
