"""Run the DCS simulator as a subprocess (own CPU, own GIL) and drive its ``/_sim`` hooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
import signal
import sys
from typing import Any, Self

import aiohttp

_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding the simulators package
_LINE = re.compile(r"^DCS simulator listening on (\S+) \(user (\S+?)(?:, cert (.+))?\)$")


class DcsSimulatorProcess:
    """``python -m simulators.dcs`` on a free port; ``url`` and ``cert_path`` once started."""

    def __init__(self, *args: str, startup_timeout: float = 30.0) -> None:
        """Remember extra CLI arguments, e.g. ``"--extra-meters", "50", "--gzip"``."""
        self.args = args
        self.startup_timeout = startup_timeout
        self.url = ""
        self.username = ""
        self.cert_path: str | None = None
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the subprocess and wait for its "listening on" line."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "simulators.dcs",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self.args,
            cwd=_ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None  # noqa: S101 - stdout=PIPE above
        line = await asyncio.wait_for(self._process.stdout.readline(), self.startup_timeout)
        match = _LINE.match(line.decode().strip())
        if match is None:
            await self.stop()
            msg = f"the DCS simulator did not start: {line!r}"
            raise RuntimeError(msg)
        self.url, self.username, self.cert_path = match.group(1), match.group(2), match.group(3)

    async def stop(self) -> None:
        """SIGTERM the subprocess and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await process.wait()

    async def __aenter__(self) -> Self:
        """Start the subprocess."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the subprocess."""
        await self.stop()

    async def _hook(self, method: str, name: str, body: Any = None) -> Any:
        """Call one ``/_sim/<name>`` hook and return its JSON answer."""
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, f"{self.url}/_sim/{name}", json=body, ssl=False) as response,
        ):
            response.raise_for_status()
            return await response.json()

    async def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Set DcsFaults fields in the subprocess (e.g. ``fail_500=2``); return all of them."""
        result: dict[str, Any] = await self._hook("POST", "faults", faults)
        return result

    async def stats(self) -> dict[str, Any]:
        """Return the subprocess's DcsStats as JSON."""
        result: dict[str, Any] = await self._hook("GET", "stats")
        return result

    async def expire_sessions(self) -> None:
        """Invalidate every session in the subprocess."""
        await self._hook("POST", "expire_sessions", {})

    async def set_credentials(self, username: str, password: str) -> None:
        """Change the accepted credentials in the subprocess."""
        await self._hook("POST", "credentials", {"username": username, "password": password})
