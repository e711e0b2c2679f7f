"""How many readings rows per second the DCS simulator serves (50 registers x one year).

Runs ``python -m simulators.dcs`` as a subprocess (its own CPU, as a benchmark of a client
would) and downloads a year of half-hours for 50 cumulative registers, one request at a time,
reading raw bytes (no JSON parsing), through the NEW API (standard, complete, gzip) and the OLD
API. Also measures the in-process generator alone, and a naive baseline that builds a list of
dicts and calls ``json.dumps`` on it. The last line is one JSON object with the figures.

Usage: ``python bench/dcs_sim_speed.py [--registers 50]``
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
import gzip
import json
from pathlib import Path
import sys
import time

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.dcs import DcsSimulator  # noqa: E402
from simulators.dcs.process import DcsSimulatorProcess  # noqa: E402
from simulators.dcs.readings import new_api_body  # noqa: E402

YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2025, 1, 1, tzinfo=UTC)
ROWS_PER_YEAR = 366 * 48


def generator_rate(registers: int) -> float:
    """Rows/s of the in-process NEW API standard-format generator (no HTTP)."""
    sim = DcsSimulator(extra_meters=registers)
    ids = [reg.id for meter in sim.meters[4:] for reg in meter.registers]
    started = time.perf_counter()
    for register_id in ids:
        query = sim._query(  # noqa: SLF001 - benchmark of the internal generator
            sim.registers[register_id],
            period="halfhour",
            start=YEAR_START,
            end=YEAR_END,
            zone=UTC,
            calibrated=False,
            interpolated=False,
        )
        for _ in new_api_body(query, complete=False, duration_key="readingDuration"):
            pass
    return len(ids) * ROWS_PER_YEAR / (time.perf_counter() - started)


def naive_rate(registers: int) -> float:
    """Rows/s of a naive baseline: a list of row dicts per register, then ``json.dumps``."""
    sim = DcsSimulator(extra_meters=registers)
    ids = [reg.id for meter in sim.meters[4:] for reg in meter.registers]
    started = time.perf_counter()
    for register_id in ids:
        reg = sim.registers[register_id]
        rows = []
        ts = YEAR_START
        for b in range(int(YEAR_START.timestamp()) // 1800, int(YEAR_END.timestamp()) // 1800):
            rows.append(
                {
                    "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "value": reg.total(b + 1),
                    "status": 0,
                }
            )
            ts += timedelta(minutes=30)
        json.dumps({"name": reg.full_name, "readings": rows})
    return len(ids) * ROWS_PER_YEAR / (time.perf_counter() - started)


async def http_rate(
    http: aiohttp.ClientSession, url: str, ids: list[int], mode: str
) -> tuple[float, float]:
    """Download a year for every register sequentially; return (rows/s, MB/s on the wire)."""
    rows = 0
    wire = 0
    started = time.perf_counter()
    for register_id in ids:
        if mode == "old":
            path = f"{url}/api/registerReadings/list/"
            params = {
                "registerId": str(register_id),
                "start": "2024-01-01",
                "end": "2025-01-01",
                "decimalPlaces": "15",
            }
        else:
            path = f"{url}/readings"
            params = {
                "id": f"R{register_id}",
                "startTime": "2024-01-01T00:00:00Z",
                "endTime": "2025-01-01T00:00:00Z",
                "format": "complete" if mode == "complete" else "standard",
            }
        headers = {"Accept-Encoding": "gzip" if mode == "gzip" else "identity"}
        async with http.get(path, params=params, headers=headers) as response:
            assert response.status == 200, await response.text()
            body = await response.read()
            wire += len(body)
            if mode == "gzip":
                assert response.headers["Content-Encoding"] == "gzip"
                body = gzip.decompress(body)
        rows += body.count(b'"startTime"' if mode == "old" else b'"timestamp"')
    elapsed = time.perf_counter() - started
    assert rows == len(ids) * ROWS_PER_YEAR, (mode, rows)
    return rows / elapsed, wire / elapsed / 1e6


async def main(registers: int) -> dict[str, float]:
    """Run the simulator subprocess and measure every mode."""
    proc = DcsSimulatorProcess("--extra-meters", str(registers), "--gzip")
    await proc.start()
    url = proc.url
    figures: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), auto_decompress=False
        ) as http:
            for path in ("/authentication/signin", "/api/account/login/"):
                async with http.post(
                    url + path, json={"username": proc.username, "password": "demo-password"}
                ) as response:
                    assert response.status == 200
            async with http.get(
                f"{url}/meters", headers={"Accept-Encoding": "identity"}
            ) as response:
                meters = await response.json()
            ids = [reg["id"] for meter in meters[4:] for reg in meter["registers"]]
            await http_rate(http, url, ids[:5], "standard")  # warm-up
            for mode in ("standard", "complete", "gzip", "old"):
                rate, mbps = await http_rate(http, url, ids, mode)
                figures[f"http_{mode}_rows_per_s"] = round(rate)
                figures[f"http_{mode}_mb_per_s"] = round(mbps, 1)
                print(f"HTTP {mode:>8}: {rate:>12,.0f} rows/s  {mbps:6.1f} MB/s on the wire")
    finally:
        await proc.stop()
    return figures


def run() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registers", type=int, default=50)
    args = parser.parse_args()
    gen = generator_rate(min(args.registers, 10))
    naive = naive_rate(2)
    print(f"generator   : {gen:>12,.0f} rows/s (in-process, NEW API standard)")
    print(f"naive dumps : {naive:>12,.0f} rows/s (list of dicts + json.dumps baseline)")
    figures = asyncio.run(main(args.registers))
    print(f"{args.registers} registers x {ROWS_PER_YEAR} half-hours per mode")
    result = {
        "registers": args.registers,
        "rows_per_register": ROWS_PER_YEAR,
        "generator_rows_per_s": round(gen),
        "naive_json_dumps_rows_per_s": round(naive),
        "generator_vs_naive_ratio": round(gen / naive, 2),
        **figures,
        "http_standard_vs_naive_ratio": round(figures["http_standard_rows_per_s"] / naive, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    run()
