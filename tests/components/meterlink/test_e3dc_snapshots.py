"""Snapshots of the E3/DC entities and diagnostics (update with --snapshot-update)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
import json
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
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

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES
from custom_components.meterlink.systems import SYSTEMS
from custom_components.meterlink.systems.e3dc import E3DC_SYSTEM

from .conftest import setup_entry
from .e3dc_helpers import (
    KEY,
    PASSWORD,
    add_entry,
    e3dc_sim,
    entry_options,
    recorder_config,  # noqa: F401 - the fixture
)
from .quality import assert_entry_follows_the_quality_scale

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)  # a summer morning: the sun shines


@pytest.mark.parametrize(
    "platform",
    [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.SWITCH, Platform.NUMBER, Platform.BUTTON],
)
async def test_entities(
    hass: HomeAssistant,
    platform: Platform,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    freezer.move_to(NOW)
    one_platform = dataclasses.replace(E3DC_SYSTEM, platforms=(platform,))
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        with (
            patch.dict(SYSTEMS, {"e3dc": one_platform}),
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


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim, options=entry_options(**{CONF_CAPTURE_FRAMES: True}))
        await setup_entry(hass, entry)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        await hass.config_entries.async_unload(entry.entry_id)
    text = json.dumps(diagnostics)
    assert PASSWORD not in text
    assert KEY not in text
    assert PASSWORD.encode().hex(" ") not in text
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["rscp_key"] == "**REDACTED**"
    frames = diagnostics["frames"]["frames"]
    assert frames
    assert frames[0]["direction"] == "tx"
    assert "REDACTED" in frames[0]["text"]  # the login frame, password masked
    assert diagnostics["device"]["static"]["info"]["serial"] == sim.serial
    assert set(diagnostics["device"]) >= {"static", "live", "details", "coordinators"}
    assert diagnostics["entry"] == snapshot(exclude=props("port"))
