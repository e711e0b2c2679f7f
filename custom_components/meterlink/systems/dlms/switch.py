"""DLMS switch: the disconnect control's supply relay (remote disconnect / reconnect)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity
from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError

from ...const import DOMAIN, LOGGER
from ...entity import MeterLinkEntity
from ...helpers import meterlink_exception_handler
from ...protocols.dlms.errors import DlmsError, DlmsReplyLostError
from .const import OBIS_DISCONNECT
from .runtime import DlmsCoordinator, DlmsData

if TYPE_CHECKING:
    from .runtime import DlmsRuntime


class DlmsRelaySwitch(MeterLinkEntity[DlmsCoordinator], SwitchEntity):
    """On = supply connected. Each command is confirmed by reading the relay back."""

    _attr_translation_key = "supply_relay"
    _attr_device_class = SwitchDeviceClass.SWITCH
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, runtime: DlmsRuntime) -> None:
        """Attach the relay to the meter's device."""
        super().__init__(
            runtime.coordinator,
            unique_id=f"{runtime.meter_id}_{OBIS_DISCONNECT}",
            device_info=runtime.device_info,
        )
        self._runtime = runtime
        self._attr_extra_state_attributes = {"obis": OBIS_DISCONNECT}
        self._update_from_data()

    @property
    def available(self) -> bool:
        """Return False while the meter fails or the relay state is unknown."""
        return super().available and self._attr_is_on is not None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_data()
        super()._handle_coordinator_update()

    def _update_from_data(self) -> None:
        data = self.coordinator.data
        self._attr_is_on = data.relay if data is not None else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Reconnect the supply (method 2) and confirm."""
        await self._switch(on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disconnect the supply (method 1) and confirm."""
        await self._switch(on=False)

    @meterlink_exception_handler
    async def _switch(self, *, on: bool) -> None:
        """Invoke the method once; confirm by reading the relay back, also if the reply is lost."""
        client = self._runtime.client
        assert client is not None  # noqa: S101 - only polled meters have the relay
        wanted = "on" if on else "off"
        lost: DlmsReplyLostError | None = None
        try:
            if on:
                await client.remote_reconnect()
            else:
                await client.remote_disconnect()
        except DlmsReplyLostError as err:
            # The meter may have switched and its reply got lost: never invoke it again.
            LOGGER.debug("%s: relay command reply lost (%s); reading back", self.entity_id, err)
            lost = err
        try:
            state = await self._runtime.async_read_relay()
        except DlmsError as err:
            if lost is None:
                raise
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="dlms_relay_unconfirmed",
                translation_placeholders={"wanted": wanted, "error": str(err)},
            ) from err
        data = self.coordinator.data
        self.coordinator.async_set_updated_data(
            DlmsData(
                readings=data.readings if data else {},
                errors=data.errors if data else {},
                relay=state,
            )
        )
        if state is not on:
            if lost is not None:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="dlms_relay_not_switched",
                    translation_placeholders={"state": "on" if state else "off"},
                ) from lost
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="dlms_relay_not_confirmed",
                translation_placeholders={"wanted": wanted},
            )
