"""The EKM bus simulator: meters, sessions, faults, CLI, and EKM's own library through its pty."""

from __future__ import annotations

import asyncio
import pathlib
import re
import sys

import ekmmeters  # type: ignore[import-untyped]
import pytest

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.client import EkmBus
from custom_components.meterlink.protocols.ekm.models import (
    EkmBlock,
    EkmV4Reading,
    EkmVersion,
)
from simulators.ekm.bus import EVENTS_KEPT, NAK, BusEvent, EkmSimBus, Fault
from simulators.ekm.meter import SimMeter

ROOT = pathlib.Path(__file__).resolve().parents[3]
V4 = "000300001285"
V3 = "000000020870"


class Clock:
    """Hand-moved wall clock."""

    def __init__(self) -> None:
        self.now = 1_716_981_000.0

    def __call__(self) -> float:
        return self.now


def make_bus(**kwargs: object) -> tuple[EkmSimBus, Clock]:
    clock = Clock()
    meters = [
        SimMeter(address=V4, clock=clock),
        SimMeter(address=V3, version=EkmVersion.V3, clock=clock),
    ]
    return EkmSimBus(meters, **kwargs), clock  # type: ignore[arg-type]


def read(bus: EkmSimBus, address: str, block: EkmBlock) -> bytes:
    return bus.handle(codec.EkmReadRequest(address, block))[0]


# --- meters ---------------------------------------------------------------------------------


def test_meter_blocks_decode_and_change_over_time() -> None:
    bus, clock = make_bus()
    meter = bus.meters[V4]
    first = codec.decode_v4_a(meter.block(EkmBlock.V4_A), address=V4)
    clock.now += 7200
    second = codec.decode_v4_a(meter.block(EkmBlock.V4_A), address=V4)
    assert second.energy_total_wh - first.energy_total_wh == pytest.approx(920, abs=120)
    assert second.meter_time.to_datetime() != first.meter_time.to_datetime()
    assert second.power_total_w != first.power_total_w or second.frequency_hz
    b = codec.decode_v4_b(meter.block(EkmBlock.V4_B), kwh_scale=1, address=V4)
    assert b.ct_ratio == meter.ct_ratio
    v3 = codec.decode_v3(bus.meters[V3].block(EkmBlock.V3), address=V3)
    assert v3.ct_ratio == 200


def test_meter_writes_validate() -> None:
    bus, clock = make_bus()
    v4, v3 = bus.meters[V4], bus.meters[V3]
    assert v4.write("0081", "10010")
    assert v4.relays[0].closed
    clock.now += 11
    v4.update()
    assert not v4.relays[0].closed
    for register, data in [
        ("0081", "1001"),
        ("0082", "20000"),
        ("0020", "1234"),
        ("0050", "4"),
        ("0060", "2513450100000x"),
        ("00D0", "0300"),
        ("00D2", "99" * 40),
        ("00D4", "0003"),
        ("00D5", "5"),
        ("00A0", "0000"),
        ("0099", ""),
    ]:
        assert not v4.write(register, data), register
    for register in ("0081", "00D2", "00D3", "00D4", "00D5", "00A0"):
        assert not v3.write(register, "1"), register
    assert v3.write("00D0", "0400")
    assert v3.ct_ratio == 400


def test_meter_settings_round_trip() -> None:
    bus, _ = make_bus()
    meter = bus.meters[V4]
    meter.write("0020", "11112222")
    meter.write("0082", "10000")
    saved = meter.settings()
    fresh = SimMeter(address=V4)
    fresh.restore(saved)
    assert fresh.password == "11112222"
    assert fresh.relays[1].closed
    assert fresh.settings() == saved


# --- sessions -----------------------------------------------------------------------------------


def test_only_the_addressed_meter_answers_and_sessions() -> None:
    bus, _ = make_bus()
    assert read(bus, "000000000001", EkmBlock.V4_A) == b""
    assert read(bus, V3, EkmBlock.V4_A) == b""  # a v3 meter ignores v4 requests
    assert read(bus, V4, EkmBlock.V3) == b""
    password = codec.EkmCommandFrame("P1", "", "00000000")
    write = codec.EkmCommandFrame("W1", "00D0", "0400")
    assert bus.handle(password) == (b"", 0.0)  # nobody selected
    assert len(read(bus, V4, EkmBlock.V4_A)) == 255
    assert bus.handle(write) == (b"", 0.0)  # not authorised yet
    assert bus.handle(codec.EkmCommandFrame("P1", "", "99999999")) == (b"", 0.0)
    assert bus.handle(password) == (b"\x06", 0.0)
    assert bus.handle(codec.EkmCommandFrame("W1", "00D0", "0300")) == (NAK, 0.0)
    assert bus.handle(write) == (b"\x06", 0.0)
    assert bus.meters[V4].ct_ratio == 400
    bus.handle(codec.EkmEndSession())
    assert bus.handle(write) == (b"", 0.0)
    kinds = [e.kind for e in bus.events]
    assert kinds.count("ignored") == 2
    assert kinds.count("refused") == 1


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault.NO_ANSWER, lambda raw, _good: raw == b""),
        (Fault.BAD_CRC, lambda raw, good: raw[:-1] == good[:-1] and raw != good),
        (Fault.CORRUPT_BYTE, lambda raw, good: raw[100] != good[100]),
        (Fault.TRUNCATE, lambda raw, good: raw == good[:120]),
        (Fault.GARBAGE, lambda raw, _good: len(raw) == 40 and codec.STX not in raw),
        (Fault.WRONG_ADDRESS, lambda raw, _good: raw[4:16] == V3.encode()),
        (Fault.COLLISION, lambda raw, good: len(raw) == 255 and raw != good),
    ],
)
def test_faults(fault: Fault, check: object) -> None:
    bus, _ = make_bus()
    good = read(bus, V4, EkmBlock.V4_A)
    bus.inject(fault, address=V4)
    raw = read(bus, V4, EkmBlock.V4_A)
    assert check(raw, good)  # type: ignore[operator]
    assert read(bus, V4, EkmBlock.V4_A) == good  # one-shot
    if fault in (Fault.BAD_CRC, Fault.CORRUPT_BYTE, Fault.COLLISION):
        with pytest.raises(codec.EkmCrcError):
            codec.check_block(raw)


