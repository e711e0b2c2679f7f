"""Fixtures for the Home Assistant side: a DCS simulator and entries pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.protocols.ekm.models import EkmVersion
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
from custom_components.meterlink.systems.ekm.const import BUS_TIMING
from simulators.dcs import DcsSimulator
from simulators.ekm.bus import EkmSimBus
from simulators.ekm.meter import SimMeter


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


# --- EKM -----------------------------------------------------------------------------------------

EKM_V4_1 = "000300001285"
EKM_V4_2 = "000300001317"
EKM_V3 = "000000020870"
EKM_FAST_BAUD = 460800  # the simulator sends fast; the client's timing allowance is shortened


class EkmClock:
    """The simulated meters' wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_716_981_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ekm_clock() -> EkmClock:
    """The clock of the simulated meters."""
    return EkmClock()


def ekm_meters(clock: EkmClock) -> list[SimMeter]:
    """Two v4 meters and a v3 meter."""
    return [
        SimMeter(address=EKM_V4_1, clock=clock),
        SimMeter(address=EKM_V4_2, clock=clock, power_w=(1000.0, 0.0, 0.0)),
        SimMeter(address=EKM_V3, version=EkmVersion.V3, clock=clock),
    ]


@pytest.fixture
async def ekm_sim(ekm_clock: EkmClock) -> AsyncIterator[EkmSimBus]:
    """An EKM bus simulator (TCP bridge and pty on demand), and a short client allowance."""
    sim = EkmSimBus(ekm_meters(ekm_clock), baudrate=EKM_FAST_BAUD, turnaround=0.002)
    with patch.dict(BUS_TIMING, {"baudrate": EKM_FAST_BAUD, "turnaround": 0.08, "char_gap": 0.03}):
        yield sim
        await sim.close()


@pytest.fixture
async def ekm_url(ekm_sim: EkmSimBus) -> str:
    """The simulator's TCP bridge as the entry stores it."""
    return f"socket://127.0.0.1:{await ekm_sim.start_tcp()}"


def ekm_entry_options(**overrides: Any) -> dict[str, Any]:
    """Options listing the three simulated meters."""
    options: dict[str, Any] = {
        "meters": [
            {"address": EKM_V4_1, "version": 4},
            {"address": EKM_V4_2, "version": 4},
            {"address": EKM_V3, "version": 3},
        ],
        CONF_SCAN_INTERVAL: 30,
        CONF_CAPTURE_FRAMES: False,
    }
    options.update(overrides)
    return options


@pytest.fixture
async def ekm_entry(hass: HomeAssistant, ekm_url: str) -> AsyncIterator[MockConfigEntry]:
    """An EKM bus entry (not yet set up) on the simulator's TCP bridge; unloaded at the end."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="EKM bus test",
        data={CONF_SYSTEM: "ekm", "port": ekm_url, "password": "00000000"},
        options=ekm_entry_options(),
        unique_id=ekm_url,
    )
    entry.add_to_hass(hass)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)
