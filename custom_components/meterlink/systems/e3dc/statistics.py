"""Import the E3/DC history database into Home Assistant's long-term statistics.

Each energy flow (solar production, house consumption, grid import and export, battery charge
and discharge) gets an external statistic ``meterlink:e3dc_<serial>_<flow>`` with hourly sums
in kWh, the past included, for the Energy dashboard. The import is:

- incremental and resumable: it starts after the last hour already in the recorder (or
  ``IMPORT_BACKFILL`` ago for a new statistic) and only adds complete hours;
- free of duplicates: an hour is handed to the recorder once per statistic, and a second run
  (or a restart) starts after it;
- batched: one history request brings hourly values of up to ``IMPORT_WINDOW``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_add_external_statistics
from homeassistant.const import UnitOfEnergy
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, LOGGER
from ...history import HOUR, async_last_hour, external_statistic_id, with_unit_class
from ...protocols.e3dc.commands import HistoryPeriod
from .const import IMPORT_BACKFILL, IMPORT_EVERY, IMPORT_WINDOW

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .runtime import E3dcRuntime

# statistic key -> (HistoryTotals field, name shown in the Energy dashboard)
FLOWS: Final = {
    "solar_production": ("solar_production_wh", "solar production"),
    "house_consumption": ("house_consumption_wh", "house consumption"),
    "grid_import": ("grid_import_wh", "grid import"),
    "grid_export": ("grid_export_wh", "grid export"),
    "battery_charge": ("battery_charge_wh", "battery charge"),
    "battery_discharge": ("battery_discharge_wh", "battery discharge"),
}


def statistic_id(serial: str, flow: str) -> str:
    """Return the external statistic id of one flow (``meterlink:e3dc_s10_7212_grid_import``)."""
    return external_statistic_id("e3dc", serial, flow)


@dataclass
class _Cursor:
    """Where one statistic stands: the next hour to add and the running sum (kWh)."""

    next_hour: datetime
    sum: float


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class E3dcStatisticsImporter:
    """Keeps each flow's statistic filled up to the last complete hour."""

    every = IMPORT_EVERY

    def __init__(self, hass: HomeAssistant, runtime: E3dcRuntime) -> None:
        """Prepare; nothing is read until :meth:`async_run`."""
        self.hass = hass
        self.runtime = runtime
        self._cursors: dict[str, _Cursor] = {}
        self.imported_hours = 0
        self.runs = 0

    async def async_run(self, now: datetime | None = None) -> int:
        """Import every flow up to the last complete hour before ``now``; return rows added."""
        now = now or dt_util.utcnow()
        end = _floor_hour(now)
        cursors = {flow: await self._cursor(flow, now) for flow in FLOWS}
        start = min(c.next_hour for c in cursors.values())
        added = 0
        while start < end:
            window_end = min(end, start + IMPORT_WINDOW)
            series = await self.runtime.client.history_series(
                HistoryPeriod.DAY,
                start=int(start.timestamp()),
                span_s=int((window_end - start).total_seconds()),
                interval_s=int(HOUR.total_seconds()),
            )
            batches: dict[str, list[StatisticData]] = {flow: [] for flow in FLOWS}
            for totals in sorted(series, key=lambda t: t.start):
                hour = totals.start
                if not start <= hour < window_end:
                    continue
                for flow, (field, _name) in FLOWS.items():
                    cursor = cursors[flow]
                    if hour < cursor.next_hour:
                        continue  # already in the recorder
                    cursor.next_hour = hour + HOUR
                    value = getattr(totals, field)
                    if value is None:
                        continue
                    cursor.sum = round(cursor.sum + max(float(value), 0.0) / 1000, 6)
                    batches[flow].append(StatisticData(start=hour, sum=cursor.sum))
            for flow, batch in batches.items():
                if batch:
                    async_add_external_statistics(self.hass, self._metadata(flow), batch)
                    added += len(batch)
                # hours the device has no value for are not asked again
                cursors[flow].next_hour = max(cursors[flow].next_hour, window_end)
            start = window_end
        if added:
            LOGGER.debug("E3/DC %s: imported %s hourly values", self.runtime.serial, added)
        self.imported_hours += added
        self.runs += 1
        return added

    async def _cursor(self, flow: str, now: datetime) -> _Cursor:
        """Return the in-memory cursor, else where the recorder stands, else the backfill."""
        stat_id = statistic_id(self.runtime.serial, flow)
        cursor = self._cursors.get(stat_id)
        if cursor is not None:
            return cursor
        last = await async_last_hour(self.hass, stat_id)
        if last is not None:
            cursor = _Cursor(next_hour=last.next_hour, sum=last.sum)
        else:
            cursor = _Cursor(next_hour=_floor_hour(now - IMPORT_BACKFILL), sum=0.0)
        self._cursors[stat_id] = cursor
        return cursor

    def _metadata(self, flow: str) -> StatisticMetaData:
        name = FLOWS[flow][1]
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"E3/DC {self.runtime.serial} {name}",
            source=DOMAIN,
            statistic_id=statistic_id(self.runtime.serial, flow),
            unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
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
