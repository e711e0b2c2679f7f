"""The meterlink.dcs_get_readings action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from simulators.dcs import DcsSimulator

from .conftest import setup_entry

NOW = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)


async def call(hass: HomeAssistant, **data: object) -> dict:
    result = await hass.services.async_call(
        DOMAIN, "dcs_get_readings", data, blocking=True, return_response=True
    )
    assert isinstance(result, dict)
    return result


async def test_get_readings(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    reg = dcs_sim.meters[0].registers[0]
    result = await call(
        hass,
        config_entry_id=dcs_entry.entry_id,
        id=f"r{reg.id}",
        start="2024-06-09T00:00:00+00:00",
        end="2024-06-10T00:00:00+00:00",
        period_type="hour",
    )
    assert result["id"] == f"R{reg.id}"
    assert result["count"] == 24
    assert result["truncated"] is False
    first = result["readings"][0]
    assert first["timestamp"] == "2024-06-09T00:00:00+00:00"
    if not reg.is_instantaneous:
        expected = dcs_sim.register_total(reg.id, datetime(2024, 6, 9, 1, tzinfo=UTC), True)
        assert first["total"] == pytest.approx(expected)


async def test_get_readings_limit_and_period_count(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    vm = dcs_sim.virtual_meters[0]
    result = await call(
        hass,
        config_entry_id=dcs_entry.entry_id,
        id=f"VM{vm.id}",
        start="2024-06-09T00:00:00+00:00",
        period_count=48,
        limit=10,
    )
    assert result["count"] == 10
    assert result["truncated"] is True


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"id": "733"}, "dcs_invalid_id"),
        (
            {"id": "R733", "start": "2024-06-09T00:10:00+00:00", "period_count": 2},
            "dcs_invalid_span",
        ),
        ({"id": "R733", "start": "2024-06-09T00:00:00+00:00"}, "dcs_invalid_span"),
    ],
)
async def test_bad_input_is_a_validation_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_entry: MockConfigEntry,
    data: dict[str, object],
    key: str,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, config_entry_id=dcs_entry.entry_id, **data)
    assert err.value.translation_key == key


async def test_unknown_and_unloaded_entries(
    hass: HomeAssistant, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, config_entry_id="nope", id="R1", period_count=1, end="2024-01-01T00:00:00")
    assert err.value.translation_key == "entry_not_found"
    await hass.config_entries.async_unload(dcs_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            config_entry_id=dcs_entry.entry_id,
            id="R1",
            period_count=1,
            end="2024-01-01T00:00:00",
        )
    assert err.value.translation_key == "entry_not_loaded"


async def test_server_failure_is_a_translated_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    dcs_sim.faults.fail_status = 500
    dcs_sim.faults.fail_500 = 1
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            config_entry_id=dcs_entry.entry_id,
            id=f"R{dcs_sim.meters[0].registers[0].id}",
            start="2024-06-09T00:00:00+00:00",
            period_count=2,
        )
    assert err.value.translation_key == "device_error"
    assert err.value.translation_domain == DOMAIN


async def test_forbidden_register_is_a_translated_error(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    reg = dcs_sim.meters[0].registers[0].id
    dcs_sim.faults.forbidden_ids = {f"R{reg}"}
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            config_entry_id=dcs_entry.entry_id,
            id=f"R{reg}",
            end=(NOW - timedelta(minutes=10)).isoformat(),
            period_count=2,
        )
    assert "403" in str(err.value.translation_placeholders)


async def test_get_readings_of_a_register_the_entry_does_not_read(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
) -> None:
    freezer.move_to(NOW)
    await setup_entry(hass, dcs_entry)
    meter = dcs_sim.meters[3]  # not selected by the entry
    reg = meter.registers[0]
    assert f"R{reg.id}" not in dcs_entry.options["registers"]
    result = await call(
        hass,
        config_entry_id=dcs_entry.entry_id,
        id=f"R{reg.id}",
        end="2024-06-10T00:00:00+00:00",
        period_count=3,
    )
    assert result["name"] == f"{meter.name}: {reg.name}"
    assert result["unit"] == reg.unit
    assert result["count"] == 3
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            config_entry_id=dcs_entry.entry_id,
            id="R424242",
            end=NOW.isoformat(),
            period_count=1,
        )
    assert "424242" in str(err.value.translation_placeholders)
