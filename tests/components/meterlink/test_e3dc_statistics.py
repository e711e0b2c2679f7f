"""History database import into long-term statistics: hourly sums, resumable, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meterlink.systems.e3dc.const import CONF_IMPORT_STATISTICS
from custom_components.meterlink.systems.e3dc.runtime import E3dcRuntime
from custom_components.meterlink.systems.e3dc.statistics import FLOWS, statistic_id

from .conftest import setup_entry
from .e3dc_helpers import (
    SERIAL,
    add_entry,
    e3dc_sim,
    entry_options,
    recorder_config,  # noqa: F401 - the fixture
)

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
HOURS = 3 * 24  # the backfill (shortened here): 3 days of complete hours
STATS = "custom_components.meterlink.systems.e3dc.statistics"


async def hourly(hass: HomeAssistant, stat_id: str, start: datetime, end: datetime) -> list[dict]:
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {stat_id}, "hour", None, {"sum"}
    )
    return rows.get(stat_id, [])


@patch(f"{STATS}.IMPORT_WINDOW", timedelta(days=1))  # three requests
@patch(f"{STATS}.IMPORT_BACKFILL", timedelta(days=3))
async def test_history_is_imported_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(NOW)
    end = NOW.replace(minute=0)
    first = end - timedelta(hours=HOURS)
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim, options=entry_options(**{CONF_IMPORT_STATISTICS: True}))
        await setup_entry(hass, entry)
        runtime = entry.runtime_data
        assert isinstance(runtime, E3dcRuntime)
        await runtime.async_wait_import()  # setup started it in the background
        await async_wait_recording_done(hass)
        assert runtime.importer is not None
        assert runtime.importer.imported_hours == HOURS * len(FLOWS)

        solar = statistic_id(SERIAL, "solar_production")
        assert solar == "meterlink:e3dc_s10_721234567890_solar_production"
        rows = await hourly(hass, solar, first - timedelta(days=1), NOW)
        assert len(rows) == HOURS
        assert rows[0]["start"] == first.timestamp()
        assert rows[-1]["start"] == (end - timedelta(hours=1)).timestamp()
        # each hour's step is the device's hourly value; the sum is the period's total
        noon = next(r for r in rows if datetime.fromtimestamp(r["start"], UTC).hour == 12)
        before = rows[rows.index(noon) - 1]
        step = sim.model.history(int(noon["start"]), 3600)["pv"] / 1000
        assert noon["sum"] - before["sum"] == pytest.approx(step, abs=1e-3)
        total = sim.model.history(int(first.timestamp()), HOURS * 3600)["pv"] / 1000
        assert rows[-1]["sum"] == pytest.approx(total, rel=1e-4)
        assert all(b["sum"] >= a["sum"] for a, b in pairwise(rows))
        grid = await hourly(hass, statistic_id(SERIAL, "grid_import"), first, NOW)
        assert len(grid) == HOURS

        # the same hour again, and a reload (cursor from the recorder): nothing added
        assert await runtime.importer.async_run(NOW) == 0
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        runtime = entry.runtime_data
        assert isinstance(runtime, E3dcRuntime)
        await runtime.async_wait_import()
        assert runtime.importer is not None
        assert await runtime.importer.async_run(NOW) == 0

        # two hours later: exactly two more hours per flow, continuing the sum
        later = NOW + timedelta(hours=2)
        freezer.move_to(later)
        assert await runtime.importer.async_run(later) == 2 * len(FLOWS)
        await async_wait_recording_done(hass)
        rows = await hourly(hass, solar, first - timedelta(days=1), later)
        assert len(rows) == HOURS + 2
        assert all(b["sum"] >= a["sum"] for a, b in pairwise(rows))
        assert runtime.importer.diagnostics()["runs"] >= 1
        await hass.config_entries.async_unload(entry.entry_id)
