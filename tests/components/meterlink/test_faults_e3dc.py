"""Fault matrix, end to end, for E3/DC (issue 9): RSCP over TCP through a fault proxy.

Home Assistant runs a real entry against the E3/DC simulator; ``simulators.faultproxy`` sits on
the wire between them. For every fault the measurement entities (live power flows and state of
charge) are recorded: they show the simulator's value or ``unavailable``, never another number;
a reauthentication or repair issue appears only where a person must act; and the first poll
after the fault clears shows the simulator's current values.

The simulator's clock is frozen, so "the simulator's value" is exact; the client's monotonic
clock (its connect backoff) moves with each poll.

Faults (all apply to E3/DC; none is N/A):

- refused: proxy ``refuse()`` for six polls (the connect backoff grows), then ``start()``:
  unavailable, back at the next poll.
- drop_mid_frame: the proxy cuts a poll's reply, or the login's: healed within the poll by the
  one reconnect (no gap, no reauth); the device dropping every request (simulator ``drop``):
  unavailable, back at the next poll.
- stall / half_open: the proxy holds the bytes, or the peer vanished without FIN: a timeout
  (short while the fault lasts), unavailable, back at the next poll.
- garbage: junk before a reply (proxy) is healed by the reconnect; random replies (simulator):
  unavailable, back at the next poll.
- bad_checksum: the simulator corrupts the frame CRC-32: unavailable, back at the next poll.
- wrong_credentials: portal password or RSCP key changed: reauth flow (no repair issue); back
  once the person has entered the new secret.
- server_error: a reply answering none of the requests: unavailable, back; RSCP error items
  for two live values: those two unavailable, the others read, back; the login refused
  with an RSCP error (the device cannot reach E3/DC's portal): repair issue, no reauth; back
  and the issue gone at the next poll.
- device_reboot_changed_state: the simulator is off (refused), its clock moves three hours and
  a switch changes, it comes back on the same port: the NEW values after one poll.
- bridge_reboot: proxy ``restart()`` (every connection reset): healed within the poll.

Commands: a switch and two numbers whose REPLY is cut after the device applied them are applied
exactly once (counted by the simulator) and confirmed by reading back; under a refused or
stalled connection a command raises a translated error and is not lost or repeated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass
from datetime import timedelta
import time
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.e3dc.client import RscpClient
from custom_components.meterlink.protocols.e3dc.tags import RscpTag as T, RscpUserLevel
from custom_components.meterlink.systems.e3dc import runtime as e3dc_runtime
from custom_components.meterlink.systems.e3dc.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RSCP_KEY,
    CONF_USERNAME,
)
from custom_components.meterlink.systems.e3dc.runtime import E3dcRuntime
from simulators.e3dc.model import PowerModel
from simulators.e3dc.server import E3dcSimulator
from simulators.faultproxy import FaultProxy

from .e3dc_helpers import (
    ENTRY_ID,
    KEY,
    PASSWORD,
    SERIAL,
    USER,
    entry_data,
    entry_options,
    recorder_config,  # noqa: F401 - the fixture
)
from .fault_rig import MeasuredRig

TIMEOUT = 2.0  # the client's reply timeout while the network is fine (a loaded CI stays green)
STALL_TIMEOUT = 0.2  # while a stall or half-open fault lasts: past it quickly
PORTAL_ISSUE = f"e3dc_portal_unreachable_{ENTRY_ID}"
# measurement entity key -> its value in the simulator's power flows
MEASURED: dict[str, Callable[[Any], float]] = {
    "pv_power": lambda f: int(f.pv_w),
    "battery_power": lambda f: int(f.battery_w),
    "house_power": lambda f: int(f.house_w),
    "grid_power": lambda f: int(f.grid_w),
    "state_of_charge": lambda f: round(f.soc_pct),
}


class Ticks:
    """A clock moved by hand (the simulator's wall clock, the client's monotonic clock)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(kw_only=True)
