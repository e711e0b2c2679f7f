"""Frozen data models the DLMS library hands to its callers."""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from enum import StrEnum

type ReadingValue = int | float | str | bytes | bool | dt.datetime | None


class DlmsSecurity(StrEnum):
    """Protection applied to an APDU (security control byte, Green Book 9.2.7.2.4.1)."""

    NONE = "none"
    AUTHENTICATION = "authentication"
    ENCRYPTION = "encryption"
    AUTHENTICATED_ENCRYPTION = "authenticated_encryption"


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsReading:
    """One value from a meter: OBIS code, value with the scaler applied once, unit symbol."""

    obis: str
    value: ReadingValue
    unit: str | None = None
    scaler: int = 0
    raw: int | float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsPushList:
    """Which list of OBIS codes a push meter sends, recognised from its frames."""

    list_id: str
    manufacturer: str | None
    obis_codes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsPushNotification:
    """One decoded DATA-NOTIFICATION with its readings."""

    invoke_id: int
    timestamp: dt.datetime | None
    system_title: bytes | None
    invocation_counter: int | None
    security: DlmsSecurity
    push_list: DlmsPushList
    readings: tuple[DlmsReading, ...]

    def reading(self, obis: str) -> DlmsReading | None:
        """Return the reading for ``obis`` or None."""
        for item in self.readings:
            if item.obis == obis:
                return item
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsAttributeAccess:
    """Access right of one attribute from the association object list."""

    attribute: int
    readable: bool
    writable: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsObjectInfo:
    """One entry of the association's object list."""

    obis: str
    class_id: int
    version: int
    attributes: tuple[DlmsAttributeAccess, ...] = ()
    methods: tuple[int, ...] = ()
    unit: str | None = None
    scaler: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsProfileColumn:
    """One value column of a load profile: OBIS code, unit and the scaler applied."""

    obis: str
    class_id: int
    unit: str | None = None
    scaler: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DlmsProfileRow:
    """One load-profile row: capture time and the column values, each scaled once."""

    timestamp: dt.datetime | None
    columns: tuple[DlmsProfileColumn, ...]
    values: tuple[ReadingValue, ...]

    def value(self, obis: str) -> ReadingValue:
        """Return the value of the column ``obis`` (None if absent)."""
        for column, value in zip(self.columns, self.values, strict=False):
            if column.obis == obis:
                return value
        return None
