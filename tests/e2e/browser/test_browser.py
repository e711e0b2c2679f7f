"""MeterLink as a person uses it: Home Assistant's real frontend in Chromium, real simulators.

The tests run in order and build on each other (onboarding first); see conftest.py.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import contextlib
from datetime import UTC, datetime, timedelta
import re
import time
from typing import TYPE_CHECKING, Any

from playwright.sync_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeoutError
import pytest

from custom_components.meterlink.protocols.e3dc.client import RscpClient
from custom_components.meterlink.protocols.ekm.client import EkmBus
from custom_components.meterlink.protocols.ekm.models import EkmV4Reading
from custom_components.meterlink.protocols.modbus.client import ModbusClient
from custom_components.meterlink.protocols.modbus.models import DataType, ModbusPoint, Table

from .conftest import (
    DCS_PASSWORD,
    E3DC_KEY,
    E3DC_PASSWORDS,
    E3DC_USER,
    EKM_METERS,
    MODBUS_UNIT,
    OWNER,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tools.hass_http import HassApi, HassProcess

    from .conftest import Simulators
    from .ui import Ui

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DCS_OTHER_METERS = ("Gas Meter", "Water Meter", "Lighting Board", "Site Electricity", "Site Power")
DCS_HISTORY_DAYS = 30  # chosen while adding the DCS server
DLMS_METER = "DLMS SIM0000000001"
MODBUS_TERM = "Plant meter"
# a person's point list for unit 1 of the simulator: its live energy and power registers, a
# holding register the test writes as the plant's load, and a writable coil
MODBUS_POINTS = """\
key,table,address,data_type,scale,precision,name,unit,device_class,state_class,writable
energy_import,input_register,0,uint32,0.001,3,Energy import,kWh,energy,total_increasing,
power_active,input_register,2,int16,1,0,Active power,W,power,measurement,
load_power,holding_register,40,int16,1,0,Load power,W,power,measurement,
grid_relay,coil,0,bit,1,,Grid relay,,switch,,true
"""
LOAD_POWER = ModbusPoint(
    key="load_power",
    unit_id=MODBUS_UNIT,
    table=Table.HOLDING_REGISTER,
    address=40,
    data_type=DataType.INT16,
)
LOAD_THRESHOLD_W = 1500


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
    # only the main incomer, its energy and power: the other meters add a year of hourly
    # history each, which Home Assistant's recorder takes minutes to import on 2 cores
    for other in DCS_OTHER_METERS:
        ui.page.get_by_label(re.compile(rf"^{re.escape(other)}")).uncheck()
    # a month of history is plenty for the Energy dashboard's week (the default is a year)
    ui.fill_labelled("History to import at first", str(DCS_HISTORY_DAYS))
    ui.shot("dcs-meters")
    ui.forward()
    ui.dialog_text("Choose registers")
    ui.page.get_by_label(re.compile(r"Reactive Energy")).uncheck()
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


def test_dlms_device_page_shows_live_values(ui: Ui, api: HassApi) -> None:
    """The DLMS meter's page shows the registers the person kept, with values and units."""
    ui.open_device(DLMS_METER)
    ui.dialog_text(re.compile(r"\d[\d,.]*\s+kWh"))
    ui.dialog_text("Voltage L1")
    ui.dialog_text(re.compile(r"\d[\d,.]*\s+V\b"))
    ui.shot("dlms-device")
    states = [s for s in api.states() if s["entity_id"].startswith("sensor.dlms_sim0000000001_")]
    assert any(NUMBER.match(str(s["state"])) for s in states), states


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


def modbus_write(port: int, point: ModbusPoint, value: int) -> None:
    """Write a register of the Modbus simulator over Modbus TCP (our own client)."""

    async def write() -> None:
        async with ModbusClient(host="127.0.0.1", port=port) as client:
            assert await client.write_point(point, value) == value

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, write()).result(timeout=60)


def test_modbus_device_with_points_from_a_csv(ui: Ui, simulators: Simulators, api: HassApi) -> None:
    """SCADA → Modbus TCP; a term for unit 1; its points imported from a pasted CSV."""
    ui.add_meterlink("SCADA device")
    ui.page.get_by_text("Modbus TCP", exact=True).first.click()
    ui.dialog_text("Modbus TCP device")
    ui.fill(host="127.0.0.1")
    ui.fill_labelled("Port", str(simulators.modbus_port))
    ui.shot("modbus-form")
    ui.forward()
    ui.finish()
    channel = f"Modbus TCP 127.0.0.1:{simulators.modbus_port}"
    assert [e["state"] for e in api.entries("meterlink") if e["title"] == channel] == ["loaded"]

    # the channel's overflow menu adds a term (a config subentry)
    ui.entry_menu(channel, "Add term (unit / station)")
    ui.dialog_text("Add a term")
    ui.fill(name=MODBUS_TERM)
    ui.forward()
    ui.finish()

    # the term's Configure: import a point list
    ui.entry_row(MODBUS_TERM).get_by_role("button", name="Configure").first.click()
    ui.page.get_by_text("Import a point list (CSV or JSON)").first.click()
    ui.dialog_text("Import a point list")
    ui.field("text").fill(MODBUS_POINTS)
    ui.shot("modbus-import")
    ui.forward()
    done = ui.dialog_text(re.compile(r"item\(s\) imported"))
    assert done.inner_text().startswith(f"4 item(s) imported into {MODBUS_TERM}, 0 bad")
    ui.close_dialog()

    # poll every 2 seconds (the channel's Configure)
    ui.entry_row(channel).get_by_role("button", name="Configure").first.click()
    ui.dialog_text("SCADA channel settings")
    ui.fill_labelled("Poll interval", "2")
    ui.forward()
    ui.dialog_text(re.compile("saved", re.IGNORECASE))
    ui.close_dialog()


