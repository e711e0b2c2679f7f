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
