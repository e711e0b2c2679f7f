"""Coherent Research DCS remote-metering servers over their JSON web API.

Both API generations are spoken: the current "DcsWebApi" (``/authentication/signin``,
``/readings``) and the older v3 ``/api`` one (``/api/account/login/``,
``/api/registerReadings/list/``). :class:`DcsClient` picks one automatically.
"""

from .client import DcsClient
from .errors import (
    DcsAuthenticationError,
    DcsBadRequestError,
    DcsConnectionError,
    DcsError,
    DcsForbiddenError,
    DcsMalformedResponseError,
    DcsNotFoundError,
    DcsRateLimitedError,
    DcsServerError,
    DcsTimeoutError,
    DcsTlsError,
)
from .models import (
    DcsApi,
    DcsFormat,
    DcsMeter,
    DcsPeriod,
    DcsReading,
    DcsReadingsHeader,
    DcsRegister,
    DcsSource,
    DcsStatus,
    DcsTarget,
    DcsUser,
    DcsVirtualMeter,
)

__all__ = [
    "DcsApi",
    "DcsAuthenticationError",
    "DcsBadRequestError",
    "DcsClient",
    "DcsConnectionError",
    "DcsError",
    "DcsForbiddenError",
    "DcsFormat",
    "DcsMalformedResponseError",
    "DcsMeter",
    "DcsNotFoundError",
    "DcsPeriod",
    "DcsRateLimitedError",
    "DcsReading",
    "DcsReadingsHeader",
    "DcsRegister",
    "DcsServerError",
    "DcsSource",
    "DcsStatus",
    "DcsTarget",
    "DcsTimeoutError",
    "DcsTlsError",
    "DcsUser",
    "DcsVirtualMeter",
]
