"""IEC 60870-5-104 error tree, derived from the shared MeterLink errors."""

from __future__ import annotations

from custom_components.meterlink.protocols.errors import (
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)


class Iec104Error(MeterLinkError):
    """Base of every IEC 104 error."""


class Iec104ConnectionError(Iec104Error, MeterLinkConnectionError):
    """The outstation could not be reached, or the connection broke."""


class Iec104TimeoutError(Iec104ConnectionError, MeterLinkTimeoutError):
    """A timer ran out (t1: no acknowledgement / confirmation; or a command got no answer)."""


class Iec104CommandUnconfirmedError(Iec104ConnectionError):
    """A command was sent, but the link failed before its activation confirmation arrived.

    The outstation may or may not have executed it; it is never sent again by itself.
    """


class Iec104ProtocolError(Iec104Error, MeterLinkProtocolError):
    """A frame or ASDU is malformed, or the peer broke the protocol (sequence numbers, ...)."""


class Iec104UnknownTypeError(Iec104ProtocolError):
    """An ASDU carries a type identification this codec does not know."""

    def __init__(self, message: str, *, type_id: int, snippet: bytes = b"") -> None:
        """Store the unknown type identification."""
        super().__init__(message, snippet=snippet)
        self.type_id = type_id


class Iec104CommandError(Iec104Error, MeterLinkResponseError):
    """The outstation refused a command (negative confirmation) or answered with an error cause."""

    def __init__(self, message: str, *, cause: int) -> None:
        """Store the cause of transmission the outstation answered with."""
        super().__init__(message, status=cause)
        self.cause = cause


class Iec104PointListError(Iec104Error, ValueError):
    """A row of an imported IEC 104 point list is invalid; ``line`` and ``field`` say where."""

    def __init__(
        self, message: str, *, line: int, field: str | None, location: str = "line"
    ) -> None:
        """Store where the problem is and build a message naming it."""
        where = f"{location} {line}" if field is None else f"{location} {line}, field {field!r}"
        super().__init__(f"{where}: {message}")
        self.line = line
        self.field = field
        self.reason = message


class Iec104PointError(Iec104Error, ValueError):
    """A point definition is invalid; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str) -> None:
        """Store which field of the point is wrong."""
        super().__init__(message)
        self.field = field
