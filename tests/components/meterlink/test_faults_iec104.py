"""Fault matrix (issue 9) for IEC 60870-5-104: every fault end to end, through Home Assistant.

A SCADA entry keeps an IEC 104 link to the c104 outstation simulator through
``simulators.faultproxy.FaultProxy`` over real sockets. For each fault: while it lasts every
measurement entity is ``unavailable`` (every state an entity takes is recorded; none may be a
value the outstation does not hold), no repair issue or reauth flow appears (all of these are
transient), and once the fault clears the link comes back by itself and the one general
interrogation after the reconnect shows the outstation's current values. Commands under fault
are confirmed or raise a translated error, and a command whose confirmation is lost is executed
by the outstation exactly once (direct and select-before-operate).

Fault -> how it is made here:

- refused: ``FaultProxy.refuse()`` then ``start()``.
- drop_mid_frame: ``FaultProxy.drop_mid_frame(3)`` cuts the interrogation's reply after 3 bytes.
- stall: ``FaultProxy.set_mode("stall")`` past t1 / the command timeout; and the outstation's
  own direction stalling (``Iec104Faults.stall``).
- garbage: ``FaultProxy.garbage_next()`` puts junk before a reply.
- bad_checksum: N/A. IEC 104 APDUs carry no checksum (IEC 60870-5-104 relies on TCP's; the
  FT1.2 checksum is IEC 101's). Nearest equivalent: a frame with an invalid length octet
  (``Iec104Simulator.inject_malformed``).
- wrong_credentials: N/A. IEC 104 has no authentication (IEC 62351-5 secure authentication is
  not supported by MeterLink or the simulator); no reauth flow may appear under any fault
  (asserted in every test).
- server_error: the outstation reports its values invalid (quality IV, the device's own error
  flag): no value is shown until it reports them valid again. Commands: a negative activation
  confirmation (the refusing command point) raises ``scada_command_refused``.
- half_open: ``FaultProxy.set_mode("half_open")``: the outstation vanishes without FIN or RST;
  the link notices by t1 (an unacknowledged I-frame).
- device_reboot_changed_state: the outstation stops listening (``pause``), its values change,
  it listens again (``resume``): the new values show.
- bridge_reboot: ``FaultProxy.restart()`` (a gateway in front of the outstation rebooting).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field, replace
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.scada.runtime import CLIENT_TIMING, ScadaRuntime
from simulators.faultproxy import FaultProxy
from simulators.iec104.server import Iec104Simulator

from .conftest import setup_entry
from .scada_faults import Recorder, assert_nobody_asked, recording, states
from .scada_helpers import FAST_TIMING, IEC104_ITEMS, iec104_simulator, scada_entry, term, unload
from .scada_wait import wait_for_state

TIMING = FAST_TIMING
# t1 and the command timeout while a test waits for them to run out (TIMING's 1.5 s
# elsewhere: no test may fail because a loaded CI machine acknowledged a frame slowly).
SHORT_T1_S = 0.4

# What the entities show for the outstation's initial values (simulators.iec104.server.POINTS).
EXPECTED: dict[str, str] = {
    "sensor.station_1_power": "21.5",
    "sensor.station_1_energy": "1000.0",
    "binary_sensor.station_1_alarm": STATE_ON,
    "binary_sensor.station_1_breaker": STATE_ON,
}
RECOVERY_S = 5.0  # deadline for the reconnect and its interrogation (typically ~50 ms)


@dataclass
class Rig:
    """A loaded entry whose IEC 104 link runs through the fault proxy."""

    hass: HomeAssistant
    sim: Iec104Simulator
    proxy: FaultProxy
    entry: MockConfigEntry
    expected: dict[str, str] = field(default_factory=lambda: dict(EXPECTED))

    @property
    def runtime(self) -> ScadaRuntime:
        """The entry's runtime."""
        runtime = self.entry.runtime_data
        assert isinstance(runtime, ScadaRuntime)
        return runtime

    async def poll(self) -> None:
        """One coordinator update (a general and a counter interrogation)."""
        await self.runtime.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    def states(self) -> dict[str, str]:
        """The measurement entities' states now."""
        return states(self.hass, self.expected)

    async def wait_unavailable(self) -> None:
        """Every measurement entity goes unavailable (the link noticed the fault)."""
        for entity_id in self.expected:
            await wait_for_state(
                self.hass, entity_id, lambda s: s.state == STATE_UNAVAILABLE, RECOVERY_S
            )

    async def wait_values(self) -> None:
        """Every measurement entity shows the outstation's value."""
        for entity_id, value in self.expected.items():
            await wait_for_state(self.hass, entity_id, lambda s, v=value: s.state == v, RECOVERY_S)
        assert self.states() == self.expected

    def assert_nobody_asked(self) -> None:
        """Transient faults: no repair issue, no reauth flow."""
        assert_nobody_asked(self.hass, self.entry)

    def recording(self) -> contextlib.AbstractContextManager[Recorder]:
        """Record every state change of the measurement entities."""
        return recording(self.hass, self.expected)

    @contextlib.asynccontextmanager
    async def short_t1(self) -> AsyncIterator[None]:
        """t1 and the command timeout are SHORT_T1_S inside (on a fresh, working link)."""
        client = self.runtime.iec104
        assert client is not None
        normal, normal_command = client.params, client.command_timeout_s
        client.params = replace(normal, t1_s=SHORT_T1_S, t2_s=SHORT_T1_S / 4)
        client.command_timeout_s = SHORT_T1_S
        connects = self.runtime.supervisor.connects if self.runtime.supervisor else 0
        await client.close()  # the supervisor reconnects with the short timers
        async with asyncio.timeout(RECOVERY_S):
            while not (client.connected and self.runtime.supervisor.connects > connects):  # type: ignore[union-attr]  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        await self.wait_values()
        try:
            yield
        finally:
            client.params, client.command_timeout_s = normal, normal_command


