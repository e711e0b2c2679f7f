"""A real ``hass`` process: onboard over HTTP, add a DCS entry through the config flow API,
read live sensor states over the REST API. The DCS simulator runs as its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import socket

import pytest

from tools.hass_http import HassApi, HassProcess, SimulatorProcess

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dcs_process() -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(
        "dcs", ["--host", "127.0.0.1", "--port", "0", "--password", "e2e-secret"]
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def hass_process(tmp_path: Path) -> Iterator[HassProcess]:
    hass = HassProcess(config_dir=tmp_path / "config", port=free_port())
    hass.write_config(meterlink_log="debug")
    hass.start()
    yield hass
    hass.stop()
    artifacts = Path(__file__).parents[2] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "e2e-hass-dcs.log").write_text("\n".join(hass.log))


def test_add_dcs_server_and_read_sensors(
    hass_process: HassProcess, dcs_process: SimulatorProcess
) -> None:
    api = HassApi(hass_process.url)
    try:
        assert not api.onboarded()
        api.onboard(name="E2E Owner", username="owner", password="e2e-password-1")
        assert api.onboarded()

        # a wrong password shows the translated form error, not a stack trace
        bad = api.config_flow(
            "meterlink",
            [
                {"next_step_id": "dcs"},
                {
                    "url": dcs_process.url,
                    "username": "demo",
                    "password": "wrong",
                    "verify_ssl": True,
                    "api": "auto",
                },
            ],
        )
        assert bad["type"] == "form"
        assert bad["errors"] == {"base": "invalid_auth"}

        result = api.config_flow(
            "meterlink",
            [
                {"next_step_id": "dcs"},
                {
                    "url": dcs_process.url,
                    "username": "demo",
                    "password": "e2e-secret",
                    "verify_ssl": True,
                    "api": "auto",
                },
                {"meters": ["405"], "virtual_meters": []},
                {"registers": ["R733"]},
            ],
        )
        assert result["type"] == "create_entry", result
        entries = api.entries("meterlink")
        assert [e["state"] for e in entries] == ["loaded"]

        states = {s["entity_id"]: s for s in api.states()}
        register = [s for s in states.values() if s["attributes"].get("dcs_id") == "R733"]
        assert len(register) == 1, sorted(states)
        state = register[0]
        assert float(state["state"]) > 0
        assert state["attributes"]["unit_of_measurement"] == "kWh"
        assert state["attributes"]["state_class"] == "total_increasing"
        last_read = [s for s in states.values() if s["entity_id"].endswith("last_successful_read")]
        assert last_read
        assert all(s["state"] not in ("unavailable", "unknown") for s in last_read)
    finally:
        api.close()
