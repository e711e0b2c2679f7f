"""Import a polled meter's load profile into Home Assistant's long-term statistics.

Each cumulative energy column of the load profile (1.0.99.1.0.255 by default: active energy
import and export captured every 15 minutes) gets an external statistic
``meterlink:dlms_<meter>_<obis>`` that the Energy dashboard can use, the past included.
The import is:

- idempotent and resumable: it starts after the last hour already in the recorder (or the
  backfill window for a new statistic) and only ever adds what is missing;
- read by date range a window at a time, up to the meter's own clock;
- in meter local time: capture times are naive, read in Home Assistant's time zone.

An hour's ``state`` is the register total captured at its end; ``sum`` adds each hour's
increase (a counter that steps back, a replaced meter, adds nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, LOGGER
from ...history import HOUR, async_last_hour, external_statistic_id, with_unit_class
from ...protocols.dlms.vendors import vendor_profile
from .const import CONF_VENDOR, OBIS_CLOCK
from .units import obis_groups

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from ...protocols.dlms.models import DlmsProfileRow
    from .runtime import DlmsRuntime

# a new statistic is filled this far back
BACKFILL: Final = timedelta(days=30)
# the profile is read in windows of this size
IMPORT_WINDOW: Final = timedelta(days=7)
# the importer runs at most this often
IMPORT_EVERY: Final = timedelta(hours=1)
_D_INTEGRAL: Final = 8  # IEC 62056-6-1: value group D 8 = time integral (a cumulative total)


def _is_energy(obis: str, unit: str | None) -> bool:
    """Return True for a cumulative active energy column (D = 8, unit Wh)."""
    groups = obis_groups(obis)
    return bool(groups) and groups[3] == _D_INTEGRAL and unit == "Wh"


def statistic_id(meter_id: str, obis: str) -> str:
    """Return the external statistic id of a profile column (``meterlink:dlms_<meter>_<obis>``)."""
    return external_statistic_id("dlms", meter_id, obis)


@dataclass
class _Cursor:
    """Where one statistic stands: the next hour to add, the running sum, the last total."""

    next_hour: datetime  # UTC
    sum: float
    last_total: float | None


class DlmsStatisticsImporter:
    """Keeps each energy column's statistic filled up to the meter's last full hour."""

    every = IMPORT_EVERY

    def __init__(self, hass: HomeAssistant, runtime: DlmsRuntime) -> None:
        """Prepare; nothing is read until :meth:`async_run`."""
        self.hass = hass
        self.runtime = runtime
        self.obis = vendor_profile(runtime.entry.data.get(CONF_VENDOR)).load_profile_obis
        self._cursors: dict[str, _Cursor] = {}
        self.imported_hours = 0
        self.runs = 0

    def _local(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=dt_util.get_default_time_zone()).astimezone(UTC)

    def _meter_time(self, utc: datetime) -> datetime:
        return dt_util.as_local(utc).replace(tzinfo=None)

    async def async_run(self) -> int:
        """Import up to the meter clock's last full hour; return how many hours were added."""
        client = self.runtime.client
        assert client is not None  # noqa: S101 - only polled meters import
        clock = await client.read(OBIS_CLOCK, class_id=8, attribute=2)
        if not isinstance(clock.value, datetime):
            return 0
        end = self._local(clock.value.replace(tzinfo=None)).replace(
            minute=0, second=0, microsecond=0
        )
        # the last hour's rows tell the columns; each column's statistic says where it stands
        recent = [
            row
            async for row in client.read_profile(
                self.obis, self._meter_time(end - HOUR), self._meter_time(end)
            )
        ]
        columns = recent[0].columns if recent else ()
        cursors = [
            await self._cursor(statistic_id(self.runtime.meter_id, column.obis), end - BACKFILL)
            for column in columns
            if _is_energy(column.obis, column.unit)
        ]
        if not cursors:
            self.runs += 1
            return 0
        start = min(c.next_hour for c in cursors)
        added = 0
        while start < end:
            window_end = min(end, start + IMPORT_WINDOW)
            rows = [
                row
                async for row in client.read_profile(
                    self.obis, self._meter_time(start - HOUR), self._meter_time(window_end)
                )
            ]
            added += await self._import_rows(rows, end)
            start = window_end
        self.runs += 1
        self.imported_hours += added
        if added:
            LOGGER.debug("DLMS %s: imported %s statistic hours", self.runtime.meter_id, added)
        return added

    async def _cursor(self, stat_id: str, first_hour: datetime) -> _Cursor:
        cursor = self._cursors.get(stat_id)
        if cursor is not None:
            return cursor
        last = await async_last_hour(self.hass, stat_id)
        if last is not None:
            cursor = _Cursor(next_hour=last.next_hour, sum=last.sum, last_total=last.state)
        else:
            cursor = _Cursor(next_hour=first_hour, sum=0.0, last_total=None)
        self._cursors[stat_id] = cursor
        return cursor

    async def _import_rows(self, rows: list[DlmsProfileRow], end: datetime) -> int:
        """Turn full-hour captures into hourly statistics of every energy column."""
        hourly: list[tuple[datetime, DlmsProfileRow]] = [
            (self._local(row.timestamp.replace(tzinfo=None)), row)
            for row in rows
            if row.timestamp is not None and row.timestamp.minute == 0
        ]
        if not hourly:
            return 0
        added = 0
        for column in hourly[0][1].columns:
            if not _is_energy(column.obis, column.unit):
                continue
            stat_id = statistic_id(self.runtime.meter_id, column.obis)
            cursor = await self._cursor(stat_id, hourly[0][0])
            batch: list[StatisticData] = []
            for captured, row in hourly:
                value = row.value(column.obis)
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                hour_start = captured - HOUR  # the total at T closes the hour before T
                if hour_start < cursor.next_hour - HOUR or captured > end:
                    continue
                total = float(value)
                if hour_start >= cursor.next_hour and cursor.last_total is not None:
                    cursor.sum += max(0.0, total - cursor.last_total)
                    batch.append(StatisticData(start=hour_start, state=total, sum=cursor.sum))
                    cursor.next_hour = hour_start + HOUR
                cursor.last_total = total
            if batch:
                async_add_external_statistics(
                    self.hass, self._metadata(stat_id, column.obis), batch
                )
                added += len(batch)
        return added

    def _name(self, obis: str) -> str:
        """Name the statistic after the register's sensor (as the user sees it), else OBIS."""
        entity_id = er.async_get(self.hass).async_get_entity_id(
            "sensor", DOMAIN, f"{self.runtime.meter_id}_{obis}"
        )
        state = self.hass.states.get(entity_id) if entity_id else None
        name = state.attributes.get("friendly_name") if state else None
        if isinstance(name, str) and name:
            return f"{name} (load profile)"
        return f"{self.runtime.entry.title} {obis} (load profile)"

    def _metadata(self, stat_id: str, obis: str) -> StatisticMetaData:
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=self._name(obis),
            source=DOMAIN,
            statistic_id=stat_id,
            unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        )
        return with_unit_class(metadata, "energy")

    def diagnostics(self) -> dict[str, Any]:
        """Return how far each statistic has been imported."""
        return {
            "runs": self.runs,
            "imported_hours": self.imported_hours,
            "cursors": {
                stat_id: {"next_hour": c.next_hour.isoformat(), "sum": c.sum}
                for stat_id, c in self._cursors.items()
            },
        }
