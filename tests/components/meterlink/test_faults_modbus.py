"""Fault matrix (issue 9) for Modbus: every fault end to end, through Home Assistant.

A SCADA entry reads the Modbus simulator through ``simulators.faultproxy.FaultProxy`` over real
sockets. For each fault: while it lasts every measurement entity is ``unavailable`` (every state
an entity takes is recorded; none may be a number other than the simulator's), no repair issue
or reauth flow appears (all of these are transient), and ONE poll after the fault clears shows
the simulator's current values again. Writes under fault are confirmed or raise a translated
error, and a write whose reply is lost is executed by the device exactly once.

Fault -> how it is made here:

- refused: ``FaultProxy.refuse()`` then ``start()``.
- drop_mid_frame: ``FaultProxy.drop_mid_frame(3)`` cuts a read reply after 3 bytes.
- stall: ``FaultProxy.set_mode("stall")`` past the client's timeout; and the device itself
  stalling (``ModbusFaults.stall_next``).
- garbage: ``FaultProxy.garbage_next()`` puts junk before a reply.
- bad_checksum: Modbus TCP frames carry no checksum (TCP's own protects them), so it is tested
  where there is one: RTU over TCP with a bad CRC (``ModbusFaults.malformed_next``). On Modbus
  TCP the nearest equivalent is a reply whose byte count contradicts its length
  (``malformed_next`` too).
- wrong_credentials: N/A. Modbus (TCP, RTU) has no authentication: there is no key or password
  a device could reject. No reauth flow may appear under any fault (asserted in every test).
- server_error: exception responses (04 SERVER DEVICE FAILURE, 0B GATEWAY TARGET DEVICE FAILED
  TO RESPOND) to every read (``ModbusFaults.exception_rules``).
- half_open: ``FaultProxy.set_mode("half_open")``: the device side vanishes without FIN or RST.
- device_reboot_changed_state: the simulator stops listening (``pause``), its values change,
  it listens again (``resume``): the new values show.
- bridge_reboot: ``FaultProxy.restart()`` (a Modbus TCP gateway rebooting: every connection
  reset, same port).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pymodbus.exceptions import ModbusIOException
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.protocols.modbus.errors import ModbusError
from custom_components.meterlink.systems.scada.runtime import CLIENT_TIMING, ScadaRuntime
from simulators.faultproxy import FaultProxy
from simulators.modbus.server import ExceptionRule, ModbusSimulator

from .conftest import setup_entry
from .scada_faults import Recorder, assert_nobody_asked, recording, states
from .scada_helpers import FAST_TIMING, modbus_simulator, scada_entry, unload
from .scada_wait import wait_for_state

TIMING = FAST_TIMING | {"reconnect_delay_s": 0.01, "reconnect_delay_max_s": 0.02}
# The request timeout while a stall test waits for it (the 2 s of TIMING elsewhere: no test
# may fail because a loaded CI machine answered a healthy request slowly).
STALL_TIMEOUT_S = 0.4

# What the entities show for the simulator's values (scada_helpers.fill_modbus).
EXPECTED: dict[str, str] = {
    "sensor.meter_1_energy": "12.345",
    "sensor.meter_1_power": "500",
    "sensor.meter_1_double_power": "1000.0",
    "sensor.meter_1_serial_number": "SIM1",
    "number.meter_1_set_point": "42.0",
    "switch.meter_1_relay": STATE_OFF,
    "binary_sensor.meter_1_alarm": STATE_ON,
}
WRITE_SINGLE_REGISTER = 6  # MAP V1.1b3, 6.6
WRITE_SINGLE_COIL = 5  # MAP V1.1b3, 6.5


@dataclass
class Rig:
    """A loaded entry reading the simulator through the fault proxy."""

    hass: HomeAssistant
    sim: ModbusSimulator
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
        """One coordinator poll, and whatever it started."""
        await self.runtime.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    async def poll_after_backoff(self) -> None:
        """One poll once the client's reconnect backoff (10-20 ms here) allows a connect."""
        client = self.runtime.modbus
        assert client is not None
        async with asyncio.timeout(2):
            while client.reconnect_wait_s() > 0:  # noqa: ASYNC110 - a deadline, no event
                await asyncio.sleep(0.005)
        await self.poll()

    @contextlib.asynccontextmanager
    async def short_timeout(self) -> AsyncIterator[None]:
        """Requests time out after STALL_TIMEOUT_S inside (a fresh, working connection)."""
        client = self.runtime.modbus
        assert client is not None
        client.timeout_s = STALL_TIMEOUT_S
        await client.close()
        async with asyncio.timeout(5):  # connect with the short timeout before the fault
            while not client.connected:
                with contextlib.suppress(ModbusError):
                    await client.connect()
        try:
            yield
        finally:
            client.timeout_s = TIMING["timeout_s"]
            await client.close()

    def states(self) -> dict[str, str]:
        """The measurement entities' states now."""
        return states(self.hass, self.expected)

    def assert_unavailable(self) -> None:
        """Every measurement entity is unavailable."""
        assert set(self.states().values()) == {STATE_UNAVAILABLE}, self.states()

    def assert_values(self) -> None:
        """Every measurement entity shows the simulator's value."""
        assert self.states() == self.expected

    def assert_nobody_asked(self) -> None:
        """Transient faults: no repair issue, no reauth flow."""
        assert_nobody_asked(self.hass, self.entry)

    def recording(self) -> contextlib.AbstractContextManager[Recorder]:
        """Record every state change of the measurement entities."""
        return recording(self.hass, self.expected)