class Rig(MeasuredRig):
    """An entry loaded against the simulator through the fault proxy."""

    sim: E3dcSimulator
    proxy: FaultProxy
    entry: MockConfigEntry
    clock: Ticks  # the simulator's wall clock (frozen)
    ticks: Ticks  # the client's monotonic clock

    @property
    def runtime(self) -> E3dcRuntime:
        runtime = self.entry.runtime_data
        assert isinstance(runtime, E3dcRuntime)
        return runtime

    def expected(self) -> dict[str, float]:
        """What the simulator answers now for each measurement."""
        flows = self.sim.model.flows(self.clock())
        return {key: value(flows) for key, value in MEASURED.items()}

    async def poll(self) -> None:
        """One poll of every cadence that is due (time moves by the live interval)."""
        seconds = self.runtime.live.update_interval.total_seconds()  # type: ignore[union-attr]
        self.ticks.now += seconds + 1
        async_fire_time_changed(self.hass, dt_util.utcnow() + timedelta(seconds=seconds + 1))
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def refresh(self) -> None:
        """Poll the live values and the details now."""
        await self.runtime.live.async_refresh()
        await self.runtime.details.async_refresh()
        await self.hass.async_block_till_done()

    def assert_current(self) -> None:
        """Every measurement shows the simulator's current value."""
        expected = self.expected()
        assert {k: float(v) for k, v in self.states().items()} == pytest.approx(expected)


