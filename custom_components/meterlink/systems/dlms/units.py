"""Sensor metadata derived from an OBIS code and its COSEM unit (IEC 62056-6-1 / Blue Book)."""

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
)

# COSEM unit symbol (Blue Book 4.3.2 unit enumeration) -> Home Assistant unit and device class.
_UNITS: Final[dict[str, tuple[str | None, SensorDeviceClass | None]]] = {
    "Wh": (UnitOfEnergy.WATT_HOUR, SensorDeviceClass.ENERGY),
    "W": (UnitOfPower.WATT, SensorDeviceClass.POWER),
    "VA": (UnitOfApparentPower.VOLT_AMPERE, SensorDeviceClass.APPARENT_POWER),
    "var": (UnitOfReactivePower.VOLT_AMPERE_REACTIVE, SensorDeviceClass.REACTIVE_POWER),
    "varh": ("varh", None),
    "VAh": ("VAh", None),
    "V": (UnitOfElectricPotential.VOLT, SensorDeviceClass.VOLTAGE),
    "A": (UnitOfElectricCurrent.AMPERE, SensorDeviceClass.CURRENT),
    "Hz": (UnitOfFrequency.HERTZ, SensorDeviceClass.FREQUENCY),
    "%": (PERCENTAGE, None),
}

# Value group C -> COSEM unit when a push list carries no scaler/unit (Kaifa lists):
# IEC 62056-6-1 7.5.1 quantities; D = 7 instantaneous, D = 8 time integral.
_C_POWER: Final = {1, 2, 15, 16, 21, 22, 41, 42, 61, 62}
_C_REACTIVE: Final = {3, 4, 23, 24, 43, 44, 63, 64}
_C_CURRENT: Final = {11, 31, 51, 71, 91}
_C_VOLTAGE: Final = {12, 32, 52, 72}
_C_POWER_FACTOR: Final = {13, 33, 53, 73}
_C_FREQUENCY: Final = 14
_D_INSTANTANEOUS: Final = 7
_D_INTEGRAL: Final = 8
_D_MAX_DEMAND: Final = 6

# Well-known registers (C.D.E, any channel) -> translation key of their sensor.
KNOWN_NAMES: Final[dict[str, str]] = {
    "1.8.0": "energy_import",
    "1.8.1": "energy_import_tariff_1",
    "1.8.2": "energy_import_tariff_2",
    "2.8.0": "energy_export",
    "2.8.1": "energy_export_tariff_1",
    "2.8.2": "energy_export_tariff_2",
    "3.8.0": "reactive_energy_import",
    "4.8.0": "reactive_energy_export",
    "15.8.0": "energy_absolute",
    "1.7.0": "power_import",
    "2.7.0": "power_export",
    "3.7.0": "reactive_power_import",
    "4.7.0": "reactive_power_export",
    "16.7.0": "power_net",
    "1.6.0": "max_demand_import",
    "21.7.0": "power_import_l1",
    "41.7.0": "power_import_l2",
    "61.7.0": "power_import_l3",
    "31.7.0": "current_l1",
    "51.7.0": "current_l2",
    "71.7.0": "current_l3",
    "32.7.0": "voltage_l1",
    "52.7.0": "voltage_l2",
    "72.7.0": "voltage_l3",
    "14.7.0": "frequency",
    "13.7.0": "power_factor",
}

# What the registers step pre-selects: energy import/export, power, voltages, currents.
_DEFAULT_CD: Final = {
    (1, 8),
    (2, 8),
    (1, 7),
    (2, 7),
    (16, 7),
    (31, 7),
    (51, 7),
    (71, 7),
    (32, 7),
    (52, 7),
    (72, 7),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ObisSensorInfo:
    """How a register shows in Home Assistant."""

    unit: str | None
    device_class: SensorDeviceClass | None
    state_class: SensorStateClass | None
    translation_key: str | None
    suggested_unit: str | None = None


def obis_groups(obis: str) -> tuple[int, ...]:
    """Return the six value groups A-F of ``obis`` (empty tuple when it is not one)."""
    try:
        parts = tuple(int(p) for p in obis.split("."))
    except ValueError:
        return ()
    return parts if len(parts) == 6 else ()  # noqa: PLR2004


def _fallback_unit(c: int, d: int) -> str | None:
    """COSEM unit of an electricity register that came without one."""
    if c in _C_POWER:
        return "Wh" if d == _D_INTEGRAL else "W"
    if c in _C_REACTIVE:
        return "varh" if d == _D_INTEGRAL else "var"
    if c in _C_CURRENT:
        return "A"
    if c in _C_VOLTAGE:
        return "V"
    if c == _C_FREQUENCY:
        return "Hz"
    return None


def describe(obis: str, cosem_unit: str | None) -> ObisSensorInfo:
    """Derive unit, device class and state class from the OBIS code and COSEM unit."""
    groups = obis_groups(obis)
    if not groups:
        return ObisSensorInfo(unit=None, device_class=None, state_class=None, translation_key=None)
    a, _b, c, d, e, _f = groups
    electricity = a == 1
    unit = cosem_unit
    if unit is None and electricity:
        unit = _fallback_unit(c, d)
    ha_unit, device_class = _UNITS.get(unit or "", (unit, None))
    if electricity and c in _C_POWER_FACTOR and d == _D_INSTANTANEOUS:
        ha_unit, device_class = None, SensorDeviceClass.POWER_FACTOR
    if d == _D_INTEGRAL and unit in ("Wh", "varh", "VAh"):
        state_class: SensorStateClass | None = SensorStateClass.TOTAL_INCREASING
    elif d in (_D_INSTANTANEOUS, _D_MAX_DEMAND) or device_class is not None:
        state_class = SensorStateClass.MEASUREMENT
    else:
        state_class = None
    key = KNOWN_NAMES.get(f"{c}.{d}.{e}") if electricity else None
    return ObisSensorInfo(
        unit=ha_unit,
        device_class=device_class,
        state_class=state_class,
        translation_key=key,
        suggested_unit=UnitOfEnergy.KILO_WATT_HOUR
        if device_class is SensorDeviceClass.ENERGY
        else None,
    )


def is_default_register(obis: str) -> bool:
    """Return True for the registers pre-selected in the flow (energy, power, U, I)."""
    groups = obis_groups(obis)
    return (
        bool(groups) and groups[0] == 1 and groups[4] == 0 and (groups[2], groups[3]) in _DEFAULT_CD
    )
