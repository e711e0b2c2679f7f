"""How DCS unit strings map to Home Assistant units, device classes and state classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    PERCENTAGE,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfTemperature,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)


@dataclass(frozen=True, kw_only=True)
class DcsUnit:
    """Home Assistant's view of one DCS unit."""

    unit: str | None
    device_class: SensorDeviceClass | None = None
    unit_class: str | None = None  # the recorder's unit converter, for statistics


_CUMULATIVE: Final[dict[str, DcsUnit]] = {
    "wh": DcsUnit(
        unit=UnitOfEnergy.WATT_HOUR, device_class=SensorDeviceClass.ENERGY, unit_class="energy"
    ),
    "kwh": DcsUnit(
        unit=UnitOfEnergy.KILO_WATT_HOUR, device_class=SensorDeviceClass.ENERGY, unit_class="energy"
    ),
    "mwh": DcsUnit(
        unit=UnitOfEnergy.MEGA_WATT_HOUR, device_class=SensorDeviceClass.ENERGY, unit_class="energy"
    ),
    "m3": DcsUnit(
        unit=UnitOfVolume.CUBIC_METERS, device_class=SensorDeviceClass.VOLUME, unit_class="volume"
    ),
    "m³": DcsUnit(
        unit=UnitOfVolume.CUBIC_METERS, device_class=SensorDeviceClass.VOLUME, unit_class="volume"
    ),
    "l": DcsUnit(
        unit=UnitOfVolume.LITERS, device_class=SensorDeviceClass.VOLUME, unit_class="volume"
    ),
    "litres": DcsUnit(
        unit=UnitOfVolume.LITERS, device_class=SensorDeviceClass.VOLUME, unit_class="volume"
    ),
    "kvarh": DcsUnit(unit="kvarh"),
    "kvah": DcsUnit(unit="kVAh"),
}
_INSTANT: Final[dict[str, DcsUnit]] = {
    "w": DcsUnit(unit=UnitOfPower.WATT, device_class=SensorDeviceClass.POWER, unit_class="power"),
    "kw": DcsUnit(
        unit=UnitOfPower.KILO_WATT, device_class=SensorDeviceClass.POWER, unit_class="power"
    ),
    "mw": DcsUnit(
        unit=UnitOfPower.MEGA_WATT, device_class=SensorDeviceClass.POWER, unit_class="power"
    ),
    "var": DcsUnit(
        unit=UnitOfReactivePower.VOLT_AMPERE_REACTIVE, device_class=SensorDeviceClass.REACTIVE_POWER
    ),
    "kvar": DcsUnit(unit="kvar"),
    "va": DcsUnit(
        unit=UnitOfApparentPower.VOLT_AMPERE, device_class=SensorDeviceClass.APPARENT_POWER
    ),
    "kva": DcsUnit(unit="kVA"),
    "v": DcsUnit(
        unit=UnitOfElectricPotential.VOLT,
        device_class=SensorDeviceClass.VOLTAGE,
        unit_class="voltage",
    ),
    "a": DcsUnit(
        unit=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        unit_class="electric_current",
    ),
    "hz": DcsUnit(unit=UnitOfFrequency.HERTZ, device_class=SensorDeviceClass.FREQUENCY),
    "°c": DcsUnit(
        unit=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        unit_class="temperature",
    ),
    "degc": DcsUnit(
        unit=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        unit_class="temperature",
    ),
    "%": DcsUnit(unit=PERCENTAGE),
    "m3/h": DcsUnit(
        unit=UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
    ),
}


def dcs_unit(unit: str, *, instantaneous: bool, name: str = "") -> DcsUnit:
    """Return Home Assistant's unit and device class for a register's unit and name."""
    key = unit.strip().lower().replace(" ", "")
    table = _INSTANT if instantaneous else _CUMULATIVE
    found = table.get(key) or _INSTANT.get(key) or _CUMULATIVE.get(key)
    if found is None:
        return DcsUnit(unit=unit.strip() or None)
    if found.device_class is SensorDeviceClass.VOLUME and not instantaneous:
        # gas and water meters count volume too; the register's name tells which
        lowered = name.lower()
        if "gas" in lowered:
            return DcsUnit(unit=found.unit, device_class=SensorDeviceClass.GAS, unit_class="volume")
        if "water" in lowered:
            return DcsUnit(
                unit=found.unit, device_class=SensorDeviceClass.WATER, unit_class="volume"
            )
    return found


def state_class(*, instantaneous: bool, virtual: bool) -> SensorStateClass:
    """Return the state class: registers count up, virtual meters give per-period totals."""
    if instantaneous:
        return SensorStateClass.MEASUREMENT
    return SensorStateClass.TOTAL if virtual else SensorStateClass.TOTAL_INCREASING
