"""The asyncio client against the simulator over real loopback sockets and ptys."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import os
from typing import TYPE_CHECKING

from dlms_cosem import cosem, enumerations
from dlms_cosem.client import DlmsClient as CosemClient
from dlms_cosem.cosem import Obis
from dlms_cosem.io import BlockingTcpIO, TcpTransport
from dlms_cosem.parsers import ProfileGenericBufferParser
from dlms_cosem.security import NoSecurityAuthentication
from dlms_cosem.utils import parse_as_dlms_data
from hypothesis import given, settings, strategies as st
import pytest
import structlog

from custom_components.meterlink.protocols.dlms.axdr import DataItem, DataTag, encode_data
from custom_components.meterlink.protocols.dlms.client import (
    DlmsAttributeRef,
    DlmsAuthentication,
    DlmsClient,
    DlmsTransport,
)
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsAccessDeniedError,
    DlmsAssociationRefusedError,
    DlmsAuthenticationError,
    DlmsConnectionError,
    DlmsError,
    DlmsObjectUndefinedError,
    DlmsReplyLostError,
    DlmsTimeoutError,
)
from custom_components.meterlink.protocols.dlms.models import DlmsReading
from custom_components.meterlink.protocols.dlms.vendors import vendor_profile
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, Faults, SimTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001
PASSWORD = b"lls-9f4e2b71"
REGISTERS = [
    "1.0.1.8.0.255",
    "1.0.2.8.0.255",
    "1.0.1.7.0.255",
    "1.0.32.7.0.255",
    "1.0.31.7.0.255",
    "1.0.14.7.0.255",
    "1.0.13.7.0.255",
]

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

_CLIENT_TRANSPORT = {
    SimTransport.WRAPPER: DlmsTransport.WRAPPER,
    SimTransport.HDLC: DlmsTransport.HDLC_TCP,
}


@pytest.fixture(params=[SimTransport.WRAPPER, SimTransport.HDLC])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[DlmsSimulator]:
    simulator = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        transport=request.param,
        password=PASSWORD,
        max_pdu=256,
        max_info=48,
        faults=Faults(),
    )
    await simulator.start()
    yield simulator
    await simulator.close()


def _client(sim: DlmsSimulator, **kwargs: object) -> DlmsClient:
    options: dict[str, object] = {
        "transport": _CLIENT_TRANSPORT[sim.transport],
        "host": "127.0.0.1",
        "port": sim.port,
        "authentication": DlmsAuthentication.LOW,
        "password": PASSWORD,
        "request_timeout": 2.0,
    }
    options.update(kwargs)
    return DlmsClient(**options)  # type: ignore[arg-type]


async def test_read_applies_scaler_once(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        for obis in REGISTERS:
            reading = await client.read(obis)
            spec = sim.meter.registers[obis]
            assert reading.raw == sim.meter.raw_value(obis)
            assert reading.scaler == spec.scaler
            assert reading.value == pytest.approx(sim.meter.physical_value(obis))
        energy = await client.read("1.0.1.8.0.255")
        assert energy.unit == "Wh"
        assert energy.value == energy.raw * 10  # scaler +1, applied once even when cached
        serial = await client.read("0.0.96.1.0.255", class_id=1)
        assert serial.value == "SIM0000000001"


async def test_read_many_batches_and_reports_per_item_errors(sim: DlmsSimulator) -> None:
    registers = list(sim.meter.registers)[:20]
    refs = [DlmsAttributeRef(obis=obis) for obis in registers]
    async with _client(sim, max_list_items=10) as client:
        assert client.supports_get_with_list
        first = await client.read_many([*refs, DlmsAttributeRef(obis="1.0.99.99.0.255")])
        assert isinstance(first[-1], DlmsObjectUndefinedError)
        before = sim.stats.requests
        steady = await client.read_many(refs)
        assert sim.stats.requests - before == 2
    for obis, reading in zip(registers, steady, strict=True):
        assert isinstance(reading, DlmsReading)
        assert reading.value == pytest.approx(sim.meter.physical_value(obis))


async def test_read_many_falls_back_without_get_with_list() -> None:
    simulator = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW), get_with_list=False)
    await simulator.start()
    try:
        async with _client(simulator, authentication=DlmsAuthentication.NONE) as client:
            assert not client.supports_get_with_list
            results = await client.read_many([DlmsAttributeRef(obis=o) for o in REGISTERS[:3]])
            assert [r.obis for r in results if isinstance(r, DlmsReading)] == REGISTERS[:3]
    finally:
        await simulator.close()


async def test_write_invoke_and_clock(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        await client.remote_disconnect()
        assert sim.meter.output_state is False
        relay = await client.read("0.0.96.3.10.255", class_id=70, attribute=2)
        assert relay.value is False
        await client.remote_reconnect()
        assert sim.meter.output_state is True
        target = dt.datetime(2026, 3, 2, 6, 30)  # noqa: DTZ001
        await client.set_clock(target)
        clock = await client.read("0.0.1.0.0.255", class_id=8, attribute=2)
        assert clock.value == target
        with pytest.raises(DlmsAccessDeniedError, match=r"1\.0\.1\.8\.0\.255"):
            await client.write("1.0.1.8.0.255", 3, 2, 5, DataTag.DOUBLE_LONG_UNSIGNED)


async def test_profile_range_streamed_and_scaled(sim: DlmsSimulator) -> None:
    start, end = NOW - dt.timedelta(days=2), NOW
    async with _client(sim) as client:
        rows = [row async for row in client.read_profile("1.0.99.1.0.255", start, end)]
    assert len(rows) == 2 * 96 + 1
    assert rows[0].timestamp == start
    assert rows[-1].timestamp == end
    columns = rows[0].columns
    assert [(c.obis, c.unit, c.scaler) for c in columns] == [
        ("1.0.1.8.0.255", "Wh", 1),
        ("1.0.2.8.0.255", "Wh", 1),
    ]
    energy = [row.value("1.0.1.8.0.255") for row in rows]
    assert all(a <= b for a, b in itertools.pairwise(energy))  # type: ignore[operator]
    assert energy[-1] == pytest.approx(sim.meter.physical_value("1.0.1.8.0.255", end))
    assert rows[5].value("1.0.2.8.0.255") == pytest.approx(
        sim.meter.physical_value("1.0.2.8.0.255", rows[5].timestamp)
    )


def test_profile_decoding_matches_dlms_cosem() -> None:
    meter = SimulatedMeter(now=lambda: NOW)
    raw = encode_data(meter._rows(NOW - dt.timedelta(days=3), NOW))
    client = DlmsClient(host="127.0.0.1")
    client._scalers.update({"1.0.1.8.0.255": (1, 30), "1.0.2.8.0.255": (-2, 30)})
    columns = [(8, "0.0.1.0.0.255"), (3, "1.0.1.8.0.255"), (3, "1.0.2.8.0.255")]
    ours = list(client.iter_profile(raw, columns))
    parser = ProfileGenericBufferParser(
        capture_objects=[
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.CLOCK,
                instance=Obis(0, 0, 1, 0, 0, 255),
                attribute=2,
            ),
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.REGISTER,
                instance=Obis(1, 0, 1, 8, 0, 255),
                attribute=2,
            ),
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.REGISTER,
                instance=Obis(1, 0, 2, 8, 0, 255),
                attribute=2,
            ),
        ],
        capture_period=15,
    )
    theirs = parser.parse_bytes(raw)
    assert len(ours) == len(theirs) == 3 * 96 + 1
    for row, entry in zip(ours, theirs, strict=True):
        assert row.timestamp == entry[0].value.replace(tzinfo=None)
        assert row.values == (entry[1].value * 10, entry[2].value / 100)


async def test_discover_objects_block_transfer(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        objects = await client.discover_objects()
    by_obis = {o.obis: o for o in objects}
    assert len(objects) == len(sim.meter.objects())
    assert by_obis["1.0.1.8.0.255"].unit == "Wh"
    assert by_obis["1.0.32.7.0.255"].scaler == -1
    assert by_obis["0.0.96.3.10.255"].methods == (1, 2)
    clock = by_obis["0.0.1.0.0.255"]
    assert any(a.attribute == 2 and a.writable for a in clock.attributes)
    assert 0xC0 in sim.stats.apdus  # GET-Request-Next was needed (max PDU 256)


async def test_frames_are_captured_with_password_masked(sim: DlmsSimulator) -> None:
    frames: list[tuple[str, bytes]] = []
    async with _client(sim, on_frame=lambda d, f: frames.append((d, f))) as client:
        await client.read("1.0.1.7.0.255")
        await client.keep_alive()
    assert {direction for direction, _ in frames} == {"tx", "rx"}
    assert not any(PASSWORD in frame for _, frame in frames)
    assert any(b"********" in frame for direction, frame in frames if direction == "tx")


async def test_wrong_password_and_refused_association(sim: DlmsSimulator) -> None:
    with pytest.raises(DlmsAuthenticationError) as err:
        await _client(sim, password=b"wrong!!!").connect()
    assert err.value.secret == "password"
    sim.faults.refuse_association = True
    with pytest.raises(DlmsAssociationRefusedError, match="refused"):
        await _client(sim).connect()


async def test_stall_times_out_then_recovers(sim: DlmsSimulator) -> None:
    client = _client(sim, request_timeout=0.3)
    async with client:
        await client.read("1.0.1.7.0.255")
        sim.faults.stall = True
        with pytest.raises(DlmsTimeoutError):
            await client.read("1.0.2.7.0.255")
        sim.faults.stall = False
        reading = await client.read("1.0.2.7.0.255")
        assert reading.value == pytest.approx(sim.meter.physical_value("1.0.2.7.0.255"))


async def test_meter_drop_reconnects_transparently(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        await client.read("1.0.1.7.0.255")
        await sim.drop_connections()
        reading = await client.read("1.0.1.8.0.255")
        assert reading.raw == sim.meter.raw_value("1.0.1.8.0.255")
    assert sim.stats.connections == 2


async def test_drop_fault_is_a_connection_error_for_writes(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        sim.faults.drop_after = sim.stats.requests
        with pytest.raises(DlmsConnectionError):
            await client.remote_disconnect()
        sim.faults.drop_after = None
        await client.remote_disconnect()
        assert sim.meter.output_state is False


async def test_corrupt_frames(sim: DlmsSimulator) -> None:
    client = _client(sim, request_timeout=0.3)
    async with client:
        await client.read("1.0.1.7.0.255")
        if sim.transport is SimTransport.HDLC:
            sim.faults.garbage = True  # junk between frames is skipped
            assert (await client.read("1.0.2.7.0.255")).raw is not None
            sim.faults.garbage = False
        sim.faults.bad_fcs = sim.transport is SimTransport.HDLC
        sim.faults.garbage = sim.transport is SimTransport.WRAPPER
        with pytest.raises(DlmsConnectionError):
            await client.read("1.0.3.7.0.255")
        sim.faults.bad_fcs = sim.faults.garbage = False
        assert (await client.read("1.0.3.7.0.255")).raw is not None


async def test_unreachable_meter() -> None:
    client = DlmsClient(host="127.0.0.1", port=1, request_timeout=1)
    with pytest.raises(DlmsConnectionError, match="cannot reach"):
        await client.connect()


async def test_same_raw_value_as_dlms_cosem() -> None:
    simulator = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW))
    await simulator.start()

    def cosem_read() -> object:
        io = BlockingTcpIO(host="127.0.0.1", port=simulator.port, timeout=5)
        transport = TcpTransport(client_logical_address=16, server_logical_address=1, io=io)
        peer = CosemClient(transport=transport, authentication=NoSecurityAuthentication())
        attribute = cosem.CosemAttribute(
            interface=enumerations.CosemInterface.REGISTER,
            instance=Obis(1, 0, 32, 7, 0, 255),
            attribute=2,
        )
        with peer.session() as session:
            return parse_as_dlms_data(session.get(attribute))

    try:
        theirs = await asyncio.to_thread(cosem_read)
        async with _client(simulator, authentication=DlmsAuthentication.NONE) as client:
            ours = await client.read("1.0.32.7.0.255")
        assert ours.raw == theirs
    finally:
        await simulator.close()


@pytest.mark.parametrize("mode_e", [False, True])
async def test_serial_hdlc_and_optical_mode_e_on_a_pty(mode_e: bool) -> None:
    simulator = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW), transport=SimTransport.HDLC)
    master, slave = os.openpty()
    serving = asyncio.create_task(simulator.serve_serial(master, mode_e=mode_e))
    client = DlmsClient(
        transport=DlmsTransport.OPTICAL if mode_e else DlmsTransport.HDLC_SERIAL,
        serial_port=os.ttyname(slave),
        request_timeout=3,
    )
    try:
        async with client:
            reading = await client.read("1.0.1.8.0.255")
            assert reading.raw == simulator.meter.raw_value("1.0.1.8.0.255")
        if mode_e:
            assert client.identification == "MTLSIM0000000001"
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        os.close(slave)
        os.close(master)


async def test_vendor_profile_defaults_connect_and_release(sim: DlmsSimulator) -> None:
    profile = vendor_profile("generic_management_lls")
    assert vendor_profile("no-such-vendor") is vendor_profile(None)
    client = DlmsClient(
        transport=_CLIENT_TRANSPORT[sim.transport],
        host="127.0.0.1",
        port=sim.port,
        client_address=profile.client_address,
        server_logical=profile.server_logical,
        authentication=profile.authentication,
        password=PASSWORD,
        max_list_items=profile.max_list_items,
    )
    async with client:
        assert (await client.read("1.0.1.8.0.255")).unit == "Wh"
    assert sim.stats.apdus[-1] == 0x62  # RLRQ on close (HDLC DISC follows at link level)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_response_parsers_fuzz_only_typed_errors(data: bytes) -> None:
    client = DlmsClient(host="127.0.0.1")
    client._scalers["1.0.1.8.0.255"] = (1, 30)
    refs = [DlmsAttributeRef(obis="1.0.1.8.0.255"), DlmsAttributeRef(obis="1.0.2.8.0.255")]
    with contextlib.suppress(DlmsError):
        client._parse_list(data, refs)
    with contextlib.suppress(DlmsError):
        list(client.iter_profile(b"\x01" + data, [(8, "0.0.1.0.0.255"), (3, "1.0.1.8.0.255")]))
    with contextlib.suppress(DlmsError):
        client._get_body(b"\xc4" + data)
    with contextlib.suppress(DlmsError):
        client._object_info(DataItem(tag=DataTag.STRUCTURE, value=()))


async def test_unknown_interface_class_is_typed(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        with pytest.raises(DlmsError, match="interface class 250"):
            await client.read("1.0.1.8.0.255", class_id=250)


@pytest.mark.parametrize("chunk_size", [1, 7])
async def test_replies_in_small_chunks(sim: DlmsSimulator, chunk_size: int) -> None:
    sim.faults.chunk_size = chunk_size
    async with _client(sim) as client:
        if chunk_size > 1:  # the segmented object list byte by byte would only cost time
            objects = await client.discover_objects()
            assert len(objects) == len(sim.meter.objects())
        many = await client.read_many([DlmsAttributeRef(obis=o) for o in REGISTERS])
        assert [r.obis for r in many if isinstance(r, DlmsReading)] == REGISTERS


async def test_small_meter_pdu_splits_lists_and_physical_address() -> None:
    simulator = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW), transport=SimTransport.HDLC, max_pdu=64
    )
    await simulator.start()
    try:
        client = _client(simulator, authentication=DlmsAuthentication.NONE, server_physical=0x11)
        async with client:
            registers = list(simulator.meter.registers)[:10]
            before = simulator.stats.requests
            results = await client.read_many([DlmsAttributeRef(obis=o) for o in registers])
            assert simulator.stats.requests - before > 2  # PDU 64 forces more than one list
        assert [r.obis for r in results if isinstance(r, DlmsReading)] == registers
    finally:
        await simulator.close()


async def test_method_reply_lost_is_never_repeated(sim: DlmsSimulator) -> None:
    async with _client(sim) as client:
        await client.read("1.0.1.7.0.255")
        sim.faults.drop_action_reply = True
        with pytest.raises(DlmsReplyLostError, match="may have reached the meter"):
            await client.remote_disconnect()
        assert sim.meter.actions == ["disconnect"]
        assert sim.meter.output_state is False
        reading = await client.read("0.0.96.3.10.255", class_id=70, attribute=2)
        assert reading.value is False
        assert sim.meter.actions == ["disconnect"]
