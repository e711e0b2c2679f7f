"""E3/DC switches: smart-home actuators, EMS options and wallbox controls, each read back."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity
from homeassistant.const import EntityCategory

from ...helpers import meterlink_exception_handler
from .entity import E3dcEntity, unless_reply_lost

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity

    from ...protocols.e3dc.models import Wallbox, WallboxSettings
    from .runtime import E3dcDetails, E3dcRuntime


def build_switches(runtime: E3dcRuntime) -> Iterator[Entity]:
    """Yield smart-home switches, power-save, weather-regulated charge and wallbox controls."""
    data = runtime.details.data
    for switch in data.switches if data else ():
        yield E3dcSmartSwitch(runtime, switch.index, switch.name)
    for setting in ("powersave", "weather_regulated_charge"):
        yield E3dcPowerSettingSwitch(runtime, setting)
    wallboxes = runtime.topology.wallboxes
    if wallboxes:
        for setting in ("battery_to_car", "battery_before_car", "enforce_power_assignment"):
            yield E3dcWallboxSettingSwitch(runtime, setting)
    for index in wallboxes:
        yield E3dcWallboxSwitch(runtime, index, "sun_mode")
        yield E3dcWallboxSwitch(runtime, index, "charging")
        yield E3dcWallboxSwitch(runtime, index, "schuko")


class E3dcReadBackSwitch(E3dcEntity, SwitchEntity):
    """A switch shown as last read; each command is read back and raises unless confirmed.

    Subclasses say where their state is in the polled data (``_current``) and how to write and
    confirm it (``_write``).
    """

    def _current(self, data: E3dcDetails) -> bool | None:
        """Return the state in the polled data, None when the device does not report it."""
        raise NotImplementedError

    async def _write(self, *, on: bool) -> None:
        """Send the command, read it back, raise unless confirmed, update the data."""
        raise NotImplementedError

    @property
    def is_on(self) -> bool | None:
        """Return the state as last read."""
        data: E3dcDetails | None = self.coordinator.data
        return None if data is None else self._current(data)

    @property
    def available(self) -> bool:
        """Return False while the device fails or does not report the state."""
        return super().available and self.is_on is not None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on and read back."""
        await self._set(on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off and read back."""
        await self._set(on=False)

    @meterlink_exception_handler
    async def _set(self, *, on: bool) -> None:
        await self._write(on=on)


class E3dcSmartSwitch(E3dcReadBackSwitch):
    """A smart-home actuator (HA datapoint), named as on the device."""

    _attr_device_class = SwitchDeviceClass.SWITCH

    def __init__(self, runtime: E3dcRuntime, index: int, name: str | None) -> None:
        """Attach the actuator to the system device."""
        super().__init__(
            runtime,
            runtime.details,
            key=f"smart_switch_{index}",
            device_info=runtime.system_device,
        )
        self._index = index
        if name:
            self._attr_name = name
        else:
            self._attr_translation_key = "e3dc_smart_switch"
            self._attr_translation_placeholders = {"index": str(index)}

    def _current(self, data: E3dcDetails) -> bool | None:
        """Return the actuator's state, None for a state that is not on/off."""
        found = next((s for s in data.switches if s.index == self._index), None)
        return None if found is None else found.is_on

    async def _write(self, *, on: bool) -> None:
        client = self.runtime.client
        accepted = await unless_reply_lost(client.set_switch(self._index, on))
        switches = await client.switches()
        found = next((s for s in switches if s.index == self._index), None)
        read = None if found is None else found.is_on
        if accepted is False or read is not on:
            raise self.runtime.not_confirmed(
                self.name if isinstance(self.name, str) else f"switch {self._index}", on, read
            )
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(replace(data, switches=switches))


class E3dcPowerSettingSwitch(E3dcReadBackSwitch):
    """Power-save or weather-regulated charge (EMS power settings, read-modify-write)."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, runtime: E3dcRuntime, setting: str) -> None:
        """Attach the option to the system device."""
        super().__init__(runtime, runtime.details, key=setting, device_info=runtime.system_device)
        self._setting = setting
        self._attr_translation_key = f"e3dc_{setting}"

    def _current(self, data: E3dcDetails) -> bool | None:
        """Return the option as last read."""
        settings = data.details.power_settings
        if settings is None:
            return None
        if self._setting == "powersave":
            return settings.powersave_enabled
        return settings.weather_regulated_charge_enabled

    async def _write(self, *, on: bool) -> None:
        # the library sends only this option, reads the settings back and raises on a mismatch
        after = await self.runtime.client.set_power_settings(**{self._setting: on})
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(
            replace(data, details=replace(data.details, power_settings=after))
        )


class E3dcWallboxSettingSwitch(E3dcReadBackSwitch):
    """Battery to car, battery before car, or enforcing the wallbox power assignment."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, runtime: E3dcRuntime, setting: str) -> None:
        """Attach the setting to the system device."""
        super().__init__(runtime, runtime.details, key=setting, device_info=runtime.system_device)
        self._setting = setting
        self._attr_translation_key = f"e3dc_{setting}"

    @staticmethod
    def _read(settings: WallboxSettings | None, setting: str) -> bool | None:
        if settings is None:
            return None
        if setting == "battery_to_car":
            return settings.battery_to_car
        if setting == "battery_before_car":
            return settings.battery_before_car
        return settings.enforce_power_assignment

    def _current(self, data: E3dcDetails) -> bool | None:
        """Return the setting as last read."""
        return self._read(data.details.wallbox_settings, self._setting)

    async def _write(self, *, on: bool) -> None:
        client = self.runtime.client
        if self._setting == "battery_to_car":
            echoed = await unless_reply_lost(client.set_battery_to_car(on))
        elif self._setting == "battery_before_car":
            echoed = await unless_reply_lost(client.set_battery_before_car(on))
        else:
            echoed = await unless_reply_lost(client.set_wallbox_enforce_power_assignment(on))
        settings = await client.wallbox_settings()
        read = self._read(settings, self._setting)
        if echoed is False or read is not on:
            raise self.runtime.not_confirmed(self._setting.replace("_", " "), on, read)
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(
            replace(data, details=replace(data.details, wallbox_settings=settings))
        )


def replace_wallbox(data: E3dcDetails, box: Wallbox) -> E3dcDetails:
    """Return the details with one wallbox replaced by a fresh read."""
    boxes = tuple(box if w.index == box.index else w for w in data.details.wallboxes)
    return replace(data, details=replace(data.details, wallboxes=boxes))


class E3dcWallboxSwitch(E3dcReadBackSwitch):
    """A wallbox's sun mode, Schuko socket, or charging (started and stopped by a toggle)."""

    def __init__(self, runtime: E3dcRuntime, index: int, what: str) -> None:
        """Attach the control to its wallbox."""
        super().__init__(
            runtime,
            runtime.details,
            key=f"wallbox_{index}_{what}",
            device_info=runtime.wallbox_device(index),
        )
        self._index = index
        self._what = what
        self._attr_translation_key = f"e3dc_wallbox_{what}"

    def _state(self, box: Wallbox | None) -> bool | None:
        if box is None:
            return None
        if self._what == "sun_mode":
            return box.sun_mode
        return box.schuko_on if self._what == "schuko" else box.charging

    def _current(self, data: E3dcDetails) -> bool | None:
        """Return the wallbox's sun mode, charging or socket state as last read."""
        return self._state(data.wallbox(self._index))

    async def _write(self, *, on: bool) -> None:
        client = self.runtime.client
        if self._what == "sun_mode":
            await unless_reply_lost(client.set_wallbox_sun_mode(self._index, on))
        elif self._what == "schuko":
            await unless_reply_lost(client.set_wallbox_schuko(self._index, on))
        else:
            current = self._state(await client.wallbox(self._index))
            if current is not on:  # a toggle: only send it when the state differs
                await unless_reply_lost(client.toggle_wallbox_charging(self._index))
        box = await client.wallbox(self._index)
        read = self._state(box)
        if read is not on:
            raise self.runtime.not_confirmed(f"wallbox {self._what.replace('_', ' ')}", on, read)
        self.coordinator.async_set_updated_data(replace_wallbox(self.coordinator.data, box))
