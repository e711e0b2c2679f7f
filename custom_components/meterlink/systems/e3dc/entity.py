"""The entity base of E3/DC entities: a value picked from one coordinator's data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...entity import MeterLinkEntity
from .runtime import E3dcCoordinator

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.helpers.device_registry import DeviceInfo
    from homeassistant.helpers.entity import EntityDescription

    from .runtime import E3dcRuntime


class E3dcEntity(MeterLinkEntity[E3dcCoordinator[Any]]):
    """An entity whose state comes from ``source(coordinator.data)``.

    ``source`` picks the part the entity describes (a battery, a wallbox, a string); it
    returns None when the part did not answer, and the entity is then unavailable.
    """

    def __init__(
        self,
        runtime: E3dcRuntime,
        coordinator: E3dcCoordinator[Any],
        *,
        key: str,
        device_info: DeviceInfo,
        description: EntityDescription | None = None,
        source: Callable[[Any], Any] = lambda data: data,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        """Attach the entity to its device; ``key`` makes the unique id with the serial."""
        super().__init__(
            coordinator,
            unique_id=f"{runtime.serial}_{key}",
            device_info=device_info,
            description=description,
        )
        self.runtime = runtime
        self._source = source
        if placeholders:
            self._attr_translation_placeholders = placeholders

    @property
    def part(self) -> Any:
        """Return the part of the coordinator's data this entity describes (None: absent)."""
        data = self.coordinator.data
        return None if data is None else self._source(data)
