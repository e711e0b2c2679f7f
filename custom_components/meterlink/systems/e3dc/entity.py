"""The entity base of E3/DC entities: a value picked from one coordinator's data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...const import LOGGER
from ...entity import MeterLinkEntity
from ...protocols.e3dc.errors import RscpConnectionError, RscpProtocolError
from .runtime import E3dcCoordinator

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

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


async def unless_reply_lost[T](write: Awaitable[T]) -> T | None:
    """Await a write (sent once); None when its reply was lost and the read-back must decide.

    The device may have applied a write whose reply never came, so it is not sent again (a
    toggle would flip back, a setting would be written twice): the caller reads the state
    back and raises unless it shows what was asked. If the device is gone, the read-back
    raises the connection error.
    """
    try:
        return await write
    except (RscpConnectionError, RscpProtocolError) as err:
        LOGGER.debug("E3/DC write reply lost, reading back: %s", err)
        return None
