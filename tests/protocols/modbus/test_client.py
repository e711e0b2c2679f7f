"""ModbusClient and ModbusPoller against the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
import shutil
from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.modbus.client import (
    ModbusClient,
    ModbusPoller,
    ModbusTransport,
)
from custom_components.meterlink.protocols.modbus.errors import (
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionResponseError,
    ModbusProtocolError,
    ModbusTimeoutError,
    ModbusValueError,
    ModbusWriteUnconfirmedError,
    ModbusWriteVerifyError,
)
from custom_components.meterlink.protocols.modbus.models import (
    ByteOrder,
    DataType,
    ModbusPoint,
    Table,
    WordOrder,
)
from custom_components.meterlink.protocols.modbus.planner import PlanLimits, plan_reads
from custom_components.meterlink.protocols.modbus.pointlist import parse_point_list_csv
from simulators.faultproxy import FaultProxy
from simulators.modbus.server import ExceptionRule, ModbusSimulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def sim() -> AsyncIterator[ModbusSimulator]:
    async with ModbusSimulator(unit_ids=(1, 2, 3)) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: ModbusSimulator) -> AsyncIterator[ModbusClient]:
    c = ModbusClient(host="127.0.0.1", port=sim.port, timeout_s=0.5)
    yield c
    await c.close()


def hr(key: str, address: int, data_type: DataType = DataType.UINT16, **kw: object) -> ModbusPoint:
    fields: dict[str, object] = {
        "key": key,
        "unit_id": 1,
        "table": Table.HOLDING_REGISTER,
        "address": address,
        "data_type": data_type,
    }
    fields.update(kw)
    return ModbusPoint(**fields)  # type: ignore[arg-type]


async def test_read_plan_across_units_and_tables(sim, client):
    await sim.set_values(1, "holding_register", 10, [0x42F7, 0x0000, 0xFFFF])
    await sim.set_values(2, "input_register", 0, [0x0000, 0x0001, 0x4142])
    await sim.set_values(3, "coil", 5, [True, False, True])
    await sim.set_values(3, "discrete_input", 0, [True])
    points = [
        hr("f", 10, DataType.FLOAT32),
        hr("i", 12, DataType.INT16),
        hr("u", 12, DataType.UINT16),
        ModbusPoint(
            key="cnt",
            unit_id=2,
            table=Table.INPUT_REGISTER,
            address=0,
            data_type=DataType.UINT32,
            word_order=WordOrder.LITTLE,
        ),
        ModbusPoint(
            key="txt",
            unit_id=2,
            table=Table.INPUT_REGISTER,
            address=2,
            data_type=DataType.STRING,
            count=1,
        ),
        ModbusPoint(key="c5", unit_id=3, table=Table.COIL, address=5, data_type=DataType.BIT),
        ModbusPoint(key="c7", unit_id=3, table=Table.COIL, address=7, data_type=DataType.BIT),
        ModbusPoint(
            key="d0", unit_id=3, table=Table.DISCRETE_INPUT, address=0, data_type=DataType.BIT
        ),
    ]
    limits = PlanLimits(max_gap_bits=8)
    result = await client.read_points(points, limits)
    assert result.errors == {}
    assert result.values == {
        "f": 123.5,
        "i": -1,
        "u": 65535,
        "cnt": 0x00010000,
        "txt": "AB",
        "c5": True,
        "c7": True,
        "d0": True,
    }
    assert result.requests == len(plan_reads(points, limits)) == 4
    assert sum(sim.requests.values()) == 4


@pytest.mark.parametrize(
    ("data_type", "value", "extra"),
    [
        (DataType.INT16, -1234, {}),
        (DataType.UINT16, 60000, {}),
        (DataType.INT32, -70000, {"word_order": WordOrder.LITTLE}),
        (DataType.UINT32, 4_000_000_000, {"byte_order": ByteOrder.LITTLE}),
        (DataType.INT64, -(2**40), {}),
        (DataType.UINT64, 2**63, {"word_order": WordOrder.LITTLE, "byte_order": ByteOrder.LITTLE}),
        (DataType.FLOAT32, 21.5, {}),
        (DataType.FLOAT64, -0.1, {"word_order": WordOrder.LITTLE}),
        (DataType.STRING, "MeterLink", {"count": 5}),
        (DataType.INT16, 23.4, {"scale": 0.1, "precision": 1}),
    ],
)
async def test_write_and_read_back_every_type(sim, client, data_type, value, extra):
    point = hr("w", 100, data_type, unit_id=2, **extra)
    assert await client.write_point(point, value) == value
    assert await client.read_point(point) == value
    raw = await sim.get_values(2, "holding_register", 100, point.register_count)
    assert any(raw)


async def test_write_single_register_with_fc16_and_coil_and_bit(sim, client):
    assert await client.write_point(hr("r", 5), 7, multiple=True) == 7
    assert await sim.get_values(1, "holding_register", 5) == [7]
    coil = ModbusPoint(key="c", unit_id=3, table=Table.COIL, address=9, data_type=DataType.BIT)
    assert await client.write_point(coil, True) is True
    assert await sim.get_values(3, "coil", 9) == [True]
    await sim.set_values(1, "holding_register", 6, [0xF000])
    assert await client.write_point(hr("b", 6, DataType.BIT, bit=1), 1) is True
    assert await sim.get_values(1, "holding_register", 6) == [0xF002]


async def test_write_rejections(sim, client):
    ir = ModbusPoint(
        key="ir", unit_id=1, table=Table.INPUT_REGISTER, address=0, data_type=DataType.UINT16
    )
    with pytest.raises(ModbusValueError, match="cannot be written"):
        await client.write_point(ir, 1)
    sim.faults.exception_rules.append(
        ExceptionRule(unit_id=1, start=50, end=60, code=3, writes_only=True)
    )
    with pytest.raises(ModbusExceptionResponseError, match=r"point\(s\) lim") as err:
        await client.write_point(hr("lim", 55), 1)
    assert (err.value.exception_code, err.value.function_code, err.value.status) == (3, 6, 3)
    assert "ILLEGAL DATA VALUE" in str(err.value)
    assert await client.read_point(hr("lim", 55)) == 0  # reads still work


async def test_write_longer_than_fc16_allows_is_refused(sim, client):
    point = hr("long", 0, DataType.STRING, count=124)
    with pytest.raises(ModbusValueError, match="124 registers exceed the 123"):
        await client.write_point(point, "x")
    assert sum(sim.requests.values()) == 0


async def test_write_ignored_by_device_fails_verification(sim, client):
    sim.faults.ignore_writes.append(ExceptionRule(unit_id=1, start=0, end=10))
    with pytest.raises(ModbusWriteVerifyError) as err:
        await client.write_point(hr("x", 3), 99)
    assert (err.value.written, err.value.read_back, err.value.point) == (99, 0, "x")
    assert await client.write_point(hr("x", 3), 99, verify=False) == 99


async def test_exception_names_the_points_and_poller_splits(sim, client):
    sim.faults.exception_rules.append(ExceptionRule(unit_id=1, start=3, end=4, code=2))
    points = [hr("a", 0), hr("b", 1), hr("hole", 3), hr("c", 4)]
    plain = await client.read_points(points, PlanLimits(max_gap_registers=1))
    assert set(plain.errors) == {"a", "b", "hole", "c"}
    err = plain.errors["a"]
    assert isinstance(err, ModbusExceptionResponseError)
    assert err.points == ("a", "b", "hole", "c")
    assert "ILLEGAL DATA ADDRESS" in str(err)

    poller = ModbusPoller(client, points, PlanLimits(max_gap_registers=1))
    first = await poller.poll()
    assert set(first.errors) == {"hole"}
    assert set(first.values) == {"a", "b", "c"}
    assert first.errors["hole"].points == ("hole",)  # type: ignore[union-attr]
    sim.requests.clear()
    second = await poller.poll()
    assert set(second.errors) == {"hole"}
    assert second.requests == sum(sim.requests.values()) == 4


async def test_silent_unit_times_out_then_others_work(sim, client):
    sim.faults.silent_units.add(2)
    with pytest.raises(ModbusTimeoutError, match="quiet"):
        await client.read_point(hr("quiet", 0, unit_id=2))
    assert await client.read_point(hr("ok", 0, unit_id=1)) == 0


async def test_stall_then_recover(sim, client):
    sim.faults.stall_next = 1
    with pytest.raises(ModbusTimeoutError):
        await client.read_point(hr("a", 0))
    assert await client.read_point(hr("a", 0)) == 0


async def test_drop_then_reconnect(sim, client):
    await client.connect()
    sim.faults.drop_next = 1
    with pytest.raises(ModbusConnectionError) as err:
        await client.read_point(hr("a", 0))
    assert not isinstance(err.value, ModbusTimeoutError)
    assert sim.connections == 1
    assert await client.read_point(hr("a", 0)) == 0
    assert sim.connections == 2


async def test_malformed_frame_is_a_typed_error_then_recover(sim, client):
    sim.faults.malformed_next = 1
    with pytest.raises(ModbusError):
        await client.read_point(hr("a", 0, DataType.UINT32))
    await sim.set_values(1, "holding_register", 0, [1, 2])
    assert await client.read_point(hr("a", 0, DataType.UINT32)) == 0x00010002


async def test_bit_reply_with_a_wrong_byte_count_gives_no_value(sim, client):
    # pymodbus unpacks every data byte it gets; 2 bytes for 1 coil must not become a value
    coil = ModbusPoint(key="c", unit_id=1, table=Table.COIL, address=0, data_type=DataType.BIT)
    await sim.set_values(1, "coil", 0, [True])
    sim.faults.malformed_next = 1  # answers "0000 0000 0000 0001": coil 0 would read False
    with pytest.raises(ModbusProtocolError, match="2 data bytes for a read of 1 bits"):
        await client.read_point(coil)
    assert await client.read_point(coil) is True


async def test_write_whose_reply_is_lost_is_confirmed_by_read_back(sim):
    proxy = await FaultProxy(sim.port).start()
    client = ModbusClient(host="127.0.0.1", port=proxy.port, timeout_s=0.5)
    try:
        proxy.drop_mid_frame(3)  # the write's reply
        assert await client.write_point(hr("sp", 10), 1234) == 1234
        assert proxy.stats.cuts == 1
        assert sim.writes[1, 6, 10] == 1  # never sent again
    finally:
        await client.close()
        await proxy.stop()


async def test_write_without_reply_nor_read_back_is_unconfirmed(sim):
    client = ModbusClient(host="127.0.0.1", port=sim.port, timeout_s=0.2)
    try:
        await client.connect()
        sim.faults.latency_s = 0.3  # each answer comes after the client gave up
        with pytest.raises(ModbusWriteUnconfirmedError, match="neither its reply nor a read"):
            await client.write_point(hr("sp", 10), 77)
        sim.faults.latency_s = 0
        assert await client.read_point(hr("sp", 10)) == 77
        assert sim.writes[1, 6, 10] == 1
    finally:
        await client.close()


async def test_write_lost_before_the_device_raises_the_connection_error(sim, client):
    await client.connect()
    sim.faults.drop_next = 1  # the request is dropped unexecuted; the read-back shows so
    with pytest.raises(ModbusConnectionError) as err:
        await client.write_point(hr("sp", 10), 77)
    assert not isinstance(err.value, ModbusWriteUnconfirmedError)
    assert sim.writes[1, 6, 10] == 0
    assert await client.read_point(hr("sp", 10)) == 0


async def test_reboot_backoff_and_reconnect(sim):
    now = [100.0]
    client = ModbusClient(
        host="127.0.0.1",
        port=sim.port,
        timeout_s=0.5,
        reconnect_delay_s=2.0,
        reconnect_delay_max_s=5.0,
        clock=lambda: now[0],
    )
    try:
        assert await client.read_point(hr("a", 0)) == 0
        await sim.pause()
        with pytest.raises(ModbusConnectionError):
            await client.read_point(hr("a", 0))
        attempts = client.connect_attempts
        with pytest.raises(ModbusConnectionError, match=r"retrying in 2\.0 s"):
            await client.read_point(hr("a", 0))
        assert client.connect_attempts == attempts + 1
        with pytest.raises(ModbusConnectionError, match=r"next reconnect attempt in 2\.0 s"):
            await client.read_point(hr("a", 0))
        assert client.connect_attempts == attempts + 1
        now[0] += 2.0
        with pytest.raises(ModbusConnectionError, match=r"retrying in 4\.0 s"):
            await client.read_point(hr("a", 0))
        now[0] += 4.0
        with pytest.raises(ModbusConnectionError, match=r"retrying in 5\.0 s"):
            await client.read_point(hr("a", 0))
        await sim.resume()
        now[0] += 5.0
        assert await client.read_point(hr("a", 0)) == 0
        assert client.connected
    finally:
        await client.close()


async def test_frames_are_captured(sim):
    frames: list[tuple[str, bytes]] = []
    async with ModbusClient(
        host="127.0.0.1", port=sim.port, timeout_s=0.5, on_frame=lambda d, b: frames.append((d, b))
    ) as client:
        await client.read_point(hr("a", 7, unit_id=3))
    assert [d for d, _ in frames] == ["tx", "rx"]
    tx = frames[0][1]
    # MBAP: protocol 0, length 6, unit 3, then PDU fc 3, address 7, count 1.
    assert (tx[2:4], tx[4:6], tx[6], tx[7:]) == (b"\0\0", b"\0\x06", 3, b"\x03\x00\x07\x00\x01")
    assert frames[1][1][7:] == b"\x03\x02\x00\x00"


async def test_changing_values(sim, client):
    point = ModbusPoint(
        key="e", unit_id=2, table=Table.INPUT_REGISTER, address=0, data_type=DataType.UINT32
    )
    await sim.tick()
    first = await client.read_point(point)
    await sim.tick()
    assert await client.read_point(point) == first + 14  # 7 * unit per tick


async def test_rtu_over_tcp():
    async with ModbusSimulator(unit_ids=(5,), rtu=True) as sim:
        client = ModbusClient(
            transport=ModbusTransport.RTU_OVER_TCP, host="127.0.0.1", port=sim.port, timeout_s=0.5
        )
        try:
            point = hr("v", 20, DataType.FLOAT32, unit_id=5)
            assert await client.write_point(point, -2.5) == -2.5
            sim.faults.exception_rules.append(ExceptionRule(start=30, end=31, code=4))
            with pytest.raises(ModbusExceptionResponseError, match="DEVICE FAILURE"):
                await client.read_point(hr("bad", 30, unit_id=5))
            sim.faults.malformed_next = 1
            with pytest.raises(ModbusError):
                await client.read_point(point)
            assert await client.read_point(point) == -2.5
        finally:
            await client.close()


def test_constructor_checks():
    with pytest.raises(ValueError, match="needs serial_port"):
        ModbusClient(transport=ModbusTransport.RTU_SERIAL)
    with pytest.raises(ValueError, match="needs host"):
        ModbusClient()
    assert (
        "serial port /dev/x"
        in ModbusClient(transport=ModbusTransport.RTU_SERIAL, serial_port="/dev/x").target
    )


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the serial pty")
async def test_rtu_serial_over_a_pty(tmp_path):
    async with ModbusSimulator(unit_ids=(9,), rtu=True) as sim:
        link = tmp_path / "ttyMODBUS"
        socat = await asyncio.create_subprocess_exec(
            "socat",
            "-d",
            "-d",
            f"pty,raw,echo=0,link={link}",
            f"tcp:127.0.0.1:{sim.port}",
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert socat.stderr is not None
            async with asyncio.timeout(10):
                while b"starting data transfer loop" not in await socat.stderr.readline():
                    pass
            client = ModbusClient(
                transport=ModbusTransport.RTU_SERIAL,
                serial_port=str(link),
                baudrate=19200,
                timeout_s=1.0,
            )
            try:
                point = hr("s", 3, DataType.INT32, unit_id=9)
                assert await client.write_point(point, -123456) == -123456
                assert await sim.get_values(9, "holding_register", 3, 2) == [0xFFFE, 0x1DC0]
            finally:
                await client.close()
        finally:
            socat.terminate()
            await socat.wait()


EXAMPLE = (Path(__file__).resolve().parents[3] / "simulators/modbus/example_points.csv").read_text()


async def test_example_point_list_end_to_end(sim, client):
    result = parse_point_list_csv(EXAMPLE)
    assert result.errors == ()
    assert result.rows[0].extra == {
        "name": "Energy import",
        "unit": "kWh",
        "device_class": "energy",
    }
    await sim.set_values(1, "holding_register", 10, [0x4366, 0x0000, 5000])  # 230.0 V, 50 Hz
    await sim.set_values(1, "holding_register", 20, [0x4D4C, 0x2D30, 0x3030, 0x3100])
    await sim.set_values(1, "holding_register", 30, [0b1000])
    await sim.set_values(1, "coil", 0, [True])
    await sim.tick()
    await sim.tick()
    poller = ModbusPoller(client, result.points, PlanLimits(max_gap_registers=10))
    values = (await poller.poll()).values
    assert values == {
        "energy_import": 0.014,  # 2 ticks x 7 x unit 1, scaled by 0.001
        "power_active": round(1000 * math.sin(2 / 5)),
        "voltage_l1": 230.0,
        "frequency": 50.0,
        "serial_number": "ML-0001",
        "grid_relay": True,
        "alarm_flag": True,
        "energy_export": pytest.approx((28 << 16) * 0.001),  # unit 2 counter 28, word-swapped
    }
    assert len(poller.plan) == 4


async def test_concurrent_reads_share_one_connection(sim, client):
    await sim.set_values(1, "holding_register", 0, list(range(1, 21)))
    points = [hr(f"p{i}", i) for i in range(20)]
    results = await asyncio.gather(*(client.read_point(p) for p in points))
    assert results == list(range(1, 21))
    assert sim.connections == 1
