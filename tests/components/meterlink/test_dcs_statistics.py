"""History import into long-term statistics: sums, DST, restarts, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import (
    get_last_statistics,
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.dcs import DcsError
from custom_components.meterlink.systems.dcs.runtime import DcsRuntime
from custom_components.meterlink.systems.dcs.statistics import statistic_id
from simulators.dcs import DcsSimulator

from .conftest import dcs_entry_data, dcs_entry_options, setup_entry

LONDON = ZoneInfo("Europe/London")


def kwh_register(sim: DcsSimulator) -> int:
    return next(r.id for r in sim.meters[0].registers if not r.is_instantaneous and r.unit == "kWh")


async def make_entry(hass: HomeAssistant, sim: DcsSimulator, backfill_days: int) -> MockConfigEntry:
    reg = kwh_register(sim)
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=dcs_entry_data(sim),
        options=dcs_entry_options(
            sim,
            meters=[str(sim.meters[0].id)],
            registers=[f"R{reg}"],
            virtual_meters=[
                f"VM{next(v.id for v in sim.virtual_meters if not v.is_instantaneous)}"
            ],
            backfill_days=backfill_days,
            import_statistics=False,
        ),
        unique_id=sim.url.lower(),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    return entry


async def hourly(hass: HomeAssistant, stat_id: str, start: datetime, end: datetime) -> list[dict]:
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {stat_id}, "hour", None, {"sum", "state"}
    )
    return rows.get(stat_id, [])


async def run_import(hass: HomeAssistant, entry: MockConfigEntry, now: datetime) -> int:
    runtime = entry.runtime_data
    assert isinstance(runtime, DcsRuntime)
    assert runtime.importer is not None
    added = await runtime.importer.async_run(now)
    await async_wait_recording_done(hass)
    return added


async def test_sums_match_the_meter_across_a_dst_change(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await hass.config.async_set_time_zone("Europe/London")
    now = datetime(2024, 4, 1, 2, 10, tzinfo=UTC)
    freezer.move_to(now)
    async with DcsSimulator() as sim:
        entry = await make_entry(hass, sim, backfill_days=3)
        reg = kwh_register(sim)
        added = await run_import(hass, entry, now)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        first = datetime(2024, 3, 29, 2, 0, tzinfo=UTC)
        last_hour = datetime(2024, 4, 1, 1, 0, tzinfo=UTC)  # the newest complete hour
        assert added >= int((last_hour - first) / timedelta(hours=1)) + 1

        ids = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass, {stat_id})
        assert ids[0]["source"] == DOMAIN
        assert ids[0]["statistics_unit_of_measurement"] == "kWh"
        # named apart from the live sensor, which the Energy dashboard's picker also lists
        meter = sim.meters[0]
        register = next(r for r in meter.registers if r.id == reg)
        assert ids[0]["name"] == f"{meter.name} {register.name} (history)"

        rows = await hourly(hass, stat_id, first, now)
        assert rows[0]["start"] == first.timestamp()
        assert rows[-1]["start"] == last_hour.timestamp()
        assert len(rows) == len({r["start"] for r in rows}) == added // 2  # R and VM each
        # the sum grows exactly as the register
        base = sim.register_total(reg, first, True)
        for row in rows:
            end = datetime.fromtimestamp(row["start"], UTC) + timedelta(hours=1)
            assert row["sum"] == pytest.approx(sim.register_total(reg, end, True) - base, abs=1e-6)
            assert row["state"] == pytest.approx(sim.register_total(reg, end, True), abs=1e-6)

        # the local day of the spring change has 23 hours, and its consumption is right
        day_start = datetime(2024, 3, 31, tzinfo=LONDON)
        day_end = datetime(2024, 4, 1, tzinfo=LONDON)
        day_rows = await hourly(hass, stat_id, day_start, day_end)
        assert len(day_rows) == 23
        days = await get_instance(hass).async_add_executor_job(
            statistics_during_period, hass, day_start, day_end, {stat_id}, "day", None, {"change"}
        )
        assert days[stat_id][0]["change"] == pytest.approx(
            sim.register_total(reg, day_end, True) - sim.register_total(reg, day_start, True),
            abs=1e-6,
        )
        await hass.config_entries.async_unload(entry.entry_id)


async def test_resume_after_restart_without_duplicates(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    t1 = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)
    freezer.move_to(t1)
    async with DcsSimulator() as sim:
        entry = await make_entry(hass, sim, backfill_days=2)
        reg = kwh_register(sim)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        await run_import(hass, entry, t1)
        assert await run_import(hass, entry, t1) == 0  # nothing new: nothing added

        # Home Assistant restarts (the entry reloads: no in-memory cursor), time goes on
        t2 = t1 + timedelta(hours=5)
        freezer.move_to(t2)
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        added = await run_import(hass, entry, t2)
        assert added == 2 * 5  # five new hours, for the register and the virtual meter

        first = datetime(2024, 6, 8, 12, 0, tzinfo=UTC)
        rows = await hourly(hass, stat_id, first - timedelta(hours=1), t2)
        starts = [r["start"] for r in rows]
        assert len(starts) == len(set(starts)) == 48 + 5
        assert starts == sorted(starts)
        assert all(b - a == 3600 for a, b in pairwise(starts))
        base = sim.register_total(reg, first, True)
        last_end = datetime(2024, 6, 10, 17, 0, tzinfo=UTC)
        assert rows[-1]["sum"] == pytest.approx(sim.register_total(reg, last_end, True) - base)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_recent_hours_wait_until_published(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """An hour whose second half-hour is not out yet is imported on a later run."""
    now = datetime(2024, 6, 10, 12, 40, tzinfo=UTC)  # 12:00-12:30 is out, 12:30-13:00 not
    freezer.move_to(now)
    async with DcsSimulator() as sim:
        entry = await make_entry(hass, sim, backfill_days=1)
        reg = kwh_register(sim)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        await run_import(hass, entry, now)
        last = await get_instance(hass).async_add_executor_job(
            get_last_statistics, hass, 1, stat_id, False, {"sum"}
        )
        assert last[stat_id][0]["start"] == datetime(2024, 6, 10, 11, 0, tzinfo=UTC).timestamp()
        later = datetime(2024, 6, 10, 13, 5, tzinfo=UTC)
        freezer.move_to(later)
        assert await run_import(hass, entry, later) == 2
        await hass.config_entries.async_unload(entry.entry_id)


async def test_import_runs_in_the_background_after_polls(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    now = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)
    freezer.move_to(now)
    async with DcsSimulator() as sim:
        reg = kwh_register(sim)
        entry = MockConfigEntry(
            domain=DOMAIN,
            data=dcs_entry_data(sim),
            options=dcs_entry_options(
                sim,
                meters=[str(sim.meters[0].id)],
                registers=[f"R{reg}"],
                virtual_meters=[],
                backfill_days=1,
                import_statistics=True,
            ),
        )
        entry.add_to_hass(hass)
        await setup_entry(hass, entry)
        await entry.runtime_data.async_wait_import()
        await async_wait_recording_done(hass)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        rows = await hourly(hass, stat_id, now - timedelta(days=2), now)
        assert len(rows) == 24
        await hass.config_entries.async_unload(entry.entry_id)


async def test_a_failure_mid_import_loses_no_hours(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    now = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)
    freezer.move_to(now)
    async with DcsSimulator() as sim:
        entry = await make_entry(hass, sim, backfill_days=10)
        reg = kwh_register(sim)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        sim.faults.truncate_next = True  # the first window's body breaks off half-way
        with pytest.raises(DcsError):
            await run_import(hass, entry, now)
        await async_wait_recording_done(hass)
        await run_import(hass, entry, now)
        first = datetime(2024, 5, 31, 12, 0, tzinfo=UTC)
        rows = await hourly(hass, stat_id, first - timedelta(hours=1), now)
        starts = [r["start"] for r in rows]
        assert len(starts) == len(set(starts)) == 240
        assert starts[0] == first.timestamp()
        assert all(b - a == 3600 for a, b in pairwise(starts))
        base = sim.register_total(reg, first, True)
        end = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
        assert rows[-1]["sum"] == pytest.approx(sim.register_total(reg, end, True) - base)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_range_limited_server_is_asked_for_less(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    now = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)
    freezer.move_to(now)
    async with DcsSimulator(range_limit_days=7) as sim:
        entry = await make_entry(hass, sim, backfill_days=20)
        reg = kwh_register(sim)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        added = await run_import(hass, entry, now)
        assert added == 2 * 20 * 24  # register and virtual meter
        rows = await hourly(hass, stat_id, now - timedelta(days=21), now)
        assert len(rows) == 20 * 24
        importer = entry.runtime_data.importer
        assert importer is not None
        assert importer.window <= timedelta(days=7)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_estimated_recent_hours_wait_for_real_readings(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    now = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)
    freezer.move_to(now)
    gap = datetime(2024, 6, 10, 9, 30, tzinfo=UTC)  # estimated by the server (interpolated)
    async with DcsSimulator(gap_slots=[gap]) as sim:
        entry = await make_entry(hass, sim, backfill_days=1)
        reg = kwh_register(sim)
        stat_id = statistic_id(entry.data["server_id"], f"R{reg}")
        await run_import(hass, entry, now)
        last = await get_instance(hass).async_add_executor_job(
            get_last_statistics, hass, 1, stat_id, False, {"sum"}
        )
        # 09:00-10:00 holds an estimate: it and everything after wait
        assert last[stat_id][0]["start"] == datetime(2024, 6, 10, 8, 0, tzinfo=UTC).timestamp()
        await hass.config_entries.async_unload(entry.entry_id)


def test_statistic_ids_are_ascii() -> None:
    assert statistic_id("https://dcs.exämple.org/DCSWebApi", "R733") == (
        "meterlink:dcs_https_dcs_ex_mple_org_dcswebapi_r733"
    )
