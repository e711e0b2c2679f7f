"""What the SCADA fault-matrix tests share: recording every state, and who was asked to act."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field

from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN


@dataclass
class Recorder:
    """Every state the measurement entities take while it records."""

    expected: dict[str, str]
    seen: list[tuple[str, str]] = field(default_factory=list)

    @callback
    def changed(self, event: Event[EventStateChangedData]) -> None:
        """Note one state change."""
        new = event.data["new_state"]
        if new is not None:
            self.seen.append((event.data["entity_id"], new.state))

    def assert_honest(self) -> None:
        """Every recorded state is unavailable or the device's value: never a wrong one.

        ``expected`` is read when this runs, so a test that changes the device's values
        updates it before the new values can arrive.
        """
        wrong = [
            (entity_id, state)
            for entity_id, state in self.seen
            if state not in (STATE_UNAVAILABLE, self.expected[entity_id])
        ]
        assert not wrong, f"states the device never had: {wrong}"

    @property
    def went_unavailable(self) -> bool:
        """Whether any entity was unavailable meanwhile."""
        return any(state == STATE_UNAVAILABLE for _, state in self.seen)


@contextlib.contextmanager
def recording(hass: HomeAssistant, expected: dict[str, str]) -> Iterator[Recorder]:
    """Record every state change of the entities in ``expected``."""
    recorder = Recorder(expected)
    unsub = async_track_state_change_event(hass, list(expected), recorder.changed)
    try:
        yield recorder
    finally:
        unsub()


def assert_nobody_asked(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """A transient fault: no repair issue of ours, no reauth flow."""
    issues = [issue for (domain, issue) in ir.async_get(hass).issues if domain == DOMAIN]
    assert issues == []
    assert list(entry.async_get_active_flows(hass, {SOURCE_REAUTH})) == []


def states(hass: HomeAssistant, entity_ids: dict[str, str]) -> dict[str, str]:
    """The entities' states now."""
    return {
        entity_id: state.state if (state := hass.states.get(entity_id)) else "missing"
        for entity_id in entity_ids
    }
