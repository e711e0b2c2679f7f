"""Import DCS half-hourly history into Home Assistant's long-term statistics.

Each selected register and virtual meter gets an external statistic
``meterlink:dcs_<server>_<r733>`` that the Energy dashboard can use; it shows real
half-hourly consumption, the past included. The import is:

- streamed: readings are aggregated into hours as they arrive, a window at a time;
- idempotent and resumable: it starts after the last hour already in the recorder (or the
  backfill window for a new statistic) and only ever adds what is missing;
- DST-proof: DCS readings and recorder statistics are both UTC hours.

Cumulative targets get ``state`` (register total at the end of the hour) and ``sum``
(consumption since the first imported hour, from the periods' own consumption, so a meter
reset does not count twice); instantaneous ones get mean/min/max.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
)
from homeassistant.util import dt as dt_util

from ...const import DOMAIN, LOGGER
from ...history import HOUR, async_last_hour, external_statistic_id, with_unit_class
from ...protocols.dcs import DcsBadRequestError, DcsError, DcsPeriod, DcsReading, DcsStatus
from .const import (
    CONF_BACKFILL_DAYS,
    DEFAULT_BACKFILL_DAYS,
    IMPORT_EVERY,
    IMPORT_SETTLE,
    IMPORT_WINDOW,
    MIN_IMPORT_WINDOW,
)
from .units import dcs_unit

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from homeassistant.core import HomeAssistant

    from .runtime import DcsRuntime, DcsTargetInfo


def statistic_id(server_id: str, wire: str) -> str:
    """Return the external statistic id of a target (``meterlink:dcs_<server>_r733``)."""
    return external_statistic_id("dcs", server_id, wire)


@dataclass
class _Cursor:
    """Where the import of one statistic stands: the next hour to add and the running sum."""

    next_hour: datetime
    sum: float
    last_total: float | None = None


@dataclass
class _Hour:
    start: datetime
    final_slots: int = 0
    consumption: float = 0.0
    total: float | None = None
    values: list[float] | None = None


class DcsStatisticsImporter:
    """Keeps each target's statistic filled up to the newest complete hour."""

    every = IMPORT_EVERY

    def __init__(self, hass: HomeAssistant, runtime: DcsRuntime) -> None:
        """Prepare; nothing is read until :meth:`async_run`."""
        self.hass = hass
        self.runtime = runtime
        self._cursors: dict[str, _Cursor] = {}
        self.window = IMPORT_WINDOW
        self.imported_hours = 0
        self.runs = 0

    @property
    def backfill(self) -> timedelta:
        """Return how far back a new statistic is filled."""
        days = self.runtime.entry.options.get(CONF_BACKFILL_DAYS, DEFAULT_BACKFILL_DAYS)
        return timedelta(days=int(days))

    async def async_run(self, now: datetime | None = None) -> int:
        """Import every target up to ``now``; return how many hours were added."""
        now = now or dt_util.utcnow()
        added = 0
        for wire, info in list(self.runtime.targets.items()):
            added += await self.async_import_target(wire, info, now)
        self.runs += 1
        return added

    async def async_import_target(  # noqa: C901 - one loop, its failure cases spelled out
        self, wire: str, info: DcsTargetInfo, now: datetime
    ) -> int:
        """Import one target; return the number of hours added.

        The cursor only moves past hours that were handed to the recorder: a failure in the
        middle of a window keeps the hours before it and loses none after it.
        """
        stat_id = statistic_id(self.runtime.server_id, wire)
        committed = self._cursors.get(stat_id) or await self._load_cursor(stat_id, now)
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        metadata = self._metadata(stat_id, info)
        added = 0
        start = committed.next_hour
        while start < end:
            window_end = min(end, start + self.window)
            batch: list[StatisticData] = []
            last = committed
            failure: DcsError | None = None
            try:
                async with contextlib.aclosing(
                    self._hours(info, replace(committed), start, window_end, now)
                ) as hours:
                    async for stat, snapshot in hours:
                        if stat is not None:
                            batch.append(stat)
                        last = snapshot
            except DcsBadRequestError as err:
                if self.window > MIN_IMPORT_WINDOW and not batch:
                    # the server limits the range of one query: ask for less at a time
                    self.window = max(MIN_IMPORT_WINDOW, self.window / 2)
                    LOGGER.debug("DCS %s: import window now %s (%s)", wire, self.window, err)
                    continue
                failure = err
            except DcsError as err:
                failure = err
            if batch:
                async_add_external_statistics(self.hass, metadata, batch)
                added += len(batch)
            committed = last
            self._cursors[stat_id] = committed
            if failure is not None:
                self.imported_hours += added
                raise failure
            if committed.next_hour < window_end:
                break  # the server has not published the rest yet
            start = window_end
        if added:
            LOGGER.debug("DCS %s: imported %s hours into %s", wire, added, stat_id)
        self.imported_hours += added
        return added

    async def _load_cursor(self, stat_id: str, now: datetime) -> _Cursor:
        last = await async_last_hour(self.hass, stat_id)
        if last is not None:
            cursor = _Cursor(next_hour=last.next_hour, sum=last.sum, last_total=last.state)
        else:
            first = (now - self.backfill).astimezone(UTC)
            cursor = _Cursor(next_hour=first.replace(minute=0, second=0, microsecond=0), sum=0.0)
        self._cursors[stat_id] = cursor
        return cursor

    def _metadata(self, stat_id: str, info: DcsTargetInfo) -> StatisticMetaData:
        unit = dcs_unit(info.unit, instantaneous=info.is_instantaneous, name=info.name)
        meter = self.runtime.meter_of(info)
        # "(history)": the Energy dashboard's picker lists the live sensor by the same name
        name = f"{meter.name} {info.name} (history)" if meter else f"{info.name} (history)"
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.ARITHMETIC
            if info.is_instantaneous
            else StatisticMeanType.NONE,
            has_sum=not info.is_instantaneous,
            name=name,
            source=DOMAIN,
            statistic_id=stat_id,
            unit_of_measurement=unit.unit,
        )
        return with_unit_class(metadata, unit.unit_class)

    async def _hours(
        self,
        info: DcsTargetInfo,
        cursor: _Cursor,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> AsyncGenerator[tuple[StatisticData | None, _Cursor]]:
        """Yield each complete hour of [start, end) with the cursor after it.

        ``cursor`` is a working copy. A skipped hour (no usable value) yields None with the
        cursor past it. The hours stop at the first one the server has not finished publishing.
        """
        hour: _Hour | None = None
        settled_before = now - IMPORT_SETTLE
        async with contextlib.aclosing(
            self.runtime.client.reading_batches(
                info.target,
                start=start,
                end=end,
                period=DcsPeriod.HALF_HOUR,
                instantaneous=info.is_instantaneous,
            )
        ) as batches:
            async for batch in batches:
                for reading in batch:
                    slot_hour = reading.timestamp.astimezone(UTC).replace(
                        minute=0, second=0, microsecond=0
                    )
                    if slot_hour < cursor.next_hour:
                        continue
                    if hour is not None and slot_hour != hour.start:
                        if not self._settled(hour, settled_before):
                            return
                        yield self._finish(info, cursor, hour), replace(cursor)
                        hour = None
                    if hour is None:
                        hour = _Hour(start=slot_hour, values=[] if info.is_instantaneous else None)
                    self._add(info, cursor, hour, reading)
        if hour is not None and self._settled(hour, settled_before):
            yield self._finish(info, cursor, hour), replace(cursor)

    @staticmethod
    def _settled(hour: _Hour, settled_before: datetime) -> bool:
        """Return True once both half-hours are real readings, or the hour is old enough.

        Interpolated (estimated) and generated (padding) half-hours may still be replaced by
        real readings, so a recent hour made of them waits.
        """
        return hour.final_slots >= 2 or hour.start + HOUR <= settled_before  # noqa: PLR2004

    @staticmethod
    def _add(info: DcsTargetInfo, cursor: _Cursor, hour: _Hour, reading: DcsReading) -> None:
        if DcsStatus.GENERATED in reading.status:
            return  # padding for missing data: no value at all
        if DcsStatus.INTERPOLATED not in reading.status:
            hour.final_slots += 1
        if info.is_instantaneous:
            if reading.total is not None and hour.values is not None:
                hour.values.append(reading.total)
            return
        consumption = reading.period
        if consumption is None and reading.total is not None and cursor.last_total is not None:
            consumption = max(0.0, reading.total - cursor.last_total)
        hour.consumption += consumption or 0.0
        if reading.total is not None:
            hour.total = reading.total
            cursor.last_total = reading.total

    @staticmethod
    def _finish(info: DcsTargetInfo, cursor: _Cursor, hour: _Hour) -> StatisticData | None:
        """Move the cursor past the hour; return its statistic (None: nothing to record)."""
        cursor.next_hour = hour.start + HOUR
        if info.is_instantaneous:
            values = hour.values or []
            if not values:
                return None
            return StatisticData(
                start=hour.start,
                mean=sum(values) / len(values),
                min=min(values),
                max=max(values),
            )
        cursor.sum += hour.consumption
        stat = StatisticData(start=hour.start, sum=cursor.sum)
        if hour.total is not None:
            stat["state"] = hour.total
        return stat

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
