"""DCS runtime: the client, the polling coordinator, and entry setup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_create_clientsession
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.util import dt as dt_util

from ...capture import FrameCapture
from ...const import CONF_CAPTURE_FRAMES, DOMAIN, LOGGER
from ...coordinator import MeterLinkConfigEntry, MeterLinkCoordinator, MeterLinkRuntime
from ...helpers import error_translation
from ...history import BackgroundImport
from ...protocols.dcs import (
    DcsApi,
    DcsBadRequestError,
    DcsClient,
    DcsForbiddenError,
    DcsMeter,
    DcsNotFoundError,
    DcsReading,
    DcsRegister,
    DcsStatus,
    DcsTarget,
    DcsTlsError,
    DcsVirtualMeter,
)
from ...protocols.errors import MeterLinkAuthenticationError, MeterLinkError
from .const import (
    CONF_API,
    CONF_PASSWORD,
    CONF_REGISTERS,
    CONF_SERVER_ID,
    CONF_URL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
    CONF_VIRTUAL_METERS,
    DEFAULT_SCAN_INTERVAL,
    MANUFACTURER,
    POLL_SPAN,
)

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from .statistics import DcsStatisticsImporter


def build_client(
    hass: HomeAssistant,
    data: dict[str, Any],
    capture: FrameCapture | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    request_timeout: float = 30.0,
) -> DcsClient:
    """Return a client for an entry's (or a flow's) connection data.

    The session is Home Assistant's, with its own (empty) cookie jar: DCS session cookies
    are held by the client, so two entries on one server never share a login.
    """
    verify = bool(data.get(CONF_VERIFY_SSL, True))
    return DcsClient(
        url=data[CONF_URL],
        username=data.get(CONF_USERNAME) or None,
        password=data.get(CONF_PASSWORD) or None,
        api=DcsApi(data.get(CONF_API, DcsApi.AUTO)),
        verify_ssl=verify,
        session=session
        or async_create_clientsession(hass, verify_ssl=verify, cookie_jar=aiohttp.DummyCookieJar()),
        request_timeout=request_timeout,
        on_frame=capture.callback if capture else None,
    )


@dataclass(frozen=True, kw_only=True)
class DcsTargetInfo:
    """A register or virtual meter MeterLink reads, with the device it belongs to."""

    target: DcsTarget
    name: str
    unit: str
    is_instantaneous: bool
    device_key: str  # "meter_405" / "vm_9"
    register: DcsRegister | None = None
    virtual_meter: DcsVirtualMeter | None = None


@dataclass(frozen=True, kw_only=True)
class DcsData:
    """One poll: the latest reading of each target, and the targets the server refused."""

    latest: dict[str, DcsReading | None] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()


class DcsCoordinator(MeterLinkCoordinator[DcsData]):
    """Polls the latest half-hours of every selected register and virtual meter."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        runtime: DcsRuntime,
    ) -> None:
        """Set up polling at the entry's interval."""
        seconds = entry.options.get(CONF_SCAN_INTERVAL)
        interval = timedelta(seconds=seconds) if seconds else DEFAULT_SCAN_INTERVAL
        super().__init__(hass, entry, name=entry.title, update_interval=interval)
        self.runtime = runtime

    async def _async_setup(self) -> None:
        """Log in and learn the server's meters before the first poll."""
        try:
            await self.runtime.async_load_metadata()
        except MeterLinkError as err:
            self.runtime.update_tls_issue(err)
            raise self.failed(err) from err
        self.runtime.update_tls_issue(None)

    async def _async_fetch(self) -> DcsData:
        """Read the last few half-hours of every target; keep the newest value of each."""
        runtime = self.runtime
        end = _next_half_hour(dt_util.utcnow())
        latest: dict[str, DcsReading | None] = {}
        missing: set[str] = set()
        refused: MeterLinkError | None = None
        try:
            for wire, info in runtime.targets.items():
                try:
                    rows = await runtime.client.readings(
                        info.target,
                        start=end - POLL_SPAN,
                        end=end,
                        instantaneous=info.is_instantaneous,
                    )
                except (DcsBadRequestError, DcsForbiddenError, DcsNotFoundError) as err:
                    LOGGER.warning("DCS %s: %s cannot be read: %s", self.name, wire, err)
                    missing.add(wire)
                    refused = err
                    continue
                latest[wire] = newest = _newest(rows, period=info.virtual_meter is not None)
                if newest is not None:
                    runtime.device_read[info.device_key] = dt_util.utcnow()
        except MeterLinkError as err:
            runtime.update_tls_issue(err)
            raise
        runtime.update_tls_issue(None)
        runtime.update_missing_issue(missing)
        if refused is not None and not latest:
            # every target refused: the server (or a proxy in front of it) is not serving us
            raise refused
        runtime.schedule_import()
        return DcsData(latest=latest, missing=frozenset(missing))


