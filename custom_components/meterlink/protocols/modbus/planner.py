"""Pure read planner: merge the points of a unit into the fewest read requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .codec import decode_registers
from .errors import ModbusPlanError, ModbusValueError
from .models import ModbusPoint, PointValue, Table

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Modbus Application Protocol V1.1b3, 6.1-6.4: quantity limits of FC01/02 (bits) and FC03/04.
PROTOCOL_MAX_BITS = 2000
PROTOCOL_MAX_REGISTERS = 125


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanLimits:
    """What one request may cover; devices are often stricter than the protocol.

    ``max_gap_registers`` / ``max_gap_bits`` is how many unused addresses may be read between
    two points to save a request (0 = only adjacent or overlapping points are merged).
    """

    max_registers: int = PROTOCOL_MAX_REGISTERS
    max_bits: int = PROTOCOL_MAX_BITS
    max_gap_registers: int = 0
    max_gap_bits: int = 0

    def __post_init__(self) -> None:
        """Keep the limits inside what the protocol allows."""
        if not 1 <= self.max_registers <= PROTOCOL_MAX_REGISTERS:
            msg = f"max_registers {self.max_registers} is outside 1..{PROTOCOL_MAX_REGISTERS}"
            raise ModbusPlanError(msg)
        if not 1 <= self.max_bits <= PROTOCOL_MAX_BITS:
            msg = f"max_bits {self.max_bits} is outside 1..{PROTOCOL_MAX_BITS}"
            raise ModbusPlanError(msg)
        if self.max_gap_registers < 0 or self.max_gap_bits < 0:
            msg = "gap limits must not be negative"
            raise ModbusPlanError(msg)

    def size_for(self, table: Table) -> int:
        """Largest quantity per request for the table."""
        return self.max_bits if table.is_bit_table else self.max_registers

    def gap_for(self, table: Table) -> int:
        """Largest bridged gap for the table."""
        return self.max_gap_bits if table.is_bit_table else self.max_gap_registers


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadRequest:
    """One read request: ``count`` registers/bits of ``table`` from ``address`` on ``unit_id``."""

    unit_id: int
    table: Table
    address: int
    count: int
    points: tuple[ModbusPoint, ...]

    @property
    def end(self) -> int:
        """First address after the request."""
        return self.address + self.count

    @property
    def function_code(self) -> int:
        """Function code of the request."""
        return self.table.read_function_code


_TABLE_ORDER = {table: index for index, table in enumerate(Table)}


def plan_reads(
    points: Iterable[ModbusPoint], limits: PlanLimits | None = None
) -> list[ReadRequest]:
    """Group points by unit and table and merge neighbours into as few requests as possible.

    Within one (unit, table) the points are sorted by address and merged greedily: a point
    joins the open request when the hole before it is at most the gap limit and the request
    then still fits the size limit. For intervals on a line this greedy choice is optimal.
    """
    limits = limits or PlanLimits()
    groups: dict[tuple[int, Table], list[ModbusPoint]] = {}
    seen: set[str] = set()
    for point in points:
        if point.key in seen:
            msg = f"point key {point.key!r} is used twice"
            raise ModbusPlanError(msg)
        seen.add(point.key)
        groups.setdefault((point.unit_id, point.table), []).append(point)
    requests: list[ReadRequest] = []
    for unit_id, table in sorted(groups, key=lambda g: (g[0], _TABLE_ORDER[g[1]])):
        requests.extend(_plan_group(unit_id, table, groups[unit_id, table], limits))
    return requests


def _plan_group(
    unit_id: int, table: Table, points: list[ModbusPoint], limits: PlanLimits
) -> list[ReadRequest]:
    """Plan one (unit, table) group."""
    size = limits.size_for(table)
    gap = limits.gap_for(table)
    ordered = sorted(points, key=lambda p: (p.address, p.end, p.key))
    out: list[ReadRequest] = []
    start = end = 0
    members: list[ModbusPoint] = []
    for point in ordered:
        if point.register_count > size:
            msg = (
                f"point {point.key!r} spans {point.register_count} addresses, more than "
                f"the {size} one request may read"
            )
            raise ModbusPlanError(msg)
        if members and point.address - end <= gap and max(end, point.end) - start <= size:
            end = max(end, point.end)
            members.append(point)
            continue
        if members:
            out.append(_request(unit_id, table, start, end, members))
        start, end, members = point.address, point.end, [point]
    if members:
        out.append(_request(unit_id, table, start, end, members))
    return out


def _request(
    unit_id: int, table: Table, start: int, end: int, members: list[ModbusPoint]
) -> ReadRequest:
    """Build a request object."""
    return ReadRequest(
        unit_id=unit_id, table=table, address=start, count=end - start, points=tuple(members)
    )


def decode_block(
    request: ReadRequest, data: Sequence[int] | Sequence[bool]
) -> dict[str, PointValue]:
    """Decode every point of a request from the registers or bits the device returned.

    Bit reads are padded to whole bytes on the wire, so ``data`` may be longer than
    ``request.count``; shorter data is an error naming the first point it cannot cover.
    """
    values: dict[str, PointValue] = {}
    for point in request.points:
        first = point.address - request.address
        chunk = data[first : first + point.register_count]
        if len(chunk) != point.register_count:
            msg = (
                f"point {point.key!r}: response of {len(data)} item(s) from address "
                f"{request.address} does not reach address {point.address}"
            )
            raise ModbusValueError(msg, point=point.key)
        if request.table.is_bit_table:
            values[point.key] = bool(chunk[0])
        else:
            values[point.key] = decode_registers(point, [int(word) for word in chunk])
    return values
