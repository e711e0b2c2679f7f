"""The error tree every MeterLink protocol shares.

Each system derives its own classes from these (``DcsAuthenticationError(DcsError,
MeterLinkAuthenticationError)``), so the Home Assistant side can catch errors by meaning
without knowing which protocol raised them.
"""

from __future__ import annotations


class MeterLinkError(Exception):
    """Base of every error a MeterLink protocol raises."""


class MeterLinkConnectionError(MeterLinkError):
    """The device or server could not be reached, or the connection broke."""


class MeterLinkTimeoutError(MeterLinkConnectionError):
    """The device or server did not answer in time."""


class MeterLinkAuthenticationError(MeterLinkError):
    """A credential was rejected; ``secret`` names which one (password, key, ...)."""

    def __init__(self, message: str, *, secret: str) -> None:
        """Store which secret was wrong."""
        super().__init__(message)
        self.secret = secret


class MeterLinkProtocolError(MeterLinkError):
    """A frame or response could not be understood; ``snippet`` holds the offending bytes."""

    def __init__(self, message: str, *, snippet: bytes | str = b"") -> None:
        """Store a short excerpt of the offending input."""
        super().__init__(message)
        self.snippet = snippet


class MeterLinkResponseError(MeterLinkError):
    """The device or server understood the request and refused or failed it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Store the status code the device or server gave."""
        super().__init__(message)
        self.status = status


# Names of secrets, for MeterLinkAuthenticationError(secret=...): the UI says which one is wrong.
SECRET_PASSWORD = "password"  # noqa: S105 - a name, not a password
SECRET_KEY = "key"  # noqa: S105 - a name, not a key
