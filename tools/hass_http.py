"""Run a real ``hass`` with MeterLink from this checkout, and drive it over its HTTP API.

Used by ``scripts/demo`` and by the end-to-end tests. Blocking (``requests``, threads): call it
from synchronous code only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import queue
import re
import signal
import subprocess
import sys
import threading
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"Home Assistant initialized in")
RECOVERY = re.compile(r"Activating recovery mode|Starting in recovery mode")

BASE_CONFIG = """\
homeassistant:
  name: {name}
  time_zone: {time_zone}
  country: GB
  unit_system: metric
  latitude: 52.38
  longitude: -1.56
http:
  server_host: {host}
  server_port: {port}
api:
auth:
config:
onboarding:
person:
recorder:
  commit_interval: 1
logger:
  default: warning
  logs:
    homeassistant.bootstrap: info
    custom_components.meterlink: {meterlink_log}
{extra}
"""


def link_integration(config_dir: Path) -> None:
    """Make ``config_dir/custom_components/meterlink`` point at this checkout's integration."""
    target = config_dir / "custom_components" / "meterlink"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        if target.resolve() == (ROOT / "custom_components" / "meterlink").resolve():
            return
        target.unlink()
    target.symlink_to(ROOT / "custom_components" / "meterlink", target_is_directory=True)


