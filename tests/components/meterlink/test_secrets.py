"""No secret in entity states/attributes, diagnostics or captured frames, for each device type.

Each test sets a device type up against its simulator with frame capture on, makes it send its
authentication frame, then looks for every form of every secret of the entry (text, hex, spaced
hex as the capture shows it) in all its entities' states and attributes and in the diagnostics
download (entry data, device state, captured frames). The authentication frame must be in the
capture, masked. Logs, captured output and failure reports of the whole suite are grepped by
tests/secrets_guard.py; the per-type diagnostics redaction tests stay where they are
(test_dcs_setup, test_e3dc_snapshots, test_ekm_setup, test_dlms_setup).
"""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.meterlink.capture import MAX_FRAME_BYTES, FrameCapture
from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, DOMAIN
from simulators.dcs import DcsSimulator
from simulators.ekm.bus import EkmSimBus
from tests.secrets_guard import needles

from . import dlms_helpers, e3dc_helpers
from .conftest import EKM_V3, dcs_entry_data, dcs_entry_options, ekm_entry_options, setup_entry

EKM_PASSWORD = "24681357"


def _entity_text(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """Every state and attribute of the entry's entities, as one text."""
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert entities
    states = [hass.states.get(e.entity_id) for e in entities]
    return json.dumps(
        [(s.entity_id, s.state, dict(s.attributes)) for s in states if s is not None], default=str
    )


def _assert_no_secret(texts: dict[str, str], secrets: list[str]) -> None:
    for where, text in texts.items():
        for secret in secrets:
            for form in needles(secret):
                assert form not in text, f"a form of a secret is in the {where}"


async def _check(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    secrets: list[str],
) -> list[dict[str, Any]]:
    """Assert no secret shows; return the captured frames."""
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    _assert_no_secret(
        {"entities": _entity_text(hass, entry), "diagnostics": json.dumps(diagnostics)}, secrets
    )
    frames: list[dict[str, Any]] = diagnostics["frames"]["frames"]
    assert frames
    return frames


async def test_dcs(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, dcs_sim: DcsSimulator
) -> None:
    tokens: list[str] = []
    login = dcs_sim._login

    def _login(username: str, password: str, api: str) -> str | None:
        token = login(username, password, api)
        tokens.extend([token] if token else [])
        return token

    dcs_sim._login = _login  # type: ignore[method-assign]
    entry = MockConfigEntry(
        domain=DOMAIN,
        data=dcs_entry_data(dcs_sim),
        options=dcs_entry_options(dcs_sim, capture_frames=True),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    assert tokens  # the session cookie is a secret too
    frames = await _check(hass, hass_client, entry, [dcs_sim.password, *tokens])
    signin = [f["text"] for f in frames if "authentication/signin" in f["text"]]
    assert signin
    assert '"password": "***"' in signin[0]
    assert any("Set-Cookie: " in f["text"] and "=***" in f["text"] for f in frames)


async def test_e3dc(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    async with e3dc_helpers.e3dc_sim() as sim:
        entry = e3dc_helpers.add_entry(
            hass, sim, options=e3dc_helpers.entry_options(**{CONF_CAPTURE_FRAMES: True})
        )
        await setup_entry(hass, entry)
        frames = await _check(hass, hass_client, entry, [e3dc_helpers.PASSWORD, e3dc_helpers.KEY])
        await hass.config_entries.async_unload(entry.entry_id)
    assert frames[0]["direction"] == "tx"
    assert e3dc_helpers.USER in frames[0]["text"]  # the authentication frame ...
    assert "**REDACTED**" in frames[0]["text"]  # ... with its password masked


async def test_ekm(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, ekm_sim: EkmSimBus, ekm_url: str
) -> None:
    for meter in ekm_sim.meters.values():
        meter.password = EKM_PASSWORD
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"system": "ekm", "port": ekm_url, "password": EKM_PASSWORD},
        options=ekm_entry_options(capture_frames=True),
    )
    entry.add_to_hass(hass)
    await setup_entry(hass, entry)
    device = dr.async_get(hass).async_get_device({(DOMAIN, f"ekm_{EKM_V3}")})
    assert device is not None
    await hass.services.async_call(
        DOMAIN, "ekm_reset_max_demand", {"device_id": device.id}, blocking=True
    )
    frames = await _check(hass, hass_client, entry, [EKM_PASSWORD])
    password_frames = [f for f in frames if f["direction"] == "tx" and "P1" in f["text"]]
    assert password_frames
    assert all("********" in f["text"] for f in password_frames)


async def test_dlms_low_level_security(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    async with dlms_helpers.meter_sim(password=dlms_helpers.PASSWORD) as sim:
        entry = dlms_helpers.add_entry(
            hass, dlms_helpers.polled_data(sim), dlms_helpers.polled_options(capture_frames=True)
        )
        await setup_entry(hass, entry)
        frames = await _check(hass, hass_client, entry, [dlms_helpers.PASSWORD])
        assert await hass.config_entries.async_unload(entry.entry_id)
    masked = ("*" * len(dlms_helpers.PASSWORD)).encode().hex(" ")
    aarq = [f for f in frames if f["direction"] == "tx" and masked in f["hex"]]
    assert aarq  # the AARQ went out, its password masked


async def test_dlms_high_level_security(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    async with dlms_helpers.meter_sim(hls=True) as sim:
        entry = dlms_helpers.add_entry(
            hass, dlms_helpers.polled_data(sim), dlms_helpers.polled_options(capture_frames=True)
        )
        await setup_entry(hass, entry)
        await _check(hass, hass_client, entry, [dlms_helpers.EK.hex(), dlms_helpers.AK.hex()])
        assert await hass.config_entries.async_unload(entry.entry_id)


def test_capture_masks_a_secret_across_the_cut() -> None:
    capture = FrameCapture.for_secrets(enabled=True, secrets=["cut-secret", None, ""])
    capture.record("tx", b"x" * (MAX_FRAME_BYTES - 4) + b"cut-secret" + b"y" * 10)
    ((_, _, data),) = capture.frames
    assert data == b"x" * (MAX_FRAME_BYTES - 4) + b"***y"
