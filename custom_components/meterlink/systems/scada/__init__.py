"""SCADA devices as in PyDataColl: Modbus TCP / RTU and IEC 104 channels with UI-defined items."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

from ..base import MeterLinkSystem
from .const import SUBENTRY_TERM, SYSTEM_KEY
from .flow import ScadaFlowMixin, ScadaOptionsFlow, ScadaTermSubentryFlow
from .runtime import async_setup_scada_entry
from .services import ACTIONS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from ...coordinator import MeterLinkConfigEntry


def _remove_device(hass: HomeAssistant, entry: MeterLinkConfigEntry, device: DeviceEntry) -> bool:
    """Allow removing a term's device once no subentry defines the term."""
    from .runtime import ScadaRuntime  # noqa: PLC0415

    runtime = entry.runtime_data
    if not isinstance(runtime, ScadaRuntime):
        return True
    in_use = {runtime.channel_identifier[1]} | {
        f"{runtime.channel_identifier[1]}_{term.term}" for term in runtime.terms
    }
    return not any(ident in in_use for _domain, ident in device.identifiers)


SCADA_SYSTEM = MeterLinkSystem(
    key=SYSTEM_KEY,
    platforms=(Platform.SENSOR, Platform.BINARY_SENSOR, Platform.SWITCH, Platform.NUMBER),
    async_setup_entry=async_setup_scada_entry,
    options_flow=ScadaOptionsFlow,
    remove_device=_remove_device,
    actions=ACTIONS,
    subentry_flows={SUBENTRY_TERM: ScadaTermSubentryFlow},
)

__all__ = ["SCADA_SYSTEM", "ScadaFlowMixin"]