def test_modbus_device_page_shows_live_values(ui: Ui, api: HassApi) -> None:
    """The term's page lists the imported points; the simulator's power moves on it."""
    ui.open_device(MODBUS_TERM)
    ui.dialog_text("Grid relay")
    ui.dialog_text(re.compile(r"\d[\d,.]*\s+kWh"))
    power = (
        ui.page.locator("hui-sensor-entity-row")
        .filter(has_text="Active power")
        .get_by_text(re.compile(r"-?[\d,]+\s+W\b"))
        .first
    )
    first = power.inner_text()
    # the simulator changes its power every second, MeterLink polls every 2 s
    eventually(lambda: power.inner_text() != first)
    ui.shot("modbus-device")
    for name in ("energy_import", "active_power", "load_power"):
        assert NUMBER.match(state(api, entity_ending(api, "sensor", f"plant_meter_{name}")))


def automation_yaml(sensor: str, switch: str) -> str:
    """What the person types in the automation editor's YAML mode."""
    return f"""\
alias: Plant load switches relay 1
description: Relay 1 of the second EKM meter closes when the plant load passes {LOAD_THRESHOLD_W} W
triggers:
  - trigger: numeric_state
    entity_id: {sensor}
    above: {LOAD_THRESHOLD_W}
conditions: []
actions:
  - action: switch.turn_on
    target:
      entity_id: {switch}
mode: single
"""


def test_automation_from_the_ui_switches_a_relay(
    ui: Ui, simulators: Simulators, api: HassApi, hass_server: HassProcess
) -> None:
    """An automation written in the editor closes an EKM relay when the Modbus load passes 1.5 kW.

    The load is a holding register the test writes on the Modbus simulator; the relay is
    checked on the EKM simulator.
    """
    meter = EKM_METERS[1]
    sensor = entity_ending(api, "sensor", "plant_meter_load_power")
    relay = relay_switch(api, meter)["entity_id"]
    assert float(state(api, sensor)) < LOAD_THRESHOLD_W
    assert state(api, relay) == "off"
    assert ekm_relay_1_closed(simulators.ekm_tcp, meter) is False

    ui.goto("/config/automation/dashboard")
    ui.page.get_by_role("button", name=re.compile("create automation", re.IGNORECASE)).click()
    ui.page.get_by_text("Create new automation").click()
    ui.page.wait_for_url(re.compile(r"/config/automation/edit/new"))
    ui.page.locator("ha-automation-editor ha-button-menu ha-icon-button").first.click()
    ui.page.locator("ha-list-item, mwc-list-item").filter(has_text="Edit in YAML").first.click()
    editor = ui.page.locator("ha-code-editor .cm-content").first
    editor.click()
    ui.page.keyboard.press("Control+a")
    # inserted as one text: typed line by line, the editor would indent each new line itself
    ui.page.keyboard.insert_text(automation_yaml(sensor, relay))
    ui.shot("automation-yaml")
    ui.page.get_by_role("button", name=re.compile("^save$", re.IGNORECASE)).first.click()
    # a new automation's save asks for its name in a dialog whose button reads "Rename"
    dialog = ui.page.locator("ha-dialog, ha-md-dialog").filter(has_text="Rename")
    dialog.get_by_role("button", name=re.compile("^rename$", re.IGNORECASE)).click()
    ui.page.wait_for_url(re.compile(r"/config/automation/edit/\d+"))
    assert (
        "Plant load switches relay 1" in (hass_server.config_dir / "automations.yaml").read_text()
    )
    automation = "automation.plant_load_switches_relay_1"
    eventually(lambda: any(s["entity_id"] == automation for s in api.states()), timeout=10)
    assert state(api, automation) == "on"

    modbus_write(simulators.modbus_port, LOAD_POWER, 2000)
    eventually(lambda: state(api, relay) == "on")
    assert ekm_relay_1_closed(simulators.ekm_tcp, meter) is True
    assert api.get(f"/api/states/{automation}")["attributes"]["last_triggered"]
    ui.open_device(f"EKM meter {meter}")
    ui.dialog_text("Relay 1")
    ui.shot("automation-relay-on")


