"""The IEC 104 simulator, checked with c104's own client (not ours) and as a module."""

import asyncio
from pathlib import Path
import re
import sys

import c104

from simulators.iec104.server import EXTRA_IOA, Iec104Simulator

ROOT = Path(__file__).resolve().parents[3]


async def test_c104_client_interrogates_and_commands():
    loop = asyncio.get_running_loop()
    opened = asyncio.Event()
    muted = asyncio.Event()
    async with Iec104Simulator(common_address=3) as sim:
        client = c104.Client(tick_rate_ms=50, command_timeout_ms=2000)
        connection = client.add_connection(ip="127.0.0.1", port=sim.port, init=c104.Init.ALL)
        assert connection is not None

        def on_state(connection: c104.Connection, state: c104.ConnectionState) -> None:
            if state == c104.ConnectionState.OPEN:
                loop.call_soon_threadsafe(opened.set)
            elif state == c104.ConnectionState.OPEN_MUTED:
                loop.call_soon_threadsafe(muted.set)

        connection.on_state_change(callable=on_state)
        station = connection.add_station(common_address=3)
        assert station is not None
        measured = station.add_point(io_address=11, type=c104.Type.M_ME_NC_1)
        command = station.add_point(io_address=101, type=c104.Type.C_SC_NA_1)
        assert measured is not None
        assert command is not None
        client.start()
        try:
            # start() connects by itself; an extra connect() races with it (seen muted).
            async with asyncio.timeout(10):
                await muted.wait()
            # c104's client now and then stays muted after connecting (its STARTDT is not
            # sent); unmute() sends STARTDT act explicitly.
            if not opened.is_set():
                await asyncio.to_thread(connection.unmute)
            async with asyncio.timeout(10):
                await opened.wait()
            assert await asyncio.to_thread(connection.interrogation, 3)
            assert measured.value == 21.5
            command.value = True
            assert await asyncio.to_thread(command.transmit, c104.Cot.ACTIVATION)
            assert [(c.ioa, c.value) for c in sim.faults.commands] == [(101, True)]
            assert sim.value(21) is True
        finally:
            await asyncio.to_thread(client.stop)


async def test_module_prints_one_line():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.iec104",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--change-interval",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        match = re.fullmatch(
            r"IEC 104 simulator \(c104 outstation, common address 1\) listening on "
            r"127\.0\.0\.1:(\d+)\n",
            line,
        )
        assert match, line
        reader, writer = await asyncio.open_connection("127.0.0.1", int(match[1]))
        writer.write(bytes.fromhex("680407000000"))  # STARTDT act
        async with asyncio.timeout(10):
            assert await reader.readexactly(6) == bytes.fromhex("68040b000000")
        writer.close()
    finally:
        proc.terminate()
        await proc.wait()


async def test_ticker_sends_changes():
    sim = Iec104Simulator(change_interval_s=0.01)
    await sim.start()
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                sim.ticked.clear()
                await sim.ticked.wait()
        assert sim.value(11) >= 23.5
    finally:
        await sim.stop()


async def test_extra_points_are_short_floats_after_the_fixed_ones():
    async with Iec104Simulator(extra_points=3) as sim:
        assert [sim.value(EXTRA_IOA + n) for n in range(3)] == [0.0, 0.0, 0.0]
        sim.set_value(EXTRA_IOA + 2, 12.5)
        assert sim.value(EXTRA_IOA + 2) == 12.5
        assert sim.value(11) == 21.5  # the fixed points are still there
