"""MeterLink as a person uses it: Home Assistant's real frontend in Chromium, real simulators.

The tests run in order and build on each other (onboarding first); see conftest.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from .conftest import DCS_PASSWORD, OWNER

if TYPE_CHECKING:
    from tools.hass_http import HassApi

    from .conftest import Simulators
    from .ui import Ui

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def test_onboarding(ui: Ui, api: HassApi) -> None:
    """A new Home Assistant: create the owner and click through every onboarding step."""
    ui.goto("/")
    ui.page.get_by_role("button", name="Create my smart home").click()
    name, username, password = OWNER
    ui.fill(name=name, username=username, password=password, password_confirm=password)
    ui.shot("onboarding-user")
    ui.page.get_by_role("button", name="Create account").click()
    for _ in range(4):  # location, country, analytics, found devices
        button = ui.page.get_by_role("button", name=re.compile("^(next|finish)$", re.IGNORECASE))
        button.first.click()
        if "onboarding" not in ui.page.url:
            break
    ui.page.wait_for_url(re.compile(r"/lovelace"))
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
