"""IEC 104 points (items of a station) and their CSV / JSON point lists, with per-row errors."""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import TYPE_CHECKING

from custom_components.meterlink.protocols.modbus.pointlist import (
    CellReader,
    RawRow,
    RowProblem,
    read_rows_csv,
    read_rows_json,
)

from .errors import Iec104PointError, Iec104PointListError
from .models import MAX_COMMON_ADDRESS, MAX_IOA, TypeId

if TYPE_CHECKING:
    from collections.abc import Mapping

# Types carrying values an item can show or set; the system types (interrogation, read,
# clock sync, end of initialisation) are not items.
_SYSTEM_TYPES = {
    TypeId.C_IC_NA_1,
    TypeId.C_CI_NA_1,
    TypeId.C_RD_NA_1,
    TypeId.C_CS_NA_1,
    TypeId.M_EI_NA_1,
}
# Same information with and without CP56Time2a (IEC 60870-5-101, 7.3.1 / 7.3.2).
_UNTIMED = {
    TypeId.M_SP_TB_1: TypeId.M_SP_NA_1,
    TypeId.M_DP_TB_1: TypeId.M_DP_NA_1,
    TypeId.M_ME_TD_1: TypeId.M_ME_NA_1,
    TypeId.M_ME_TE_1: TypeId.M_ME_NB_1,
    TypeId.M_ME_TF_1: TypeId.M_ME_NC_1,
    TypeId.M_IT_TB_1: TypeId.M_IT_NA_1,
    TypeId.C_SC_TA_1: TypeId.C_SC_NA_1,
    TypeId.C_DC_TA_1: TypeId.C_DC_NA_1,
    TypeId.C_SE_TA_1: TypeId.C_SE_NA_1,
    TypeId.C_SE_TB_1: TypeId.C_SE_NB_1,
    TypeId.C_SE_TC_1: TypeId.C_SE_NC_1,
}
_ALIASES = {
    "single": TypeId.M_SP_NA_1,
    "double": TypeId.M_DP_NA_1,
    "normalized": TypeId.M_ME_NA_1,
    "scaled": TypeId.M_ME_NB_1,
    "float": TypeId.M_ME_NC_1,
    "counter": TypeId.M_IT_NA_1,
    "single_command": TypeId.C_SC_NA_1,
    "double_command": TypeId.C_DC_NA_1,
    "setpoint_normalized": TypeId.C_SE_NA_1,
    "setpoint_scaled": TypeId.C_SE_NB_1,
    "setpoint_float": TypeId.C_SE_NC_1,
}
TYPE_NAMES: dict[str, TypeId] = {
    **{t.name.lower(): t for t in TypeId if t not in _SYSTEM_TYPES},
    **{str(t.value): t for t in TypeId if t not in _SYSTEM_TYPES},
    **_ALIASES,
}


