"""Items (points) of a SCADA term: stored form, validation, import and the runtime model.

An item is stored in its term's subentry as a JSON object with the same columns as a row
of an imported point list (``key``, ``table``, ``address``, ... for Modbus; ``key``, ``ioa``,
``type``, ... for IEC 104), plus what Home Assistant needs (``name``, ``unit``,
``device_class``, ``state_class``, ``writable``) and the data check (``min``, ``max``,
``max_rate``, ``stale_timeout``). Formula items have ``formula`` (a template) instead of an
address. The protocols' point-list parsers validate the protocol columns, so a form, a
template and a pasted list are checked by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.number import NumberDeviceClass
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import Platform

from ...protocols.iec104.models import TypeId
from ...protocols.iec104.pointlist import (
    Iec104Point,
    parse_iec104_point_list_csv,
    parse_iec104_point_list_json,
)
from ...protocols.modbus.models import DataType, ModbusPoint
from ...protocols.modbus.pointlist import parse_point_list_csv, parse_point_list_json

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from .const import Protocol

KEY_PATTERN: Final = re.compile(r"^[a-z0-9_]{1,64}$")
HA_FIELDS: Final = (
    "name",
    "unit",
    "device_class",
    "state_class",
    "writable",
    "min",
    "max",
    "max_rate",
    "stale_timeout",
    "formula",
    "precision",
)
MODBUS_FIELDS: Final = (
    "key",
    "table",
    "address",
    "data_type",
    "count",
    "bit",
    "byte_order",
    "word_order",
    "scale",
    "offset",
)
IEC104_FIELDS: Final = ("key", "ioa", "type", "select_before_operate", "scale", "offset")
_IEC_SWITCH: Final = {TypeId.C_SC_NA_1, TypeId.C_DC_NA_1}
_IEC_NUMBER: Final = {TypeId.C_SE_NA_1, TypeId.C_SE_NB_1, TypeId.C_SE_NC_1}
_IEC_BINARY: Final = {TypeId.M_SP_NA_1, TypeId.M_DP_NA_1}
SENSOR_DEVICE_CLASSES: Final = tuple(sorted(c.value for c in SensorDeviceClass))
BINARY_DEVICE_CLASSES: Final = tuple(sorted(c.value for c in BinarySensorDeviceClass))
NUMBER_DEVICE_CLASSES: Final = tuple(sorted(c.value for c in NumberDeviceClass))
STATE_CLASSES: Final = tuple(c.value for c in SensorStateClass)
MAX_ITEMS: Final = 1000  # per term: beyond this the UI and one poll get unwieldy


class ItemError(ValueError):
    """An item definition is wrong; ``field`` names what, ``line`` where in an import."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        """Store where the problem is."""
        super().__init__(message)
        self.field = field
        self.line = line


@dataclass(frozen=True, kw_only=True, slots=True)
class DataCheck:
    """The data check plugin of an item: valid range, rate of change, stale timeout."""

    minimum: float | None = None
    maximum: float | None = None
    max_rate: float | None = None  # largest change per second
    stale_s: float | None = None  # longest time a value may stay unchanged / not arrive

    def __bool__(self) -> bool:
        """Whether any check is configured."""
        return any(v is not None for v in (self.minimum, self.maximum, self.max_rate, self.stale_s))

    def reject_reason(
        self, value: float, *, last: float | None, elapsed_s: float | None
    ) -> str | None:
        """Return why a numeric value is invalid (``out_of_range``, ``rate``), or None."""
        if not math.isfinite(value):
            return "not_finite"
        if self.minimum is not None and value < self.minimum:
            return "out_of_range"
        if self.maximum is not None and value > self.maximum:
            return "out_of_range"
        if (
            self.max_rate is not None
            and last is not None
            and elapsed_s is not None
            and abs(value - last) > self.max_rate * max(elapsed_s, 1e-3)
        ):
            return "rate"
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class ScadaItem:
    """One item of a term as the runtime uses it."""

    term: int
    key: str
    name: str
    platform: Platform
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    precision: int | None = None
    writable: bool = False
    check: DataCheck = DataCheck()
    modbus: ModbusPoint | None = None
    iec104: Iec104Point | None = None
    formula: str | None = None

    @property
    def uid(self) -> str:
        """Key of the item within its device (channel): term and key."""
        return f"{self.term}_{self.key}"

    @property
    def is_command(self) -> bool:
        """Whether the item is switched / set rather than read."""
        return self.platform in (Platform.SWITCH, Platform.NUMBER)


# --- parsing stored items -------------------------------------------------------------------


def _float(cells: Mapping[str, Any], name: str) -> float | None:
    """A float column or None; raise ItemError naming the column."""
    raw = cells.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        msg = f"{raw!r} is not a number"
        raise ItemError(msg, field=name) from None
    if not math.isfinite(value):
        msg = f"{raw!r} is not a finite number"
        raise ItemError(msg, field=name)
    return value


def _bool(cells: Mapping[str, Any], name: str) -> bool:
    """A yes/no column (default no)."""
    raw = cells.get(name)
    if isinstance(raw, bool):
        return raw
    text = str(raw or "").strip().lower()
    if text in {"", "false", "no", "0", "off", "n"}:
        return False
    if text in {"true", "yes", "1", "on", "y"}:
        return True
    msg = f"{raw!r} is not true/false"
    raise ItemError(msg, field=name)


def _text(cells: Mapping[str, Any], name: str) -> str | None:
    """A text column or None when empty."""
    raw = cells.get(name)
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _platform(
    protocol: Protocol, cells: Mapping[str, Any], point: object, writable: bool
) -> Platform:
    """Which entity platform an item becomes."""
    if isinstance(point, ModbusPoint):
        if writable and not point.table.writable:
            msg = f"table {point.table} cannot be written"
            raise ItemError(msg, field="writable")
        if writable and point.data_type is DataType.STRING:
            msg = "string items cannot be written"
            raise ItemError(msg, field="writable")
        if point.table.is_bit_table or point.data_type is DataType.BIT:
            return Platform.SWITCH if writable else Platform.BINARY_SENSOR
        return Platform.NUMBER if writable else Platform.SENSOR
    assert isinstance(point, Iec104Point)  # noqa: S101 - one of the two protocols
    if point.type_id in _IEC_SWITCH:
        return Platform.SWITCH
    if point.type_id in _IEC_NUMBER:
        return Platform.NUMBER
    if point.type_id in _IEC_BINARY:
        return Platform.BINARY_SENSOR
    return Platform.SENSOR


def _device_class(cells: Mapping[str, Any], platform: Platform) -> str | None:
    """The device class column, checked against the platform's classes."""
    device_class = _text(cells, "device_class")
    if device_class is None:
        return None
    device_class = device_class.lower()
    allowed = {
        Platform.BINARY_SENSOR: BINARY_DEVICE_CLASSES,
        Platform.NUMBER: NUMBER_DEVICE_CLASSES,
        Platform.SENSOR: SENSOR_DEVICE_CLASSES,
        Platform.SWITCH: ("outlet", "switch"),
    }[platform]
    if device_class not in allowed:
        msg = f"{device_class!r} is not a {platform.value} device class"
        raise ItemError(msg, field="device_class")
    return device_class


