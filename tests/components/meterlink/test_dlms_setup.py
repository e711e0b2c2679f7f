"""Setting up DLMS entries against the simulators: devices, sensors, relay, faults, counter."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from unittest.mock import patch

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.dlms.push import PushFraming
from custom_components.meterlink.systems.dlms.runtime import DlmsRuntime
from simulators.dlms.han import HanList
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, SimTransport

from .conftest import setup_entry
from .dlms_helpers import (
    AK,
    EK,
    HAN_METER_ID,
    NOW,
    PASSWORD,
    SERIAL,
    add_entry,
    listen_data,
    meter_sim,
    polled_data,
    polled_options,
    push_sim,
    pushing,
)

RUNTIME = "custom_components.meterlink.systems.dlms.runtime"


def entity(registry: er.EntityRegistry, platform: str, unique_id: str) -> str:
    entity_id = registry.async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def state(hass: HomeAssistant, entity_id: str) -> Any:
    current = hass.states.get(entity_id)
    assert current is not None
    return current


async def test_polled_meter_sensors_and_device(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        device = device_registry.async_get_device({(DOMAIN, SERIAL)})
        assert device is not None
        assert device.serial_number == SERIAL

        energy = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_1.0.1.8.0.255"))
        assert energy.attributes["device_class"] == "energy"
        assert energy.attributes["state_class"] == "total_increasing"
        assert energy.attributes["unit_of_measurement"] == "kWh"  # suggested unit
        assert float(energy.state) == pytest.approx(
            sim.meter.physical_value("1.0.1.8.0.255") / 1000, rel=1e-6
        )
        voltage = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_1.0.32.7.0.255"))
        assert voltage.attributes["device_class"] == "voltage"
        assert voltage.attributes["state_class"] == "measurement"
        assert float(voltage.state) == pytest.approx(sim.meter.physical_value("1.0.32.7.0.255"))
        reactive = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_1.0.3.8.0.255"))
        assert reactive.attributes["unit_of_measurement"] == "varh"
        assert reactive.attributes["state_class"] == "total_increasing"
        pf = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_1.0.13.7.0.255"))
        assert pf.attributes["device_class"] == "power_factor"
        assert float(pf.state) == pytest.approx(0.97)
        relay = state(hass, entity(entity_registry, "switch", f"{SERIAL}_0.0.96.3.10.255"))
        assert relay.state == STATE_ON
        last = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_last_read"))
        assert last.state != STATE_UNAVAILABLE

        # all registers and the relay in one GET-with-list request
        runtime = entry.runtime_data
        assert isinstance(runtime, DlmsRuntime)
        assert runtime.client is not None
        before = runtime.client.round_trips
        await runtime.coordinator.async_refresh()
        assert runtime.client.round_trips - before == 1
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_relay_switch_is_confirmed(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        relay = entity(entity_registry, "switch", f"{SERIAL}_0.0.96.3.10.255")
        await hass.services.async_call(
            SWITCH_DOMAIN, "turn_off", {ATTR_ENTITY_ID: relay}, blocking=True
        )
        assert sim.meter.output_state is False
        assert state(hass, relay).state == STATE_OFF
        await hass.services.async_call(
            SWITCH_DOMAIN, "turn_on", {ATTR_ENTITY_ID: relay}, blocking=True
        )
        assert sim.meter.output_state is True
        assert state(hass, relay).state == STATE_ON
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_no_switch_without_disconnect_control(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options(disconnect_control=False))
        await setup_entry(hass, entry)
        assert (
            entity_registry.async_get_entity_id("switch", DOMAIN, f"{SERIAL}_0.0.96.3.10.255")
            is None
        )
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_stalled_meter_goes_unavailable_and_recovers(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with meter_sim() as sim:
        with patch(f"{RUNTIME}.REQUEST_TIMEOUT", 0.2):
            entry = add_entry(hass, polled_data(sim), polled_options())
            await setup_entry(hass, entry)
        runtime = entry.runtime_data
        energy = entity(entity_registry, "sensor", f"{SERIAL}_1.0.1.8.0.255")
        relay = entity(entity_registry, "switch", f"{SERIAL}_0.0.96.3.10.255")
        last = entity(entity_registry, "sensor", f"{SERIAL}_last_read")
        sim.faults.stall = True
        await runtime.coordinator.async_refresh()
        await hass.async_block_till_done()
        assert state(hass, energy).state == STATE_UNAVAILABLE
        assert state(hass, relay).state == STATE_UNAVAILABLE
        assert state(hass, last).state != STATE_UNAVAILABLE  # tells when reads stopped
        assert runtime.coordinator.update_interval.total_seconds() == 15  # quick retry
        sim.faults.stall = False
        await runtime.coordinator.async_refresh()
        await hass.async_block_till_done()
        assert state(hass, energy).state != STATE_UNAVAILABLE
        assert state(hass, relay).state == STATE_ON
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_meter_drop_reconnects(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        connections = sim.stats.connections
        await sim.drop_connections()
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done()
        assert entry.runtime_data.coordinator.last_update_success
        assert sim.stats.connections == connections + 1
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_wrong_password_starts_reauth(hass: HomeAssistant) -> None:
    async with meter_sim(password=PASSWORD) as sim:
        entry = add_entry(hass, polled_data(sim, password="wrong"), polled_options())
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
        flow_id = flows[0]["flow_id"]
        result = await hass.config_entries.flow.async_configure(flow_id, {"password": "bad"})
        assert result["errors"] == {"password": "dlms_invalid_password"}
        result = await hass.config_entries.flow.async_configure(flow_id, {"password": PASSWORD})
        assert result["reason"] == "dlms_reauth_successful"
        await hass.async_block_till_done()
        assert entry.data["password"] == PASSWORD
        assert entry.state is ConfigEntryState.LOADED
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_invocation_counter_survives_restart(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    async with meter_sim(hls=True) as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        await setup_entry(hass, entry)
        runtime = entry.runtime_data
        assert runtime.client is not None
        await runtime.coordinator.async_refresh()
        used = runtime.client.invocation_counter
        assert used > 0
        assert await hass.config_entries.async_unload(entry.entry_id)
        stored = hass_storage[f"{DOMAIN}.dlms_counter.{entry.entry_id}"]["data"]["counter"]
        assert stored == used
        connections = sim.stats.connections
        await setup_entry(hass, entry)
        runtime = entry.runtime_data
        assert runtime.client is not None
        assert runtime.client.invocation_counter > used
        # continued from the stored counter: no public-client resynchronisation was needed
        assert sim.stats.connections == connections + 1
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_listen_meter_updates_on_every_push(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    async with push_sim(ciphered=True) as sim:
        data = listen_data(sim)
        entry = add_entry(hass, data, {"registers": data["registers"], "capture_frames": True})
        async with pushing(sim):
            await setup_entry(hass, entry)
            assert entry.state is ConfigEntryState.LOADED
            device = device_registry.async_get_device({(DOMAIN, HAN_METER_ID)})
            assert device is not None
            assert device.manufacturer == "Aidon"
            assert "AIDON_V0001" in (device.model or "")
            power = state(hass, entity(entity_registry, "sensor", f"{HAN_METER_ID}_1.0.1.7.0.255"))
            assert power.attributes["device_class"] == "power"
            assert float(power.state) == pytest.approx(
                sim.meter.physical_value("1.0.1.7.0.255"), abs=1
            )
            runtime = entry.runtime_data
            assert runtime.capture.frames  # capture_frames on: the pushes are kept
            assert await hass.config_entries.async_unload(entry.entry_id)


async def test_listen_meter_stall_and_wrong_keys(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    async with push_sim(ciphered=True) as sim:
        data = listen_data(sim)
        entry = add_entry(hass, data, {"registers": data["registers"], "capture_frames": False})
        with patch(f"{RUNTIME}.PUSH_TIMEOUT", 0.3), patch(f"{RUNTIME}.PUSH_RETRY_S", 0.01):
            async with pushing(sim):
                await setup_entry(hass, entry)
                runtime = entry.runtime_data
                power = entity(entity_registry, "sensor", f"{HAN_METER_ID}_1.0.1.7.0.255")
                assert state(hass, power).state != STATE_UNAVAILABLE
                failed = asyncio.Event()

                def on_update() -> None:
                    if not runtime.coordinator.last_update_success:
                        failed.set()

                remove = runtime.coordinator.async_add_listener(on_update)
                sim.faults.stall = True
                async with asyncio.timeout(5):
                    await failed.wait()
                remove()
                assert state(hass, power).state == STATE_UNAVAILABLE
                assert runtime.coordinator.update_interval is None  # push meters: no polling
                sim.faults.stall = False
                sim.faults.wrong_keys = True
                # the listener stops on a decipher failure and the coordinator starts reauth
                assert runtime.listen_task is not None
                async with asyncio.timeout(5):
                    await asyncio.shield(runtime.listen_task)
                await hass.async_block_till_done()
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert flows[0]["context"]["source"] == SOURCE_REAUTH
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_redact_secrets(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    async with meter_sim(hls=True) as sim:
        entry = add_entry(hass, polled_data(sim), polled_options(capture_frames=True))
        await setup_entry(hass, entry)
        diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = repr(diagnostics)
        assert EK.hex() not in text
        assert AK.hex() not in text
        assert diagnostics["entry"]["data"]["block_cipher_key"] == "**REDACTED**"
        assert diagnostics["entry"]["data"]["authentication_key"] == "**REDACTED**"
        assert diagnostics["device"]["identity"]["0.0.96.1.0.255"] == SERIAL
        assert diagnostics["device"]["readings"]["1.0.1.8.0.255"]["unit"] == "Wh"
        assert diagnostics["frames"]["frames"]
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("han_list", "framing", "ab"),
    [(HanList.KAMSTRUP, PushFraming.MBUS, "1.1"), (HanList.KAIFA, PushFraming.HDLC, "1.0")],
)
async def test_listen_flow_and_setup_for_other_lists(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    han_list: HanList,
    framing: PushFraming,
    ab: str,
) -> None:
    """Lists without scaler/unit objects still get units and classes from the OBIS codes."""
    async with push_sim(han_list=han_list, framing=framing) as sim:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "dlms"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "dlms_listen"}
        )
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"source": f"127.0.0.1:{sim.port}", "framing": framing.value}
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            entry = result["result"]
            await hass.async_block_till_done()
            assert entry.state is ConfigEntryState.LOADED
            meter_id = entry.unique_id
            energy = state(hass, entity(entity_registry, "sensor", f"{meter_id}_{ab}.1.8.0.255"))
            assert energy.attributes["device_class"] == "energy"
            assert energy.attributes["state_class"] == "total_increasing"
            assert float(energy.state) == pytest.approx(
                sim.meter.physical_value("1.0.1.8.0.255") / 1000, rel=1e-3
            )
            voltage = state(hass, entity(entity_registry, "sensor", f"{meter_id}_{ab}.32.7.0.255"))
            assert voltage.attributes["unit_of_measurement"] == "V"
            assert float(voltage.state) == pytest.approx(
                sim.meter.physical_value("1.0.32.7.0.255"), abs=1
            )
            assert await hass.config_entries.async_unload(entry.entry_id)


async def test_wrong_key_at_setup_names_the_key(hass: HomeAssistant) -> None:
    async with meter_sim(hls=True) as sim:
        entry = add_entry(hass, polled_data(sim, block_cipher_key="44" * 16), polled_options())
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert "block_cipher_key" in (entry.reason or "")
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize("transport", ["hdlc_serial", "optical"])
async def test_serial_and_optical_meter_on_a_pty(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, transport: str
) -> None:
    """The whole flow and a poll over a serial port (a pty), with the mode E handshake."""
    simulator = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW), transport=SimTransport.HDLC)
    master, slave = os.openpty()
    serving = asyncio.create_task(simulator.serve_serial(master, mode_e=transport == "optical"))
    try:
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        for step in ("dlms", "dlms_polled"):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"next_step_id": step}
            )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"vendor": "generic", "transport": transport}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "serial_port": os.ttyname(slave),
                "baudrate": 9600,
                "client_address": 16,
                "server_logical": 1,
                "authentication": "none",
            },
        )
        assert result["step_id"] == "dlms_registers"
        # the simulator answers the mode E sign-on once per session: start a new session, as
        # a meter's optical port falls back to mode E after the flow's disconnect
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        serving = asyncio.create_task(simulator.serve_serial(master, mode_e=transport == "optical"))
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"registers": ["1.0.1.8.0.255"]}
        )
        entry = result["result"]
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        energy = state(hass, entity(entity_registry, "sensor", f"{SERIAL}_1.0.1.8.0.255"))
        assert float(energy.state) == pytest.approx(
            simulator.meter.physical_value("1.0.1.8.0.255") / 1000
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        os.close(slave)
        os.close(master)


async def test_listen_meter_on_a_serial_port(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """A HAN port on a serial adapter (a pty here): pushes reach the sensors."""
    async with push_sim() as sim:
        master, slave = os.openpty()
        sim.attach_pty(master)
        try:
            # a pty takes no parity setting; real HAN adapters run 8E1 or 8N1
            data = listen_data(sim, source=os.ttyname(slave), parity="N")
            entry = add_entry(hass, data, {"registers": data["registers"], "capture_frames": False})
            async with pushing(sim):
                await setup_entry(hass, entry)
                assert entry.state is ConfigEntryState.LOADED
                power = state(
                    hass, entity(entity_registry, "sensor", f"{HAN_METER_ID}_1.0.1.7.0.255")
                )
                assert float(power.state) == pytest.approx(
                    sim.meter.physical_value("1.0.1.7.0.255"), abs=1
                )
                assert await hass.config_entries.async_unload(entry.entry_id)
        finally:
            os.close(slave)
            os.close(master)
