"""Snapshots of the DCS sensors and diagnostics (syrupy; update with --snapshot-update)."""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.meterlink.const import DOMAIN
from simulators.dcs import DcsSimulator

from .conftest import dcs_entry_data, dcs_entry_options, setup_entry
from .quality import assert_entry_follows_the_quality_scale

NOW = datetime(2024, 6, 10, 12, 10, tzinfo=UTC)


def stable_entry(sim: DcsSimulator) -> MockConfigEntry:
    """An entry whose ids do not depend on the simulator's random port."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="DCS snapshot",
        entry_id="01JSNAPSHOTDCS0000000000000",
        data={**dcs_entry_data(sim), "server_id": "dcs-snapshot-server"},
        options=dcs_entry_options(sim),
        unique_id="dcs-snapshot-server",
    )


async def test_sensors(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    dcs_sim: DcsSimulator,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    freezer.move_to(NOW)
    entry = stable_entry(dcs_sim)
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert_entry_follows_the_quality_scale(hass, entry)


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    dcs_sim: DcsSimulator,
    snapshot: SnapshotAssertion,
) -> None:
    entry = stable_entry(dcs_sim)
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    # real time here (the diagnostics view does not run under a frozen clock): leave out what
    # depends on it
    assert diagnostics == snapshot(exclude=props("url", "latest", "last_success"))
