"""Snapshots of the EKM sensors, switches and diagnostics (update with --snapshot-update)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems import SYSTEMS
from custom_components.meterlink.systems.ekm import EKM_SYSTEM
from simulators.ekm.bus import EkmSimBus

from .conftest import ekm_entry_options, setup_entry
from .quality import assert_entry_follows_the_quality_scale

NOW = datetime(2024, 5, 29, 11, 10, tzinfo=UTC)


def stable_entry(url: str) -> MockConfigEntry:
    """An entry whose ids do not depend on the simulator's random port."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="EKM bus snapshot",
        entry_id="01JSNAPSHOTEKM0000000000000",
        data={"system": "ekm", "port": url, "password": "00000000"},
        options=ekm_entry_options(),
        unique_id="ekm-snapshot-bus",
    )


@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.SWITCH])
async def test_entities(  # noqa: PLR0917
    hass: HomeAssistant,
    platform: Platform,
    freezer: FrozenDateTimeFactory,
    ekm_sim: EkmSimBus,
    ekm_url: str,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    # a frozen clock stops the event loop's timers: the simulator answers without pacing
    ekm_sim.pace = False
    freezer.move_to(NOW)
    entry = stable_entry(ekm_url)
    entry.add_to_hass(hass)
    one_platform = dataclasses.replace(EKM_SYSTEM, platforms=(platform,))
    with (
        patch.dict(SYSTEMS, {"ekm": one_platform}),
        patch(  # every entity, the ones disabled by default too
            "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
            new_callable=PropertyMock,
            return_value=True,
        ),
    ):
        await setup_entry(hass, entry)
        await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
        assert_entry_follows_the_quality_scale(hass, entry)
        await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ekm_url: str,
    snapshot: SnapshotAssertion,
) -> None:
    entry = stable_entry(ekm_url)
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    # the port is random, last_success is real time
    assert diagnostics == snapshot(exclude=props("port", "url", "last_success"))
    await hass.config_entries.async_unload(entry.entry_id)
