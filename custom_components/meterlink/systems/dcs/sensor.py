"""DCS sensors: one per selected register or virtual meter, plus diagnostics per device."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import RestoreSensor, SensorDeviceClass, SensorStateClass
from homeassistant.core import callback

from ...entity import MeterLinkEntity, MeterLinkLastReadSensor
from ...helpers import CounterGuard
from ...protocols.dcs import DcsStatus
from .runtime import DcsCoordinator, DcsRuntime, DcsTargetInfo
from .units import dcs_unit, state_class

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity


def build_sensors(runtime: DcsRuntime) -> Iterator[Entity]:
    """Yield the sensors of every selected target and one last-read sensor per device."""
    devices: set[str] = set()
    for wire, info in runtime.targets.items():
        devices.add(info.device_key)
        yield DcsTargetSensor(runtime, wire, info)
    for device_key in sorted(devices):
        yield MeterLinkLastReadSensor(
            runtime.coordinator,
            unique_id=f"{runtime.server_id}_{device_key}_last_read",
            device_info=runtime.device_info(device_key),
            value_fn=partial(runtime.device_read.get, device_key),
        )


class DcsTargetSensor(MeterLinkEntity[DcsCoordinator], RestoreSensor):
    """The latest reading of a register (its total) or a virtual meter.

    Cumulative registers are ``total_increasing`` and guarded against backward steps (a DCS
    reset flag is honoured). Cumulative virtual meters give the consumption of the latest
    half-hour as a ``total`` with ``last_reset`` at its start.
    """

    def __init__(self, runtime: DcsRuntime, wire: str, info: DcsTargetInfo) -> None:
        """Describe the sensor from the register's unit and kind."""
        super().__init__(
            runtime.coordinator,
            unique_id=f"{runtime.server_id}_{wire.lower()}",
            device_info=runtime.device_info(info.device_key),
        )
        self._wire = wire
        self._info = info
        virtual = info.virtual_meter is not None
        unit = dcs_unit(info.unit, instantaneous=info.is_instantaneous, name=info.name)
        # a virtual meter's device is named after it: its one sensor takes the device's name
        self._attr_name = None if virtual else info.name
        self._attr_native_unit_of_measurement = unit.unit
        self._attr_device_class = unit.device_class
        self._attr_state_class = state_class(instantaneous=info.is_instantaneous, virtual=virtual)
        if self._attr_state_class is SensorStateClass.TOTAL and unit.device_class is None:
            self._attr_state_class = SensorStateClass.MEASUREMENT
        self._use_period = virtual and not info.is_instantaneous
        self._guard = (
            CounterGuard(name=f"DCS {info.target.wire} {info.name}")
            if self._attr_state_class is SensorStateClass.TOTAL_INCREASING
            else None
        )
        self._attr_extra_state_attributes: dict[str, Any] = {"dcs_id": wire}
        if info.register is not None:
            self._attr_extra_state_attributes["address"] = info.register.address

    async def async_added_to_hass(self) -> None:
        """Restore the last total first, so the counter guard survives restarts, then read."""
        if self._guard is not None:
            last = await self.async_get_last_sensor_data()
            if last is not None and isinstance(last.native_value, int | float):
                self._guard.last = float(last.native_value)
        await super().async_added_to_hass()
        self._update_from_data()

    @property
    def available(self) -> bool:
        """Return False while the server fails, refuses this target, or has no value for it."""
        return super().available and self._attr_native_value is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        data = self.coordinator.data
        reading = data.latest.get(self._wire) if data is not None else None
        if reading is None:
            self._attr_native_value = None
            return
        value = reading.period if self._use_period else reading.total
        if self._guard is not None:
            value = self._guard.accept(
                value, reset=DcsStatus.RESET in reading.status, stamp=reading.timestamp
            )
        self._attr_native_value = value
        if self._attr_state_class is SensorStateClass.TOTAL:
            self._attr_last_reset = reading.timestamp
        self._attr_extra_state_attributes = {
            **self._attr_extra_state_attributes,
            "reading_time": reading.timestamp.isoformat(),
            "interpolated": DcsStatus.INTERPOLATED in reading.status,
        }


__all__ = ["DcsTargetSensor", "SensorDeviceClass", "build_sensors"]
