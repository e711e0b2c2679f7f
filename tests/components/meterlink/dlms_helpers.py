"""Helpers of the DLMS Home Assistant tests: simulators and the entries a flow would create."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import datetime as dt
from typing import Any

from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import PushFraming
from custom_components.meterlink.systems.dlms.const import (
    CONF_AUTHENTICATION,
    CONF_AUTHENTICATION_KEY,
    CONF_BLOCK_CIPHER_KEY,
    CONF_CLASSES,
    CONF_CLIENT_ADDRESS,
    CONF_DISCONNECT,
    CONF_FRAMING,
    CONF_HOST,
    CONF_METER_ID,
    CONF_MODE,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_REGISTERS,
    CONF_SERVER_LOGICAL,
    CONF_SOURCE,
    CONF_SYSTEM_TITLE,
    CONF_TRANSPORT,
    CONF_VENDOR,
)
from simulators.dlms.cosem import ServerSecurity
from simulators.dlms.han import HanList, PushSecurity
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.push import PushSimulator, fixed_clock
from simulators.dlms.server import DlmsSimulator, SimTransport

NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001 - meter local time
EK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AK = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
PASSWORD = "lls-9f4e2b71"
SERIAL = "SIM0000000001"
HAN_METER_ID = SERIAL  # the push simulator sends its meter serial as the meter id
REGISTERS = [
    "1.0.1.8.0.255",
    "1.0.2.8.0.255",
    "1.0.3.8.0.255",
    "1.0.1.7.0.255",
    "1.0.32.7.0.255",
    "1.0.31.7.0.255",
    "1.0.14.7.0.255",
    "1.0.13.7.0.255",
]


@contextlib.asynccontextmanager
async def meter_sim(
    *,
    transport: SimTransport = SimTransport.WRAPPER,
    password: str | None = None,
    hls: bool = False,
    serial: str = SERIAL,
) -> AsyncIterator[DlmsSimulator]:
    """A DLMS meter simulator on a free loopback port with a frozen meter clock."""
    sim = DlmsSimulator(
        meter=SimulatedMeter(now=lambda: NOW, serial=serial),
        transport=transport,
        password=password.encode() if password else None,
        security=ServerSecurity(block_cipher_key=EK, authentication_key=AK) if hls else None,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@contextlib.asynccontextmanager
async def push_sim(
    *,
    ciphered: bool = False,
    han_list: HanList = HanList.AIDON,
    framing: PushFraming = PushFraming.HDLC,
) -> AsyncIterator[PushSimulator]:
    """A push (HAN) simulator sending a list (Aidon by default) over TCP, optionally ciphered."""
    security = (
        PushSecurity(
            security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
            block_cipher_key=EK,
            authentication_key=AK,
        )
        if ciphered
        else PushSecurity()
    )
    sim = PushSimulator(
        meter=fixed_clock(NOW), han_list=han_list, framing=framing, security=security
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@contextlib.asynccontextmanager
async def pushing(sim: PushSimulator, interval: float = 0.05) -> AsyncIterator[None]:
    """Push a notification every ``interval`` seconds, as a HAN port does, in the background."""
    task = asyncio.create_task(sim.run(interval))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def polled_data(sim: DlmsSimulator, **overrides: Any) -> dict[str, Any]:
    """Return the entry data a completed polled flow stores for ``sim``."""
    data: dict[str, Any] = {
        CONF_SYSTEM: "dlms",
        CONF_MODE: "polled",
        CONF_VENDOR: "generic",
        CONF_TRANSPORT: "wrapper" if sim.transport is SimTransport.WRAPPER else "hdlc_tcp",
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_CLIENT_ADDRESS: 16,
        CONF_SERVER_LOGICAL: 1,
        CONF_AUTHENTICATION: "none",
        CONF_SYSTEM_TITLE: "4d544c3030303031",
        CONF_METER_ID: SERIAL,
    }
    if sim.password:
        data |= {CONF_CLIENT_ADDRESS: 1, CONF_AUTHENTICATION: "low", CONF_PASSWORD: PASSWORD}
    if sim.security:
        data |= {
            CONF_CLIENT_ADDRESS: 1,
            CONF_AUTHENTICATION: "high_gmac",
            CONF_BLOCK_CIPHER_KEY: EK.hex(),
            CONF_AUTHENTICATION_KEY: AK.hex(),
        }
    data.update(overrides)
    return data


def polled_options(**overrides: Any) -> dict[str, Any]:
    """Return options reading REGISTERS and the relay every minute."""
    options: dict[str, Any] = {
        CONF_REGISTERS: list(REGISTERS),
        CONF_CLASSES: dict.fromkeys(REGISTERS, 3),
        CONF_DISCONNECT: True,
        CONF_SCAN_INTERVAL: 60,
        "import_statistics": False,
        CONF_CAPTURE_FRAMES: False,
    }
    options.update(overrides)
    return options


def listen_data(sim: PushSimulator, **overrides: Any) -> dict[str, Any]:
    """Return the entry data a completed listen flow stores for ``sim``."""
    data: dict[str, Any] = {
        CONF_SYSTEM: "dlms",
        CONF_MODE: "listen",
        CONF_SOURCE: f"socket://127.0.0.1:{sim.port}",
        CONF_FRAMING: "hdlc",
        CONF_METER_ID: HAN_METER_ID,
        CONF_REGISTERS: ["1.0.1.7.0.255", "1.0.1.8.0.255", "1.0.32.7.0.255"],
    }
    if sim.security.block_cipher_key:
        data |= {CONF_BLOCK_CIPHER_KEY: EK.hex(), CONF_AUTHENTICATION_KEY: AK.hex()}
    data.update(overrides)
    return data


def add_entry(
    hass: HomeAssistant,
    data: dict[str, Any],
    options: dict[str, Any],
    *,
    entry_id: str | None = None,
) -> MockConfigEntry:
    """Add (not set up) an entry."""
    kwargs: dict[str, Any] = {"entry_id": entry_id} if entry_id else {}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"DLMS {data[CONF_METER_ID]}",
        data=data,
        options=options,
        unique_id=data[CONF_METER_ID],
        **kwargs,
    )
    entry.add_to_hass(hass)
    return entry
