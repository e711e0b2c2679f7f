"""IEC 60870-5-104 data model: frames, ASDUs, information objects, quality and time tags."""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
from enum import IntEnum, IntFlag

MAX_SEQ = 0x8000  # IEC 60870-5-104, 5.1: N(S)/N(R) are 15-bit counters (modulo 32768)
MAX_IOA = 0xFFFFFF  # IEC 60870-5-104, 9: information object address is 3 octets
MAX_COMMON_ADDRESS = 0xFFFF  # IEC 60870-5-104, 9: common address is 2 octets (0xFFFF = global)


class TypeId(IntEnum):
    """Type identifications handled (IEC 60870-5-101, 7.2.1.1, table 8/9 and 104 table)."""

    M_SP_NA_1 = 1  # single-point information
    M_DP_NA_1 = 3  # double-point information
    M_ME_NA_1 = 9  # measured value, normalized
    M_ME_NB_1 = 11  # measured value, scaled
    M_ME_NC_1 = 13  # measured value, short floating point
    M_IT_NA_1 = 15  # integrated totals
    M_SP_TB_1 = 30  # single-point with CP56Time2a
    M_DP_TB_1 = 31  # double-point with CP56Time2a
    M_ME_TD_1 = 34  # normalized with CP56Time2a
    M_ME_TE_1 = 35  # scaled with CP56Time2a
    M_ME_TF_1 = 36  # short float with CP56Time2a
    M_IT_TB_1 = 37  # integrated totals with CP56Time2a
    C_SC_NA_1 = 45  # single command
    C_DC_NA_1 = 46  # double command
    C_SE_NA_1 = 48  # set-point, normalized
    C_SE_NB_1 = 49  # set-point, scaled
    C_SE_NC_1 = 50  # set-point, short floating point
    C_SC_TA_1 = 58  # single command with CP56Time2a
    C_DC_TA_1 = 59  # double command with CP56Time2a
    C_SE_TA_1 = 61  # set-point normalized with CP56Time2a
    C_SE_TB_1 = 62  # set-point scaled with CP56Time2a
    C_SE_TC_1 = 63  # set-point short float with CP56Time2a
    M_EI_NA_1 = 70  # end of initialization
    C_IC_NA_1 = 100  # (general) interrogation command
    C_CI_NA_1 = 101  # counter interrogation command
    C_RD_NA_1 = 102  # read command
    C_CS_NA_1 = 103  # clock synchronization command

    @property
    def is_command(self) -> bool:
        """Whether the type is a command in control direction (45..107)."""
        return self.value >= TypeId.C_SC_NA_1 and self is not TypeId.M_EI_NA_1


class Cot(IntEnum):
    """Cause of transmission (IEC 60870-5-101, 7.2.3)."""

    PERIODIC = 1
    BACKGROUND = 2
    SPONTANEOUS = 3
    INITIALIZED = 4
    REQUEST = 5
    ACTIVATION = 6
    ACTIVATION_CON = 7
    DEACTIVATION = 8
    DEACTIVATION_CON = 9
    ACTIVATION_TERMINATION = 10
    RETURN_REMOTE = 11
    RETURN_LOCAL = 12
    INTERROGATED_BY_STATION = 20
    REQUESTED_BY_GENERAL_COUNTER = 37
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_COMMON_ADDRESS = 46
    UNKNOWN_IOA = 47


class Quality(IntFlag):
    """Quality descriptor bits (IEC 60870-5-101, 7.2.6.3 QDS; SIQ/DIQ use bits 4-7)."""

    GOOD = 0
    OVERFLOW = 0x01  # OV, measured values only
    BLOCKED = 0x10  # BL
    SUBSTITUTED = 0x20  # SB
    NOT_TOPICAL = 0x40  # NT
    INVALID = 0x80  # IV


class DoublePoint(IntEnum):
    """Double-point information / double command state (101, 7.2.6.2 DIQ, 7.2.6.16 DCO)."""

    INDETERMINATE = 0
    OFF = 1
    ON = 2
    INDETERMINATE_3 = 3


class UFunction(IntEnum):
    """U-format control functions (IEC 60870-5-104, 5.3, figure 8): control octet 1."""

    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


@dataclass(frozen=True, kw_only=True, slots=True)
class CP56Time2a:
    """Seven-octet binary time (IEC 60870-5-101, 7.2.6.18); ``millisecond`` includes seconds."""

    year: int  # 0..99 on the wire, stored as 2000 + year
    month: int
    day: int
    hour: int
    minute: int
    millisecond: int  # 0..59999
    day_of_week: int = 0  # 1 = Monday .. 7 = Sunday, 0 = unused
    summer_time: bool = False
    invalid: bool = False
    substituted: bool = False

    @classmethod
    def from_datetime(cls, value: dt.datetime, *, invalid: bool = False) -> CP56Time2a:
        """Build a time tag from a datetime (its wall-clock fields are used as they are)."""
        return cls(
            year=value.year,
            month=value.month,
            day=value.day,
            hour=value.hour,
            minute=value.minute,
            millisecond=value.second * 1000 + value.microsecond // 1000,
            day_of_week=value.isoweekday(),
            summer_time=bool(value.dst()) if value.tzinfo else False,
            invalid=invalid,
        )

    def to_datetime(self, tz: dt.tzinfo | None = dt.UTC) -> dt.datetime | None:
        """The tag as a datetime in ``tz``, or None when its fields are out of range."""
        try:
            return dt.datetime(
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                self.millisecond // 1000,
                (self.millisecond % 1000) * 1000,
                tzinfo=tz,
            )
        except ValueError:
            return None


type ObjectValue = bool | int | float


@dataclass(frozen=True, kw_only=True, slots=True)
class InformationObject:
    """One information object: address, value and the type's extra fields.

    ``value`` is bool (single point, single command), int (double point / double command
    as :class:`DoublePoint`, scaled value, counter, QOI, COI) or float (normalized in
    -1..1, short float). ``qualifier`` is QU of commands, QL of set-points.
    """

    ioa: int
    value: ObjectValue = 0
    quality: Quality = Quality.GOOD
    time: CP56Time2a | None = None
    select: bool = False  # S/E: True = select, False = execute
    qualifier: int = 0
    sequence: int = 0  # integrated totals: sequence number 0..31
    carry: bool = False  # integrated totals: CY
    adjusted: bool = False  # integrated totals: CA


@dataclass(frozen=True, kw_only=True, slots=True)
class Asdu:
    """Application service data unit (IEC 60870-5-101, 7.1 with 104's field sizes)."""

    type_id: TypeId
    cot: int
    common_address: int
    objects: tuple[InformationObject, ...] = field(default_factory=tuple)
    negative: bool = False  # P/N
    test: bool = False  # T
    originator: int = 0
    sequence: bool = False  # SQ: objects at consecutive addresses from the first IOA


@dataclass(frozen=True, kw_only=True, slots=True)
class IFrame:
    """Information transfer frame carrying an encoded ASDU."""

    send_seq: int
    recv_seq: int
    asdu: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class SFrame:
    """Supervisory frame acknowledging I-frames up to ``recv_seq``."""

    recv_seq: int


@dataclass(frozen=True, kw_only=True, slots=True)
class UFrame:
    """Unnumbered control frame."""

    function: UFunction


type Apdu = IFrame | SFrame | UFrame
