"""Constants of the E3/DC system."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

SYSTEM_KEY: Final = "e3dc"

# entry data (connection)
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key's name
CONF_RSCP_KEY: Final = "rscp_key"
CONF_SERIAL: Final = "serial"

# entry options (behaviour)
CONF_IMPORT_STATISTICS: Final = "import_statistics"

DEFAULT_PORT: Final = 5033  # fact sheet 0
DEFAULT_LIVE_INTERVAL: Final = timedelta(seconds=5)
MIN_LIVE_INTERVAL_S: Final = 2
MAX_LIVE_INTERVAL_S: Final = 300
DETAILS_INTERVAL: Final = timedelta(minutes=1)
STATIC_INTERVAL: Final = timedelta(hours=1)
# a person waits on the form: fail sooner than the polling client does
PROBE_TIMEOUT: Final = 10.0
CLIENT_TIMEOUT: Final = 10.0
KEEPALIVE_S: Final = 30.0
# a forced power mode lapses unless re-sent (hacs-e3dc re-sends every 10 s, fact sheet 3)
POWER_MODE_REFRESH: Final = timedelta(seconds=10)
MAX_POWER_MODE_DURATION: Final = timedelta(hours=24)

# history import into long-term statistics
IMPORT_BACKFILL: Final = timedelta(days=30)
IMPORT_WINDOW: Final = timedelta(days=7)  # hourly values per request: 168 (device limit unknown)
IMPORT_EVERY: Final = timedelta(minutes=15)

MANUFACTURER: Final = "E3/DC"
