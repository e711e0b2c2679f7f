"""MeterLink as a person uses it: Home Assistant's real frontend in Chromium, real simulators.

The tests run in order and build on each other (onboarding first); see conftest.py.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
import pytest

from custom_components.meterlink.protocols.e3dc.client import RscpClient
from custom_components.meterlink.protocols.ekm.client import EkmBus
from custom_components.meterlink.protocols.ekm.models import EkmV4Reading

from .conftest import DCS_PASSWORD, E3DC_KEY, E3DC_PASSWORDS, E3DC_USER, EKM_METERS, OWNER

if TYPE_CHECKING:
    from collections.abc import Callable

    from tools.hass_http import HassApi

    from .conftest import Simulators
    from .ui import Ui

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def state(api: HassApi, entity_id: str) -> str:
    """Return an entity's state over the REST API."""
    return str(api.get(f"/api/states/{entity_id}")["state"])


def eventually(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Wait until another process reaches a state (Home Assistant, a simulator)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.25)  # polling a separate process: there is no event to wait on


def test_onboarding(ui: Ui, api: HassApi) -> None:
    """A new Home Assistant: create the owner and click through every onboarding step."""
    ui.goto("/")
    ui.page.get_by_role("button", name="Create my smart home").click()
    name, username, password = OWNER
    ui.fill(name=name, username=username, password=password, password_confirm=password)
    ui.shot("onboarding-user")
    ui.page.get_by_role("button", name="Create account").click()
    # location, country, analytics, found devices: each step has a Next (the last a Finish)
    button = ui.page.get_by_role("button", name=re.compile("^(next|finish)$", re.IGNORECASE))
    deadline = time.monotonic() + 120
    while "onboarding" in ui.page.url:
        assert time.monotonic() < deadline, "onboarding did not finish"
        with contextlib.suppress(PlaywrightTimeoutError):
            button.first.click(timeout=5_000)
        ui.page.wait_for_load_state("networkidle")
    ui.page.wait_for_url(re.compile(r"/lovelace"), timeout=60_000)
    ui.shot("onboarding-done")
    assert api.onboarded()
    api.login(username=username, password=password)


def test_dcs_wrong_password_then_add(ui: Ui, simulators: Simulators, api: HassApi) -> None:
    """The DCS form: a wrong password shows the translated error, the right one adds the server."""
    ui.add_meterlink("Coherent Research DCS")
    ui.fill(url=simulators.dcs.url, username="demo", password="not-the-password")
    ui.shot("dcs-form")
    ui.forward()
    error = ui.dialog_text("Signing in failed")
    assert "rejected the username or password" in error.inner_text()
    assert "Traceback" not in ui.page.content()
    ui.shot("dcs-wrong-password")

    ui.fill(password=DCS_PASSWORD)
    ui.forward()
    ui.dialog_text("Choose meters")
    ui.shot("dcs-meters")
    ui.forward()
    ui.dialog_text(re.compile("registers", re.IGNORECASE))
    ui.shot("dcs-registers")
    ui.forward()
    ui.finish()
    entries = [e for e in api.entries("meterlink") if e["domain"] == "meterlink"]
    assert [e["state"] for e in entries] == ["loaded"]


def test_dcs_device_page_shows_live_values(ui: Ui, api: HassApi) -> None:
    """The meter's device page lists its registers with values and units."""
    ui.open_device("Main Incomer")
    ui.dialog_text("Last successful read")
    energy = ui.dialog_text(re.compile(r"\d[\d,.]* kWh"))
    assert energy.is_visible()
    ui.shot("dcs-device")
    states = [s for s in api.states() if s["attributes"].get("dcs_id")]
    assert states
    assert all(NUMBER.match(str(s["state"])) for s in states), states


def ekm_relay_1_closed(tcp: str, address: str) -> bool | None:
    """Read relay 1 of a simulated meter over the simulator's TCP bridge (our own client)."""

    async def read() -> bool | None:
        bus = EkmBus(port=f"socket://{tcp}")
        await bus.open()
        try:
            reading = await bus.read(address, include_b=False)
        finally:
            await bus.close()
        assert isinstance(reading, EkmV4Reading)
        return reading.a.relay_1_closed

    # its own thread and loop: Playwright's loop is this thread's running loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=60)


