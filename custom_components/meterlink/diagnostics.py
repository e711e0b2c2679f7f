"""Diagnostics download: entry settings, device state and captured frames, secrets redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from homeassistant.components.diagnostics import async_redact_data

from .const import CONF_SYSTEM, TO_REDACT
from .systems import SYSTEMS

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import MeterLinkConfigEntry


def _strip_userinfo(data: dict[str, Any]) -> dict[str, Any]:
    """Remove user:password@ from any URL-like value."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        shown = value
        if isinstance(value, str) and "://" in value and "@" in value:
            parts = urlsplit(value)
            netloc = parts.netloc.rsplit("@", 1)[1]
            shown = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        out[key] = shown
    return out


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MeterLinkConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    system = SYSTEMS[entry.data[CONF_SYSTEM]]
    redact = TO_REDACT | system.redact
    runtime = entry.runtime_data
    return {
        "entry": {
            "title": entry.title,
            "system": system.key,
            "data": async_redact_data(_strip_userinfo(dict(entry.data)), redact),
            "options": async_redact_data(dict(entry.options), redact),
        },
        "device": async_redact_data(runtime.diagnostics(), redact),
        "frames": runtime.capture.as_diagnostics(),
    }
