"""What every fault-matrix rig shares: the entities' states, and the matrix's assertions.

A rig maps each measured value's key (a DCS register, an E3/DC measurement ...) to its entity,
records every state those entities take while a fault lasts, and checks them: unavailable, or a
value the simulator really had; never anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
import pytest

from custom_components.meterlink.const import DOMAIN


@dataclass(kw_only=True)
class MeasuredRig:
    """Entities of measured values and the states they took while recording."""

    hass: HomeAssistant
    ids: dict[str, str] = field(default_factory=dict)  # measured key -> entity id
    seen: list[State] = field(default_factory=list)

    def states(self) -> dict[str, str]:
        """The entities' states now, by key."""
        return {key: self.hass.states.get(eid).state for key, eid in self.ids.items()}  # type: ignore[union-attr]

    def assert_unavailable(self) -> None:
        assert set(self.states().values()) == {STATE_UNAVAILABLE}

    def assert_honest(self, *allowed: dict[str, float]) -> None:
        """Every state recorded was unavailable or one of the simulator's values."""
        keys = {eid: key for key, eid in self.ids.items()}
        for state in self.seen:
            if state.state == STATE_UNAVAILABLE:
                continue
            key = keys[state.entity_id]
            assert any(float(state.state) == pytest.approx(a[key]) for a in allowed), state

    def no_action_needed(self) -> None:
        """Transient: no reauthentication, no repair issue."""
        assert not self.hass.config_entries.flow.async_progress()
        assert not [key for key in ir.async_get(self.hass).issues if DOMAIN in key[0] + key[1]]

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record every state the entities take (into ``seen``) inside the block."""

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            if (new := event.data["new_state"]) is not None:
                self.seen.append(new)

        unsub = async_track_state_change_event(self.hass, list(self.ids.values()), record)
        try:
            yield
        finally:
            unsub()
