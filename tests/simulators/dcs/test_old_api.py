"""The OLD (/api, DCS v3) API of the DCS simulator over real loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
import pytest

from simulators.dcs import DcsSimulator

from .conftest import NOW, PASSWORD, USER, get_json, iso, login_old, signin

ROW_KEYS = [
    "id",
    "startTime",
    "duration",
    "totalValue",
    "periodValue",
    "isGenerated",
    "isInterpolated",
]


async def readings(
    http: aiohttp.ClientSession, sim: DcsSimulator, **params: str
) -> tuple[int, Any]:
    """GET register readings (or VM readings when virtualMeterId is given)."""
    path = "VirtualMeterReadings" if "virtualMeterId" in params else "registerReadings"
    return await get_json(http, f"{sim.url}/api/{path}/list/", params)


async def test_login_logout_and_cookie_separation(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{sim.url}/api/Account/Login", json={"username": USER, "password": PASSWORD}
    ) as response:
        assert response.status == 200
        assert await response.json() == {"username": USER, "role": "Operator"}
        assert next(iter(response.cookies)).startswith("COHERENT-DCSV3")
    assert (await get_json(http, f"{sim.url}/api/Meters/"))[0] == 200
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 401  # v3 cookie is not a web API one
    async with http.post(f"{sim.url}/api/account/logout/") as response:
        assert response.status in (200, 204)
    assert (await get_json(http, f"{sim.url}/api/Meters/"))[0] == 401
    await signin(http, sim)
    assert (await get_json(http, f"{sim.url}/api/Meters/"))[0] == 401
    async with http.post(
        f"{sim.url}/api/account/login/", json={"username": USER, "password": "nope"}
    ) as response:
        assert response.status == 401
    assert (sim.stats.logins, sim.stats.login_failures, sim.stats.logouts) == (2, 1, 1)


async def test_meters_and_virtual_meters_by_id(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    _, meters = await get_json(http, f"{sim.url}/api/Meters/")
    status, one = await get_json(http, f"{sim.url}/api/meters/405")
    assert status == 200
    assert one == meters[0]
    assert (await get_json(http, f"{sim.url}/api/Meters/1"))[0] == 404
    _, vms = await get_json(http, f"{sim.url}/api/VirtualMeters/")
    assert (await get_json(http, f"{sim.url}/api/VirtualMeters/10"))[1] == vms[1]
    assert (await get_json(http, f"{sim.url}/api/VirtualMeters/11"))[0] == 404


async def test_register_readings_shape_and_values(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    status, rows = await readings(
        http, sim, registerId="733", start="2024-01-01", decimalPlaces="15"
    )
    assert status == 200
    assert len(rows) == 48  # end defaults to one day for halfHour
    assert list(rows[0]) == ROW_KEYS
    assert rows[0]["startTime"] == "2024-01-01T00:00:00Z"
    for row in rows:
        start = iso(row["startTime"])
        assert row["duration"] == 30
        assert row["totalValue"] == sim.register_total(733, start + timedelta(minutes=30))
        assert not row["isGenerated"]
        assert not row["isInterpolated"]
    for before, after in pairwise(rows):
        assert after["periodValue"] == pytest.approx(after["totalValue"] - before["totalValue"])


async def test_end_is_exclusive_and_datetime_start(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    _, rows = await readings(
        http, sim, registerId="760", start="2024-01-01T10:00:00", end="2024-01-01T12:00:00"
    )
    assert [r["startTime"][11:16] for r in rows] == ["10:00", "10:30", "11:00", "11:30"]
    _, offset = await readings(
        http, sim, registerId="760", start="2024-01-01T11:00:00+01:00", end="2024-01-01T12:00:00Z"
    )
    assert offset == rows


@pytest.mark.parametrize(
    "case",
    [
        ("hour", "2024-01-01", 24, 60),
        ("Day", "2024-01-01", 1, 1440),
        ("week", "2024-01-01", 1, 10080),
        ("month", "2024-02-01", 1, 29 * 1440),
    ],
)
async def test_integration_periods_and_default_end(
    sim: DcsSimulator, http: aiohttp.ClientSession, case: tuple[str, str, int, int]
) -> None:
    period, start, count, duration = case
    await login_old(http, sim)
    status, rows = await readings(
        http, sim, registerId="733", start=start, integrationPeriod=period, decimalPlaces="3"
    )
    assert status == 200, rows
    assert len(rows) == count
    assert rows[0]["duration"] == duration
    end = iso(rows[-1]["startTime"]) + timedelta(minutes=rows[-1]["duration"])
    assert rows[-1]["totalValue"] == sim.register_total(733, end)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"registerId": "x"}, "registerId"),
        ({"registerId": "123456"}, "unknown register"),
        ({"registerId": "733", "start": "2024-01-02", "integrationPeriod": "week"}, "week"),
        ({"registerId": "733", "start": "2024-01-02", "integrationPeriod": "month"}, "month"),
        ({"registerId": "733", "start": "yesterday"}, "start"),
        ({"registerId": "733", "start": "2024-01-02", "end": "2024-01-01"}, "after start"),
        ({"registerId": "733", "decimalPlaces": "16"}, "decimalPlaces"),
        ({"registerId": "733", "decimalPlaces": "-1"}, "decimalPlaces"),
        ({"registerId": "733", "source": "guess"}, "source"),
        ({"registerId": "733", "useLocalTime": "maybe"}, "useLocalTime"),
        ({"registerId": "733", "integrationPeriod": "year"}, "integrationPeriod"),
        ({"virtualMeterId": "99"}, "unknown virtual meter"),
    ],
)
async def test_readings_validation(
    sim: DcsSimulator, http: aiohttp.ClientSession, params: dict[str, str], needle: str
) -> None:
    await login_old(http, sim)
    status, body = await readings(http, sim, **params)
    assert status == 400
    assert needle in body["details"]


async def test_local_time_across_the_spring_dst_change(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    _, rows = await readings(
        http, sim, registerId="733", start="2024-03-31", useLocalTime="True", decimalPlaces="15"
    )
    assert len(rows) == 46  # the local day is 23 hours long
    assert rows[0]["startTime"] == "2024-03-31T00:00:00+00:00"
    assert rows[1]["startTime"] == "2024-03-31T00:30:00+00:00"
    assert rows[2]["startTime"] == "2024-03-31T02:00:00+01:00"
    assert rows[-1]["startTime"] == "2024-03-31T23:30:00+01:00"
    _, utc = await readings(
        http, sim, registerId="733", start="2024-03-31T00:00:00Z", end="2024-03-31T23:00:00Z"
    )
    assert [iso(r["startTime"]) for r in rows] == [iso(r["startTime"]) for r in utc]
    _, days = await readings(
        http,
        sim,
        registerId="733",
        start="2024-10-26",
        end="2024-10-29",
        useLocalTime="true",
        integrationPeriod="day",
    )
    assert [r["duration"] for r in days] == [1440, 1500, 1440]  # autumn: a 25-hour day
    assert [r["startTime"] for r in days] == [
        "2024-10-26T00:00:00+01:00",
        "2024-10-27T00:00:00+01:00",
        "2024-10-28T00:00:00+00:00",
    ]


async def test_decimal_places_round_values(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await login_old(http, sim)
    values = {}
    for places in ("0", "1", "3"):
        _, rows = await readings(
            http, sim, registerId="733", start="2024-01-01", decimalPlaces=places
        )
        values[places] = [(r["totalValue"], r["periodValue"]) for r in rows]
    for (t0, p0), (t1, p1), (t3, p3) in zip(values["0"], values["1"], values["3"], strict=True):
        assert (t0, p0) == (round(t3), round(p3))
        assert (t1, p1) == (round(t3, 1), round(p3, 1))
    _, default = await readings(http, sim, registerId="733", start="2024-01-01")
    assert [(r["totalValue"], r["periodValue"]) for r in default] == values["1"]  # spec default 1


async def test_calibrated_interpolated_and_source(http: aiohttp.ClientSession) -> None:
    gap = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
    async with DcsSimulator(clock=lambda: NOW, gap_slots=[gap]) as sim:
        await login_old(http, sim)
        common = {"registerId": "733", "start": "2024-01-01", "decimalPlaces": "3"}
        _, plain = await readings(http, sim, **common)
        _, cal = await readings(http, sim, **common, calibrated="true")
        _, filled = await readings(http, sim, **common, interpolated="true")
        _, manual = await readings(http, sim, **common, source="manual")
        _, merged = await readings(http, sim, **common, source="Merged")
    assert {
        round(c["totalValue"] - p["totalValue"], 3)
        for p, c in zip(plain, cal, strict=True)
        if c["totalValue"]
    } == {125.5}
    missing = plain[6]
    assert missing["startTime"] == "2024-01-01T03:00:00Z"
    assert missing["isGenerated"]
    assert missing["totalValue"] == missing["periodValue"] == 0
    assert filled[6]["isInterpolated"]
    assert not filled[6]["isGenerated"]
    assert filled[6]["totalValue"] == sim.register_total(733, gap + timedelta(minutes=30))
    assert manual == []
    assert merged == plain


async def test_virtual_meter_readings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await login_old(http, sim)
    status, rows = await readings(
        http, sim, virtualMeterId="9", start="2024-01-01", integrationPeriod="hour"
    )
    assert status == 200
    assert len(rows) == 24
    assert all(r["totalValue"] == 0 and r["periodValue"] > 0 and r["id"] == 0 for r in rows)
    _, instantaneous = await readings(http, sim, registerId="734", start="2024-01-01")
    assert all(r["periodValue"] == 0 and r["totalValue"] > 0 for r in instantaneous)


async def test_start_defaults_to_today() -> None:
    noon = datetime(2024, 6, 1, 12, 10, tzinfo=UTC)
    async with (
        DcsSimulator(clock=lambda: noon) as sim,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        await login_old(http, sim)
        _, rows = await readings(http, sim, registerId="733")
    assert len(rows) == 24
    assert rows[-1]["startTime"] == "2024-06-01T11:30:00Z"


async def test_meter_groups_tree(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await login_old(http, sim)
    _, meters = await get_json(http, f"{sim.url}/api/Meters/")
    status, tree = await get_json(http, f"{sim.url}/api/MeterGroups/0", {"recursively": "True"})
    assert status == 200

    def flatten(group: dict[str, Any]) -> list[dict[str, Any]]:
        found = list(group["meters"]) if group["hasMeters"] else []
        for child in group["meterGroups"]:
            found.extend(flatten(child))
        return found

    assert sorted(flatten(tree), key=lambda m: m["id"]) == meters
    _, shallow = await get_json(http, f"{sim.url}/api/MeterGroups/0", {"recursively": "False"})
    assert [g["meters"] for g in shallow["meterGroups"]] == [[], []]
    _, groups = await get_json(http, f"{sim.url}/api/MeterGroups/1", {"groupsOnly": "true"})
    assert groups["meters"] == []
    _, bare = await get_json(http, f"{sim.url}/api/MeterGroups/1", {"withoutRegister": "true"})
    assert bare["meters"]
    assert all("registers" not in m for m in bare["meters"])
    assert (await get_json(http, f"{sim.url}/api/MeterGroups/3"))[0] == 404


async def test_meter_types_calibration_readings_and_idcs(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    _, types = await get_json(http, f"{sim.url}/api/MeterTypes/")
    assert {t["name"] for t in types} == {"Elcomponent AEM", "Pulse Counter"}
    assert (await get_json(http, f"{sim.url}/api/MeterTypes/{types[0]['id']}"))[1] == types[0]
    assert (await get_json(http, f"{sim.url}/api/MeterTypes/99"))[0] == 404
    _, cal = await get_json(http, f"{sim.url}/api/CalibrationReadings/", {"registerId": "733"})
    assert cal["totalCount"] == 1
    reading = cal["calibrationReadings"][0]
    assert (
        datetime.fromisoformat(reading["timestamp"]).tzinfo is None
    )  # naive, as pythondcspro expects
    _, none = await get_json(
        http, f"{sim.url}/api/CalibrationReadings/", {"registerId": "734", "startIndex": "0"}
    )
    assert none == {"totalCount": 0, "calibrationReadings": []}
    assert (await get_json(http, f"{sim.url}/api/CalibrationReadings/", {"registerId": "a"}))[
        0
    ] == 400
    _, idcs = await get_json(http, f"{sim.url}/api/Idcs/")
    mac = idcs[0]["macAddress"]
    assert (await get_json(http, f"{sim.url}/api/Idcs/{mac}"))[1] == idcs[0]
    assert (await get_json(http, f"{sim.url}/api/Idcs/1"))[0] == 404


async def test_a_year_streams_through_the_old_api(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await login_old(http, sim)
    status, rows = await readings(
        http, sim, registerId="760", start="2024-01-01", end="2025-01-01", decimalPlaces="15"
    )
    assert status == 200
    assert len(rows) == 366 * 48
    assert rows[-1]["startTime"] == "2024-12-31T23:30:00Z"
    assert all(b["totalValue"] > a["totalValue"] for a, b in pairwise(rows))
    _, local = await readings(
        http,
        sim,
        registerId="760",
        start="2024-01-01",
        end="2025-01-01",
        useLocalTime="true",
        decimalPlaces="15",
    )
    assert len(local) == 366 * 48  # the 23-hour and the 25-hour local day cancel out
    assert [r["totalValue"] for r in local[:10]] == [r["totalValue"] for r in rows[:10]]
