"""Fault matrix, end to end, for a polled DLMS/COSEM meter over TCP (issue 9).

Home Assistant loads a real DLMS entry whose host:port is a FaultProxy in front of the meter
simulator (IEC 62056-47 wrapper; HDLC where a checksum is needed). For each fault: every state
the register sensors take is recorded and must be ``unavailable`` or the simulator's value,
no repair issue or reauth flow appears for a transient fault, and one poll after the fault
clears every sensor shows the simulator's current value again.

Faults and how they apply to DLMS:

- refused, stall, half_open, bridge_reboot: FaultProxy on the meter's TCP port.
- drop_mid_frame: a single cut reply (FaultProxy) is healed inside the same poll (reads
  reconnect once), so no outage: asserted no wrong value and one reconnect. A meter that keeps
  dropping the link (simulator ``drop_after``) makes the sensors unavailable.
- garbage: junk once before an answer (FaultProxy) is healed inside the poll (the read
  reconnects once); junk before every answer (simulator ``garbage``) makes the sensors
  unavailable on the wrapper transport, which cannot resynchronise inside a connection.
- bad_checksum: HDLC FCS (simulator ``bad_fcs``, HDLC transport) and the GCM tag of ciphered
  replies after a good HLS association (simulator ``bad_tag``): transient, no reauth (the
  association proved the keys).
- wrong_credentials: the meter's LLS password changes; the association is refused, reauth
  starts, and the reauth flow with the new password brings the values back.
- server_error: the meter refuses the association (no reason given: transient, no reauth), and
  a register the meter answers with a data-access error goes unavailable alone.
- device_reboot_changed_state: the meter goes away and comes back on the same port with its
  clock moved on (energy up) and the relay open; one poll shows the new values.

Commands: the supply relay (disconnect control) under a fault either is confirmed or raises;
"never twice" is proven for a disconnect whose reply is lost (simulator ``drop_action_reply``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
import contextlib
from dataclasses import dataclass, field
import datetime as dt
from unittest.mock import patch

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.dlms.runtime import DlmsRuntime
from simulators.dlms.server import DlmsSimulator, SimTransport
from simulators.faultproxy import FaultProxy

from .conftest import setup_entry
from .dlms_helpers import (
    PASSWORD,
    REGISTERS,
    SERIAL,
    add_entry,
    meter_sim,
    polled_data,
    polled_options,
)

RUNTIME = "custom_components.meterlink.systems.dlms.runtime"
ENERGY = "1.0.1.8.0.255"  # Wh on the wire, kWh in Home Assistant
VOLTAGE = "1.0.32.7.0.255"
RELAY = "0.0.96.3.10.255"


@dataclass
class Rig:
    """A loaded DLMS entry reaching the meter simulator through a fault proxy."""

    hass: HomeAssistant
    sim: DlmsSimulator
    proxy: FaultProxy
    entry: MockConfigEntry
    ids: dict[str, str]  # OBIS -> sensor entity id
    relay: str
    good: dict[str, str] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)

    @property
    def runtime(self) -> DlmsRuntime:
        runtime = self.entry.runtime_data
        assert isinstance(runtime, DlmsRuntime)
        return runtime

    def state(self, entity_id: str) -> str:
        current = self.hass.states.get(entity_id)
        assert current is not None, entity_id
        return current.state

    async def poll(self) -> None:
        """One poll, as the coordinator's timer runs it."""
        await self.runtime.coordinator.async_refresh()
        await self.hass.async_block_till_done()


def expected(sim: DlmsSimulator, obis: str) -> float:
    """What the sensor must show, computed from the simulated meter."""
    value = sim.meter.physical_value(obis)
    return value / 1000 if obis == ENERGY else value