def test_delay_fault_and_random_faults() -> None:
    bus, _ = make_bus()
    bus.inject(Fault.DELAY, seconds=0.3, count=2)
    assert bus.handle(codec.EkmReadRequest(V4, EkmBlock.V4_A))[1] == 0.3
    assert bus.handle(codec.EkmReadRequest(V3, EkmBlock.V3))[1] == 0.3
    assert bus.handle(codec.EkmReadRequest(V3, EkmBlock.V3))[1] == 0.0
    noisy, _ = make_bus(fault_rate=1.0, seed=1)
    faults = {noisy.handle(codec.EkmReadRequest(V3, EkmBlock.V3)) for _ in range(20)}
    assert len(faults) > 1


# --- endpoints -----------------------------------------------------------------------------------


async def test_cli_prints_one_line_and_serves() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.ekm",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--pty",
        "--meters",
        "300001285:v4,20870:v3",
        "--baudrate",
        "460800",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        match = re.search(r"tcp 127\.0\.0\.1:(\d+), pty (/dev/\S+);", line)
        assert match, line
        assert "000300001285(v4)" in line
        assert "000000020870(v3)" in line
        async with EkmBus(port=f"127.0.0.1:{match.group(1)}", baudrate=460800) as bus:
            reading = await bus.read(300001285, 4)
        assert isinstance(reading, EkmV4Reading)
    finally:
        proc.terminate()
        await proc.wait()


async def test_paced_answer_takes_the_wire_time() -> None:
    bus, _ = make_bus(baudrate=9600, turnaround=0.01)
    port = await bus.start_tcp()
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = loop.time()
        writer.write(codec.encode_read_request(V3, EkmBlock.V3))
        data = await asyncio.wait_for(reader.readexactly(255), 5)
        took = loop.time() - start
        writer.close()
        await writer.wait_closed()
    finally:
        await bus.close()
    codec.decode_v3(data, address=V3)
    wire = codec.wire_seconds(17) + 0.01 + codec.wire_seconds(255)
    assert wire * 0.97 <= took < wire + 1.0  # the pacing itself; speed figures live in bench/


def _ekmmeters_session(path: str) -> dict[str, object]:
    """EKM's own synchronous library, unchanged, on the simulator's pty."""
    port = ekmmeters.SerialPort(path, force_wait=0.15)  # EKM's own unittest.ini value
    assert port.initPort()
    try:
        v4 = ekmmeters.V4Meter(V4)
        v4.attachPort(port)
        ok_read = v4.request(False)
        kwh = v4.getField(ekmmeters.Field.kWh_Tot)
        ct = v4.getField(ekmmeters.Field.CT_Ratio)
        relay = v4.setRelay(0, ekmmeters.Relay.Relay1, ekmmeters.RelayState.RelayClose)
        v4.request(False)
        state_out = v4.getField(ekmmeters.Field.State_Out)
        v3 = ekmmeters.V3Meter(V3)
        v3.attachPort(port)
        ok_v3 = v3.request(True)
        v3_addr = v3.getField(ekmmeters.Field.Meter_Address)
    finally:
        port.closePort()
    return {
        "read": ok_read,
        "kwh": kwh,
        "ct": ct,
        "relay": relay,
        "state_out": state_out,
        "v3": ok_v3,
        "v3_addr": v3_addr,
    }


async def test_ekmmeters_reads_and_switches_a_relay_through_the_pty() -> None:
    bus, _ = make_bus(baudrate=9600, turnaround=0.02)
    path = bus.start_pty()
    try:
        result = await asyncio.to_thread(_ekmmeters_session, path)
    finally:
        await bus.close()
    assert result["read"] is True
    assert float(str(result["kwh"])) == pytest.approx(1000.0, abs=1)
    assert result["ct"] == "200"
    assert result["relay"] is True
    assert result["state_out"] == "3"  # relay 1 on, relay 2 off
    assert bus.meters[V4].relays[0].closed
    assert result["v3"] is True
    assert result["v3_addr"] == V3
    writes = [e.detail for e in bus.events if e.kind == "write"]
    assert writes == ["0081(10000)"]


def test_bus_keeps_only_the_latest_events() -> None:
    bus, _ = make_bus()
    for n in range(EVENTS_KEPT + 5):
        bus._record(BusEvent(kind="read", address=V4, detail=str(n)))
    assert len(bus.events) == EVENTS_KEPT
    assert bus.events[0].detail == "5"
    assert bus.events[-1].detail == str(EVENTS_KEPT + 4)
