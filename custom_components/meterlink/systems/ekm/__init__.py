"""EKM Omnimeter v3/v4 meters on an RS-485 bus (serial adapter or TCP bridge)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

from ..base import MeterLinkSystem
from .const import CONF_PASSWORD, SYSTEM_KEY
from .flow import EkmFlowMixin, EkmOptionsFlow
from .runtime import EkmRuntime, async_setup_ekm_entry
from .services import ACTIONS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from ...coordinator import MeterLinkConfigEntry


def _remove_device(hass: HomeAssistant, entry: MeterLinkConfigEntry, device: DeviceEntry) -> bool:
    """Allow removing a meter's device once the bus no longer lists the meter."""
    runtime = entry.runtime_data
    if not isinstance(runtime, EkmRuntime):
        return True
    in_use = {f"ekm_{address}" for address in runtime.by_address} | {runtime.hub_identifier[1]}
    return not any(ident in in_use for _domain, ident in device.identifiers)


EKM_SYSTEM = MeterLinkSystem(
    key=SYSTEM_KEY,
    platforms=(Platform.SENSOR, Platform.SWITCH),
    async_setup_entry=async_setup_ekm_entry,
    options_flow=EkmOptionsFlow,
    remove_device=_remove_device,
    redact=frozenset({CONF_PASSWORD}),
    actions=ACTIONS,
)

__all__ = ["EKM_SYSTEM", "EkmFlowMixin"]
