"""What a MeterLink system (a device type in the config flow's menu) provides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.core import ServiceCall, ServiceResponse, SupportsResponse

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from homeassistant.config_entries import ConfigSubentryFlow, OptionsFlow
    from homeassistant.const import Platform
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry
    import voluptuous as vol

    from ..coordinator import MeterLinkConfigEntry, MeterLinkRuntime


@dataclass(frozen=True, kw_only=True)
class MeterLinkAction:
    """An action (service) a device type registers under the ``meterlink`` domain."""

    name: str
    schema: vol.Schema
    handler: Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]
    supports_response: SupportsResponse = SupportsResponse.NONE


@dataclass(frozen=True, kw_only=True)
class MeterLinkSystem:
    """A device type: how to set its entries up and which flows edit them.

    Its config-flow steps live in a mixin of :class:`~..config_flow.MeterLinkConfigFlow`
    named ``async_step_<key>`` (first step), ``async_step_<key>_reauth`` and
    ``async_step_<key>_reconfigure``.
    """

    key: str
    platforms: tuple[Platform, ...]
    async_setup_entry: Callable[[HomeAssistant, MeterLinkConfigEntry], Awaitable[MeterLinkRuntime]]
    options_flow: Callable[[], OptionsFlow] | None = None
    remove_device: Callable[[HomeAssistant, MeterLinkConfigEntry, DeviceEntry], bool] | None = None
    actions: tuple[MeterLinkAction, ...] = ()
    redact: frozenset[str] = frozenset()
    subentry_flows: dict[str, type[ConfigSubentryFlow]] = field(default_factory=dict)