@contextlib.asynccontextmanager
async def rigged(
    hass: HomeAssistant,
    registry: er.EntityRegistry,
    *,
    transport: SimTransport = SimTransport.WRAPPER,
    password: str | None = None,
    hls: bool = False,
) -> AsyncIterator[Rig]:
    """Simulator, proxy, entry (short request timeout), recorded states; all torn down."""
    async with meter_sim(transport=transport, password=password, hls=hls) as sim:
        proxy = await FaultProxy(sim.port).start()
        entry = add_entry(hass, polled_data(sim, port=proxy.port), polled_options())
        with patch(f"{RUNTIME}.REQUEST_TIMEOUT", 0.5):  # a stalled poll fails within ~1 s
            await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.LOADED

        def lookup(platform: str, unique_id: str) -> str:
            entity_id = registry.async_get_entity_id(platform, DOMAIN, unique_id)
            assert entity_id is not None, unique_id
            return entity_id

        rig = Rig(
            hass=hass,
            sim=sim,
            proxy=proxy,
            entry=entry,
            ids={obis: lookup("sensor", f"{SERIAL}_{obis}") for obis in REGISTERS},
            relay=lookup("switch", f"{SERIAL}_{RELAY}"),
        )
        for obis in (ENERGY, VOLTAGE):
            assert float(rig.state(rig.ids[obis])) == pytest.approx(expected(sim, obis))
        for entity_id in rig.ids.values():
            rig.good[entity_id] = rig.state(entity_id)
            assert rig.good[entity_id] != STATE_UNAVAILABLE, entity_id
            rig.seen[entity_id] = []

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            new = event.data["new_state"]
            if new is not None:
                rig.seen[event.data["entity_id"]].append(new.state)

        unsubscribe = async_track_state_change_event(hass, list(rig.ids.values()), record)
        try:
            yield rig
        finally:
            unsubscribe()
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)
            await proxy.stop()


@pytest.fixture
async def rig(hass: HomeAssistant, entity_registry: er.EntityRegistry) -> AsyncIterator[Rig]:
    """The wrapper meter behind a proxy."""
    async with rigged(hass, entity_registry) as rig:
        yield rig


# --- what every fault must show ------------------------------------------------------------------


def assert_unavailable(rig: Rig, ids: Iterable[str] | None = None) -> None:
    for entity_id in ids if ids is not None else rig.ids.values():
        assert rig.state(entity_id) == STATE_UNAVAILABLE, entity_id


def assert_never_wrong(rig: Rig, allowed: Callable[[str], Iterable[str]] | None = None) -> None:
    for entity_id, states in rig.seen.items():
        ok = {STATE_UNAVAILABLE, rig.good[entity_id], *(allowed(entity_id) if allowed else ())}
        wrong = [s for s in states if s not in ok]
        assert not wrong, (entity_id, wrong, ok)


def assert_recovered(rig: Rig) -> None:
    for obis, entity_id in rig.ids.items():
        shown = rig.state(entity_id)
        assert shown != STATE_UNAVAILABLE, entity_id
        if obis in (ENERGY, VOLTAGE):
            assert float(shown) == pytest.approx(expected(rig.sim, obis))


def assert_no_repair(hass: HomeAssistant) -> None:
    assert not [key for key in ir.async_get(hass).issues if key[0] == DOMAIN]
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


async def outage_then_recovery(rig: Rig, clear: Callable[[], object]) -> None:
    """Poll under the fault, check the outage, clear it, and recover within one poll."""
    await rig.poll()
    assert_unavailable(rig)
    assert rig.state(rig.relay) == STATE_UNAVAILABLE
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)
    cleared = clear()
    if asyncio.iscoroutine(cleared):
        await cleared
    await rig.poll()
    assert_recovered(rig)
    assert rig.state(rig.relay) == STATE_ON
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)


async def switch(rig: Rig, service: str) -> None:
    await rig.hass.services.async_call(
        SWITCH_DOMAIN, service, {ATTR_ENTITY_ID: rig.relay}, blocking=True
    )


# --- the matrix ----------------------------------------------------------------------------------


