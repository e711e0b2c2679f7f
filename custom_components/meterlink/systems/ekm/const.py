"""Constants of the EKM system."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

SYSTEM_KEY: Final = "ekm"

# entry data (connection)
CONF_PORT: Final = "port"  # serial device path or socket://host:port, as resolve_url gives it
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key's name; the meters' command password

# entry options (behaviour)
CONF_METERS: Final = "meters"  # [{"address": "000300001285", "version": 4}, ...]
CONF_ADDRESS: Final = "address"
CONF_VERSION: Final = "version"
CONF_ADDRESSES: Final = "addresses"  # form field: addresses separated by commas or spaces

DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=30)
MIN_SCAN_INTERVAL: Final = 5
MANUFACTURER: Final = "EKM Metering"

# Timing of the bus (EkmBus keyword arguments); empty = the library's defaults for 9600 7E1.
# Tests shorten the turnaround allowance here; nothing else changes it.
BUS_TIMING: dict[str, Any] = {}
