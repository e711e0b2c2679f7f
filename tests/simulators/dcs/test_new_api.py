"""The NEW ("DcsWebApi") API of the DCS simulator over real loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import gzip
from itertools import pairwise
import json
import tracemalloc

import aiohttp
import pytest

from simulators.dcs import DcsSimulator
from simulators.dcs.readings import new_api_body

from .conftest import NOW, PASSWORD, USER, get_json, iso, signin

START = "2024-01-01T00:00:00Z"


async def test_signin_sets_cookie_and_signout_cancels_it(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{sim.url}/authentication/signin", json={"username": USER, "password": PASSWORD}
    ) as response:
        assert response.status == 200
        assert await response.json() == {
            "username": USER,
            "role": "Operator",
            "appVersion": "3.0.0",
        }
        cookie = next(iter(response.cookies.values()))
        assert cookie.key.startswith("COHERENT-DCS-API")
        assert cookie["httponly"]
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 200
    async with http.post(f"{sim.url}/authentication/signout") as response:
        assert response.status == 204
        assert next(iter(response.cookies.values())).value == ""
    http.cookie_jar.update_cookies({cookie.key: cookie.value})  # replay the cancelled token
    status, body = await get_json(http, f"{sim.url}/meters")
    assert status == 401
    assert "token" in body["details"]
    assert (sim.stats.logins, sim.stats.logouts) == (1, 1)


async def test_signout_without_session_is_204(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{sim.url}/authentication/signout") as response:
        assert response.status == 204


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": USER, "password": "wrong"}, 401),
        ({"username": "nobody", "password": PASSWORD}, 401),
        ({"username": USER}, 400),
        ("not json", 400),
    ],
)
async def test_signin_rejects_bad_credentials(
    sim: DcsSimulator, http: aiohttp.ClientSession, body: object, status: int
) -> None:
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    async with http.post(f"{sim.url}/authentication/signin", **kwargs) as response:
        assert response.status == status
        assert "details" in await response.json()
        assert not response.cookies
    assert sim.stats.logins == 0


async def test_private_routes_need_a_cookie(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    for path in ("/meters", "/virtualMeters", f"/readings?id=R733&startTime={START}&periodCount=1"):
        status, body = await get_json(http, sim.url + path)
        assert status == 401, path
        assert body["details"]


async def test_meters_and_virtual_meters_shapes(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    status, meters = await get_json(http, f"{sim.url}/meters")
    assert status == 200
    assert len(meters) == 4
    for meter in meters:
        assert {"id", "name", "serialNumber", "status", "connectionMethod", "remoteAddress"} <= set(
            meter
        )
        assert meter["connectionMethod"] in {"tcp", "modem", "idc"}
        assert meter["status"] in {"online", "offline", "disabled", "unknown"}
        for reg in meter["registers"]:
            assert isinstance(reg["address"], str)
            assert isinstance(reg["scaleFactor"], str)
            assert isinstance(reg["defaultScaleFactor"], str)
            assert isinstance(reg["isInstantaneous"], bool)
    units = {reg["unit"] for meter in meters for reg in meter["registers"]}
    assert units == {"kWh", "kW", "m3", "kVArh"}
    status, vms = await get_json(http, f"{sim.url}/virtualMeters")
    assert status == 200
    assert [(vm["id"], vm["isInstantaneous"]) for vm in vms] == [(9, False), (10, True)]
    register_ids = {reg["id"] for meter in meters for reg in meter["registers"]}
    for vm in vms:
        assert {alias["registerId"] for alias in vm["registerAliases"]} <= register_ids


async def test_extra_meters_are_generated() -> None:
    async with (
        DcsSimulator(extra_meters=10, extra_registers_per_meter=5) as sim,
        aiohttp.ClientSession() as http,
    ):
        status, meters = await get_json(http, f"{sim.url}/public/meters")
    assert status == 200
    extra = [reg for meter in meters[4:] for reg in meter["registers"]]
    assert len(extra) == 50
    assert len({reg["id"] for reg in extra}) == 50
    assert not any(reg["isInstantaneous"] for reg in extra)


async def test_public_routes_and_disabled_groups() -> None:
    async with DcsSimulator(public_enabled=False) as sim, aiohttp.ClientSession() as http:
        assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 404
        assert (await get_json(http, f"{sim.url}/meters"))[0] == 401
    async with DcsSimulator(private_enabled=False) as sim, aiohttp.ClientSession() as http:
        assert (await get_json(http, f"{sim.url}/public/virtualMeters"))[0] == 200
        async with http.post(f"{sim.url}/authentication/signin", json={}) as response:
            assert response.status == 404
        assert (await get_json(http, f"{sim.url}/meters"))[0] == 404


async def test_prefix_and_case_insensitive_paths(http: aiohttp.ClientSession) -> None:
    async with DcsSimulator(prefix="/DCSWebApi/", clock=lambda: NOW) as sim:
        assert sim.url.endswith(":%d/DCSWebApi" % sim.port)  # noqa: UP031
        await signin(http, sim)
        for path in ("/meters", "/METERS/", "/VirtualMeters"):
            assert (await get_json(http, sim.url + path))[0] == 200
        root = sim.url.removesuffix("/DCSWebApi")
        assert (await get_json(http, f"{root}/meters"))[0] == 404
        assert (await get_json(http, f"{sim.url}/nothing"))[0] == 404
        async with http.post(f"{sim.url}/meters") as response:
            assert response.status == 405


async def test_status_is_open(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, f"{sim.url}/status")
    assert status == 200
    assert body["appVersion"] == "3.0.0"
    assert iso(body["serverTime"]) == NOW


async def test_standard_register_readings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await signin(http, sim)
    status, body = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "r733", "startTime": START, "periodCount": "4", "periodType": "halfhour"},
    )
    assert status == 200
    assert list(body) == [
        "startTime",
        "endTime",
        "name",
        "periodType",
        "unit",
        "readingDuration",
        "readings",
    ]
    assert body["endTime"] == "2024-01-01T02:00:00Z"
    assert body["name"] == "Main Incomer: Active Energy (import)"
    assert (body["periodType"], body["unit"], body["readingDuration"]) == ("halfHour", "kWh", 0)
    stamps = [iso(r["timestamp"]) for r in body["readings"]]
    assert stamps == [
        datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(4)
    ]
    for ts, reading in zip(stamps, body["readings"], strict=True):
        # value = the register total at the END of the period
        assert reading["value"] == sim.register_total(733, ts + timedelta(minutes=30))
        assert reading["status"] == 0


async def test_complete_format_and_calibration(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    params = {"id": "R733", "startTime": START, "periodCount": "96", "format": "Complete"}
    _, plain = await get_json(http, f"{sim.url}/readings", params)
    _, calibrated = await get_json(http, f"{sim.url}/readings", {**params, "calibrated": "True"})
    rows = plain["readings"]
    assert len(rows) == 96
    for before, after in pairwise(rows):
        assert after["totalValue"] > before["totalValue"]
        assert after["periodValue"] == pytest.approx(after["totalValue"] - before["totalValue"])
    offsets = {
        round(c["totalValue"] - p["totalValue"], 3)
        for p, c in zip(rows, calibrated["readings"], strict=True)
    }
    assert offsets == {125.5}  # the register's calibration reading
    assert [r["periodValue"] for r in rows] == [r["periodValue"] for r in calibrated["readings"]]


async def test_daily_consumption_varies_and_matches_half_hours(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    _, days = await get_json(
        http,
        f"{sim.url}/readings",
        {
            "id": "R733",
            "startTime": START,
            "periodCount": "7",
            "periodType": "DAY",
            "format": "complete",
        },
    )
    _, halves = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "R733", "startTime": START, "periodCount": str(7 * 48), "format": "complete"},
    )
    per_day = [r["periodValue"] for r in days["readings"]]
    assert len(set(per_day)) == 7
    for i, day in enumerate(days["readings"]):
        chunk = halves["readings"][i * 48 : (i + 1) * 48]
        assert day["periodValue"] == pytest.approx(sum(r["periodValue"] for r in chunk))
        assert day["totalValue"] == chunk[-1]["totalValue"]


@pytest.mark.parametrize(
    "case",
    [
        ("hour", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", 24),
        ("week", "2024-01-01T00:00:00Z", "2024-02-05T00:00:00Z", 5),
        ("month", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", 12),
    ],
)
async def test_any_two_of_start_end_count(
    sim: DcsSimulator, http: aiohttp.ClientSession, case: tuple[str, str, str, int]
) -> None:
    period, start, end, count = case
    await signin(http, sim)
    bodies = []
    for params in (
        {"startTime": start, "endTime": end},
        {"startTime": start, "periodCount": str(count)},
        {"endTime": end, "periodCount": str(count)},
    ):
        status, body = await get_json(
            http, f"{sim.url}/readings", {"id": "R760", "periodType": period, **params}
        )
        assert status == 200, body
        bodies.append(body)
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(bodies[0]["readings"]) == count
    assert bodies[0]["readings"][-1]["value"] == sim.register_total(760, iso(end))


async def test_virtual_meter_readings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await signin(http, sim)
    _, vm = await get_json(
        http, f"{sim.url}/readings", {"id": "vm9", "startTime": START, "periodCount": "3"}
    )
    assert (vm["name"], vm["unit"], vm["readingDuration"]) == ("Site Electricity", "kWh", 30)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for i, reading in enumerate(vm["readings"]):
        a = t0 + timedelta(minutes=30 * i)
        b = a + timedelta(minutes=30)
        expected = sum(
            sim.register_total(rid, b) - sim.register_total(rid, a) for rid in (733, 760)
        )
        assert reading["value"] == pytest.approx(expected, abs=0.006)
    _, power = await get_json(
        http, f"{sim.url}/readings", {"id": "VM10", "startTime": START, "periodCount": "48"}
    )
    assert power["readingDuration"] == 0
    assert all(r["value"] > 0 for r in power["readings"])
    assert len({r["value"] for r in power["readings"]}) > 10


async def test_instantaneous_register_readings(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    _, body = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "R734", "startTime": START, "periodCount": "48", "format": "complete"},
    )
    assert body["unit"] == "kW"
    assert all(r["totalValue"] > 0 and r["periodValue"] == 0 for r in body["readings"])


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"id": "X1", "startTime": START, "periodCount": "1"}, "id must be"),
        ({"id": "R999999", "startTime": START, "periodCount": "1"}, "unknown register"),
        ({"id": "VM999", "startTime": START, "periodCount": "1"}, "unknown virtual meter"),
        ({"id": "R733", "startTime": START}, "exactly two"),
        ({"id": "R733", "startTime": START, "endTime": START, "periodCount": "1"}, "exactly two"),
        ({"id": "R733", "startTime": "2024-01-01 00:00", "periodCount": "1"}, "startTime must"),
        ({"id": "R733", "startTime": "2024-13-01T00:00:00Z", "periodCount": "1"}, "not a valid"),
        ({"id": "R733", "startTime": START, "periodCount": "0"}, "periodCount"),
        ({"id": "R733", "startTime": START, "periodCount": "x"}, "periodCount"),
        ({"id": "R733", "startTime": "2024-01-01T00:15:00Z", "periodCount": "1"}, "aligned"),
        (
            {
                "id": "R733",
                "startTime": "2024-01-01T00:30:00Z",
                "periodCount": "1",
                "periodType": "hour",
            },
            "aligned",
        ),
        (
            {
                "id": "R733",
                "startTime": "2024-01-01T01:00:00Z",
                "periodCount": "1",
                "periodType": "day",
            },
            "aligned",
        ),
        (
            {
                "id": "R733",
                "startTime": "2024-01-02T00:00:00Z",
                "periodCount": "1",
                "periodType": "week",
            },
            "aligned",
        ),
        (
            {
                "id": "R733",
                "endTime": "2024-01-02T00:00:00Z",
                "periodCount": "1",
                "periodType": "month",
            },
            "aligned",
        ),
        ({"id": "R733", "startTime": START, "endTime": START}, "after startTime"),
        ({"id": "R733", "startTime": START, "periodCount": "1", "format": "csv"}, "format"),
        (
            {"id": "R733", "startTime": START, "periodCount": "1", "periodType": "year"},
            "periodType",
        ),
        ({"id": "R733", "startTime": START, "periodCount": "1", "calibrated": "yes"}, "calibrated"),
        (
            {"id": "R733", "startTime": START, "periodCount": "1", "interpolated": "1"},
            "interpolated",
        ),
        ({"id": "VM9", "startTime": START, "periodCount": "1", "format": "complete"}, "virtual"),
        (
            {"id": "R734", "startTime": START, "periodCount": "1", "periodType": "day"},
            "instantaneous",
        ),
        (
            {"id": "VM10", "startTime": START, "periodCount": "1", "periodType": "hour"},
            "instantaneous",
        ),
        (
            {"id": "R733", "startTime": START, "periodCount": "9999999", "periodType": "month"},
            "range",
        ),
    ],
)
async def test_readings_validation(
    sim: DcsSimulator, http: aiohttp.ClientSession, params: dict[str, str], needle: str
) -> None:
    await signin(http, sim)
    status, body = await get_json(http, f"{sim.url}/readings", params)
    assert status == 400
    assert needle in body["details"]


async def test_range_limit(http: aiohttp.ClientSession) -> None:
    async with DcsSimulator(range_limit_days=31, clock=lambda: NOW) as sim:
        await signin(http, sim)
        ok = {"id": "R733", "startTime": START, "endTime": "2024-02-01T00:00:00Z"}
        assert (await get_json(http, f"{sim.url}/readings", ok))[0] == 200
        status, body = await get_json(
            http, f"{sim.url}/readings", {**ok, "endTime": "2024-02-01T00:30:00Z"}
        )
        assert status == 400
        assert "31 days" in body["details"]


async def test_naive_and_offset_times_and_microseconds(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    bodies = [
        (
            await get_json(
                http, f"{sim.url}/readings", {"id": "R733", "startTime": t, "periodCount": "2"}
            )
        )[1]
        for t in (
            "2024-01-01T00:00:00Z",
            "2024-01-01T01:00:00+01:00",
            "2024-01-01T00:00:00.000000Z",
        )
    ]
    assert bodies[0] == bodies[1] == bodies[2]


async def test_readings_stop_at_now_and_before_2000(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    _, body = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "R733", "startTime": "2024-12-31T23:00:00Z", "endTime": "2025-01-02T00:00:00Z"},
    )
    # NOW is 00:10: only the periods that ended by then exist
    assert [r["timestamp"] for r in body["readings"]] == [
        "2024-12-31T23:00:00Z",
        "2024-12-31T23:30:00Z",
    ]
    assert body["endTime"] == "2025-01-02T00:00:00Z"
    _, future = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "R733", "startTime": "2030-01-01T00:00:00Z", "periodCount": "5"},
    )
    assert future["readings"] == []
    _, old = await get_json(
        http,
        f"{sim.url}/readings",
        {"id": "R733", "startTime": "1999-12-31T23:00:00Z", "periodCount": "4"},
    )
    assert [r["timestamp"] for r in old["readings"]] == [
        "2000-01-01T00:00:00Z",
        "2000-01-01T00:30:00Z",
    ]


async def test_calendar_periods_from_long_before_the_data_start(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    for period, start, count in (
        ("day", "1990-01-01", 2),
        ("week", "1900-01-01", 1),
        ("month", "1000-01-01", 1),
    ):
        _, body = await get_json(
            http,
            f"{sim.url}/readings",
            {
                "id": "R733",
                "startTime": f"{start}T00:00:00Z",
                "endTime": "2000-02-07T00:00:00Z" if period == "week" else "2000-02-01T00:00:00Z",
                "periodType": period,
            },
        )
        stamps = [r["timestamp"] for r in body["readings"]]
        assert stamps[0] >= "2000-01-01", period
        assert len(stamps) >= count, period


async def test_gaps_and_reset(http: aiohttp.ClientSession) -> None:
    gap = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    reset = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)
    async with DcsSimulator(clock=lambda: NOW, gap_slots=[gap], resets={760: reset}) as sim:
        await signin(http, sim)
        base = {"id": "R760", "startTime": START, "periodCount": "8", "format": "complete"}
        _, filled = await get_json(http, f"{sim.url}/readings", {**base, "interpolated": "true"})
        _, holes = await get_json(http, f"{sim.url}/readings", {**base, "interpolated": "false"})
        _, days = await get_json(
            http,
            f"{sim.url}/readings",
            {**base, "periodType": "day", "periodCount": "2", "interpolated": "false"},
        )
    statuses = {r["timestamp"]: r["status"] for r in filled["readings"]}
    assert statuses["2024-01-01T01:00:00Z"] == 1
    assert statuses["2024-01-01T02:00:00Z"] == 2
    assert sum(statuses.values()) == 3
    assert len(holes["readings"]) == 7
    assert "2024-01-01T01:00:00Z" not in {r["timestamp"] for r in holes["readings"]}
    after = {r["timestamp"]: r for r in filled["readings"]}["2024-01-01T02:00:00Z"]
    assert 0 < after["totalValue"] == after["periodValue"] < 10  # restarted from zero
    assert [r["timestamp"] for r in days["readings"]] == ["2024-01-02T00:00:00Z"]


async def test_a_year_of_half_hours_streams(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await signin(http, sim)
    async with http.get(
        f"{sim.url}/readings",
        params={"id": "R733", "startTime": START, "endTime": "2025-01-01T00:00:00Z"},
    ) as response:
        assert response.headers.get("Transfer-Encoding") == "chunked"
        chunks = [chunk async for chunk in response.content.iter_any()]
    body = json.loads(b"".join(chunks))
    rows = body["readings"]
    assert len(rows) == 366 * 48
    assert rows[0]["timestamp"] == START
    assert rows[-1]["timestamp"] == "2024-12-31T23:30:00Z"
    values = [r["value"] for r in rows]
    assert all(b > a for a, b in pairwise(values))
    assert values[-1] == sim.register_total(733, NOW.replace(minute=0))
    assert len(chunks) > 1  # streamed; its speed is bench/dcs_sim_speed.py's business


async def test_readings_are_deterministic_across_simulators(http: aiohttp.ClientSession) -> None:
    params = {"id": "R740", "startTime": START, "periodCount": "500", "format": "complete"}
    bodies = []
    for _ in range(2):
        async with DcsSimulator(clock=lambda: NOW) as sim:
            status, body = await get_json(http, f"{sim.url}/public/readings", params)
            assert status == 200
            bodies.append(body)
    assert bodies[0] == bodies[1]
    assert len({r["periodValue"] for r in bodies[0]["readings"]}) > 50


async def test_gzip_only_when_enabled_and_accepted() -> None:
    params = {"id": "R733", "startTime": START, "periodCount": "2000"}
    async with (
        DcsSimulator(clock=lambda: NOW, gzip=True) as sim,
        aiohttp.ClientSession(auto_decompress=False) as http,
    ):
        async with http.get(
            f"{sim.url}/public/readings", params=params, headers={"Accept-Encoding": "gzip"}
        ) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            body = json.loads(gzip.decompress(await response.read()))
        assert len(body["readings"]) == 2000
        async with http.get(
            f"{sim.url}/public/meters", headers={"Accept-Encoding": "gzip"}
        ) as response:
            assert len(json.loads(gzip.decompress(await response.read()))) == 4
        async with http.get(
            f"{sim.url}/public/readings", params=params, headers={"Accept-Encoding": "identity"}
        ) as response:
            assert "Content-Encoding" not in response.headers
            assert json.loads(await response.read()) == body
    async with (
        DcsSimulator(clock=lambda: NOW) as sim,
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(f"{sim.url}/public/meters", headers={"Accept-Encoding": "gzip"}) as response,
    ):
        assert "Content-Encoding" not in response.headers


def test_register_total_needs_a_boundary() -> None:
    sim = DcsSimulator()
    ts = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    assert sim.register_total(733, ts) < sim.register_total(733, ts + timedelta(minutes=30))
    with pytest.raises(ValueError, match="half-hour boundary"):
        sim.register_total(733, ts + timedelta(minutes=1))


async def test_duration_key_option(http: aiohttp.ClientSession) -> None:
    async with DcsSimulator(clock=lambda: NOW, duration_key="duration") as sim:
        _, body = await get_json(
            http,
            f"{sim.url}/public/readings",
            {"id": "R733", "startTime": START, "periodCount": "1"},
        )
    assert body["duration"] == 0
    assert "readingDuration" not in body


def test_readings_are_generated_lazily() -> None:
    sim = DcsSimulator(clock=lambda: NOW)
    peaks = {}
    for years in (1, 4):
        query = sim._query(
            sim.registers[733],
            period="halfhour",
            start=datetime(2025 - years, 1, 1, tzinfo=UTC),
            end=datetime(2025, 1, 1, tzinfo=UTC),
            zone=UTC,
            calibrated=True,
            interpolated=True,
        )
        tracemalloc.start()
        try:
            size = sum(len(piece) for piece in new_api_body(query, complete=True, duration_key="d"))
            peaks[years] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert size > years * 17_000 * 80
    assert peaks[4] < 1.5 * peaks[1]
    assert peaks[4] < 2_000_000  # a few 64 KiB chunks, never the whole body
