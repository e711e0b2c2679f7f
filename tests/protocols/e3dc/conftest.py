"""Fixtures: a simulated E3/DC on loopback and a client logged in to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.e3dc.client import RscpClient
from simulators.e3dc.model import PowerModel
from simulators.e3dc.server import E3dcSimulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOON = 1_750_000_000 - 1_750_000_000 % 86400 + 12 * 3600  # a summer day at 12:00 UTC
USER = "user@example.com"
PASSWORD = "portal-password"
KEY = "simulator-key"


class Clock:
    """A settable clock shared by simulator and client."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[E3dcSimulator]:
    simulator = E3dcSimulator(rscp_key=KEY, model=PowerModel(), clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


def make_client(sim: E3dcSimulator, **kwargs: object) -> RscpClient:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": sim.port,
        "username": USER,
        "password": PASSWORD,
        "rscp_key": KEY,
        "timeout": 2.0,
        "keepalive_s": None,
    }
    options.update(kwargs)
    return RscpClient(**options)  # type: ignore[arg-type]


@pytest.fixture
async def client(sim: E3dcSimulator) -> AsyncIterator[RscpClient]:
    rscp = make_client(sim)
    await rscp.connect()
    yield rscp
    await rscp.close()
