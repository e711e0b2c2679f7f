"""Every step and error branch of the SCADA config, reconfigure and options flows."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.helpers import SerialPortOption

from .scada_helpers import (
    fast_timing,
    iec104_simulator,
    modbus_simulator,
    scada_entry,
)

PORTS = "custom_components.meterlink.systems.scada.flow.async_list_serial_ports"


@pytest.fixture(autouse=True)
def _fast() -> None:
    with fast_timing():
        yield


async def start(hass: HomeAssistant, step: str) -> dict:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "scada" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "scada"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "scada_modbus_tcp",
        "scada_modbus_rtu_over_tcp",
        "scada_modbus_rtu_serial",
        "scada_iec104",
    ]
    with patch(PORTS, return_value=[SerialPortOption(path="/dev/ttyUSB0", device="/dev/ttyUSB0")]):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return result


async def test_modbus_tcp_flow_and_errors(hass: HomeAssistant) -> None:
    async with modbus_simulator() as sim:
        result = await start(hass, "scada_modbus_tcp")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "bad host", "port": sim.port}
        )
        assert result["errors"] == {"host": "invalid_host"}
        async with modbus_simulator() as gone:
            closed = gone.port
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": closed}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        assert str(closed) in result["description_placeholders"]["error"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": sim.port}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == f"Modbus TCP 127.0.0.1:{sim.port}"
        assert result["data"] == {
            "system": "scada",
            "protocol": "modbus_tcp",
            "host": "127.0.0.1",
            "port": sim.port,
        }
        assert result["options"]["scan_interval"] == 30
        assert result["result"].unique_id == f"modbus_tcp:127.0.0.1:{sim.port}"
        # the same endpoint again
        result = await start(hass, "scada_modbus_tcp")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": sim.port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"


async def test_rtu_over_tcp_and_serial_flows(hass: HomeAssistant) -> None:
    async with modbus_simulator(rtu=True) as sim:
        result = await start(hass, "scada_modbus_rtu_over_tcp")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": sim.port}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["protocol"] == "modbus_rtu_over_tcp"
        result = await start(hass, "scada_modbus_rtu_serial")
        assert result["data_schema"].schema["serial_port"].config["options"] == [
            {"value": "/dev/ttyUSB0", "label": "/dev/ttyUSB0"}
        ]
        settings = {"baudrate": "19200", "bytesize": "8", "parity": "E", "stopbits": "1"}
        with patch(PORTS, return_value=[]):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"serial_port": "not a port", **settings}
            )
            assert result["errors"] == {"serial_port": "invalid_port"}
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"serial_port": f"127.0.0.1:{sim.port}", **settings}
            )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == f"Modbus RTU 127.0.0.1:{sim.port}"
        assert result["data"] == {
            "system": "scada",
            "protocol": "modbus_rtu_serial",
            "serial_port": f"socket://127.0.0.1:{sim.port}",
            "baudrate": 19200,
            "bytesize": 8,
            "parity": "E",
            "stopbits": 1,
        }


async def test_iec104_flow_and_errors(hass: HomeAssistant) -> None:
    async def junk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x01not iec 104")
        await writer.drain()
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(junk, "127.0.0.1", 0)
    junk_port = server.sockets[0].getsockname()[1]
    try:
        async with iec104_simulator() as sim:
            result = await start(hass, "scada_iec104")
            assert result["data_schema"]({"host": "x"})["port"] == 2404
            flow_id = result["flow_id"]
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"host": "127.0.0.1", "port": junk_port}
            )
            assert result["errors"] == {"base": "scada_bad_answer"}
            sim.faults.stall = True  # STARTDT act is never confirmed
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"host": "127.0.0.1", "port": sim.port}
            )
            assert result["errors"] == {"base": "timeout"}
            sim.faults.stall = False
            await sim.drop_connections()
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"host": "127.0.0.1", "port": sim.port}
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            assert result["title"] == f"IEC 104 127.0.0.1:{sim.port}"
            assert result["options"]["scan_interval"] == 900
    finally:
        server.close()
        await server.wait_closed()


async def test_reconfigure_tcp(hass: HomeAssistant) -> None:
    async with modbus_simulator() as sim, modbus_simulator() as other:
        entry = scada_entry(hass, sim.port, terms=[])
        taken = scada_entry(hass, other.port, terms=[])
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "scada_reconfigure_tcp"
        async with modbus_simulator() as gone:
            closed = gone.port
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": closed}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": other.port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        await hass.config_entries.async_remove(taken.entry_id)
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": other.port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["port"] == other.port
        assert entry.unique_id == f"modbus_tcp:127.0.0.1:{other.port}"
        await hass.async_block_till_done()
        await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_serial(hass: HomeAssistant) -> None:
    async with modbus_simulator(rtu=True) as sim, modbus_simulator(rtu=True) as other:
        entry = scada_entry(hass, sim.port, protocol="modbus_rtu_serial", terms=[])
        with patch(PORTS, return_value=[]):
            result = await entry.start_reconfigure_flow(hass)
            assert result["step_id"] == "scada_reconfigure_serial"
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"],
                {
                    "serial_port": f"socket://127.0.0.1:{other.port}",
                    "baudrate": "9600",
                    "bytesize": "8",
                    "parity": "N",
                    "stopbits": "2",
                },
            )
        assert result["reason"] == "reconfigure_successful"
        assert entry.data["serial_port"] == f"socket://127.0.0.1:{other.port}"
        assert entry.data["stopbits"] == 2
        await hass.async_block_till_done()
        await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow(hass: HomeAssistant) -> None:
    async with modbus_simulator() as sim:
        entry = scada_entry(hass, sim.port, terms=[])
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["step_id"] == "scada_options"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"scan_interval": 5, "max_registers": 60, "max_gap": 0, "capture_frames": True},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert dict(entry.options) == {
            "scan_interval": 5,
            "max_registers": 60,
            "max_gap": 0,
            "capture_frames": True,
        }
