"""SCADA entities: each item of a term becomes a sensor, binary sensor, switch or number."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity
from homeassistant.const import EntityCategory, Platform

from ...entity import MeterLinkEntity, MeterLinkLastReadSensor
from ...protocols.modbus.models import DataType
from .runtime import ScadaCoordinator

if TYPE_CHECKING:
    from homeassistant.helpers.entity import Entity

    from ...protocols.modbus.models import PointValue
    from .items import ScadaItem
    from .runtime import ItemState, ScadaRuntime, Term

_DEFAULT_LIMIT = 1e9  # a number without a configured range


def build_entities(runtime: ScadaRuntime, term: Term, platform: Platform) -> list[Entity]:
    """The entities of one term on one platform (the term's last-read sensor with sensors)."""
    entities: list[Entity] = []
    device = runtime.term_device(term)
    if platform is Platform.SENSOR:
        entities.append(
            MeterLinkLastReadSensor(
                runtime.coordinator,
                unique_id=f"scada_{runtime.entry.entry_id}_{term.term}_last_read",
                device_info=device,
            )
        )
    cls = _CLASSES[platform]
    entities.extend(cls(runtime, term, item) for item in term.items if item.platform is platform)
    return entities


class ScadaItemEntity(MeterLinkEntity[ScadaCoordinator]):
    """An item of a term; unavailable while it has no valid value."""

    def __init__(self, runtime: ScadaRuntime, term: Term, item: ScadaItem) -> None:
        """Attach the item to its term's device; the item's name is the entity's name."""
        super().__init__(
            runtime.coordinator,
            unique_id=f"scada_{runtime.entry.entry_id}_{item.uid}",
            device_info=runtime.term_device(term),
        )
        self.runtime = runtime
        self.item = item
        self._attr_name = item.name
        if item.modbus is not None and item.modbus.data_type is DataType.STRING:
            self._attr_entity_category = EntityCategory.DIAGNOSTIC

    @property
    def item_state(self) -> ItemState | None:
        """The item's current state."""
        data = self.coordinator.data
        return data.get(self.item.uid) if data else None

    @property
    def item_value(self) -> PointValue | None:
        """The item's accepted value."""
        state = self.item_state
        return state.value if state is not None else None

    @property
    def available(self) -> bool:
        """Return False while the channel fails or the item has no valid value."""
        return super().available and self.item_value is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Quality of the value (its time is in the read action's answer: no state churn)."""
        state = self.item_state
        return None if state is None else {"quality": state.quality}


class ScadaSensor(ScadaItemEntity, SensorEntity):
    """A measured value, counter or text."""

    def __init__(self, runtime: ScadaRuntime, term: Term, item: ScadaItem) -> None:
        """Set unit, device and state class from the item."""
        super().__init__(runtime, term, item)
        self._attr_native_unit_of_measurement = item.unit
        self._attr_device_class = (
            SensorDeviceClass(item.device_class) if item.device_class else None
        )
        self._attr_state_class = SensorStateClass(item.state_class) if item.state_class else None
        self._attr_suggested_display_precision = item.precision

    @property
    def native_value(self) -> str | int | float | None:
        """Return the value."""
        value = self.item_value
        if isinstance(value, bool):
            return int(value)
        return value


class ScadaBinarySensor(ScadaItemEntity, BinarySensorEntity):
    """A single / double point, discrete input, read-only coil or register bit."""

    def __init__(self, runtime: ScadaRuntime, term: Term, item: ScadaItem) -> None:
        """Set the device class from the item."""
        super().__init__(runtime, term, item)
        self._attr_device_class = (
            BinarySensorDeviceClass(item.device_class) if item.device_class else None
        )

    @property
    def is_on(self) -> bool | None:
        """Return the bit."""
        value = self.item_value
        return None if value is None else bool(value)


class ScadaSwitch(ScadaItemEntity, SwitchEntity):
    """A coil, writable register bit, or IEC 104 single / double command; confirmed or raising."""

    def __init__(self, runtime: ScadaRuntime, term: Term, item: ScadaItem) -> None:
        """Set the device class; IEC 104 commands have no read-back (assumed state)."""
        super().__init__(runtime, term, item)
        self._attr_device_class = (
            SwitchDeviceClass(item.device_class) if item.device_class else None
        )
        self._attr_assumed_state = item.iec104 is not None

    @property
    def available(self) -> bool:
        """A command with no value yet can still be switched while the channel works."""
        if self.item.iec104 is not None:
            return self.coordinator.last_update_success
        return super().available

    @property
    def is_on(self) -> bool | None:
        """Return the state (read back, or the last confirmed command)."""
        value = self.item_value
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on; the write is read back (Modbus) or confirmed (IEC 104)."""
        await self.runtime.async_write(self.item, True)  # noqa: FBT003

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        await self.runtime.async_write(self.item, False)  # noqa: FBT003


class ScadaNumber(ScadaItemEntity, NumberEntity):
    """A holding register or IEC 104 set-point; range from the item's data check."""

    _attr_mode = NumberMode.BOX

    def __init__(self, runtime: ScadaRuntime, term: Term, item: ScadaItem) -> None:
        """Set unit, device class and range."""
        super().__init__(runtime, term, item)
        self._attr_native_unit_of_measurement = item.unit
        self._attr_device_class = (
            NumberDeviceClass(item.device_class) if item.device_class else None
        )
        check = item.check
        self._attr_native_min_value = (
            check.minimum if check.minimum is not None else -_DEFAULT_LIMIT
        )
        self._attr_native_max_value = check.maximum if check.maximum is not None else _DEFAULT_LIMIT
        step = 1.0
        if item.modbus is not None:
            step = abs(item.modbus.scale) if item.modbus.data_type.is_integer else 0.001
        elif item.iec104 is not None:
            step = 0.001
        self._attr_native_step = step

    @property
    def available(self) -> bool:
        """A set-point with no value yet can still be set while the channel works."""
        if self.item.iec104 is not None:
            return self.coordinator.last_update_success
        return super().available

    @property
    def native_value(self) -> float | None:
        """Return the value (read back, or the last confirmed set-point)."""
        value = self.item_value
        return float(value) if isinstance(value, int | float) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write the value; confirmed by read-back / activation confirmation or raising."""
        point = self.item.modbus
        out: float | int = value
        if (
            point is not None
            and point.data_type.is_integer
            and point.scale == 1
            and point.offset == 0
        ):
            out = round(value)
        await self.runtime.async_write(self.item, out)


_CLASSES: dict[Platform, type[ScadaItemEntity]] = {
    Platform.SENSOR: ScadaSensor,
    Platform.BINARY_SENSOR: ScadaBinarySensor,
    Platform.SWITCH: ScadaSwitch,
    Platform.NUMBER: ScadaNumber,
}
