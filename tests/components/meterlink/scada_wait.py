"""Wait for a state without sleeping: a state-change listener and a future."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers.event import async_track_state_change_event


async def wait_for_state(
    hass: HomeAssistant,
    entity_id: str,
    predicate: Callable[[State], bool],
    limit_s: float = 5.0,
) -> State:
    """Return the entity's state once ``predicate`` holds (now or after a change)."""
    current = hass.states.get(entity_id)
    if current is not None and predicate(current):
        return current
    future: asyncio.Future[State] = hass.loop.create_future()

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and predicate(new) and not future.done():
            future.set_result(new)

    unsub = async_track_state_change_event(hass, [entity_id], _changed)
    try:
        async with asyncio.timeout(limit_s):
            return await future
    finally:
        unsub()