def test_ekm_bus_on_a_pty_with_two_meters(ui: Ui, simulators: Simulators, api: HassApi) -> None:
    """The EKM form: the simulator's pty as the port, then two meter addresses."""
    ui.add_meterlink("EKM Omnimeter")
    ui.dialog_text("EKM RS-485 bus")
    ui.combo("Serial port or bridge", simulators.ekm_pty)
    ui.fill(password="00000000")
    ui.shot("ekm-bus")
    ui.forward()
    ui.dialog_text(re.compile("meter", re.IGNORECASE))
    ui.fill(addresses=", ".join(EKM_METERS))
    ui.shot("ekm-meters")
    ui.forward()
    ui.finish()
    ekm = [e for e in api.entries("meterlink") if simulators.ekm_pty in e["title"]]
    assert [e["state"] for e in ekm] == ["loaded"], api.entries("meterlink")


def relay_switch(api: HassApi, meter: str) -> dict[str, Any]:
    """Return the state of a meter's relay 1 switch."""
    for item in api.states():
        if item["entity_id"].startswith("switch.") and item["entity_id"].endswith(
            f"{meter}_relay_1"
        ):
            return item
    raise AssertionError(f"no relay 1 switch for {meter}")


def test_ekm_relay_switch_from_the_device_page(
    ui: Ui, simulators: Simulators, api: HassApi
) -> None:
    """Flip relay 1 on the meter's page; the simulated meter's relay closes."""
    meter = EKM_METERS[0]
    ui.open_device(f"EKM meter {meter}")
    ui.dialog_text("Relay 1")
    ui.shot("ekm-device")
    toggle = ui.page.get_by_role("switch", name=re.compile("Relay 1")).first
    switch = relay_switch(api, meter)
    assert switch["state"] == "off"
    toggle.click()
    # the frontend flips the toggle at once; the entity turns on once the meter confirmed it
    eventually(lambda: state(api, switch["entity_id"]) == "on")
    assert ekm_relay_1_closed(simulators.ekm_tcp, meter) is True
    ui.shot("ekm-relay-on")


def test_dlms_meter_with_registers_from_its_object_list(
    ui: Ui, simulators: Simulators, api: HassApi
) -> None:
    """The DLMS form reads the meter's object list; the person keeps some registers."""
    before = {e["entry_id"] for e in api.entries("meterlink")}
    ui.add_meterlink("DLMS/COSEM meter")
    ui.page.get_by_text("Polled meter").first.click()
    ui.dialog_text("Polled DLMS/COSEM meter")
    ui.forward()  # generic vendor profile, TCP wrapper: the defaults
    ui.dialog_text("Connect to the meter")
    ui.fill(host="127.0.0.1")
    ui.fill_labelled("Port", str(simulators.dlms_port))
    ui.shot("dlms-connection")
    ui.forward()
    ui.dialog_text("Choose registers")
    chosen = ui.page.get_by_role("button", name=re.compile(r"^Remove \d+\.\d+\."))
    suggested = chosen.count()
    assert suggested >= 3, "MeterLink pre-selects energy, power, voltages and currents"
    ui.shot("dlms-registers")
    # drop one suggestion, add one more register from the meter's list
    ui.page.get_by_role("button", name=re.compile(r"^Remove .*Power net")).click()
    ui.page.get_by_role("combobox", name=re.compile("^Registers")).click()
    ui.page.get_by_role("option").first.click()
    ui.page.keyboard.press("Escape")
    assert chosen.count() == suggested
    ui.forward()
    ui.finish()
    (entry,) = [e for e in api.entries("meterlink") if e["entry_id"] not in before]
    assert entry["state"] == "loaded"


def entity_ending(api: HassApi, domain: str, suffix: str) -> str:
    """Return the one entity id of a domain ending with ``suffix``."""
    found = [
        s["entity_id"]
        for s in api.states()
        if s["entity_id"].startswith(f"{domain}.") and s["entity_id"].endswith(suffix)
    ]
    assert len(found) == 1, (domain, suffix, found)
    return found[0]


