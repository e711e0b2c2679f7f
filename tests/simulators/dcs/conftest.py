"""Fixtures: a DCS simulator on a free loopback port with a fixed clock, and HTTP clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from simulators.dcs import DcsSimulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

NOW = datetime(2025, 1, 1, 0, 10, tzinfo=UTC)  # the simulators' fixed "now"
USER, PASSWORD = "demo", "demo-password"


@pytest.fixture
async def sim() -> AsyncIterator[DcsSimulator]:
    """A started simulator with the default site and a fixed clock."""
    async with DcsSimulator(clock=lambda: NOW) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp client whose cookie jar accepts cookies from IP hosts."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def signin(http: aiohttp.ClientSession, sim: DcsSimulator) -> None:
    """Sign in to the NEW API; assert it worked."""
    async with http.post(
        f"{sim.url}/authentication/signin", json={"username": USER, "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()


async def login_old(http: aiohttp.ClientSession, sim: DcsSimulator) -> None:
    """Log in to the OLD API; assert it worked."""
    async with http.post(
        f"{sim.url}/api/account/login/", json={"username": USER, "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()


async def get_json(
    http: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET a URL; return the status and the decoded JSON body."""
    async with http.get(url, params=params) as response:
        return response.status, await response.json(content_type=None)


def iso(ts: str) -> datetime:
    """Parse a DCS timestamp."""
    return datetime.fromisoformat(ts)
