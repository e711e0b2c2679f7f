"""Setting up a DCS entry against the simulator: devices, sensors, faults and recovery."""

from __future__ import annotations

from datetime import timedelta
import json

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems.dcs.runtime import DcsRuntime
from simulators.dcs import DcsSimulator
from tests.threaded import threaded

from .conftest import dcs_entry_data, dcs_entry_options, setup_entry


def sensor_id(entity_registry: er.EntityRegistry, entry: MockConfigEntry, wire: str) -> str:
    unique_id = f"{entry.data['server_id']}_{wire.lower()}"
    entity_id = entity_registry.async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def cumulative_register(sim: DcsSimulator) -> int:
    return next(r.id for r in sim.meters[0].registers if not r.is_instantaneous and "kWh" in r.unit)


async def test_setup_creates_devices_and_sensors(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    assert dcs_entry.state is ConfigEntryState.LOADED
    runtime = dcs_entry.runtime_data
    assert isinstance(runtime, DcsRuntime)

    devices = dr.async_entries_for_config_entry(device_registry, dcs_entry.entry_id)
    names = {d.name for d in devices}
    assert {m.name for m in dcs_sim.meters[:2]} <= names
    assert {v.name for v in dcs_sim.virtual_meters} <= names
    server = device_registry.async_get_device({(DOMAIN, dcs_entry.data["server_id"])})
    assert server is not None
    meters = [d for d in devices if d.via_device_id == server.id]
    assert len(meters) == 2 + len(dcs_sim.virtual_meters)
    serials = {d.serial_number for d in meters if d.serial_number}
    assert {m.serial_number for m in dcs_sim.meters[:2]} <= serials

    reg = cumulative_register(dcs_sim)
    state = hass.states.get(sensor_id(entity_registry, dcs_entry, f"R{reg}"))
    assert state is not None
    assert state.attributes["device_class"] == "energy"
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["unit_of_measurement"] == "kWh"
    latest = runtime.coordinator.data.latest[f"R{reg}"]
    assert latest is not None
    end = latest.timestamp + timedelta(minutes=30)
    assert float(state.state) == pytest.approx(dcs_sim.register_total(reg, end, True))
    assert state.attributes["reading_time"] == latest.timestamp.isoformat()

    # every device has its own "last successful read" diagnostic sensor
    last_reads = [
        e
        for e in er.async_entries_for_config_entry(entity_registry, dcs_entry.entry_id)
        if e.unique_id.endswith("_last_read")
    ]
    assert len(last_reads) == len(meters)
    assert all(e.entity_category is not None for e in last_reads)
    assert hass.states.get(last_reads[0].entity_id).state != STATE_UNAVAILABLE


async def test_every_entity_has_a_unique_id_and_a_device(
    hass: HomeAssistant,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    entries = er.async_entries_for_config_entry(entity_registry, dcs_entry.entry_id)
    assert entries
    assert len({e.unique_id for e in entries}) == len(entries)
    assert all(e.device_id for e in entries)
    assert all(e.has_entity_name for e in entries)


async def test_failure_makes_entities_unavailable_and_they_recover(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    coordinator = dcs_entry.runtime_data.coordinator
    entity_id = sensor_id(entity_registry, dcs_entry, f"R{cumulative_register(dcs_sim)}")
    value = hass.states.get(entity_id).state

    dcs_sim.faults.fail_status = 500
    dcs_sim.faults.fail_500 = 100
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE  # never 0
    # the next attempt comes sooner than the normal interval
    assert coordinator.update_interval < timedelta(seconds=300)

    dcs_sim.faults.fail_500 = 0
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == value
    assert coordinator.update_interval == timedelta(seconds=300)


async def test_session_expiry_mid_poll_keeps_entities_available(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    entity_id = sensor_id(entity_registry, dcs_entry, f"R{cumulative_register(dcs_sim)}")
    logins = dcs_sim.stats.logins
    dcs_sim.faults.expire_after = 2  # the 401 lands in the middle of the poll
    await dcs_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE
    assert dcs_sim.stats.logins == logins + 1


async def test_server_down_at_start_retries_setup(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    dcs_sim.faults.fail_status = 500
    dcs_sim.faults.fail_500 = 100
    await setup_entry(hass, dcs_entry)
    assert dcs_entry.state is ConfigEntryState.SETUP_RETRY


async def test_wrong_password_at_start_starts_reauth(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    dcs_sim.set_credentials(dcs_sim.username, "changed")
    await setup_entry(hass, dcs_entry)
    assert dcs_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


async def test_password_change_while_running_starts_reauth(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    dcs_sim.set_credentials(dcs_sim.username, "changed")
    dcs_sim.expire_sessions()
    await dcs_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress()
    assert any(f["context"]["source"] == SOURCE_REAUTH for f in flows)


async def test_refused_register_raises_a_repair_issue(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    reg = cumulative_register(dcs_sim)
    entity_id = sensor_id(entity_registry, dcs_entry, f"R{reg}")
    dcs_sim.faults.forbidden_ids = {f"R{reg}"}
    await dcs_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, f"dcs_missing_{dcs_entry.entry_id}")
    assert issue is not None
    assert f"R{reg}" in issue.translation_placeholders["targets"]
    assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    # other registers carry on
    other = next(r for r in dcs_sim.meters[0].registers if r.id != reg)
    assert hass.states.get(sensor_id(entity_registry, dcs_entry, f"R{other.id}")).state != (
        STATE_UNAVAILABLE
    )
    dcs_sim.faults.forbidden_ids = set()
    await dcs_entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, f"dcs_missing_{dcs_entry.entry_id}") is None
    assert hass.states.get(entity_id).state != STATE_UNAVAILABLE


async def test_untrusted_certificate_raises_a_repair_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    with threaded(lambda: DcsSimulator(tls=True)) as sim:
        entry = MockConfigEntry(
            domain=DOMAIN, data=dcs_entry_data(sim), options=dcs_entry_options(sim)
        )
        entry.add_to_hass(hass)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert issue_registry.async_get_issue(DOMAIN, f"dcs_tls_{entry.entry_id}") is not None
        await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_logs_out(
    hass: HomeAssistant, dcs_sim: DcsSimulator, dcs_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, dcs_entry)
    assert await hass.config_entries.async_unload(dcs_entry.entry_id)
    await hass.async_block_till_done()
    assert dcs_entry.state is ConfigEntryState.NOT_LOADED
    assert dcs_sim.stats.logouts >= 1


async def test_diagnostics_redact_secrets_and_show_frames(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    dcs_sim: DcsSimulator,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=dcs_entry_data(dcs_sim),
        options=dcs_entry_options(dcs_sim, capture_frames=True),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert dcs_sim.password not in text
    assert f'"{dcs_sim.username}"' not in text  # not in the data, the frames or the replies
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["username"] == "**REDACTED**"
    frames = diagnostics["frames"]["frames"]
    assert frames
    assert any("authentication/signin" in f["text"] for f in frames)
    assert all(len(f["hex"]) >= len(f["text"]) for f in frames)
    # the session cookie never shows
    cookie = entry.runtime_data.client._cookie
    assert cookie is not None
    assert cookie[1] not in text
    assert "Set-Cookie: COHERENT-DCS-API" in text
    assert "=***" in text
    assert diagnostics["device"]["api"] == "web_api"
    assert len(diagnostics["device"]["meters"]) == len(dcs_sim.meters)


async def test_stale_devices_can_be_removed(
    hass: HomeAssistant,
    dcs_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    from custom_components.meterlink import async_remove_config_entry_device  # noqa: PLC0415

    assert await async_setup_component(hass, "config", {})
    await setup_entry(hass, dcs_entry)
    server_id = dcs_entry.data["server_id"]
    in_use = device_registry.async_get_device({(DOMAIN, server_id)})
    assert in_use is not None
    assert not await async_remove_config_entry_device(hass, dcs_entry, in_use)
    stale = device_registry.async_get_or_create(
        config_entry_id=dcs_entry.entry_id, identifiers={(DOMAIN, f"{server_id}_meter_424242")}
    )
    assert await async_remove_config_entry_device(hass, dcs_entry, stale)


async def test_counter_guard_is_restored_after_a_restart(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    from homeassistant.core import State  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import (  # noqa: PLC0415
        mock_restore_cache_with_extra_data,
    )

    reg = cumulative_register(dcs_sim)
    unique_id = f"{dcs_entry.data['server_id']}_r{reg}"
    entity_id = entity_registry.async_get_or_create(
        "sensor", DOMAIN, unique_id, config_entry=dcs_entry
    ).entity_id
    higher = 1e12  # what the sensor said before the restart: the live value is lower
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(entity_id, str(higher)),
                {"native_value": higher, "native_unit_of_measurement": "kWh"},
            )
        ],
    )
    await setup_entry(hass, dcs_entry)
    assert float(hass.states.get(entity_id).state) == higher  # the backward step is dropped


async def test_registers_gone_from_the_server_keep_their_repair_issue(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=dcs_entry_data(dcs_sim),
        options=dcs_entry_options(
            dcs_sim, registers=[f"R{dcs_sim.meters[0].registers[0].id}", "R999999"]
        ),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    await entry.runtime_data.coordinator.async_refresh()
    issue = issue_registry.async_get_issue(DOMAIN, f"dcs_missing_{entry.entry_id}")
    assert issue is not None
    assert "R999999" in issue.translation_placeholders["targets"]


async def test_every_target_refused_is_a_failed_poll(
    hass: HomeAssistant,
    dcs_sim: DcsSimulator,
    dcs_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_entry(hass, dcs_entry)
    coordinator = dcs_entry.runtime_data.coordinator
    dcs_sim.faults.forbidden_ids = set(dcs_entry.options["registers"]) | set(
        dcs_entry.options["virtual_meters"]
    )
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    last_reads = [
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, dcs_entry.entry_id)
        if e.unique_id.endswith("_last_read")
    ]
    # each device still says when it last gave a value
    assert all(hass.states.get(e).state != STATE_UNAVAILABLE for e in last_reads)
