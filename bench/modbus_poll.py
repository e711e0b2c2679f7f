"""Benchmark: one poll of 200 points on 3 units, planned vs one request per point.

Runs the Modbus simulator on 127.0.0.1 with 10 ms latency per request (a slow device) and
reads the same points through MeterLink's read planner and the naive way.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

from custom_components.meterlink.protocols.modbus.client import ModbusClient
from custom_components.meterlink.protocols.modbus.models import DataType, ModbusPoint, Table
from custom_components.meterlink.protocols.modbus.planner import PlanLimits, plan_reads
from simulators.modbus.server import ModbusSimulator

LATENCY_S = 0.010
POLLS = 3
TYPES = [
    DataType.UINT16,
    DataType.INT16,
    DataType.INT32,
    DataType.UINT32,
    DataType.FLOAT32,
    DataType.FLOAT64,
    DataType.INT64,
]


def make_points(count: int = 200, units: tuple[int, ...] = (1, 2, 3)) -> list[ModbusPoint]:
    """A register map like a real device: blocks of values with small holes, a few coils."""
    rng = random.Random(7)
    points: list[ModbusPoint] = []
    cursor = {
        (u, t): 0 for u in units for t in (Table.HOLDING_REGISTER, Table.INPUT_REGISTER, Table.COIL)
    }
    for index in range(count):
        unit = units[index % len(units)]
        table = rng.choice(
            [Table.HOLDING_REGISTER, Table.INPUT_REGISTER, Table.INPUT_REGISTER, Table.COIL]
        )
        data_type = DataType.BIT if table is Table.COIL else rng.choice(TYPES)
        address = cursor[unit, table] + rng.choice([0, 0, 0, 1, 2, 4])
        point = ModbusPoint(
            key=f"u{unit}_{table}_{address}",
            unit_id=unit,
            table=table,
            address=address,
            data_type=data_type,
        )
        cursor[unit, table] = point.end
        points.append(point)
    return points


async def poll_seconds(client: ModbusClient, plan: list, polls: int) -> tuple[float, int]:
    """Mean seconds per poll and requests per poll."""
    started = time.perf_counter()
    requests = 0
    for _ in range(polls):
        result = await client.execute_plan(plan)
        assert not result.errors, result.errors
        requests = result.requests
    return (time.perf_counter() - started) / polls, requests


async def main() -> None:
    """Run both ways and print the figures."""
    points = make_points()
    async with ModbusSimulator(unit_ids=(1, 2, 3), size=4000) as sim:
        sim.faults.latency_s = LATENCY_S
        async with ModbusClient(host="127.0.0.1", port=sim.port, timeout_s=2) as client:
            planned = plan_reads(points, PlanLimits(max_gap_registers=8, max_gap_bits=32))
            naive = [plan_reads([p])[0] for p in points]
            t_planned, n_planned = await poll_seconds(client, planned, POLLS)
            t_naive, n_naive = await poll_seconds(client, naive, POLLS)
    print(f"{len(points)} points on 3 units, simulated device latency {LATENCY_S * 1000:.0f} ms")
    print(f"planned: {n_planned} requests, {t_planned * 1000:.1f} ms per poll")
    print(f"naive:   {n_naive} requests, {t_naive * 1000:.1f} ms per poll")
    print(
        f"fewer requests: {n_naive / n_planned:.1f}x (target >= 10x); "
        f"less time: {t_naive / t_planned:.1f}x (target >= 5x)"
    )
    print(
        json.dumps(
            {
                "points": len(points),
                "latency_ms": LATENCY_S * 1000,
                "planned_requests": n_planned,
                "naive_requests": n_naive,
                "planned_ms_per_poll": round(t_planned * 1000, 2),
                "naive_ms_per_poll": round(t_naive * 1000, 2),
                "request_ratio_vs_naive": round(n_naive / n_planned, 2),
                "time_ratio_vs_naive": round(t_naive / t_planned, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