async def test_refused(rig: Rig) -> None:
    await rig.proxy.refuse()
    await outage_then_recovery(rig, rig.proxy.start)


async def test_drop_mid_frame(rig: Rig) -> None:
    connections = rig.sim.stats.connections
    rig.proxy.drop_mid_frame(cut_at=5)
    await rig.poll()  # the cut read reconnects once and is read again: no outage
    assert rig.proxy.stats.cuts == 1
    assert rig.sim.stats.connections == connections + 1
    assert_recovered(rig)
    assert_never_wrong(rig)
    # a meter that keeps dropping the link
    rig.sim.faults.drop_after = rig.sim.stats.requests

    def clear() -> None:
        rig.sim.faults.drop_after = None

    await outage_then_recovery(rig, clear)


async def test_stall(rig: Rig) -> None:
    rig.proxy.set_mode("stall")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.poll()
    assert loop.time() - started < 2
    assert_unavailable(rig)
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)
    rig.proxy.set_mode("pass")
    await rig.poll()
    assert_recovered(rig)
    assert_never_wrong(rig)


async def test_garbage(rig: Rig) -> None:
    rig.proxy.garbage_next()  # junk once: the read reconnects and is read again
    await rig.poll()
    assert_recovered(rig)
    assert_never_wrong(rig)
    rig.sim.faults.garbage = True  # junk before every answer: the wrapper cannot resync

    def clear() -> None:
        rig.sim.faults.garbage = False

    await outage_then_recovery(rig, clear)


async def test_bad_checksum(hass: HomeAssistant, entity_registry: er.EntityRegistry) -> None:
    async with rigged(hass, entity_registry, transport=SimTransport.HDLC) as rig:
        rig.sim.faults.bad_fcs = True

        def clear() -> None:
            rig.sim.faults.bad_fcs = False

        await outage_then_recovery(rig, clear)


async def test_bad_gcm_tag(hass: HomeAssistant, entity_registry: er.EntityRegistry) -> None:
    """Replies failing their GCM tag after a good HLS association: transient, no reauth."""
    async with rigged(hass, entity_registry, hls=True) as rig:
        rig.sim.faults.bad_tag = True

        def clear() -> None:
            rig.sim.faults.bad_tag = False

        await outage_then_recovery(rig, clear)


async def test_wrong_credentials(hass: HomeAssistant, entity_registry: er.EntityRegistry) -> None:
    async with rigged(hass, entity_registry, password=PASSWORD) as rig:
        rig.sim.password = b"87654321"  # changed on the meter
        await rig.sim.drop_connections()
        await rig.poll()
        assert_unavailable(rig)
        assert_never_wrong(rig)
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
        result = await hass.config_entries.flow.async_configure(
            flows[0]["flow_id"], {"password": "87654321"}
        )
        assert result["reason"] == "dlms_reauth_successful"
        await hass.async_block_till_done()
        assert rig.entry.state is ConfigEntryState.LOADED
        assert_recovered(rig)
        assert_never_wrong(rig)


async def test_server_error(rig: Rig) -> None:
    rig.sim.faults.refuse_association = True
    await rig.sim.drop_connections()

    def clear() -> None:
        rig.sim.faults.refuse_association = False

    await outage_then_recovery(rig, clear)
    # one register answered with a data-access error: that sensor alone goes unavailable
    spec = rig.sim.meter.registers.pop(VOLTAGE)
    await rig.sim.drop_connections()
    await rig.poll()
    assert rig.state(rig.ids[VOLTAGE]) == STATE_UNAVAILABLE
    assert rig.state(rig.ids[ENERGY]) == rig.good[rig.ids[ENERGY]]
    rig.sim.meter.registers[VOLTAGE] = spec
    await rig.sim.drop_connections()
    await rig.poll()
    assert_recovered(rig)
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)


async def test_half_open(rig: Rig) -> None:
    rig.proxy.set_mode("half_open")
    await rig.poll()
    assert_unavailable(rig)
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)
    rig.proxy.set_mode("pass")
    await rig.poll()
    assert_recovered(rig)
    assert_never_wrong(rig)


