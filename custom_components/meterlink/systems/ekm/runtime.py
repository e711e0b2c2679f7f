"""EKM runtime: one bus owner per entry, one coordinator per meter, entry setup."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from ...capture import FrameCapture
from ...const import CONF_CAPTURE_FRAMES, DOMAIN, LOGGER
from ...coordinator import MeterLinkConfigEntry, MeterLinkCoordinator, MeterLinkRuntime
from ...helpers import error_translation, translated_error
from ...protocols.ekm.client import EkmBus, EkmMeterRef
from ...protocols.ekm.errors import (
    EkmAuthenticationError,
    EkmUnconfirmedError,
    EkmValueError,
)
from ...protocols.ekm.models import EkmReading, EkmV3Reading, EkmVersion
from ...protocols.errors import MeterLinkError
from .const import (
    BUS_TIMING,
    CONF_ADDRESS,
    CONF_METERS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_VERSION,
    DEFAULT_SCAN_INTERVAL,
    MANUFACTURER,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable, Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from ...protocols.capture import FrameCallback


def build_bus(port: str, on_frame: FrameCallback | None = None) -> EkmBus:
    """Return a bus owner for a port or bridge (nothing is opened yet)."""
    return EkmBus(port=port, on_frame=on_frame, **BUS_TIMING)


def meters_of(options: Mapping[str, Any]) -> list[EkmMeterRef]:
    """Return the meters an entry's options list, in their order."""
    return [EkmMeterRef.of(m[CONF_ADDRESS], m[CONF_VERSION]) for m in options.get(CONF_METERS, [])]


def meter_model(meter: EkmMeterRef) -> str:
    """Return the device model shown for a meter."""
    return f"Omnimeter v{meter.version.value}"


class EkmMeterCoordinator(MeterLinkCoordinator[EkmReading]):
    """Reads one meter (v3 block, or v4 A and B blocks) through the shared bus owner."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MeterLinkConfigEntry,
        runtime: EkmRuntime,
        meter: EkmMeterRef,
    ) -> None:
        """Set up polling of one meter at the entry's interval."""
        seconds = entry.options.get(CONF_SCAN_INTERVAL)
        interval = timedelta(seconds=seconds) if seconds else DEFAULT_SCAN_INTERVAL
        super().__init__(
            hass, entry, name=f"{entry.title} meter {meter.address}", update_interval=interval
        )
        self.runtime = runtime
        self.meter = meter

    async def _async_fetch(self) -> EkmReading:
        """Read the meter; the bus owner queues this behind other meters' reads."""
        return await self.runtime.bus.read(self.meter.address, self.meter.version, include_b=True)


