"""Every step and error branch of the E3/DC config, reauth, reconfigure and options flows."""

from __future__ import annotations

import socket
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, DOMAIN
from custom_components.meterlink.protocols.e3dc.errors import RscpResponseError
from custom_components.meterlink.systems.e3dc.const import CONF_IMPORT_STATISTICS
from custom_components.meterlink.systems.e3dc.flow import flow_error
from simulators.e3dc.server import E3dcSimulator

from .conftest import setup_entry
from .e3dc_helpers import (
    KEY,
    PASSWORD,
    SERIAL,
    USER,
    add_entry,
    e3dc_sim,
    recorder_config,  # noqa: F401 - the fixture
)

FLOW = "custom_components.meterlink.systems.e3dc.flow"


def user_input(sim: E3dcSimulator, **overrides: Any) -> dict[str, Any]:
    data = {
        "host": " 127.0.0.1 ",
        "port": sim.port,
        "username": USER,
        "password": PASSWORD,
        "rscp_key": KEY,
    }
    data.update(overrides)
    return data


async def start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "e3dc" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "e3dc"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "e3dc"
    assert result["errors"] == {}
    return str(result["flow_id"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_full_flow_creates_the_entry(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        flow_id = await start(hass)
        with patch("custom_components.meterlink.async_setup_entry", return_value=True) as setup:
            result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == f"E3/DC S10 E {SERIAL}"
        assert result["data"] == {
            "host": "127.0.0.1",
            "port": sim.port,
            "username": USER,
            "password": PASSWORD,
            "rscp_key": KEY,
            "system": "e3dc",
            "serial": SERIAL,
        }
        assert result["options"] == {
            CONF_SCAN_INTERVAL: 5,
            CONF_IMPORT_STATISTICS: True,
            CONF_CAPTURE_FRAMES: False,
        }
        assert result["result"].unique_id == SERIAL
        assert len(setup.mock_calls) == 1
        # the same system again: aborted, whatever address it is reached at
        flow_id = await start(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("setup", "overrides", "errors"),
    [
        ("none", {"rscp_key": "wrong-key"}, {"rscp_key": "e3dc_invalid_rscp_key"}),
        ("none", {"rscp_key": "k" * 33}, {"rscp_key": "e3dc_invalid_rscp_key"}),
        ("none", {"password": "wrong"}, {"password": "e3dc_invalid_auth"}),
        ("offline", {}, {"base": "e3dc_portal_unreachable"}),
        ("refusal", {}, {"base": "e3dc_portal_unreachable"}),
        ("garbage", {}, {"base": "e3dc_malformed_response"}),
        ("closed", {}, {"base": "cannot_connect"}),
        ("slow", {}, {"base": "timeout"}),
        ("no_serial", {}, {"base": "e3dc_no_serial"}),
    ],
)
async def test_user_step_errors(
    hass: HomeAssistant, setup: str, overrides: dict[str, Any], errors: dict[str, str]
) -> None:
    async with e3dc_sim() as sim:
        if setup == "offline":
            sim.faults.auth = "offline"
        elif setup == "refusal":
            sim.faults.auth = "error"
        elif setup == "garbage":
            sim.faults.garbage = 2  # the reply and the one retry on a fresh connection
        elif setup == "slow":
            sim.faults.delay_s = 1.0
        elif setup == "no_serial":
            sim.serial = ""
        if setup == "closed":
            overrides = {"port": free_port()}
        flow_id = await start(hass)
        with patch(f"{FLOW}.PROBE_TIMEOUT", 0.2):
            result = await hass.config_entries.flow.async_configure(
                flow_id, user_input(sim, **overrides)
            )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == errors
        assert result["description_placeholders"]["error"]
        # the form keeps what was typed, but never the secrets
        suggested = {
            key.schema: key.description.get("suggested_value")
            for key in result["data_schema"].schema
            if key.description
        }
        assert suggested["host"] == "127.0.0.1"
        assert "password" not in suggested
        assert "rscp_key" not in suggested
        # fixed: the same flow goes on
        sim.faults.auth = None
        sim.faults.garbage = 0
        sim.faults.delay_s = 0.0
        sim.serial = SERIAL
        with patch("custom_components.meterlink.async_setup_entry", return_value=True):
            result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim))
        assert result["type"] is FlowResultType.CREATE_ENTRY


def test_flow_error_keys_for_other_failures() -> None:
    assert flow_error(RscpResponseError("no", status=6)) == ("base", "e3dc_device_error")
    assert flow_error(ValueError("boom")) == ("base", "unknown")


async def test_reauth_asks_for_password_and_key(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, "password": "old", "rscp_key": "old-key"}
        )
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress()
        assert len(flows) == 1
        flow_id = flows[0]["flow_id"]
        result = await hass.config_entries.flow.async_configure(flow_id)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "e3dc_reauth_confirm"
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"username": USER, "password": PASSWORD, "rscp_key": "still-wrong"}
        )
        assert result["errors"] == {"rscp_key": "e3dc_invalid_rscp_key"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"username": USER, "password": PASSWORD, "rscp_key": KEY}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert entry.data["password"] == PASSWORD
        assert entry.data["rscp_key"] == KEY
        assert entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_refuses_another_system(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        result = await entry.start_reauth_flow(hass)
        assert result["step_id"] == "e3dc_reauth_confirm"
        sim.serial = "S10-729999999999"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"username": USER, "password": PASSWORD, "rscp_key": KEY}
        )
        assert result["errors"] == {"base": "e3dc_different_system"}
        assert result["description_placeholders"]["error"] == "S10-729999999999"


async def test_reconfigure_moves_the_system(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim, e3dc_sim() as other:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "e3dc_reconfigure"
        other.serial = "S10-729999999999"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": other.port}
        )
        assert result["errors"] == {"base": "e3dc_different_system"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": free_port()}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        other.serial = SERIAL  # the same system, now at another address
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "localhost ", "port": other.port}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["host"] == "localhost"
        assert entry.data["port"] == other.port
        assert entry.state is ConfigEntryState.LOADED
        await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow(hass: HomeAssistant) -> None:
    async with e3dc_sim() as sim:
        entry = add_entry(hass, sim)
        await setup_entry(hass, entry)
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "e3dc_options"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {CONF_SCAN_INTERVAL: 10, CONF_IMPORT_STATISTICS: False, CONF_CAPTURE_FRAMES: True},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert entry.options == {
            CONF_SCAN_INTERVAL: 10,
            CONF_IMPORT_STATISTICS: False,
            CONF_CAPTURE_FRAMES: True,
        }
        runtime = entry.runtime_data  # reloaded with the new options
        assert runtime.live.update_interval.total_seconds() == 10
        assert runtime.capture.enabled
        await hass.config_entries.async_unload(entry.entry_id)
