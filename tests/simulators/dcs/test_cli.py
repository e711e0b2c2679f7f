"""``python -m simulators.dcs`` runs standalone, prints one line and stops on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import signal
import ssl
import sys

import aiohttp

from simulators.dcs.process import DcsSimulatorProcess

ROOT = Path(__file__).resolve().parents[3]


async def test_cli_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.dcs",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--prefix",
        "/DCSWebApi",
        "--extra-meters",
        "3",
        "--username",
        "cli-user",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        match = re.fullmatch(
            r"DCS simulator listening on (http://127\.0\.0\.1:\d+/DCSWebApi) \(user cli-user\)\n",
            line,
        )
        assert match, line
        url = match.group(1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/public/meters") as response:
                assert response.status == 200
                assert len(await response.json()) == 7
            async with http.post(f"{url}/_sim/faults", json={"fail_500": 1}) as response:
                assert response.status == 200
            async with http.get(f"{url}/public/meters") as response:
                assert response.status == 500
            async with http.get(f"{url}/_sim/stats") as response:
                assert (await response.json())["requests"]["/public/meters"] == 2
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    assert await process.stdout.read() == b""


async def test_process_helper_with_tls_and_hooks() -> None:
    async with DcsSimulatorProcess("--tls", "--gzip", "--extra-meters", "2") as proc:
        assert proc.url.startswith("https://127.0.0.1:")
        assert proc.username == "demo"
        assert proc.cert_path is not None
        trusted = ssl.create_default_context(cafile=proc.cert_path)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{proc.url}/public/meters", ssl=trusted) as response:
                assert response.headers["Content-Encoding"] == "gzip"
                assert len(await response.json()) == 6
            assert (await proc.set_faults(fail_500=1, fail_status=503))["fail_500"] == 1
            async with http.get(f"{proc.url}/public/meters", ssl=trusted) as response:
                assert response.status == 503
            await proc.set_credentials("ops", "s3cret")
            login = {"username": "ops", "password": "s3cret"}
            async with http.post(
                f"{proc.url}/authentication/signin", json=login, ssl=trusted
            ) as response:
                assert response.status == 200
            await proc.expire_sessions()
            async with http.get(f"{proc.url}/meters", ssl=trusted) as response:
                assert response.status == 401
        stats = await proc.stats()
        assert stats["requests"]["/public/meters"] == 2
        assert stats["logins"] == 1
    assert proc.url  # stopped cleanly; stop() is idempotent
    await proc.stop()
