"""The asyncio client against the simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from custom_components.meterlink.protocols.e3dc import commands
from custom_components.meterlink.protocols.e3dc.client import RscpClient
from custom_components.meterlink.protocols.e3dc.codec import decode_frame, item
from custom_components.meterlink.protocols.e3dc.errors import (
    RscpAuthenticationError,
    RscpConnectionError,
    RscpPortalUnreachableError,
    RscpProtocolError,
    RscpResponseError,
    RscpTimeoutError,
)
from custom_components.meterlink.protocols.e3dc.models import IdlePeriod, combine_live
from custom_components.meterlink.protocols.e3dc.tags import RscpTag as T, RscpType
from simulators.e3dc.model import PowerModel, WallboxState
from simulators.e3dc.server import E3dcSimulator
from simulators.faultproxy import FaultProxy

from .conftest import KEY, PASSWORD, Clock, make_client


async def test_live_poll_is_one_round_trip_and_balances(
    sim: E3dcSimulator, client: RscpClient, clock: Clock
) -> None:
    before = sim.stats.frames
    live = await client.poll_live()
    assert sim.stats.frames == before + 1
    expected = sim.model.flows(clock.now)
    assert live.pv_power_w == expected.pv_w > 0
    assert live.house_power_w == expected.house_w
    assert live.time is not None
    assert live.time.timestamp() == pytest.approx(clock.now)
    produced = live.pv_power_w + live.additional_power_w + live.grid_power_w  # type: ignore[operator]
    used = live.house_power_w + live.wallbox_power_w + live.battery_power_w  # type: ignore[operator]
    assert produced == used
    assert live.status is not None
    assert live.status.flags["ems_alive"] is True
    assert live.status.flags["wallbox_alive"] is True
    assert 0 <= live.autarky_pct <= 100  # type: ignore[operator]


async def test_system_info(client: RscpClient, sim: E3dcSimulator) -> None:
    info = await client.system_info()
    assert info.serial == sim.serial
    assert info.model == "S10 E"
    assert info.mac == "00:1a:2b:3c:4d:5e"
    assert info.installed_peak_power_w == sim.model.pv_peak_w
    assert info.installed_battery_capacity_wh == sim.model.battery_capacity_wh
    assert info.max_discharge_power_w == sim.model.max_battery_power_w
    assert info.derate_percent == pytest.approx(70.0)
    assert client.user_level == 10


async def test_discover_and_details_in_one_frame(client: RscpClient, sim: E3dcSimulator) -> None:
    topology = await client.discover()
    assert topology.batteries == (0, 1)
    assert [(p.index, p.strings, p.phases) for p in topology.inverters] == [(0, 2, 3)]
    assert topology.power_meters == (0, 1)
    assert topology.wallboxes == (0,)
    before = sim.stats.frames
    details = await client.poll_details()
    assert sim.stats.frames == before + 1
    assert [b.index for b in details.batteries] == [0, 1]
    assert details.batteries[1].charge_cycles == sim.model.battery_cycles + 1
    assert details.batteries[0].connected is True
    assert topology.battery_modules == (3, 3)
    modules = details.batteries[1].modules
    assert [m.index for m in modules] == [0, 1, 2]
    assert modules[2].state_of_health_pct == pytest.approx(97.5 - 2 - 1)
    assert modules[0].serial == "7000100"
    (inverter,) = details.inverters
    assert [s.index for s in inverter.strings] == [0, 1]
    assert sum(s.power_w or 0 for s in inverter.strings) == pytest.approx(
        sim.model.flows(sim.clock()).pv_w, rel=1e-4
    )
    assert len(inverter.phases) == 3
    root, other = details.power_meters
    assert root.type_name == "root"
    assert other.type == 42
    assert other.type_name is None  # newer meter type: tolerated, kept as a number
    (box,) = details.wallboxes
    assert box.sun_mode is True
    assert box.phases == 3
    assert box.name == "Garage"
    assert details.power_settings is not None
    assert details.power_settings.max_charge_power_w == 4500
    assert details.manual_charge is not None
    assert details.manual_charge.active is False
    assert details.sg_ready is not None
    assert (details.sg_ready.state, details.sg_ready.active) == (2, False)
    assert box.app_software == "42"
    assert details.batteries[0].total_use_time_s == 86400 * 700
    assert details.batteries[0].status_code == 0  # sent as a 4-byte bitfield
    assert modules[1].serial == "7000101"
    assert details.batteries[0].real_state_of_charge_pct == details.batteries[0].state_of_charge_pct


async def test_switches_list_and_set(client: RscpClient) -> None:
    switches = await client.switches()
    assert [(s.index, s.name, s.is_on) for s in switches] == [
        (1, "Heat pump", False),
        (2, "Pool pump", True),
        (5, "Garage light", False),
    ]
    assert await client.set_switch(1, on=True) is True
    assert await client.set_switch(99, on=True) is False
    assert [s.is_on for s in await client.switches()] == [True, True, False]


async def test_power_settings_read_modify_write(client: RscpClient, sim: E3dcSimulator) -> None:
    sim.model.settings.max_discharge_w = 3000
    after = await client.set_power_settings(max_charge_w=2000)
    assert after.power_limits_used is True
    assert after.max_charge_power_w == 2000
    assert after.max_discharge_power_w == 3000  # untouched, not reset to a default
    after = await client.set_power_settings(powersave=False)
    assert after.max_charge_power_w == 2000
    assert after.powersave_enabled is False
    cleared = await client.clear_power_limits()
    assert cleared.power_limits_used is False
    assert sim.model.settings.max_charge_w == 2000


async def test_power_setting_adjusted_by_device_raises(client: RscpClient) -> None:
    with pytest.raises(RscpResponseError, match="read back"):
        await client.set_power_settings(max_charge_w=99_999)


async def test_limits_change_the_model(client: RscpClient, sim: E3dcSimulator) -> None:
    await client.set_power_settings(max_charge_w=100)
    live = await client.poll_live()
    assert 0 < live.battery_power_w <= 100  # type: ignore[operator]


async def test_manual_charge_and_power_mode(client: RscpClient, clock: Clock) -> None:
    assert await client.start_manual_charge(2000) is True
    assert await client.start_manual_charge(2000) is False  # device rate limit
    clock.now += 600
    state = await client.manual_charge()
    assert state.active is True
    assert state.energy_counter_wh == 0 or state.energy_counter_wh > 0  # type: ignore[operator]
    live = await client.poll_live()
    assert live.battery_power_w == 4500
    await client.set_power_mode(commands.PowerMode.IDLE, 0)
    await client.start_manual_charge(0)
    live = await client.poll_live()
    assert live.battery_power_w == 0


@pytest.mark.parametrize(
    ("period", "span"),
    [(commands.HistoryPeriod.WEEK, 7 * 86400), (commands.HistoryPeriod.MONTH, 30 * 86400)],
)
async def test_history_longer_periods(
    client: RscpClient, clock: Clock, period: commands.HistoryPeriod, span: int
) -> None:
    start = int(clock.now) - span
    totals = await client.history(period, start=start, span_s=span)
    day = await client.history(commands.HistoryPeriod.DAY, start=start, span_s=86400)
    assert totals.solar_production_wh > day.solar_production_wh > 0  # type: ignore[operator]
    assert totals.span_s == span


async def test_history_hourly_series_adds_up_to_the_day(client: RscpClient, clock: Clock) -> None:
    day = int(clock.now) - int(clock.now) % 86400 - 86400  # yesterday, complete
    hours = await client.history_series(
        commands.HistoryPeriod.DAY, start=day, span_s=86400, interval_s=3600
    )
    assert len(hours) == 24
    assert [h.start.timestamp() for h in hours] == [day + 3600 * n for n in range(24)]
    total = await client.history(commands.HistoryPeriod.DAY, start=day, span_s=86400)
    assert sum(h.solar_production_wh or 0 for h in hours) == pytest.approx(
        total.solar_production_wh, rel=1e-4
    )
    assert hours[2].solar_production_wh == 0  # 02:00 UTC: night


async def test_history_totals_balance(client: RscpClient, clock: Clock) -> None:
    day = int(clock.now) - int(clock.now) % 86400
    totals = await client.history(commands.HistoryPeriod.DAY, start=day, span_s=86400)
    assert totals.solar_production_wh > 0  # type: ignore[operator]
    supply = (
        totals.solar_production_wh
        + totals.battery_discharge_wh
        + totals.grid_import_wh
        - totals.battery_charge_wh
        - totals.grid_export_wh
    )  # type: ignore[operator]
    assert supply == pytest.approx(totals.house_consumption_wh, rel=1e-5)
    with pytest.raises(RscpResponseError) as err:
        await client.history(commands.HistoryPeriod.DAY, start=day, span_s=0)
    assert err.value.status == 5  # OUT_OF_BOUNDS


async def test_wallbox_controls(client: RscpClient, sim: E3dcSimulator) -> None:
    await client.discover()
    await client.set_wallbox_sun_mode(0, on=False)
    await client.set_wallbox_max_current(0, 10)
    await client.toggle_wallbox_phases(0)
    await client.set_wallbox_schuko(0, on=True)
    (box,) = (await client.poll_details()).wallboxes
    assert (box.sun_mode, box.max_charge_current_a, box.phases, box.schuko_on) == (
        False,
        10,
        1,
        True,
    )
    assert box.power_w == 10 * 230
    await client.toggle_wallbox_charging(0)
    (box,) = (await client.poll_details()).wallboxes
    assert box.charging is False
    assert box.power_w == 0
    assert await client.set_battery_to_car(True) is True
    assert await client.set_battery_before_car(False) is True
    assert await client.set_wallbox_discharge_battery_until(35) is True
    assert await client.set_wallbox_enforce_power_assignment(True) is True
    details = await client.poll_details()
    assert details.wallbox_settings is not None
    assert details.wallbox_settings.battery_to_car is True
    assert details.wallbox_settings.battery_before_car is False
    assert details.wallbox_settings.discharge_battery_until_pct == 35
    assert details.wallbox_settings.enforce_power_assignment is True
    with pytest.raises(RscpResponseError, match="wallbox 3"):
        await client.toggle_wallbox_phases(3)


async def test_unknown_tags_from_newer_firmware_are_tolerated(
    client: RscpClient, sim: E3dcSimulator
) -> None:
    sim.extra_reply_items = [
        item(0x0100003F, RscpType.UINT32, 1),
        item(0x7A000001, RscpType.BYTEARRAY, b"\x01\x02"),
    ]
    live = await client.poll_live()
    assert live.pv_power_w is not None


# ------------------------------------------------------------------------- authentication


async def test_wrong_rscp_key_is_reported_as_key(sim: E3dcSimulator) -> None:
    rscp = make_client(sim, rscp_key="not-the-key")
    with pytest.raises(RscpAuthenticationError) as err:
        await rscp.connect()
    assert err.value.secret == "rscp_key"
    await rscp.close()


async def test_wrong_password_is_reported_as_password(sim: E3dcSimulator) -> None:
    rscp = make_client(sim, password="wrong")
    with pytest.raises(RscpAuthenticationError) as err:
        await rscp.poll_live()
    assert err.value.secret == "password"
    assert not isinstance(err.value, RscpConnectionError)
    await rscp.close()


@pytest.mark.parametrize("fault", ["offline", "error"])
async def test_device_offline_refusal_is_its_own_error(sim: E3dcSimulator, fault: str) -> None:
    sim.faults.auth = fault  # type: ignore[assignment]
    rscp = make_client(sim)
    with pytest.raises(RscpPortalUnreachableError, match="E3/DC's servers"):
        await rscp.connect()
    await rscp.close()


async def test_capture_masks_the_password(sim: E3dcSimulator) -> None:
    frames: list[tuple[str, bytes]] = []
    rscp = make_client(sim, on_frame=lambda d, b: frames.append((d, b)))
    await rscp.poll_live()
    await rscp.close()
    assert [d for d, _ in frames] == ["tx", "rx", "tx", "rx"]
    assert PASSWORD.encode() not in b"".join(b for _, b in frames)
    login = decode_frame(frames[0][1]).items[0]
    assert login.get(T.RSCP_AUTHENTICATION_PASSWORD) == "**REDACTED**"
    assert decode_frame(frames[3][1]).find(T.EMS_POWER_PV) is not None


# ------------------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", ["drop", "garbage", "bad_crc"])
async def test_one_bad_reply_is_survived_by_reconnecting(
    sim: E3dcSimulator, client: RscpClient, fault: str
) -> None:
    setattr(sim.faults, fault, 1)
    connections = sim.stats.connections
    live = await client.poll_live()
    assert live.pv_power_w is not None
    assert sim.stats.connections == connections + 1


async def test_persistent_drop_raises_connection_error_then_backs_off(
    sim: E3dcSimulator, client: RscpClient
) -> None:
    sim.faults.drop = 10
    with pytest.raises(RscpConnectionError, match="closed the connection"):
        await client.poll_live()
    connections = sim.stats.connections
    with pytest.raises(RscpConnectionError, match="not retrying"):
        await client.poll_live()
    assert sim.stats.connections == connections  # backing off: the device is left alone


async def test_stall_times_out(sim: E3dcSimulator) -> None:
    rscp = make_client(sim, timeout=0.2)
    await rscp.connect()
    sim.faults.stall = True
    with pytest.raises(RscpTimeoutError, match="no reply"):
        await rscp.poll_live()
    await rscp.close()


async def test_slow_replies_within_timeout_succeed(sim: E3dcSimulator) -> None:
    sim.faults.delay_s = 0.05
    rscp = make_client(sim, timeout=1.0)
    assert (await rscp.poll_live()).pv_power_w is not None
    await rscp.close()


async def test_reconnects_after_device_drops_everything(
    sim: E3dcSimulator, client: RscpClient
) -> None:
    await client.poll_live()
    sim.drop_all()
    assert (await client.poll_live()).pv_power_w is not None


async def test_unreachable_device(sim: E3dcSimulator) -> None:
    port = sim.port
    await sim.stop()
    rscp = make_client(sim, port=port)
    with pytest.raises(RscpConnectionError, match="cannot connect"):
        await rscp.connect()
    await rscp.close()


async def test_keepalive_pings_when_idle(sim: E3dcSimulator) -> None:
    pinged = asyncio.Event()

    def watch(direction: str, frame: bytes) -> None:
        if direction == "tx" and decode_frame(frame).find(T.INFO_REQ_UTC_TIME):
            pinged.set()

    rscp = make_client(sim, keepalive_s=0.05, on_frame=watch)
    await rscp.connect()
    await asyncio.wait_for(pinged.wait(), timeout=5)
    await rscp.close()
    assert sim.stats.requests_by_tag[T.INFO_REQ_UTC_TIME] >= 1


async def test_key_longer_than_32_bytes_is_rejected_up_front() -> None:
    with pytest.raises(RscpAuthenticationError) as err:
        RscpClient(host="127.0.0.1", username="u", password="p", rscp_key="k" * 33)
    assert err.value.secret == "rscp_key"
    assert KEY


async def test_idle_periods_read_modify_write(client: RscpClient) -> None:
    monday = IdlePeriod(
        type=0, day=0, active=True, start_hour=0, start_minute=0, end_hour=6, end_minute=30
    )
    friday = IdlePeriod(
        type=1, day=4, active=False, start_hour=18, start_minute=0, end_hour=22, end_minute=0
    )
    assert await client.idle_periods() == ()
    assert set(await client.set_idle_periods([monday, friday])) == {monday, friday}
    changed = replace(friday, active=True, end_hour=23)
    after = await client.update_idle_period(changed)
    assert set(after) == {monday, changed}  # Monday untouched


async def test_user_levels_gate_installer_requests(sim: E3dcSimulator) -> None:
    sim.users["installer@example.com"] = ("installer-pw", 20)
    user = make_client(sim)
    (reply,) = await user.request([item(T.SYS_REQ_SYSTEM_REBOOT)])
    assert reply.is_error
    assert reply.value == 2  # ACCESS_DENIED
    await user.close()
    installer = make_client(sim, username="installer@example.com", password="installer-pw")
    (reply,) = await installer.request([item(T.SYS_REQ_SYSTEM_REBOOT)])
    assert reply.value is True
    assert installer.user_level == 20
    await installer.close()


async def test_wrong_key_answered_with_noise_is_reported_as_key(sim: E3dcSimulator) -> None:
    sim.faults.on_bad_key = "garbage"
    rscp = make_client(sim, rscp_key="another-key")
    with pytest.raises(RscpAuthenticationError) as err:
        await rscp.connect()
    assert err.value.secret == "rscp_key"
    await rscp.close()


async def test_farm_master_lists_members_and_totals_combine(
    sim: E3dcSimulator, client: RscpClient, clock: Clock
) -> None:
    assert await client.farm_devices() == ()  # not a farm master
    slave = E3dcSimulator(rscp_key=KEY, model=PowerModel(pv_peak_w=4000, soc_pct=80), clock=clock)
    await slave.start()
    sim.farm_members = [("S10-701111111111", "Barn"), (slave.serial, "Workshop")]
    slave_client = make_client(slave)
    try:
        members = await client.farm_devices()
        assert [(m.serial, m.name) for m in members] == [
            ("S10-701111111111", "Barn"),
            (slave.serial, "Workshop"),
        ]
        master_live, slave_live = await client.poll_live(), await slave_client.poll_live()
    finally:
        await slave_client.close()
        await slave.stop()
    total = combine_live([master_live, slave_live], capacities_wh=[13800, 6900])
    assert total.pv_power_w == master_live.pv_power_w + slave_live.pv_power_w  # type: ignore[operator]
    produced = total.pv_power_w + total.additional_power_w + total.grid_power_w  # type: ignore[operator]
    used = total.house_power_w + total.wallbox_power_w + total.battery_power_w  # type: ignore[operator]
    assert produced == used
    assert total.state_of_charge_pct == pytest.approx((50 * 13800 + 80 * 6900) / 20700, abs=1)
    with pytest.raises(ValueError, match="at least one"):
        combine_live([])


async def test_reply_answering_something_else_is_a_protocol_error(
    sim: E3dcSimulator, client: RscpClient
) -> None:
    (unknown,) = await client.request([item(0x0A00FFF0)])  # unknown request: error reply
    assert unknown.is_error
    sim.faults.mismatch = 1
    with pytest.raises(RscpProtocolError, match="none of the 13 requested tags"):
        await client.poll_live()
    assert client.connected is False  # out of step: dropped, the next poll reconnects
    assert (await client.poll_live()).pv_power_w is not None


async def test_two_wallboxes_are_two_devices(clock: Clock) -> None:
    model = PowerModel(
        wallboxes=[WallboxState(index=0, name="Left"), WallboxState(index=3, name="Right")]
    )
    sim = E3dcSimulator(rscp_key=KEY, model=model, clock=clock)
    await sim.start()
    rscp = make_client(sim)
    try:
        topology = await rscp.discover()
        assert topology.wallboxes == (0, 3)
        details = await rscp.poll_details()
        assert [(w.index, w.name) for w in details.wallboxes] == [(0, "Left"), (3, "Right")]
        await rscp.set_wallbox_sun_mode(3, on=False)
        left, right = (await rscp.poll_details()).wallboxes
        assert (left.sun_mode, right.sun_mode) == (True, False)
    finally:
        await rscp.close()
        await sim.stop()


async def test_backoff_expires_and_doubles(sim: E3dcSimulator) -> None:
    ticks = Clock(1000.0)
    rscp = make_client(sim, monotonic=ticks)
    await rscp.connect()
    sim.faults.drop = 2  # both the request and its one retry are dropped
    with pytest.raises(RscpConnectionError, match="closed the connection"):
        await rscp.poll_live()
    ticks.now += 0.9
    with pytest.raises(RscpConnectionError, match=r"another 0\.1 s"):
        await rscp.poll_live()
    ticks.now += 0.2
    assert (await rscp.poll_live()).pv_power_w is not None  # backoff over, device fine again
    await sim.stop()  # now the device is gone: failures push the next attempt further out
    with pytest.raises(RscpConnectionError):
        await rscp.poll_live()
    with pytest.raises(RscpConnectionError, match=r"another 1\.0 s"):
        await rscp.poll_live()
    ticks.now += 1.1
    with pytest.raises(RscpConnectionError, match="cannot connect"):
        await rscp.poll_live()
    with pytest.raises(RscpConnectionError, match=r"another 2\.0 s"):
        await rscp.poll_live()
    await rscp.close()


async def test_system_without_wallbox_and_context_manager(clock: Clock) -> None:
    sim = E3dcSimulator(rscp_key=KEY, model=PowerModel(wallboxes=[], switches=[]), clock=clock)
    await sim.start()
    try:
        async with make_client(sim) as rscp:
            await rscp.connect()  # already connected: no second login
            assert sim.stats.logins == 1
            topology = await rscp.discover()
            assert topology.wallboxes == ()
            live = await rscp.poll_live()
            assert live.wallbox_power_w == 0
            assert live.status is not None
            assert live.status.flags["wallbox_alive"] is False
            assert await rscp.switches() == ()
        assert rscp.connected is False
    finally:
        await sim.stop()


async def test_weather_regulated_charge_changes_the_model(client: RscpClient, clock: Clock) -> None:
    clock.now -= 3 * 3600  # 09:00 UTC, sun up
    before = await client.poll_live()
    assert before.battery_power_w > 0  # type: ignore[operator]
    await client.set_power_settings(weather_regulated_charge=True)
    held = await client.poll_live()
    assert held.battery_power_w == 0
    assert held.status is not None
    assert held.status.flags["wait_for_weather_breakthrough"] is True
    clock.now += 4 * 3600  # 13:00 UTC
    later = await client.poll_live()
    assert later.battery_power_w > 0  # type: ignore[operator]
    assert later.status is not None
    assert later.status.flags["wait_for_weather_breakthrough"] is False


async def test_toggles_are_never_sent_twice(client: RscpClient, sim: E3dcSimulator) -> None:
    frames = sim.stats.frames
    sim.faults.drop = 1
    with pytest.raises(RscpConnectionError):
        await client.toggle_wallbox_charging(0)
    assert sim.stats.frames == frames + 1  # no retry of a toggle
    assert sim.model.wallboxes[0].charging is True
    assert client.connected is False
    assert (await client.poll_live()).pv_power_w is not None  # reconnects at once


async def test_single_wallbox_and_wallbox_settings_reads(
    client: RscpClient, sim: E3dcSimulator
) -> None:
    await client.set_wallbox_max_current(0, 12)
    before = sim.stats.frames
    box = await client.wallbox(0)
    assert sim.stats.frames == before + 1
    assert (box.index, box.name, box.max_charge_current_a) == (0, "Garage", 12)
    assert await client.set_battery_to_car(True) is True
    settings = await client.wallbox_settings()
    assert settings.battery_to_car is True
    assert settings.battery_before_car is sim.model.settings.battery_before_car
    assert settings.discharge_battery_until_pct == sim.model.settings.wb_discharge_bat_until
    missing = await client.wallbox(5)
    assert missing.max_charge_current_a is None


async def test_writes_are_sent_once_when_their_reply_is_lost(
    client: RscpClient, sim: E3dcSimulator
) -> None:
    sim.faults.lose_write_reply = 1  # applied, then the device hangs up
    with pytest.raises(RscpConnectionError):
        await client.set_switch(1, on=True)
    assert sim.stats.executed[T.HA_REQ_COMMAND_ACTUATOR] == 1  # not sent again
    assert sim.model.switches[0].on is True
    # a write that verifies by reading back goes on to the read-back instead of raising
    sim.faults.lose_write_reply = 1
    after = await client.set_power_settings(max_charge_w=3000)
    assert after.max_charge_power_w == 3000
    assert sim.stats.executed[T.EMS_REQ_SET_POWER_SETTINGS] == 1


async def test_connect_backoff_is_capped(sim: E3dcSimulator) -> None:
    ticks = Clock(1000.0)
    rscp = make_client(sim, monotonic=ticks, max_backoff_s=3.0)
    await sim.stop()
    for _ in range(4):  # 1, 2, 3 (not 4), 3 (not 8) s
        with pytest.raises(RscpConnectionError, match="cannot connect"):
            await rscp.poll_live()
        ticks.now += 3.0
    with pytest.raises(RscpConnectionError, match="cannot connect"):
        await rscp.poll_live()
    with pytest.raises(RscpConnectionError, match=r"another 3\.0 s"):
        await rscp.poll_live()
    await rscp.close()


async def test_a_login_reply_cut_once_is_not_a_wrong_key(sim: E3dcSimulator) -> None:
    proxy = await FaultProxy(sim.port).start()
    try:
        rscp = make_client(sim, port=proxy.port)
        proxy.drop_mid_frame(cut_at=5)  # the login reply
        await rscp.connect()  # a second login on a fresh connection works
        assert proxy.stats.cuts == 1
        assert sim.stats.logins == 2
        await rscp.close()
        sim.rscp_key = "another-key"  # a wrong key fails both logins
        with pytest.raises(RscpAuthenticationError) as err:
            await rscp.connect()
        assert err.value.secret == "rscp_key"
    finally:
        await proxy.stop()
