"""Every step and error branch of the EKM config, reauth, reconfigure and options flows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.helpers import SerialPortOption
from custom_components.meterlink.protocols.ekm.client import EkmBus
from custom_components.meterlink.protocols.ekm.models import EkmVersion
from simulators.ekm.bus import EkmSimBus, Fault
from simulators.ekm.meter import SimMeter

from .conftest import (
    EKM_FAST_BAUD,
    EKM_V3,
    EKM_V4_1,
    EKM_V4_2,
    EkmClock,
    setup_entry,
)

PASSWORD = "00000000"


@pytest.fixture
async def lone_sim(ekm_clock: EkmClock, ekm_sim: EkmSimBus) -> AsyncIterator[EkmSimBus]:
    """A bus with a single v3 meter (reachable over a pty); ekm_sim shortens the timing."""
    sim = EkmSimBus(
        [SimMeter(address="77", version=EkmVersion.V3, clock=ekm_clock)],
        baudrate=EKM_FAST_BAUD,
        turnaround=0.002,
    )
    yield sim
    await sim.close()


async def start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "ekm" in result["menu_options"]
    with patch(
        "custom_components.meterlink.systems.ekm.flow.async_list_serial_ports",
        return_value=[SerialPortOption(path="/dev/serial/by-id/usb-FTDI", device="/dev/ttyUSB0")],
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "ekm"}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ekm"
    options = result["data_schema"].schema["port"].config["options"]
    assert options == [
        {
            "value": "/dev/serial/by-id/usb-FTDI",
            "label": "/dev/serial/by-id/usb-FTDI (/dev/ttyUSB0)",
        }
    ]
    return str(result["flow_id"])


async def configure(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(flow_id, data)


async def test_full_flow_over_the_tcp_bridge(hass: HomeAssistant, ekm_sim: EkmSimBus) -> None:
    port = await ekm_sim.start_tcp()
    flow_id = await start(hass)
    result = await configure(hass, flow_id, {"port": f"127.0.0.1:{port}", "password": PASSWORD})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ekm_meters"
    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await configure(hass, flow_id, {"addresses": "300001285, 20870 300001285"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"EKM bus 127.0.0.1:{port}"
    assert result["data"] == {
        "system": "ekm",
        "port": f"socket://127.0.0.1:{port}",
        "password": PASSWORD,
    }
    assert result["options"]["meters"] == [
        {"address": EKM_V4_1, "version": 4},
        {"address": EKM_V3, "version": 3},
    ]
    assert result["result"].unique_id == f"socket://127.0.0.1:{port}"
    # the password was checked on each meter, nothing was written
    assert [e.detail for e in ekm_sim.events if e.kind == "password"] == ["ok", "ok"]
    assert not [e for e in ekm_sim.events if e.kind == "write"]


async def test_full_flow_over_a_pty_finds_the_lone_meter(
    hass: HomeAssistant, lone_sim: EkmSimBus
) -> None:
    path = lone_sim.start_pty()
    flow_id = await start(hass)
    result = await configure(hass, flow_id, {"port": path, "password": PASSWORD})
    assert result["step_id"] == "ekm_meters"
    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await configure(hass, flow_id, {"addresses": ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["port"] == path
    assert result["options"]["meters"] == [{"address": "000000000077", "version": 3}]


BUS_STEP_ERRORS = [
    ("ftp://example", PASSWORD, "port", "invalid_port"),
    ("rfc2217://127.0.0.1:4000", PASSWORD, "port", "invalid_port"),
    ("127.0.0.1:PORT", "1234", "password", "password_format"),
    ("127.0.0.1:9", PASSWORD, "base", "cannot_connect"),
]


async def test_bus_step_errors(hass: HomeAssistant, ekm_sim: EkmSimBus) -> None:
    tcp = await ekm_sim.start_tcp()
    flow_id = await start(hass)
    for port, password, field, error in BUS_STEP_ERRORS:
        result = await configure(
            hass, flow_id, {"port": port.replace("PORT", str(tcp)), "password": password}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {field: error}, port
    # the form can be fixed and submitted again
    result = await configure(hass, flow_id, {"port": f"127.0.0.1:{tcp}", "password": PASSWORD})
    assert result["step_id"] == "ekm_meters"


async def test_bus_already_configured(
    hass: HomeAssistant, ekm_entry: MockConfigEntry, ekm_url: str
) -> None:
    flow_id = await start(hass)
    result = await configure(hass, flow_id, {"port": ekm_url, "password": PASSWORD})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekm_bus_configured"


async def test_meters_step_errors(hass: HomeAssistant, ekm_sim: EkmSimBus) -> None:
    port = await ekm_sim.start_tcp()
    flow_id = await start(hass)
    await configure(hass, flow_id, {"port": f"127.0.0.1:{port}", "password": PASSWORD})

    result = await configure(hass, flow_id, {"addresses": "1234567890123"})
    assert result["errors"] == {"addresses": "invalid_address"}
    assert "1234567890123" in result["description_placeholders"]["error"]

    result = await configure(hass, flow_id, {"addresses": "300001285, 4242"})
    assert result["errors"] == {"base": "meter_not_found"}
    assert "000000004242" in result["description_placeholders"]["error"]

    ekm_sim.inject(Fault.GARBAGE, address=EKM_V4_2, count=2)
    result = await configure(hass, flow_id, {"addresses": "300001317"})
    assert result["errors"] == {"base": "garbled_answer"}

    result = await configure(hass, flow_id, {"addresses": ""})  # three meters answer at once
    assert result["errors"] == {"addresses": "several_meters"}

    ekm_sim.meters[EKM_V3].password = "11112222"
    result = await configure(hass, flow_id, {"addresses": "20870"})
    assert result["errors"] == {"password": "invalid_password"}
    assert EKM_V3 in result["description_placeholders"]["error"]

    with patch.object(EkmBus, "probe", side_effect=RuntimeError("boom")):
        result = await configure(hass, flow_id, {"addresses": "300001317"})
    assert result["errors"] == {"base": "unknown"}

    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await configure(hass, flow_id, {"addresses": "300001317"})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_empty_bus_and_lost_bus(hass: HomeAssistant, ekm_sim: EkmSimBus) -> None:
    sim = EkmSimBus([], baudrate=EKM_FAST_BAUD, turnaround=0.002)
    try:
        port = await sim.start_tcp()
        flow_id = await start(hass)
        await configure(hass, flow_id, {"port": f"127.0.0.1:{port}", "password": PASSWORD})
        result = await configure(hass, flow_id, {"addresses": ""})
        assert result["errors"] == {"addresses": "no_meter_answers"}
    finally:
        await sim.close()
    # the bridge went away between the steps
    result = await configure(hass, flow_id, {"addresses": "1"})
    assert result["errors"] == {"base": "cannot_connect"}


async def test_reauth_checks_the_new_password_on_every_meter(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, ekm_entry)
    for meter in ekm_sim.meters.values():
        meter.password = "24681357"
    result = await ekm_entry.start_reauth_flow(hass)
    assert result["step_id"] == "ekm_reauth_confirm"
    flow_id = result["flow_id"]
    result = await configure(hass, flow_id, {"password": "2468"})
    assert result["errors"] == {"password": "password_format"}
    result = await configure(hass, flow_id, {"password": "00000000"})
    assert result["errors"] == {"password": "invalid_password"}
    result = await configure(hass, flow_id, {"password": "24681357"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekm_reauth_successful"
    assert ekm_entry.data["password"] == "24681357"
    await hass.async_block_till_done()
    assert ekm_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_moves_the_bus(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry, lone_sim: EkmSimBus
) -> None:
    await setup_entry(hass, ekm_entry)
    other = MockConfigEntry(
        domain=DOMAIN,
        data={"system": "ekm", "port": "socket://10.0.0.1:4001"},
        unique_id="socket://10.0.0.1:4001",
    )
    other.add_to_hass(hass)
    with patch(
        "custom_components.meterlink.systems.ekm.flow.async_list_serial_ports", return_value=[]
    ):
        result = await ekm_entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "ekm_reconfigure"
        flow_id = result["flow_id"]
        result = await configure(hass, flow_id, {"port": "not a port"})
        assert result["errors"] == {"port": "invalid_port"}
        # the meters of this bus do not answer on another bus
        lone = lone_sim.start_pty()
        result = await configure(hass, flow_id, {"port": lone})
        assert result["errors"] == {"base": "meter_not_found"}
        result = await configure(hass, flow_id, {"port": "10.0.0.1:4001"})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "ekm_bus_configured"

        result = await ekm_entry.start_reconfigure_flow(hass)
        pty = ekm_sim.start_pty()
        result = await configure(hass, result["flow_id"], {"port": pty})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekm_reconfigure_successful"
    assert ekm_entry.data["port"] == pty
    assert ekm_entry.unique_id == pty
    await hass.async_block_till_done()
    assert ekm_entry.state is ConfigEntryState.LOADED
    assert ekm_entry.runtime_data.bus.url == pty  # type: ignore[attr-defined]


async def test_options_add_and_remove_meters(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        ekm_entry, options={**ekm_entry.options, "meters": [{"address": EKM_V3, "version": 3}]}
    )
    await setup_entry(hass, ekm_entry)
    result = await hass.config_entries.options.async_init(ekm_entry.entry_id)
    assert result["step_id"] == "ekm_options"
    flow_id = result["flow_id"]
    form = {"scan_interval": 10, "capture_frames": True}
    result = await hass.config_entries.options.async_configure(flow_id, {**form, "addresses": " "})
    assert result["errors"] == {"addresses": "no_meters"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "addresses": "20870, 99"}
    )
    assert result["errors"] == {"base": "meter_not_found"}
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "addresses": "300001317 x"}
    )
    assert result["errors"] == {"addresses": "invalid_address"}
    reads = len([e for e in ekm_sim.events if e.kind == "read" and e.address == EKM_V3])
    result = await hass.config_entries.options.async_configure(
        flow_id, {**form, "addresses": "300001317, 300001285"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert ekm_entry.options == {
        "meters": [{"address": EKM_V4_2, "version": 4}, {"address": EKM_V4_1, "version": 4}],
        "scan_interval": 10,
        "capture_frames": True,
    }
    await hass.async_block_till_done()
    runtime = ekm_entry.runtime_data
    assert sorted(runtime.by_address) == [EKM_V4_1, EKM_V4_2]  # type: ignore[attr-defined]
    assert runtime.capture.enabled
    # the removed v3 meter is no longer read
    assert len([e for e in ekm_sim.events if e.kind == "read" and e.address == EKM_V3]) == reads


async def test_options_on_an_unloaded_entry_use_their_own_connection(
    hass: HomeAssistant, ekm_sim: EkmSimBus, ekm_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(ekm_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 30, "capture_frames": False, "addresses": "20870"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert ekm_entry.options["meters"] == [{"address": EKM_V3, "version": 3}]
