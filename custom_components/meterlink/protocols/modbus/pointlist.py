"""Point lists from CSV or JSON (the UI's bulk import), with a per-row error report."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import io
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final, Protocol

from .errors import ModbusPointError, ModbusPointListError
from .models import ByteOrder, DataType, ModbusPoint, Table, WordOrder

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

# Names accepted for each table: our own, short forms, and the classic 0x/1x/3x/4x prefixes.
_TABLE_ALIASES = {
    **dict.fromkeys(("coil", "coils", "co", "0x"), Table.COIL),
    **dict.fromkeys(("discrete_input", "discrete", "di", "1x"), Table.DISCRETE_INPUT),
    **dict.fromkeys(("holding_register", "holding", "hr", "4x"), Table.HOLDING_REGISTER),
    **dict.fromkeys(("input_register", "input", "ir", "3x"), Table.INPUT_REGISTER),
}
# Home Assistant's modbus "swap" option expressed as (byte order, word order).
_SWAP = {
    "none": (ByteOrder.BIG, WordOrder.BIG),
    "byte": (ByteOrder.LITTLE, WordOrder.BIG),
    "word": (ByteOrder.BIG, WordOrder.LITTLE),
    "word_byte": (ByteOrder.LITTLE, WordOrder.LITTLE),
}
KNOWN_FIELDS = (
    "key",
    "unit_id",
    "table",
    "address",
    "data_type",
    "count",
    "bit",
    "byte_order",
    "word_order",
    "swap",
    "scale",
    "offset",
    "precision",
)


@dataclass(frozen=True, kw_only=True)
class PointListRow:
    """A parsed point and the row's other columns (name, unit, device class, ...)."""

    line: int
    point: ModbusPoint
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PointListResult:
    """Good rows and one typed error per bad row, in file order."""

    rows: tuple[PointListRow, ...]
    errors: tuple[ModbusPointListError, ...]

    @property
    def points(self) -> tuple[ModbusPoint, ...]:
        """The points of the good rows."""
        return tuple(row.point for row in self.rows)

    def raise_for_errors(self) -> None:
        """Raise the first error, if any row was bad."""
        if self.errors:
            raise self.errors[0]


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRow:
    """One row of a point list as text cells, before any protocol looks at it."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True, kw_only=True, slots=True)
class RowProblem:
    """A problem found while splitting a point list into rows."""

    line: int
    field: str | None
    message: str


# Our limits on a pasted point list (Modbus and IEC 104 share these readers), checked before
# parsing so a hostile file costs neither memory nor time: ten thousand points of about a
# hundred characters fit with room to spare.
MAX_POINT_LIST_SIZE: Final = 2 << 20  # characters
MAX_POINT_LIST_ROWS: Final = 10_000
MAX_POINT_LIST_LINE: Final = 4096  # characters in one CSV line
MAX_POINT_LIST_COLUMNS: Final = 64  # CSV header columns, or fields of one JSON item
_LONG_LINE: Final = re.compile(f"[^\r\n]{{{MAX_POINT_LIST_LINE + 1}}}")


def _too_large(text: str, *, lines: bool = False) -> list[RowProblem]:
    """One problem if the text (or, with ``lines``, one of its lines) is over our limits."""
    if len(text) > MAX_POINT_LIST_SIZE:
        msg = f"the point list is {len(text)} characters; the limit is {MAX_POINT_LIST_SIZE}"
        return [RowProblem(line=1, field=None, message=msg)]
    long_line = _long_line(text) if lines else None
    return [] if long_line is None else [long_line]


def _too_many_rows(line: int) -> RowProblem:
    msg = f"more than {MAX_POINT_LIST_ROWS} rows; split the point list"
    return RowProblem(line=line, field=None, message=msg)


def _long_line(text: str) -> RowProblem | None:
    """A problem naming the first line longer than :data:`MAX_POINT_LIST_LINE`, else None."""
    found = _LONG_LINE.search(text)
    if found is None:
        return None
    number = text.count("\n", 0, found.start()) + 1
    msg = f"line longer than {MAX_POINT_LIST_LINE} characters"
    return RowProblem(line=number, field=None, message=msg)


def _records(reader: Any, problems: list[RowProblem]) -> Iterator[list[str]]:
    """Yield the CSV records; stop at the first malformed one and note it in ``problems``."""
    try:
        yield from reader
    except csv.Error as err:
        problems.append(
            RowProblem(line=reader.line_num, field=None, message=f"not valid CSV: {err}")
        )


def _blank_or_comment(record: list[str]) -> bool:
    """True for a CSV record that is empty, all blank, or a ``#`` comment."""
    return (
        not record or all(not cell.strip() for cell in record) or record[0].lstrip().startswith("#")
    )


