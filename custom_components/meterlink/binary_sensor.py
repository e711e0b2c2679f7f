"""MeterLink binary sensors; each device type adds its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from .coordinator import MeterLinkConfigEntry

# Coordinators do the I/O; entity updates need no limit.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: MeterLinkConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    """Add the binary sensors of the entry's device type."""
    await entry.runtime_data.async_setup_platform(Platform.BINARY_SENSOR, async_add_entities)