@contextlib.asynccontextmanager
async def rig(hass: HomeAssistant, *, scan_interval: int = 300) -> AsyncIterator[Rig]:
    """Simulator, fault proxy, and an entry loaded through it (polls driven by the test)."""
    # yesterday 09:00 UTC: the sun is up and still climbing three hours later, whatever the
    # time the suite runs (a night-time start gave 0 W of PV before and after a "reboot")
    clock, ticks = Ticks(float(int(time.time()) // 86400 * 86400 - 15 * 3600)), Ticks(1000.0)
    sim = E3dcSimulator(
        rscp_key=KEY,
        users={USER: (PASSWORD, RscpUserLevel.USER)},
        model=PowerModel(),
        serial=SERIAL,
        clock=clock,
    )
    await sim.start()
    proxy = await FaultProxy(sim.port).start()

    def build_client(data: Any, on_frame: Any = None, **kw: Any) -> RscpClient:
        """The entry's client with a short timeout, no keep-alive and the test's clock."""
        return RscpClient(
            host=data[CONF_HOST],
            port=int(data[CONF_PORT]),
            username=data[CONF_USERNAME],
            password=data[CONF_PASSWORD],
            rscp_key=data[CONF_RSCP_KEY],
            timeout=TIMEOUT,
            keepalive_s=None,
            on_frame=on_frame,
            monotonic=ticks,
            **kw,
        )

    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"E3/DC S10 E {SERIAL}",
        entry_id=ENTRY_ID,
        data=entry_data(sim, port=proxy.port),
        options=entry_options(scan_interval=scan_interval),
        unique_id=SERIAL,
    )
    entry.add_to_hass(hass)
    try:
        with patch.object(e3dc_runtime, "build_client", build_client):
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            assert entry.state is ConfigEntryState.LOADED
            registry = er.async_get(hass)
            test_rig = Rig(hass=hass, sim=sim, proxy=proxy, entry=entry, clock=clock, ticks=ticks)
            for key in MEASURED:
                entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{SERIAL}_{key}")
                assert entity_id is not None, key
                test_rig.ids[key] = entity_id
            test_rig.assert_current()  # the oracle agrees with the entities before any fault

            with test_rig.recording():
                yield test_rig
    finally:
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
        await proxy.stop()
        await sim.stop()


def entity(key: str, platform: str) -> Callable[[HomeAssistant], str]:
    def find(hass: HomeAssistant) -> str:
        entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{SERIAL}_{key}")
        assert entity_id is not None, key
        return entity_id

    return find


# --- network faults -----------------------------------------------------------------------------


async def test_refused(hass: HomeAssistant) -> None:
    """Six polls against a closed port (the connect backoff grows), then one poll recovers."""
    async with rig(hass, scan_interval=5) as r:
        before = r.expected()
        await r.proxy.refuse()
        for _ in range(6):
            await r.poll()
            r.assert_unavailable()
        r.no_action_needed()
        await r.proxy.start()
        await r.poll()
        r.assert_current()
        r.assert_honest(before)
        r.no_action_needed()


async def test_drop_mid_frame(hass: HomeAssistant) -> None:
    """A cut reply is healed by the one reconnect, in the poll and in the login; no reauth."""
    async with rig(hass) as r:
        before = r.expected()
        connections = r.sim.stats.connections
        r.proxy.drop_mid_frame(cut_at=5)
        await r.refresh()
        assert r.proxy.stats.cuts == 1
        assert r.sim.stats.connections == connections + 1
        r.assert_current()
        # the login reply cut: looks like a wrong RSCP key, which a second login disproves
        await r.runtime.client.close()
        r.proxy.drop_mid_frame(cut_at=5)
        await r.refresh()
        assert r.proxy.stats.cuts == 2
        r.assert_current()
        r.no_action_needed()
        # the device drops every request for a while: the poll fails, the next one recovers
        r.sim.faults.drop = 3
        await r.refresh()
        r.assert_unavailable()
        r.no_action_needed()
        await r.poll()
        r.assert_current()
        r.assert_honest(before)


@pytest.mark.parametrize("mode", ["stall", "half_open"])
async def test_stall_and_half_open(hass: HomeAssistant, mode: str) -> None:
    """No byte comes back (held, or the peer vanished without FIN): a timeout, then recovery."""
    async with rig(hass) as r:
        before = r.expected()
        r.runtime.client.timeout = STALL_TIMEOUT
        r.proxy.set_mode(mode)  # type: ignore[arg-type]
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        assert r.runtime.live.last_error is not None
        assert "within" in str(r.runtime.live.last_error)  # a timeout, not a wrong key
        r.no_action_needed()
        r.proxy.set_mode("pass")
        r.runtime.client.timeout = TIMEOUT
        await r.poll()
        r.assert_current()
        r.assert_honest(before)
        r.no_action_needed()


async def test_garbage(hass: HomeAssistant) -> None:
    """Junk before a reply is healed by the reconnect; a device answering junk is unavailable."""
    async with rig(hass) as r:
        before = r.expected()
        r.proxy.garbage_next()
        await r.refresh()
        r.assert_current()
        r.sim.faults.garbage = 2  # the request and its one retry
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        r.no_action_needed()
        await r.poll()
        r.assert_current()
        r.assert_honest(before)


async def test_bad_checksum(hass: HomeAssistant) -> None:
    """Frames whose CRC-32 does not match are dropped, never decoded into values."""
    async with rig(hass) as r:
        before = r.expected()
        r.sim.faults.bad_crc = 2
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        assert "CRC" in str(r.runtime.live.last_error)
        r.no_action_needed()
        await r.poll()
        r.assert_current()
        r.assert_honest(before)


@pytest.mark.parametrize("secret", ["password", "rscp_key"])
async def test_wrong_credentials(hass: HomeAssistant, secret: str) -> None:
    """Changed password or RSCP key: reauthentication; the entry is back once it is done."""
    async with rig(hass) as r:
        before = r.expected()
        new = {"password": PASSWORD, "rscp_key": KEY}
        if secret == "password":
            new["password"] = "changed-in-the-portal"
            r.sim.users = {USER: (new["password"], RscpUserLevel.USER)}
        else:
            new["rscp_key"] = "a-new-rscp-key"
            r.sim.rscp_key = new["rscp_key"]
        await r.proxy.reset_connections()
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        flows = hass.config_entries.flow.async_progress()
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
        assert not ir.async_get(hass).async_get_issue(DOMAIN, PORTAL_ISSUE)
        # the person enters the new secret: the entry reloads and reads the device
        result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"username": USER, **new}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert r.entry.state is ConfigEntryState.LOADED
        r.assert_current()
        r.assert_honest(before)