def _state_class(cells: Mapping[str, Any], platform: Platform, *, numeric: bool) -> str | None:
    """The state class column (numeric sensors only)."""
    state_class = _text(cells, "state_class")
    if state_class is None:
        return None
    state_class = state_class.lower()
    if platform is not Platform.SENSOR or not numeric:
        msg = "only numeric sensors have a state class"
        raise ItemError(msg, field="state_class")
    if state_class not in STATE_CLASSES:
        msg = f"{state_class!r} is not one of {', '.join(STATE_CLASSES)}"
        raise ItemError(msg, field="state_class")
    return state_class


def _ha_fields(cells: Mapping[str, Any], platform: Platform, *, numeric: bool) -> dict[str, Any]:
    """Validate the Home Assistant columns; return them for ScadaItem."""
    device_class = _device_class(cells, platform)
    state_class = _state_class(cells, platform, numeric=numeric)
    precision = _float(cells, "precision")
    if precision is not None and (precision != int(precision) or not 0 <= precision <= 15):  # noqa: PLR2004
        msg = f"precision {precision:g} is not a whole number 0..15"
        raise ItemError(msg, field="precision")
    check = DataCheck(
        minimum=_float(cells, "min"),
        maximum=_float(cells, "max"),
        max_rate=_float(cells, "max_rate"),
        stale_s=_float(cells, "stale_timeout"),
    )
    if check.minimum is not None and check.maximum is not None and check.minimum > check.maximum:
        msg = f"min {check.minimum:g} is above max {check.maximum:g}"
        raise ItemError(msg, field="min")
    for name, value in (("max_rate", check.max_rate), ("stale_timeout", check.stale_s)):
        if value is not None and value <= 0:
            msg = f"{value:g} must be above 0"
            raise ItemError(msg, field=name)
    if not numeric and (check.minimum, check.maximum, check.max_rate) != (None, None, None):
        msg = "range and rate checks need a numeric item"
        raise ItemError(msg, field="min")
    return {
        "unit": _text(cells, "unit"),
        "device_class": device_class,
        "state_class": state_class,
        "precision": None if precision is None else int(precision),
        "check": check,
    }


