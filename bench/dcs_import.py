"""Benchmark: a year of half-hourly readings for 50 registers, MeterLink vs pythondcs.

Both clients stream from the same DCS simulator (a separate process, so its CPU is not
counted against either) in the same run:

- MeterLink: ``DcsClient.reading_batches`` (aiohttp, sans-I/O streamed decoder);
- pythondcs 1.1.1: ``DcsWebApi.readings(..., iterator=True)`` (requests + ijson), as its README
  recommends for large data sets.

Rows per second are over all 50 registers, the best of ``--rounds`` alternating rounds after
one warm-up pass (the simulator computes a register's readings on first use), both by wall
clock and by the client's own CPU time (the simulator's process excluded): on a busy machine
the wall clock also measures the simulator and the neighbours, the CPU time only the client.
Peak memory is tracemalloc's peak while MeterLink streams one register for 31, 90, 365 and 730
days (client, session, transport and decoder included).

    python bench/dcs_import.py [--registers 50] [--days 365]

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sys
import time
import tracemalloc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.meterlink.protocols.dcs import DcsClient, DcsTarget
from tools.hass_http import SimulatorProcess

END = datetime(2025, 1, 1, tzinfo=UTC)
PASSWORD = "bench-password"  # noqa: S105


async def meterlink_rows(url: str, registers: list[int], start: datetime, end: datetime) -> int:
    """Stream every register's span through MeterLink's client; return the row count."""
    rows = 0
    async with DcsClient(
        url=url, username="demo", password=PASSWORD, max_window=end - start
    ) as client:
        for reg in registers:
            async with contextlib.aclosing(
                client.reading_batches(DcsTarget.register(reg), start=start, end=end)
            ) as batches:
                async for batch in batches:
                    rows += len(batch)
    return rows


def pythondcs_rows(url: str, registers: list[int], start: datetime, end: datetime) -> int:
    """Stream every register's span through pythondcs's iterator; return the row count."""
    import pythondcs  # noqa: PLC0415 - optional peer

    api = pythondcs.DcsWebApi(url)
    api.signin("demo", PASSWORD)
    rows = 0
    try:
        for reg in registers:
            result = api.readings(
                f"R{reg}", startTime=start, endTime=end, format="complete", iterator=True
            )
            for _row in result["readings"]:
                rows += 1
    finally:
        api.signout()
    return rows


async def peak_memory(url: str, register: int, days: int) -> int:
    """Return tracemalloc's peak while MeterLink streams ``days`` of one register."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        await meterlink_rows(url, [register], END - timedelta(days=days), END)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registers", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    sim = SimulatorProcess(
        "dcs",
        ["--port", "0", "--password", PASSWORD, "--extra-meters", str(args.registers)],
    )
    sim.start()
    try:
        url = sim.url
        registers = [10000 + i for i in range(args.registers)]
        start = END - timedelta(days=args.days)

        # The simulator computes a register's year on first request: warm it for both clients.
        asyncio.run(meterlink_rows(url, registers, start, END))
        ours_s = theirs_s = ours_cpu = theirs_cpu = float("inf")
        for _round in range(args.rounds):  # alternate, keep each client's best round
            began, began_cpu = time.perf_counter(), time.process_time()
            theirs = pythondcs_rows(url, registers, start, END)
            theirs_s = min(theirs_s, time.perf_counter() - began)
            theirs_cpu = min(theirs_cpu, time.process_time() - began_cpu)
            began, began_cpu = time.perf_counter(), time.process_time()
            ours = asyncio.run(meterlink_rows(url, registers, start, END))
            ours_s = min(ours_s, time.perf_counter() - began)
            ours_cpu = min(ours_cpu, time.process_time() - began_cpu)

        curve = {d: asyncio.run(peak_memory(url, registers[0], d)) for d in (31, 90, 365, 730)}
        month, year = curve[31], curve[365]
    finally:
        sim.stop()

    assert ours == theirs == args.registers * args.days * 48, (ours, theirs)
    ours_rate = ours / ours_s
    theirs_rate = theirs / theirs_s
    ours_cpu_rate = ours / ours_cpu
    theirs_cpu_rate = theirs / theirs_cpu
    figures = {
        "registers": args.registers,
        "days": args.days,
        "rows": ours,
        "meterlink_seconds": round(ours_s, 3),
        "pythondcs_seconds": round(theirs_s, 3),
        "meterlink_rows_per_s": round(ours_rate),
        "pythondcs_rows_per_s": round(theirs_rate),
        "speed_ratio_vs_pythondcs": round(ours_rate / theirs_rate, 2),
        "meterlink_cpu_seconds": round(ours_cpu, 3),
        "pythondcs_cpu_seconds": round(theirs_cpu, 3),
        "meterlink_rows_per_cpu_s": round(ours_cpu_rate),
        "pythondcs_rows_per_cpu_s": round(theirs_cpu_rate),
        "cpu_ratio_vs_pythondcs": round(ours_cpu_rate / theirs_cpu_rate, 2),
        "peak_bytes_one_month": month,
        "peak_bytes_one_year": year,
        "memory_ratio_year_to_month": round(year / month, 2),
        "peak_bytes_by_days": curve,
    }
    print(f"{ours:,} rows ({args.registers} registers x {args.days} days of half-hours)")
    print("           wall clock                 client CPU (server excluded)")
    print(
        f"MeterLink : {ours_s:7.2f} s {ours_rate:10,.0f} rows/s   "
        f"{ours_cpu:7.2f} s {ours_cpu_rate:10,.0f} rows/s"
    )
    print(
        f"pythondcs : {theirs_s:7.2f} s {theirs_rate:10,.0f} rows/s   "
        f"{theirs_cpu:7.2f} s {theirs_cpu_rate:10,.0f} rows/s"
    )
    print(
        f"ratio     : {ours_rate / theirs_rate:.2f}x wall, "
        f"{ours_cpu_rate / theirs_cpu_rate:.2f}x CPU (target >= 3x)"
    )
    print(f"peak memory, one register: month {month:,} B, year {year:,} B ({year / month:.2f}x)")
    print("  by days: " + ", ".join(f"{d}: {b:,} B" for d, b in curve.items()))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
