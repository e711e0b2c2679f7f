"""Register the actions of every device type (in async_setup, so they always exist).

Each action's voluptuous schema is applied here rather than by Home Assistant, so that a value
out of range, not among the choices or of the wrong type is refused with a translated
``ServiceValidationError`` naming the field and its limits, before anything reaches a device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import ServiceCall, ServiceResponse, callback
from homeassistant.exceptions import ServiceValidationError
import voluptuous as vol

from .const import DOMAIN
from .systems import SYSTEMS

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator, Mapping

    from homeassistant.core import HomeAssistant

    from .systems.base import MeterLinkAction

    Handler = Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register each device type's actions."""
    for system in SYSTEMS.values():
        for action in system.actions:
            hass.services.async_register(
                DOMAIN,
                action.name,
                _validating(action),
                supports_response=action.supports_response,
            )


def _validating(action: MeterLinkAction) -> Handler:
    """Wrap an action's handler: validate the call's data first, with translated errors."""
    schema: vol.Schema = action.schema
    handler: Handler = action.handler

    async def validated(call: ServiceCall) -> ServiceResponse:
        try:
            data = schema(dict(call.data))
        except vol.Invalid as err:
            raise invalid_action_data(action.name, schema, err, call.data) from err
        checked = ServiceCall(
            call.hass, call.domain, call.service, data, call.context, call.return_response
        )
        return await handler(checked)

    return validated


def invalid_action_data(
    action: str, schema: vol.Schema, err: vol.Invalid, data: Mapping[str, Any]
) -> ServiceValidationError:
    """Build the translated error for data an action's schema refused."""
    if isinstance(err, vol.MultipleInvalid):
        # a wrong value says more than a missing field: report it first
        err = min(err.errors, key=lambda e: isinstance(e, vol.RequiredFieldInvalid))
    field = str(err.path[0]) if err.path else ""
    validators = list(_validators(_field_validator(schema, field))) if field else []
    bounds = next((v for v in validators if isinstance(v, vol.Range)), None)
    choices = next((v for v in validators if isinstance(v, vol.In)), None)
    base = {"action": action, "field": field or "-"}
    if bounds is not None and (
        isinstance(err, vol.RangeInvalid) or _outside(data.get(field), bounds)
    ):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="action_value_out_of_range",
            translation_placeholders={
                **base,
                "min": "-" if bounds.min is None else str(bounds.min),
                "max": "-" if bounds.max is None else str(bounds.max),
            },
        )
    if isinstance(err, vol.InInvalid) and choices is not None:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="action_value_not_allowed",
            translation_placeholders={
                **base,
                "choices": ", ".join(str(c) for c in _choices(choices.container)),
            },
        )
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="action_invalid_data",
        translation_placeholders={**base, "error": err.error_message or str(err)},
    )


def _outside(value: Any, bounds: vol.Range) -> bool:
    """Whether a number is outside a range (``vol.Any`` reports its first branch's error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    low, high = bounds.min, bounds.max
    return bool((low is not None and number < low) or (high is not None and number > high))


def _field_validator(schema: vol.Schema, field: str) -> Any:
    """The validator a schema applies to one top-level field (None when there is none)."""
    if not isinstance(schema.schema, dict):
        return None
    for key, validator in schema.schema.items():
        if str(key) == field:
            return validator
    return None


def _validators(validator: Any) -> Iterator[Any]:
    """The validator and those it combines (``vol.All``, ``vol.Any``), depth first."""
    if validator is None:
        return
    yield validator
    for inner in getattr(validator, "validators", ()):
        yield from _validators(inner)


def _choices(container: Any) -> list[Any]:
    """The allowed values of a ``vol.In``, in a stable order."""
    if isinstance(container, dict):
        return list(container)
    return list(container) if not isinstance(container, (set, frozenset)) else sorted(container)
