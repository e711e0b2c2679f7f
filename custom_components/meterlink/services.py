"""Register the actions of every device type (in async_setup, so they always exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import callback

from .const import DOMAIN
from .systems import SYSTEMS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register each device type's actions."""
    for system in SYSTEMS.values():
        for action in system.actions:
            hass.services.async_register(
                DOMAIN,
                action.name,
                action.handler,
                schema=action.schema,
                supports_response=action.supports_response,
            )
