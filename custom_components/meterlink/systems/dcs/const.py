"""Constants of the DCS system."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

SYSTEM_KEY: Final = "dcs"

# entry data (connection)
CONF_URL: Final = "url"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key's name
CONF_VERIFY_SSL: Final = "verify_ssl"
CONF_API: Final = "api"
CONF_SERVER_ID: Final = "server_id"  # stable id of the server for unique ids, set once

# entry options (behaviour)
CONF_METERS: Final = "meters"
CONF_REGISTERS: Final = "registers"
CONF_VIRTUAL_METERS: Final = "virtual_meters"
CONF_IMPORT_STATISTICS: Final = "import_statistics"
CONF_BACKFILL_DAYS: Final = "backfill_days"

DEFAULT_SCAN_INTERVAL: Final = timedelta(minutes=5)
DEFAULT_BACKFILL_DAYS: Final = 365
# readings asked for on every poll: the last few half-hours, as servers publish late
POLL_SPAN: Final = timedelta(hours=26)  # modem/IDC meters upload a few times a day
# history is imported in windows of this size so that polls interleave
IMPORT_WINDOW: Final = timedelta(days=30)
# servers may limit the range of one query; the window halves down to this on a 400
MIN_IMPORT_WINDOW: Final = timedelta(days=1)
# an hour is imported once both its half-hours are there, or once it is this old
IMPORT_SETTLE: Final = timedelta(hours=48)
# the importer runs at most this often (and after every options change / restart)
IMPORT_EVERY: Final = timedelta(minutes=15)
MANUFACTURER: Final = "Coherent Research"
