"""Fixtures for the Home Assistant side: a DCS simulator and entries pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.systems.dcs.const import (
    CONF_API,
    CONF_BACKFILL_DAYS,
    CONF_IMPORT_STATISTICS,
    CONF_METERS,
    CONF_PASSWORD,
    CONF_REGISTERS,
    CONF_SERVER_ID,
    CONF_URL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
    CONF_VIRTUAL_METERS,
)
from simulators.dcs import DcsSimulator


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's snapshot format (ids of devices and entries replaced, stable dates)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/meterlink."""


@pytest.fixture(autouse=True)
async def _recorder(recorder_mock: Any) -> None:
    """MeterLink depends on the recorder (statistics import)."""


@pytest.fixture
async def dcs_sim() -> AsyncIterator[DcsSimulator]:
    """A DCS simulator on a free loopback port (clock: Home Assistant's, frozen or not)."""
    async with DcsSimulator() as sim:
        yield sim


def dcs_entry_data(sim: DcsSimulator) -> dict[str, Any]:
    """Return the entry data a completed flow stores for ``sim``."""
    return {
        CONF_SYSTEM: "dcs",
        CONF_URL: sim.url,
        CONF_USERNAME: sim.username,
        CONF_PASSWORD: sim.password,
        CONF_VERIFY_SSL: True,
        CONF_API: "web_api",
        CONF_SERVER_ID: sim.url.lower(),
    }


def dcs_entry_options(sim: DcsSimulator, **overrides: Any) -> dict[str, Any]:
    """Return options selecting the first two meters (all registers) and every VM."""
    meters = sim.meters[:2]
    options = {
        CONF_METERS: [str(m.id) for m in meters],
        CONF_REGISTERS: [f"R{r.id}" for m in meters for r in m.registers],
        CONF_VIRTUAL_METERS: [f"VM{v.id}" for v in sim.virtual_meters],
        CONF_SCAN_INTERVAL: 300,
        CONF_IMPORT_STATISTICS: False,
        CONF_BACKFILL_DAYS: 2,
        CONF_CAPTURE_FRAMES: False,
    }
    options.update(overrides)
    return options


@pytest.fixture
def dcs_entry(hass: HomeAssistant, dcs_sim: DcsSimulator) -> MockConfigEntry:
    """A DCS entry (not yet set up) for the simulator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="DCS 127.0.0.1",
        data=dcs_entry_data(dcs_sim),
        options=dcs_entry_options(dcs_sim),
        unique_id=dcs_sim.url.lower(),
    )
    entry.add_to_hass(hass)
    return entry


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set an entry up and wait for everything it started."""
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