def _check_key(key: str) -> None:
    """Keys become parts of unique ids: lower-case letters, digits and underscores."""
    if not KEY_PATTERN.fullmatch(key):
        msg = f"key {key!r} may only use a-z, 0-9 and _ (1-64 characters)"
        raise ItemError(msg, field="key")


def _is_numeric(point: ModbusPoint | Iec104Point) -> bool:
    """Whether the point's value is a number."""
    if isinstance(point, ModbusPoint):
        return not (point.table.is_bit_table or point.data_type in (DataType.BIT, DataType.STRING))
    return point.type_id not in _IEC_BINARY | _IEC_SWITCH


def _parse_points(
    protocol: Protocol, term: int, rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, ModbusPoint | Iec104Point], dict[int, ItemError]]:
    """Validate the protocol columns of rows (by index) with the protocol's parser."""
    fields = MODBUS_FIELDS if protocol.is_modbus else IEC104_FIELDS
    document = json.dumps([{k: row[k] for k in fields if k in row} for row in rows])
    points: dict[int, ModbusPoint | Iec104Point] = {}
    errors: dict[int, ItemError] = {}
    if protocol.is_modbus:
        result = parse_point_list_json(document, default_unit_id=term)
        for row in result.rows:
            points[row.line - 1] = row.point
        for err in result.errors:
            errors[err.line - 1] = ItemError(err.reason, field=err.field)
    else:
        iec = parse_iec104_point_list_json(document, default_common_address=term)
        for iec_row in iec.rows:
            points[iec_row.line - 1] = iec_row.point
        for iec_err in iec.errors:
            errors[iec_err.line - 1] = ItemError(iec_err.reason, field=iec_err.field)
    return points, errors


def build_item(
    protocol: Protocol, term: int, cells: Mapping[str, Any], point: ModbusPoint | Iec104Point | None
) -> ScadaItem:
    """Build the runtime item of a stored item whose protocol columns parsed to ``point``."""
    key = str(cells.get("key", ""))
    _check_key(key)
    name = _text(cells, "name") or key
    formula = _text(cells, "formula")
    if formula is not None:
        ha = _ha_fields(cells, Platform.SENSOR, numeric=True)
        return ScadaItem(
            term=term, key=key, name=name, platform=Platform.SENSOR, formula=formula, **ha
        )
    assert point is not None  # noqa: S101 - the caller parsed it
    writable = _bool(cells, "writable")
    if isinstance(point, Iec104Point):
        writable = point.is_command
    platform = _platform(protocol, cells, point, writable)
    ha = _ha_fields(cells, platform, numeric=_is_numeric(point))
    if isinstance(point, ModbusPoint):
        modbus = ModbusPoint(
            key=f"{term}_{key}",
            unit_id=point.unit_id,
            table=point.table,
            address=point.address,
            data_type=point.data_type,
            count=point.count,
            bit=point.bit,
            byte_order=point.byte_order,
            word_order=point.word_order,
            scale=point.scale,
            offset=point.offset,
            precision=ha["precision"],
        )
        return ScadaItem(
            term=term, key=key, name=name, platform=platform, writable=writable, modbus=modbus, **ha
        )
    return ScadaItem(
        term=term, key=key, name=name, platform=platform, writable=writable, iec104=point, **ha
    )


def parse_items(
    protocol: Protocol, term: int, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[ScadaItem], list[ItemError]]:
    """Turn a term's stored items into runtime items; one error per bad item (1-based line)."""
    protocol_rows = [(i, row) for i, row in enumerate(rows) if not _text(row, "formula")]
    points, errors = _parse_points(protocol, term, [row for _, row in protocol_rows])
    by_index = {index: points.get(n) for n, (index, _) in enumerate(protocol_rows)}
    row_errors = {protocol_rows[n][0]: err for n, err in errors.items()}
    items: list[ScadaItem] = []
    out_errors: list[ItemError] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        err = row_errors.get(index)
        if err is None:
            try:
                item = build_item(protocol, term, row, by_index.get(index))
                if item.key in seen:
                    msg = f"key {item.key!r} is used twice"
                    raise ItemError(msg, field="key")  # noqa: TRY301
            except ItemError as item_err:
                err = item_err
            else:
                seen.add(item.key)
                items.append(item)
                continue
        err.line = index + 1
        out_errors.append(err)
    return items, out_errors