async def test_server_error(hass: HomeAssistant, issue_registry: ir.IssueRegistry) -> None:
    """Login refused with an RSCP error: a repair issue (its internet), no reauth; recovery."""
    async with rig(hass) as r:
        before = r.expected()
        r.sim.faults.mismatch = 1  # a reply that answers none of the requests
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        r.no_action_needed()
        await r.poll()
        r.assert_current()
        # the device answers two of the live values with an RSCP error: those two only
        r.sim.faults.error_tags = {T.EMS_REQ_POWER_PV, T.EMS_REQ_BAT_SOC}
        await r.refresh()
        shown = r.states()
        assert shown.pop("pv_power") == shown.pop("state_of_charge") == STATE_UNAVAILABLE
        assert {k: float(v) for k, v in shown.items()} == pytest.approx(
            {k: v for k, v in before.items() if k in shown}
        )
        r.no_action_needed()
        r.sim.faults.error_tags = set()
        await r.poll()
        r.assert_current()
        r.sim.faults.auth = "error"  # the device cannot check logins with E3/DC's portal
        await r.proxy.reset_connections()
        await r.runtime.live.async_refresh()
        await hass.async_block_till_done()
        r.assert_unavailable()
        assert not hass.config_entries.flow.async_progress()
        assert issue_registry.async_get_issue(DOMAIN, PORTAL_ISSUE) is not None
        r.sim.faults.auth = None
        await r.poll()
        r.assert_current()
        assert issue_registry.async_get_issue(DOMAIN, PORTAL_ISSUE) is None
        r.assert_honest(before)


async def test_device_reboot_changed_state(hass: HomeAssistant) -> None:
    """The device is off, comes back three hours later with a switch changed: new values."""
    async with rig(hass) as r:
        before = r.expected()
        switch = entity("smart_switch_1", "switch")(hass)
        assert hass.states.get(switch).state != STATE_ON  # type: ignore[union-attr]
        # switched off: its port refuses connects (the proxy stands for the wire here; a
        # forwarder that accepts and closes at once would read as a wrong RSCP key, see below)
        await r.sim.stop()
        await r.proxy.refuse()
        await r.refresh()
        r.assert_unavailable()
        assert hass.states.get(switch).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        r.no_action_needed()
        r.clock.now += 3 * 3600
        r.sim.model.switches[0].on = True
        await r.sim.start()  # the same port
        await r.proxy.start()
        after = r.expected()
        assert after["pv_power"] != before["pv_power"]
        await r.poll()
        r.assert_current()
        assert hass.states.get(switch).state == STATE_ON  # type: ignore[union-attr]
        r.assert_honest(before, after)
        r.no_action_needed()


async def test_bridge_reboot(hass: HomeAssistant) -> None:
    """Every connection reset (a router or bridge reboots): one reconnect within the poll."""
    async with rig(hass) as r:
        before = r.expected()
        connections = r.sim.stats.connections
        await r.proxy.restart()
        await r.refresh()
        assert r.sim.stats.connections == connections + 1
        r.assert_current()
        r.assert_honest(before)
        r.no_action_needed()


# --- commands -----------------------------------------------------------------------------------


async def call(hass: HomeAssistant, domain: str, service: str, entity_id: str, **data: Any) -> None:
    await hass.services.async_call(
        domain, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )


