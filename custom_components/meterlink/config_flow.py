"""MeterLink's config flow: a menu of device types, each with its own steps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback

from .const import CONF_SYSTEM, DOMAIN
from .systems import SYSTEMS
from .systems.dcs import DcsFlowMixin
from .systems.dlms import DlmsFlowMixin
from .systems.e3dc import E3dcFlowMixin
from .systems.ekm import EkmFlowMixin
from .systems.scada import ScadaFlowMixin

if TYPE_CHECKING:
    from collections.abc import Mapping


class MeterLinkConfigFlow(
    DcsFlowMixin,
    DlmsFlowMixin,
    E3dcFlowMixin,
    EkmFlowMixin,
    ScadaFlowMixin,
    ConfigFlow,
    domain=DOMAIN,
):
    """Add a MeterLink device: pick its type, then that type's steps take over."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the menu of device types."""
        return self.async_show_menu(menu_options=list(SYSTEMS))

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Hand reauth to the entry's device type."""
        step = getattr(self, f"async_step_{entry_data[CONF_SYSTEM]}_reauth")
        result: ConfigFlowResult = await step(entry_data)
        return result

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Hand reconfigure to the entry's device type."""
        system = self._get_reconfigure_entry().data[CONF_SYSTEM]
        step = getattr(self, f"async_step_{system}_reconfigure")
        result: ConfigFlowResult = await step(user_input)
        return result

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow of the entry's device type."""
        factory = SYSTEMS[config_entry.data[CONF_SYSTEM]].options_flow
        assert factory is not None  # noqa: S101 - async_supports_options_flow checked it
        return factory()

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """Return whether the entry's device type has options."""
        system = SYSTEMS.get(config_entry.data.get(CONF_SYSTEM, ""))
        return system is not None and system.options_flow is not None

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Return the subentry flows of the entry's device type (SCADA: its terms)."""
        system = SYSTEMS.get(config_entry.data.get(CONF_SYSTEM, ""))
        return dict(system.subentry_flows) if system is not None else {}
