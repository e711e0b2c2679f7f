"""Quality-scale rules checked on a loaded entry (called by every type's entity snapshot test).

``tests/components/meterlink/test_quality_scale.py`` maps each rule marked done in
``quality_scale.yaml`` to the tests that check it; the entity rules are checked here, on real
entries set up against the simulators, so that every device type is covered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.coordinator import MeterLinkRuntime

PACKAGE = Path(__file__).resolve().parents[3] / "custom_components" / DOMAIN
STRINGS: dict[str, Any] = json.loads((PACKAGE / "strings.json").read_text())
ICONS: dict[str, Any] = json.loads((PACKAGE / "icons.json").read_text())


def assert_entry_follows_the_quality_scale(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Check runtime-data, entity-unique-id, has-entity-name, entity-translations, devices."""
    # runtime-data: a loaded entry keeps its typed runtime in entry.runtime_data
    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, MeterLinkRuntime)
    assert DOMAIN not in hass.data or entry.entry_id not in hass.data[DOMAIN]

    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert entities, "the entry created no entities"
    unique_ids = [e.unique_id for e in entities]
    # entity-unique-id: every entity has one, unique within the platform
    assert all(unique_ids), "an entity has no unique id"
    by_platform = {(e.domain, e.unique_id) for e in entities}
    assert len(by_platform) == len(entities), "duplicate unique ids"

    devices = dr.async_get(hass)
    for reg in entities:
        label = f"{reg.entity_id} ({reg.unique_id})"
        # has-entity-name
        assert reg.has_entity_name, f"{label}: has_entity_name is not set"
        # entity-translations: a translated name when MeterLink names the entity
        if reg.translation_key is not None:
            names = STRINGS["entity"].get(reg.domain, {})
            assert reg.translation_key in names, f"{label}: {reg.translation_key} not translated"
            assert names[reg.translation_key].get("name"), f"{label}: translation has no name"
        else:
            # no translation: named by its device class, or by the device itself (DCS register
            # names, SCADA point names the user typed)
            assert reg.original_name or reg.original_device_class, f"{label}: no name"
        if reg.original_icon is not None:
            # icon-translations: icons come from icons.json, not from code
            raise AssertionError(f"{label}: icon {reg.original_icon} set in code")
        # devices: each entity belongs to a device of this entry, with a maker and a model
        assert reg.device_id is not None, f"{label}: no device"
        device = devices.async_get(reg.device_id)
        assert device is not None
        assert entry.entry_id in device.config_entries
        assert any(domain == DOMAIN for domain, _ in device.identifiers), label
        # a generic DLMS meter that does not name its maker has no manufacturer: the model says
        # what it is
        assert device.model or device.model_id, f"{label}: device without model"
        assert device.name, f"{label}: device without name"
        state = hass.states.get(reg.entity_id)
        if reg.disabled_by is None and state is not None:
            assert "None" not in str(state.attributes.get("friendly_name")), label
            assert state.state != "None", label