def statistic_id(ui: Ui, prefix: str, name: str, suffix: str = "") -> str:
    """The id of the one MeterLink statistic ``prefix``…``suffix`` whose name has ``name``."""
    found: list[str] = []

    def listed() -> bool:
        # a statistic is listed once the recorder has written its first imported hours
        found[:] = [
            str(s["statistic_id"])
            for s in ui.ws({"type": "recorder/list_statistic_ids", "statistic_type": "sum"})
            if s["statistic_id"].startswith(prefix)
            and s["statistic_id"].endswith(suffix)
            and name in (s.get("name") or "")
        ]
        return bool(found)

    eventually(listed, timeout=90)
    assert len(found) == 1, (prefix, name, found)
    return found[0]


def add_grid_consumption(ui: Ui, stat_id: str) -> None:
    """Settings → Dashboards → Energy: add a grid consumption, picking a statistic by its id."""
    add = ui.page.get_by_role("button", name=re.compile("add consumption", re.IGNORECASE)).first
    picker = ui.page.get_by_role("combobox", name=re.compile("Consumed energy")).first
    # a click while the page redraws after the previous save opens nothing: click again
    for attempt in range(3):
        try:
            if not picker.is_visible():  # a slow dialog may have opened after all
                add.click(timeout=5000)  # an open dialog's overlay refuses it: wait again
            picker.wait_for(timeout=5000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    picker.click()
    picker.fill(stat_id)
    ui.page.get_by_role("option").filter(has_text=stat_id).first.click()
    ui.page.get_by_role("button", name=re.compile("^save$", re.IGNORECASE)).click()
    eventually(lambda: stat_id in grid_consumption(ui))
    picker.wait_for(state="detached")  # the dialog has closed


def grid_consumption(ui: Ui) -> list[str]:
    """Return the statistics the Energy dashboard counts as grid consumption."""
    with contextlib.suppress(PlaywrightError):  # "not_found" until something is configured
        prefs = ui.ws({"type": "energy/get_prefs"})
        return [
            f["stat_energy_from"] for s in prefs["energy_sources"] for f in s.get("flow_from", [])
        ]
    return []


def daily_changes(ui: Ui, stat_ids: list[str], days: int) -> dict[str, list[float]]:
    """Return each statistic's daily change over the last ``days`` whole days."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = ui.ws(
        {
            "type": "recorder/statistics_during_period",
            "start_time": (today - timedelta(days=days)).isoformat(),
            "end_time": today.isoformat(),
            "statistic_ids": stat_ids,
            "period": "day",
            "types": ["change"],
        }
    )
    return {s: [float(r.get("change") or 0) for r in rows.get(s, [])] for s in stat_ids}


def test_energy_dashboard_shows_the_imported_history(ui: Ui, api: HassApi) -> None:
    """The Energy dashboard, set up in its settings page, draws the last week from history.

    Grid consumption: the DCS main incomer's imported statistic and the DLMS meter's load
    profile; the past week shows bars before MeterLink was even added.
    """
    dcs = statistic_id(ui, "meterlink:dcs_", "Main Incomer Active Energy (import)")
    # the load profile's statistic is named after the register's sensor once it has a state
    dlms = statistic_id(ui, "meterlink:dlms_", "(load profile)", suffix="_1_0_1_8_0_255")
    # the imports run in the background: a week of days for each before the dashboard
    eventually(
        lambda: all(len(c) >= 7 for c in daily_changes(ui, [dcs, dlms], 7).values()), timeout=90
    )

    ui.goto("/config/energy")
    add_grid_consumption(ui, dcs)
    add_grid_consumption(ui, dlms)
    ui.shot("energy-settings")
    assert grid_consumption(ui) == [dcs, dlms]

    ui.goto("/energy")
    selector = ui.page.locator("hui-energy-period-selector")
    selector.locator("ha-date-range-picker").click()
    ui.page.get_by_text("Last 7 days", exact=True).click()
    chart = ui.page.locator("hui-energy-usage-graph-card ha-chart-base").first
    chart.wait_for()
    # the sources table sums the chosen period: the main incomer's row shows its energy
    incomer = ui.page.locator("hui-energy-sources-table-card tr").filter(
        has_text="Main Incomer Active Energy (import)"
    )
    eventually(lambda: re.search(r"[1-9][\d,.]*\s+[kM]Wh", incomer.inner_text()) is not None)
    assert ui.page.get_by_text("There is no data for this period.").count() == 0
    changes = daily_changes(ui, [dcs, dlms], 7)
    assert all(sum(c) > 0 for c in changes.values()), changes
    # the DCS history goes back as far as chosen while adding the server, no further
    assert len(daily_changes(ui, [dcs], 3 * DCS_HISTORY_DAYS)[dcs]) <= DCS_HISTORY_DAYS + 1
    ui.settle(chart)  # the bars grow in an animation
    ui.shot("energy-dashboard")
