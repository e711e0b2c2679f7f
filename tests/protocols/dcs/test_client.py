"""The DCS client against the simulator over real loopback HTTP (our client is never mocked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import socket
import ssl

import pytest

from custom_components.meterlink.protocols.dcs import (
    DcsApi,
    DcsAuthenticationError,
    DcsClient,
    DcsConnectionError,
    DcsForbiddenError,
    DcsMalformedResponseError,
    DcsNotFoundError,
    DcsPeriod,
    DcsRateLimitedError,
    DcsServerError,
    DcsStatus,
    DcsTarget,
    DcsTimeoutError,
    DcsTlsError,
)
from simulators.dcs import DcsSimulator

NOW = datetime(2024, 3, 20, 12, 10, tzinfo=UTC)


@pytest.fixture
async def sim() -> AsyncIterator[DcsSimulator]:
    async with DcsSimulator(clock=lambda: NOW) as simulator:
        yield simulator


def client_for(sim: DcsSimulator, **kw: object) -> DcsClient:
    args: dict[str, object] = {
        "url": sim.url,
        "username": sim.username,
        "password": sim.password,
        "request_timeout": 5.0,
    }
    args.update(kw)
    return DcsClient(**args)  # type: ignore[arg-type]


def first_register(sim: DcsSimulator, *, instantaneous: bool = False) -> int:
    for meter in sim.meters:
        for reg in meter.registers:
            if reg.is_instantaneous == instantaneous:
                return reg.id
    raise AssertionError


async def test_login_detects_web_api_and_lists_meters(sim: DcsSimulator) -> None:
    async with client_for(sim) as client:
        assert client.api_in_use is DcsApi.WEB_API
        assert client.user is not None
        assert client.user.username == sim.username
        meters = await client.meters()
        assert {m.id for m in meters} == {m.id for m in sim.meters}
        assert all(m.registers for m in meters)
        vms = await client.virtual_meters()
        assert {v.id for v in vms} == {v.id for v in sim.virtual_meters}
        one = await client.meter(meters[0].id)
        assert one == meters[0]
        reg = meters[0].registers[0]
        assert await client.register(reg.id) == (meters[0], reg)
        assert len(await client.registers()) == sum(len(m.registers) for m in meters)
        with pytest.raises(DcsNotFoundError, match="no register with id 424242"):
            await client.register(424242)
        with pytest.raises(DcsNotFoundError):
            await client.meter(999_999)
    assert sim.stats.logouts == 1


async def test_v3_api_detected_when_web_api_is_absent() -> None:
    async with (
        DcsSimulator(clock=lambda: NOW, private_enabled=False, public_enabled=False) as sim,
        client_for(sim) as client,
    ):
        assert client.api_in_use is DcsApi.V3
        meters = await client.meters()
        assert meters
        assert await client.meter(meters[1].id) == meters[1]
        vms = await client.virtual_meters()
        assert await client.virtual_meter(vms[0].id) == vms[0]
        reg = first_register(sim)
        rows = await client.readings(
            DcsTarget.register(reg), start=NOW - timedelta(hours=2), end=NOW
        )
        assert rows
        assert rows[-1].total == pytest.approx(
            sim.register_total(reg, rows[-1].timestamp + timedelta(minutes=30), True)
        )
        # pythondcspro's read-only extras work on the v3 API
        assert await client.meter_types() is not None
        assert await client.meter_groups() is not None
        assert await client.idcs() is not None
        assert await client.calibration_readings(reg) is not None


async def test_wrong_password_is_an_authentication_error(sim: DcsSimulator) -> None:
    client = client_for(sim, password="wrong")
    with pytest.raises(DcsAuthenticationError) as err:
        await client.login()
    assert err.value.secret == "password"
    assert sim.username in str(err.value)
    await client.close()


async def test_register_readings_match_ground_truth(sim: DcsSimulator) -> None:
    reg = first_register(sim)
    async with client_for(sim) as client:
        start = datetime(2024, 3, 19, tzinfo=UTC)
        rows = await client.readings(
            DcsTarget.register(reg), start=start, end=start + timedelta(days=1)
        )
    assert len(rows) == 48
    for row in rows:
        end = row.timestamp + timedelta(minutes=30)
        assert row.total == pytest.approx(sim.register_total(reg, end, True))
        assert row.period == pytest.approx(
            sim.register_total(reg, end, True) - sim.register_total(reg, row.timestamp, True)
        )
    assert [r.timestamp for r in rows] == [start + timedelta(minutes=30 * i) for i in range(48)]


async def test_readings_stop_at_the_simulators_now(sim: DcsSimulator) -> None:
    reg = first_register(sim)
    async with client_for(sim) as client:
        rows = await client.readings(
            DcsTarget.register(reg),
            start=NOW - timedelta(hours=3, minutes=10),
            end=NOW + timedelta(minutes=50),
        )
    assert rows[-1].timestamp + timedelta(minutes=30) <= NOW


async def test_virtual_meter_gives_period_values(sim: DcsSimulator) -> None:
    vm = next(v for v in sim.virtual_meters if not v.is_instantaneous)
    async with client_for(sim) as client:
        rows = await client.readings(
            DcsTarget.virtual_meter(vm.id),
            start=NOW - timedelta(hours=5, minutes=10),
            end=NOW - timedelta(minutes=10),
        )
    assert rows
    assert all(r.total is None and r.period is not None and r.period >= 0 for r in rows)


async def test_a_year_streams_in_windows_without_a_list(sim: DcsSimulator) -> None:
    reg = first_register(sim)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    end = datetime(2024, 1, 1, tzinfo=UTC)
    async with client_for(sim, max_window=timedelta(days=100)) as client:
        count = 0
        biggest_batch = 0
        last_total = -1.0
        async for batch in client.reading_batches(DcsTarget.register(reg), start=start, end=end):
            biggest_batch = max(biggest_batch, len(batch))
            for row in batch:
                assert row.total is not None
                assert row.total >= last_total
                last_total = row.total
                count += 1
    assert count == 365 * 48
    assert biggest_batch < 5000  # rows arrive chunk by chunk, not as one list
    assert sim.stats.requests["/readings"] == 4  # 100-day windows


async def test_session_expiry_mid_poll_relogs_transparently(sim: DcsSimulator) -> None:
    reg = first_register(sim)
    async with client_for(sim) as client:
        sim.faults.expire_after = 1
        for _ in range(3):
            await client.readings(
                DcsTarget.register(reg),
                start=NOW - timedelta(hours=2, minutes=10),
                end=NOW - timedelta(minutes=10),
            )
    assert sim.stats.logins == 2


async def test_rate_limit_is_waited_out_then_reported(sim: DcsSimulator) -> None:
    sim.faults.retry_after_s = 0
    async with client_for(sim, max_retries=2) as client:
        sim.faults.rate_limit_429 = 2
        assert await client.meters()
        sim.faults.rate_limit_429 = 5
        with pytest.raises(DcsRateLimitedError) as err:
            await client.meters()
        assert err.value.retry_after == 0
        sim.faults.rate_limit_429 = 0
        sim.faults.retry_after_s = 3600
        sim.faults.rate_limit_429 = 1
        with pytest.raises(DcsRateLimitedError) as err:
            await client.meters()  # too long to wait: reported at once
        assert err.value.retry_after == 3600


async def test_gateway_errors_are_retried_server_errors_are_not(sim: DcsSimulator) -> None:
    async with client_for(sim) as client:
        sim.faults.fail_status = 503
        sim.faults.fail_500 = 1
        assert await client.meters()
        sim.faults.fail_status = 500
        sim.faults.fail_500 = 1
        with pytest.raises(DcsServerError) as err:
            await client.meters()
        assert err.value.status == 500
        assert await client.meters()  # recovers by itself


async def test_truncated_and_malformed_bodies(sim: DcsSimulator) -> None:
    reg = DcsTarget.register(first_register(sim))
    span = {"start": datetime(2024, 3, 1, tzinfo=UTC), "end": datetime(2024, 3, 15, tzinfo=UTC)}
    async with client_for(sim) as client:
        sim.faults.truncate_next = True
        with pytest.raises((DcsConnectionError, DcsMalformedResponseError)):
            await client.readings(reg, **span)
        sim.faults.malformed_next = True
        with pytest.raises(DcsMalformedResponseError) as err:
            await client.meters()
        assert err.value.snippet
        assert len(await client.readings(reg, **span)) == 14 * 48


async def test_nan_strings_become_missing_values(sim: DcsSimulator) -> None:
    sim.faults.nan_values = True
    async with client_for(sim) as client:
        rows = await client.readings(
            DcsTarget.register(first_register(sim)),
            start=datetime(2024, 3, 1, tzinfo=UTC),
            end=datetime(2024, 3, 2, tzinfo=UTC),
        )
    assert [r.total for r in rows[:3]] == [None, None, None]
    assert all(r.total is not None for r in rows[3:])


async def test_slow_server_times_out(sim: DcsSimulator) -> None:
    sim.faults.delay_s = 2.0
    client = client_for(sim, request_timeout=0.2)
    with pytest.raises(DcsTimeoutError) as err:
        await client.login()
    assert str(sim.port) in str(err.value)
    sim.faults.delay_s = 0
    await client.close()


async def test_connection_refused_names_host_and_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DcsClient(url=f"http://127.0.0.1:{port}", username="a", password="b")
    with pytest.raises(DcsConnectionError) as err:
        await client.login()
    assert f"port {port}" in str(err.value)
    await client.close()


async def test_not_a_dcs_server(sim: DcsSimulator) -> None:
    client = client_for(sim, url=sim.url + "/nothing-here")
    with pytest.raises(DcsNotFoundError):
        await client.login()
    await client.close()


async def test_forbidden_register(sim: DcsSimulator) -> None:
    reg = first_register(sim)
    sim.faults.forbidden_ids = {f"R{reg}"}
    async with client_for(sim) as client:
        with pytest.raises(DcsForbiddenError):
            await client.readings(
                DcsTarget.register(reg),
                start=NOW - timedelta(hours=2, minutes=10),
                end=NOW - timedelta(minutes=10),
            )


async def test_one_transaction_at_a_time(sim: DcsSimulator) -> None:
    sim.faults.delay_s = 0.05
    reg = DcsTarget.register(first_register(sim))
    async with client_for(sim) as client:
        await asyncio.gather(
            client.meters(),
            client.virtual_meters(),
            client.readings(
                reg, start=datetime(2024, 3, 1, tzinfo=UTC), end=datetime(2024, 3, 2, tzinfo=UTC)
            ),
            client.meters(),
        )
    assert sim.stats.max_concurrent == 1
    assert sim.stats.max_concurrent_any == 1


async def test_frames_are_captured_with_secrets_masked(sim: DcsSimulator) -> None:
    frames: list[tuple[str, bytes]] = []
    async with client_for(sim, on_frame=lambda d, b: frames.append((d, b))) as client:
        await client.meters()
    text = b"\n".join(b for _, b in frames)
    assert b"POST /authentication/signin" in text
    assert sim.password.encode() not in text
    assert b"Set-Cookie: COHERENT-DCS-API" in text
    cookie = client._cookie  # logged out: cleared
    assert cookie is None
    assert {d for d, _ in frames} == {"tx", "rx"}


async def test_public_endpoints_without_account(sim: DcsSimulator) -> None:
    async with DcsClient(url=sim.url) as client:
        assert client.api_in_use is DcsApi.WEB_API
        assert await client.meters()
        rows = await client.readings(
            DcsTarget.register(first_register(sim)),
            start=NOW - timedelta(hours=2, minutes=10),
            end=NOW - timedelta(minutes=10),
        )
        assert len(rows) == 4
    assert sim.stats.requests["/public/readings"] == 1


async def test_tls_verification() -> None:
    async with DcsSimulator(clock=lambda: NOW, tls=True) as sim:
        strict = client_for(sim)
        with pytest.raises(DcsTlsError):
            await strict.login()
        await strict.close()
        async with client_for(sim, verify_ssl=False) as lax:
            assert await lax.meters()
        assert sim.cert_path is not None
        context = ssl.create_default_context(cafile=sim.cert_path)
        async with client_for(sim, ssl_context=context) as trusting:
            assert await trusting.meters()


async def test_interpolated_gaps_are_flagged() -> None:
    gap = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    async with DcsSimulator(clock=lambda: NOW, gap_slots=[gap]) as sim, client_for(sim) as client:
        rows = await client.readings(
            DcsTarget.register(first_register(sim)),
            start=datetime(2024, 3, 1, tzinfo=UTC),
            end=datetime(2024, 3, 1, 3, tzinfo=UTC),
        )
    flagged = [r.timestamp for r in rows if DcsStatus.INTERPOLATED in r.status]
    assert flagged == [gap]


async def test_bad_url_is_rejected_early() -> None:
    with pytest.raises(ValueError, match="not an http"):
        DcsClient(url="ftp://x")
    client = DcsClient(url="http://127.0.0.1:1", username="a", password="b")
    client._api_in_use = DcsApi.WEB_API
    client._cookie = ("COHERENT-DCS-API", "x")
    with pytest.raises(ValueError, match="exactly two"):
        await client.readings("R1", start=NOW.replace(minute=0))


async def test_periods_other_than_half_hour(sim: DcsSimulator) -> None:
    reg = DcsTarget.register(first_register(sim))
    async with client_for(sim) as client:
        days = await client.readings(
            reg,
            start=datetime(2024, 1, 1, tzinfo=UTC),
            end=datetime(2024, 2, 1, tzinfo=UTC),
            period=DcsPeriod.DAY,
        )
        months = await client.readings(
            reg,
            start=datetime(2023, 1, 1, tzinfo=UTC),
            end=datetime(2024, 1, 1, tzinfo=UTC),
            period=DcsPeriod.MONTH,
        )
    assert len(days) == 31
    assert len(months) == 12
    assert sum(r.period or 0 for r in days) == pytest.approx(
        sim.register_total(reg.id, datetime(2024, 2, 1, tzinfo=UTC), True)
        - sim.register_total(reg.id, datetime(2024, 1, 1, tzinfo=UTC), True)
    )
