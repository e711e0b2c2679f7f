"""Every step and error branch of MeterLink's config, reauth, reconfigure and options flows."""

from __future__ import annotations

import socket
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meterlink.const import DOMAIN
from simulators.dcs import DcsSimulator
from tests.threaded import threaded

from .conftest import dcs_entry_data, dcs_entry_options, setup_entry


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_dcs_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "dcs" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "dcs"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dcs"
    return result["flow_id"]


def form(sim: DcsSimulator, **kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "url": sim.url,
        "username": sim.username,
        "password": sim.password,
        "verify_ssl": True,
        "api": "auto",
    }
    data.update(kw)
    return data


async def test_full_flow_creates_entry(hass: HomeAssistant, dcs_sim: DcsSimulator) -> None:
    flow_id = await start_dcs_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dcs_select"
    meter = dcs_sim.meters[0]
    vm = dcs_sim.virtual_meters[0]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"meters": [str(meter.id)], "virtual_meters": [f"VM{vm.id}"]}
    )
    assert result["step_id"] == "dcs_registers"
    chosen = [f"R{meter.registers[0].id}"]
    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(flow_id, {"registers": chosen})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"DCS 127.0.0.1:{dcs_sim.port}"
    data = result["data"]
    assert data["system"] == "dcs"
    assert data["api"] == "web_api"
    assert data["password"] == dcs_sim.password
    assert data["server_id"] == dcs_sim.url.lower()
    options = result["options"]
    assert options["registers"] == chosen
    assert options["virtual_meters"] == [f"VM{vm.id}"]
    assert options["import_statistics"] is True
    assert options["backfill_days"] == 365
    assert result["result"].unique_id == dcs_sim.url.lower()


async def test_history_depth_is_chosen_while_adding(
    hass: HomeAssistant, dcs_sim: DcsSimulator
) -> None:
    flow_id = await start_dcs_flow(hass)
    await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    meter = dcs_sim.meters[0]
    with pytest.raises(InvalidData):  # out of range: the form refuses it
        await hass.config_entries.flow.async_configure(
            flow_id, {"meters": [str(meter.id)], "backfill_days": 0}
        )
    await hass.config_entries.flow.async_configure(
        flow_id,
        {"meters": [str(meter.id)], "import_statistics": False, "backfill_days": 30},
    )
    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"registers": [f"R{meter.registers[0].id}"]}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"]["backfill_days"] == 30
    assert result["options"]["import_statistics"] is False


async def test_virtual_meters_only_skips_registers(
    hass: HomeAssistant, dcs_sim: DcsSimulator
) -> None:
    flow_id = await start_dcs_flow(hass)
    await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    with patch("custom_components.meterlink.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"meters": [], "virtual_meters": [f"VM{dcs_sim.virtual_meters[0].id}"]}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"]["registers"] == []


async def test_nothing_selected(hass: HomeAssistant, dcs_sim: DcsSimulator) -> None:
    flow_id = await start_dcs_flow(hass)
    await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"meters": [], "virtual_meters": []}
    )
    assert result["errors"] == {"base": "nothing_selected"}


async def test_older_api_is_detected(hass: HomeAssistant) -> None:
    async with DcsSimulator(private_enabled=False, public_enabled=False) as sim:
        flow_id = await start_dcs_flow(hass)
        await hass.config_entries.flow.async_configure(flow_id, form(sim))
        with patch("custom_components.meterlink.async_setup_entry", return_value=True):
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"meters": [], "virtual_meters": [f"VM{sim.virtual_meters[0].id}"]}
            )
        assert result["data"]["api"] == "v3"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"password": "wrong"}, "invalid_auth"),
        ({"url": "http://127.0.0.1:{free}"}, "cannot_connect"),
        ({"url": "{url}/not-dcs"}, "not_dcs"),
        ({"url": "ftp://nowhere"}, "invalid_url"),
    ],
)
async def test_connection_errors_say_what_is_wrong(
    hass: HomeAssistant, dcs_sim: DcsSimulator, change: dict[str, str], error: str
) -> None:
    flow_id = await start_dcs_flow(hass)
    values = {k: v.format(free=free_port(), url=dcs_sim.url) for k, v in change.items()}
    result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim, **values))
    assert result["type"] is FlowResultType.FORM
    assert error in result["errors"].values()
    assert result["description_placeholders"]["error"]  # the reason is shown
    # fixing the input goes on
    result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    assert result["step_id"] == "dcs_select"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"malformed_next": True}, "malformed_response"),
        ({"fail_500": 1, "fail_status": 500}, "server_error"),
    ],
)
async def test_server_faults(
    hass: HomeAssistant, dcs_sim: DcsSimulator, fault: dict[str, object], error: str
) -> None:
    flow_id = await start_dcs_flow(hass)
    dcs_sim.faults.update(fault)
    result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    assert result["errors"] == {"base": error}


async def test_timeout(hass: HomeAssistant, dcs_sim: DcsSimulator) -> None:
    flow_id = await start_dcs_flow(hass)
    with patch("custom_components.meterlink.systems.dcs.flow.PROBE_TIMEOUT", 0.2):
        dcs_sim.faults.delay_s = 1.0
        result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
        dcs_sim.faults.delay_s = 0
    assert result["errors"] == {"base": "timeout"}, result


