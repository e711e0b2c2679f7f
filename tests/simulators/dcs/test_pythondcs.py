"""pythondcs 1.1.1 (the PyPI peer client) works unchanged against the DCS simulator.

pythondcs is synchronous (requests); each call runs in a worker thread via ``asyncio.to_thread``
while the simulator serves from the test's event loop.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
import logging
from typing import TYPE_CHECKING, Any

import pytest
import pythondcs  # type: ignore[import-untyped]
import pythondcspro  # type: ignore[import-untyped]
import requests

from simulators.dcs import DcsSimulator

from .conftest import NOW, PASSWORD, USER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

JAN = datetime(2024, 1, 1, tzinfo=UTC)


async def call[T](fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking pythondcs call in a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def drain(result: dict[str, Any]) -> dict[str, Any]:
    """Consume an iterator-mode readings result into a plain dict (in the worker thread)."""
    return {**result, "readings": list(result["readings"])}


@pytest.fixture
async def web_api(sim: DcsSimulator) -> AsyncIterator[Any]:
    """A signed-in pythondcs.DcsWebApi; signed out and closed afterwards."""
    api = await call(pythondcs.DcsWebApi, sim.url, USER, PASSWORD)
    assert api.username == USER
    yield api
    if api.username is not None:
        await call(api.signout)
    api.s.close()


async def test_signin_meters_virtual_meters_status(sim: DcsSimulator, web_api: Any) -> None:
    assert web_api.role == "Operator"
    meters = await call(web_api.meters)
    assert [m["id"] for m in meters] == [m.id for m in sim.meters]
    assert await call(lambda: list(web_api.meters(iterator=True))) == meters
    vms = await call(web_api.virtualmeters)
    assert [vm["name"] for vm in vms] == ["Site Electricity", "Site Power"]
    assert await call(lambda: list(web_api.virtualmeters(iterator=True))) == vms
    assert (await call(web_api.status))["appVersion"] == "3.0.0"
    assert sim.stats.requests["/meters"] == 2  # the authenticated routes were used
    assert sim.stats.max_concurrent == 1


@pytest.mark.parametrize("iterator", [False, True])
@pytest.mark.parametrize("fmt", ["standard", "complete"])
async def test_register_readings(sim: DcsSimulator, web_api: Any, iterator: bool, fmt: str) -> None:
    def fetch() -> dict[str, Any]:
        result = web_api.readings(
            "R733", startTime=JAN, periodCount=48, format=fmt, iterator=iterator
        )
        return drain(result) if iterator else result

    result = await call(fetch)
    assert result["startTime"] == JAN
    assert result["endTime"] == JAN + timedelta(days=1)
    assert result["name"] == "Main Incomer: Active Energy (import)"
    rows = result["readings"]
    assert [r["timestamp"] for r in rows] == [JAN + timedelta(minutes=30 * i) for i in range(48)]
    key = "value" if fmt == "standard" else "totalValue"
    for row in rows:  # pythondcs asks for calibrated=True by default
        end = row["timestamp"] + timedelta(minutes=30)
        assert row[key] == sim.register_total(733, end, calibrated=True)
    if fmt == "complete":
        assert all(r["periodValue"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("period", "start", "end", "count"),
    [
        ("day", date(2024, 1, 1), date(2024, 2, 1), 31),
        ("week", date(2024, 1, 1), date(2024, 3, 4), 9),
        ("month", date(2024, 1, 1), date(2025, 1, 1), 12),
    ],
)
async def test_period_types(web_api: Any, period: str, start: date, end: date, count: int) -> None:
    for iterator in (False, True):

        def fetch(iterator: bool = iterator) -> dict[str, Any]:
            result = web_api.readings(
                "R760", startTime=start, endTime=end, periodType=period, iterator=iterator
            )
            return drain(result) if iterator else result

        result = await call(fetch)
        assert len(result["readings"]) == count
        assert result["periodType"] == {"day": "day", "week": "week", "month": "month"}[period]


async def test_virtual_meter_readings(web_api: Any) -> None:
    result = await call(web_api.readings, "VM9", startTime=JAN, periodCount=24, periodType="hour")
    assert len(result["readings"]) == 24
    assert all(r["value"] > 0 for r in result["readings"])
    power = await call(
        lambda: drain(web_api.readings("VM10", endTime=JAN, periodCount=4, iterator=True))
    )
    assert [r["timestamp"] for r in power["readings"]][-1] == JAN - timedelta(minutes=30)
    with pytest.raises(requests.HTTPError, match="not supported for virtual meters"):
        await call(web_api.readings, "VM9", startTime=JAN, periodCount=2, format="complete")


@pytest.mark.parametrize("iterator", [False, True])
async def test_largereadings_across_chunks(sim: DcsSimulator, web_api: Any, iterator: bool) -> None:
    def fetch() -> dict[str, Any]:
        result = web_api.largereadings(
            "R740",
            startTime=JAN,
            endTime=JAN + timedelta(days=90),
            maxwindow=timedelta(days=30),
            iterator=iterator,
        )
        return drain(result) if iterator else result

    before = sim.stats.requests["/readings"]
    result = await call(fetch)
    assert sim.stats.requests["/readings"] - before == 3
    rows = result["readings"]
    assert len(rows) == 90 * 48
    assert rows[0]["timestamp"] == JAN
    assert rows[-1]["timestamp"] == JAN + timedelta(days=90, minutes=-30)
    assert result["endTime"] == JAN + timedelta(days=90)
    assert all(b["value"] > a["value"] for a, b in pairwise(rows))


async def test_errors_reach_pythondcs(sim: DcsSimulator, web_api: Any) -> None:
    with pytest.raises(requests.HTTPError, match="aligned"):
        await call(web_api.readings, "R733", startTime=JAN + timedelta(minutes=5), periodCount=1)
    sim.expire_sessions()
    with pytest.raises(requests.HTTPError, match="401 Client Error"):
        await call(web_api.meters)


async def test_bad_credentials_fall_back_to_public(
    sim: DcsSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        api = await call(pythondcs.DcsWebApi, sim.url, USER, "wrong")
    assert api.username is None
    assert "401" in caplog.text
    assert len(await call(api.meters)) == 4  # unauthenticated mode: /public/meters
    assert sim.stats.requests["/public/meters"] == 1
    api.s.close()


async def test_retries_on_503_and_429(sim: DcsSimulator, web_api: Any) -> None:
    sim.faults.fail_500, sim.faults.fail_status = 1, 503
    assert len(await call(web_api.meters)) == 4
    sim.faults.rate_limit_429, sim.faults.retry_after_s = 1, 0
    assert len(await call(web_api.virtualmeters)) == 2
    assert sim.stats.requests["/meters"] == 2
    assert sim.stats.requests["/virtualMeters"] == 2


async def test_tls_with_the_simulator_certificate_and_a_prefix() -> None:
    async with DcsSimulator(clock=lambda: NOW, tls=True, prefix="/DCSWebApi") as sim:
        api = await call(pythondcs.DcsWebApi, sim.url)  # no credentials: no request yet
        api.s.verify = sim.cert_path  # fact sheet §9: the exposed requests.Session
        api.s.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override s.verify
        await call(api.signin, USER, PASSWORD)
        assert api.username == USER
        result = await call(api.readings, "R760", startTime=JAN, periodCount=3)
        assert len(result["readings"]) == 3
        await call(api.signout)
        api.s.close()


async def test_gzip_streaming() -> None:
    async with DcsSimulator(clock=lambda: NOW, gzip=True) as sim:
        api = await call(pythondcs.DcsWebApi, sim.url, USER, PASSWORD)
        result = await call(
            lambda: drain(api.readings("R733", startTime=JAN, periodCount=2000, iterator=True))
        )
        assert len(result["readings"]) == 2000
        plain = await call(api.readings, "R733", startTime=JAN, periodCount=2000)
        assert plain["readings"] == result["readings"]
        await call(api.signout)
        api.s.close()


@pytest.fixture
async def pro_session(sim: DcsSimulator) -> AsyncIterator[Any]:
    """A logged-in pythondcspro.DCSSession (OLD API); logged out and closed afterwards."""
    session = await call(pythondcspro.DCSSession, sim.url, USER, PASSWORD)
    assert session.username == USER
    yield session
    if session.username is not None:
        await call(session.logout)
    session.s.close()


async def test_pro_meters_and_virtual_meters(sim: DcsSimulator, pro_session: Any) -> None:
    meters = await call(pro_session.get_meters)
    assert len(meters) == 4
    assert await call(pro_session.get_meters, 406) == meters[1]
    vms = await call(pro_session.get_vms)
    assert await call(pro_session.get_vms, 10) == vms[1]
    assert sim.stats.requests["/api/Meters/{id}"] == 1


async def test_pro_readings(sim: DcsSimulator, pro_session: Any) -> None:
    rows = await call(pro_session.get_readings, 733, start=date(2024, 1, 1), end=date(2024, 1, 2))
    assert len(rows) == 48
    assert rows[0]["startTime"] == JAN
    assert rows[0]["totalValue"] == sim.register_total(733, JAN + timedelta(minutes=30), True)
    local = await call(
        pro_session.get_readings,
        733,
        start=date(2024, 7, 1),
        useLocalTime=True,
        integrationPeriod="hour",
        decimalPlaces=2,
    )
    assert len(local) == 24
    assert local[0]["startTime"].utcoffset() == timedelta(hours=1)
    assert local[0]["startTime"] == datetime(2024, 6, 30, 23, tzinfo=UTC)
    vm = await call(pro_session.get_readings, 9, isVirtual=True, start=date(2024, 1, 1))
    assert len(vm) == 48
    assert all(r["totalValue"] == 0 for r in vm)
    mega = await call(
        pro_session.get_mega_readings,
        760,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 3, 1, tzinfo=UTC),
        maxwindow=timedelta(days=20),
    )
    assert len(mega) == 60 * 48
    assert sim.stats.requests["/api/registerReadings/list"] == 2 + 3


async def test_pro_iterator_needs_a_content_encoding_header(sim: DcsSimulator) -> None:
    # pythondcspro reads reply.headers["content-encoding"] unconditionally in iterator mode:
    # against a server that does not compress (gzip=False) it raises KeyError.
    session = await call(pythondcspro.DCSSession, sim.url, USER, PASSWORD)

    def first_rows() -> list[Any]:
        return list(session.get_readings(733, start=date(2024, 1, 1), iterator=True))

    with pytest.raises(KeyError, match="content-encoding"):
        await call(first_rows)
    await call(session.logout)
    session.s.close()
    async with DcsSimulator(clock=lambda: NOW, gzip=True) as gz:
        session = await call(pythondcspro.DCSSession, gz.url, USER, PASSWORD)
        rows = await call(first_rows)
        assert len(rows) == 48
        assert rows[0]["startTime"] == JAN
        await call(session.logout)
        session.s.close()


async def test_pro_extras(pro_session: Any) -> None:
    meters = await call(pro_session.get_meters)
    tree = await call(pro_session.get_meter_tree)
    flat = pythondcspro.get_meters_from_group(tree, [])
    assert sorted(flat, key=lambda m: m["id"]) == meters
    types = await call(pro_session.get_metertypes)
    assert await call(pro_session.get_metertypes, types[0]["id"]) == types[0]
    cal = await call(pro_session.get_calibration_reads, 733)
    assert cal[0]["timestamp"] == datetime(2020, 1, 1, tzinfo=UTC)
    idcs = await call(pro_session.get_idcs)
    assert (await call(pro_session.get_idcs, idcs[0]["macAddress"]))["name"] == idcs[0]["name"]
