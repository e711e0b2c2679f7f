"""DLMS sensors: one per chosen register, plus the last-read diagnostic sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import RestoreSensor, SensorStateClass
from homeassistant.core import callback

from ...entity import MeterLinkEntity, MeterLinkLastReadSensor
from ...helpers import CounterGuard
from .runtime import DlmsCoordinator, DlmsRuntime
from .units import describe

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity


def build_sensors(runtime: DlmsRuntime) -> Iterator[Entity]:
    """Yield a sensor per chosen register and the meter's last-read sensor."""
    data = runtime.coordinator.data
    for obis in runtime.registers:
        reading = data.readings.get(obis) if data else None
        yield DlmsRegisterSensor(runtime, obis, reading.unit if reading else None)
    yield MeterLinkLastReadSensor(
        runtime.coordinator,
        unique_id=f"{runtime.meter_id}_last_read",
        device_info=runtime.device_info,
    )


class DlmsRegisterSensor(MeterLinkEntity[DlmsCoordinator], RestoreSensor):
    """The value of one COSEM register, scaled once, with its unit.

    Energy registers (D = 8) are ``total_increasing`` and guarded against backward steps.
    """

    def __init__(self, runtime: DlmsRuntime, obis: str, cosem_unit: str | None) -> None:
        """Describe the sensor from the OBIS code and the unit the meter reported."""
        super().__init__(
            runtime.coordinator,
            unique_id=f"{runtime.meter_id}_{obis}",
            device_info=runtime.device_info,
        )
        self._obis = obis
        info = describe(obis, cosem_unit)
        if info.translation_key is not None:
            self._attr_translation_key = info.translation_key
        else:
            self._attr_name = f"OBIS {obis}"
        self._attr_native_unit_of_measurement = info.unit
        self._attr_device_class = info.device_class
        self._attr_state_class = info.state_class
        if info.suggested_unit is not None:
            self._attr_suggested_unit_of_measurement = info.suggested_unit
        self._guard = (
            CounterGuard(name=f"DLMS {runtime.meter_id} {obis}")
            if info.state_class is SensorStateClass.TOTAL_INCREASING
            else None
        )
        self._attr_extra_state_attributes: dict[str, Any] = {"obis": obis}
        self._update_from_data()

    async def async_added_to_hass(self) -> None:
        """Restore the last total so the counter guard survives restarts.

        The first poll ran before the entity was added: a restored total above it means that
        read stepped backwards, and the guard treats it as such.
        """
        await super().async_added_to_hass()
        if self._guard is None:
            return
        last = await self.async_get_last_sensor_data()
        if last is None or not isinstance(last.native_value, int | float):
            return
        restored = float(last.native_value)
        if self._guard.last is None or restored > self._guard.last:
            self._guard.last = restored
            self._update_from_data()

    @property
    def available(self) -> bool:
        """Return False while the meter fails or has no value for this register."""
        return super().available and self._attr_native_value is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        data = self.coordinator.data
        reading = data.readings.get(self._obis) if data is not None else None
        value = reading.value if reading is not None else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            numeric = None
        else:
            numeric = float(value) if isinstance(value, float) else value
        if numeric is not None and self._guard is not None:
            numeric = self._guard.accept(numeric)
        self._attr_native_value = numeric
