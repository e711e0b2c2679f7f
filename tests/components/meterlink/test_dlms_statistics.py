"""Load-profile import into long-term statistics: sums, resumption, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from homeassistant.components.recorder.statistics import get_metadata, statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meterlink.systems.dlms import statistics as dlms_statistics
from custom_components.meterlink.systems.dlms.runtime import DlmsRuntime
from custom_components.meterlink.systems.dlms.statistics import (
    DlmsStatisticsImporter,
    statistic_id,
)

from .conftest import setup_entry
from .dlms_helpers import NOW, SERIAL, add_entry, meter_sim, polled_data, polled_options


def utc(naive: datetime) -> datetime:
    """Meter local time (Home Assistant's zone) as UTC."""
    return naive.replace(tzinfo=dt_util.get_default_time_zone()).astimezone(UTC)


async def hours(hass: HomeAssistant, stat_id: str) -> list[dict]:
    start = utc(NOW) - timedelta(days=10)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        utc(NOW) + timedelta(hours=3),
        {stat_id},
        "hour",
        None,
        {"sum", "state"},
    )
    return result.get(stat_id, [])


async def test_profile_import_is_complete_and_idempotent(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dlms_statistics, "BACKFILL", timedelta(days=2))
    monkeypatch.setattr(dlms_statistics, "IMPORT_WINDOW", timedelta(hours=20))
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options(import_statistics=True))
        await setup_entry(hass, entry)
        runtime = entry.runtime_data
        assert isinstance(runtime, DlmsRuntime)
        await runtime.async_wait_import()
        await async_wait_recording_done(hass)
        assert runtime.importer is not None
        assert runtime.importer.imported_hours == 2 * 48  # two columns, two days

        stat_id = statistic_id(SERIAL, "1.0.1.8.0.255")
        assert stat_id == "meterlink:dlms_sim0000000001_1_0_1_8_0_255"
        # named after the register's sensor, so the Energy dashboard's picker reads as a name
        metadata = await get_instance(hass).async_add_executor_job(
            lambda: get_metadata(hass, statistic_ids={stat_id})
        )
        name = metadata[stat_id][1]["name"]
        assert name is not None
        assert name.endswith("(load profile)")
        assert "1.0.1.8.0.255" not in name
        rows = await hours(hass, stat_id)
        assert len(rows) == 48
        last = rows[-1]
        # the hour before the meter's clock closes with the register total at NOW
        assert last["start"] == (utc(NOW) - timedelta(hours=1)).timestamp()
        assert last["state"] == pytest.approx(sim.meter.physical_value("1.0.1.8.0.255", NOW))
        first_total = sim.meter.physical_value("1.0.1.8.0.255", NOW - timedelta(days=2))
        assert last["sum"] == pytest.approx(last["state"] - first_total)
        for before, after in pairwise(rows):
            assert after["start"] - before["start"] == 3600
            assert after["sum"] - before["sum"] == pytest.approx(after["state"] - before["state"])

        # a second run (and a fresh importer, as after a restart) adds nothing
        assert await runtime.importer.async_run() == 0
        fresh = DlmsStatisticsImporter(hass, runtime)
        assert await fresh.async_run() == 0
        await async_wait_recording_done(hass)
        assert len(await hours(hass, stat_id)) == 48

        # the meter moves on two hours: only those are added, continuing the sum
        sim.meter.clock_offset = timedelta(hours=2)
        assert await fresh.async_run() == 2 * 2
        await async_wait_recording_done(hass)
        rows = await hours(hass, stat_id)
        assert len(rows) == 50
        assert rows[-1]["sum"] - rows[-3]["sum"] == pytest.approx(
            rows[-1]["state"] - rows[-3]["state"]
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
