"""Runtime data and the coordinator base every MeterLink system builds on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .helpers import error_translation
from .protocols.errors import MeterLinkAuthenticationError, MeterLinkError

if TYPE_CHECKING:
    from homeassistant.const import Platform
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from .capture import FrameCapture

# After a failed poll the next one comes sooner, doubling up to the normal interval.
FIRST_RETRY = timedelta(seconds=15)


class MeterLinkRuntime(ABC):
    """What a loaded entry holds (``entry.runtime_data``): client, coordinators, capture."""

    capture: FrameCapture
    coordinators: list[MeterLinkCoordinator[Any]]

    @abstractmethod
    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add this system's entities of one platform."""

    async def async_shutdown(self) -> None:  # noqa: B027 - optional hook
        """Close connections; called when the entry unloads."""

    def diagnostics(self) -> dict[str, Any]:
        """Return the system's state for the diagnostics download (secrets removed)."""
        return {}


type MeterLinkConfigEntry = ConfigEntry[MeterLinkRuntime]


class MeterLinkCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A coordinator that heals itself and remembers its last successful read.

    Subclasses implement :meth:`_async_fetch`. Protocol errors become translated
    ``UpdateFailed`` (entities go unavailable, never 0) or ``ConfigEntryAuthFailed`` (reauth).
    After a failure the next attempt comes after 15 s, then 30 s, ... up to the normal interval,
    so a device that comes back is read again quickly without hammering one that stays away.
    """

    config_entry: MeterLinkConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        *,
        name: str,
        update_interval: timedelta,
    ) -> None:
        """Set up a coordinator for one device and cadence."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=name,
            update_interval=update_interval,
            always_update=False,
        )
        self.base_interval = update_interval
        self.last_success: datetime | None = None
        self.last_error: MeterLinkError | None = None
        self._retry = FIRST_RETRY

    @abstractmethod
    async def _async_fetch(self) -> DataT:
        """Read the device; raise a MeterLinkError on failure."""

    async def _async_update_data(self) -> DataT:
        """Fetch, translating protocol errors and adapting the retry interval."""
        try:
            data = await self._async_fetch()
        except MeterLinkError as err:
            raise self.failed(err) from err
        self.last_success = dt_util.utcnow()
        self.last_error = None
        self._retry = FIRST_RETRY
        self.update_interval = self.base_interval
        return data

    def failed(self, err: MeterLinkError) -> ConfigEntryAuthFailed | UpdateFailed:
        """Record a failure; return the translated exception to raise from it."""
        self.last_error = err
        self.update_interval = min(self.base_interval, self._retry)
        self._retry = min(self.base_interval, self._retry * 2)
        key, placeholders = error_translation(err)
        if isinstance(err, MeterLinkAuthenticationError):
            return ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders=placeholders,
            )
        return UpdateFailed(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )
