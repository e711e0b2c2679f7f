"""Fixtures: the EKM simulator on a real pty and TCP port, and a client bus on either."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custom_components.meterlink.protocols.ekm.client import EkmBus
from custom_components.meterlink.protocols.ekm.models import EkmVersion
from simulators.ekm.bus import EkmSimBus
from simulators.ekm.meter import SimMeter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

V4_1 = "000300001285"
V4_2 = "000300001317"
V3_1 = "000000020870"
FAST = 460800  # most tests run the wire fast; the timing test uses 9600


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_716_981_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[EkmSimBus]:
    meters = [
        SimMeter(address=V4_1, clock=clock),
        SimMeter(address=V4_2, clock=clock, power_w=(1000.0, 0.0, 0.0)),
        SimMeter(address=V3_1, version=EkmVersion.V3, clock=clock),
    ]
    bus = EkmSimBus(meters, baudrate=FAST, turnaround=0.002)
    yield bus
    await bus.close()


@pytest.fixture(params=["tcp", "pty"])
async def url(request: pytest.FixtureRequest, sim: EkmSimBus) -> str:
    if request.param == "tcp":
        return f"127.0.0.1:{await sim.start_tcp()}"
    return sim.start_pty()


TURNAROUND = 0.08  # client allowance; the simulator answers after 2 ms
CHAR_GAP = 0.03


@pytest.fixture
async def bus(url: str) -> AsyncIterator[EkmBus]:
    """A client on the simulator's TCP port or its pty (both are tested)."""
    async with EkmBus(port=url, baudrate=FAST, turnaround=TURNAROUND, char_gap=CHAR_GAP) as client:
        yield client


@pytest.fixture
async def tcp_bus(sim: EkmSimBus) -> AsyncIterator[EkmBus]:
    """A client on the simulator's TCP port only."""
    port = await sim.start_tcp()
    async with EkmBus(
        port=f"127.0.0.1:{port}", baudrate=FAST, turnaround=TURNAROUND, char_gap=CHAR_GAP
    ) as client:
        yield client
