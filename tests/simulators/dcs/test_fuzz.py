"""Arbitrary query strings never crash the simulator: every answer is 200, 400 or 403 JSON."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
import threading
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import requests

from simulators.dcs import DcsSimulator

from .conftest import PASSWORD, USER

if TYPE_CHECKING:
    from collections.abc import Iterator

EARLY = datetime(2000, 2, 1, tzinfo=UTC)  # "now" one month after the data start: small bodies

TIMES = st.sampled_from(
    [
        "2000-01-01T00:00:00Z",
        "2000-01-03T00:00:00Z",
        "2000-01-10T00:00:00Z",
        "1999-12-01T00:00:00Z",
        "2000-01-01T00:30:00+00:00",
        "2000-01-01T00:15:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-01T00:00:00Z",
        "2000-01-01",
        "2000-13-01T00:00:00Z",
        "",
    ]
)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
NUMBERS = st.sampled_from(["0", "1", "3", "48", "-1", "10000000", "99999999999", "2.5", "²", "٣"])


def maybe(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly plausible values, sometimes junk."""
    return st.one_of(strategy, WORDS)


NEW_QUERY = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(st.sampled_from(["R733", "r734", "VM9", "vm10", "R1", "VM", "X9"])),
        "format": maybe(st.sampled_from(["standard", "COMPLETE", "csv"])),
        "startTime": maybe(TIMES),
        "endTime": maybe(TIMES),
        "periodCount": maybe(NUMBERS),
        "periodType": maybe(st.sampled_from(["halfhour", "hour", "Day", "week", "month", "year"])),
        "calibrated": maybe(st.sampled_from(["true", "False", "TRUE", "1"])),
        "interpolated": maybe(st.sampled_from(["true", "false", "yes"])),
    },
)
OLD_QUERY = st.fixed_dictionaries(
    {},
    optional={
        "registerId": maybe(NUMBERS | st.sampled_from(["733", "734", "760"])),
        "start": maybe(TIMES | st.sampled_from(["2000-01-01", "2000-01-03T05:00:00"])),
        "end": maybe(TIMES | st.sampled_from(["2000-01-02", "2000-02-01"])),
        "integrationPeriod": maybe(st.sampled_from(["halfHour", "hour", "day", "week", "month"])),
        "useLocalTime": maybe(st.sampled_from(["true", "false"])),
        "decimalPlaces": maybe(NUMBERS | st.sampled_from(["15", "16"])),
        "calibrated": maybe(st.sampled_from(["true", "false"])),
        "interpolated": maybe(st.sampled_from(["true", "false"])),
        "source": maybe(st.sampled_from(["automatic", "manual", "merged", "guess"])),
    },
)


class ThreadedSimulator:
    """A DcsSimulator served by its own event loop in a background thread."""

    def __init__(self, **kwargs: Any) -> None:
        """Create the loop and the simulator (not started)."""
        self.loop = asyncio.new_event_loop()
        self.sim = DcsSimulator(**kwargs)
        self.thread = threading.Thread(target=self.loop.run_forever, name="dcs-sim-loop")

    def __enter__(self) -> DcsSimulator:
        """Start the loop thread, then the simulator on it."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(timeout=10)
        return self.sim

    def __exit__(self, *exc: object) -> None:
        """Stop the simulator, the loop and the thread."""
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def served() -> Iterator[tuple[DcsSimulator, requests.Session]]:
    """A threaded simulator with an early clock, and a requests session logged in to both APIs."""
    with ThreadedSimulator(clock=lambda: EARLY) as sim, requests.Session() as http:
        for path in ("/authentication/signin", "/api/account/login/"):
            reply = http.post(sim.url + path, json={"username": USER, "password": PASSWORD})
            assert reply.status_code == 200
        yield sim, http


def check(reply: requests.Response) -> None:
    """Every answer is 200 with valid JSON, or 400/403 with a details string."""
    assert reply.status_code in (200, 400, 403), (reply.status_code, reply.text[:300])
    body = json.loads(reply.content)
    if reply.status_code != 200:
        assert isinstance(body["details"], str)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=NEW_QUERY)
def test_new_api_readings_never_crash(
    served: tuple[DcsSimulator, requests.Session], query: dict[str, str]
) -> None:
    sim, http = served
    check(http.get(f"{sim.url}/readings", params=query, timeout=10))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=OLD_QUERY, virtual=st.booleans())
def test_old_api_readings_never_crash(
    served: tuple[DcsSimulator, requests.Session], query: dict[str, str], virtual: bool
) -> None:
    sim, http = served
    if virtual and "registerId" in query:
        query = {**query, "virtualMeterId": query.pop("registerId")}
    path = "VirtualMeterReadings" if virtual else "registerReadings"
    check(http.get(f"{sim.url}/api/{path}/list/", params=query, timeout=10))
