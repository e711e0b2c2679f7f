"""E3/DC binary sensors: EMS status bits, power limits, manual charge, wallbox states."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory

from ...protocols.e3dc.models import EMS_STATUS_BITS
from .entity import E3dcEntity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from homeassistant.helpers.entity import Entity

    from .runtime import E3dcDetails, E3dcRuntime

DIAG = EntityCategory.DIAGNOSTIC

# EMS status bits shown by default; the rest are diagnostic and disabled until wanted
_ENABLED_STATUS = frozenset(
    {
        "server_connection_alive",
        "pv_derated",
        "emergency_power_started",
        "power_save_enabled",
        "charge_idle_period_active",
        "discharge_idle_period_active",
        "wait_for_weather_breakthrough",
        "emergency_reserve_reached",
    }
)
_STATUS_CLASS: dict[str, BinarySensorDeviceClass] = {
    "server_connection_alive": BinarySensorDeviceClass.CONNECTIVITY,
    "power_meter_alive": BinarySensorDeviceClass.CONNECTIVITY,
    "wallbox_alive": BinarySensorDeviceClass.CONNECTIVITY,
    "dcdc_alive": BinarySensorDeviceClass.RUNNING,
    "battery_module_alive": BinarySensorDeviceClass.RUNNING,
    "pv_module_alive": BinarySensorDeviceClass.RUNNING,
    "ems_alive": BinarySensorDeviceClass.RUNNING,
    "emergency_power_started": BinarySensorDeviceClass.PROBLEM,
    "soc_sync_requested": BinarySensorDeviceClass.PROBLEM,
}


@dataclass(frozen=True, kw_only=True)
class E3dcBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor: how its state is read from the part it describes."""

    value_fn: Callable[[Any], bool | None]


def _flag(name: str, status: Any) -> bool | None:
    return None if status is None else status.flags.get(name)


STATUS: tuple[E3dcBinarySensorDescription, ...] = tuple(
    E3dcBinarySensorDescription(
        key=f"status_{name}",
        translation_key=f"e3dc_status_{name}",
        value_fn=partial(_flag, name),
        device_class=_STATUS_CLASS.get(name),
        entity_category=DIAG,
        entity_registry_enabled_default=name in _ENABLED_STATUS,
    )
    for _bit, name in EMS_STATUS_BITS
)

WALLBOX: tuple[E3dcBinarySensorDescription, ...] = (
    E3dcBinarySensorDescription(
        key="wallbox_plugged",
        translation_key="e3dc_wallbox_plugged",
        value_fn=lambda w: w.plugged,
        device_class=BinarySensorDeviceClass.PLUG,
    ),
    E3dcBinarySensorDescription(
        key="wallbox_plug_locked",
        translation_key="e3dc_wallbox_plug_locked",
        value_fn=lambda w: None if w.plug_locked is None else not w.plug_locked,
        device_class=BinarySensorDeviceClass.LOCK,  # on = unlocked
    ),
    E3dcBinarySensorDescription(
        key="wallbox_charging_canceled",
        translation_key="e3dc_wallbox_charging_canceled",
        value_fn=lambda w: w.charging_canceled,
    ),
)

POWER_LIMITS = E3dcBinarySensorDescription(
    key="power_limits_used",
    translation_key="e3dc_power_limits_used",
    value_fn=lambda d: (
        None if d.details.power_settings is None else d.details.power_settings.power_limits_used
    ),
)
SG_READY = E3dcBinarySensorDescription(
    key="sg_ready_active",
    translation_key="e3dc_sg_ready_active",
    value_fn=lambda d: None if d.details.sg_ready is None else d.details.sg_ready.active,
    entity_registry_enabled_default=False,
)
MANUAL_CHARGE = E3dcBinarySensorDescription(
    key="manual_charge_active",
    translation_key="e3dc_manual_charge_active",
    value_fn=lambda d: None if d.details.manual_charge is None else d.details.manual_charge.active,
    device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
)


def _status(live: Any) -> Any:
    return live.status


def _wallbox(index: int, data: E3dcDetails) -> Any:
    return data.wallbox(index)


def build_binary_sensors(runtime: E3dcRuntime) -> Iterator[Entity]:
    """Yield the EMS status bits, settings flags and wallbox states."""
    system = runtime.system_device
    for description in STATUS:
        yield E3dcBinarySensor(
            runtime,
            runtime.live,
            key=description.key,
            device_info=system,
            description=description,
            source=_status,
        )
    for description in (POWER_LIMITS, MANUAL_CHARGE, SG_READY):
        yield E3dcBinarySensor(
            runtime,
            runtime.details,
            key=description.key,
            device_info=system,
            description=description,
        )
    for index in runtime.topology.wallboxes:
        device = runtime.wallbox_device(index)
        for description in WALLBOX:
            yield E3dcBinarySensor(
                runtime,
                runtime.details,
                key=f"wallbox_{index}_{description.key}",
                device_info=device,
                description=description,
                source=partial(_wallbox, index),
            )


class E3dcBinarySensor(E3dcEntity, BinarySensorEntity):
    """A flag of the E3/DC."""

    entity_description: E3dcBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the flag, None when the device does not report it."""
        part = self.part
        return None if part is None else self.entity_description.value_fn(part)

    @property
    def available(self) -> bool:
        """Return False while the device fails or does not report the flag."""
        return super().available and self.is_on is not None
