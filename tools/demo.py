"""The demo: a real Home Assistant with MeterLink set up against the simulators.

Home Assistant listens on http://localhost:8123 and whoever opens the page sees live MeterLink
devices at once.

Run through ``scripts/demo`` (which builds the virtualenv first). Re-running reuses the
``demo/config`` folder: the owner account, the entries and the imported history stay.
Login: user ``demo``, password ``demo-meterlink``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
import signal
import sys
from typing import Any

from tools.hass_http import ROOT, HassApi, HassProcess, SimulatorProcess

USER = "demo"
PASSWORD = "demo-meterlink"  # noqa: S105 - the documented demo login

EXTRA_CONFIG = """\
frontend:
energy:
history:
logbook:
automation: !include automations.yaml
script:
scene:
system_health:
"""


@dataclass(frozen=True)
class DemoDevice:
    """A simulator and the config-flow answers that add it to MeterLink."""

    system: str
    sim_args: list[str]
    title_hint: str
    steps: list[dict[str, Any]]


def demo_devices() -> list[DemoDevice]:
    """Return the simulators the demo runs and how each is added."""
    dcs_url = "http://127.0.0.1:18081/DCSWebApi"
    return [
        DemoDevice(
            system="dcs",
            sim_args=[
                "--host",
                "127.0.0.1",
                "--port",
                "18081",
                "--prefix",
                "/DCSWebApi",
                "--username",
                "demo",
                "--password",
                "demo-password",
            ],
            title_hint="127.0.0.1:18081",
            steps=[
                {"next_step_id": "dcs"},
                {
                    "url": dcs_url,
                    "username": "demo",
                    "password": "demo-password",
                    "verify_ssl": True,
                    "api": "auto",
                },
                {"meters": ["405", "406", "407", "408"], "virtual_meters": ["VM9", "VM10"]},
                {},  # every register of the chosen meters (the form's default)
            ],
        ),
        DemoDevice(
            system="ekm",
            sim_args=["--host", "127.0.0.1", "--port", "18082"],
            title_hint="18082",
            steps=[
                {"next_step_id": "ekm"},
                {"port": "socket://127.0.0.1:18082", "password": "00000000"},
                {"addresses": "300001285, 300001317, 20870"},
            ],
        ),
        DemoDevice(
            system="dlms",
            sim_args=["--host", "127.0.0.1", "--port", "18083", "--transport", "wrapper"],
            title_hint="DLMS",
            steps=[
                {"next_step_id": "dlms"},
                {"next_step_id": "dlms_polled"},
                {"vendor": "generic", "transport": "wrapper"},
                {"host": "127.0.0.1", "port": 18083},
                {},  # the registers MeterLink suggests from the object list
            ],
        ),
        DemoDevice(
            system="e3dc",
            sim_args=[
                "--host",
                "127.0.0.1",
                "--port",
                "18084",
                "--rscp-key",
                "demo-rscp-key",
                "--user",
                "demo@example.com",
                "--password",
                "demo-password",
            ],
            title_hint="E3/DC",
            steps=[
                {"next_step_id": "e3dc"},
                {
                    "host": "127.0.0.1",
                    "port": 18084,
                    "username": "demo@example.com",
                    "password": "demo-password",
                    "rscp_key": "demo-rscp-key",
                },
            ],
        ),
    ]


def main() -> int:
    """Start simulators and Home Assistant; keep running until Ctrl-C."""
    parser = argparse.ArgumentParser(description="MeterLink demo")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - reachable from the LAN
    parser.add_argument("--config", type=Path, default=ROOT / "demo" / "config")
    args = parser.parse_args()

    sims: list[SimulatorProcess] = []
    hass = HassProcess(config_dir=args.config.resolve(), port=args.port, host=args.host)
    try:
        for device in demo_devices():
            sim = SimulatorProcess(device.system, device.sim_args)
            print(sim.start())
            sims.append(sim)
        hass.write_config(extra=EXTRA_CONFIG)
        automations = hass.config_dir / "automations.yaml"
        if not automations.exists():
            automations.write_text("[]\n")
        print(f"Starting Home Assistant (config in {hass.config_dir}) ...")
        hass.start()
        api = HassApi(hass.url)
        if api.onboarded():
            api.login(username=USER, password=PASSWORD)
        else:
            api.onboard(name="MeterLink Demo", username=USER, password=PASSWORD)
        existing = {e["title"] for e in api.entries("meterlink")}
        for device in demo_devices():
            if any(device.title_hint in title for title in existing):
                continue
            result = api.config_flow("meterlink", device.steps)
            if result.get("type") != "create_entry":
                print(f"could not add {device.system}: {result}", file=sys.stderr)
            else:
                print(f"added {result['title']}")
        api.close()
        print()
        print(f"MeterLink demo is up: open http://localhost:{args.port}")
        print(f"  login: {USER} / {PASSWORD}")
        print("  Settings -> Devices & services -> MeterLink shows the devices; Ctrl-C stops.")
        signal.signal(signal.SIGTERM, lambda *_: hass.stop())
        try:
            return hass.wait()
        except KeyboardInterrupt:
            return 0
    finally:
        hass.stop()
        for sim in sims:
            sim.stop()


if __name__ == "__main__":
    sys.exit(main())