def _next_half_hour(now: datetime) -> datetime:
    base = now.astimezone(UTC).replace(second=0, microsecond=0)
    minute = 30 if base.minute < 30 else 60  # noqa: PLR2004
    return base.replace(minute=0) + timedelta(minutes=minute)


def _newest(rows: list[DcsReading], *, period: bool) -> DcsReading | None:
    for row in reversed(rows):
        if DcsStatus.GENERATED in row.status:
            continue  # v3 padding for missing data, not a reading
        value = row.period if period and row.total is None else row.total
        if value is not None:
            return row
    return None


class DcsRuntime(MeterLinkRuntime):
    """A loaded DCS entry: client, metadata of the selected targets, coordinator, importer."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Build the client; nothing is read yet."""
        self.hass = hass
        self.entry = entry
        self.capture = FrameCapture.for_secrets(
            enabled=bool(entry.options.get(CONF_CAPTURE_FRAMES, False)),
            secrets=[entry.data.get(CONF_PASSWORD), entry.data.get(CONF_USERNAME)],
        )
        self.client = build_client(hass, dict(entry.data), self.capture)
        self.server_id: str = entry.data.get(CONF_SERVER_ID) or entry.unique_id or entry.entry_id
        self.meters: dict[int, DcsMeter] = {}
        self.virtual_meters: dict[int, DcsVirtualMeter] = {}
        self.targets: dict[str, DcsTargetInfo] = {}
        self.gone: set[str] = set()  # selected, but the server no longer has them
        self.device_read: dict[str, datetime] = {}  # device key -> last time it gave a value
        self.coordinator = DcsCoordinator(hass, entry, self)
        self.coordinators = [self.coordinator]
        self.importer: DcsStatisticsImporter | None = None
        self.imports = BackgroundImport(hass, entry, "DCS history import")

    # --- metadata -----------------------------------------------------------------------------

    async def async_load_metadata(self) -> None:
        """Log in and map the selected registers and virtual meters to their meters."""
        await self.client.login()
        meters = await self.client.meters()
        vms = await self.client.virtual_meters()
        self.meters = {m.id: m for m in meters}
        self.virtual_meters = {v.id: v for v in vms}
        wanted = set(self.entry.options.get(CONF_REGISTERS, []))
        wanted_vms = set(self.entry.options.get(CONF_VIRTUAL_METERS, []))
        targets: dict[str, DcsTargetInfo] = {}
        for meter in meters:
            for register in meter.registers:
                wire = register.target.wire
                if wire in wanted:
                    targets[wire] = DcsTargetInfo(
                        target=register.target,
                        name=register.name,
                        unit=register.unit,
                        is_instantaneous=register.is_instantaneous,
                        device_key=f"meter_{meter.id}",
                        register=register,
                    )
        for vm in vms:
            if vm.target.wire in wanted_vms:
                targets[vm.target.wire] = DcsTargetInfo(
                    target=vm.target,
                    name=vm.name,
                    unit=vm.unit,
                    is_instantaneous=vm.is_instantaneous,
                    device_key=f"vm_{vm.id}",
                    virtual_meter=vm,
                )
        self.targets = targets
        self.gone = (wanted | wanted_vms) - set(targets)
        self.update_missing_issue(set())

    def meter_of(self, info: DcsTargetInfo) -> DcsMeter | None:
        """Return the meter a register target belongs to."""
        if info.register is None:
            return None
        return self.meters.get(int(info.device_key.removeprefix("meter_")))

    # --- devices ------------------------------------------------------------------------------

    @property
    def server_device(self) -> DeviceInfo:
        """Return the device of the DCS server itself."""
        user = self.client.user
        return DeviceInfo(
            identifiers={(DOMAIN, self.server_id)},
            name=self.entry.title,
            manufacturer=MANUFACTURER,
            model="DCS remote metering server",
            sw_version=user.app_version if user else None,
            configuration_url=self.entry.data[CONF_URL],
        )

    def device_info(self, device_key: str) -> DeviceInfo:
        """Return the device of a meter (``meter_<id>``) or virtual meter (``vm_<id>``)."""
        via = (DOMAIN, self.server_id)
        ident = {(DOMAIN, f"{self.server_id}_{device_key}")}
        kind, _, raw_id = device_key.partition("_")
        if kind == "meter":
            meter = self.meters[int(raw_id)]
            return DeviceInfo(
                identifiers=ident,
                name=meter.name,
                manufacturer=MANUFACTURER,
                model=meter.meter_type or "DCS meter",
                serial_number=meter.serial_number or None,
                via_device=via,
            )
        vm = self.virtual_meters[int(raw_id)]
        return DeviceInfo(
            identifiers=ident,
            name=vm.name,
            manufacturer=MANUFACTURER,
            model="DCS virtual meter",
            via_device=via,
        )

    # --- platforms ----------------------------------------------------------------------------

    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add the sensors."""
        if platform is Platform.SENSOR:
            from .sensor import build_sensors  # noqa: PLC0415 - platform code loads with it

            async_add_entities(build_sensors(self))

    # --- statistics ---------------------------------------------------------------------------

    def schedule_import(self) -> None:
        """Start a history import in the background unless one runs or ran recently."""
        self.imports.start(self.importer)

    async def async_wait_import(self) -> None:
        """Wait for a running import to finish (shutdown and tests)."""
        await self.imports.wait()

    # --- repairs ------------------------------------------------------------------------------

    def update_tls_issue(self, err: MeterLinkError | None) -> None:
        """Raise a repair issue while the server's certificate cannot be verified."""
        issue_id = f"dcs_tls_{self.entry.entry_id}"
        if isinstance(err, DcsTlsError):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="dcs_tls_error",
                translation_placeholders={"title": self.entry.title, "error": str(err)},
            )
        elif err is None or not isinstance(err, MeterLinkAuthenticationError):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def update_missing_issue(self, missing: set[str]) -> None:
        """Raise a repair issue while selected registers are gone or refused by the server."""
        issue_id = f"dcs_missing_{self.entry.entry_id}"
        missing = missing | self.gone  # refused now, or no longer on the server at all
        if missing:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="dcs_targets_missing",
                translation_placeholders={
                    "title": self.entry.title,
                    "targets": ", ".join(sorted(missing)),
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    # --- life cycle ---------------------------------------------------------------------------

    async def async_shutdown(self) -> None:
        """Stop the import and log out."""
        await self.imports.cancel()
        await self.client.close()

    def diagnostics(self) -> dict[str, Any]:
        """Return what the server told us (no secrets) and the state of polling."""
        last_error = self.coordinator.last_error
        return {
            "api": self.client.api_in_use,
            "user_role": self.client.user.role if self.client.user else None,
            "meters": [m.to_dict() for m in self.meters.values()],
            "virtual_meters": [v.to_dict() for v in self.virtual_meters.values()],
            "targets": sorted(self.targets),
            "last_success": self.coordinator.last_success,
            "last_error": error_translation(last_error)[0] if last_error else None,
            "latest": {
                wire: reading._asdict() if reading else None
                for wire, reading in (self.coordinator.data.latest.items())
            }
            if self.coordinator.data
            else {},
            "importer": self.importer.diagnostics() if self.importer else None,
        }


async def async_setup_dcs_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> DcsRuntime:
    """Set a DCS entry up: log in, learn the meters, first poll."""
    from .statistics import DcsStatisticsImporter  # noqa: PLC0415 - recorder loads lazily

    runtime = DcsRuntime(hass, entry)
    try:
        # raises ConfigEntryNotReady (retried with backoff) or ConfigEntryAuthFailed (reauth)
        await runtime.coordinator.async_config_entry_first_refresh()
    except Exception:
        await runtime.client.close()
        raise
    # The server's own device is registered here once; meter devices point to it (via_device).
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **runtime.server_device)
    runtime.importer = DcsStatisticsImporter(hass, runtime)
    runtime.schedule_import()
    return runtime