COMMANDS = {
    # name: (entity, service call, tag the device executes, the device's state afterwards);
    # the reply is cut by the proxy when the write is the command's first exchange, else the
    # simulator hangs up after applying it
    "smart_switch": (
        entity("smart_switch_1", "switch"),
        ("switch", "turn_on", {}),
        T.HA_REQ_COMMAND_ACTUATOR,
        lambda sim: sim.model.switches[0].on is True,
    ),
    "max_charge_power": (
        entity("max_charge_power", "number"),
        ("number", "set_value", {"value": 3000}),
        T.EMS_REQ_SET_POWER_SETTINGS,
        lambda sim: sim.model.settings.max_charge_w == 3000,
    ),
    "wallbox_max_current": (
        entity("wallbox_0_max_current", "number"),
        ("number", "set_value", {"value": 10}),
        T.WB_REQ_SET_PARAM_1,
        lambda sim: sim.model.wallboxes[0].max_current_a == 10,
    ),
}


@pytest.mark.parametrize("name", list(COMMANDS))
async def test_command_reply_lost_is_executed_once(hass: HomeAssistant, name: str) -> None:
    """Never twice: the device applies the command, its reply is cut, MeterLink reads back."""
    find, (domain, service, data), tag, applied = COMMANDS[name]
    async with rig(hass) as r:
        entity_id = find(hass)
        executed = r.sim.stats.executed.get(tag, 0)
        if name == "max_charge_power":  # read-modify-write: a read comes first
            r.sim.faults.lose_write_reply = 1
        else:  # the next device -> client bytes: the write's reply
            r.proxy.drop_mid_frame(cut_at=5)
        requests_before = r.sim.stats.requests_by_tag.copy()
        await call(hass, domain, service, entity_id, **data)  # confirmed by the read-back
        assert r.sim.faults.lose_write_reply == 0  # the reply was lost...
        assert r.proxy.stats.cuts == (0 if name == "max_charge_power" else 1)
        assert r.sim.stats.executed.get(tag, 0) == executed + 1  # ...after it ran, exactly once
        assert applied(r.sim)
        assert r.sim.stats.requests_by_tag != requests_before
        state = hass.states.get(entity_id)
        assert state is not None
        if domain == "switch":
            assert state.state == STATE_ON
        else:
            assert float(state.state) == data["value"]
        r.no_action_needed()


async def test_command_under_fault_raises_and_is_not_lost(hass: HomeAssistant) -> None:
    """Refused or stalled: the call raises a translated error; nothing runs twice."""
    switch = entity("smart_switch_1", "switch")
    async with rig(hass) as r:
        entity_id = switch(hass)
        tag = T.HA_REQ_COMMAND_ACTUATOR
        await r.proxy.refuse()
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "switch", "turn_on", entity_id)
        assert err.value.translation_key == "cannot_connect"
        assert r.sim.stats.executed.get(tag, 0) == 0
        assert r.sim.model.switches[0].on is False
        await r.proxy.start()
        r.ticks.now += 60  # past the connect backoff
        await r.refresh()  # connected again

        r.runtime.client.timeout = STALL_TIMEOUT
        r.proxy.set_mode("stall")  # the command is held on the wire, and the read-back too
        with pytest.raises(HomeAssistantError) as err:
            await call(hass, "switch", "turn_on", entity_id)
        assert err.value.translation_key == "timeout"
        assert r.sim.stats.executed.get(tag, 0) == 0
        r.proxy.set_mode("pass")  # the held command reaches the device late, once
        await until(lambda: r.sim.stats.executed.get(tag, 0) == 1)
        r.runtime.client.timeout = TIMEOUT
        await r.poll()  # one poll shows what the device did
        assert r.sim.model.switches[0].on is True
        assert hass.states.get(entity_id).state == STATE_ON  # type: ignore[union-attr]
        assert r.sim.stats.executed.get(tag, 0) == 1
        r.no_action_needed()


async def until(condition: Callable[[], bool], deadline: float = 5.0) -> None:
    """Wait for a condition another task makes true (polled, with a deadline)."""
    async with asyncio.timeout(deadline):
        while not condition():  # noqa: ASYNC110 - the simulator has no event for it
            await asyncio.sleep(0.01)
