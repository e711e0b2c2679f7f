"""Fault matrix, end to end, for Coherent Research DCS (issue 9): HTTP JSON through a fault proxy.

Home Assistant runs a real entry against the DCS simulator; ``simulators.faultproxy`` sits on the
wire between them. The simulator's clock is frozen (an hour behind, as a server that publishes
late), so every reading it serves is fixed: the register
and virtual meter sensors are recorded during each fault and show the simulator's value or
``unavailable``, never another number (the cumulative registers are also checked against the
simulator's own totals). A reauthentication flow appears only for a changed password, no repair
issue for a transient fault, and the first poll after the fault clears shows the values again.

Faults:

- refused: proxy ``refuse()`` for three polls, then ``start()``: unavailable, back next poll.
- drop_mid_frame: the proxy cuts a response after its first bytes: aiohttp sends the GET again
  on a fresh connection, healed within the poll; the simulator cuts a streamed readings body
  mid-row: the poll fails (unavailable), the next one recovers.
- stall / half_open: bytes held, or the peer vanished without FIN: a timeout (short while the
  fault lasts), unavailable, back at the next poll.
- garbage: junk bytes before an HTTP response: unavailable, back at the next poll.
- bad_checksum: N/A - HTTP over TCP has no application checksum (TCP's own is checked by the
  kernel); the nearest equivalent, a malformed JSON body, is tested: unavailable, back.
- wrong_credentials: password changed on the server while sessions expire: reauth flow, no
  repair issue; back once the person has entered the new password.
- server_error: HTTP 500 on every request: unavailable, no repair issue, back at the next poll.
- device_reboot_changed_state: the server is down, and comes back on the same port having
  caught up an hour (two more half-hours, higher totals): the NEW totals after one poll.
- bridge_reboot: proxy ``restart()`` (every pooled connection reset): the next poll reads.

Commands: none - MeterLink only reads from DCS servers (the DCS API has no write used by it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.dcs.const import CONF_SERVER_ID, CONF_URL
from custom_components.meterlink.systems.dcs.runtime import DcsRuntime
from simulators.dcs import DcsSimulator
from simulators.dcs.model import SLOT_S
from simulators.faultproxy import FaultProxy

from .conftest import dcs_entry_data, dcs_entry_options
from .fault_rig import MeasuredRig

TIMEOUT = 0.2  # the client's request timeout while a stall or half-open fault lasts


@dataclass(kw_only=True)
class Rig(MeasuredRig):
    """A DCS entry loaded against the simulator through the fault proxy."""

    sim: DcsSimulator
    proxy: FaultProxy
    entry: MockConfigEntry
    clock: list[datetime]  # the simulator's (frozen) clock
    baseline: dict[str, float] = field(default_factory=dict)

    @property
    def runtime(self) -> DcsRuntime:
        runtime = self.entry.runtime_data
        assert isinstance(runtime, DcsRuntime)
        return runtime

    def totals(self) -> dict[str, float]:
        """The simulator's totals of the cumulative registers at the last complete half-hour."""
        end = datetime.fromtimestamp(math.floor(self.clock[0].timestamp() / SLOT_S) * SLOT_S, UTC)
        return {
            f"R{reg.id}": self.sim.register_total(reg.id, end, True)
            for meter in self.sim.meters[:2]
            for reg in meter.registers
            if not reg.is_instantaneous and "kWh" in reg.unit
        }

    async def poll(self) -> None:
        """One poll (time moves by the poll interval)."""
        seconds = self.runtime.coordinator.update_interval.total_seconds()  # type: ignore[union-attr]
        async_fire_time_changed(self.hass, dt_util.utcnow() + timedelta(seconds=seconds + 1))
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def refresh(self) -> None:
        await self.runtime.coordinator.async_refresh()
        await self.hass.async_block_till_done()

    def assert_current(self, expected: dict[str, float] | None = None) -> None:
        """Every sensor shows the simulator's value (the baseline unless told otherwise)."""
        values = {wire: float(state) for wire, state in self.states().items()}
        assert values == pytest.approx(expected or self.baseline)
        totals = self.totals()
        assert {wire: values[wire] for wire in totals} == pytest.approx(totals)


@contextlib.asynccontextmanager
async def rig(hass: HomeAssistant) -> AsyncIterator[Rig]:
    """Simulator, fault proxy, and an entry loaded through it (polls driven by the test)."""
    clock = [dt_util.utcnow().replace(microsecond=0) - timedelta(hours=1)]
    async with DcsSimulator(clock=lambda: clock[0]) as sim:
        proxy = await FaultProxy(sim.port).start()
        url = f"http://127.0.0.1:{proxy.port}"
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="DCS behind a fault proxy",
            data={**dcs_entry_data(sim), CONF_URL: url, CONF_SERVER_ID: url},
            options=dcs_entry_options(sim),
            unique_id=url,
        )
        entry.add_to_hass(hass)
        try:
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            assert entry.state is ConfigEntryState.LOADED
            test_rig = Rig(hass=hass, sim=sim, proxy=proxy, entry=entry, clock=clock)
            registry = er.async_get(hass)
            for wire in [*entry.options["registers"], *entry.options["virtual_meters"]]:
                entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{url}_{wire.lower()}")
                assert entity_id is not None, wire
                test_rig.ids[wire] = entity_id
            test_rig.baseline = {w: float(s) for w, s in test_rig.states().items()}
            test_rig.assert_current()  # the oracle agrees with the entities before any fault

            with test_rig.recording():
                yield test_rig
        finally:
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
            await proxy.stop()


