"""E3/DC home power stations over the local, encrypted RSCP protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform

from ..base import MeterLinkSystem
from .const import CONF_PASSWORD, CONF_RSCP_KEY, SYSTEM_KEY
from .flow import E3dcFlowMixin, E3dcOptionsFlow
from .runtime import E3dcRuntime, async_setup_e3dc_entry
from .services import ACTIONS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry

    from ...coordinator import MeterLinkConfigEntry


def _remove_device(hass: HomeAssistant, entry: MeterLinkConfigEntry, device: DeviceEntry) -> bool:
    """Allow removing a battery, wallbox or farm member the system no longer reports."""
    runtime = entry.runtime_data
    if not isinstance(runtime, E3dcRuntime):
        return True
    serial = runtime.serial
    topology = runtime.topology
    static = runtime.static.data
    in_use = {serial}
    in_use |= {f"{serial}_battery_{i}" for i in topology.batteries}
    in_use |= {f"{serial}_wallbox_{i}" for i in topology.wallboxes}
    in_use |= {
        f"{serial}_farm_{m.serial or m.name or 'unknown'}" for m in (static.farm if static else ())
    }
    return not any(ident in in_use for _domain, ident in device.identifiers)


E3DC_SYSTEM = MeterLinkSystem(
    key=SYSTEM_KEY,
    platforms=(
        Platform.SENSOR,
        Platform.BINARY_SENSOR,
        Platform.SWITCH,
        Platform.NUMBER,
        Platform.BUTTON,
    ),
    async_setup_entry=async_setup_e3dc_entry,
    options_flow=E3dcOptionsFlow,
    remove_device=_remove_device,
    redact=frozenset({CONF_PASSWORD, CONF_RSCP_KEY}),
    actions=ACTIONS,
)

__all__ = ["E3DC_SYSTEM", "E3dcFlowMixin"]
