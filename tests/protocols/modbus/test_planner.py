"""Read planner: merging, gaps, limits, grouping, and optimality against brute force."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.modbus.errors import ModbusPlanError
from custom_components.meterlink.protocols.modbus.models import DataType, ModbusPoint, Table
from custom_components.meterlink.protocols.modbus.planner import (
    PlanLimits,
    ReadRequest,
    decode_block,
    plan_reads,
)


def reg(key: str, address: int, data_type: DataType = DataType.UINT16, **kw: object) -> ModbusPoint:
    """A holding-register point."""
    fields: dict[str, object] = {
        "key": key,
        "unit_id": 1,
        "table": Table.HOLDING_REGISTER,
        "address": address,
        "data_type": data_type,
    }
    fields.update(kw)
    return ModbusPoint(**fields)  # type: ignore[arg-type]


def spans(requests: list[ReadRequest]) -> list[tuple[int, int]]:
    """(address, count) of each request."""
    return [(r.address, r.count) for r in requests]


def test_adjacent_points_merge():
    points = [reg("a", 0), reg("b", 1, DataType.FLOAT32), reg("c", 3, DataType.FLOAT64)]
    assert spans(plan_reads(points)) == [(0, 7)]


def test_gap_not_bridged_by_default_but_bridged_when_allowed():
    points = [reg("a", 0), reg("b", 5)]
    assert spans(plan_reads(points)) == [(0, 1), (5, 1)]
    assert spans(plan_reads(points, PlanLimits(max_gap_registers=4))) == [(0, 6)]
    assert spans(plan_reads(points, PlanLimits(max_gap_registers=3))) == [(0, 1), (5, 1)]


def test_size_limit_splits():
    points = [reg(f"p{i}", i) for i in range(10)]
    assert spans(plan_reads(points, PlanLimits(max_registers=4))) == [(0, 4), (4, 4), (8, 2)]


def test_protocol_limit_125_registers():
    points = [reg(f"p{i}", i * 2, DataType.UINT32) for i in range(100)]
    requests = plan_reads(points)
    assert spans(requests) == [(0, 124), (124, 76)]


def test_overlapping_points_share_registers():
    points = [
        reg("whole", 10, DataType.UINT32),
        reg("low", 11),
        reg("bit", 10, DataType.BIT, bit=15),
    ]
    (request,) = plan_reads(points)
    assert (request.address, request.count) == (10, 2)
    values = decode_block(request, [0x8000, 0x0005])
    assert values == {"whole": 0x80000005, "low": 5, "bit": True}


def test_groups_by_unit_and_table_in_stable_order():
    points = [
        reg("h2", 0, unit_id=2),
        ModbusPoint(key="c", unit_id=1, table=Table.COIL, address=3, data_type=DataType.BIT),
        ModbusPoint(
            key="i", unit_id=1, table=Table.INPUT_REGISTER, address=0, data_type=DataType.INT16
        ),
        reg("h1", 0),
        ModbusPoint(
            key="d", unit_id=1, table=Table.DISCRETE_INPUT, address=0, data_type=DataType.BIT
        ),
    ]
    got = [(r.unit_id, r.table, r.function_code) for r in plan_reads(points)]
    assert got == [
        (1, Table.COIL, 1),
        (1, Table.DISCRETE_INPUT, 2),
        (1, Table.HOLDING_REGISTER, 3),
        (1, Table.INPUT_REGISTER, 4),
        (2, Table.HOLDING_REGISTER, 3),
    ]


def test_bits_use_bit_limits_and_padded_response():
    coils = [
        ModbusPoint(key=f"c{i}", unit_id=1, table=Table.COIL, address=a, data_type=DataType.BIT)
        for i, a in enumerate([0, 1, 2, 9, 3000])
    ]
    limits = PlanLimits(max_gap_bits=6, max_gap_registers=0)
    requests = plan_reads(coils, limits)
    assert spans(requests) == [(0, 10), (3000, 1)]
    bits = [True, False, True] + [False] * 6 + [True] + [False] * 6  # padded to 16
    assert decode_block(requests[0], bits) == {"c0": True, "c1": False, "c2": True, "c3": True}
    assert spans(plan_reads(coils, PlanLimits(max_bits=2, max_gap_bits=100))) == [
        (0, 2),
        (2, 1),
        (9, 1),
        (3000, 1),
    ]


def test_errors():
    with pytest.raises(ModbusPlanError, match="used twice"):
        plan_reads([reg("a", 0), reg("a", 1)])
    with pytest.raises(ModbusPlanError, match="spans 4 addresses, more than the 2"):
        plan_reads([reg("a", 0, DataType.INT64)], PlanLimits(max_registers=2))
    with pytest.raises(ModbusPlanError, match="max_registers 126"):
        PlanLimits(max_registers=126)
    with pytest.raises(ModbusPlanError, match="max_bits 2001"):
        PlanLimits(max_bits=2001)
    with pytest.raises(ModbusPlanError, match="negative"):
        PlanLimits(max_gap_registers=-1)


def test_empty():
    assert plan_reads([]) == []


def _feasible(group: list[ModbusPoint], size: int, gap: int) -> bool:
    """Whether one request may carry these points (span and holes within limits)."""
    ordered = sorted(group, key=lambda p: p.address)
    start = ordered[0].address
    end = ordered[0].end
    for p in ordered[1:]:
        if p.address - end > gap:
            return False
        end = max(end, p.end)
    return end - start <= size


def _partitions(items: list[ModbusPoint]):
    """Every set partition of items."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
        yield [[first], *part]


def _optimum(points: list[ModbusPoint], size: int, gap: int) -> int:
    """Fewest requests by brute force over all partitions."""
    return min(
        len(part)
        for part in _partitions(points)
        if all(_feasible(group, size, gap) for group in part)
    )


POINTS = st.lists(
    st.tuples(
        st.integers(0, 40), st.sampled_from([DataType.UINT16, DataType.INT32, DataType.FLOAT64])
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(raw=POINTS, size=st.integers(4, 20), gap=st.integers(0, 6))
def test_plan_is_valid_and_minimal(raw, size, gap):
    points = [reg(f"p{i}", a, t) for i, (a, t) in enumerate(raw)]
    requests = plan_reads(points, PlanLimits(max_registers=size, max_gap_registers=gap))
    covered = [p.key for r in requests for p in r.points]
    assert sorted(covered) == sorted(p.key for p in points)
    for r in requests:
        assert 1 <= r.count <= size
        assert all(r.address <= p.address and p.end <= r.end for p in r.points)
        assert min(p.address for p in r.points) == r.address
        assert max(p.end for p in r.points) == r.end
        assert _feasible(list(r.points), size, gap)
    assert len(requests) == _optimum(points, size, gap)


@given(
    values=st.lists(st.integers(0, 0xFFFF), min_size=60, max_size=60),
    addresses=st.lists(st.integers(0, 58), min_size=1, max_size=20, unique=True),
    gap=st.integers(0, 10),
)
def test_merged_decode_equals_single_decode(values, addresses, gap):
    points = [reg(f"p{a}", a, DataType.INT32) for a in addresses]
    merged = {}
    for r in plan_reads(points, PlanLimits(max_gap_registers=gap)):
        merged.update(decode_block(r, values[r.address : r.end]))
    for p in points:
        single = plan_reads([p])[0]
        assert merged[p.key] == decode_block(single, values[p.address : p.end])[p.key]
