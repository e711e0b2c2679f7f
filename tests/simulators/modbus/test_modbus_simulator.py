"""The Modbus simulator, checked with pymodbus' own client (not ours)."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import sys
import time

from pymodbus.client import AsyncModbusTcpClient
import pytest

from custom_components.meterlink.protocols.modbus.client import UNIT_KEYWORD
from simulators.modbus.server import ExceptionRule, ModbusSimulator, crc16

ROOT = Path(__file__).resolve().parents[3]


def test_crc16_reference_vector():
    # Modbus over Serial Line V1.02, 6.2.2 example frame: 02 07 -> CRC 0x1241 (sent 41 12).
    assert crc16(bytes([0x02, 0x07])) == 0x1241


async def test_units_tables_latency_and_rules():
    async with ModbusSimulator(unit_ids=(1, 7)) as sim:
        await sim.set_values(7, "holding_register", 3, [11, 12])
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, reconnect_delay=0, retries=0)
        await client.connect()
        try:
            rr = await client.read_holding_registers(3, count=2, **{UNIT_KEYWORD: 7})
            assert rr.registers == [11, 12]
            rr = await client.read_holding_registers(3, count=2, **{UNIT_KEYWORD: 1})
            assert rr.registers == [0, 0]
            sim.faults.latency_s = 0.05
            started = time.monotonic()
            await client.read_coils(0, count=8, **{UNIT_KEYWORD: 1})
            assert time.monotonic() - started >= 0.05
            sim.faults.latency_s = 0
            sim.faults.exception_rules.append(
                ExceptionRule(unit_id=1, table="input_register", start=10, end=20, code=6)
            )
            rr = await client.read_input_registers(5, count=6, **{UNIT_KEYWORD: 1})
            assert rr.isError()
            assert rr.exception_code == 6
            rr = await client.read_input_registers(5, count=5, **{UNIT_KEYWORD: 1})
            assert not rr.isError()
            rr = await client.read_holding_registers(10, count=1, **{UNIT_KEYWORD: 1})
            assert not rr.isError()
            await client.write_register(9, 77, **{UNIT_KEYWORD: 7})
            assert await sim.get_values(7, "holding_register", 9) == [77]
            rr = await client.read_holding_registers(sim.size, count=1, **{UNIT_KEYWORD: 7})
            assert rr.isError()
            assert rr.exception_code == 2
            assert sim.requests == {1: 5, 7: 3}
        finally:
            client.close()


async def test_ticker_changes_values_and_stops_cleanly():
    sim = ModbusSimulator(unit_ids=(1,), change_interval_s=0.01)
    await sim.start()
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                sim.ticked.clear()
                await sim.ticked.wait()
        values = await sim.get_values(1, "input_register", 0, 2)
        assert values != [0, 0]
    finally:
        await sim.stop()


async def test_module_prints_one_line_and_serves():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.modbus",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--units",
        "4",
        "--change-interval",
        "0",
        "--size",
        "40200",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        match = re.fullmatch(
            r"Modbus simulator \(Modbus TCP\) listening on 127\.0\.0\.1:(\d+) \(units 4\)\n", line
        )
        assert match, line
        client = AsyncModbusTcpClient("127.0.0.1", port=int(match[1]), reconnect_delay=0)
        await client.connect()
        rr = await client.read_holding_registers(0, count=1, **{UNIT_KEYWORD: 4})
        high = await client.read_holding_registers(40100, count=4, **{UNIT_KEYWORD: 4})
        client.close()
        assert rr.registers == [0]
        assert high.registers == [0, 0, 0, 0]  # --size reaches the E3/DC register map
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.parametrize("rtu", [False, True])
async def test_junk_request_closes_connection(rtu):
    async with ModbusSimulator(unit_ids=(1,), rtu=rtu) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.write(
            b"\x00\x01\x12\x34\x00\x06\x01\x03\x00\x00\x00\x01"
            if not rtu
            else b"\x01\x63" + b"\0" * 6
        )
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()


async def test_counts_applied_writes_only():
    async with ModbusSimulator(unit_ids=(1,)) as sim:
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, reconnect_delay=0, retries=0)
        await client.connect()
        try:
            await client.read_holding_registers(0, count=2, **{UNIT_KEYWORD: 1})
            await client.write_register(4, 5, **{UNIT_KEYWORD: 1})
            await client.write_coil(2, True, **{UNIT_KEYWORD: 1})
            assert sim.writes_applied == 2
            rr = await client.write_register(sim.size, 1, **{UNIT_KEYWORD: 1})  # out of range
            assert rr.isError()
            sim.faults.exception_rules.append(ExceptionRule(start=0, end=10, code=4))
            rr = await client.write_register(3, 1, **{UNIT_KEYWORD: 1})  # refused by the front
            assert rr.isError()
            assert sim.writes_applied == 2
        finally:
            client.close()
