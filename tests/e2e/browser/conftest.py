"""One real ``hass`` with its frontend, every simulator, and one Chromium tab for the session.

Screenshots and the ``hass`` log go to ``artifacts/e2e/`` (kept when a test fails; a failing
test adds ``FAILED-<test>.png``). The tests of this folder run in file order on one worker
(``xdist_group``): each builds on the Home Assistant the previous ones set up, as a person's
afternoon would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import socket
from typing import Any

import pytest
import pytest_socket

from tools.hass_http import HassApi, HassProcess, SimulatorProcess

from .ui import Ui

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = Path(os.environ.get("METERLINK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXTRA_CONFIG = """\
frontend:
history:
logbook:
energy:
automation: !include automations.yaml
system_log:
"""
OWNER = ("E2E Owner", "owner", "e2e-password-1")
DCS_PASSWORD = "e2e-dcs-secret"
EKM_METERS = ("300001285", "300001317")
E3DC_USER = "e2e@example.com"
E3DC_KEY = "e2e-rscp-key"
E3DC_PASSWORDS = ("e2e-portal-1", "e2e-portal-2")  # before and after the password change
MODBUS_UNIT = 1


def free_port() -> int:
    """Return a free loopback TCP port."""
    # session fixtures run before the per-test socket switch of tests/conftest.py
    pytest_socket.enable_socket()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep this folder's tests together on one xdist worker, in file order."""
    for item in items:
        if "e2e/browser" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("browser"))


@dataclass
class Simulators:
    """The simulators the browser tests drive, each in its own process."""

    dcs: SimulatorProcess
    ekm: SimulatorProcess
    dlms: SimulatorProcess
    dlms_port: int
    e3dc: SimulatorProcess
    e3dc_port: int
    modbus: SimulatorProcess

    def restart_e3dc(self, password: str) -> None:
        """Restart the E3/DC on the same port with another portal password."""
        self.e3dc.stop()
        self.e3dc = e3dc_simulator(self.e3dc_port, password)
        self.e3dc.start()

    @property
    def modbus_port(self) -> int:
        """Return the Modbus TCP simulator's port."""
        return int(self.modbus.line.split("listening on ", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])

    @property
    def ekm_pty(self) -> str:
        """Return the EKM simulator's pseudo-terminal path."""
        return self.ekm.line.split("pty ", 1)[1].split(";", 1)[0].strip()

    @property
    def ekm_tcp(self) -> str:
        """Return the EKM simulator's TCP bridge as host:port."""
        return self.ekm.line.split("tcp ", 1)[1].split(",", 1)[0].split(";", 1)[0].strip()


def e3dc_simulator(port: int, password: str) -> SimulatorProcess:
    """Return the E3/DC simulator (not started) with a portal password."""
    return SimulatorProcess(
        "e3dc",
        ["--port", str(port), "--rscp-key", E3DC_KEY, "--user", E3DC_USER, "--password", password],
    )


@pytest.fixture(scope="session")
def simulators() -> Iterator[Simulators]:
    """Start the DCS, EKM (pty + TCP), DLMS, E3/DC and Modbus TCP simulators."""
    dlms_port, e3dc_port = free_port(), free_port()
    sims = Simulators(
        dcs=SimulatorProcess(
            "dcs",
            ["--port", "0", "--prefix", "/DCSWebApi", "--password", DCS_PASSWORD],
        ),
        ekm=SimulatorProcess(
            "ekm", ["--port", "0", "--pty", "--meters", ",".join(f"{m}:v4" for m in EKM_METERS)]
        ),
        dlms=SimulatorProcess("dlms", ["--port", str(dlms_port), "--transport", "wrapper"]),
        dlms_port=dlms_port,
        e3dc=e3dc_simulator(e3dc_port, E3DC_PASSWORDS[0]),
        e3dc_port=e3dc_port,
        modbus=SimulatorProcess("modbus", ["--port", "0", "--units", str(MODBUS_UNIT)]),
    )
    started: list[SimulatorProcess] = []
    try:
        for sim in (sims.dcs, sims.ekm, sims.dlms, sims.e3dc, sims.modbus):
            sim.start()
            started.append(sim)
        yield sims
    finally:
        for sim in [*started, sims.e3dc]:  # stop() is idempotent
            sim.stop()


@pytest.fixture(scope="session")
def hass_server(simulators: Simulators) -> Iterator[HassProcess]:
    """Start one Home Assistant with its frontend for the whole session.

    It stops before the simulators do: a device that vanishes under a running Home Assistant
    is another test (and its reconnect attempts would only slow down the shutdown).
    """
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    config = ARTIFACTS / "config"
    hass = HassProcess(config_dir=config, port=free_port())
    hass.write_config(extra=EXTRA_CONFIG, meterlink_log="debug")
    (config / "automations.yaml").write_text("[]\n")
    hass.start()
    try:
        yield hass
    finally:
        # its recorder may still be writing imported history (a year of hours per DCS
        # register): the database is thrown away, so it gets 15 s, not a minute
        hass.stop(timeout=15)
        (ARTIFACTS / "hass.log").write_text("\n".join(hass.log) + "\n")


@pytest.fixture(scope="session")
def ui(hass_server: HassProcess) -> Iterator[Ui]:
    """Open Chromium on the Home Assistant frontend."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/test installs Debian's chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(30_000)
        tab = Ui(page=page, base_url=hass_server.url, shots=ARTIFACTS)
        # Playwright's sync API leaves its own loop marked "running" in this thread; Home
        # Assistant's per-test loop fixtures must not see it: _playwright_loop switches it.
        tab.loop = asyncio.get_running_loop()
        # its executor thread starts now, not inside a test (the harness counts new threads)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright-io")
        executor.submit(int).result()
        tab.loop._default_executor = executor  # type: ignore[attr-defined]
        asyncio._set_running_loop(None)
        try:
            yield tab
        finally:
            asyncio._set_running_loop(tab.loop)
            context.close()
            browser.close()


@pytest.fixture(autouse=True)
def _playwright_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """Mark Playwright's loop running only while a browser test's body runs."""
    if "ui" not in request.fixturenames:
        yield
        return
    tab: Ui = request.getfixturevalue("ui")
    asyncio._set_running_loop(tab.loop)
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def api(hass_server: HassProcess) -> Iterator[HassApi]:
    """Home Assistant's REST API, logged in as the owner the browser created."""
    client = HassApi(hass_server.url)
    yield client
    client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep a screenshot of the page when a browser test fails."""
    report = yield
    if report.when == "call" and report.failed and "ui" in getattr(item, "funcargs", {}):
        tab: Ui = item.funcargs["ui"]  # type: ignore[attr-defined]
        # the report matters more than the picture
        with contextlib.suppress(Exception):
            tab.page.screenshot(path=ARTIFACTS / f"FAILED-{item.name}.png")
    return report
