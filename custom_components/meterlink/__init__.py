"""MeterLink: local energy systems (E3/DC, EKM, DLMS/COSEM, DCS, SCADA) in Home Assistant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.helpers import config_validation as cv

from .const import CONF_SYSTEM, DOMAIN
from .services import async_setup_services
from .systems import SYSTEMS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.device_registry import DeviceEntry
    from homeassistant.helpers.typing import ConfigType

    from .coordinator import MeterLinkConfigEntry

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register MeterLink's actions (they exist even when no entry is loaded)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Set up one device: its system connects, learns the device and polls once."""
    system = SYSTEMS[entry.data[CONF_SYSTEM]]
    entry.runtime_data = await system.async_setup_entry(hass, entry)
    options = dict(entry.options)

    async def _async_options_updated(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Reload when the options change (flows that change data reload by themselves)."""
        if dict(entry.options) != options:
            await hass.config_entries.async_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, system.platforms)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> bool:
    """Unload platforms, then close the device's connections."""
    system = SYSTEMS[entry.data[CONF_SYSTEM]]
    unloaded = await hass.config_entries.async_unload_platforms(entry, system.platforms)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return unloaded


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: MeterLinkConfigEntry, device: DeviceEntry
) -> bool:
    """Allow removing a device the entry no longer reads (stale devices)."""
    remove = SYSTEMS[entry.data[CONF_SYSTEM]].remove_device
    return True if remove is None else remove(hass, entry, device)
