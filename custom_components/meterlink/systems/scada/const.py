"""Constants of the SCADA system (Modbus TCP / RTU and IEC 60870-5-104 devices)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Final

SYSTEM_KEY: Final = "scada"
SUBENTRY_TERM: Final = "scada_term"
MANUFACTURER: Final = "MeterLink SCADA"


class Protocol(StrEnum):
    """How the channel reaches its device(s)."""

    MODBUS_TCP = "modbus_tcp"
    MODBUS_RTU_OVER_TCP = "modbus_rtu_over_tcp"
    MODBUS_RTU_SERIAL = "modbus_rtu_serial"
    IEC104 = "iec104"

    @property
    def is_modbus(self) -> bool:
        """Whether the channel speaks Modbus."""
        return self is not Protocol.IEC104

    @property
    def is_serial(self) -> bool:
        """Whether the channel is a serial port (or a socket:// bridge to one)."""
        return self is Protocol.MODBUS_RTU_SERIAL


# entry data
CONF_PROTOCOL: Final = "protocol"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"

# options
CONF_MAX_REGISTERS: Final = "max_registers"
CONF_MAX_GAP: Final = "max_gap"

# subentry data
CONF_TERM: Final = "term"
CONF_ITEMS: Final = "items"
CONF_TEMPLATE: Final = "template"
CONF_NAME: Final = "name"

DEFAULT_PORTS: Final = {
    Protocol.MODBUS_TCP: 502,  # Modbus Messaging on TCP/IP V1.0b, 4.1: port 502
    Protocol.MODBUS_RTU_OVER_TCP: 502,
    Protocol.IEC104: 2404,  # IEC 60870-5-104, 10: port 2404
}
DEFAULT_MODBUS_INTERVAL: Final = timedelta(seconds=30)
# IEC 104 sends changes by itself; the interval is a cyclic general interrogation.
DEFAULT_IEC104_INTERVAL: Final = timedelta(minutes=15)
MIN_SCAN_INTERVAL: Final = 1
DEFAULT_MAX_REGISTERS: Final = 125  # MAP V1.1b3, 6.3: FC03 quantity 1..125
DEFAULT_MAX_GAP: Final = 10
MAX_GAP: Final = 100
PARITIES: Final = ("N", "E", "O")
BAUDRATES: Final = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

# a data check failing this many readings in a row becomes a repair issue
ISSUE_AFTER_REJECTIONS: Final = 3
