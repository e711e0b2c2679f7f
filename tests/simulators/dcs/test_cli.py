"""``python -m simulators.dcs`` runs standalone, prints one line and stops on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import signal
import sys

import aiohttp

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
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
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
