"""Typed errors of the DLMS/COSEM protocol library."""

from __future__ import annotations

from custom_components.meterlink.protocols.errors import (
    MeterLinkAuthenticationError,
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)


class DlmsError(MeterLinkError):
    """Base of every DLMS error."""


class DlmsConnectionError(DlmsError, MeterLinkConnectionError):
    """The meter could not be reached or the link broke."""


class DlmsTimeoutError(DlmsConnectionError, MeterLinkTimeoutError):
    """The meter did not answer in time."""


class DlmsIntegrityError(DlmsConnectionError):
    """A reply failed its GCM tag although the association with the same keys succeeded."""


class DlmsReplyLostError(DlmsConnectionError):
    """The link broke after a write or method request went out: it may have been carried out."""


class DlmsProtocolError(DlmsError, MeterLinkProtocolError):
    """Bytes from the meter could not be understood."""


class DlmsFramingError(DlmsProtocolError):
    """A transport frame (wrapper, HDLC, M-Bus, IEC 62056-21) is malformed."""


class DlmsChecksumError(DlmsFramingError):
    """A frame checksum (HCS, FCS or M-Bus CS) does not match."""


class DlmsDataError(DlmsProtocolError):
    """An APDU or A-XDR data item is malformed."""


class DlmsUnsupportedError(DlmsProtocolError):
    """The input is well-formed but uses a feature this library does not implement."""


class DlmsAuthenticationError(DlmsError, MeterLinkAuthenticationError):
    """A password or key was rejected; ``secret`` names which one."""


class DlmsDecipherError(DlmsAuthenticationError):
    """A ciphered APDU could not be deciphered; ``secret`` names the key that is wrong."""


class DlmsResponseError(DlmsError, MeterLinkResponseError):
    """The meter understood the request and refused or failed it."""


class DlmsAssociationRefusedError(DlmsResponseError):
    """The meter refused the application association (AARE result not accepted)."""


class DlmsAccessDeniedError(DlmsResponseError):
    """The meter denied access to an attribute or method."""


class DlmsObjectUndefinedError(DlmsResponseError):
    """The meter does not have the requested object."""
