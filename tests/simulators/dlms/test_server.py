"""The simulator answers two independent clients: gurux_dlms and dlms-cosem."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from typing import TYPE_CHECKING

from dlms_cosem import cosem, enumerations
from dlms_cosem.client import DlmsClient
from dlms_cosem.cosem import Obis
from dlms_cosem.io import BlockingTcpIO, HdlcTransport, TcpTransport
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
)
from dlms_cosem.utils import parse_as_dlms_data
from gurux_dlms import GXByteBuffer, GXDLMSClient, GXReplyData  # type: ignore[import-untyped]
from gurux_dlms.enums import Authentication, InterfaceType  # type: ignore[import-untyped]
from gurux_dlms.objects import (  # type: ignore[import-untyped]
    GXDLMSDisconnectControl,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)
import pytest
import structlog

from simulators.dlms.cosem import ServerSecurity
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, SimTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001
PASSWORD = b"lls-9f4e2b71"
EK = bytes(range(16))
AK = bytes(range(16, 32))

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.fixture(params=[SimTransport.WRAPPER, SimTransport.HDLC])
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[DlmsSimulator]:
    sim = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        transport=request.param,
        password=PASSWORD,
        max_pdu=300,
        max_info=64,
    )
    await sim.start()
    yield sim
    await sim.close()


class _Gurux:
    """Drive a gurux client over an asyncio stream (the way client.py does it, inline)."""

    def __init__(self, sim: DlmsSimulator) -> None:
        interface = (
            InterfaceType.WRAPPER if sim.transport is SimTransport.WRAPPER else InterfaceType.HDLC
        )
        self.client = GXDLMSClient(True, 16, 1, Authentication.LOW, PASSWORD.decode(), interface)
        self.sim = sim

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.sim.port)

    async def call(self, frames: object) -> GXReplyData:
        reply = GXReplyData()
        for frame in frames if isinstance(frames, list) else [frames]:
            self.writer.write(bytes(frame))
            await self.writer.drain()
            notify, buf = GXReplyData(), GXByteBuffer()
            while True:
                while not self.client.getData(buf, reply, notify):
                    buf.set(await asyncio.wait_for(self.reader.read(4096), 5))
                if not reply.isMoreData():
                    break
                self.writer.write(bytes(self.client.receiverReady(reply)))
                await self.writer.drain()
                buf = GXByteBuffer()
        return reply


async def test_gurux_reads_registers_object_list_and_profile(simulator: DlmsSimulator) -> None:
    gx = _Gurux(simulator)
    await gx.open()
    client = gx.client
    if simulator.transport is SimTransport.HDLC:
        client.parseUAResponse((await gx.call(client.snrmRequest())).data)
    client.parseAareResponse((await gx.call(client.aarqRequest())).data)
    register = GXDLMSRegister("1.0.32.7.0.255")
    client.updateValue(register, 3, (await gx.call(client.read(register, 3))).value)
    value = client.updateValue(register, 2, (await gx.call(client.read(register, 2))).value)
    assert value == pytest.approx(simulator.meter.physical_value("1.0.32.7.0.255"))
    objects = client.parseObjects((await gx.call(client.getObjectsRequest())).data, True)
    names = {str(obj.logicalName) for obj in objects}
    assert {"1.0.1.8.0.255", "0.0.96.3.10.255", "1.0.99.1.0.255", "0.0.1.0.0.255"} <= names
    profile = GXDLMSProfileGeneric("1.0.99.1.0.255")
    client.updateValue(profile, 3, (await gx.call(client.read(profile, 3))).value)
    start, end = NOW - dt.timedelta(hours=5), NOW - dt.timedelta(hours=1)
    client.updateValue(
        profile, 2, (await gx.call(client.readRowsByRange(profile, start, end))).value
    )
    assert len(profile.buffer) == 17
    relay = GXDLMSDisconnectControl("0.0.96.3.10.255")
    assert (await gx.call(relay.remoteDisconnect(client))).error == 0
    assert simulator.meter.output_state is False
    await gx.call(client.releaseRequest())
    gx.writer.close()
    await gx.writer.wait_closed()


def _dlms_cosem_read(port: int, transport: SimTransport) -> list[object]:
    io = BlockingTcpIO(host="127.0.0.1", port=port, timeout=5)
    if transport is SimTransport.WRAPPER:
        link = TcpTransport(client_logical_address=16, server_logical_address=1, io=io)
    else:
        link = HdlcTransport(client_logical_address=16, server_logical_address=1, io=io)
    client = DlmsClient(
        transport=link, authentication=LowLevelSecurityAuthentication(secret=PASSWORD)
    )
    register = enumerations.CosemInterface.REGISTER
    with client.session() as session:
        value = session.get(
            cosem.CosemAttribute(interface=register, instance=Obis(1, 0, 1, 8, 0, 255), attribute=2)
        )
        scaler = session.get(
            cosem.CosemAttribute(interface=register, instance=Obis(1, 0, 1, 8, 0, 255), attribute=3)
        )
        count = None
        if transport is SimTransport.WRAPPER:
            # Over HDLC dlms-cosem 25.1.0 cuts a frame at a 0x7E inside its FCS (u9n/dlms-cosem#97),
            # which the segmented object list happens to hit; read it over the wrapper only.
            objects = session.get(
                cosem.CosemAttribute(
                    interface=enumerations.CosemInterface.ASSOCIATION_LN,
                    instance=Obis(0, 0, 40, 0, 0, 255),
                    attribute=2,
                )
            )
            count = len(parse_as_dlms_data(objects))
    return [parse_as_dlms_data(value), parse_as_dlms_data(scaler), count]


async def test_dlms_cosem_reads_registers(simulator: DlmsSimulator) -> None:
    value, scaler_unit, object_count = await asyncio.to_thread(
        _dlms_cosem_read, simulator.port, simulator.transport
    )
    assert value == simulator.meter.raw_value("1.0.1.8.0.255")
    assert scaler_unit == [1, 30]
    if simulator.transport is SimTransport.WRAPPER:
        assert object_count == len(simulator.meter.objects())
    assert simulator.stats.requests >= 4


def test_meter_energy_rises_with_power() -> None:
    meter = SimulatedMeter(now=lambda: NOW)
    later = NOW + dt.timedelta(hours=1)
    delta_wh = meter.physical_value("1.0.1.8.0.255", later) - meter.physical_value(
        "1.0.1.8.0.255", NOW
    )
    mean_w = (
        meter.physical_value("1.0.1.7.0.255", NOW) + meter.physical_value("1.0.1.7.0.255", later)
    ) / 2
    assert delta_wh == pytest.approx(mean_w, rel=0.05)
    rows = list(meter.profile_rows(NOW - dt.timedelta(days=31), NOW))
    assert len(rows) == 31 * 96 + 1
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(rows))


def _dlms_cosem_hls_read(port: int) -> object:
    io = BlockingTcpIO(host="127.0.0.1", port=port, timeout=5)
    client = DlmsClient(
        transport=TcpTransport(client_logical_address=1, server_logical_address=1, io=io),
        authentication=HighLevelSecurityGmacAuthentication(challenge_length=32),
        encryption_key=EK,
        authentication_key=AK,
        client_system_title=b"COSEM001",
        client_initial_invocation_counter=7,
    )
    register = enumerations.CosemInterface.REGISTER
    with client.session() as session:
        return parse_as_dlms_data(
            session.get(
                cosem.CosemAttribute(
                    interface=register, instance=Obis(1, 0, 1, 8, 0, 255), attribute=2
                )
            )
        )


async def test_dlms_cosem_reads_over_hls_gmac_with_ciphering() -> None:
    sim = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        security=ServerSecurity(block_cipher_key=EK, authentication_key=AK),
    )
    await sim.start()
    try:
        value = await asyncio.to_thread(_dlms_cosem_hls_read, sim.port)
    finally:
        await sim.close()
    assert value == sim.meter.raw_value("1.0.1.8.0.255")
    assert sim.security is not None
    assert sim.security.client_counters[b"COSEM001"] >= 7
