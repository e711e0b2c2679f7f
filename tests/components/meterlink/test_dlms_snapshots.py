"""Snapshots of the DLMS entities (syrupy; update with --snapshot-update)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.meterlink.systems import SYSTEMS

from .conftest import setup_entry
from .dlms_helpers import add_entry, meter_sim, polled_data, polled_options
from .quality import assert_entry_follows_the_quality_scale

FROZEN = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.SWITCH])
async def test_polled_meter_entities(
    hass: HomeAssistant,
    platform: Platform,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Sensors and the relay switch of a polled meter (the meter clock is frozen too)."""
    freezer.move_to(FROZEN)
    one_platform = replace(SYSTEMS["dlms"], platforms=(platform,))
    async with meter_sim() as sim:
        entry = add_entry(
            hass, polled_data(sim), polled_options(), entry_id="01JSNAPSHOTDLMS000000000000"
        )
        with patch.dict(SYSTEMS, {"dlms": one_platform}):
            await setup_entry(hass, entry)
        await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
        assert_entry_follows_the_quality_scale(hass, entry)
        with patch.dict(SYSTEMS, {"dlms": one_platform}):
            assert await hass.config_entries.async_unload(entry.entry_id)
