"""Errors raised by the E3/DC RSCP codec and client."""

from __future__ import annotations

from typing import Final

from custom_components.meterlink.protocols.errors import (
    MeterLinkAuthenticationError,
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)

SECRET_RSCP_KEY: Final = "rscp_key"  # noqa: S105  # names the secret, is not one
SECRET_PASSWORD: Final = "password"  # noqa: S105  # names the secret, is not one


class RscpError(MeterLinkError):
    """Base of every E3/DC RSCP error."""


class RscpConnectionError(RscpError, MeterLinkConnectionError):
    """The E3/DC could not be reached or the TCP connection broke."""


class RscpTimeoutError(RscpConnectionError, MeterLinkTimeoutError):
    """The E3/DC did not answer in time."""


class RscpAuthenticationError(RscpError, MeterLinkAuthenticationError):
    """The E3/DC rejected a secret: ``secret`` is ``"rscp_key"`` or ``"password"``."""


class RscpPortalUnreachableError(RscpError, MeterLinkResponseError):
    """The E3/DC refused a local login because it cannot reach E3/DC's servers to check it."""


class RscpProtocolError(RscpError, MeterLinkProtocolError):
    """Bytes that are not a valid RSCP frame or data item."""


class RscpCrcError(RscpProtocolError):
    """A frame whose CRC-32 does not match its contents."""


class RscpResponseError(RscpError, MeterLinkResponseError):
    """The E3/DC answered a request with an RSCP error item (``status`` = RSCP error code)."""