@contextlib.asynccontextmanager
async def _rig(hass: HomeAssistant) -> AsyncIterator[Rig]:
    """Outstation, proxy in front of it, entry set up through the proxy."""
    with patch.dict(CLIENT_TIMING, TIMING):
        async with iec104_simulator() as sim:
            proxy = await FaultProxy(sim.port).start()
            entry = scada_entry(
                hass, proxy.port, protocol="iec104", terms=[term(1, IEC104_ITEMS, "Station 1")]
            )
            await setup_entry(hass, entry)
            assert entry.state is ConfigEntryState.LOADED
            rig = Rig(hass, sim, proxy, entry)
            await rig.wait_values()
            try:
                yield rig
            finally:
                await unload(hass, entry)
                await proxy.stop()


@pytest.fixture
async def rig(hass: HomeAssistant) -> AsyncIterator[Rig]:
    """An IEC 104 entry behind a fault proxy."""
    async with _rig(hass) as value:
        yield value


async def _fault_cycle(
    rig: Rig,
    inject: Callable[[], Awaitable[None] | None],
    clear: Callable[[], Awaitable[None] | None],
    *,
    poll: bool = True,
    times_out: bool = False,
) -> None:
    """Inject, (poll,) see it unavailable, clear, see it back: the matrix's assertions."""
    with rig.recording() as recorder:
        async with rig.short_t1() if times_out else contextlib.nullcontext():
            if (result := inject()) is not None:
                await result
            if poll:
                await rig.poll()
            await rig.wait_unavailable()
            assert not rig.runtime.coordinator.last_update_success
            rig.assert_nobody_asked()
        connects = rig.sim.connections
        if (result := clear()) is not None:
            await result
        await rig.wait_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()
    assert recorder.went_unavailable
    assert rig.sim.connections > connects or rig.proxy.stats.connections > 1


# --- the matrix -------------------------------------------------------------------------------


async def test_refused(rig: Rig) -> None:
    await _fault_cycle(rig, rig.proxy.refuse, rig.proxy.start, poll=False)


async def test_drop_mid_frame(rig: Rig) -> None:
    await _fault_cycle(rig, lambda: rig.proxy.drop_mid_frame(3), lambda: None)
    assert rig.proxy.stats.cuts == 1


async def test_stall(rig: Rig) -> None:
    await _fault_cycle(
        rig,
        lambda: rig.proxy.set_mode("stall"),
        lambda: rig.proxy.set_mode("pass"),
        times_out=True,
    )


async def test_stall_of_the_outstation(rig: Rig) -> None:
    def stall(on: bool) -> None:
        rig.sim.faults.stall = on

    await _fault_cycle(rig, lambda: stall(True), lambda: stall(False), times_out=True)


async def test_garbage(rig: Rig) -> None:
    await _fault_cycle(rig, rig.proxy.garbage_next, lambda: None)


async def test_bad_checksum(rig: Rig) -> None:
    """N/A in IEC 104 (no checksum); the nearest fault: an invalid length octet."""
    await _fault_cycle(rig, rig.sim.inject_malformed, lambda: None, poll=False)


async def test_server_error(rig: Rig) -> None:
    """The outstation flags its values invalid: nothing is shown until they are valid.

    (The integrated total keeps its value: it is not flagged here, c104 counters carry
    their own kind of quality.)
    """
    flagged = {
        11: "sensor.station_1_power",
        21: "binary_sensor.station_1_alarm",
        22: "binary_sensor.station_1_breaker",
    }

    def invalid(*flags: str) -> None:
        for ioa in flagged:
            rig.sim.set_quality(ioa, *flags, spontaneous=True)

    with rig.recording() as recorder:
        invalid("Invalid")
        for entity_id in flagged.values():
            await wait_for_state(
                rig.hass, entity_id, lambda s: s.state == STATE_UNAVAILABLE, RECOVERY_S
            )
        rig.assert_nobody_asked()
        invalid()
        await rig.wait_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()


