"""Every step and error branch of the DLMS config, reauth, reconfigure and options flows."""

from __future__ import annotations

import socket
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.protocols.dlms.errors import (
    DlmsAccessDeniedError,
    DlmsAuthenticationError,
    DlmsDataError,
    DlmsResponseError,
)
from custom_components.meterlink.systems.dlms.flow import _fallback_id, flow_error
from simulators.dlms.server import DlmsSimulator, SimTransport

from .dlms_helpers import (
    AK,
    EK,
    HAN_METER_ID,
    PASSWORD,
    SERIAL,
    add_entry,
    listen_data,
    meter_sim,
    polled_data,
    polled_options,
    push_sim,
    pushing,
)

FLOW = "custom_components.meterlink.systems.dlms.flow"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(hass: HomeAssistant, branch: str, **first: Any) -> dict[str, Any]:
    """Open the flow, pick DLMS and the branch; return the first form."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert "dlms" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "dlms"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["dlms_polled", "dlms_listen"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": branch}
    )
    assert result["type"] is FlowResultType.FORM
    if branch == "dlms_polled":
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"vendor": "generic", "transport": "wrapper", **first}
        )
        assert result["step_id"] == "dlms_connection"
    return result


def connection(sim: DlmsSimulator, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": sim.port,
        "client_address": 16,
        "server_logical": 1,
        "authentication": "none",
    }
    data.update(kw)
    return data


async def test_polled_flow_discovers_registers_and_creates_entry(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        result = await start(hass, "dlms_polled")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(flow_id, connection(sim))
        assert result["step_id"] == "dlms_registers"
        schema = result["data_schema"].schema
        default = next(k for k in schema if k == "registers").default()
        # energy, power, voltages and currents pre-selected; reactive and frequency not
        assert "1.0.1.8.0.255" in default
        assert "1.0.32.7.0.255" in default
        assert "1.0.31.7.0.255" in default
        assert "1.0.3.8.0.255" not in default
        assert "1.0.14.7.0.255" not in default
        result = await hass.config_entries.flow.async_configure(flow_id, {"registers": []})
        assert result["errors"] == {"base": "dlms_nothing_selected"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"registers": ["1.0.1.8.0.255", "1.0.14.7.0.255"]}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        assert entry.unique_id == SERIAL
        assert entry.title == f"DLMS {SERIAL}"
        assert entry.data["meter_id"] == SERIAL
        assert entry.options["registers"] == ["1.0.1.8.0.255", "1.0.14.7.0.255"]
        assert entry.options["classes"] == {"1.0.1.8.0.255": 3, "1.0.14.7.0.255": 3}
        assert entry.options["disconnect_control"] is True
        await hass.config_entries.async_unload(entry.entry_id)


async def test_polled_flow_hdlc_with_password(hass: HomeAssistant) -> None:
    async with meter_sim(transport=SimTransport.HDLC, password=PASSWORD) as sim:
        result = await start(hass, "dlms_polled", transport="hdlc_tcp")
        flow_id = result["flow_id"]
        form = connection(sim, client_address=1, authentication="low")
        result = await hass.config_entries.flow.async_configure(flow_id, form)
        assert result["errors"] == {"password": "dlms_password_required"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, form | {"password": "wrong-one"}
        )
        assert result["errors"] == {"password": "dlms_invalid_password"}
        assert "password" in result["description_placeholders"]["error"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, form | {"password": PASSWORD}
        )
        assert result["step_id"] == "dlms_registers"
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"registers": ["1.0.1.8.0.255"]}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["transport"] == "hdlc_tcp"
        assert result["data"]["password"] == PASSWORD
        await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"block_cipher_key": "00" * 16, "authentication_key": AK.hex()}, "block_cipher_key"),
        # a wrong authentication key makes the meter refuse the ciphered AARQ as a wrong
        # block cipher key does (the GCM tag fails either way): the message names both keys
        ({"block_cipher_key": EK.hex(), "authentication_key": "11" * 16}, "block_cipher_key"),
    ],
)
async def test_polled_flow_names_the_wrong_key(
    hass: HomeAssistant, keys: dict[str, str], field: str
) -> None:
    async with meter_sim(hls=True) as sim:
        result = await start(hass, "dlms_polled")
        flow_id = result["flow_id"]
        form = connection(sim, client_address=1, authentication="high_gmac")
        result = await hass.config_entries.flow.async_configure(flow_id, form | keys)
        assert result["errors"] == {field: f"dlms_invalid_{field}"}
        assert "block cipher key" in result["description_placeholders"]["error"]
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            form | {"block_cipher_key": EK.hex(" "), "authentication_key": AK.hex(":").upper()},
        )
        assert result["step_id"] == "dlms_registers"
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"registers": ["1.0.1.8.0.255"]}
        )
        assert result["data"]["block_cipher_key"] == EK.hex()
        assert result["data"]["invocation_counter"] > 0
        await hass.config_entries.async_unload(result["result"].entry_id)


async def test_polled_flow_checks_the_form(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        result = await start(hass, "dlms_polled")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            connection(
                sim,
                authentication="high_gmac",
                block_cipher_key="abc",
                system_title="xyz",
            ),
        )
        assert result["errors"] == {
            "block_cipher_key": "dlms_bad_key",
            "system_title": "dlms_bad_system_title",
            "authentication_key": "dlms_key_required",
        }


async def test_polled_flow_serial_port(hass: HomeAssistant) -> None:
    result = await start(hass, "dlms_polled", transport="hdlc_serial")
    flow_id = result["flow_id"]
    schema = result["data_schema"].schema
    assert "serial_port" in schema
    assert "host" not in schema
    form = {
        "serial_port": "not a port",
        "baudrate": 9600,
        "client_address": 16,
        "server_logical": 1,
        "authentication": "none",
    }
    result = await hass.config_entries.flow.async_configure(flow_id, form)
    assert result["errors"] == {"serial_port": "dlms_invalid_port"}
    port = free_port()
    result = await hass.config_entries.flow.async_configure(
        flow_id, form | {"serial_port": f"127.0.0.1:{port}"}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_polled_flow_connection_errors(hass: HomeAssistant) -> None:
    result = await start(hass, "dlms_polled")
    flow_id = result["flow_id"]
    async with meter_sim() as sim:
        port = free_port()
        result = await hass.config_entries.flow.async_configure(flow_id, connection(sim, port=port))
        assert result["errors"] == {"base": "cannot_connect"}
        assert str(port) in result["description_placeholders"]["error"]

        sim.faults.refuse_association = True
        result = await hass.config_entries.flow.async_configure(flow_id, connection(sim))
        assert result["errors"] == {"base": "dlms_association_refused"}
        sim.faults.refuse_association = False

        sim.faults.stall = True
        with patch(f"{FLOW}.PROBE_TIMEOUT", 0.2):
            result = await hass.config_entries.flow.async_configure(flow_id, connection(sim))
        assert result["errors"] == {"base": "timeout"}
        sim.faults.stall = False

        with patch(f"{FLOW}.async_probe", side_effect=RuntimeError("boom")):
            result = await hass.config_entries.flow.async_configure(flow_id, connection(sim))
        assert result["errors"] == {"base": "unknown"}
        assert result["description_placeholders"]["error"] == "boom"


async def test_polled_flow_already_configured(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        add_entry(hass, polled_data(sim), polled_options())
        result = await start(hass, "dlms_polled")
        result = await hass.config_entries.flow.async_configure(result["flow_id"], connection(sim))
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "dlms_already_configured"


async def test_listen_flow_recognises_the_list(hass: HomeAssistant) -> None:
    async with push_sim(ciphered=True) as sim:
        result = await start(hass, "dlms_listen")
        flow_id = result["flow_id"]
        form = {
            "source": f"127.0.0.1:{sim.port}",
            "framing": "hdlc",
            "block_cipher_key": EK.hex(),
            "authentication_key": AK.hex(),
        }
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(flow_id, form)
            assert result["type"] is FlowResultType.CREATE_ENTRY
            assert result["result"].unique_id == HAN_METER_ID
            assert result["data"]["source"] == f"socket://127.0.0.1:{sim.port}"
            registers = result["options"]["registers"]
            assert "1.0.1.8.0.255" in registers
            assert "1.0.32.7.0.255" in registers
            assert "0.0.96.1.0.255" not in registers  # text, not a sensor
            await hass.config_entries.async_unload(result["result"].entry_id)


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"block_cipher_key": "00" * 16, "authentication_key": AK.hex()}, "block_cipher_key"),
        ({"block_cipher_key": EK.hex(), "authentication_key": "11" * 16}, "authentication_key"),
    ],
)
async def test_listen_flow_wrong_keys(
    hass: HomeAssistant, keys: dict[str, str], field: str
) -> None:
    async with push_sim(ciphered=True) as sim:
        result = await start(hass, "dlms_listen")
        form = {"source": f"127.0.0.1:{sim.port}", "framing": "hdlc", **keys}
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(result["flow_id"], form)
        assert result["errors"] == {field: f"dlms_invalid_{field}"}


async def test_listen_flow_errors(hass: HomeAssistant) -> None:
    async with push_sim() as sim:
        result = await start(hass, "dlms_listen")
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"source": "ftp://x", "framing": "hdlc"}
        )
        assert result["errors"] == {"source": "dlms_invalid_port"}
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {"source": f"127.0.0.1:{sim.port}", "framing": "hdlc", "authentication_key": AK.hex()},
        )
        assert result["errors"] == {"block_cipher_key": "dlms_key_required"}
        with patch(f"{FLOW}.PUSH_WAIT", 0.2):
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"source": f"127.0.0.1:{sim.port}", "framing": "hdlc"}
            )
        assert result["errors"] == {"base": "timeout"}
        add_entry(hass, listen_data(sim), {"registers": [], "capture_frames": False})
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"source": f"127.0.0.1:{sim.port}", "framing": "hdlc"}
            )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "dlms_already_configured"


async def test_reauth_with_keys(hass: HomeAssistant) -> None:
    async with meter_sim(hls=True) as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        result = await entry.start_reauth_flow(hass)
        assert result["step_id"] == "dlms_reauth_confirm"
        assert set(result["data_schema"].schema) == {"block_cipher_key", "authentication_key"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"block_cipher_key": "22" * 16, "authentication_key": AK.hex()}
        )
        assert result["errors"] == {"block_cipher_key": "dlms_invalid_block_cipher_key"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"block_cipher_key": EK.hex(), "authentication_key": AK.hex()}
        )
        assert result["reason"] == "dlms_reauth_successful"
        await hass.async_block_till_done()
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reauth_listen_keys(hass: HomeAssistant) -> None:
    async with push_sim(ciphered=True) as sim:
        entry = add_entry(
            hass,
            listen_data(sim, block_cipher_key="33" * 16),
            {"registers": ["1.0.1.7.0.255"], "capture_frames": False},
        )
        result = await entry.start_reauth_flow(hass)
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"block_cipher_key": "zz"}
            )
            assert result["errors"] == {"block_cipher_key": "dlms_bad_key"}
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"block_cipher_key": EK.hex(), "authentication_key": AK.hex()}
            )
            assert result["reason"] == "dlms_reauth_successful"
            await hass.async_block_till_done()
            assert entry.data["block_cipher_key"] == EK.hex()
            assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_polled(hass: HomeAssistant) -> None:
    async with meter_sim() as sim, meter_sim() as moved, meter_sim(serial="OTHER1") as other:
        entry = add_entry(hass, polled_data(sim), polled_options())
        result = await entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "dlms_reconfigure"
        form = {"host": "127.0.0.1", "client_address": 16, "server_logical": 1}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form | {"port": free_port()}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form | {"port": other.port}
        )
        assert result["errors"] == {"base": "dlms_different_meter"}
        assert result["description_placeholders"]["error"] == "OTHER1"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], form | {"port": moved.port}
        )
        assert result["reason"] == "dlms_reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data["port"] == moved.port
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_listen(hass: HomeAssistant) -> None:
    async with push_sim() as sim:
        entry = add_entry(
            hass,
            listen_data(sim, source="/dev/null-port"),
            {"registers": [], "capture_frames": False},
        )
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"source": "ftp://nope", "framing": "hdlc"}
        )
        assert result["errors"] == {"source": "dlms_invalid_port"}
        async with pushing(sim):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"source": f"127.0.0.1:{sim.port}", "framing": "hdlc"}
            )
            assert result["reason"] == "dlms_reconfigure_successful"
            await hass.async_block_till_done()
            assert entry.data["source"] == f"socket://127.0.0.1:{sim.port}"
            assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_flow_polled(hass: HomeAssistant) -> None:
    async with meter_sim() as sim:
        entry = add_entry(hass, polled_data(sim), polled_options())
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["step_id"] == "dlms_settings"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"scan_interval": 30, "import_statistics": False, "capture_frames": True},
        )
        assert result["step_id"] == "dlms_registers"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"registers": []}
        )
        assert result["errors"] == {"base": "dlms_nothing_selected"}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"registers": ["1.0.2.8.0.255"]}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options["registers"] == ["1.0.2.8.0.255"]
        assert entry.options["scan_interval"] == 30
        assert entry.options["capture_frames"] is True
        assert entry.options["import_statistics"] is False
        assert entry.options["disconnect_control"] is True
        await hass.async_block_till_done()
        if entry.state.recoverable:
            await hass.config_entries.async_unload(entry.entry_id)

        result = await hass.config_entries.options.async_init(entry.entry_id)
        await sim.close()
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"scan_interval": 30, "import_statistics": True, "capture_frames": True},
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "cannot_connect"


async def test_options_flow_with_a_changed_password_aborts(hass: HomeAssistant) -> None:
    async with meter_sim(password=PASSWORD) as sim:
        entry = add_entry(hass, polled_data(sim, password="changed"), polled_options())
        result = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"scan_interval": 30, "import_statistics": True, "capture_frames": False},
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "dlms_invalid_password"
        assert "password" in result["description_placeholders"]["error"]


async def test_options_flow_listen(hass: HomeAssistant) -> None:
    async with push_sim() as sim:
        data = listen_data(sim)
        entry = add_entry(hass, data, {"registers": data["registers"], "capture_frames": False})
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert result["step_id"] == "dlms_settings"
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"registers": ["1.0.1.8.0.255"], "capture_frames": True}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options == {"registers": ["1.0.1.8.0.255"], "capture_frames": True}


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (DlmsAccessDeniedError("denied", status=3), {"base": "dlms_access_denied"}),
        (DlmsDataError("bad apdu"), {"base": "dlms_malformed_response"}),
        (DlmsResponseError("failed", status=250), {"base": "dlms_device_error"}),
        (DlmsAuthenticationError("?", secret="password"), {"password": "dlms_invalid_password"}),
    ],
)
def test_every_library_error_has_a_form_error(error: Exception, expected: dict[str, str]) -> None:
    assert flow_error(error) == expected


def test_meter_without_serial_is_identified_by_its_address() -> None:
    assert _fallback_id({"host": "10.0.0.5", "port": 4059, "server_logical": 1}) == (
        "10.0.0.5:4059/1"
    )
    assert _fallback_id({"serial_port": "/dev/ttyUSB0", "server_logical": 17}) == (
        "/dev/ttyusb0/17"
    )
