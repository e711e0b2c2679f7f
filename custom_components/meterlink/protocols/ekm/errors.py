"""Errors raised by the EKM Omnimeter protocol library."""

from __future__ import annotations

from custom_components.meterlink.protocols.errors import (
    MeterLinkAuthenticationError,
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)


class EkmError(MeterLinkError):
    """Base of every EKM error."""


class EkmValueError(EkmError, ValueError):
    """An argument (address, version, setting value) is not one the meter accepts."""


class EkmConnectionError(EkmError, MeterLinkConnectionError):
    """The serial port or TCP bridge could not be opened, or it broke."""


class EkmTimeoutError(EkmConnectionError, MeterLinkTimeoutError):
    """The addressed meter did not answer (completely) in the time the wire needs."""


class EkmAuthenticationError(EkmError, MeterLinkAuthenticationError):
    """The meter did not acknowledge the password frame."""


class EkmProtocolError(EkmError, MeterLinkProtocolError):
    """A frame could not be understood; ``snippet`` holds the offending bytes."""


class EkmCrcError(EkmProtocolError):
    """A 255-byte block arrived with a CRC that does not match its contents."""


class EkmAddressMismatchError(EkmProtocolError):
    """A good block came back from a different meter than the one addressed."""


class EkmResponseError(EkmError, MeterLinkResponseError):
    """The meter refused a command, or its read-back did not show the change."""


class EkmUnconfirmedError(EkmResponseError):
    """A command's ACK was lost and no read-back could tell whether the meter carried it out."""
