"""Errors raised by the DCS client; each names what went wrong and where."""

from __future__ import annotations

from ..errors import (
    MeterLinkAuthenticationError,
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)


class DcsError(MeterLinkError):
    """Base of every DCS error."""


class DcsConnectionError(DcsError, MeterLinkConnectionError):
    """The DCS server could not be reached (``host`` and ``port`` say which)."""

    def __init__(self, message: str, *, host: str = "", port: int | None = None) -> None:
        """Store the address that failed."""
        super().__init__(message)
        self.host = host
        self.port = port


class DcsTimeoutError(DcsConnectionError, MeterLinkTimeoutError):
    """The DCS server did not answer in time."""


class DcsTlsError(DcsConnectionError):
    """The server's TLS certificate could not be verified."""


class DcsAuthenticationError(DcsError, MeterLinkAuthenticationError):
    """The server rejected the username or password (or the session could not be renewed)."""


class DcsResponseError(DcsError, MeterLinkResponseError):
    """The server answered with an HTTP error; ``details`` is its own explanation."""

    def __init__(self, message: str, *, status: int | None = None, details: str = "") -> None:
        """Store the server's ``details`` text."""
        super().__init__(message, status=status)
        self.details = details


class DcsBadRequestError(DcsResponseError):
    """HTTP 400: the server refused the request (bad id, misaligned time, range limit)."""


class DcsForbiddenError(DcsResponseError):
    """HTTP 403: the account may not read this meter or register."""


class DcsNotFoundError(DcsResponseError):
    """HTTP 404: no DCS API (or not this endpoint) at the URL."""


class DcsRateLimitedError(DcsResponseError):
    """HTTP 429 for longer than the client is willing to wait."""

    def __init__(self, message: str, *, retry_after: float, details: str = "") -> None:
        """Store how long the server asked us to wait."""
        super().__init__(message, status=429, details=details)
        self.retry_after = retry_after


class DcsServerError(DcsResponseError):
    """HTTP 5xx: the server failed the request."""


class DcsMalformedResponseError(DcsError, MeterLinkProtocolError):
    """The response was not the JSON the API promises; ``snippet`` shows where it broke."""
