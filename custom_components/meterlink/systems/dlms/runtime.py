"""DLMS runtime: the client or push listener, the coordinator per meter, and entry setup."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ...capture import FrameCapture
from ...const import CONF_CAPTURE_FRAMES, DOMAIN, LOGGER
from ...coordinator import MeterLinkConfigEntry, MeterLinkCoordinator, MeterLinkRuntime
from ...helpers import error_translation
from ...history import BackgroundImport
from ...protocols.dlms.client import (
    DlmsAttributeRef,
    DlmsAuthentication,
    DlmsClient,
    DlmsTransport,
)
from ...protocols.dlms.errors import DlmsError, DlmsObjectUndefinedError
from ...protocols.dlms.listener import HAN_DEFAULT_BAUDRATE, DlmsPushListener
from ...protocols.dlms.models import DlmsReading
from ...protocols.dlms.push import PushFraming
from ...protocols.dlms.vendors import vendor_profile
from ...protocols.errors import MeterLinkAuthenticationError, MeterLinkError
from .const import (
    CONF_AUTHENTICATION,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BLOCK_CIPHER_KEY,
    CONF_CLASSES,
    CONF_CLIENT_ADDRESS,
    CONF_DISCONNECT,
    CONF_FRAMING,
    CONF_HOST,
    CONF_IMPORT_STATISTICS,
    CONF_INVOCATION_COUNTER,
    CONF_METER_ID,
    CONF_MODE,
    CONF_PARITY,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_REGISTERS,
    CONF_SERIAL_PORT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONF_SOURCE,
    CONF_SYSTEM_TITLE,
    CONF_TRANSPORT,
    CONF_VENDOR,
    COUNTER_SAVE_EVERY,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SERIAL_BAUDRATE,
    DEFAULT_SYSTEM_TITLE,
    MODE_LISTEN,
    OBIS_DISCONNECT,
    OBIS_FIRMWARE,
    OBIS_LOGICAL_DEVICE_NAME,
    OBIS_SERIAL,
    PUSH_METER_ID_OBIS,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.exceptions import ConfigEntryAuthFailed
    from homeassistant.helpers.entity_platform import AddEntitiesCallback
    from homeassistant.helpers.update_coordinator import UpdateFailed

    from ...protocols.dlms.models import DlmsPushNotification
    from .statistics import DlmsStatisticsImporter

# A polled meter's reply must come within this (seconds); the flow uses its own.
REQUEST_TIMEOUT: Final = 5.0
# A push meter sends every 2-10 s; no frame for this long makes the sensors unavailable.
PUSH_TIMEOUT: Final = 60.0
# After a failed push read the listener waits this long before opening the port again.
PUSH_RETRY_S: Final = 5.0
_STORE_VERSION: Final = 1


def _key(data: Mapping[str, Any], name: str) -> bytes | None:
    value = data.get(name)
    return bytes.fromhex(value) if value else None


def build_client(
    data: Mapping[str, Any],
    *,
    capture: FrameCapture | None = None,
    invocation_counter: int = 0,
    on_invocation_counter: Any = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> DlmsClient:
    """Return a client for an entry's (or a flow's) connection data."""
    profile = vendor_profile(data.get(CONF_VENDOR))
    physical = data.get(CONF_SERVER_PHYSICAL)
    password = data.get(CONF_PASSWORD)
    return DlmsClient(
        transport=DlmsTransport(data[CONF_TRANSPORT]),
        host=data.get(CONF_HOST),
        port=int(data.get(CONF_PORT) or profile.port),
        serial_port=data.get(CONF_SERIAL_PORT),
        baudrate=int(data.get(CONF_BAUDRATE) or DEFAULT_SERIAL_BAUDRATE),
        client_address=int(data.get(CONF_CLIENT_ADDRESS, profile.client_address)),
        server_logical=int(data.get(CONF_SERVER_LOGICAL, profile.server_logical)),
        server_physical=int(physical) if physical not in (None, "") else None,
        authentication=DlmsAuthentication(data.get(CONF_AUTHENTICATION, profile.authentication)),
        password=password.encode() if password else None,
        block_cipher_key=_key(data, CONF_BLOCK_CIPHER_KEY),
        authentication_key=_key(data, CONF_AUTHENTICATION_KEY),
        system_title=bytes.fromhex(data.get(CONF_SYSTEM_TITLE) or DEFAULT_SYSTEM_TITLE),
        invocation_counter=invocation_counter,
        on_invocation_counter=on_invocation_counter,
        request_timeout=request_timeout,
        max_list_items=profile.max_list_items,
        invocation_counter_obis=profile.invocation_counter_obis,
        on_frame=capture.callback if capture else None,
    )


def split_source(source: str) -> tuple[str | None, int | None, str | None]:
    """Return (host, port, serial port) of a listen-mode source (path or socket://host:port)."""
    if source.lower().startswith("socket://"):
        host, _, port = source[len("socket://") :].rpartition(":")
        return host.strip("[]"), int(port), None
    return None, None, source


def build_listener(
    data: Mapping[str, Any],
    *,
    capture: FrameCapture | None = None,
    timeout: float = PUSH_TIMEOUT,
) -> DlmsPushListener:
    """Return a push listener for an entry's (or a flow's) data."""
    host, port, serial_port = split_source(data[CONF_SOURCE])
    return DlmsPushListener(
        host=host,
        port=port,
        serial_port=serial_port,
        baudrate=int(data.get(CONF_BAUDRATE) or HAN_DEFAULT_BAUDRATE),
        parity=str(data.get(CONF_PARITY) or "E").upper(),
        framing=PushFraming(data.get(CONF_FRAMING, PushFraming.HDLC)),
        block_cipher_key=_key(data, CONF_BLOCK_CIPHER_KEY),
        authentication_key=_key(data, CONF_AUTHENTICATION_KEY),
        timeout=timeout,
        on_frame=capture.callback if capture else None,
    )


def push_meter_id(notification: DlmsPushNotification) -> str | None:
    """Return the meter's id a push carries (meter id object, else the system title)."""
    for obis in PUSH_METER_ID_OBIS:
        reading = notification.reading(obis)
        if reading is not None and isinstance(reading.value, str) and reading.value.strip():
            return reading.value.strip()
    if notification.system_title:
        return notification.system_title.hex()
    return None


def numeric_obis(readings: tuple[DlmsReading, ...] | list[DlmsReading]) -> list[str]:
    """Return the OBIS codes of readings that carry a number (the ones worth a sensor)."""
    return [
        r.obis
        for r in readings
        if isinstance(r.value, int | float) and not isinstance(r.value, bool)
    ]


@dataclass(frozen=True, kw_only=True)
class DlmsData:
    """One poll or push: the readings, per-register errors, the relay state."""

    readings: dict[str, DlmsReading] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    relay: bool | None = None
    meter_time: datetime | None = None


class DlmsCoordinator(MeterLinkCoordinator[DlmsData]):
    """Polls every chosen register of one meter in as few requests as the meter allows."""

    def __init__(
        self, hass: HomeAssistant, entry: MeterLinkConfigEntry, runtime: DlmsRuntime
    ) -> None:
        """Set up polling at the entry's interval (push meters: no interval)."""
        if runtime.listen:
            interval = None
        else:
            seconds = entry.options.get(CONF_SCAN_INTERVAL)
            interval = timedelta(seconds=seconds) if seconds else DEFAULT_SCAN_INTERVAL
        super().__init__(hass, entry, name=entry.title, update_interval=interval)  # type: ignore[arg-type]
        self.base_interval = interval or DEFAULT_SCAN_INTERVAL
        self.runtime = runtime

    async def _async_setup(self) -> None:
        """Polled meters: read who the meter is before the first poll."""
        if self.runtime.listen:
            return
        try:
            await self.runtime.async_read_identity()
        except DlmsError as err:
            raise self.failed(err) from err

    def failed(self, err: MeterLinkError) -> ConfigEntryAuthFailed | UpdateFailed:
        """Record a failure; a push meter's coordinator keeps no polling interval."""
        translated = super().failed(err)
        if self.runtime.listen:
            self.update_interval = None
        return translated

    async def _async_fetch(self) -> DlmsData:
        """Read the registers (polled) or wait for the next push (listen)."""
        if self.runtime.listen:
            return await self.runtime.async_receive()
        return await self.runtime.async_poll()


class DlmsRuntime(MeterLinkRuntime):
    """A loaded DLMS entry: one meter, polled through a client or heard through a listener."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Build the client or listener; nothing is opened yet."""
        self.hass = hass
        self.entry = entry
        data = entry.data
        self.listen = data.get(CONF_MODE) == MODE_LISTEN
        self.meter_id: str = data.get(CONF_METER_ID) or entry.unique_id or entry.entry_id
        self.capture = FrameCapture.for_secrets(
            enabled=bool(entry.options.get(CONF_CAPTURE_FRAMES, False)),
            secrets=[data.get(CONF_PASSWORD)],
        )
        self._store: Store[dict[str, int]] = Store(
            hass, _STORE_VERSION, f"{DOMAIN}.dlms_counter.{entry.entry_id}"
        )
        self._saved_counter = int(data.get(CONF_INVOCATION_COUNTER, 0))
        self._saved_at: datetime | None = None
        self.client: DlmsClient | None = None
        self.listener: DlmsPushListener | None = None
        if self.listen:
            self.listener = build_listener(data, capture=self.capture, timeout=PUSH_TIMEOUT)
        else:
            self.client = build_client(
                data,
                capture=self.capture,
                invocation_counter=self._saved_counter,
                request_timeout=REQUEST_TIMEOUT,
            )
        classes: dict[str, int] = entry.options.get(CONF_CLASSES, {})
        self.registers: dict[str, int] = {
            obis: int(classes.get(obis, 3)) for obis in entry.options.get(CONF_REGISTERS, [])
        }
        self.has_disconnect = bool(entry.options.get(CONF_DISCONNECT, False)) and not self.listen
        self.identity: dict[str, str] = {}
        self.push_list_id: str | None = None
        self.manufacturer: str | None = None
        self.coordinator = DlmsCoordinator(hass, entry, self)
        self.coordinators = [self.coordinator]
        self.listen_task: asyncio.Task[None] | None = None
        self.importer: DlmsStatisticsImporter | None = None
        self.imports = BackgroundImport(hass, entry, "DLMS profile import")

    # --- invocation counter ---------------------------------------------------------------

    async def async_load_counter(self) -> None:
        """Continue from the highest invocation counter stored so far."""
        stored = await self._store.async_load()
        if stored and self.client is not None:
            counter = max(self._saved_counter, int(stored.get("counter", 0)))
            self._saved_counter = counter
            self.client.invocation_counter = counter

    async def async_save_counter(self, *, force: bool = False) -> None:
        """Persist the client's invocation counter when it moved (throttled unless forced)."""
        client = self.client
        if client is None or client.authentication is not DlmsAuthentication.HIGH_GMAC:
            return
        counter = client.invocation_counter
        now = dt_util.utcnow()
        if counter == self._saved_counter:
            return
        if not force and self._saved_at is not None and now - self._saved_at < COUNTER_SAVE_EVERY:
            return
        await self._store.async_save({"counter": counter})
        self._saved_counter, self._saved_at = counter, now

    # --- polled meters --------------------------------------------------------------------

    async def async_read_identity(self) -> None:
        """Read serial number, logical device name and firmware (those the meter has)."""
        assert self.client is not None  # noqa: S101 - polled meters have a client
        refs = [
            DlmsAttributeRef(obis=obis, class_id=1)
            for obis in (OBIS_SERIAL, OBIS_LOGICAL_DEVICE_NAME, OBIS_FIRMWARE)
        ]
        for ref, result in zip(refs, await self.client.read_many(refs), strict=True):
            if isinstance(result, DlmsReading) and result.value is not None:
                value = result.value
                text = value.hex() if isinstance(value, bytes) else str(value)
                self.identity[ref.obis] = text
        name = self.identity.get(OBIS_LOGICAL_DEVICE_NAME)
        if name:
            self.manufacturer = name[:3]

    async def async_poll(self) -> DlmsData:
        """Read every chosen register (and the relay) in batched requests."""
        assert self.client is not None  # noqa: S101 - polled meters have a client
        refs = [DlmsAttributeRef(obis=o, class_id=c) for o, c in self.registers.items()]
        if self.has_disconnect:
            refs.append(DlmsAttributeRef(obis=OBIS_DISCONNECT, class_id=70, attribute=2))
        results = await self.client.read_many(refs) if refs else []
        readings: dict[str, DlmsReading] = {}
        errors: dict[str, str] = {}
        relay: bool | None = None
        for ref, result in zip(refs, results, strict=True):
            if isinstance(result, DlmsError):
                errors[ref.obis] = str(result)
            elif ref.class_id == 70:  # noqa: PLR2004 - disconnect control
                relay = bool(result.value) if isinstance(result.value, bool | int) else None
            else:
                readings[ref.obis] = result
        await self.async_save_counter()
        self.schedule_import()
        return DlmsData(readings=readings, errors=errors, relay=relay)

    async def async_read_relay(self) -> bool:
        """Read the disconnect control's output state (True = supply connected)."""
        assert self.client is not None  # noqa: S101 - polled meters have a client
        reading = await self.client.read(OBIS_DISCONNECT, class_id=70, attribute=2)
        return bool(reading.value)

    # --- statistics -----------------------------------------------------------------------

    def schedule_import(self) -> None:
        """Start a load-profile import in the background unless one runs or ran recently."""
        if self.importer is None or not self.entry.options.get(CONF_IMPORT_STATISTICS, True):
            return
        self.imports.schedule(self._async_import, self.importer.every)

    async def _async_import(self) -> None:
        assert self.importer is not None  # noqa: S101
        try:
            await self.importer.async_run()
        except DlmsObjectUndefinedError as err:
            LOGGER.info("DLMS %s has no load profile to import: %s", self.entry.title, err)
            self.importer = None
        except DlmsError as err:
            LOGGER.warning("DLMS %s: load profile import stopped: %s", self.entry.title, err)

    async def async_wait_import(self) -> None:
        """Wait for a running import to finish (shutdown and tests)."""
        await self.imports.wait()

    # --- push meters ----------------------------------------------------------------------

    async def async_receive(self) -> DlmsData:
        """Wait for the next push and turn it into readings."""
        assert self.listener is not None  # noqa: S101 - push meters have a listener
        notification = await self.listener.receive()
        self.push_list_id = notification.push_list.list_id
        self.manufacturer = notification.push_list.manufacturer or self.manufacturer
        readings = {r.obis: r for r in notification.readings}
        return DlmsData(readings=readings, meter_time=notification.timestamp)

    async def _async_listen(self) -> None:
        """Refresh on every push; after a failure wait, then listen again; stop on bad keys."""
        coordinator = self.coordinator
        while True:
            await coordinator.async_refresh()
            if coordinator.last_update_success:
                continue
            if isinstance(coordinator.last_error, MeterLinkAuthenticationError):
                return  # the coordinator started reauth
            await asyncio.sleep(PUSH_RETRY_S)

    def start_listening(self) -> None:
        """Start the background task that reads pushes."""
        self.listen_task = self.entry.async_create_background_task(
            self.hass, self._async_listen(), f"{DOMAIN} DLMS push listener {self.entry.title}"
        )

    # --- devices --------------------------------------------------------------------------

    @property
    def device_info(self) -> DeviceInfo:
        """Return the meter's device."""
        vendor = vendor_profile(self.entry.data.get(CONF_VENDOR))
        serial = self.identity.get(OBIS_SERIAL) or self.meter_id
        model = "DLMS/COSEM push meter" if self.listen else "DLMS/COSEM meter"
        if self.push_list_id:
            model = f"{model} ({self.push_list_id})"
        return DeviceInfo(
            identifiers={(DOMAIN, self.meter_id)},
            name=self.entry.title,
            manufacturer=self.manufacturer
            or (None if self.listen or vendor.key.startswith("generic") else vendor.name),
            model=model,
            serial_number=serial,
            sw_version=self.identity.get(OBIS_FIRMWARE),
        )

    # --- platforms ------------------------------------------------------------------------

    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add the sensors, and the relay switch where the meter has one."""
        if platform is Platform.SENSOR:
            from .sensor import build_sensors  # noqa: PLC0415 - platform code loads with it

            async_add_entities(build_sensors(self))
        elif platform is Platform.SWITCH and self.has_disconnect:
            from .switch import DlmsRelaySwitch  # noqa: PLC0415

            async_add_entities([DlmsRelaySwitch(self)])

    # --- life cycle -----------------------------------------------------------------------

    async def async_shutdown(self) -> None:
        """Stop listening or release the association; keep the invocation counter."""
        await self.imports.cancel()
        if self.listen_task is not None and not self.listen_task.done():
            self.listen_task.cancel()
            await asyncio.gather(self.listen_task, return_exceptions=True)
        if self.listener is not None:
            await self.listener.close()
        if self.client is not None:
            await self.client.close()
            await self.async_save_counter(force=True)

    def diagnostics(self) -> dict[str, Any]:
        """Return the meter's state (no secrets: keys live in the entry data, redacted)."""
        coordinator = self.coordinator
        last_error = coordinator.last_error
        data = coordinator.data
        return {
            "mode": self.entry.data.get(CONF_MODE),
            "meter_id": self.meter_id,
            "identity": self.identity,
            "manufacturer": self.manufacturer,
            "push_list": self.push_list_id,
            "registers": self.registers,
            "disconnect_control": self.has_disconnect,
            "invocation_counter": self.client.invocation_counter if self.client else None,
            "round_trips": self.client.round_trips if self.client else None,
            "last_success": coordinator.last_success,
            "last_error": error_translation(last_error)[0] if last_error else None,
            "readings": {
                obis: {"value": r.value, "unit": r.unit, "scaler": r.scaler}
                for obis, r in data.readings.items()
            }
            if data
            else {},
            "errors": data.errors if data else {},
            "importer": self.importer.diagnostics() if self.importer else None,
        }


async def async_setup_dlms_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> DlmsRuntime:
    """Set a DLMS entry up: associate (or hear one push), read the registers once."""
    runtime = DlmsRuntime(hass, entry)
    await runtime.async_load_counter()
    try:
        # raises ConfigEntryNotReady (retried) or ConfigEntryAuthFailed (reauth)
        await runtime.coordinator.async_config_entry_first_refresh()
    except Exception:
        await runtime.async_shutdown()
        raise
    if runtime.listen:
        runtime.start_listening()
    else:
        from .statistics import DlmsStatisticsImporter  # noqa: PLC0415 - recorder loads lazily

        runtime.importer = DlmsStatisticsImporter(hass, runtime)
        runtime.schedule_import()
    LOGGER.debug("DLMS %s set up (%s registers)", entry.title, len(runtime.registers))
    return runtime
