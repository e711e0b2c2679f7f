"""E3/DC runtime: one RSCP client, a coordinator per cadence, devices and entry setup."""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import CONNECTION_NETWORK_MAC, DeviceInfo
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from ...capture import FrameCapture
from ...const import CONF_CAPTURE_FRAMES, DOMAIN, LOGGER
from ...coordinator import MeterLinkConfigEntry, MeterLinkCoordinator, MeterLinkRuntime
from ...helpers import error_translation
from ...history import BackgroundImport
from ...protocols.e3dc.client import BACKOFF_S, RscpClient, Topology
from ...protocols.e3dc.commands import HistoryPeriod, PowerMode
from ...protocols.e3dc.errors import RscpPortalUnreachableError, RscpResponseError
from ...protocols.errors import MeterLinkError
from .const import (
    CLIENT_TIMEOUT,
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RSCP_KEY,
    CONF_SERIAL,
    CONF_USERNAME,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_PORT,
    DETAILS_INTERVAL,
    KEEPALIVE_S,
    MANUFACTURER,
    POWER_MODE_REFRESH,
    STATIC_INTERVAL,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import CALLBACK_TYPE, HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.update_coordinator import UpdateFailed

    from ...protocols.capture import FrameCallback
    from ...protocols.e3dc.models import (
        Battery,
        Details,
        FarmDevice,
        HistoryTotals,
        LivePower,
        SmartSwitch,
        SystemInfo,
        Wallbox,
    )
    from .statistics import E3dcStatisticsImporter

DAY_S = 86400


def build_client(
    data: Mapping[str, Any],
    on_frame: FrameCallback | None = None,
    *,
    timeout: float = CLIENT_TIMEOUT,
    keepalive_s: float | None = KEEPALIVE_S,
    max_backoff_s: float = BACKOFF_S[-1],
) -> RscpClient:
    """Return a client for an entry's (or a flow's) connection data (nothing connects yet).

    ``max_backoff_s`` (the live interval for an entry) caps the pause after failed connects,
    so a device that comes back is read at the next poll.
    """
    return RscpClient(
        host=data[CONF_HOST],
        port=int(data.get(CONF_PORT, DEFAULT_PORT)),
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        rscp_key=data[CONF_RSCP_KEY],
        timeout=timeout,
        keepalive_s=keepalive_s,
        on_frame=on_frame,
        max_backoff_s=max_backoff_s,
    )


@dataclass(frozen=True, kw_only=True)
class E3dcStatic:
    """What rarely changes: identity and ratings, the parts present, farm members."""

    info: SystemInfo
    topology: Topology
    farm: tuple[FarmDevice, ...] = ()


@dataclass(frozen=True, kw_only=True)
class E3dcDetails:
    """The minute poll: device details, smart-home switches and today's energy totals."""

    details: Details
    switches: tuple[SmartSwitch, ...]
    today: HistoryTotals | None
    day: date

    def battery(self, index: int) -> Battery | None:
        """Return the battery with ``index``, if it answered."""
        return next((b for b in self.details.batteries if b.index == index), None)

    def wallbox(self, index: int) -> Wallbox | None:
        """Return the wallbox with ``index``, if it answered."""
        return next((w for w in self.details.wallboxes if w.index == index), None)


class E3dcCoordinator[DataT](MeterLinkCoordinator[DataT]):
    """A coordinator of one E3/DC cadence; the runtime owns the client."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        runtime: E3dcRuntime,
        *,
        kind: str,
        update_interval: timedelta,
    ) -> None:
        """Set up one cadence."""
        super().__init__(hass, entry, name=f"{entry.title} {kind}", update_interval=update_interval)
        self.runtime = runtime

    async def _async_update_data(self) -> DataT:
        """Fetch; a successful read clears the 'cannot reach E3/DC' repair issue."""
        data = await super()._async_update_data()
        self.runtime.update_portal_issue(None)
        return data

    def failed(self, err: MeterLinkError) -> ConfigEntryAuthFailed | UpdateFailed:
        """Record a failure; a login refused for want of internet raises a repair issue."""
        self.runtime.update_portal_issue(err)
        return super().failed(err)


class E3dcStaticCoordinator(E3dcCoordinator[E3dcStatic]):
    """Hourly: system info, which batteries/inverters/meters/wallboxes answer, farm members."""

    async def _async_fetch(self) -> E3dcStatic:
        """Read identity, topology and farm (three round trips, once an hour)."""
        client = self.runtime.client
        info = await client.system_info()
        topology = await client.discover()
        farm = await client.farm_devices()
        known = self.data
        if known is not None and (topology != known.topology or farm != known.farm):
            # a battery, wallbox or farm member came or went: rebuild devices and entities
            LOGGER.info("%s: parts changed (%s), reloading", self.name, topology)
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
        return E3dcStatic(info=info, topology=topology, farm=farm)


class E3dcLiveCoordinator(E3dcCoordinator["LivePower"]):
    """Every few seconds: power flows, SOC, autarky and EMS status in ONE round trip."""

    async def _async_fetch(self) -> LivePower:
        """Read the live values."""
        return await self.runtime.client.poll_live()


class E3dcDetailsCoordinator(E3dcCoordinator[E3dcDetails]):
    """Every minute: batteries, inverters, meters, wallboxes, settings, switches, today."""

    async def _async_fetch(self) -> E3dcDetails:
        """Read the details frame, the switches and today's totals."""
        client = self.runtime.client
        static = self.runtime.static.data
        details = await client.poll_details(static.topology if static else None)
        switches = await client.switches()
        midnight = dt_util.start_of_local_day()
        try:
            today: HistoryTotals | None = await client.history(
                HistoryPeriod.DAY, start=int(midnight.timestamp()), span_s=DAY_S
            )
        except RscpResponseError as err:  # a device without history database: no totals
            LOGGER.debug("%s: no history for today: %s", self.name, err)
            today = None
        self.runtime.schedule_import()
        return E3dcDetails(details=details, switches=switches, today=today, day=midnight.date())


class E3dcRuntime(MeterLinkRuntime):
    """A loaded E3/DC entry: the client, three coordinators, devices and the importer."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Build the client and coordinators; nothing is read yet."""
        self.hass = hass
        self.entry = entry
        self.capture = FrameCapture.for_secrets(
            enabled=bool(entry.options.get(CONF_CAPTURE_FRAMES, False)),
            secrets=[entry.data.get(CONF_PASSWORD), entry.data.get(CONF_RSCP_KEY)],
        )
        self.serial: str = entry.data.get(CONF_SERIAL) or entry.unique_id or entry.entry_id
        seconds = entry.options.get(CONF_SCAN_INTERVAL)
        live_interval = timedelta(seconds=seconds) if seconds else DEFAULT_LIVE_INTERVAL
        self.client = build_client(
            entry.data, self.capture.callback, max_backoff_s=live_interval.total_seconds()
        )
        self.static = E3dcStaticCoordinator(
            hass, entry, self, kind="static", update_interval=STATIC_INTERVAL
        )
        self.live = E3dcLiveCoordinator(
            hass, entry, self, kind="live", update_interval=live_interval
        )
        self.details = E3dcDetailsCoordinator(
            hass, entry, self, kind="details", update_interval=DETAILS_INTERVAL
        )
        self.coordinators = [self.static, self.live, self.details]
        self.importer: E3dcStatisticsImporter | None = None
        self.imports = BackgroundImport(hass, entry, "E3/DC history import")
        self.power_mode: tuple[PowerMode, int, int] | None = None  # mode, W, repeats left
        self._power_mode_unsub: CALLBACK_TYPE | None = None

    # --- devices ------------------------------------------------------------------------------

    @property
    def info(self) -> SystemInfo | None:
        """Return the system info of the last static poll."""
        return self.static.data.info if self.static.data else None

    @property
    def system_identifier(self) -> tuple[str, str]:
        """Return the identifier of the E3/DC system device."""
        return (DOMAIN, self.serial)

    @property
    def system_device(self) -> DeviceInfo:
        """Return the device of the E3/DC system itself."""
        info = self.info
        model = info.model if info and info.model else "Home power station"
        device = DeviceInfo(
            identifiers={self.system_identifier},
            name=f"E3/DC {model}",
            manufacturer=MANUFACTURER,
            model=model,
            serial_number=self.serial,
            sw_version=info.firmware if info else None,
        )
        if info is not None and info.mac:
            device["connections"] = {(CONNECTION_NETWORK_MAC, dr.format_mac(info.mac))}
        return device

    def battery_device(self, index: int) -> DeviceInfo:
        """Return the device of one battery."""
        data = self.details.data
        battery = data.battery(index) if data else None
        return DeviceInfo(
            identifiers={(DOMAIN, f"{self.serial}_battery_{index}")},
            name=f"E3/DC battery {index + 1}",
            manufacturer=MANUFACTURER,
            model=battery.name if battery and battery.name else "Battery",
            via_device=self.system_identifier,
        )

    def wallbox_device(self, index: int) -> DeviceInfo:
        """Return the device of one wallbox."""
        data = self.details.data
        box = data.wallbox(index) if data else None
        return DeviceInfo(
            identifiers={(DOMAIN, f"{self.serial}_wallbox_{index}")},
            name=f"E3/DC wallbox {box.name}" if box and box.name else f"E3/DC wallbox {index + 1}",
            manufacturer=MANUFACTURER,
            model="Wallbox",
            sw_version=box.app_software if box else None,
            via_device=self.system_identifier,
        )

    def farm_device(self, member: FarmDevice) -> DeviceInfo:
        """Return the device of a farm member (a slave of this master)."""
        ident = member.serial or member.name or "unknown"
        return DeviceInfo(
            identifiers={(DOMAIN, f"{self.serial}_farm_{ident}")},
            name=f"E3/DC farm member {member.name or member.serial}",
            manufacturer=MANUFACTURER,
            model="Farm member",
            serial_number=member.serial,
            via_device=self.system_identifier,
        )

    @property
    def topology(self) -> Topology:
        """Return the parts found at setup."""
        return self.static.data.topology if self.static.data else Topology()

    # --- platforms ----------------------------------------------------------------------------

    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add the entities of one platform."""
        # platform code loads with the platform
        if platform is Platform.SENSOR:
            from .sensor import build_sensors  # noqa: PLC0415

            async_add_entities(build_sensors(self))
        elif platform is Platform.BINARY_SENSOR:
            from .binary_sensor import build_binary_sensors  # noqa: PLC0415

            async_add_entities(build_binary_sensors(self))
        elif platform is Platform.SWITCH:
            from .switch import build_switches  # noqa: PLC0415

            async_add_entities(build_switches(self))
        elif platform is Platform.NUMBER:
            from .number import build_numbers  # noqa: PLC0415

            async_add_entities(build_numbers(self))
        elif platform is Platform.BUTTON:
            from .button import build_buttons  # noqa: PLC0415

            async_add_entities(build_buttons(self))

    # --- commands -----------------------------------------------------------------------------

    def not_confirmed(self, what: str, wanted: object, read: object) -> HomeAssistantError:
        """Return the error for a write the device did not confirm by reading back."""
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="e3dc_write_not_confirmed",
            translation_placeholders={"what": what, "wanted": str(wanted), "read": str(read)},
        )

    def update_portal_issue(self, err: MeterLinkError | None) -> None:
        """Show a repair issue while the E3/DC refuses logins because it is offline."""
        issue_id = f"e3dc_portal_unreachable_{self.entry.entry_id}"
        if isinstance(err, RscpPortalUnreachableError):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="e3dc_portal_unreachable",
                translation_placeholders={"title": self.entry.title, "error": str(err)},
            )
        elif err is None:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    async def async_set_power_mode(
        self, mode: PowerMode, power_w: int, duration: timedelta
    ) -> None:
        """Force a battery power mode for ``duration``, re-sent so the device keeps it.

        The device falls back to normal operation unless the request is repeated (fact sheet
        3: hacs-e3dc re-sends it every 10 s); NORMAL ends a forced mode at once.
        """
        self._cancel_power_mode()
        await self.client.set_power_mode(mode, power_w)
        if mode is PowerMode.NORMAL:
            return
        repeats = int(duration / POWER_MODE_REFRESH)  # counted, not clocked: no drift
        self.power_mode = (mode, power_w, repeats)
        self._power_mode_unsub = async_track_time_interval(
            self.hass, self.async_keep_power_mode, POWER_MODE_REFRESH
        )

    async def async_keep_power_mode(self, _now: datetime) -> None:
        """Re-send the forced mode; back to normal once its time is up."""
        if self.power_mode is None:
            return
        mode, power_w, repeats = self.power_mode
        try:
            if repeats <= 0:
                self._cancel_power_mode()
                await self.client.set_power_mode(PowerMode.NORMAL, 0)
            else:
                self.power_mode = (mode, power_w, repeats - 1)
                await self.client.set_power_mode(mode, power_w)
        except MeterLinkError as err:
            LOGGER.warning("E3/DC %s: power mode not refreshed: %s", self.entry.title, err)

    def _cancel_power_mode(self) -> None:
        self.power_mode = None
        if self._power_mode_unsub is not None:
            self._power_mode_unsub()
            self._power_mode_unsub = None

    # --- statistics ---------------------------------------------------------------------------

    def schedule_import(self) -> None:
        """Start a history import in the background unless one runs or ran recently."""
        self.imports.start(self.importer)

    async def async_wait_import(self) -> None:
        """Wait for a running import to finish (shutdown and tests)."""
        await self.imports.wait()

    # --- life cycle ---------------------------------------------------------------------------

    async def async_shutdown(self) -> None:
        """Stop the import and a forced power mode's refresh, and close the connection."""
        self._cancel_power_mode()
        await self.imports.cancel()
        await self.client.close()

    def diagnostics(self) -> dict[str, Any]:
        """Return what the device told us (no secrets) and the state of each cadence."""
        return {
            "host": self.client.host,
            "port": self.client.port,
            "user_level": self.client.user_level,
            "coordinators": {
                c.name: {
                    "last_success": c.last_success,
                    "last_error": error_translation(c.last_error)[0] if c.last_error else None,
                    "interval_s": c.update_interval.total_seconds() if c.update_interval else None,
                }
                for c in self.coordinators
            },
            "static": _plain(self.static.data),
            "live": _plain(self.live.data),
            "details": _plain(self.details.data),
            "importer": self.importer.diagnostics() if self.importer else None,
        }


def _plain(value: object) -> Any:
    """Return a dataclass as a dict (for diagnostics), anything else as is."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


async def async_setup_e3dc_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> E3dcRuntime:
    """Set an E3/DC entry up: identity and parts, first live and details polls, devices."""
    from .statistics import E3dcStatisticsImporter  # noqa: PLC0415 - recorder loads lazily

    runtime = E3dcRuntime(hass, entry)
    try:
        # raises ConfigEntryNotReady (retried with backoff) or ConfigEntryAuthFailed (reauth)
        await runtime.static.async_config_entry_first_refresh()
        await runtime.live.async_config_entry_first_refresh()
        await runtime.details.async_config_entry_first_refresh()
    except Exception:
        await runtime.client.close()
        raise
    # The system's device is registered once here; batteries and wallboxes point to it.
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **runtime.system_device)
    runtime.importer = E3dcStatisticsImporter(hass, runtime)
    runtime.schedule_import()
    return runtime