async def test_unexpected_error(hass: HomeAssistant, dcs_sim: DcsSimulator) -> None:
    flow_id = await start_dcs_flow(hass)
    with patch(
        "custom_components.meterlink.systems.dcs.flow.async_probe",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    assert result["errors"] == {"base": "unknown"}


async def test_self_signed_certificate(hass: HomeAssistant) -> None:
    with threaded(lambda: DcsSimulator(tls=True)) as sim:
        flow_id = await start_dcs_flow(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, form(sim))
        assert result["errors"] == {"base": "tls_error"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, form(sim, verify_ssl=False)
        )
        assert result["step_id"] == "dcs_select"


async def test_already_configured(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    flow_id = await start_dcs_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(dcs_sim))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    dcs_sim.set_credentials("operator", "new-secret")
    result = await dcs_entry.start_reauth_flow(hass)
    assert result["step_id"] == "dcs_reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": "operator", "password": "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": "operator", "password": "new-secret"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert dcs_entry.data["password"] == "new-secret"
    assert dcs_entry.data["username"] == "operator"
    await hass.async_block_till_done()
    assert dcs_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_to_a_new_address(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    result = await dcs_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "dcs_reconfigure"
    new_url = f"http://localhost:{dcs_sim.port}"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": new_url, "verify_ssl": True, "api": "auto"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dcs_entry.data["url"] == new_url
    assert dcs_entry.data["password"] == dcs_sim.password  # kept when left empty
    assert dcs_entry.unique_id == new_url
    assert dcs_entry.data["server_id"] == dcs_sim.url.lower()  # entity ids stay
    await hass.async_block_till_done()
    assert dcs_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_errors(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    result = await dcs_entry.start_reconfigure_flow(hass)
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"url": "nota url at all://", "verify_ssl": True, "api": "auto"}
    )
    assert result["errors"] == {"url": "invalid_url"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"url": dcs_sim.url, "password": "wrong", "verify_ssl": True, "api": "auto"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    async with DcsSimulator() as other:
        hass.config_entries.async_update_entry(
            dcs_entry, options={**dcs_entry.options, "meters": ["424242"]}
        )
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"url": other.url, "verify_ssl": True, "api": "auto"}
        )
        assert result["errors"] == {"base": "different_server"}


async def test_reconfigure_onto_another_entry_aborts(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    async with DcsSimulator() as other:
        MockConfigEntry(
            domain=DOMAIN,
            data=dcs_entry_data(other),
            options=dcs_entry_options(other),
            unique_id=other.url.lower(),
        ).add_to_hass(hass)
        result = await dcs_entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"url": other.url, "verify_ssl": True, "api": "web_api"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_options_flow(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    logins = dcs_sim.stats.logins
    result = await hass.config_entries.options.async_init(dcs_entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "scan_interval": 120,
            "import_statistics": False,
            "backfill_days": 30,
            "capture_frames": True,
        },
    )
    assert result["step_id"] == "select"
    assert dcs_sim.stats.logins == logins  # the loaded entry knew the meters: no second login
    flow_id = result["flow_id"]
    result = await hass.config_entries.options.async_configure(
        flow_id, {"meters": [], "virtual_meters": []}
    )
    assert result["errors"] == {"base": "nothing_selected"}
    meter = dcs_sim.meters[2]
    result = await hass.config_entries.options.async_configure(
        flow_id, {"meters": [str(meter.id)], "virtual_meters": []}
    )
    assert result["step_id"] == "registers"
    result = await hass.config_entries.options.async_configure(
        flow_id, {"registers": [f"R{meter.registers[0].id}"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert dcs_entry.options["scan_interval"] == 120
    assert dcs_entry.options["capture_frames"] is True
    assert dcs_entry.options["registers"] == [f"R{meter.registers[0].id}"]
    # the entry reloaded with the new selection
    assert dcs_entry.state is ConfigEntryState.LOADED
    assert list(dcs_entry.runtime_data.targets) == [f"R{meter.registers[0].id}"]
    assert dcs_entry.runtime_data.capture.enabled


async def test_options_flow_virtual_meters_only(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(dcs_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "scan_interval": 300,
            "import_statistics": True,
            "backfill_days": 3,
            "capture_frames": False,
        },
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"meters": [], "virtual_meters": [f"VM{dcs_sim.virtual_meters[1].id}"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dcs_entry.options["registers"] == []


async def test_options_flow_server_unreachable_keeps_the_selection(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    """Frame capture can be switched on exactly when the server misbehaves."""
    before = dict(dcs_entry.options)
    result = await hass.config_entries.options.async_init(dcs_entry.entry_id)
    dcs_sim.set_credentials("x", "y")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "scan_interval": 300,
            "import_statistics": True,
            "backfill_days": 3,
            "capture_frames": True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dcs_entry.options["capture_frames"] is True
    for key in ("meters", "registers", "virtual_meters"):
        assert dcs_entry.options[key] == before[key]
