"""Every action refuses bad arguments with a translated error before anything reaches a device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
import voluptuous as vol

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.services import _field_validator, _validators
from custom_components.meterlink.systems import SYSTEMS

ACTIONS = {action.name: action for system in SYSTEMS.values() for action in system.actions}


def _bounded_fields() -> Iterator[tuple[str, str, Any]]:
    """(action, field, a value past its bound) for every range-checked field of every action."""
    for name, action in sorted(ACTIONS.items()):
        if not isinstance(action.schema.schema, dict):
            continue
        for key in action.schema.schema:
            for validator in _validators(_field_validator(action.schema, str(key))):
                if isinstance(validator, vol.Range) and isinstance(
                    validator.max if validator.max is not None else validator.min, (int, float)
                ):
                    value = validator.max + 1 if validator.max is not None else validator.min - 1
                    yield name, str(key), value
                    break


BOUNDED = list(_bounded_fields())


def test_device_changing_actions_have_bounded_fields() -> None:
    # the relays, writes and settings the issue names are among them
    fields = {(action, field) for action, field, _ in BOUNDED}
    assert {
        ("ekm_relay_hold", "seconds"),
        ("ekm_set_pulse_input_ratio", "ratio"),
        ("e3dc_set_power_limits", "max_charge_power"),
        ("e3dc_set_power_mode", "power"),
        ("dlms_write_obis", "class_id"),
        ("scada_write_item", "value"),
    } <= fields


@pytest.mark.parametrize(("action", "field", "value"), BOUNDED)
async def test_out_of_range_is_refused_with_a_translated_error(
    hass: HomeAssistant, action: str, field: str, value: Any
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            action,
            {field: value},
            blocking=True,
            return_response=ACTIONS[action].supports_response.value == "only",
        )
    assert err.value.translation_key == "action_value_out_of_range"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["field"] == field
    assert f"{field} must be between" in str(err.value)  # the English translation, filled in


async def test_a_choice_outside_the_list_names_the_choices(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "ekm_set_ct_ratio", {"device_id": "x", "ratio": 123}, blocking=True
        )
    assert err.value.translation_key == "action_value_not_allowed"
    assert "must be one of 100, 200" in str(err.value)


async def test_a_missing_field_is_named(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, "ekm_set_ct_ratio", {"ratio": 100}, blocking=True)
    assert err.value.translation_key == "action_invalid_data"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["field"] == "device_id"
