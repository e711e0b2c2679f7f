"""Constants of the MeterLink integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "meterlink"
LOGGER = logging.getLogger(__package__)

# config entry data
CONF_SYSTEM: Final = "system"

# options shared by every system
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_CAPTURE_FRAMES: Final = "capture_frames"

# keys removed from diagnostics wherever they appear
TO_REDACT: Final = frozenset(
    {
        "password",
        "username",
        "key",
        "rscp_key",
        "token",
        "access_token",
        "cookie",
        "authentication_key",
        "block_cipher_key",
        "meter_password",
    }
)
