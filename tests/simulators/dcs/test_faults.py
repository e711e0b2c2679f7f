"""Fault injection, statistics, test hooks and TLS mode of the DCS simulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import json
from pathlib import Path
import ssl
import time

import aiohttp
import pytest

from simulators.dcs import DcsSimulator

from .conftest import NOW, PASSWORD, USER, get_json, login_old, signin

READINGS = {"id": "R733", "startTime": "2024-01-01T00:00:00Z", "periodCount": "3000"}


async def test_http_500_for_the_next_n_requests(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_500 = 2
    for _ in range(2):
        status, body = await get_json(http, f"{sim.url}/public/meters")
        assert status == 500
        assert "injected" in body["details"]
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 200


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors(sim: DcsSimulator, http: aiohttp.ClientSession, status: int) -> None:
    sim.faults.fail_500, sim.faults.fail_status = 1, status
    async with http.get(f"{sim.url}/public/meters") as response:
        assert response.status == status
        assert response.content_type == "text/html"
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 200


async def test_expire_sessions_now(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await signin(http, sim)
    await login_old(http, sim)
    sim.expire_sessions()
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 401
    assert (await get_json(http, f"{sim.url}/api/Meters/"))[0] == 401
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 200
    await signin(http, sim)
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 200


async def test_expire_after_k_requests_lands_mid_poll(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    sim.faults.expire_after = 2
    poll = ["/meters", "/virtualMeters", "/meters"]
    statuses = [(await get_json(http, sim.url + path))[0] for path in poll]
    assert statuses == [200, 200, 401]
    assert sim.faults.expire_after is None
    await signin(http, sim)
    assert [(await get_json(http, sim.url + path))[0] for path in poll] == [200, 200, 200]


async def test_session_ttl_follows_the_clock(http: aiohttp.ClientSession) -> None:
    now = [NOW]
    async with DcsSimulator(clock=lambda: now[0], session_ttl_s=600) as sim:
        await signin(http, sim)
        now[0] += timedelta(seconds=600)
        assert (await get_json(http, f"{sim.url}/meters"))[0] == 200
        now[0] += timedelta(seconds=1)
        assert (await get_json(http, f"{sim.url}/meters"))[0] == 401
        await signin(http, sim)
        assert (await get_json(http, f"{sim.url}/meters"))[0] == 200


async def test_429_with_retry_after(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    sim.faults.rate_limit_429, sim.faults.retry_after_s = 1, 3
    async with http.get(f"{sim.url}/public/meters") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "3"
        body = await response.json()
    assert body["backOffSuggestion"] == 3
    assert body["details"]
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 200


async def test_rate_limit_per_endpoint_group(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.rate_limit_per_s, sim.faults.rate_limit_window_s = 2, 60
    remaining = []
    for _ in range(2):
        async with http.get(f"{sim.url}/public/meters") as response:
            assert response.status == 200
            assert response.headers["X-Rate-Limit-Limit"] == "60s"
            assert response.headers["X-Rate-Limit-Reset"].endswith("Z")
            remaining.append(response.headers["X-Rate-Limit-Remaining"])
    assert remaining == ["1", "0"]
    async with http.get(f"{sim.url}/public/virtualMeters") as response:
        assert response.status == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
    await signin(http, sim)  # the authenticated endpoint group has its own budget
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 200


async def test_delay(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    sim.faults.delay_s = 0.2
    started = time.perf_counter()
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 200
    assert time.perf_counter() - started >= 0.2


async def test_truncated_readings_close_the_connection(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.truncate_next = True
    async with http.get(f"{sim.url}/public/readings", params=READINGS) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert not sim.faults.truncate_next
    status, body = await get_json(http, f"{sim.url}/public/readings", READINGS)
    assert status == 200
    assert len(body["readings"]) == 3000


async def test_truncated_gzip_readings() -> None:
    async with DcsSimulator(clock=lambda: NOW, gzip=True) as sim, aiohttp.ClientSession() as http:
        sim.faults.truncate_next = True
        async with http.get(f"{sim.url}/public/readings", params=READINGS) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()


async def test_truncated_old_api_readings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await login_old(http, sim)
    sim.faults.truncate_next = True
    async with http.get(
        f"{sim.url}/api/registerReadings/list/", params={"registerId": "733", "start": "2024-01-01"}
    ) as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


@pytest.mark.parametrize("path", ["/public/readings", "/public/meters", "/public/virtualMeters"])
async def test_malformed_next_response(
    sim: DcsSimulator, http: aiohttp.ClientSession, path: str
) -> None:
    sim.faults.malformed_next = True
    async with http.get(sim.url + path, params=READINGS) as response:
        assert response.status == 200
        text = await response.text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert (await get_json(http, sim.url + path, READINGS))[0] == 200


async def test_malformed_old_api_readings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await login_old(http, sim)
    sim.faults.malformed_next = True
    async with http.get(
        f"{sim.url}/api/registerReadings/list/", params={"registerId": "733", "start": "2024-01-01"}
    ) as response:
        text = await response.text()
    assert text.startswith("[{")
    assert text.endswith("]")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


async def test_nan_and_infinity_strings(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    sim.faults.nan_values = True
    _, body = await get_json(http, f"{sim.url}/public/readings", READINGS)
    values = [r["value"] for r in body["readings"][:4]]
    assert values[:3] == ["NaN", "Infinity", "-Infinity"]
    assert isinstance(values[3], float)
    _, complete = await get_json(
        http, f"{sim.url}/public/readings", {**READINGS, "format": "complete"}
    )
    assert complete["readings"][0]["totalValue"] == complete["readings"][0]["periodValue"] == "NaN"
    await login_old(http, sim)
    _, rows = await get_json(
        http, f"{sim.url}/api/registerReadings/list/", {"registerId": "733", "start": "2024-01-01"}
    )
    assert rows[1]["totalValue"] == "Infinity"


async def test_forbidden_ids(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    sim.faults.forbidden_ids = {"R733"}
    status, body = await get_json(http, f"{sim.url}/public/readings", READINGS)
    assert status == 403
    assert "R733" in body["details"]
    await login_old(http, sim)
    status, _ = await get_json(http, f"{sim.url}/api/registerReadings/list/", {"registerId": "733"})
    assert status == 403


async def test_change_credentials(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    await signin(http, sim)
    sim.set_credentials("other", "secret")
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 200  # sessions survive
    async with http.post(
        f"{sim.url}/authentication/signin", json={"username": USER, "password": PASSWORD}
    ) as response:
        assert response.status == 401
    async with http.post(
        f"{sim.url}/authentication/signin", json={"username": "other", "password": "secret"}
    ) as response:
        assert response.status == 200


async def test_stats_count_requests_and_concurrency_per_cookie(
    sim: DcsSimulator, http: aiohttp.ClientSession
) -> None:
    await signin(http, sim)
    for _ in range(3):
        await get_json(http, f"{sim.url}/meters")
    assert sim.stats.requests["/meters"] == 3
    assert sim.stats.requests["/authentication/signin"] == 1
    assert sim.stats.max_concurrent == 1
    sim.faults.delay_s = 0.1
    results = await asyncio.gather(*(get_json(http, f"{sim.url}/meters") for _ in range(3)))
    assert [status for status, _ in results] == [200] * 3
    assert sim.stats.max_concurrent == 3
    assert sim.stats.max_concurrent_any == 3
    assert not sim.stats.in_flight


async def test_concurrency_is_per_cookie(sim: DcsSimulator) -> None:
    sim.faults.delay_s = 0.1
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as one,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as two,
    ):
        await signin(one, sim)
        await signin(two, sim)
        await asyncio.gather(get_json(one, f"{sim.url}/meters"), get_json(two, f"{sim.url}/meters"))
    assert sim.stats.max_concurrent == 1
    assert sim.stats.max_concurrent_any == 2


async def test_sim_hooks_over_http(sim: DcsSimulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sim.url}/_sim/faults", json={"fail_500": 1, "retry_after_s": 7}) as r:
        assert r.status == 200
        assert (await r.json())["fail_500"] == 1
    assert (sim.faults.fail_500, sim.faults.retry_after_s) == (1, 7)
    assert (await get_json(http, f"{sim.url}/public/meters"))[0] == 500
    assert (await get_json(http, f"{sim.url}/_sim/faults"))[1]["fail_500"] == 0
    async with http.post(f"{sim.url}/_sim/faults", json={"explode": True}) as r:
        assert r.status == 400
    async with http.post(f"{sim.url}/_sim/faults", json=[1]) as r:
        assert r.status == 400
    for bad in ({"fail_500": "2"}, {"truncate_next": 1}, {"delay_s": True}, {"expire_after": 1.5}):
        async with http.post(f"{sim.url}/_sim/faults", json={"fail_500": 3, **bad}) as r:
            assert r.status == 400, bad
    assert sim.faults.fail_500 == 0  # a rejected update changes nothing
    async with http.post(
        f"{sim.url}/_sim/faults", json={"delay_s": 0, "expire_after": None, "nan_values": False}
    ) as r:
        assert r.status == 200
    async with http.post(f"{sim.url}/_sim/faults", json={"forbidden_ids": ["vm9"]}) as r:
        assert r.status == 200
    assert sim.faults.forbidden_ids == {"VM9"}
    await signin(http, sim)
    async with http.post(f"{sim.url}/_sim/expire_sessions") as r:
        assert r.status == 200
    assert (await get_json(http, f"{sim.url}/meters"))[0] == 401
    async with http.post(
        f"{sim.url}/_sim/credentials", json={"username": "u2", "password": "p2"}
    ) as r:
        assert r.status == 200
    assert sim.username == "u2"
    assert sim.password == "p2"
    async with http.post(f"{sim.url}/_sim/credentials", json={}) as r:
        assert r.status == 400
    async with http.post(f"{sim.url}/_sim/clock", json={"now": "2024-01-01T12:00:00"}) as r:
        assert r.status == 200
    assert (await get_json(http, f"{sim.url}/status"))[1]["serverTime"] == "2024-01-01T12:00:00Z"
    status, stats = await get_json(http, f"{sim.url}/_sim/stats")
    assert status == 200
    assert stats["requests"]["/public/meters"] == 1
    assert stats["logins"] == 1
    assert "/_sim/stats" not in stats["requests"]
    assert (await get_json(http, f"{sim.url}/_sim/nothing"))[0] == 404


async def test_tls_mode_with_the_generated_certificate() -> None:
    async with DcsSimulator(tls=True, prefix="/DCSWebApi", clock=lambda: NOW) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        assert sim.cert_path is not None
        trusted = ssl.create_default_context(cafile=sim.cert_path)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                f"{sim.url}/authentication/signin",
                json={"username": USER, "password": PASSWORD},
                ssl=trusted,
            ) as response:
                assert response.status == 200
                assert response.cookies[next(iter(response.cookies))]["secure"]
            async with http.get(f"{sim.url}/meters", ssl=trusted) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(f"{sim.url}/public/meters")
            async with http.get(f"{sim.url}/public/meters", ssl=False) as response:
                assert response.status == 200
        cert_path = sim.cert_path
    assert not await asyncio.to_thread(Path(cert_path).exists)