def _header_problem(header: list[str], required: tuple[str, ...], line: int) -> RowProblem | None:
    """A problem with the CSV header line (too many columns, a required one missing), or None."""
    if len(header) > MAX_POINT_LIST_COLUMNS:
        msg = f"header of more than {MAX_POINT_LIST_COLUMNS} columns"
        return RowProblem(line=line, field=None, message=msg)
    missing = [name for name in required if name not in header]
    if missing:
        msg = f"header lacks column(s) {', '.join(missing)}"
        return RowProblem(line=line, field=missing[0], message=msg)
    return None


def read_rows_csv(text: str, required: tuple[str, ...]) -> tuple[list[RawRow], list[RowProblem]]:
    """Split a CSV point list (first line names the columns) into rows of cells.

    Blank lines and lines starting with ``#`` are skipped; a header missing one of the
    ``required`` columns yields a single problem and no rows.
    """
    if problems := _too_large(text, lines=True):
        return [], problems
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header: list[str] | None = None
    rows: list[RawRow] = []
    for record in _records(reader, problems):
        line = reader.line_num
        if _blank_or_comment(record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record[: MAX_POINT_LIST_COLUMNS + 1]]
            if bad_header := _header_problem(header, required, line):
                return [], [bad_header]
            continue
        if len(rows) + len(problems) >= MAX_POINT_LIST_ROWS:
            return [], [_too_many_rows(line)]
        if len(record) > len(header):
            msg = f"{len(record)} cells but the header names {len(header)} columns"
            problems.append(RowProblem(line=line, field=None, message=msg))
            continue
        cells = {name: cell.strip() for name, cell in zip(header, record, strict=False)}
        rows.append(RawRow(line=line, cells=cells))
    if header is None:
        problems.append(
            RowProblem(line=1, field=None, message="the file is empty (no header line)")
        )
    return rows, problems


def read_rows_json(text: str) -> tuple[list[RawRow], list[RowProblem]]:
    """Split a JSON point list (a list of objects, or ``{"points": [...]}``) into rows."""
    if too_large := _too_large(text):
        return [], too_large
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return [], [RowProblem(line=1, field=None, message=f"not valid JSON: {err}")]
    except RecursionError:  # json's C scanner: nesting deeper than the recursion limit
        return [], [RowProblem(line=1, field=None, message="not valid JSON: nested too deeply")]
    if isinstance(document, dict):
        document = document.get("points")
    if not isinstance(document, list):
        msg = "expected a list of points (or an object with a 'points' list)"
        return [], [RowProblem(line=1, field=None, message=msg)]
    rows: list[RawRow] = []
    problems: list[RowProblem] = []
    if len(document) > MAX_POINT_LIST_ROWS:
        return [], [_too_many_rows(MAX_POINT_LIST_ROWS + 1)]
    for index, item in enumerate(document, start=1):
        if isinstance(item, dict) and len(item) > MAX_POINT_LIST_COLUMNS:
            msg = f"{len(item)} fields; the limit is {MAX_POINT_LIST_COLUMNS}"
            problems.append(RowProblem(line=index, field=None, message=msg))
            continue
        if not isinstance(item, dict):
            msg = f"expected an object, got {type(item).__name__}"
            problems.append(RowProblem(line=index, field=None, message=msg))
            continue
        cells = {str(name).lower(): _json_cell(value) for name, value in item.items()}
        rows.append(RawRow(line=index, cells=cells))
    return rows, problems


def _errors(problems: list[RowProblem], location: str) -> list[ModbusPointListError]:
    """Typed errors for row problems."""
    return [
        ModbusPointListError(p.message, line=p.line, field=p.field, location=location)
        for p in problems
    ]


def parse_point_list_csv(text: str, *, default_unit_id: int | None = None) -> PointListResult:
    """Parse a CSV point list whose first line names the columns."""
    rows, problems = read_rows_csv(text, ("key", "table", "address", "data_type"))
    return _build(rows, _errors(problems, "line"), default_unit_id, "line")


def parse_point_list_json(text: str, *, default_unit_id: int | None = None) -> PointListResult:
    """Parse a JSON point list: a list of objects, or an object with a ``points`` list."""
    rows, problems = read_rows_json(text)
    return _build(rows, _errors(problems, "item"), default_unit_id, "item")