@dataclass
class SimulatorProcess:
    """A simulator started as ``python -m simulators.<system>``; ``line`` is what it printed."""

    system: str
    args: list[str]
    python: str = sys.executable
    process: subprocess.Popen[str] | None = None
    line: str = ""

    def start(self, timeout: float = 30) -> str:
        """Start it and return its line "... listening on <url> ..." (earlier lines are skipped)."""
        self.process = subprocess.Popen(
            [self.python, "-m", f"simulators.{self.system}", *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None  # noqa: S101
        stream = self.process.stdout

        def listening_line() -> None:
            # a library may warn before it (pymodbus 3.16 prints a deprecation notice first)
            for text in stream:
                if "listening" in text:
                    lines.put(text)
                    return
            lines.put("")

        threading.Thread(target=listening_line, daemon=True).start()
        try:
            self.line = lines.get(timeout=timeout).strip()
        except queue.Empty as err:
            self.stop()
            msg = f"simulator {self.system} printed nothing in {timeout} s"
            raise RuntimeError(msg) from err
        if not self.line:
            self.stop()
            msg = f"simulator {self.system} exited: {self.process.returncode}"
            raise RuntimeError(msg)
        return self.line

    @property
    def url(self) -> str:
        """Return the first URL in its line."""
        match = re.search(r"(\w+://\S+)", self.line)
        if match is None:
            msg = f"no URL in {self.line!r}"
            raise RuntimeError(msg)
        return match.group(1)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout:
            self.process.stdout.close()


@dataclass
class HassProcess:
    """A real Home Assistant process with a config dir of its own."""

    config_dir: Path
    port: int
    host: str = "127.0.0.1"
    python: str = sys.executable
    process: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    recovery: bool = False
    _ready: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def write_config(
        self,
        *,
        extra: str = "",
        name: str = "MeterLink",
        time_zone: str = "Europe/London",
        meterlink_log: str = "info",
    ) -> None:
        """Write configuration.yaml (only if missing) and link the integration."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        config = self.config_dir / "configuration.yaml"
        if not config.exists():
            config.write_text(
                BASE_CONFIG.format(
                    name=name,
                    time_zone=time_zone,
                    host=self.host,
                    port=self.port,
                    meterlink_log=meterlink_log,
                    extra=extra,
                )
            )
        link_integration(self.config_dir)

    def start(self, timeout: float = 180) -> None:
        """Start ``hass`` and return once it says it is initialized."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [self.python, "-m", "homeassistant", "--config", str(self.config_dir), "--skip-pip"],
            cwd=self.config_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, name="hass-log", daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout) or self.recovery or not self.running:
            tail = "\n".join(self.log[-60:])
            self.stop()
            msg = f"Home Assistant did not start (within {timeout} s, normally):\n{tail}"
            raise RuntimeError(msg)

    def _read(self) -> None:
        assert self.process is not None  # noqa: S101
        assert self.process.stdout is not None  # noqa: S101
        for line in self.process.stdout:
            self.log.append(line.rstrip())
            if RECOVERY.search(line):
                self.recovery = True
            if READY.search(line):
                self._ready.set()
        self._ready.set()  # exited: wake the waiter

    @property
    def running(self) -> bool:
        """Return True while the process lives."""
        return self.process is not None and self.process.poll() is None

    def wait(self) -> int:
        """Wait for the process to exit."""
        assert self.process is not None  # noqa: S101
        return self.process.wait()

    def stop(self, timeout: float = 60) -> None:
        """Stop Home Assistant (SIGTERM; after ``timeout`` s SIGABRT) and its log reader."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                # still busy: SIGABRT makes Home Assistant's fault handler write every
                # thread's stack to <config>/home-assistant.log.fault, then it is killed
                self.process.send_signal(signal.SIGABRT)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        if self._reader is not None:
            self._reader.join(10)
        if self.process.stdout:
            self.process.stdout.close()


class HassApi:
    """The bits of Home Assistant's HTTP API that onboarding and config flows need."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60) -> None:
        """Talk to ``base_url``."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str) -> Any:
        """GET a JSON document."""
        reply = self.session.get(
            self.base_url + path, headers=self._headers(), timeout=self.timeout
        )
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST JSON, return JSON."""
        reply = self.session.post(
            self.base_url + path, json=body or {}, headers=self._headers(), timeout=self.timeout
        )
        if reply.status_code >= 400:  # noqa: PLR2004
            msg = f"POST {path} -> {reply.status_code}: {reply.text[:500]}"
            raise RuntimeError(msg)
        return reply.json() if reply.content else None

    def onboarded(self) -> bool:
        """Return True once the owner account exists."""
        steps = self.get("/api/onboarding")
        return any(s["step"] == "user" and s["done"] for s in steps)

    def onboard(self, *, name: str, username: str, password: str) -> str:
        """Create the owner, finish every onboarding step, and keep a token."""
        client_id = self.base_url + "/"
        created = self.post(
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        self.token = self._token(
            {
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            }
        )
        self.post("/api/onboarding/core_config")
        self.post("/api/onboarding/analytics")
        self.post(
            "/api/onboarding/integration", {"client_id": client_id, "redirect_uri": client_id}
        )
        return self.token

    def login(self, *, username: str, password: str) -> str:
        """Log in through the login flow and keep a token."""
        client_id = self.base_url + "/"
        flow = self.post(
            "/auth/login_flow",
            {
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": client_id,
            },
        )
        result = self.post(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": client_id, "username": username, "password": password},
        )
        self.token = self._token(
            {"grant_type": "authorization_code", "code": result["result"], "client_id": client_id}
        )
        return self.token

    def _token(self, form: dict[str, str]) -> str:
        reply = self.session.post(self.base_url + "/auth/token", data=form, timeout=self.timeout)
        reply.raise_for_status()
        token: str = reply.json()["access_token"]
        return token

    def config_flow(self, handler: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        """Start a config flow and answer its steps in order; return the last result."""
        result: dict[str, Any] = self.post(
            "/api/config/config_entries/flow", {"handler": handler, "show_advanced_options": True}
        )
        for answer in steps:
            if result.get("type") not in ("form", "menu"):
                break
            result = self.post(f"/api/config/config_entries/flow/{result['flow_id']}", answer)
        return result

    def entries(self, domain: str) -> list[dict[str, Any]]:
        """Return the config entries of a domain."""
        entries: list[dict[str, Any]] = self.get(
            f"/api/config/config_entries/entry?domain={domain}"
        )
        return entries

    def states(self) -> list[dict[str, Any]]:
        """Return every state."""
        states: list[dict[str, Any]] = self.get("/api/states")
        return states
