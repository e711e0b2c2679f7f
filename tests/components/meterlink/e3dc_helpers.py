"""Helpers of the E3/DC Home Assistant tests: the simulator and the entries a flow would create."""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import time
from typing import Any

from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.protocols.e3dc.tags import RscpUserLevel
from custom_components.meterlink.systems.e3dc.const import (
    CONF_HOST,
    CONF_IMPORT_STATISTICS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RSCP_KEY,
    CONF_SERIAL,
    CONF_USERNAME,
)
from simulators.e3dc.model import PowerModel
from simulators.e3dc.server import E3dcSimulator

USER = "user@example.com"
PASSWORD = "portal-password"
KEY = "simulator-key"
SERIAL = "S10-721234567890"
ENTRY_ID = "01JSNAPSHOTE3DC000000000000"


@contextlib.asynccontextmanager
async def e3dc_sim(**model: Any) -> AsyncIterator[E3dcSimulator]:
    """An E3/DC simulator on a free loopback port (clock: time.time, frozen or not)."""
    sim = E3dcSimulator(
        rscp_key=KEY,
        users={USER: (PASSWORD, RscpUserLevel.USER)},
        model=PowerModel(**model),
        serial=SERIAL,
        clock=lambda: time.time(),  # noqa: PLW0108 - looked up per call: freezer reaches it
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def entry_data(sim: E3dcSimulator, **overrides: Any) -> dict[str, Any]:
    """Return the entry data a completed flow stores for ``sim``."""
    data: dict[str, Any] = {
        CONF_SYSTEM: "e3dc",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_USERNAME: USER,
        CONF_PASSWORD: PASSWORD,
        CONF_RSCP_KEY: KEY,
        CONF_SERIAL: SERIAL,
    }
    data.update(overrides)
    return data


def entry_options(**overrides: Any) -> dict[str, Any]:
    """Options: 5 s live values, history import off unless asked."""
    options: dict[str, Any] = {
        CONF_SCAN_INTERVAL: 5,
        CONF_IMPORT_STATISTICS: False,
        CONF_CAPTURE_FRAMES: False,
    }
    options.update(overrides)
    return options


def add_entry(
    hass: HomeAssistant, sim: E3dcSimulator, *, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    """Add (not set up) an entry for the simulator with stable ids."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"E3/DC S10 E {SERIAL}",
        entry_id=ENTRY_ID,
        data=entry_data(sim),
        options=options if options is not None else entry_options(),
        unique_id=SERIAL,
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """Keep the E3/DC entities' states out of the test recorder (statistics still work).

    About 170 entities each write a state and its attributes: under load the recorder thread
    spends seconds on them at teardown, and no test reads them back from the database.
    """
    return {"exclude": {"entity_globs": ["*.e3_dc_*"]}}
