"""pye3dc 0.10.0 in local mode, unchanged, talks to the simulator (run in a thread)."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

from e3dc import E3DC

from simulators.e3dc.server import E3dcSimulator

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "pye3dc-key"
USER = "someone@example.com"
PASSWORD = "secret-portal-password"


async def _in_thread[R](func: Callable[[], R]) -> R:
    """Run blocking ``func`` in a thread we join, while the simulator keeps serving."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[R] = loop.create_future()

    def target() -> None:
        try:
            result = func()
        except BaseException as err:  # noqa: BLE001  # handed to the awaiting test
            loop.call_soon_threadsafe(done.set_exception, err)
        else:
            loop.call_soon_threadsafe(done.set_result, result)

    thread = threading.Thread(target=target, name="pye3dc")
    thread.start()
    try:
        return await asyncio.wait_for(done, timeout=20)
    finally:
        thread.join(timeout=20)


async def test_pye3dc_local_mode_reads_and_writes() -> None:
    sim = E3dcSimulator(rscp_key=KEY, users={USER: (PASSWORD, 10)})
    await sim.start()
    try:
        results = await _in_thread(lambda: _drive_pye3dc(sim.port))
    finally:
        await sim.stop()

    info = results["info"]
    assert info["serial"] == sim.serial[4:]  # pye3dc strips the "S10-" prefix
    assert info["model"] == "S10E"
    assert info["installedPeakPower"] == sim.model.pv_peak_w
    assert info["maxBatDischargePower"] == sim.model.max_battery_power_w
    poll = results["poll"]
    produced = poll["production"]["solar"] + poll["production"]["add"] + poll["production"]["grid"]
    used = sum(poll["consumption"].values())
    assert produced == used  # the simulator's energy balance, as pye3dc reports it
    assert results["status"]["emsAlive"] is True
    assert [s["name"] for s in results["switches"]] == ["Heat pump", "Pool pump", "Garage light"]
    assert results["power_settings"]["maxChargePower"] == 4500
    assert results["limits"] == 0  # pye3dc: 0 = all values accepted
    assert sim.model.settings.max_charge_w == 3000
    assert sim.model.settings.power_limits_used is True
    assert results["powersave"] == 0
    assert sim.model.settings.powersave is False
    assert results["sunmode"] is True
    assert sim.model.wallboxes[0].sun_mode is False
    assert results["wallbox"]["maxChargeCurrent"] == 16
    assert results["powermeter"]["type"] == 1
    assert results["pvi"]["maxStringCount"] == 2
    assert results["battery"]["dcbCount"] == 3
    db = results["db"]
    assert db["timespanSeconds"] == 86400
    assert db["solarProduction"] >= 0
    assert sim.stats.logins >= 1


def _drive_pye3dc(port: int) -> dict[str, Any]:
    """Call pye3dc's public API the way hacs-e3dc does (keepAlive between calls)."""
    e3dc = E3DC(
        E3DC.CONNECT_LOCAL,
        username=USER,
        password=PASSWORD,
        ipAddress="127.0.0.1",
        key=KEY,
        port=port,
        configuration={
            "pvis": [{"index": 0, "strings": 2, "phases": 3}],
            "powermeters": [{"index": 0}],
            "batteries": [{"index": 0, "dcbs": 0}],
        },
    )
    try:
        return {
            "poll": e3dc.poll(keepAlive=True),
            "info": e3dc.get_system_info(keepAlive=True),
            "status": e3dc.get_system_status(keepAlive=True),
            "switches": e3dc.poll_switches(keepAlive=True),
            "power_settings": e3dc.get_power_settings(keepAlive=True),
            "limits": e3dc.set_power_limits(enable=True, max_charge=3000, keepAlive=True),
            "powersave": e3dc.set_powersave(False, keepAlive=True),
            "wallbox": e3dc.get_wallbox_data(keepAlive=True),
            "sunmode": e3dc.set_wallbox_sunmode(False, keepAlive=True),
            "powermeter": e3dc.get_powermeter_data(keepAlive=True),
            "pvi": e3dc.get_pvi_data(keepAlive=True),
            "battery": e3dc.get_battery_data(keepAlive=True),
            "db": e3dc.get_db_data(keepAlive=True),
        }
    finally:
        e3dc.disconnect()