@contextlib.asynccontextmanager
async def _rig(hass: HomeAssistant, *, rtu: bool = False) -> AsyncIterator[Rig]:
    """Simulator, proxy in front of it, entry set up through the proxy."""
    with patch.dict(CLIENT_TIMING, TIMING):
        async with modbus_simulator(rtu=rtu) as sim:
            proxy = await FaultProxy(sim.port).start()
            protocol = "modbus_rtu_over_tcp" if rtu else "modbus_tcp"
            entry = scada_entry(hass, proxy.port, protocol=protocol)
            await setup_entry(hass, entry)
            assert entry.state is ConfigEntryState.LOADED
            rig = Rig(hass, sim, proxy, entry)
            rig.assert_values()
            try:
                yield rig
            finally:
                await unload(hass, entry)
                await proxy.stop()


@pytest.fixture
async def rig(hass: HomeAssistant) -> AsyncIterator[Rig]:
    """A Modbus TCP entry behind a fault proxy."""
    async with _rig(hass) as value:
        yield value


async def _fault_cycle(
    rig: Rig,
    inject: Callable[[], Awaitable[None] | None],
    clear: Callable[[], Awaitable[None] | None],
    *,
    times_out: bool = False,
) -> None:
    """Inject, poll under the fault, clear, one poll: the matrix's three assertions."""
    with rig.recording() as recorder:
        async with rig.short_timeout() if times_out else contextlib.nullcontext():
            if (result := inject()) is not None:
                await result
            await rig.poll()
            rig.assert_unavailable()
            assert not rig.runtime.coordinator.last_update_success
            rig.assert_nobody_asked()
        if (result := clear()) is not None:
            await result
        await rig.poll_after_backoff()
        rig.assert_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()
    assert recorder.went_unavailable


# --- the matrix -------------------------------------------------------------------------------


async def test_refused(rig: Rig) -> None:
    await _fault_cycle(rig, rig.proxy.refuse, rig.proxy.start)


async def test_refused_for_long_recovers_at_the_next_poll(hass: HomeAssistant) -> None:
    """However long the device was away, the reconnect backoff never skips a poll."""
    interval_s = 0.1
    timing = TIMING | {"reconnect_delay_s": 0.01, "reconnect_delay_max_s": 60.0}
    with patch.dict(CLIENT_TIMING, timing):
        async with modbus_simulator() as sim:
            proxy = await FaultProxy(sim.port).start()
            entry = scada_entry(hass, proxy.port, scan_interval=interval_s)
            await setup_entry(hass, entry)
            client = entry.runtime_data.modbus  # type: ignore[attr-defined]
            await proxy.refuse()
            # the coordinator polls by itself; each poll tries once and the backoff doubles
            # (10 ms, 20 ms, ...: 1.28 s after eight tries, were it not capped)
            async with asyncio.timeout(10):
                while client.connect_attempts < 8:  # noqa: ASYNC110 - a deadline, no event
                    await asyncio.sleep(0.01)
            assert hass.states.get("sensor.meter_1_power").state == STATE_UNAVAILABLE
            assert client.reconnect_wait_s() <= interval_s
            await proxy.start()
            await wait_for_state(hass, "sensor.meter_1_power", lambda s: s.state == "500", 2)
            await unload(hass, entry)
            await proxy.stop()


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


async def test_stall_of_the_device(rig: Rig) -> None:
    def stall() -> None:
        rig.sim.faults.stall_next = 1

    await _fault_cycle(rig, stall, lambda: None, times_out=True)


async def test_garbage(rig: Rig) -> None:
    await _fault_cycle(rig, rig.proxy.garbage_next, lambda: None, times_out=True)