def test_ekm_options_poll_faster(ui: Ui, simulators: Simulators) -> None:
    """The bus's options (Configure on its entry): poll every 5 seconds."""
    ui.goto("/config/integrations/integration/meterlink")
    row = ui.page.locator("ha-md-list-item").filter(has=ui.page.get_by_text(simulators.ekm_pty))
    row.get_by_role("button", name="Configure").first.click()
    ui.dialog_text(re.compile("interval", re.IGNORECASE))
    ui.fill_labelled("Polling interval", "5")
    ui.shot("ekm-options")
    ui.forward()
    ui.dialog_text(re.compile("saved", re.IGNORECASE))


def e3dc_switches(simulators: Simulators, password: str) -> dict[str, bool | None]:
    """Read the simulated E3/DC's smart-home switches with our own RSCP client."""

    async def read() -> dict[str, bool | None]:
        client = RscpClient(
            host="127.0.0.1",
            port=simulators.e3dc_port,
            username=E3DC_USER,
            password=password,
            rscp_key=E3DC_KEY,
            keepalive_s=None,
        )
        async with client:
            return {str(s.name): s.is_on for s in await client.switches()}

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=60)


def test_e3dc_wrong_key_then_add(ui: Ui, simulators: Simulators, api: HassApi) -> None:
    """The E3/DC form: a wrong RSCP key is named as such; the right one adds the system."""
    ui.add_meterlink("E3/DC home power station")
    ui.dialog_text("E3/DC home power station")
    ui.fill(host="127.0.0.1", username=E3DC_USER, password=E3DC_PASSWORDS[0])
    ui.fill(rscp_key="not-the-key")
    ui.fill_labelled("Port", str(simulators.e3dc_port))
    ui.forward()
    ui.dialog_text("the RSCP key is wrong")
    assert "Traceback" not in ui.page.content()
    ui.shot("e3dc-wrong-key")
    ui.fill(rscp_key=E3DC_KEY, password=E3DC_PASSWORDS[0])
    ui.shot("e3dc-form")
    ui.forward()
    ui.finish()
    e3dc = [e for e in api.entries("meterlink") if e["title"].startswith("E3/DC")]
    assert [e["state"] for e in e3dc] == ["loaded"], api.entries("meterlink")


def test_e3dc_smart_home_switch_from_the_device_page(
    ui: Ui, simulators: Simulators, api: HassApi
) -> None:
    """Switch the heat pump on from the system's page; the simulated E3/DC switches it."""
    assert e3dc_switches(simulators, E3DC_PASSWORDS[0])["Heat pump"] is False
    ui.open_device("E3/DC S10 E")
    ui.dialog_text("Heat pump")
    ui.shot("e3dc-device")
    switch = entity_ending(api, "switch", "heat_pump")
    ui.page.get_by_role("switch", name=re.compile("Heat pump")).first.click()
    eventually(lambda: state(api, switch) == "on")
    assert e3dc_switches(simulators, E3DC_PASSWORDS[0])["Heat pump"] is True
    ui.shot("e3dc-switch-on")


def test_e3dc_reauth_after_the_password_changed(
    ui: Ui, simulators: Simulators, api: HassApi
) -> None:
    """The portal password changes: Home Assistant asks again, the person enters the new one."""
    simulators.restart_e3dc(E3DC_PASSWORDS[1])
    # the next poll is refused; Home Assistant starts a reauth flow, which the integrations
    # page offers once it is (re)loaded
    reconfigure = ui.page.get_by_role("button", name=re.compile("^reconfigure$", re.IGNORECASE))

    def offered() -> bool:
        ui.goto("/config/integrations/dashboard")
        return reconfigure.count() > 0

    eventually(offered, timeout=90)
    ui.shot("e3dc-reauth-offered")
    ui.page.get_by_role("button", name=re.compile("^reconfigure$", re.IGNORECASE)).first.click()
    ui.dialog_text("Sign in to the E3/DC again")
    ui.fill(password=E3DC_PASSWORDS[1], rscp_key=E3DC_KEY)
    ui.shot("e3dc-reauth")
    ui.forward()
    ui.dialog_text(re.compile("signed in again", re.IGNORECASE))
    ui.shot("e3dc-reauth-done")
    ui.page.get_by_role("button", name=re.compile("^(finish|close)$", re.IGNORECASE)).last.click()
    e3dc = next(e for e in api.entries("meterlink") if e["title"].startswith("E3/DC"))
    eventually(
        lambda: (
            next(e for e in api.entries("meterlink") if e["entry_id"] == e3dc["entry_id"])["state"]
            == "loaded"
        )
    )
