"""The shared entity command wrapper: protocol errors become translated Home Assistant errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.coordinator import MeterLinkCoordinator
from custom_components.meterlink.entity import MeterLinkEntity
from custom_components.meterlink.helpers import meterlink_exception_handler
from custom_components.meterlink.protocols.dcs import (
    DcsAuthenticationError,
    DcsConnectionError,
)
from custom_components.meterlink.protocols.errors import MeterLinkError


class _Coordinator(MeterLinkCoordinator[int]):
    async def _async_fetch(self) -> int:
        return 1


class _Entity(MeterLinkEntity[_Coordinator]):
    def __init__(self, coordinator: _Coordinator, error: Exception | None) -> None:
        super().__init__(
            coordinator, unique_id="x", device_info=DeviceInfo(identifiers={(DOMAIN, "x")})
        )
        self.error = error
        self.calls = 0

    @meterlink_exception_handler
    async def async_command(self, value: int) -> None:
        self.calls += value
        if self.error is not None:
            raise self.error


@pytest.fixture
def coordinator(hass: HomeAssistant) -> _Coordinator:
    entry = MockConfigEntry(domain=DOMAIN, data={"system": "dcs"})
    entry.add_to_hass(hass)
    return _Coordinator(hass, entry, name="test", update_interval=timedelta(seconds=30))


async def test_success_passes_through(hass: HomeAssistant, coordinator: _Coordinator) -> None:
    entity = _Entity(coordinator, None)
    entity.hass = hass
    await entity.async_command(2)
    assert entity.calls == 2


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (DcsConnectionError("cannot connect to h port 1", host="h", port=1), "cannot_connect"),
        (MeterLinkError("odd"), "unknown_error"),
    ],
)
async def test_errors_are_translated(
    hass: HomeAssistant, coordinator: _Coordinator, error: Exception, key: str
) -> None:
    entity = _Entity(coordinator, error)
    entity.hass = hass
    with pytest.raises(HomeAssistantError) as err:
        await entity.async_command(1)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert err.value.translation_placeholders == {"error": str(error)}


async def test_authentication_error_schedules_reload(
    hass: HomeAssistant, coordinator: _Coordinator
) -> None:
    entity = _Entity(coordinator, DcsAuthenticationError("no", secret="password"))
    entity.hass = hass
    with (
        patch.object(hass.config_entries, "async_schedule_reload") as reload,
        pytest.raises(HomeAssistantError) as err,
    ):
        await entity.async_command(1)
    reload.assert_called_once_with(coordinator.config_entry.entry_id)
    assert err.value.translation_key == "invalid_auth"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["secret"] == "password"


async def test_coordinator_backs_off_then_recovers(
    hass: HomeAssistant, coordinator: _Coordinator
) -> None:
    calls: list[Any] = []

    async def failing() -> int:
        calls.append(1)
        raise DcsConnectionError("down", host="h", port=1)

    with patch.object(coordinator, "_async_fetch", failing):
        intervals = []
        for _ in range(4):
            await coordinator.async_refresh()
            intervals.append(coordinator.update_interval)
    assert intervals == [
        timedelta(seconds=15),
        timedelta(seconds=30),
        timedelta(seconds=30),
        timedelta(seconds=30),
    ]
    assert not coordinator.last_update_success
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert coordinator.update_interval == timedelta(seconds=30)
    assert coordinator.last_success is not None
