"""HLS-GMAC association, ciphered requests and the invocation counter against the simulator."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.dlms.client import (
    DlmsAttributeRef,
    DlmsAuthentication,
    DlmsClient,
    DlmsTransport,
)
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsAuthenticationError,
    DlmsIntegrityError,
)
from custom_components.meterlink.protocols.dlms.models import DlmsReading
from simulators.dlms.cosem import ServerSecurity
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, SimTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001
EK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AK = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
TITLE = b"MTL00001"


@pytest.fixture(params=[SimTransport.WRAPPER, SimTransport.HDLC])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[DlmsSimulator]:
    simulator = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        transport=request.param,
        security=ServerSecurity(block_cipher_key=EK, authentication_key=AK),
        max_pdu=200,
    )
    await simulator.start()
    yield simulator
    await simulator.close()


def _client(sim: DlmsSimulator, counters: list[int], **kwargs: object) -> DlmsClient:
    options: dict[str, object] = {
        "transport": (
            DlmsTransport.WRAPPER
            if sim.transport is SimTransport.WRAPPER
            else DlmsTransport.HDLC_TCP
        ),
        "host": "127.0.0.1",
        "port": sim.port,
        "client_address": 1,
        "authentication": DlmsAuthentication.HIGH_GMAC,
        "block_cipher_key": EK,
        "authentication_key": AK,
        "system_title": TITLE,
        "invocation_counter": 100,
        "on_invocation_counter": counters.append,
        "request_timeout": 2.0,
    }
    options.update(kwargs)
    return DlmsClient(**options)  # type: ignore[arg-type]


async def test_hls_gmac_reads_writes_and_streams_ciphered(sim: DlmsSimulator) -> None:
    counters: list[int] = []
    frames: list[bytes] = []
    async with _client(sim, counters, on_frame=lambda _, frame: frames.append(frame)) as client:
        energy = await client.read("1.0.1.8.0.255")
        assert energy.value == pytest.approx(sim.meter.physical_value("1.0.1.8.0.255"))
        many = await client.read_many(
            [DlmsAttributeRef(obis=o) for o in list(sim.meter.registers)[:12]]
        )
        assert all(isinstance(r, DlmsReading) for r in many)
        objects = await client.discover_objects()  # needs ciphered GET-next blocks (max PDU 200)
        assert len(objects) == len(sim.meter.objects())
        await client.remote_disconnect()
        assert sim.meter.output_state is False
    assert sim.security is not None
    seen = sim.security.client_counters[TITLE]
    assert counters[-1] == seen + 1  # the next counter to use is what gets persisted
    assert counters == sorted(counters)
    assert not any(EK in frame or AK in frame for frame in frames)
    assert b"SIM0000000001" not in b"".join(frames)  # ciphered on the wire


async def test_counter_survives_restart_and_is_resynchronised(sim: DlmsSimulator) -> None:
    counters: list[int] = []
    async with _client(sim, counters) as client:
        await client.read("1.0.1.7.0.255")
    persisted = counters[-1]
    # A restart that restores the persisted counter goes straight in.
    async with _client(sim, counters, invocation_counter=persisted) as client:
        await client.read("1.0.1.7.0.255")
    connections = sim.stats.connections
    # A restart that lost it (counter 1 <= what the meter saw) is refused, then resynchronised
    # through the public client's read of 0.0.43.1.0.255.
    async with _client(sim, counters, invocation_counter=1) as client:
        reading = await client.read("1.0.1.7.0.255")
        assert reading.raw is not None
    assert sim.stats.connections == connections + 3  # refused, public read, accepted
    assert counters[-1] > persisted


async def test_wrong_key_is_an_authentication_error(sim: DlmsSimulator) -> None:
    counters: list[int] = []
    with pytest.raises(DlmsAuthenticationError) as err:
        await _client(sim, counters, authentication_key=bytes(16)).connect()
    assert err.value.secret == "block_cipher_key"
    assert "authentication key" in str(err.value)


async def test_counter_rejected_mid_session_reassociates(sim: DlmsSimulator) -> None:
    counters: list[int] = []
    async with _client(sim, counters) as client:
        await client.read("1.0.1.7.0.255")
        assert sim.security is not None
        # Another head-end used our title with a far higher counter: the meter now rejects ours.
        sim.security.client_counters[TITLE] += 1000
        reading = await client.read("1.0.2.7.0.255")
        assert reading.value == pytest.approx(sim.meter.physical_value("1.0.2.7.0.255"))
        assert client.invocation_counter == sim.security.client_counters[TITLE] + 1
    assert counters[-1] > 1000


async def test_bad_tag_after_association_is_not_a_key_error() -> None:
    """The association proved the keys: a reply failing its tag is damage, not a wrong key."""
    sim = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW),
        security=ServerSecurity(block_cipher_key=EK, authentication_key=AK),
    )
    await sim.start()
    try:
        async with _client(sim, []) as client:
            await client.read("1.0.1.7.0.255")
            sim.faults.bad_tag = True
            with pytest.raises(DlmsIntegrityError, match="integrity"):
                await client.read("1.0.1.7.0.255")
            sim.faults.bad_tag = False
            assert (await client.read("1.0.1.7.0.255")).raw is not None
    finally:
        await sim.close()
