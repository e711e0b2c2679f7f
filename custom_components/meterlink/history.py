"""Helpers every history import shares: statistic ids, metadata, where a statistic stands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Protocol

from homeassistant.components.recorder.models import StatisticMetaData
from homeassistant.components.recorder.statistics import get_last_statistics
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import BaseUnitConverter

from .const import DOMAIN, LOGGER
from .protocols.errors import MeterLinkError

CONF_IMPORT_STATISTICS: Final = "import_statistics"  # entry option: import history (default on)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant

HOUR: Final = timedelta(hours=1)
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# Newer Home Assistant wants the unit class in the metadata; 2025.4 does not know the key.
_HAS_UNIT_CLASS: Final = "unit_class" in StatisticMetaData.__annotations__


def external_statistic_id(*parts: str) -> str:
    """Return ``meterlink:<parts>`` with only [a-z0-9_], as the recorder demands."""
    slug = "".join(c if c in _ID_CHARS else "_" for c in "_".join(parts).lower())
    return f"{DOMAIN}:" + "_".join(part for part in slug.split("_") if part)


def with_unit_class(metadata: StatisticMetaData, unit_class: str | None) -> StatisticMetaData:
    """Add the unit class where Home Assistant knows the key (and the class)."""
    if _HAS_UNIT_CLASS:  # pragma: no cover - newer Home Assistant only
        known = unit_class is not None and any(
            getattr(conv, "UNIT_CLASS", None) == unit_class
            for conv in BaseUnitConverter.__subclasses__()
        )
        metadata["unit_class"] = unit_class if known else None  # type: ignore[typeddict-unknown-key]
    return metadata


@dataclass(frozen=True, kw_only=True)
class LastHour:
    """The newest hour a statistic holds."""

    next_hour: datetime  # the hour after it, where an import resumes
    sum: float
    state: float | None


async def async_last_hour(hass: HomeAssistant, statistic_id: str) -> LastHour | None:
    """Return where a statistic stands in the recorder, or None if it has no rows yet."""
    last = await get_instance(hass).async_add_executor_job(
        get_last_statistics,
        hass,
        1,
        statistic_id,
        False,  # noqa: FBT003 - convert_units
        {"sum", "state"},
    )
    rows = last.get(statistic_id)
    if not rows:
        return None
    row = rows[0]
    return LastHour(
        next_hour=dt_util.utc_from_timestamp(row["start"]) + HOUR,
        sum=float(row.get("sum") or 0.0),
        state=row.get("state"),
    )


class Importer(Protocol):
    """A history importer: how often it may run, and one run."""

    @property
    def every(self) -> timedelta:
        """The shortest time between two runs."""

    async def async_run(self) -> Any:
        """Import what is new."""


class BackgroundImport:
    """Runs an entry's history import in the background: one at a time, at most every ``every``."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, label: str) -> None:
        """Name the import after the entry (``label`` says what is imported)."""
        self._hass = hass
        self._entry = entry
        self._label = label
        self.task: asyncio.Task[None] | None = None
        self.last_start: datetime | None = None

    def start(self, importer: Importer | None) -> None:
        """Run ``importer`` in the background, when the entry imports statistics (the default).

        An import that fails is logged and tried again at the next chance (at most ``every``).
        """
        if importer is None or not self._entry.options.get(CONF_IMPORT_STATISTICS, True):
            return
        self.schedule(partial(self._run_logged, importer), importer.every)

    async def _run_logged(self, importer: Importer) -> None:
        try:
            await importer.async_run()
        except MeterLinkError as err:
            LOGGER.warning("%s %s stopped: %s", self._label, self._entry.title, err)

    def schedule(self, run: Callable[[], Coroutine[Any, Any, None]], every: timedelta) -> None:
        """Start ``run()`` unless an import runs, or started less than ``every`` ago."""
        if self.task is not None and not self.task.done():
            return
        now = dt_util.utcnow()
        if self.last_start is not None and now - self.last_start < every:
            return
        self.last_start = now
        self.task = self._entry.async_create_background_task(
            self._hass, run(), f"{DOMAIN} {self._label} {self._entry.title}"
        )

    async def wait(self) -> None:
        """Wait for a running import to finish (tests)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    async def cancel(self) -> None:
        """Stop a running import and wait until it has stopped (unload)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
