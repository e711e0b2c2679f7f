"""Typed models of what a DCS server returns (both API generations map onto these)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum
import re
from typing import Any, Literal, NamedTuple


class DcsApi(StrEnum):
    """Which generation of the DCS web API a server speaks."""

    AUTO = "auto"
    WEB_API = "web_api"  # DcsPublicApiDescription.md: /authentication/signin, /readings
    V3 = "v3"  # DCSApiDescription.md (deprecated): /api/account/login/, /api/registerReadings


class DcsPeriod(StrEnum):
    """Integration period of readings (DcsPublicApiDescription.md "periodType")."""

    HALF_HOUR = "halfHour"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def fixed_length(self) -> timedelta | None:
        """Return the period's length, or None for calendar months."""
        return _PERIOD_LENGTH.get(self)


_PERIOD_LENGTH = {
    DcsPeriod.HALF_HOUR: timedelta(minutes=30),
    DcsPeriod.HOUR: timedelta(hours=1),
    DcsPeriod.DAY: timedelta(days=1),
    DcsPeriod.WEEK: timedelta(days=7),
}


class DcsFormat(StrEnum):
    """Readings format of the web API: totals only, or totals and period values."""

    STANDARD = "standard"
    COMPLETE = "complete"


class DcsSource(StrEnum):
    """Which readings the v3 API returns (DCSApiDescription.md "source")."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"
    MERGED = "merged"


class DcsStatus(IntFlag):
    """Reading status bits (DcsPublicApiDescription.md "status"; GENERATED is the v3 flag)."""

    NONE = 0
    INTERPOLATED = 1  # no reading existed, DCS estimated it
    RESET = 2  # register reset / discontinuity in this period
    GENERATED = 4  # v3 "isGenerated": padding for missing data


class DcsReading(NamedTuple):
    """One reading; a NamedTuple because a year of half-hours is 17,520 of them per register.

    ``timestamp`` is the start of the period (UTC-aware). ``total`` is the register total at
    the end of the period, or the value of an instantaneous register/virtual meter. ``period``
    is the consumption within the period. Values a server sends as "NaN"/"Infinity" are None.
    """

    timestamp: datetime
    total: float | None
    period: float | None
    status: DcsStatus


_TARGET_RE = re.compile(r"^\s*(R|VM)\s*(\d{1,10})\s*$", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsTarget:
    """A register (``R733``) or virtual meter (``VM9``) whose readings are wanted."""

    kind: Literal["register", "virtual_meter"]
    id: int

    @classmethod
    def parse(cls, text: str) -> DcsTarget:
        """Parse ``R733`` / ``vm9``; anything else is a ValueError naming the text."""
        match = _TARGET_RE.match(text)
        if match is None:
            msg = f"{text!r} is not a DCS register (R<id>) or virtual meter (VM<id>) id"
            raise ValueError(msg)
        kind: Literal["register", "virtual_meter"] = (
            "register" if match.group(1).upper() == "R" else "virtual_meter"
        )
        return cls(kind=kind, id=int(match.group(2)))

    @classmethod
    def register(cls, register_id: int) -> DcsTarget:
        """Return the target for a register id."""
        return cls(kind="register", id=register_id)

    @classmethod
    def virtual_meter(cls, vm_id: int) -> DcsTarget:
        """Return the target for a virtual meter id."""
        return cls(kind="virtual_meter", id=vm_id)

    @property
    def wire(self) -> str:
        """Return the id as the web API wants it (``R733``, ``VM9``)."""
        return f"{'R' if self.kind == 'register' else 'VM'}{self.id}"

    def __str__(self) -> str:
        """Return the wire form."""
        return self.wire


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsUser:
    """The account a login opened (``appVersion`` only on the web API)."""

    username: str
    role: str
    app_version: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsRegister:
    """A meter register; its ``id`` (not the meter's) is what readings are asked by."""

    id: int
    name: str
    unit: str
    is_instantaneous: bool
    address: str = ""
    scale_factor: float | None = None  # scaleFactor, else defaultScaleFactor, else None

    @property
    def target(self) -> DcsTarget:
        """Return the readings target of this register."""
        return DcsTarget.register(self.id)


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsMeter:
    """A physical meter and its registers."""

    id: int
    name: str
    serial_number: str = ""
    status: str = "unknown"
    connection_method: str = ""
    remote_address: str = ""
    device_id: str = ""
    meter_type: str = ""
    mpn: str = ""
    registers: tuple[DcsRegister, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (for diagnostics)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsRegisterAlias:
    """A register a virtual meter's expression refers to."""

    alias: str
    register_id: int
    register_name: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsVirtualMeter:
    """A virtual meter: an expression over registers (``R1+R2``)."""

    id: int
    name: str
    unit: str
    is_instantaneous: bool
    expression: str = ""
    decimal_places: int | None = None
    aliases: tuple[DcsRegisterAlias, ...] = field(default=())

    @property
    def target(self) -> DcsTarget:
        """Return the readings target of this virtual meter."""
        return DcsTarget.virtual_meter(self.id)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (for diagnostics)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class DcsReadingsHeader:
    """The header of a web API readings response (everything but the rows)."""

    name: str = ""
    unit: str = ""
    period_type: str = ""
    start: datetime | None = None
    end: datetime | None = None
    duration: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
