"""EKM relay switches: relay 1 and 2 of each v4 meter, confirmed by ACK and read-back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity

from ...entity import MeterLinkEntity
from ...protocols.ekm.models import EkmRelay, EkmRelayState, EkmV4Reading, EkmVersion
from .runtime import EkmMeterCoordinator, EkmRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity

    from ...protocols.ekm.client import EkmMeterRef


def build_switches(runtime: EkmRuntime) -> Iterator[Entity]:
    """Yield both relays of every v4 meter (v3 meters have none)."""
    for meter in runtime.meters:
        if meter.version is EkmVersion.V4:
            for relay in EkmRelay:
                yield EkmRelaySwitch(runtime, meter, relay)


class EkmRelaySwitch(MeterLinkEntity[EkmMeterCoordinator], SwitchEntity):
    """A relay output: on = closed."""

    _attr_device_class = SwitchDeviceClass.SWITCH

    def __init__(self, runtime: EkmRuntime, meter: EkmMeterRef, relay: EkmRelay) -> None:
        """Attach the relay to its meter."""
        super().__init__(
            runtime.by_address[meter.address],
            unique_id=f"ekm_{meter.address}_relay_{relay.value}",
            device_info=runtime.device_info(meter),
        )
        self._runtime = runtime
        self._meter = meter
        self._relay = relay
        self._attr_translation_key = f"relay_{relay.value}"

    @property
    def is_on(self) -> bool | None:
        """Return whether the relay is closed, as the meter's State_Out says."""
        reading = self.coordinator.data
        if not isinstance(reading, EkmV4Reading):
            return None
        return (
            reading.a.relay_1_closed
            if self._relay is EkmRelay.RELAY_1
            else reading.a.relay_2_closed
        )

    @property
    def available(self) -> bool:
        """Return False while the meter fails or reports an unknown relay state."""
        return super().available and self.is_on is not None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Close the relay (until changed)."""
        await self._set(EkmRelayState.CLOSED)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Open the relay (until changed)."""
        await self._set(EkmRelayState.OPEN)

    async def _set(self, state: EkmRelayState) -> None:
        """Switch the relay; the library confirms it by ACK and a read-back, or raises."""
        a = await self._runtime.async_command(
            self._meter,
            self._runtime.bus.set_relay(
                self._meter.address, self._relay, state, 0, password=self._runtime.password
            ),
        )
        old = self.coordinator.data
        b = old.b if isinstance(old, EkmV4Reading) else None
        self.coordinator.async_set_updated_data(EkmV4Reading(a=a, b=b))
