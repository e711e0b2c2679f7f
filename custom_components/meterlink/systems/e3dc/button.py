"""E3/DC buttons: switch a wallbox between one and three phases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.button import ButtonEntity

from ...helpers import meterlink_exception_handler
from .entity import E3dcEntity, unless_reply_lost
from .switch import replace_wallbox

if TYPE_CHECKING:
    from collections.abc import Iterator

    from homeassistant.helpers.entity import Entity

    from .runtime import E3dcDetails, E3dcRuntime


def build_buttons(runtime: E3dcRuntime) -> Iterator[Entity]:
    """Yield a phase switch button per wallbox."""
    for index in runtime.topology.wallboxes:
        yield E3dcTogglePhasesButton(runtime, index)


class E3dcTogglePhasesButton(E3dcEntity, ButtonEntity):
    """Toggle a wallbox between one and three phases; confirmed by reading the phases back."""

    _attr_translation_key = "e3dc_wallbox_toggle_phases"

    def __init__(self, runtime: E3dcRuntime, index: int) -> None:
        """Attach the button to its wallbox."""
        super().__init__(
            runtime,
            runtime.details,
            key=f"wallbox_{index}_toggle_phases",
            device_info=runtime.wallbox_device(index),
        )
        self._index = index

    @meterlink_exception_handler
    async def async_press(self) -> None:
        """Toggle (sent once: a toggle must not run twice), then check the phases changed."""
        client = self.runtime.client
        before = (await client.wallbox(self._index)).phases
        await unless_reply_lost(client.toggle_wallbox_phases(self._index))
        box = await client.wallbox(self._index)
        if before is None or box.phases is None or box.phases == before:
            wanted = "1" if before == 3 else "3"  # noqa: PLR2004 - three phases
            raise self.runtime.not_confirmed("wallbox phases", wanted, box.phases)
        data: E3dcDetails = self.coordinator.data
        self.coordinator.async_set_updated_data(replace_wallbox(data, box))