class EkmRuntime(MeterLinkRuntime):
    """A loaded EKM entry: the bus owner, the meters and one coordinator per meter."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Build the bus owner and coordinators; nothing is read yet."""
        self.hass = hass
        self.entry = entry
        self.capture = FrameCapture.for_secrets(
            enabled=bool(entry.options.get(CONF_CAPTURE_FRAMES, False)),
            secrets=[entry.data.get(CONF_PASSWORD)],
        )
        self.bus = build_bus(entry.data[CONF_PORT], self.capture.callback)
        self.meters = meters_of(entry.options)
        self.by_address: dict[str, EkmMeterCoordinator] = {
            meter.address: EkmMeterCoordinator(hass, entry, self, meter) for meter in self.meters
        }
        self.coordinators = list(self.by_address.values())

    @property
    def password(self) -> str:
        """Return the command password of the bus's meters."""
        return str(self.entry.data.get(CONF_PASSWORD) or "00000000")

    # --- devices ------------------------------------------------------------------------------

    @property
    def hub_identifier(self) -> tuple[str, str]:
        """Return the identifier of the bus (hub) device; stable when the port changes."""
        return (DOMAIN, f"ekm_bus_{self.entry.entry_id}")

    @property
    def hub_device(self) -> DeviceInfo:
        """Return the device of the RS-485 bus (adapter or bridge) itself."""
        return DeviceInfo(
            identifiers={self.hub_identifier},
            name=self.entry.title,
            manufacturer=MANUFACTURER,
            model="RS-485 bus",
        )

    def device_info(self, meter: EkmMeterRef) -> DeviceInfo:
        """Return the device of one meter: serial number = its address."""
        coordinator = self.by_address[meter.address]
        reading = coordinator.data
        block = None
        if reading is not None:
            block = reading if isinstance(reading, EkmV3Reading) else reading.a
        return DeviceInfo(
            identifiers={(DOMAIN, f"ekm_{meter.address}")},
            name=f"EKM meter {meter.address.lstrip('0') or '0'}",
            manufacturer=MANUFACTURER,
            model=meter_model(meter),
            model_id=block.model if block else None,
            sw_version=block.firmware if block else None,
            serial_number=meter.address,
            via_device=self.hub_identifier,
        )

    # --- platforms ----------------------------------------------------------------------------

    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add the sensors and the relay switches."""
        if platform is Platform.SENSOR:
            from .sensor import build_sensors  # noqa: PLC0415 - platform code loads with it

            async_add_entities(build_sensors(self))
        elif platform is Platform.SWITCH:
            from .switch import build_switches  # noqa: PLC0415

            async_add_entities(build_switches(self))

    # --- commands -----------------------------------------------------------------------------

    async def async_command[T](self, meter: EkmMeterRef, call: Awaitable[T]) -> T:
        """Run a command; a refused password starts reauth and is its own translated error."""
        try:
            result = await call
        except EkmAuthenticationError as err:
            self.entry.async_start_reauth(self.hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="ekm_wrong_password",
                translation_placeholders={"address": meter.address, "title": self.entry.title},
            ) from err
        except EkmUnconfirmedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="ekm_command_unconfirmed",
                translation_placeholders={
                    "address": meter.address,
                    "title": self.entry.title,
                    "error": str(err),
                },
            ) from err
        except EkmValueError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="ekm_invalid_value",
                translation_placeholders={"error": str(err)},
            ) from err
        except MeterLinkError as err:
            raise translated_error(err) from err
        return result

    # --- life cycle ---------------------------------------------------------------------------

    async def async_shutdown(self) -> None:
        """Close the serial port or bridge connection."""
        await self.bus.close()

    def diagnostics(self) -> dict[str, Any]:
        """Return the bus, its meters and the latest reading of each (no secrets)."""
        meters: list[dict[str, Any]] = []
        for meter in self.meters:
            coordinator = self.by_address[meter.address]
            error = coordinator.last_error
            meters.append(
                {
                    "address": meter.address,
                    "version": meter.version.value,
                    "last_success": coordinator.last_success,
                    "last_error": error_translation(error)[0] if error else None,
                    "reading": dataclasses.asdict(coordinator.data) if coordinator.data else None,
                }
            )
        return {
            "url": self.bus.url,
            "software_parity": self.bus.software_parity,
            "stats": dict(self.bus.stats),
            "meters": meters,
        }


async def async_first_reads(coordinators: Iterable[EkmMeterCoordinator]) -> None:
    """Read every meter once; raise ConfigEntryNotReady only when none answers."""
    coordinators = list(coordinators)
    await asyncio.gather(*(c.async_refresh() for c in coordinators))
    failed = [c for c in coordinators if not c.last_update_success]
    for coordinator in failed:
        LOGGER.warning("%s: no reading yet: %s", coordinator.name, coordinator.last_error)
    if coordinators and len(failed) == len(coordinators):
        err = failed[0].last_error
        assert err is not None  # noqa: S101 - a failed refresh records its error
        key, placeholders = error_translation(err)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )


async def async_setup_ekm_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> EkmRuntime:
    """Set an EKM bus entry up: open the port, read every meter once, register the hub."""
    runtime = EkmRuntime(hass, entry)
    try:
        await runtime.bus.open()
        await async_first_reads(runtime.by_address.values())
    except MeterLinkError as err:
        await runtime.bus.close()
        key, placeholders = error_translation(err)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        ) from err
    except Exception:
        await runtime.bus.close()
        raise
    # The bus device is registered once here; meter devices point to it (via_device).
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **runtime.hub_device)
    return runtime


__all__ = ["EkmMeterCoordinator", "EkmRuntime", "EkmVersion", "async_setup_ekm_entry"]