async def test_server_error_command_refused(rig: Rig) -> None:
    with pytest.raises(HomeAssistantError) as info:
        await rig.hass.services.async_call(
            "switch", "turn_on", {"entity_id": "switch.station_1_refusing_command"}, blocking=True
        )
    assert info.value.translation_key == "scada_command_refused"
    assert [c.ioa for c in rig.sim.faults.commands] == [120]
    rig.assert_nobody_asked()
    assert rig.runtime.coordinator.last_update_success  # a refusal is no link fault


async def test_half_open(rig: Rig) -> None:
    await _fault_cycle(
        rig,
        lambda: rig.proxy.set_mode("half_open"),
        lambda: rig.proxy.set_mode("pass"),
        times_out=True,
    )


async def test_device_reboot_changed_state(rig: Rig) -> None:
    sim = rig.sim

    async def reboot_with_new_values() -> None:
        sim.set_value(11, 77.0)
        sim.set_value(21, False)
        sim.set_value(22, 1)  # OFF
        rig.expected |= {
            "sensor.station_1_power": "77.0",
            "binary_sensor.station_1_alarm": STATE_OFF,
            "binary_sensor.station_1_breaker": STATE_OFF,
        }
        await sim.resume()

    await _fault_cycle(rig, sim.pause, reboot_with_new_values, poll=False)


async def test_bridge_reboot(rig: Rig) -> None:
    with rig.recording() as recorder:
        connections = rig.proxy.stats.connections
        await rig.proxy.restart()
        await rig.wait_unavailable()  # every connection was reset
        await rig.wait_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()
    assert rig.proxy.stats.connections > connections


# --- commands ---------------------------------------------------------------------------------


async def _switch(hass: HomeAssistant, entity_id: str, service: str) -> None:
    await hass.services.async_call("switch", service, {"entity_id": entity_id}, blocking=True)


def _executed(sim: Iec104Simulator, ioa: int) -> int:
    """How many times the outstation executed a command (selects not counted)."""
    return sum(1 for c in sim.faults.commands if c.ioa == ioa and not c.select)


@pytest.mark.parametrize("fault", ["refused", "stall"])
async def test_command_under_fault_raises(rig: Rig, fault: str) -> None:
    async with rig.short_t1():
        if fault == "refused":
            await rig.proxy.refuse()
            await rig.wait_unavailable()
            # Home Assistant skips unavailable entities, so the switch cannot be used; the
            # action addressing the device says why it cannot send
            assert rig.hass.states.get("switch.station_1_relay").state == STATE_UNAVAILABLE
            station = dr.async_get(rig.hass).async_get_device(
                {(DOMAIN, f"scada_{rig.entry.entry_id}_1")}
            )
            assert station is not None
            with pytest.raises(HomeAssistantError) as info:
                await rig.hass.services.async_call(
                    DOMAIN,
                    "scada_send_command",
                    {"device_id": station.id, "item": "relay", "command": "on"},
                    blocking=True,
                    return_response=True,
                )
            assert info.value.translation_key == "cannot_connect"
        else:
            rig.proxy.set_mode("stall")
            with pytest.raises(HomeAssistantError) as info:
                await _switch(rig.hass, "switch.station_1_relay", "turn_on")
            # sent, no confirmation within t1 (the proxy holds it: it may still arrive); or an
            # interrogation's t1 dropped the link before the command could be sent
            assert info.value.translation_key in {"scada_command_unconfirmed", "cannot_connect"}
    assert _executed(rig.sim, 101) == 0  # it never got there (while the fault lasts)
    if fault == "refused":
        await rig.proxy.start()
    else:
        rig.proxy.set_mode("pass")
    await rig.wait_values()
    # a stalled command may arrive late (TCP delivers it after all), but never twice
    assert _executed(rig.sim, 101) <= 1


@pytest.mark.parametrize(
    ("entity_id", "ioa", "sbo"),
    [("switch.station_1_relay", 101, False), ("switch.station_1_breaker_command", 103, True)],
    ids=["direct", "select_execute"],
)
async def test_command_confirmation_lost_never_twice(
    rig: Rig, entity_id: str, ioa: int, sbo: bool
) -> None:
    """The outstation executes the command, its confirmation is lost: executed once, raised.

    Direct: the proxy cuts the confirmation. Select/execute: the select is confirmed, the
    execute runs and the outstation's connection drops before its confirmation is sent.
    """
    related = {101: "binary_sensor.station_1_alarm", 103: "binary_sensor.station_1_breaker"}
    if sbo:
        rig.sim.faults.drop_after_execute = 1
    else:
        rig.proxy.drop_mid_frame(3)
    with pytest.raises(HomeAssistantError) as info:
        await _switch(rig.hass, entity_id, "turn_off")
    assert info.value.translation_key == "scada_command_unconfirmed"
    assert "may have executed it" in str(info.value)  # the translated message
    assert _executed(rig.sim, ioa) == 1
    # the link comes back by itself; the interrogation shows what the command did
    rig.expected[related[ioa]] = STATE_OFF
    await rig.wait_values()
    assert _executed(rig.sim, ioa) == 1
    assert len(rig.sim.faults.commands) == 1  # (c104 handles the select itself, unreported)