async def test_bad_checksum(hass: HomeAssistant) -> None:
    async with _rig(hass, rtu=True) as rig:
        # a bad CRC is dropped by the framer: the request times out
        await _fault_cycle(
            rig, lambda: _malformed(rig, 100), lambda: _malformed(rig, 0), times_out=True
        )


async def test_malformed_reply(rig: Rig) -> None:
    """Byte counts that contradict the frame length (pymodbus does not check them for bits).

    pymodbus raises out of ``data_received`` for a malformed register reply; asyncio then
    closes the connection (which MeterLink handles) and reports the exception to the loop's
    handler, which would fail any Home Assistant test: it is expected here, and only it.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    reported: list[BaseException] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, ModbusIOException):
            reported.append(exc)
        elif previous is not None:
            previous(loop, context)

    loop.set_exception_handler(handler)
    try:
        await _fault_cycle(rig, lambda: _malformed(rig, 100), lambda: _malformed(rig, 0))
    finally:
        loop.set_exception_handler(previous)
    assert reported  # the register reply was refused by pymodbus itself


async def test_malformed_bit_reply_is_no_value(rig: Rig) -> None:
    """One malformed coil reply: the relay has no value (not a guessed one), the rest reads."""
    await rig.sim.set_values(1, "coil", 0, [True])  # the malformed reply's data bytes say 0
    await rig.poll()
    assert rig.hass.states.get("switch.meter_1_relay").state == STATE_ON
    with rig.recording() as recorder:
        _malformed(rig, 1)  # the first request of a poll reads the coil
        await rig.poll()
        assert rig.hass.states.get("switch.meter_1_relay").state == STATE_UNAVAILABLE
        assert rig.hass.states.get("sensor.meter_1_power").state == "500"
        await rig.poll()
        assert rig.hass.states.get("switch.meter_1_relay").state == STATE_ON
    assert ("switch.meter_1_relay", STATE_OFF) not in recorder.seen


def _malformed(rig: Rig, count: int) -> None:
    rig.sim.faults.malformed_next = count


@pytest.mark.parametrize("code", [4, 11])
async def test_server_error(rig: Rig, code: int) -> None:
    rule = ExceptionRule(start=0, end=rig.sim.size, code=code)

    def fail() -> None:
        rig.sim.faults.exception_rules.append(rule)

    await _fault_cycle(rig, fail, rig.sim.faults.exception_rules.clear)


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
        await sim.set_values(1, "input_register", 0, [1, 0, 321])  # 65.536 kWh, 321 W
        await sim.set_values(1, "holding_register", 10, [7])
        await sim.set_values(1, "holding_register", 20, [0x5349, 0x4D32, 0, 0])  # "SIM2"
        await sim.set_values(1, "coil", 0, [True])
        await sim.set_values(1, "discrete_input", 0, [False])
        rig.expected |= {
            "sensor.meter_1_energy": "65.536",
            "sensor.meter_1_power": "321",
            "sensor.meter_1_double_power": "642.0",
            "sensor.meter_1_serial_number": "SIM2",
            "number.meter_1_set_point": "7.0",
            "switch.meter_1_relay": STATE_ON,
            "binary_sensor.meter_1_alarm": STATE_OFF,
        }
        await sim.resume()

    with rig.recording() as recorder:
        await sim.pause()
        await rig.poll()
        rig.assert_unavailable()
        rig.assert_nobody_asked()
        await reboot_with_new_values()
        await rig.poll_after_backoff()
        rig.assert_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()  # unavailable, then the new values: never an old one again
    assert sim.connections >= 2


async def test_bridge_reboot(rig: Rig) -> None:
    await _bridge_reboot(rig)


async def test_bridge_reboot_rtu_over_tcp(hass: HomeAssistant) -> None:
    """A serial-to-TCP bridge (RTU frames) rebooting."""
    async with _rig(hass, rtu=True) as rig:
        await _bridge_reboot(rig)


async def _bridge_reboot(rig: Rig) -> None:
    with rig.recording() as recorder:
        connections = rig.proxy.stats.connections
        await rig.proxy.restart()
        await rig.poll_after_backoff()
        rig.assert_values()
        rig.assert_nobody_asked()
    recorder.assert_honest()
    assert rig.proxy.stats.connections == connections + 1


# --- commands ---------------------------------------------------------------------------------


async def _set_point(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.meter_1_set_point", "value": value},
        blocking=True,
    )


@pytest.mark.parametrize("fault", ["refused", "stall", "half_open"])
async def test_write_under_fault_raises(rig: Rig, fault: str) -> None:
    async with rig.short_timeout():
        if fault == "refused":
            await rig.proxy.refuse()
            client = rig.runtime.modbus
            assert client is not None
            async with asyncio.timeout(2):  # the client saw the reset (else: a race, below)
                while client.connected:  # noqa: ASYNC110 - a deadline, no event
                    await asyncio.sleep(0.005)
        else:
            rig.proxy.set_mode("stall" if fault == "stall" else "half_open")
        with pytest.raises(HomeAssistantError) as info:
            await _set_point(rig.hass, 777)
    # Refused: nothing was sent. Stalled: the request may arrive, no reply or read-back did.
    # (A write sent in the instant before the client sees a reset is unconfirmed, too.)
    assert info.value.translation_key == (
        "cannot_connect" if fault == "refused" else "scada_write_unconfirmed"
    )
    assert rig.sim.writes[1, WRITE_SINGLE_REGISTER, 10] == 0
    # the fault clears: the write was not repeated behind the caller's back
    if fault == "refused":
        await rig.proxy.start()
    else:
        rig.proxy.set_mode("pass")
    await rig.poll_after_backoff()
    assert rig.sim.writes[1, WRITE_SINGLE_REGISTER, 10] <= 1
    written = await rig.sim.get_values(1, "holding_register", 10)
    # what the entity shows is what the device holds, whatever happened to the lost request
    assert rig.hass.states.get("number.meter_1_set_point").state == f"{float(written[0])}"


@dataclass(frozen=True)
class WriteCase:
    """A write through an entity and where the device keeps it."""

    entity_id: str
    service: str
    data: dict[str, Any]
    table: str
    function_code: int
    address: int
    value: int | bool
    shown: str


WRITES = [
    WriteCase(
        "number.meter_1_set_point",
        "number.set_value",
        {"value": 1234},
        "holding_register",
        WRITE_SINGLE_REGISTER,
        10,
        1234,
        "1234.0",
    ),
    WriteCase(
        "switch.meter_1_relay", "switch.turn_on", {}, "coil", WRITE_SINGLE_COIL, 0, True, "on"
    ),
]


@pytest.mark.parametrize("case", WRITES, ids=["register", "coil"])
async def test_write_reply_lost_never_twice(rig: Rig, case: WriteCase) -> None:
    """The device executes the write, its reply is cut: executed once, confirmed honestly.

    MeterLink does not send the write again (it may have been executed); it reconnects and
    reads the point back: the device holding the written value confirms the call.
    """
    await _write_reply_lost(rig, case)


async def test_write_reply_lost_never_twice_rtu_over_tcp(hass: HomeAssistant) -> None:
    """The same through a serial bridge (RTU frames, CRC)."""
    async with _rig(hass, rtu=True) as rig:
        await _write_reply_lost(rig, WRITES[1])


async def _write_reply_lost(rig: Rig, case: WriteCase) -> None:
    domain, name = case.service.split(".")
    key = (1, case.function_code, case.address)
    rig.proxy.drop_mid_frame(3)
    await rig.hass.services.async_call(
        domain, name, {"entity_id": case.entity_id} | case.data, blocking=True
    )
    assert rig.proxy.stats.cuts == 1  # the reply really was lost
    assert rig.sim.writes[key] == 1
    assert await rig.sim.get_values(1, case.table, case.address) == [case.value]
    assert rig.hass.states.get(case.entity_id).state == case.shown
    await rig.poll_after_backoff()
    assert rig.sim.writes[key] == 1
    assert rig.hass.states.get(case.entity_id).state == case.shown


async def test_write_reply_too_late_is_unconfirmed_and_executed_once(rig: Rig) -> None:
    """A slow device executes the write after the client gave up, and nothing answers in time."""
    async with rig.short_timeout():
        rig.sim.faults.latency_s = STALL_TIMEOUT_S * 1.5
        with pytest.raises(HomeAssistantError) as info:
            await _set_point(rig.hass, 555)
        assert info.value.translation_key == "scada_write_unconfirmed"
        assert "may have executed it" in str(info.value)  # the translated message
        rig.sim.faults.latency_s = 0
    await rig.poll_after_backoff()
    assert rig.sim.writes[1, WRITE_SINGLE_REGISTER, 10] == 1
    assert rig.hass.states.get("number.meter_1_set_point").state == "555.0"


async def test_write_request_lost_raises(rig: Rig) -> None:
    """The request never reaches the device: the read-back shows the old value, it raises."""
    rig.sim.faults.drop_next = 1
    with pytest.raises(HomeAssistantError) as info:
        await _set_point(rig.hass, 555)
    assert info.value.translation_key == "cannot_connect"
    assert rig.sim.writes[1, WRITE_SINGLE_REGISTER, 10] == 0
    assert await rig.sim.get_values(1, "holding_register", 10) == [42]
    assert rig.hass.states.get("number.meter_1_set_point").state == "42.0"
