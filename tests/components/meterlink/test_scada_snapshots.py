"""Snapshots of the SCADA entities and diagnostics (update with --snapshot-update)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.meterlink.systems import SYSTEMS
from custom_components.meterlink.systems.scada import SCADA_SYSTEM

from .conftest import setup_entry
from .quality import assert_entry_follows_the_quality_scale
from .scada_helpers import fast_timing, modbus_simulator, scada_entry, unload

ENTRY_ID = "01JSNAPSHOTSCADA00000000000"
LAST_READ = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.SWITCH, Platform.NUMBER]
)
async def test_entities(
    hass: HomeAssistant,
    platform: Platform,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    one_platform = dataclasses.replace(SCADA_SYSTEM, platforms=(platform,))
    with fast_timing(), patch.dict(SYSTEMS, {"scada": one_platform}):
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port, entry_id=ENTRY_ID)
            await setup_entry(hass, entry)
            # the last-read sensors show real time: pin it for the snapshot
            coordinator = entry.runtime_data.coordinator
            coordinator.last_success = LAST_READ
            coordinator.async_update_listeners()
            await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
            assert_entry_follows_the_quality_scale(hass, entry)
            await unload(hass, entry)


async def test_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, snapshot: SnapshotAssertion
) -> None:
    with fast_timing():
        async with modbus_simulator() as sim:
            entry = scada_entry(hass, sim.port, entry_id=ENTRY_ID, capture_frames=True)
            await setup_entry(hass, entry)
            diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
            frames = diagnostics.pop("frames")
            assert frames["enabled"] is True
            assert {f["direction"] for f in frames["frames"]} == {"tx", "rx"}
            # the port is random, times are real
            assert diagnostics == snapshot(exclude=props("port", "timestamp", "last_success"))
            await unload(hass, entry)
