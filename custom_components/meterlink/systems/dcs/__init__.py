"""Coherent Research DCS remote-metering servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

from ..base import MeterLinkSystem
from .const import SYSTEM_KEY
from .flow import DcsFlowMixin, DcsOptionsFlow
from .runtime import DcsRuntime, async_setup_dcs_entry
from .services import ACTIONS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from ...coordinator import MeterLinkConfigEntry


def _remove_device(hass: HomeAssistant, entry: MeterLinkConfigEntry, device: DeviceEntry) -> bool:
    """Allow removing a meter's device once none of its registers is selected any more."""
    runtime = entry.runtime_data
    if not isinstance(runtime, DcsRuntime):
        return True
    in_use = {f"{runtime.server_id}_{info.device_key}" for info in runtime.targets.values()} | {
        runtime.server_id
    }
    return not any(ident in in_use for _domain, ident in device.identifiers)


DCS_SYSTEM = MeterLinkSystem(
    key=SYSTEM_KEY,
    platforms=(Platform.SENSOR,),
    async_setup_entry=async_setup_dcs_entry,
    options_flow=DcsOptionsFlow,
    remove_device=_remove_device,
    actions=ACTIONS,
)

__all__ = ["DCS_SYSTEM", "DcsFlowMixin"]