def _json_cell(value: Any) -> str:
    """Turn a JSON value into the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _build(
    rows: list[RawRow],
    errors: list[ModbusPointListError],
    default_unit_id: int | None,
    location: str,
) -> PointListResult:
    """Turn cell dictionaries into points, collecting one error per bad row."""
    good: list[PointListRow] = []
    keys: dict[str, int] = {}
    for row in rows:
        line, cells = row.line, row.cells
        try:
            point = _point(cells, default_unit_id, line, location)
        except ModbusPointListError as err:
            errors.append(err)
            continue
        if point.key in keys:
            msg = f"key {point.key!r} was already used on {location} {keys[point.key]}"
            errors.append(ModbusPointListError(msg, line=line, field="key", location=location))
            continue
        keys[point.key] = line
        extra = {name: value for name, value in cells.items() if name not in KNOWN_FIELDS}
        good.append(PointListRow(line=line, point=point, extra=extra))
    errors.sort(key=lambda err: err.line)
    return PointListResult(rows=tuple(good), errors=tuple(errors))


class PointListErrorType(Protocol):
    """Constructor shape of a protocol's point-list error."""

    def __call__(
        self, message: str, *, line: int, field: str | None, location: str = "line"
    ) -> Exception:
        """Build the error."""
        ...


class CellReader:
    """Typed access to the cells of one row, raising errors that name the field."""

    def __init__(
        self,
        cells: dict[str, str],
        line: int,
        location: str,
        error: PointListErrorType = ModbusPointListError,
    ) -> None:
        """Keep the cells, where they came from, and which error type to raise."""
        self.cells = cells
        self.line = line
        self.location = location
        self.error = error

    def fail(self, name: str, message: str) -> Exception:
        """Build an error for a field."""
        return self.error(message, line=self.line, field=name, location=self.location)

    def boolean(self, name: str, *, default: bool) -> bool:
        """A yes/no cell (true/false, yes/no, 1/0, on/off)."""
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in {"true", "yes", "1", "on", "y"}:
            return True
        if raw in {"false", "no", "0", "off", "n"}:
            return False
        raise self.fail(name, f"{raw!r} is not true/false")

    def required_text(self, name: str) -> str:
        """A cell that must not be empty."""
        value = self.text(name)
        if not value:
            raise self.fail(name, "a value is required")
        return value

    def required_integer(self, name: str, *, default: int | None = None) -> int:
        """An integer cell that must be given (or have a default)."""
        value = self.integer(name, default=default)
        if value is None:
            raise self.fail(name, "a value is required")
        return value

    def text(self, name: str) -> str:
        """A cell's text ('' when absent)."""
        return self.cells.get(name, "")

    def integer(self, name: str, *, default: int | None = None) -> int | None:
        """An integer cell (decimal or 0x hex), or the default when empty."""
        raw = self.text(name)
        if not raw:
            return default
        try:
            return int(raw, 16) if raw.lower().startswith("0x") else int(raw)
        except ValueError:
            raise self.fail(name, f"{raw!r} is not a whole number") from None

    def number(self, name: str, *, default: float) -> float:
        """A finite float cell, or the default when empty."""
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(name, f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.fail(name, f"{raw!r} is not a finite number")
        return value

    def choice[T](self, name: str, options: Mapping[str, T], *, default: T | None = None) -> T:
        """A cell that must be one of the named options."""
        raw = self.text(name).lower()
        if not raw and default is not None:
            return default
        if raw not in options:
            names = ", ".join(sorted(options))
            raise self.fail(name, f"{raw!r} is not one of {names}")
        return options[raw]


def _point(
    cells: dict[str, str], default_unit_id: int | None, line: int, location: str
) -> ModbusPoint:
    """Build and validate one point from its cells."""
    row = CellReader(cells, line, location)
    key = row.required_text("key")
    unit_id = row.required_integer("unit_id", default=default_unit_id)
    table = row.choice("table", _TABLE_ALIASES)
    address = row.required_integer("address")
    data_type = row.choice("data_type", {t.value: t for t in DataType})
    byte_order, word_order = row.choice("swap", _SWAP, default=(ByteOrder.BIG, WordOrder.BIG))
    byte_order = row.choice("byte_order", {o.value: o for o in ByteOrder}, default=byte_order)
    word_order = row.choice("word_order", {o.value: o for o in WordOrder}, default=word_order)
    try:
        return ModbusPoint(
            key=key,
            unit_id=unit_id,
            table=table,
            address=address,
            data_type=data_type,
            count=row.integer("count"),
            bit=row.integer("bit"),
            byte_order=byte_order,
            word_order=word_order,
            scale=row.number("scale", default=1.0),
            offset=row.number("offset", default=0.0),
            precision=row.integer("precision"),
        )
    except ModbusPointError as err:
        raise row.fail(err.field, str(err)) from err
