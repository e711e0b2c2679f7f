"""EKM sensors: energy registers, instantaneous values, pulses, ratios and the meter clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactivePower,
    UnitOfTime,
)
from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from ...entity import MeterLinkEntity, MeterLinkLastReadSensor
from ...helpers import CounterGuard
from ...protocols.ekm.models import (
    EkmMaxDemandReset,
    EkmPowerFactorKind,
    EkmReading,
    EkmV3Reading,
    EkmV4ReadingA,
    EkmV4ReadingB,
    EkmVersion,
)
from .runtime import EkmMeterCoordinator, EkmRuntime

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from homeassistant.helpers.entity import Entity

    from ...protocols.ekm.client import EkmMeterRef

type Value = float | int | str | datetime | None
type Block = EkmV3Reading | EkmV4ReadingA
type Settings = EkmV3Reading | EkmV4ReadingB

BOTH = frozenset({EkmVersion.V3, EkmVersion.V4})
V4 = frozenset({EkmVersion.V4})


def _main(reading: EkmReading) -> Block:
    """Return the block with the instantaneous values (v3, or the v4 A block)."""
    return reading if isinstance(reading, EkmV3Reading) else reading.a


def _settings(reading: EkmReading) -> Settings | None:
    """Return the block with tariffs, demand and ratios (v3, or the v4 B block if read)."""
    return reading if isinstance(reading, EkmV3Reading) else reading.b


def _a(reading: EkmReading) -> EkmV4ReadingA | None:
    """Return the v4 A block, None for a v3 meter."""
    return None if isinstance(reading, EkmV3Reading) else reading.a


def _kwh(wh: float) -> float:
    """Wh to kWh, without float noise."""
    return round(wh / 1000, 4)


def _power_factor(block: Block, line: int) -> float:
    """Power factor of a line, signed: negative when leading (capacitive)."""
    pf = getattr(block, f"power_factor_ln_{line}")
    value = float(pf.power_factor)
    return -value if pf.kind is EkmPowerFactorKind.LEAD else value


def _pf_field(line: int) -> Callable[[EkmReading], Value]:
    return lambda r: _power_factor(_main(r), line)


def _meter_time(block: Block) -> datetime | None:
    """The meter's clock as an aware time in Home Assistant's time zone."""
    naive = block.meter_time.to_datetime()
    if naive is None:
        return None
    return naive.replace(tzinfo=dt_util.get_default_time_zone())


@dataclass(frozen=True, kw_only=True)
class EkmSensorDescription(SensorEntityDescription):
    """A sensor of an EKM meter: which versions have it and how its value is read."""

    value_fn: Callable[[EkmReading], Value]
    versions: frozenset[EkmVersion] = BOTH
    guard: bool = False  # cumulative: published through a CounterGuard


def _main_field(name: str, scale: Callable[[Any], Value] = lambda v: v) -> Callable[..., Value]:
    return lambda r: scale(getattr(_main(r), name))


def _settings_field(name: str, scale: Callable[[Any], Value] = lambda v: v) -> Callable[..., Value]:
    def value(reading: EkmReading) -> Value:
        block = _settings(reading)
        return None if block is None else scale(getattr(block, name))

    return value


def _a_field(name: str, scale: Callable[[Any], Value] = lambda v: v) -> Callable[..., Value]:
    def value(reading: EkmReading) -> Value:
        block = _a(reading)
        return None if block is None else scale(getattr(block, name))

    return value


def _energy(
    key: str,
    fn: Callable[[EkmReading], Value],
    *,
    enabled: bool = True,
    versions: frozenset[EkmVersion] = BOTH,
) -> EkmSensorDescription:
    return EkmSensorDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        entity_registry_enabled_default=enabled,
        value_fn=fn,
        versions=versions,
        guard=True,
    )


def _per_line(key: str, field: str, **kwargs: Any) -> list[EkmSensorDescription]:
    return [
        EkmSensorDescription(
            key=f"{key}_l{n}",
            translation_key=f"{key}_l{n}",
            value_fn=_main_field(field.format(n=n)),
            state_class=SensorStateClass.MEASUREMENT,
            **kwargs,
        )
        for n in (1, 2, 3)
    ]


def _net_power(reading: EkmReading) -> Value:
    block = _a(reading)
    net = None if block is None else block.net_power_w
    return None if net is None else net[3]


def _demand_period(reading: EkmReading) -> Value:
    block = _settings(reading)
    if block is None:
        return None
    return {1: 15, 2: 30, 3: 60}.get(block.max_demand_period)


def _pulse_output_ratio(reading: EkmReading) -> Value:
    block = _settings(reading)
    return block.pulse_output_ratio if isinstance(block, EkmV4ReadingB) else None


def _demand_reset(reading: EkmReading) -> Value:
    block = _settings(reading)
    if not isinstance(block, EkmV4ReadingB):
        return None
    try:
        return EkmMaxDemandReset(block.max_demand_reset).name.lower()
    except ValueError:
        return None


SENSORS: tuple[EkmSensorDescription, ...] = (
    _energy("energy_total", _main_field("energy_total_wh", _kwh)),
    *(
        _energy(f"energy_tariff_{n}", _settings_field(f"energy_tariff_{n}_wh", _kwh))
        for n in (1, 2, 3, 4)
    ),
    _energy("reverse_energy_total", _main_field("reverse_energy_total_wh", _kwh)),
    *(
        _energy(
            f"reverse_energy_tariff_{n}",
            _settings_field(f"reverse_energy_tariff_{n}_wh", _kwh),
            enabled=False,
        )
        for n in (1, 2, 3, 4)
    ),
    *(
        _energy(f"energy_l{n}", _a_field(f"energy_ln_{n}_wh", _kwh), enabled=False, versions=V4)
        for n in (1, 2, 3)
    ),
    *(
        _energy(
            f"reverse_energy_l{n}",
            _a_field(f"reverse_energy_ln_{n}_wh", _kwh),
            enabled=False,
            versions=V4,
        )
        for n in (1, 2, 3)
    ),
    *(
        EkmSensorDescription(
            key=key,
            translation_key=key,
            native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING,  # a reset (action) drops it to 0
            suggested_display_precision=1,
            entity_registry_enabled_default=False,
            value_fn=_a_field(field, _kwh),
            versions=V4,
        )
        for key, field in (
            ("resettable_energy", "resettable_energy_wh"),
            ("resettable_reverse_energy", "resettable_reverse_energy_wh"),
        )
    ),
    EkmSensorDescription(
        key="reactive_energy_total",
        translation_key="reactive_energy_total",
        native_unit_of_measurement="kvarh",
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
        value_fn=_a_field("reactive_energy_total_varh", _kwh),
        versions=V4,
    ),
    *_per_line(
        "voltage",
        "voltage_ln_{n}_v",
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        device_class=SensorDeviceClass.VOLTAGE,
        suggested_display_precision=1,
    ),
    *_per_line(
        "current",
        "current_ln_{n}_a",
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        device_class=SensorDeviceClass.CURRENT,
        suggested_display_precision=1,
    ),
    *_per_line(
        "power",
        "power_ln_{n}_w",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        suggested_display_precision=0,
    ),
    EkmSensorDescription(
        key="power_total",
        translation_key="power_total",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_main_field("power_total_w"),
    ),
    EkmSensorDescription(
        key="power_net",
        translation_key="power_net",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=_net_power,
        versions=V4,
    ),
    *(
        EkmSensorDescription(
            key=f"power_factor_l{n}",
            translation_key=f"power_factor_l{n}",
            device_class=SensorDeviceClass.POWER_FACTOR,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=2,
            value_fn=_pf_field(n),
        )
        for n in (1, 2, 3)
    ),
    *(
        EkmSensorDescription(
            key=f"reactive_power_l{n}",
            translation_key=f"reactive_power_l{n}",
            native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
            device_class=SensorDeviceClass.REACTIVE_POWER,
            state_class=SensorStateClass.MEASUREMENT,
            entity_registry_enabled_default=False,
            value_fn=_a_field(f"reactive_power_ln_{n}_var"),
            versions=V4,
        )
        for n in (1, 2, 3)
    ),
    EkmSensorDescription(
        key="reactive_power_total",
        translation_key="reactive_power_total",
        native_unit_of_measurement=UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        device_class=SensorDeviceClass.REACTIVE_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
        value_fn=_a_field("reactive_power_total_var"),
        versions=V4,
    ),
    EkmSensorDescription(
        key="frequency",
        translation_key="frequency",
        native_unit_of_measurement=UnitOfFrequency.HERTZ,
        device_class=SensorDeviceClass.FREQUENCY,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_a_field("frequency_hz"),
        versions=V4,
    ),
    EkmSensorDescription(
        key="max_demand",
        translation_key="max_demand",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_settings_field("max_demand_w"),
    ),
    EkmSensorDescription(
        key="max_demand_period",
        translation_key="max_demand_period",
        native_unit_of_measurement=UnitOfTime.MINUTES,
        device_class=SensorDeviceClass.DURATION,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_demand_period,
    ),
    EkmSensorDescription(
        key="max_demand_reset",
        translation_key="max_demand_reset",
        device_class=SensorDeviceClass.ENUM,
        options=[m.name.lower() for m in EkmMaxDemandReset],
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_demand_reset,
        versions=V4,
    ),
    *(
        EkmSensorDescription(
            key=f"pulse_count_{n}",
            translation_key=f"pulse_count_{n}",
            state_class=SensorStateClass.TOTAL_INCREASING,
            entity_registry_enabled_default=False,
            value_fn=_main_field(f"pulse_count_{n}"),
        )
        for n in (1, 2, 3)
    ),
    *(
        EkmSensorDescription(
            key=f"pulse_ratio_{n}",
            translation_key=f"pulse_ratio_{n}",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            value_fn=_settings_field(f"pulse_ratio_{n}"),
        )
        for n in (1, 2, 3)
    ),
    EkmSensorDescription(
        key="pulse_output_ratio",
        translation_key="pulse_output_ratio",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_pulse_output_ratio,
        versions=V4,
    ),
    EkmSensorDescription(
        key="ct_ratio",
        translation_key="ct_ratio",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_settings_field("ct_ratio"),
    ),
    EkmSensorDescription(
        key="meter_time",
        translation_key="meter_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda r: _meter_time(_main(r)),
    ),
)


def build_sensors(runtime: EkmRuntime) -> Iterator[Entity]:
    """Yield every sensor of every meter, and a last-read sensor per meter."""
    for meter in runtime.meters:
        coordinator = runtime.by_address[meter.address]
        for description in SENSORS:
            if meter.version in description.versions:
                yield EkmSensor(runtime, meter, description)
        yield MeterLinkLastReadSensor(
            coordinator,
            unique_id=f"ekm_{meter.address}_last_read",
            device_info=runtime.device_info(meter),
        )


class EkmSensor(MeterLinkEntity[EkmMeterCoordinator], RestoreSensor):
    """One value of one meter; cumulative registers never step backwards."""

    entity_description: EkmSensorDescription

    def __init__(
        self, runtime: EkmRuntime, meter: EkmMeterRef, description: EkmSensorDescription
    ) -> None:
        """Attach the sensor to its meter's device and coordinator."""
        super().__init__(
            runtime.by_address[meter.address],
            unique_id=f"ekm_{meter.address}_{description.key}",
            device_info=runtime.device_info(meter),
            description=description,
        )
        self._guard = (
            CounterGuard(name=f"EKM {meter.address} {description.key}")
            if description.guard
            else None
        )
        self._update_from_data()

    async def async_added_to_hass(self) -> None:
        """Restore the last total so the counter guard survives restarts."""
        await super().async_added_to_hass()
        if self._guard is not None and self._guard.last is None:
            last = await self.async_get_last_sensor_data()
            if last is not None and isinstance(last.native_value, int | float):
                self._guard.last = float(last.native_value)

    @property
    def available(self) -> bool:
        """Return False while the meter fails, or while it does not report this value."""
        return super().available and self._attr_native_value is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        reading = self.coordinator.data
        value = None if reading is None else self.entity_description.value_fn(reading)
        if self._guard is not None and isinstance(value, int | float):
            value = self._guard.accept(float(value))
        self._attr_native_value = value


__all__ = ["SENSORS", "EkmSensor", "build_sensors"]
