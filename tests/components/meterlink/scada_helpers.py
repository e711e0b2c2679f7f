"""Helpers of the SCADA Home Assistant tests: simulators and the entries a flow would create."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import contextlib
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.systems.scada.runtime import CLIENT_TIMING
from simulators.iec104.server import Iec104Simulator
from simulators.modbus.server import ModbusSimulator

FAST_TIMING = {
    "timeout_s": 2.0,
    "reconnect_delay_s": 0.01,
    "reconnect_delay_max_s": 0.02,
    "t0_s": 2.0,
    "t1_s": 1.5,
    "t2_s": 0.2,
    "t3_s": 5.0,
    "first_connect_s": 6.0,
}

MODBUS_ITEMS: list[dict[str, Any]] = [
    {
        "key": "energy",
        "name": "Energy",
        "table": "input_register",
        "address": 0,
        "data_type": "uint32",
        "scale": 0.001,
        "precision": 3,
        "unit": "kWh",
        "device_class": "energy",
        "state_class": "total_increasing",
    },
    {
        "key": "power",
        "name": "Power",
        "table": "input_register",
        "address": 2,
        "data_type": "int16",
        "unit": "W",
        "device_class": "power",
        "state_class": "measurement",
        "min": -5000,
        "max": 5000,
    },
    {
        "key": "setpoint",
        "name": "Set-point",
        "table": "holding_register",
        "address": 10,
        "data_type": "uint16",
        "writable": True,
        "unit": "W",
        "min": 0,
        "max": 10000,
    },
    {
        "key": "relay",
        "name": "Relay",
        "table": "coil",
        "address": 0,
        "data_type": "bit",
        "writable": True,
    },
    {
        "key": "alarm",
        "name": "Alarm",
        "table": "discrete_input",
        "address": 0,
        "data_type": "bit",
        "device_class": "problem",
    },
    {
        "key": "serial",
        "name": "Serial number",
        "table": "holding_register",
        "address": 20,
        "data_type": "string",
        "count": 4,
    },
    {
        "key": "double_power",
        "name": "Double power",
        "formula": "{{ items.power * 2 }}",
        "unit": "W",
    },
]

IEC104_ITEMS: list[dict[str, Any]] = [
    {
        "key": "power",
        "name": "Power",
        "ioa": 11,
        "type": "float",
        "unit": "kW",
        "device_class": "power",
    },
    {"key": "alarm", "name": "Alarm", "ioa": 21, "type": "single", "device_class": "problem"},
    {"key": "breaker", "name": "Breaker", "ioa": 22, "type": "double"},
    {"key": "energy", "name": "Energy", "ioa": 31, "type": "counter", "unit": "kWh"},
    {"key": "relay", "name": "Relay", "ioa": 101, "type": "single_command"},
    {
        "key": "breaker_cmd",
        "name": "Breaker command",
        "ioa": 103,
        "type": "double_command",
        "select_before_operate": True,
    },
    {"key": "limit", "name": "Power limit", "ioa": 111, "type": "setpoint_float", "unit": "kW"},
    {"key": "refusing", "name": "Refusing command", "ioa": 120, "type": "single_command"},
]


@contextlib.contextmanager
def fast_timing() -> Iterator[None]:
    """Short timeouts and reconnect delays for loopback simulators."""
    with patch.dict(CLIENT_TIMING, FAST_TIMING):
        yield


async def fill_modbus(sim: ModbusSimulator) -> None:
    """Values of unit 1 the MODBUS_ITEMS read."""
    await sim.set_values(1, "input_register", 0, [0, 12345, 500])
    await sim.set_values(1, "holding_register", 10, [42])
    await sim.set_values(1, "holding_register", 20, [0x5349, 0x4D31, 0, 0])  # "SIM1"
    await sim.set_values(1, "discrete_input", 0, [True])


@contextlib.asynccontextmanager
async def modbus_simulator(**kwargs: Any) -> AsyncIterator[ModbusSimulator]:
    """A filled Modbus simulator on a free loopback port."""
    async with ModbusSimulator(**kwargs) as sim:
        await fill_modbus(sim)
        yield sim


@contextlib.asynccontextmanager
async def iec104_simulator(**kwargs: Any) -> AsyncIterator[Iec104Simulator]:
    """An IEC 104 simulator on a free loopback port."""
    async with Iec104Simulator(**kwargs) as sim:
        yield sim


def term(number: int, items: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """Subentry data of a term."""
    title = name or f"Unit {number}"
    return {
        "data": {"term": number, "name": title, "items": items},
        "subentry_id": f"term{number}",
        "subentry_type": "scada_term",
        "title": title,
        "unique_id": str(number),
    }


def scada_entry(
    hass: HomeAssistant,
    port: int,
    *,
    protocol: str = "modbus_tcp",
    terms: list[dict[str, Any]] | None = None,
    entry_id: str | None = None,
    **options: Any,
) -> MockConfigEntry:
    """A SCADA entry (added, not set up) for a simulator on 127.0.0.1."""
    data: dict[str, Any] = {CONF_SYSTEM: "scada", "protocol": protocol}
    if protocol == "modbus_rtu_serial":
        data |= {
            "serial_port": f"socket://127.0.0.1:{port}",
            "baudrate": 9600,
            "bytesize": 8,
            "parity": "N",
            "stopbits": 1,
        }
        unique = f"{protocol}:socket://127.0.0.1:{port}"
    else:
        data |= {"host": "127.0.0.1", "port": port}
        unique = f"{protocol}:127.0.0.1:{port}"
    extra = {"entry_id": entry_id} if entry_id else {}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"SCADA test {protocol}",
        data=data,
        options={
            CONF_SCAN_INTERVAL: 30,
            "max_registers": 125,
            "max_gap": 10,
            CONF_CAPTURE_FRAMES: False,
        }
        | options,
        unique_id=unique,
        subentries_data=terms if terms is not None else [term(1, MODBUS_ITEMS, "Meter 1")],
        **extra,
    )
    entry.add_to_hass(hass)
    return entry


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload an entry if it is loaded."""
    if entry.state is ConfigEntryState.LOADED:
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
