"""The entity base every MeterLink entity derives from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.const import EntityCategory
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import MeterLinkCoordinator

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from homeassistant.helpers.device_registry import DeviceInfo
    from homeassistant.helpers.entity import EntityDescription


class MeterLinkEntity[CoordinatorT: MeterLinkCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """A coordinator entity on a MeterLink device, named by translation or by the device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: CoordinatorT,
        *,
        unique_id: str,
        device_info: DeviceInfo,
        description: EntityDescription | None = None,
    ) -> None:
        """Attach the entity to its device."""
        super().__init__(coordinator)
        if description is not None:
            self.entity_description = description
        self._attr_unique_id = unique_id
        self._attr_device_info = device_info


class MeterLinkLastReadSensor(MeterLinkEntity[MeterLinkCoordinator[Any]], SensorEntity):
    """When the device was last read successfully (stays available while reads fail).

    By default that is the coordinator's last successful poll; a device that shares a
    coordinator with others (meters behind one server or bus) passes ``value_fn``.
    """

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_translation_key = "last_successful_read"

    def __init__(
        self,
        coordinator: MeterLinkCoordinator[Any],
        *,
        unique_id: str,
        device_info: DeviceInfo,
        value_fn: Callable[[], datetime | None] | None = None,
    ) -> None:
        """Attach the sensor to its device."""
        super().__init__(coordinator, unique_id=unique_id, device_info=device_info)
        self._value_fn = value_fn or (lambda: coordinator.last_success)

    @property
    def available(self) -> bool:
        """Return True once a read has succeeded: this is what tells when reads stopped."""
        return self._value_fn() is not None

    @property
    def native_value(self) -> datetime | None:
        """Return the time of the last successful read."""
        return self._value_fn()
