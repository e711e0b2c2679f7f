"""E3/DC sensors: power flows, batteries, strings, phases, meters, wallboxes, today's energy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
)
from homeassistant.core import callback

from ...entity import MeterLinkLastReadSensor
from ...helpers import CounterGuard
from .entity import E3dcEntity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from homeassistant.helpers.device_registry import DeviceInfo
    from homeassistant.helpers.entity import Entity

    from ...protocols.e3dc.models import Inverter
    from .runtime import E3dcCoordinator, E3dcDetails, E3dcRuntime, E3dcStatic

type Value = float | int | str | None

M = SensorStateClass.MEASUREMENT
TI = SensorStateClass.TOTAL_INCREASING
DIAG = EntityCategory.DIAGNOSTIC


@dataclass(frozen=True, kw_only=True)
class E3dcSensorDescription(SensorEntityDescription):
    """A sensor: how its value is read from the part it describes."""

    value_fn: Callable[[Any], Value]
    guard: bool = False  # cumulative: published through a CounterGuard
    daily: bool = False  # a counter that restarts at midnight (today's totals)


def _power(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        **({"state_class": M} | kw),
    )


def _pct(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        native_unit_of_measurement=PERCENTAGE,
        state_class=M,
        **kw,
    )


def _energy(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    """A cumulative energy counter in Wh, shown in kWh, fit for the Energy dashboard."""
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        state_class=TI,
        guard=True,
        **kw,
    )


def _volt(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=1,
        state_class=M,
        **kw,
    )


def _amp(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=2,
        state_class=M,
        **kw,
    )


def _temp(key: str, attr: str, **kw: Any) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda part: getattr(part, attr),
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=M,
        **kw,
    )


LIVE: tuple[E3dcSensorDescription, ...] = (
    _power("pv_power", "pv_power_w"),
    _power("battery_power", "battery_power_w"),
    _power("house_power", "house_power_w"),
    _power("grid_power", "grid_power_w"),
    _power("additional_power", "additional_power_w"),
    _power("wallbox_power", "wallbox_power_w"),
    _power("wallbox_solar_power", "wallbox_solar_power_w"),
    _pct("state_of_charge", "state_of_charge_pct", device_class=SensorDeviceClass.BATTERY),
    _pct("autarky", "autarky_pct", suggested_display_precision=1),
    _pct("self_consumption", "self_consumption_pct", suggested_display_precision=1),
)

STATIC: tuple[E3dcSensorDescription, ...] = (
    _power(
        "installed_peak_power",
        "installed_peak_power_w",
        entity_category=DIAG,
        state_class=None,
    ),
    E3dcSensorDescription(
        key="installed_battery_capacity",
        translation_key="e3dc_installed_battery_capacity",
        value_fn=lambda info: info.installed_battery_capacity_wh,
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        entity_category=DIAG,
    ),
    _power("max_ac_power", "max_ac_power_w", entity_category=DIAG, state_class=None),
    _power(
        "max_battery_charge_power",
        "max_charge_power_w",
        entity_category=DIAG,
        state_class=None,
    ),
    _power(
        "max_battery_discharge_power",
        "max_discharge_power_w",
        entity_category=DIAG,
        state_class=None,
    ),
    _power(
        "derate_power",
        "derate_power_w",
        entity_category=DIAG,
        state_class=None,
        entity_registry_enabled_default=False,
    ),
)

BATTERY: tuple[E3dcSensorDescription, ...] = (
    _pct("battery_state_of_charge", "state_of_charge_pct", device_class=SensorDeviceClass.BATTERY),
    _pct("battery_state_of_health", "state_of_health_pct", suggested_display_precision=1),
    _volt("battery_voltage", "voltage_v"),
    _amp("battery_current", "current_a"),
    _temp("battery_max_cell_temperature", "max_cell_temperature_c"),
    _temp("battery_min_cell_temperature", "min_cell_temperature_c"),
    E3dcSensorDescription(
        key="battery_charge_cycles",
        translation_key="e3dc_battery_charge_cycles",
        value_fn=lambda b: b.charge_cycles,
        state_class=TI,
        entity_category=DIAG,
    ),
    E3dcSensorDescription(
        key="battery_full_charge_capacity",
        translation_key="e3dc_battery_full_charge_capacity",
        value_fn=lambda b: b.full_charge_capacity_ah,
        native_unit_of_measurement="Ah",
        suggested_display_precision=1,
        state_class=M,
        entity_category=DIAG,
    ),
    E3dcSensorDescription(
        key="battery_design_capacity",
        translation_key="e3dc_battery_design_capacity",
        value_fn=lambda b: b.design_capacity_ah,
        native_unit_of_measurement="Ah",
        suggested_display_precision=1,
        entity_category=DIAG,
        entity_registry_enabled_default=False,
    ),
)

MODULE: tuple[E3dcSensorDescription, ...] = (
    _pct(
        "module_state_of_charge",
        "state_of_charge_pct",
        device_class=SensorDeviceClass.BATTERY,
        entity_registry_enabled_default=False,
    ),
    _pct(
        "module_state_of_health",
        "state_of_health_pct",
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
    ),
    _volt("module_voltage", "voltage_v", entity_registry_enabled_default=False),
    E3dcSensorDescription(
        key="module_cycles",
        translation_key="e3dc_module_cycles",
        value_fn=lambda m: m.cycles,
        state_class=TI,
        entity_category=DIAG,
        entity_registry_enabled_default=False,
    ),
)

SG_READY = E3dcSensorDescription(
    key="sg_ready_state",
    translation_key="e3dc_sg_ready_state",
    value_fn=lambda sg: sg.state,
    entity_registry_enabled_default=False,
)

STRING: tuple[E3dcSensorDescription, ...] = (
    _power("string_power", "power_w"),
    _volt("string_voltage", "voltage_v"),
    _amp("string_current", "current_a"),
    _energy("string_energy", "energy_wh"),
)

PHASE: tuple[E3dcSensorDescription, ...] = (
    _power("inverter_phase_power", "power_w"),
    _volt("inverter_phase_voltage", "voltage_v"),
    _amp("inverter_phase_current", "current_a", entity_registry_enabled_default=False),
    _energy("inverter_phase_energy", "energy_wh"),
)

METER_PHASE: tuple[tuple[E3dcSensorDescription, int], ...] = tuple(
    (description, n)
    for n in range(3)
    for description in (
        E3dcSensorDescription(
            key=f"power_meter_l{n + 1}_power",
            translation_key="e3dc_power_meter_phase_power",
            value_fn=partial(lambda n, pm: pm.power_w[n], n),
            device_class=SensorDeviceClass.POWER,
            native_unit_of_measurement=UnitOfPower.WATT,
            state_class=M,
        ),
        E3dcSensorDescription(
            key=f"power_meter_l{n + 1}_voltage",
            translation_key="e3dc_power_meter_phase_voltage",
            value_fn=partial(lambda n, pm: pm.voltage_v[n], n),
            device_class=SensorDeviceClass.VOLTAGE,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            suggested_display_precision=1,
            state_class=M,
        ),
        E3dcSensorDescription(
            key=f"power_meter_l{n + 1}_energy",
            translation_key="e3dc_power_meter_phase_energy",
            value_fn=partial(lambda n, pm: pm.energy_wh[n], n),
            device_class=SensorDeviceClass.ENERGY,
            native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
            suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=2,
            state_class=TI,
            guard=True,
        ),
    )
)

METER_TOTAL = _power("power_meter_power", "total_power_w")

WALLBOX: tuple[E3dcSensorDescription, ...] = (
    _power("wallbox_charge_power", "power_w"),
    _power("wallbox_charge_solar_power", "solar_power_w"),
    _power("wallbox_charge_grid_power", "grid_power_w"),
    _energy("wallbox_energy", "energy_wh"),
    _energy("wallbox_solar_energy", "energy_solar_wh"),
    _energy("wallbox_grid_energy", "energy_grid_wh"),
    E3dcSensorDescription(
        key="wallbox_phases",
        translation_key="e3dc_wallbox_phases",
        value_fn=lambda w: w.phases,
        state_class=M,
    ),
    E3dcSensorDescription(
        key="wallbox_car_state_of_charge",
        translation_key="e3dc_wallbox_car_state_of_charge",
        value_fn=lambda w: w.state_of_charge_pct,
        native_unit_of_measurement=PERCENTAGE,
        state_class=M,
        entity_registry_enabled_default=False,
    ),
)


def _today(key: str, attr: str) -> E3dcSensorDescription:
    return E3dcSensorDescription(
        key=key,
        translation_key=f"e3dc_{key}",
        value_fn=lambda totals: getattr(totals, attr),
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        state_class=TI,
        guard=True,
        daily=True,
    )


TODAY: tuple[E3dcSensorDescription, ...] = (
    _today("solar_energy_today", "solar_production_wh"),
    _today("house_energy_today", "house_consumption_wh"),
    _today("grid_import_energy_today", "grid_import_wh"),
    _today("grid_export_energy_today", "grid_export_wh"),
    _today("battery_charge_energy_today", "battery_charge_wh"),
    _today("battery_discharge_energy_today", "battery_discharge_wh"),
)

MANUAL_CHARGE = E3dcSensorDescription(
    key="manual_charge_energy",
    translation_key="e3dc_manual_charge_energy",
    value_fn=lambda m: m.energy_counter_wh,
    device_class=SensorDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
    entity_category=DIAG,
)


def _battery(index: int, data: E3dcDetails) -> Any:
    return data.battery(index)


def _wallbox(index: int, data: E3dcDetails) -> Any:
    return data.wallbox(index)


def _inverter(index: int, data: E3dcDetails) -> Inverter | None:
    return next((i for i in data.details.inverters if i.index == index), None)


def _string(inverter: int, string: int, data: E3dcDetails) -> Any:
    found = _inverter(inverter, data)
    return None if found is None else next((s for s in found.strings if s.index == string), None)


def _phase(inverter: int, phase: int, data: E3dcDetails) -> Any:
    found = _inverter(inverter, data)
    return None if found is None else next((p for p in found.phases if p.index == phase), None)


def _meter(index: int, data: E3dcDetails) -> Any:
    return next((m for m in data.details.power_meters if m.index == index), None)


def _module(index: int, module: int, data: E3dcDetails) -> Any:
    battery = data.battery(index)
    return (
        None if battery is None else next((m for m in battery.modules if m.index == module), None)
    )


def _sg_ready(data: E3dcDetails) -> Any:
    return data.details.sg_ready


def _info(data: E3dcStatic) -> Any:
    return data.info


def _manual(data: E3dcDetails) -> Any:
    return data.details.manual_charge


def _temperature(index: int, data: E3dcDetails) -> Any:
    return _inverter(index, data)


def build_sensors(runtime: E3dcRuntime) -> Iterator[Entity]:  # noqa: C901, PLR0912 - one list
    """Yield every sensor of the system, its batteries, meters, strings and wallboxes."""
    system = runtime.system_device
    live, details, static = runtime.live, runtime.details, runtime.static
    for description in LIVE:
        yield E3dcSensor(runtime, live, description, key=description.key, device_info=system)
    for description in STATIC:
        yield E3dcSensor(
            runtime, static, description, key=description.key, device_info=system, source=_info
        )
    for description in TODAY:
        yield E3dcSensor(
            runtime,
            details,
            description,
            key=description.key,
            device_info=system,
            source=lambda d: d.today,
        )
    yield E3dcSensor(
        runtime, details, MANUAL_CHARGE, key=MANUAL_CHARGE.key, device_info=system, source=_manual
    )
    yield E3dcSensor(
        runtime, details, SG_READY, key=SG_READY.key, device_info=system, source=_sg_ready
    )
    topology = runtime.topology
    modules = topology.battery_modules or (0,) * len(topology.batteries)
    for index, count in zip(topology.batteries, modules, strict=True):
        device = runtime.battery_device(index)
        for description in BATTERY:
            yield E3dcSensor(
                runtime,
                details,
                description,
                key=f"battery_{index}_{description.key}",
                device_info=device,
                source=partial(_battery, index),
            )
        for module in range(count):
            for description in MODULE:
                yield E3dcSensor(
                    runtime,
                    details,
                    description,
                    key=f"battery_{index}_module_{module}_{description.key}",
                    device_info=device,
                    source=partial(_module, index, module),
                    placeholders={"module": str(module + 1)},
                )
        yield MeterLinkLastReadSensor(
            details,
            unique_id=f"{runtime.serial}_battery_{index}_last_read",
            device_info=device,
        )
    for layout in topology.inverters:
        p = layout.index
        yield E3dcSensor(
            runtime,
            details,
            _temp("inverter_temperature", "temperature_c", entity_category=DIAG),
            key=f"pvi_{p}_temperature",
            device_info=system,
            source=partial(_temperature, p),
            placeholders={"inverter": str(p + 1)},
        )
        for string in range(layout.strings):
            for description in STRING:
                yield E3dcSensor(
                    runtime,
                    details,
                    description,
                    key=f"pvi_{p}_string_{string}_{description.key}",
                    device_info=system,
                    source=partial(_string, p, string),
                    placeholders={"string": str(string + 1), "inverter": str(p + 1)},
                )
        for phase in range(layout.phases):
            for description in PHASE:
                yield E3dcSensor(
                    runtime,
                    details,
                    description,
                    key=f"pvi_{p}_phase_{phase}_{description.key}",
                    device_info=system,
                    source=partial(_phase, p, phase),
                    placeholders={"phase": str(phase + 1), "inverter": str(p + 1)},
                )
    for meter in topology.power_meters:
        placeholders = {"meter": str(meter)}
        yield E3dcSensor(
            runtime,
            details,
            METER_TOTAL,
            key=f"pm_{meter}_power",
            device_info=system,
            source=partial(_meter, meter),
            placeholders=placeholders,
        )
        for description, n in METER_PHASE:
            yield E3dcSensor(
                runtime,
                details,
                description,
                key=f"pm_{meter}_{description.key}",
                device_info=system,
                source=partial(_meter, meter),
                placeholders=placeholders | {"phase": str(n + 1)},
            )
    for index in topology.wallboxes:
        device = runtime.wallbox_device(index)
        for description in WALLBOX:
            yield E3dcSensor(
                runtime,
                details,
                description,
                key=f"wallbox_{index}_{description.key}",
                device_info=device,
                source=partial(_wallbox, index),
            )
        yield MeterLinkLastReadSensor(
            details,
            unique_id=f"{runtime.serial}_wallbox_{index}_last_read",
            device_info=device,
        )
    static_data = runtime.static.data
    for member in static_data.farm if static_data else ():
        device = runtime.farm_device(member)
        yield MeterLinkLastReadSensor(
            static,
            unique_id=f"{runtime.serial}_farm_{member.serial or member.name}_last_read",
            device_info=device,
        )
    yield MeterLinkLastReadSensor(live, unique_id=f"{runtime.serial}_last_read", device_info=system)


class E3dcSensor(E3dcEntity, RestoreSensor):
    """One value of the E3/DC; cumulative ones never step back (CounterGuard)."""

    entity_description: E3dcSensorDescription

    def __init__(
        self,
        runtime: E3dcRuntime,
        coordinator: E3dcCoordinator[Any],
        description: E3dcSensorDescription,
        *,
        key: str,
        device_info: DeviceInfo,
        source: Callable[[Any], Any] = lambda data: data,
        placeholders: dict[str, str] | None = None,
    ) -> None:
        """Describe the sensor."""
        super().__init__(
            runtime,
            coordinator,
            key=key,
            device_info=device_info,
            description=description,
            source=source,
            placeholders=placeholders,
        )
        self._guard = (
            CounterGuard(name=f"E3/DC {runtime.serial} {key}") if description.guard else None
        )
        self._day: object = None

    async def async_added_to_hass(self) -> None:
        """Restore the last total first, so the counter guard survives restarts, then read."""
        # today's totals start a new day after a restart: only lifetime counters are restored
        if self._guard is not None and not self.entity_description.daily:
            last = await self.async_get_last_sensor_data()
            if last is not None and isinstance(last.native_value, int | float):
                self._guard.last = float(last.native_value)
        await super().async_added_to_hass()
        self._update_from_data()

    @property
    def available(self) -> bool:
        """Return False while the device fails or does not answer this value."""
        return super().available and self._attr_native_value is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        part = self.part
        value = None if part is None else self.entity_description.value_fn(part)
        if self._guard is not None and isinstance(value, int | float):
            reset = False
            if self.entity_description.daily:
                day = self.coordinator.data.day
                reset = self._day is not None and day != self._day
                self._day = day
            value = self._guard.accept(float(value), reset=reset)
        self._attr_native_value = value


__all__ = ["E3dcSensor", "build_sensors"]