def validate_item(
    protocol: Protocol, term: int, cells: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
) -> ScadaItem:
    """Check one item (from a form) against the term's other items; raise ItemError."""
    item_list, errors = parse_items(protocol, term, [cells])
    if errors:
        raise errors[0]
    item = item_list[0]
    if any(other.get("key") == item.key for other in others):
        msg = f"key {item.key!r} is already used in this term"
        raise ItemError(msg, field="key")
    return item


# --- import -----------------------------------------------------------------------------------


def point_cells(point: ModbusPoint | Iec104Point) -> dict[str, Any]:
    """The protocol columns of a parsed point, as stored (unit / station come from the term)."""
    if isinstance(point, ModbusPoint):
        cells: dict[str, Any] = {
            "table": point.table.value,
            "address": point.address,
            "data_type": point.data_type.value,
            "byte_order": point.byte_order.value,
            "word_order": point.word_order.value,
            "scale": point.scale,
            "offset": point.offset,
        }
        if point.count is not None and point.data_type is DataType.STRING:
            cells["count"] = point.count
        if point.bit is not None:
            cells["bit"] = point.bit
        if point.precision is not None:
            cells["precision"] = point.precision
        return cells
    return {
        "ioa": point.ioa,
        "type": point.type_id.name.lower(),
        "select_before_operate": point.select_before_operate,
        "scale": point.scale,
        "offset": point.offset,
    }


def _ha_cells(extra: Mapping[str, str]) -> dict[str, Any]:
    """The Home Assistant columns of an imported row, as stored."""
    out: dict[str, Any] = {}
    for name in HA_FIELDS:
        value = (extra.get(name) or "").strip()
        if not value or name == "formula":
            continue
        if name in {"min", "max", "max_rate", "stale_timeout"}:
            number = _float(extra, name)
            out[name] = number
        elif name == "precision":
            out[name] = value
        elif name == "writable":
            out[name] = _bool(extra, name)
        else:
            out[name] = value
    return out


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """Items of the good rows (stored form) and one message per bad row."""

    items: list[dict[str, Any]]
    errors: list[str]


def import_point_list(
    protocol: Protocol, term: int, text: str, existing: Iterable[Mapping[str, Any]] = ()
) -> ImportResult:
    """Parse a pasted point list (CSV with a header line, or JSON) for one term.

    Rows for another unit / station, keys already in the term and rows Home Assistant cannot
    show are reported like the parser's own errors: ``line N, field 'x': what is wrong``.
    """
    is_json = text.lstrip().startswith(("[", "{"))
    location = "item" if is_json else "line"
    if protocol.is_modbus:
        parsed = (parse_point_list_json if is_json else parse_point_list_csv)(
            text, default_unit_id=term
        )
        rows: list[tuple[int, ModbusPoint | Iec104Point, Mapping[str, str]]] = [
            (r.line, r.point, r.extra) for r in parsed.rows
        ]
        errors = [(e.line, str(e)) for e in parsed.errors]
    else:
        iec = (parse_iec104_point_list_json if is_json else parse_iec104_point_list_csv)(
            text, default_common_address=term
        )
        rows = [(r.line, r.point, r.extra) for r in iec.rows]
        errors = [(e.line, str(e)) for e in iec.errors]
    taken = {str(item.get("key")) for item in existing}
    items: list[dict[str, Any]] = []
    for line, point, extra in rows:
        owner = point.unit_id if isinstance(point, ModbusPoint) else point.common_address
        try:
            if owner != term:
                what = "unit_id" if isinstance(point, ModbusPoint) else "common_address"
                msg = f"belongs to {owner}, this term is {term}"
                raise ItemError(msg, field=what)  # noqa: TRY301
            cells = {"key": point.key, **point_cells(point), **_ha_cells(extra)}
            if point.key in taken:
                msg = f"key {point.key!r} is already used in this term"
                raise ItemError(msg, field="key")  # noqa: TRY301
            build_item(protocol, term, cells, point)
        except ItemError as err:
            where = f"{location} {line}" + (f", field {err.field!r}" if err.field else "")
            errors.append((line, f"{where}: {err}"))
            continue
        taken.add(point.key)
        items.append(cells)
    errors.sort(key=lambda e: e[0])
    return ImportResult(items=items, errors=[message for _, message in errors])
