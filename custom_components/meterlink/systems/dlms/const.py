"""Constants of the DLMS/COSEM system."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

SYSTEM_KEY: Final = "dlms"

# entry data (connection)
CONF_MODE: Final = "mode"  # "polled" or "listen"
MODE_POLLED: Final = "polled"
MODE_LISTEN: Final = "listen"
CONF_VENDOR: Final = "vendor"
CONF_TRANSPORT: Final = "transport"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_CLIENT_ADDRESS: Final = "client_address"
CONF_SERVER_LOGICAL: Final = "server_logical"
CONF_SERVER_PHYSICAL: Final = "server_physical"
CONF_AUTHENTICATION: Final = "authentication"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key's name
CONF_BLOCK_CIPHER_KEY: Final = "block_cipher_key"
CONF_AUTHENTICATION_KEY: Final = "authentication_key"
CONF_SYSTEM_TITLE: Final = "system_title"  # our (the client's) system title, hex
CONF_SOURCE: Final = "source"  # listen mode: serial path or socket://host:port
CONF_FRAMING: Final = "framing"
CONF_PARITY: Final = "parity"  # listen mode on a serial port: N, E or O
CONF_METER_ID: Final = "meter_id"  # stable id of the meter for unique ids, set once
CONF_INVOCATION_COUNTER: Final = "invocation_counter"  # counter after the flow's association

# entry options (behaviour)
CONF_REGISTERS: Final = "registers"
CONF_CLASSES: Final = "classes"  # {obis: class_id} of the chosen registers
CONF_DISCONNECT: Final = "disconnect_control"  # the meter has 0.0.96.3.10.255
CONF_IMPORT_STATISTICS: Final = "import_statistics"  # load profile into statistics

DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=60)
DEFAULT_SYSTEM_TITLE: Final = "4d544c3030303031"  # "MTL00001"
DEFAULT_SERIAL_BAUDRATE: Final = 9600
# polled meters are asked at most this often to persist the invocation counter
COUNTER_SAVE_EVERY: Final = timedelta(minutes=10)

# IEC 62056-6-1 / Blue Book 7.3: objects MeterLink reads for the device registry.
OBIS_SERIAL: Final = "0.0.96.1.0.255"  # device id 1 (manufacturer serial number)
OBIS_LOGICAL_DEVICE_NAME: Final = "0.0.42.0.0.255"  # COSEM logical device name (class 1)
OBIS_FIRMWARE: Final = "1.0.0.2.0.255"  # active firmware identifier
OBIS_DISCONNECT: Final = "0.0.96.3.10.255"  # disconnect control (class 70)
OBIS_CLOCK: Final = "0.0.1.0.0.255"
# push lists: meter id objects (Aidon/Kaifa use 0.0.96.1.0.255, Kamstrup 1.1.0.0.5.255)
PUSH_METER_ID_OBIS: Final = ("0.0.96.1.0.255", "1.1.0.0.5.255", "0.0.96.1.1.255")
