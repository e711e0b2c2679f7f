"""The simulator's power-flow model: balance, limits, SOC, persistence, and the CLI."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.e3dc.client import RscpClient
from simulators.e3dc.model import PowerModel
from simulators.e3dc.server import E3dcSimulator

if TYPE_CHECKING:
    from pathlib import Path

DAY = 1_750_000_000 - 1_750_000_000 % 86400


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3 * 86400), min_size=1, max_size=8),
    limits=st.booleans(),
    max_charge=st.integers(min_value=0, max_value=6000),
    battery_first=st.booleans(),
    sun_mode=st.booleans(),
    switch_on=st.booleans(),
    additional=st.sampled_from([0.0, 800.0]),
)
def test_every_reading_balances_and_respects_limits(  # noqa: PLR0917
    offsets: list[int],
    limits: bool,
    max_charge: int,
    battery_first: bool,
    sun_mode: bool,
    switch_on: bool,
    additional: float,
) -> None:
    model = PowerModel(additional_w=additional)
    model.settings.power_limits_used = limits
    model.settings.max_charge_w = max_charge
    model.settings.battery_before_car = battery_first
    model.wallboxes[0].sun_mode = sun_mode
    model.switches[0].on = switch_on
    for offset in sorted(offsets):
        f = model.flows(DAY + offset)
        assert f.pv_w + f.additional_w + f.grid_w == f.house_w + f.wallbox_w + f.battery_w
        assert 0.0 <= f.soc_pct <= 100.0
        assert f.battery_w <= (max_charge if limits else model.max_battery_power_w)
        assert f.wallbox_solar_w <= f.wallbox_w
        if sun_mode:
            assert f.wallbox_w == f.wallbox_solar_w  # sun mode never draws from the grid


def test_night_discharges_and_soc_falls() -> None:
    model = PowerModel(soc_pct=50.0)
    first = model.flows(DAY + 2 * 3600)
    assert first.pv_w == 0
    assert first.battery_w < 0
    later = model.flows(DAY + 3 * 3600)
    assert later.soc_pct < first.soc_pct


def test_switch_adds_house_load() -> None:
    model = PowerModel()
    before = model.house_at(DAY)
    model.switches[0].on = True
    assert model.house_at(DAY) == before + 150


async def test_settings_persist_across_restart(tmp_path: Path, socket_enabled: None) -> None:
    state = tmp_path / "e3dc.json"
    sim = E3dcSimulator(model=PowerModel(state_path=state))
    await sim.start()
    client = RscpClient(
        host="127.0.0.1",
        port=sim.port,
        username="user@example.com",
        password="portal-password",
        rscp_key="simulator-key",
        keepalive_s=None,
    )
    await client.set_power_settings(max_discharge_w=1234)
    await client.set_switch(5, on=True)
    await client.set_wallbox_sun_mode(0, on=False)
    await client.close()
    await sim.stop()

    reborn = PowerModel(state_path=state)
    assert reborn.settings.max_discharge_w == 1234
    assert reborn.settings.power_limits_used is True
    assert [s.on for s in reborn.switches] == [False, True, True]
    assert reborn.wallboxes[0].sun_mode is False


async def test_cli_prints_one_line_and_serves(socket_enabled: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.e3dc",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--rscp-key",
        "cli-key",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
        assert line.startswith("E3/DC RSCP simulator listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        client = RscpClient(
            host="127.0.0.1",
            port=port,
            username="user@example.com",
            password="portal-password",
            rscp_key="cli-key",
            keepalive_s=None,
        )
        info = await client.system_info()
        await client.close()
        assert info.model == "S10 E"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)


@pytest.mark.parametrize("span", [3600, 86400])
def test_history_balances(span: int) -> None:
    totals = PowerModel().history(DAY, span)
    supply = totals["pv"] + totals["bat_out"] + totals["grid_out"] - totals["bat_in"]
    assert supply - totals["grid_in"] == pytest.approx(totals["house"])
