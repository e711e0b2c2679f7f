"""The push simulator emits frames the listen-mode decoder reads, on TCP and on a pty."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import termios
import tty
from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.dlms.errors import (
    DlmsChecksumError,
    DlmsDecipherError,
    DlmsError,
    DlmsFramingError,
)
from custom_components.meterlink.protocols.dlms.models import (
    DlmsPushNotification,
    DlmsSecurity,
)
from custom_components.meterlink.protocols.dlms.push import DlmsPushDecoder, PushFraming
from simulators.dlms.han import HanList, PushSecurity
from simulators.dlms.push import PushFaults, PushSimulator, fixed_clock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOW = dt.datetime(2026, 5, 1, 8, 30)  # noqa: DTZ001
EK = bytes(range(16))
AK = bytes(range(16, 32))


async def _next(
    reader: asyncio.StreamReader, decoder: DlmsPushDecoder
) -> DlmsPushNotification | DlmsError:
    async with asyncio.timeout(3):
        while True:
            try:
                notification = decoder.next_notification()
            except DlmsError as err:
                return err
            if notification is not None:
                return notification
            decoder.feed(await reader.read(4096))


@pytest.fixture
async def pusher(request: pytest.FixtureRequest) -> AsyncIterator[PushSimulator]:
    framing, security = request.param
    sim = PushSimulator(
        meter=fixed_clock(NOW),
        han_list=HanList.AIDON if framing is PushFraming.HDLC else HanList.LANDIS_GYR,
        framing=framing,
        security=PushSecurity(security=security, block_cipher_key=EK, authentication_key=AK),
        faults=PushFaults(),
        max_info=100,
    )
    await sim.start()
    yield sim
    await sim.close()


CASES = [
    (framing, security)
    for framing in (PushFraming.HDLC, PushFraming.MBUS)
    for security in (
        DlmsSecurity.NONE,
        DlmsSecurity.ENCRYPTION,
        DlmsSecurity.AUTHENTICATED_ENCRYPTION,
    )
]


@pytest.mark.parametrize("pusher", CASES, indirect=True, ids=lambda c: f"{c[0]}-{c[1]}")
async def test_pushes_over_tcp_decode_to_meter_values(pusher: PushSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pusher.port)
    await pusher.wait_for_listener()
    decoder = DlmsPushDecoder(framing=pusher.framing, block_cipher_key=EK, authentication_key=AK)
    await pusher.push()
    await pusher.push()
    first, second = await _next(reader, decoder), await _next(reader, decoder)
    assert isinstance(first, DlmsPushNotification)
    assert isinstance(second, DlmsPushNotification)
    assert first.security is pusher.security.security
    if pusher.security.security is not DlmsSecurity.NONE:
        assert (first.invocation_counter, second.invocation_counter) == (1, 2)
    power = first.reading("1.0.1.7.0.255")
    assert power is not None
    assert power.value == round(pusher.meter.physical_value("1.0.1.7.0.255"))
    voltage = first.reading("1.0.32.7.0.255")
    assert voltage is not None
    assert voltage.value == pytest.approx(pusher.meter.physical_value("1.0.32.7.0.255"), abs=0.1)
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize(
    "pusher",
    [
        (PushFraming.HDLC, DlmsSecurity.AUTHENTICATED_ENCRYPTION),
        (PushFraming.MBUS, DlmsSecurity.ENCRYPTION),
    ],
    indirect=True,
)
async def test_push_faults(pusher: PushSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", pusher.port)
    await pusher.wait_for_listener()
    decoder = DlmsPushDecoder(framing=pusher.framing, block_cipher_key=EK, authentication_key=AK)
    pusher.faults.bad_checksum = True
    await pusher.push()
    assert isinstance(await _next(reader, decoder), DlmsChecksumError)
    pusher.faults.bad_checksum = False
    pusher.faults.wrong_keys = True
    await pusher.push()
    result = await _next(reader, decoder)
    while isinstance(result, DlmsChecksumError):  # one per corrupted segment
        result = await _next(reader, decoder)
    assert isinstance(result, DlmsDecipherError)
    pusher.faults.wrong_keys = False
    pusher.faults.garbage = True
    await pusher.push()
    result = await _next(reader, decoder)
    skipped = 0
    while isinstance(result, DlmsFramingError):  # junk in front of each frame is reported
        skipped += 1
        result = await _next(reader, decoder)
    assert skipped >= 1
    assert isinstance(result, DlmsPushNotification)
    pusher.faults.garbage = False
    pusher.faults.stall = True
    assert await pusher.push() == b""
    pusher.faults.stall = False
    pusher.faults.drop_after = 0
    await pusher.push()
    async with asyncio.timeout(3):
        assert await reader.read() == b""
    writer.close()


async def test_push_on_a_pty() -> None:
    sim = PushSimulator(meter=fixed_clock(NOW), han_list=HanList.KAMSTRUP)
    master, slave = os.openpty()
    sim.attach_pty(master)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(os.dup(slave), "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        tty.setraw(slave, termios.TCSANOW)
        await sim.push()
        notification = await _next(reader, DlmsPushDecoder())
        assert isinstance(notification, DlmsPushNotification)
        assert notification.push_list.list_id == "Kamstrup_V0001"
        assert notification.push_list.manufacturer == "Kamstrup"
    finally:
        transport.close()
        os.close(slave)
        os.close(master)


@pytest.mark.parametrize(
    "args",
    [
        ["--transport", "hdlc"],
        ["--push", "kaifa", "--security", "encryption", "--block-cipher-key", EK.hex()],
    ],
)
async def test_cli_prints_one_line(args: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.dlms",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("DLMS ")
        assert "127.0.0.1:" in line
    finally:
        process.terminate()
        await process.wait()