async def fails_then_recovers(r: Rig) -> None:
    """The faulted poll left everything unavailable; the next poll brings the values back."""
    r.assert_unavailable()
    assert r.runtime.coordinator.last_error is not None
    r.no_action_needed()


async def test_refused(hass: HomeAssistant) -> None:
    async with rig(hass) as r:
        await r.proxy.refuse()
        for _ in range(3):
            await r.poll()
            await fails_then_recovers(r)
        assert "cannot connect" in str(r.runtime.coordinator.last_error)
        await r.proxy.start()
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)
        r.no_action_needed()


@pytest.mark.parametrize("where", ["proxy", "simulator"])
async def test_drop_mid_frame(hass: HomeAssistant, where: str) -> None:
    async with rig(hass) as r:
        if where == "proxy":
            connections = r.proxy.stats.connections
            r.proxy.drop_mid_frame(cut_at=20)  # inside the status line and headers
            await r.refresh()  # aiohttp sends the GET again on a new connection
            assert r.proxy.stats.cuts == 1
            assert r.proxy.stats.connections == connections + 1
            r.assert_current()
            return
        r.sim.faults.truncate_next = True  # a readings body cut mid-row, after the headers
        await r.refresh()
        await fails_then_recovers(r)
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)
        r.no_action_needed()


@pytest.mark.parametrize("mode", ["stall", "half_open"])
async def test_stall_and_half_open(hass: HomeAssistant, mode: str) -> None:
    async with rig(hass) as r:
        client = r.runtime.client
        normal, client.request_timeout = client.request_timeout, TIMEOUT
        r.proxy.set_mode(mode)  # type: ignore[arg-type]
        await r.refresh()
        await fails_then_recovers(r)
        assert "did not answer" in str(r.runtime.coordinator.last_error)
        r.proxy.set_mode("pass")
        client.request_timeout = normal
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)
        r.no_action_needed()


async def test_garbage(hass: HomeAssistant) -> None:
    async with rig(hass) as r:
        r.proxy.garbage_next()
        await r.refresh()
        await fails_then_recovers(r)
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)


async def test_bad_checksum(hass: HomeAssistant) -> None:
    """N/A for HTTP; the nearest equivalent: a corrupted (malformed JSON) body."""
    async with rig(hass) as r:
        r.sim.faults.malformed_next = True
        await r.refresh()
        await fails_then_recovers(r)
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)


async def test_wrong_credentials(hass: HomeAssistant) -> None:
    async with rig(hass) as r:
        r.sim.set_credentials(r.sim.username, "changed-by-the-admin")
        r.sim.expire_sessions()
        await r.refresh()
        r.assert_unavailable()
        flows = hass.config_entries.flow.async_progress()
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
        assert not [key for key in ir.async_get(hass).issues if key[0] == DOMAIN]
        result = await hass.config_entries.flow.async_configure(
            flows[0]["flow_id"],
            {"username": r.sim.username, "password": "changed-by-the-admin"},
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert r.entry.state is ConfigEntryState.LOADED
        r.assert_current()
        r.assert_honest(r.baseline)


async def test_server_error(hass: HomeAssistant) -> None:
    async with rig(hass) as r:
        r.sim.faults.fail_status = 500
        r.sim.faults.fail_500 = 1000
        await r.refresh()
        await fails_then_recovers(r)
        assert "500" in str(r.runtime.coordinator.last_error)
        r.sim.faults.fail_500 = 0
        await r.poll()
        r.assert_current()
        r.assert_honest(r.baseline)
        r.no_action_needed()


async def test_device_reboot_changed_state(
    hass: HomeAssistant,
) -> None:
    async with rig(hass) as r:
        before = r.totals()
        port = r.sim.port
        await r.sim.stop()
        await r.refresh()
        await fails_then_recovers(r)
        r.clock[0] += timedelta(hours=1)  # two more half-hours uploaded while it was down
        await r.sim.start(port=port)
        after = r.totals()
        assert all(after[wire] > before[wire] for wire in before)
        await r.poll()
        values = {wire: float(state) for wire, state in r.states().items()}
        assert {wire: values[wire] for wire in after} == pytest.approx(after)
        r.assert_honest(r.baseline, values)
        r.no_action_needed()


async def test_bridge_reboot(hass: HomeAssistant) -> None:
    async with rig(hass) as r:
        connections = r.proxy.stats.connections
        await r.proxy.restart()
        await r.poll()
        assert r.proxy.stats.connections > connections  # pooled connections were reset
        r.assert_current()
        r.assert_honest(r.baseline)
        r.no_action_needed()