def base_type(type_id: TypeId) -> TypeId:
    """The type without time tag (M_ME_TF_1 -> M_ME_NC_1)."""
    return _UNTIMED.get(type_id, type_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class Iec104Point:
    """One item of a station: monitored information or a command / set-point.

    ``type_id`` is the type without time tag; data of the timed variant is accepted too.
    The shown value is ``value * scale + offset`` (measured values and counters).
    """

    key: str
    common_address: int
    ioa: int
    type_id: TypeId
    select_before_operate: bool = False
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        """Reject impossible definitions, naming the field."""
        if not 1 <= self.common_address < MAX_COMMON_ADDRESS:
            msg = f"common address {self.common_address} is outside 1..65534"
            raise Iec104PointError(msg, field="common_address")
        if not 0 <= self.ioa <= MAX_IOA:
            msg = f"IOA {self.ioa} is outside 0..16777215"
            raise Iec104PointError(msg, field="ioa")
        if self.type_id in _SYSTEM_TYPES:
            msg = f"{self.type_id.name} is a system type, not an item"
            raise Iec104PointError(msg, field="type")
        if self.select_before_operate and not self.is_command:
            msg = f"select-before-operate applies to commands, not {self.type_id.name}"
            raise Iec104PointError(msg, field="select_before_operate")
        if not math.isfinite(self.scale) or self.scale == 0:
            msg = f"scale must be finite and non-zero, not {self.scale}"
            raise Iec104PointError(msg, field="scale")
        if not math.isfinite(self.offset):
            msg = f"offset must be finite, not {self.offset}"
            raise Iec104PointError(msg, field="offset")

    @property
    def is_command(self) -> bool:
        """Whether the point is written (command or set-point)."""
        return self.type_id.is_command

    def accepts(self, type_id: TypeId, common_address: int, ioa: int) -> bool:
        """Whether an information object of this type and address is this point's data."""
        return (
            common_address == self.common_address
            and ioa == self.ioa
            and base_type(type_id) is self.type_id
        )


@dataclass(frozen=True, kw_only=True)
class Iec104PointListRow:
    """A parsed point and the row's other columns."""

    line: int
    point: Iec104Point
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Iec104PointListResult:
    """Good rows and one typed error per bad row, in file order."""

    rows: tuple[Iec104PointListRow, ...]
    errors: tuple[Iec104PointListError, ...]

    @property
    def points(self) -> tuple[Iec104Point, ...]:
        """The points of the good rows."""
        return tuple(row.point for row in self.rows)


KNOWN_FIELDS = ("key", "common_address", "ioa", "type", "select_before_operate", "scale", "offset")


def parse_iec104_point_list_csv(
    text: str, *, default_common_address: int | None = None
) -> Iec104PointListResult:
    """Parse a CSV point list whose first line names the columns."""
    rows, problems = read_rows_csv(text, ("key", "ioa", "type"))
    return _build(rows, problems, default_common_address, "line")


def parse_iec104_point_list_json(
    text: str, *, default_common_address: int | None = None
) -> Iec104PointListResult:
    """Parse a JSON point list: a list of objects, or an object with a ``points`` list."""
    rows, problems = read_rows_json(text)
    return _build(rows, problems, default_common_address, "item")


def _build(
    rows: list[RawRow], problems: list[RowProblem], default_ca: int | None, location: str
) -> Iec104PointListResult:
    """Turn rows into points, one error per bad row."""
    errors = [
        Iec104PointListError(p.message, line=p.line, field=p.field, location=location)
        for p in problems
    ]
    good: list[Iec104PointListRow] = []
    seen: dict[str, int] = {}
    used: dict[tuple[int, int, bool], str] = {}
    for row in rows:
        reader = CellReader(row.cells, row.line, location, Iec104PointListError)
        try:
            point = _point(reader, default_ca)
        except Iec104PointListError as err:
            errors.append(err)
            continue
        if point.key in seen:
            msg = f"key {point.key!r} was already used on {location} {seen[point.key]}"
            errors.append(Iec104PointListError(msg, line=row.line, field="key", location=location))
            continue
        slot = (point.common_address, point.ioa, point.is_command)
        if slot in used:
            msg = f"IOA {point.ioa} of station {point.common_address} is already {used[slot]!r}"
            errors.append(Iec104PointListError(msg, line=row.line, field="ioa", location=location))
            continue
        seen[point.key] = row.line
        used[slot] = point.key
        extra = {k: v for k, v in row.cells.items() if k not in KNOWN_FIELDS}
        good.append(Iec104PointListRow(line=row.line, point=point, extra=extra))
    errors.sort(key=lambda err: err.line)
    return Iec104PointListResult(rows=tuple(good), errors=tuple(errors))


def _point(row: CellReader, default_ca: int | None) -> Iec104Point:
    """Build one point; errors name the field."""
    try:
        return Iec104Point(
            key=row.required_text("key"),
            common_address=row.required_integer("common_address", default=default_ca),
            ioa=row.required_integer("ioa"),
            type_id=base_type(row.choice("type", TYPE_NAMES)),
            select_before_operate=row.boolean("select_before_operate", default=False),
            scale=row.number("scale", default=1.0),
            offset=row.number("offset", default=0.0),
        )
    except Iec104PointError as err:
        raise row.fail(err.field, str(err)) from err
