"""The push listener against the push simulator over TCP and a pty."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import pytest

from custom_components.meterlink.protocols.dlms.errors import (
    DlmsConnectionError,
    DlmsDecipherError,
    DlmsError,
    DlmsIntegrityError,
    DlmsTimeoutError,
)
from custom_components.meterlink.protocols.dlms.listener import KEY_FAILURES, DlmsPushListener
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import PushFraming
from simulators.dlms.han import HanList, PushSecurity
from simulators.dlms.push import PushFaults, PushSimulator, fixed_clock

NOW = dt.datetime(2026, 5, 1, 8, 30)  # noqa: DTZ001
EK = bytes(range(16))
AK = bytes(range(16, 32))


async def test_tcp_listener_skips_bad_frames_and_reconnects() -> None:
    sim = PushSimulator(
        meter=fixed_clock(NOW),
        han_list=HanList.AIDON,
        security=PushSecurity(
            security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
            block_cipher_key=EK,
            authentication_key=AK,
        ),
        faults=PushFaults(),
    )
    await sim.start()
    errors: list[DlmsError] = []
    frames: list[bytes] = []
    listener = DlmsPushListener(
        host="127.0.0.1",
        port=sim.port,
        block_cipher_key=EK,
        authentication_key=AK,
        timeout=3,
        on_error=errors.append,
        on_frame=lambda _, frame: frames.append(frame),
    )
    try:
        async with listener:
            await sim.wait_for_listener()
            sim.faults.bad_checksum = True
            await sim.push()
            sim.faults.bad_checksum = False
            await sim.push()
            notification = await listener.receive()
            assert notification.invocation_counter == 2
            assert notification.push_list.list_id == "AIDON_V0001"
            assert errors
            # after the keys worked, a notification failing its tag is skipped as damage ...
            errors.clear()
            sim.faults.wrong_keys = True
            await sim.push()
            sim.faults.wrong_keys = False
            await sim.push()
            notification = await listener.receive()
            assert notification.invocation_counter == 4
            assert [type(e) for e in errors] == [DlmsIntegrityError]
            # ... and only KEY_FAILURES in a row mean the meter's keys changed
            sim.faults.wrong_keys = True
            for _ in range(KEY_FAILURES - 1):
                await sim.push()
            sim.faults.wrong_keys = False
            await sim.push()  # a good one in between starts the count again
            assert (await listener.receive()).invocation_counter == 7
            sim.faults.wrong_keys = True
            for _ in range(KEY_FAILURES):
                await sim.push()
            with pytest.raises(DlmsDecipherError):
                await listener.receive()
            assert len(errors) == 1 + (KEY_FAILURES - 1) + (KEY_FAILURES - 1)
            sim.faults.wrong_keys = False
            sim.faults.drop_after = 0
            await sim.push()
            with pytest.raises(DlmsConnectionError):
                await listener.receive()
            sim.faults.drop_after = None
            receiving = asyncio.create_task(listener.receive())  # reconnects
            await sim.wait_for_listener()
            await sim.push()
            await receiving
            assert receiving.result().push_list.list_id == "AIDON_V0001"
        assert frames
    finally:
        await sim.close()


async def test_serial_listener_on_a_pty_and_timeout() -> None:
    sim = PushSimulator(meter=fixed_clock(NOW), han_list=HanList.KAIFA, framing=PushFraming.HDLC)
    master, slave = os.openpty()
    sim.attach_pty(master)
    listener = DlmsPushListener(serial_port=os.ttyname(slave), parity="N", timeout=0.5)
    try:
        async with listener:
            await sim.push()
            notification = await listener.receive()
            assert notification.push_list.list_id == "KFM_001"
            voltage = notification.reading("1.0.32.7.0.255")
            assert voltage is not None
            assert voltage.unit == "V"
            with pytest.raises(DlmsTimeoutError):
                await listener.receive()
    finally:
        os.close(slave)
        os.close(master)
