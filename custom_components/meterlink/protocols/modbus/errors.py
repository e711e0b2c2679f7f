"""Modbus error tree, derived from the shared MeterLink errors."""

from __future__ import annotations

from custom_components.meterlink.protocols.errors import (
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)

# Modbus Application Protocol V1.1b3, section 7 "MODBUS Exception Responses".
EXCEPTION_NAMES: dict[int, str] = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}


class ModbusError(MeterLinkError):
    """Base of every Modbus error."""


class ModbusConnectionError(ModbusError, MeterLinkConnectionError):
    """The Modbus device or gateway could not be reached, or the link broke."""


class ModbusTimeoutError(ModbusConnectionError, MeterLinkTimeoutError):
    """The Modbus device did not answer in time."""


class ModbusWriteUnconfirmedError(ModbusConnectionError):
    """A write was sent, but neither its reply nor a read-back came.

    The device may or may not have executed it; it is never sent again by itself.
    """


class ModbusProtocolError(ModbusError, MeterLinkProtocolError):
    """A Modbus response could not be understood."""


class ModbusPointError(ModbusError, ValueError):
    """A point definition is invalid; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str) -> None:
        """Store which field of the point is wrong."""
        super().__init__(message)
        self.field = field


class ModbusValueError(ModbusError, ValueError):
    """A value cannot be encoded for (or decoded from) a point."""

    def __init__(self, message: str, *, point: str) -> None:
        """Store the key of the point the value belongs to."""
        super().__init__(message)
        self.point = point


class ModbusPlanError(ModbusError, ValueError):
    """Points cannot be planned into requests under the given limits."""


class ModbusPointListError(ModbusError, ValueError):
    """A row of an imported point list is invalid; ``line`` and ``field`` say where.

    ``line`` is the 1-based line of a CSV file or the 1-based item of a JSON list
    (``location`` is then ``"item"``); ``field`` is None when the whole row is wrong.
    """

    def __init__(
        self, message: str, *, line: int, field: str | None, location: str = "line"
    ) -> None:
        """Store where the problem is and build a message naming it."""
        where = f"{location} {line}" if field is None else f"{location} {line}, field {field!r}"
        super().__init__(f"{where}: {message}")
        self.line = line
        self.field = field
        self.reason = message


class ModbusExceptionResponseError(ModbusError, MeterLinkResponseError):
    """The device answered a request with a Modbus exception response."""

    def __init__(
        self,
        *,
        unit_id: int,
        function_code: int,
        exception_code: int,
        address: int,
        count: int,
        points: tuple[str, ...],
    ) -> None:
        """Build a message naming the exception, the request and the points it covered."""
        name = EXCEPTION_NAMES.get(exception_code, "UNKNOWN EXCEPTION")
        super().__init__(
            f"unit {unit_id} answered function {function_code} at address {address} "
            f"(count {count}) with exception {exception_code} ({name}) "
            f"for point(s) {', '.join(points) or '-'}",
            status=exception_code,
        )
        self.unit_id = unit_id
        self.function_code = function_code
        self.exception_code = exception_code
        self.address = address
        self.count = count
        self.points = points


class ModbusWriteVerifyError(ModbusError):
    """A write was accepted but reading the point back gave a different value."""

    def __init__(self, message: str, *, point: str, written: object, read_back: object) -> None:
        """Store what was written and what came back."""
        super().__init__(message)
        self.point = point
        self.written = written
        self.read_back = read_back