async def test_device_reboot_changed_state(rig: Rig) -> None:
    port = rig.sim.port
    await rig.sim.close()  # power cut
    await rig.poll()
    assert_unavailable(rig)
    rig.sim.meter.clock_offset = dt.timedelta(hours=1)  # time went on: energy moved up
    rig.sim.meter.output_state = False  # the relay came back open
    await rig.sim.start(port=port)
    await rig.poll()
    assert_recovered(rig)  # against the simulator's new values
    energy = rig.ids[ENERGY]
    assert float(rig.state(energy)) > float(rig.good[energy])
    assert rig.state(rig.relay) == STATE_OFF
    new = {eid: rig.state(eid) for eid in rig.ids.values()}
    assert_never_wrong(rig, lambda eid: (new[eid],))
    assert_no_repair(rig.hass)


async def test_bridge_reboot(rig: Rig) -> None:
    polling = asyncio.create_task(rig.poll())
    sent = rig.proxy.stats.to_device
    async with asyncio.timeout(5):
        await rig.proxy.wait_forwarded(to_device=sent + 1)
    await rig.proxy.restart()  # while the poll is on the wire
    await polling
    assert_never_wrong(rig)
    await rig.poll()
    assert_recovered(rig)
    assert_never_wrong(rig)
    assert_no_repair(rig.hass)


# --- the supply relay under faults ---------------------------------------------------------------


async def test_relay_refused_raises_and_changes_nothing(rig: Rig) -> None:
    await rig.proxy.refuse()  # the meter's link is reset and new connects are refused
    with pytest.raises(HomeAssistantError) as info:
        await switch(rig, "turn_off")
    # Whether the reset reached the client before the request went out is a race the client
    # cannot see, so it says either "cannot connect" or "may have switched, not confirmed".
    assert info.value.translation_key in {"cannot_connect", "dlms_relay_unconfirmed"}
    assert rig.sim.meter.actions == []
    await rig.poll()
    assert rig.state(rig.relay) == STATE_UNAVAILABLE  # Home Assistant calls it no more
    await rig.proxy.start()
    await rig.poll()
    assert rig.state(rig.relay) == STATE_ON
    await switch(rig, "turn_off")
    assert rig.sim.meter.actions == ["disconnect"]
    assert rig.state(rig.relay) == STATE_OFF


async def test_relay_never_twice_when_the_reply_is_lost(rig: Rig) -> None:
    """The meter opens the relay and drops the link before answering: read back, once."""
    connections = rig.sim.stats.connections
    rig.sim.faults.drop_action_reply = True
    await switch(rig, "turn_off")
    assert rig.sim.meter.actions == ["disconnect"]
    assert rig.sim.stats.connections == connections + 1  # reconnected for the read-back
    assert rig.sim.meter.output_state is False
    assert rig.state(rig.relay) == STATE_OFF
    await rig.poll()
    assert rig.sim.meter.actions == ["disconnect"]


async def test_relay_reply_lost_and_no_read_back_raises_honestly(rig: Rig) -> None:
    refusing: list[asyncio.Task[None]] = []

    def meter_gone(_action: str) -> None:
        refusing.append(asyncio.get_running_loop().create_task(rig.proxy.refuse()))

    rig.sim.meter.action_listeners.append(meter_gone)
    rig.sim.faults.drop_action_reply = True
    with pytest.raises(HomeAssistantError) as info:
        await switch(rig, "turn_off")
    assert info.value.translation_key == "dlms_relay_unconfirmed"
    assert rig.sim.meter.actions == ["disconnect"]
    await asyncio.gather(*refusing)
    await rig.proxy.start()
    await rig.poll()
    assert rig.state(rig.relay) == STATE_OFF  # it did switch; nothing was invoked again
    assert rig.sim.meter.actions == ["disconnect"]
