"""Iec104Client against the c104-based outstation simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.iec104.client import Iec104Client
from custom_components.meterlink.protocols.iec104.connection import Iec104Parameters
from custom_components.meterlink.protocols.iec104.errors import (
    Iec104CommandError,
    Iec104CommandUnconfirmedError,
    Iec104ConnectionError,
    Iec104Error,
    Iec104ProtocolError,
    Iec104TimeoutError,
)
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    Cot,
    CP56Time2a,
    DoublePoint,
    Quality,
    TypeId,
)
from custom_components.meterlink.protocols.iec104.pointlist import parse_iec104_point_list_csv
from simulators.iec104.server import Iec104Simulator, ReceivedCommand

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FAST = Iec104Parameters(t0_s=2, t1_s=1.0, t2_s=0.2, t3_s=5)


class Recorder:
    """Collects monitor ASDUs and lets a test wait for one."""

    def __init__(self) -> None:
        self.asdus: list[Asdu] = []
        self.lost: list[Exception | None] = []
        self._changed = asyncio.Event()

    def on_asdu(self, asdu: Asdu) -> None:
        self.asdus.append(asdu)
        self._changed.set()

    def on_lost(self, err: Exception | None) -> None:
        self.lost.append(err)
        self._changed.set()

    async def wait_for(self, predicate, limit_s: float = 5.0):
        async with asyncio.timeout(limit_s):
            while True:
                for asdu in self.asdus:
                    if predicate(asdu):
                        return asdu
                self._changed.clear()
                await self._changed.wait()

    async def wait_lost(self, limit_s: float = 5.0) -> Exception | None:
        async with asyncio.timeout(limit_s):
            while not self.lost:
                self._changed.clear()
                await self._changed.wait()
        return self.lost[0]


def values(asdus: list[Asdu]) -> dict[int, object]:
    return {obj.ioa: obj.value for asdu in asdus for obj in asdu.objects}


def has(ioa: int, cot: int | None = None, value: object = None):
    def check(asdu: Asdu) -> bool:
        return any(
            o.ioa == ioa
            and (cot is None or asdu.cot == cot)
            and (value is None or o.value == value)
            for o in asdu.objects
        )

    return check


@pytest.fixture
async def sim() -> AsyncIterator[Iec104Simulator]:
    async with Iec104Simulator(common_address=1) as simulator:
        yield simulator


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(sim: Iec104Simulator, recorder: Recorder) -> AsyncIterator[Iec104Client]:
    c = Iec104Client(
        host="127.0.0.1",
        port=sim.port,
        common_address=1,
        params=FAST,
        command_timeout_s=3,
        on_asdu=recorder.on_asdu,
        on_connection_lost=recorder.on_lost,
    )
    await c.connect()
    yield c
    await c.close()


async def test_general_interrogation(client, recorder):
    asdus = await client.interrogation()
    assert all(a.cot == Cot.INTERROGATED_BY_STATION for a in asdus)
    got = values(asdus)
    assert got == {
        11: 21.5,
        12: 1.25,
        13: 0.5,
        14: -7,
        15: -0.25,
        16: 1234,
        21: True,
        22: DoublePoint.ON,
        23: False,
        24: DoublePoint.OFF,
    }
    by_ioa = {o.ioa: (a.type_id, o) for a in asdus for o in a.objects}
    assert by_ioa[12][0] is TypeId.M_ME_TF_1
    assert by_ioa[12][1].time is not None
    assert by_ioa[12][1].time.to_datetime() is not None
    assert by_ioa[11][0] is TypeId.M_ME_NC_1
    assert by_ioa[16][0] is TypeId.M_ME_TE_1
    assert values(recorder.asdus) == got  # the callback saw them too


async def test_counter_interrogation(client):
    asdus = await client.counter_interrogation()
    assert values(asdus) == {31: 1000, 32: 2000}
    assert {a.type_id for a in asdus} == {TypeId.M_IT_NA_1, TypeId.M_IT_TB_1}


async def test_spontaneous_updates_reach_callback(sim, client, recorder):
    sim.set_value(11, 42.25, spontaneous=True)
    asdu = await recorder.wait_for(has(11, Cot.SPONTANEOUS))
    assert asdu.objects[0].value == 42.25
    await sim.tick()
    await recorder.wait_for(has(31, Cot.SPONTANEOUS, 1010))


async def test_direct_single_command_and_return_information(sim, client, recorder):
    result = await client.single_command(101, True)
    assert result.confirmed
    assert ReceivedCommand(ioa=101, value=True, select=False) in sim.faults.commands
    await recorder.wait_for(has(21, Cot.RETURN_REMOTE, True))


async def test_select_before_operate(sim, client):
    result = await client.single_command(
        102, True, select_before_operate=True, wait_termination=True
    )
    assert (result.confirmed, result.terminated) == (True, True)
    assert sim.faults.commands[-1] == ReceivedCommand(ioa=102, value=True, select=False)


async def test_execute_without_select_is_refused(sim, client):
    with pytest.raises(Iec104CommandError, match="negative activation confirmation") as err:
        await client.single_command(102, True)
    assert err.value.cause == Cot.ACTIVATION_CON
    assert sim.faults.commands == []


async def test_double_command_sbo(sim, client, recorder):
    await client.double_command(103, DoublePoint.OFF, select_before_operate=True)
    await recorder.wait_for(has(22, Cot.RETURN_REMOTE, DoublePoint.OFF))
    assert sim.value(22) == 1


@pytest.mark.parametrize(
    ("ioa", "kind", "value", "sbo", "related", "expected"),
    [
        (111, "float", 12.5, False, 11, 12.5),
        (112, "normalized", 0.25, False, 13, 0.25),
        (113, "scaled", 77, True, 14, 77),
    ],
)
async def test_set_points(sim, client, recorder, ioa, kind, value, sbo, related, expected):  # noqa: PLR0917
    await client.set_point(ioa, value, kind=kind, select_before_operate=sbo)
    asdu = await recorder.wait_for(has(related, Cot.RETURN_REMOTE))
    assert asdu.objects[0].value == pytest.approx(expected, abs=1e-4)


async def test_command_with_time_tag(sim, client, recorder):
    tag = CP56Time2a.from_datetime(dt.datetime.now(dt.UTC))
    await client.single_command(104, True, time=tag)
    assert sim.faults.commands[-1] == ReceivedCommand(ioa=104, value=True, select=False)
    asdu = await recorder.wait_for(has(23, Cot.RETURN_REMOTE, True))
    assert asdu.type_id is TypeId.M_SP_TB_1


async def test_refused_and_unknown_commands(client):
    with pytest.raises(Iec104CommandError, match="negative"):
        await client.single_command(120, True)
    with pytest.raises(Iec104CommandError, match="IOA 999"):
        await client.single_command(999, True)  # c104 answers a negative confirmation
    with pytest.raises(Iec104CommandError, match="station 5"):
        await client.command(TypeId.C_SC_NA_1, 101, True, common_address=5)
    with pytest.raises(Iec104ProtocolError, match="not a command type"):
        await client.command(TypeId.M_ME_NC_1, 1, 1.0)


@pytest.mark.parametrize(
    ("cot", "negative", "error", "message"),
    [
        (Cot.UNKNOWN_IOA, True, Iec104CommandError, "unknown ioa .cause 47."),
        (Cot.UNKNOWN_TYPE, False, Iec104CommandError, "unknown type .cause 44."),
        (Cot.UNKNOWN_COMMON_ADDRESS, True, Iec104CommandError, "unknown common address"),
        (Cot.ACTIVATION_CON, True, Iec104CommandError, "negative activation confirmation"),
        (Cot.SPONTANEOUS, False, Iec104ProtocolError, "unexpected cause 3"),
    ],
)
def test_confirmation_checks(cot, negative, error, message):
    answer = Asdu(type_id=TypeId.C_SC_NA_1, cot=cot, negative=negative, common_address=1)
    with pytest.raises(error, match=message):
        Iec104Client._check(answer, "C_SC_NA_1 to IOA 1")


async def test_stalled_outstation_times_out_then_reconnects(sim, client, recorder):
    sim.faults.stall = True
    # the outstation got (and executed) the command; its confirmation is held back
    with pytest.raises(Iec104CommandUnconfirmedError) as info:
        await client.single_command(101, True)
    assert isinstance(info.value, Iec104ConnectionError)
    assert isinstance(info.value.__cause__, Iec104TimeoutError)
    assert isinstance(await recorder.wait_lost(), Iec104TimeoutError)
    assert not client.connected
    sim.faults.stall = False
    await client.connect()
    assert values(await client.interrogation())[21] is True


async def test_malformed_frame_closes_link_then_reconnects(sim, client, recorder):
    sim.inject_malformed()
    err = await recorder.wait_lost()
    assert isinstance(err, Iec104ProtocolError)
    assert "outside 4..253" in str(err)
    with pytest.raises(Iec104ConnectionError, match="not connected"):
        await client.interrogation()
    await client.connect()
    assert await client.interrogation()


async def test_dropped_connection(sim, client, recorder):
    await sim.drop_connections()
    err = await recorder.wait_lost()
    assert isinstance(err, Iec104ConnectionError)
    assert not isinstance(err, Iec104TimeoutError)
    await client.connect()
    assert sim.connections == 2


async def test_outstation_reboot_with_backoff(sim, recorder):
    now = [0.0]
    client = Iec104Client(
        host="127.0.0.1",
        port=sim.port,
        params=FAST,
        on_connection_lost=recorder.on_lost,
        reconnect_delay_s=2,
        reconnect_delay_max_s=3,
        clock=lambda: now[0],
    )
    await client.connect()
    try:
        await sim.pause()
        await recorder.wait_lost()
        with pytest.raises(Iec104ConnectionError, match="cannot connect"):
            await client.connect()
        with pytest.raises(Iec104ConnectionError, match=r"next reconnect attempt in 2\.0 s"):
            await client.connect()
        assert client.connect_attempts == 2
        now[0] = 2.0
        with pytest.raises(Iec104ConnectionError, match="cannot connect"):
            await client.connect()
        now[0] = 4.0
        with pytest.raises(Iec104ConnectionError, match=r"next reconnect attempt in 1\.0 s"):
            await client.connect()
        await sim.resume()
        now[0] = 5.0
        await client.connect()
        assert client.connect_attempts == 4
        assert await client.interrogation()
    finally:
        await client.close()


async def test_testfr_keeps_idle_link_alive_and_frames_are_captured(sim):
    frames: list[tuple[str, bytes]] = []
    seen_con = asyncio.Event()

    def capture(direction: str, frame: bytes) -> None:
        frames.append((direction, frame))
        if direction == "rx" and frame == bytes.fromhex("680483000000"):
            seen_con.set()

    params = Iec104Parameters(t0_s=2, t1_s=1.0, t2_s=0.1, t3_s=0.2)
    async with Iec104Client(
        host="127.0.0.1", port=sim.port, params=params, on_frame=capture
    ) as client:
        async with asyncio.timeout(5):
            await seen_con.wait()
        assert client.connected
    assert frames[0] == ("tx", bytes.fromhex("680407000000"))
    assert frames[1] == ("rx", bytes.fromhex("68040b000000"))
    assert ("tx", bytes.fromhex("680443000000")) in frames


async def test_connect_refused_and_wrong_peer():
    client = Iec104Client(host="127.0.0.1", port=1, params=FAST)
    with pytest.raises(Iec104ConnectionError):
        await client.connect()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers, keeps the connection open
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        silent = Iec104Client(host="127.0.0.1", port=port, params=FAST)
        with pytest.raises(Iec104Error, match="STARTDT_ACT not confirmed"):
            await silent.connect()
        assert not silent.connected
    finally:
        server.close()
        await server.wait_closed()


async def test_read_command(sim, client):
    sim.set_value(14, 321)
    obj = await client.read(14)
    assert (obj.ioa, obj.value) == (14, 321)
    assert (await client.read(12)).time is not None
    with pytest.raises(
        Iec104CommandError, match="read of IOA 999 of station 1: outstation refused"
    ):
        await client.read(999)
    with pytest.raises(Iec104ProtocolError, match="not a command type"):
        await client.command(TypeId.C_RD_NA_1, 14, 0)


async def test_quality_bits_from_the_outstation(sim, client, recorder):
    sim.set_quality(11, "Invalid", "NonTopical", spontaneous=True)
    asdu = await recorder.wait_for(has(11, Cot.SPONTANEOUS))
    assert asdu.objects[0].quality == Quality.INVALID | Quality.NOT_TOPICAL
    sim.set_quality(21, "Blocked", "Substituted")
    obj = await client.read(21)
    assert obj.quality == Quality.BLOCKED | Quality.SUBSTITUTED


EXAMPLE = (Path(__file__).resolve().parents[3] / "simulators/iec104/example_points.csv").read_text(
    encoding="utf-8"
)


async def test_example_point_list_end_to_end(sim, client):
    result = parse_iec104_point_list_csv(EXAMPLE)
    assert result.errors == ()
    monitored = [p for p in result.points if not p.is_command]
    asdus = await client.interrogation() + await client.counter_interrogation()
    values = {}
    for asdu in asdus:
        for obj in asdu.objects:
            for point in monitored:
                if point.accepts(asdu.type_id, asdu.common_address, obj.ioa):
                    values[point.key] = obj.value * point.scale + point.offset
    assert values == pytest.approx(
        {
            "power_w": 21500.0,
            "voltage": 1.25,
            "load_ratio": 50.0,
            "temperature": -0.7,
            "breaker": 2,
            "alarm": 1,
            "energy_kwh": 1000,
        }
    )
    command = next(p for p in result.points if p.key == "breaker_command")
    await client.double_command(
        command.ioa, DoublePoint.OFF, select_before_operate=command.select_before_operate
    )
    assert sim.value(22) == DoublePoint.OFF
