"""E3/DC numbers: battery power limits, wallbox current and battery-to-car SOC limit."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfElectricCurrent, UnitOfPower

from ...helpers import meterlink_exception_handler
from .entity import E3dcEntity, unless_reply_lost
from .switch import replace_wallbox

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity

    from .runtime import E3dcDetails, E3dcRuntime

DEFAULT_MAX_POWER_W = 20000.0  # when the device does not report its battery rating
WALLBOX_MIN_A = 6  # IEC 61851: the smallest charge current a car accepts
WALLBOX_MAX_A = 32

# entity key -> (PowerSettings field, set_power_settings argument)
POWER_LIMITS = {
    "max_charge_power": ("max_charge_power_w", "max_charge_w"),
    "max_discharge_power": ("max_discharge_power_w", "max_discharge_w"),
    "discharge_start_power": ("discharge_start_power_w", "discharge_start_w"),
}


def build_numbers(runtime: E3dcRuntime) -> Iterator[Entity]:
    """Yield the power limits, and the wallbox numbers when wallboxes are present."""
    for key in POWER_LIMITS:
        yield E3dcPowerLimitNumber(runtime, key)
    wallboxes = runtime.topology.wallboxes
    if wallboxes:
        yield E3dcDischargeUntilNumber(runtime)
    for index in wallboxes:
        yield E3dcWallboxCurrentNumber(runtime, index)


class E3dcPowerLimitNumber(E3dcEntity, NumberEntity):
    """Max charge power, max discharge power or discharge start power (read-modify-write)."""

    _attr_device_class = NumberDeviceClass.POWER
    _attr_native_unit_of_measurement = UnitOfPower.WATT
    _attr_entity_category = EntityCategory.CONFIG
    _attr_mode = NumberMode.BOX
    _attr_native_min_value = 0
    _attr_native_step = 1

    def __init__(self, runtime: E3dcRuntime, key: str) -> None:
        """Attach the limit to the system device; its range is the battery's rating."""
        super().__init__(runtime, runtime.details, key=key, device_info=runtime.system_device)
        self._field, self._argument = POWER_LIMITS[key]
        self._attr_translation_key = f"e3dc_{key}"
        info = runtime.info
        rating = None
        if info is not None:
            rating = (
                info.max_discharge_power_w
                if key == "max_discharge_power"
                else info.max_charge_power_w
            )
        self._attr_native_max_value = rating or DEFAULT_MAX_POWER_W

    @property
    def native_value(self) -> float | None:
        """Return the setting as last read."""
        data: E3dcDetails | None = self.coordinator.data
        settings = None if data is None else data.details.power_settings
        value = None if settings is None else getattr(settings, self._field)
        return None if value is None else float(value)

    @property
    def available(self) -> bool:
        """Return False while the device fails or does not report the setting."""
        return super().available and self.native_value is not None

    @meterlink_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Write the limit (other settings re-sent as read); the library reads it back."""
        watts = round(value)
        client = self.runtime.client
        if self._argument == "max_charge_w":
            after = await client.set_power_settings(max_charge_w=watts)
        elif self._argument == "max_discharge_w":
            after = await client.set_power_settings(max_discharge_w=watts)
        else:
            after = await client.set_power_settings(discharge_start_w=watts)
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(
            replace(data, details=replace(data.details, power_settings=after))
        )


class E3dcDischargeUntilNumber(E3dcEntity, NumberEntity):
    """How far wallboxes may discharge the house battery (state of charge)."""

    _attr_native_unit_of_measurement = PERCENTAGE
    _attr_entity_category = EntityCategory.CONFIG
    _attr_native_min_value = 0
    _attr_native_max_value = 100
    _attr_native_step = 1
    _attr_translation_key = "e3dc_wallbox_discharge_battery_until"

    def __init__(self, runtime: E3dcRuntime) -> None:
        """Attach the setting to the system device."""
        super().__init__(
            runtime,
            runtime.details,
            key="wallbox_discharge_battery_until",
            device_info=runtime.system_device,
        )

    @property
    def native_value(self) -> float | None:
        """Return the setting as last read."""
        data: E3dcDetails | None = self.coordinator.data
        settings = None if data is None else data.details.wallbox_settings
        value = None if settings is None else settings.discharge_battery_until_pct
        return None if value is None else float(value)

    @property
    def available(self) -> bool:
        """Return False while the device fails or does not report the setting."""
        return super().available and self.native_value is not None

    @meterlink_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Write the limit and read it back."""
        client = self.runtime.client
        wanted = round(value)
        echoed = await unless_reply_lost(client.set_wallbox_discharge_battery_until(wanted))
        settings = await client.wallbox_settings()
        if echoed is False or settings.discharge_battery_until_pct != wanted:
            raise self.runtime.not_confirmed(
                "battery discharge limit for wallboxes",
                wanted,
                settings.discharge_battery_until_pct,
            )
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(
            replace(data, details=replace(data.details, wallbox_settings=settings))
        )


class E3dcWallboxCurrentNumber(E3dcEntity, NumberEntity):
    """A wallbox's maximum charge current."""

    _attr_device_class = NumberDeviceClass.CURRENT
    _attr_native_unit_of_measurement = UnitOfElectricCurrent.AMPERE
    _attr_native_min_value = WALLBOX_MIN_A
    _attr_native_max_value = WALLBOX_MAX_A
    _attr_native_step = 1
    _attr_translation_key = "e3dc_wallbox_max_current"

    def __init__(self, runtime: E3dcRuntime, index: int) -> None:
        """Attach the number to its wallbox."""
        super().__init__(
            runtime,
            runtime.details,
            key=f"wallbox_{index}_max_current",
            device_info=runtime.wallbox_device(index),
        )
        self._index = index

    @property
    def native_value(self) -> float | None:
        """Return the current as last read."""
        data: E3dcDetails | None = self.coordinator.data
        box = None if data is None else data.wallbox(self._index)
        value = None if box is None else box.max_charge_current_a
        return None if value is None else float(value)

    @property
    def available(self) -> bool:
        """Return False while the device fails or the wallbox does not answer."""
        return super().available and self.native_value is not None

    @meterlink_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        """Write the current and read the wallbox back."""
        client = self.runtime.client
        wanted = round(value)
        await unless_reply_lost(client.set_wallbox_max_current(self._index, wanted))
        box = await client.wallbox(self._index)
        if box.max_charge_current_a != wanted:
            raise self.runtime.not_confirmed(
                "wallbox max charge current", wanted, box.max_charge_current_a
            )
        self.coordinator.async_set_updated_data(replace_wallbox(self.coordinator.data, box))
