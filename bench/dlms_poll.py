"""DLMS benchmark: batched register polls and load-profile decoding, against baselines.

(1) 20 registers per poll over the IEC 62056-47 wrapper with 50 ms simulated latency per
answer: MeterLink's GET-with-list batching (meter limit 10 per request) against one-by-one reads
(the seed service's way). (2) A month of 15-minute load-profile rows fetched from the simulator
by range, then decoded by MeterLink and by dlms-cosem's ProfileGenericBufferParser.
Last line: one JSON object with the figures and each ratio to its baseline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

from dlms_cosem import cosem, enumerations
from dlms_cosem.cosem import Obis
from dlms_cosem.parsers import ProfileGenericBufferParser

from custom_components.meterlink.protocols.dlms.client import (
    DlmsAttributeRef,
    DlmsClient,
)
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, Faults

NOW = dt.datetime(2026, 3, 1, 12, 0)  # noqa: DTZ001 - meter local time
LATENCY_S = 0.05
POLLS = 5


async def bench_polls() -> dict[str, float]:
    """Time steady-state polls of 20 registers, batched and one by one."""
    sim = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW), faults=Faults())
    await sim.start()
    registers = list(sim.meter.registers)[:20]
    refs = [DlmsAttributeRef(obis=obis) for obis in registers]
    try:
        async with DlmsClient(host="127.0.0.1", port=sim.port) as client:
            await client.read_many(refs)  # learn scalers once (cached per meter)
            sim.faults.latency_s = LATENCY_S
            start, before = time.perf_counter(), client.round_trips
            for _ in range(POLLS):
                await client.read_many(refs)
            batched_s = (time.perf_counter() - start) / POLLS
            batched_rt = (client.round_trips - before) / POLLS
            start, before = time.perf_counter(), client.round_trips
            for _ in range(POLLS):
                for obis in registers:
                    await client.read(obis)
            single_s = (time.perf_counter() - start) / POLLS
            single_rt = (client.round_trips - before) / POLLS
    finally:
        await sim.close()
    return {
        "poll_batched_round_trips": batched_rt,
        "poll_single_round_trips": single_rt,
        "poll_batched_s": round(batched_s, 4),
        "poll_single_s": round(single_s, 4),
    }


async def fetch_month() -> tuple[bytes, list[tuple[int, str]], DlmsClient, int]:
    """Fetch a month of rows by range and return the raw buffer and its columns."""
    sim = DlmsSimulator(meter=SimulatedMeter(now=lambda: NOW), max_pdu=1024)
    await sim.start()
    try:
        client = DlmsClient(host="127.0.0.1", port=sim.port)
        async with client:
            started = time.perf_counter()
            rows = [
                row
                async for row in client.read_profile(
                    "1.0.99.1.0.255", NOW - dt.timedelta(days=31), NOW
                )
            ]
            fetch_s = time.perf_counter() - started
            raw, columns = await client._profile_raw(  # noqa: SLF001 - raw bytes for the parser race
                "1.0.99.1.0.255", NOW - dt.timedelta(days=31), NOW
            )
    finally:
        await sim.close()
    print(f"fetched {len(rows)} rows end to end in {fetch_s:.3f} s")
    return raw, columns, client, len(rows)


def bench_profile(
    raw: bytes, columns: list[tuple[int, str]], client: DlmsClient
) -> dict[str, float]:
    """Decode the same buffer with MeterLink and with dlms-cosem; rows per second."""
    parser = ProfileGenericBufferParser(
        capture_objects=[
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.CLOCK,
                instance=Obis(0, 0, 1, 0, 0, 255),
                attribute=2,
            ),
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.REGISTER,
                instance=Obis(1, 0, 1, 8, 0, 255),
                attribute=2,
            ),
            cosem.CosemAttribute(
                interface=enumerations.CosemInterface.REGISTER,
                instance=Obis(1, 0, 2, 8, 0, 255),
                attribute=2,
            ),
        ],
        capture_period=15,
    )

    def best(func: object, repeat: int = 5) -> tuple[float, int]:
        times, count = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            count = len(func())  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times), count

    ours_s, ours_rows = best(lambda: list(client.iter_profile(raw, columns)))
    theirs_s, theirs_rows = best(lambda: parser.parse_bytes(raw))
    assert ours_rows == theirs_rows, (ours_rows, theirs_rows)
    return {
        "profile_rows": ours_rows,
        "profile_meterlink_rows_per_s": round(ours_rows / ours_s),
        "profile_dlms_cosem_rows_per_s": round(theirs_rows / theirs_s),
    }


async def main() -> None:
    """Run both benchmarks and print the summary."""
    polls = await bench_polls()
    raw, columns, client, _ = await fetch_month()
    profile = bench_profile(raw, columns, client)
    figures: dict[str, float] = {**polls, **profile}
    figures["poll_round_trip_ratio_vs_single"] = round(
        polls["poll_single_round_trips"] / polls["poll_batched_round_trips"], 2
    )
    figures["poll_time_ratio_vs_single"] = round(
        polls["poll_single_s"] / polls["poll_batched_s"], 2
    )
    figures["profile_ratio_vs_dlms_cosem"] = round(
        profile["profile_meterlink_rows_per_s"] / profile["profile_dlms_cosem_rows_per_s"], 2
    )
    batched_ms = polls["poll_batched_s"] * 1000
    print(
        f"20 registers/poll, {LATENCY_S * 1000:.0f} ms latency: batched "
        f"{polls['poll_batched_round_trips']:.0f} round trips / {batched_ms:.0f} ms, "
        f"one-by-one {polls['poll_single_round_trips']:.0f} round trips / "
        f"{polls['poll_single_s'] * 1000:.0f} ms"
    )
    print(
        f"load profile ({profile['profile_rows']} rows): MeterLink "
        f"{profile['profile_meterlink_rows_per_s']} rows/s, dlms-cosem "
        f"{profile['profile_dlms_cosem_rows_per_s']} rows/s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
