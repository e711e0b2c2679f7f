"""One EKM bus cycle over 8 v4 meters (A and B reads): MeterLink vs ekmmeters vs the wire limit.

Run from the repository root: ``python bench/ekm_bus.py [--meters 8] [--turnaround 0.02]``.
The simulator runs in its own process (``python -m simulators.ekm --pty``) at 9600 baud with
real character pacing; both clients read the same meters through its pseudo-terminal, one
after the other, in the same run. The limit is the characters a cycle must put on the wire
at 9600 7E1 (request and 255-byte answer, A and B, per meter) plus the simulator's turnaround.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import re
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ekmmeters  # type: ignore[import-untyped]  # noqa: E402

from custom_components.meterlink.protocols.ekm import codec  # noqa: E402
from custom_components.meterlink.protocols.ekm.client import EkmBus  # noqa: E402
from custom_components.meterlink.protocols.ekm.models import EkmV4Reading  # noqa: E402

BAUD = 9600


def addresses(count: int) -> list[str]:
    """Meter addresses on the simulated bus."""
    return [codec.normalize_address(300001000 + i) for i in range(count)]


async def meterlink_cycles(
    path: str, meters: list[str], cycles: int, *, end_session: bool
) -> list[float]:
    """Time ``cycles`` full A+B cycles with MeterLink's bus owner."""
    times = []
    async with EkmBus(port=path, baudrate=BAUD, end_session_after_read=end_session) as bus:
        await bus.read(meters[0])  # open the port, warm up
        for _ in range(cycles):
            start = time.perf_counter()
            for address in meters:
                reading = await bus.read(address, 4)
                assert isinstance(reading, EkmV4Reading)
                assert reading.b is not None
            times.append(time.perf_counter() - start)
    return times


def ekmmeters_cycles(path: str, meters: list[str], cycles: int) -> list[float]:
    """Time ``cycles`` full A+B cycles with ekmmeters (V4Meter.request), defaults unchanged."""
    port = ekmmeters.SerialPort(path)
    assert port.initPort()
    objs = []
    for address in meters:
        meter = ekmmeters.V4Meter(address)
        meter.attachPort(port)
        objs.append(meter)
    times = []
    try:
        for _ in range(cycles):
            start = time.perf_counter()
            for meter in objs:
                assert meter.request(send_terminator=False), meter.getMeterAddress()
            times.append(time.perf_counter() - start)
    finally:
        port.closePort()
    return times


async def main() -> None:
    """Start the simulator, run both clients, print the summary and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meters", type=int, default=8)
    parser.add_argument("--turnaround", type=float, default=0.02, help="simulator, seconds")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--ekmmeters-cycles", type=int, default=1)
    args = parser.parse_args()
    meters = addresses(args.meters)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.ekm",
        "--port",
        "0",
        "--pty",
        "--baudrate",
        str(BAUD),
        "--turnaround",
        str(args.turnaround),
        "--meters",
        ",".join(f"{a}:v4" for a in meters),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).decode()
        match = re.search(r"pty (/dev/\S+);", line)
        assert match, line
        path = match.group(1)
        # ekmmeters first: Linux ptys accept its 7E1 settings only while still fresh.
        theirs = await asyncio.to_thread(ekmmeters_cycles, path, meters, args.ekmmeters_cycles)
        ours = await meterlink_cycles(path, meters, args.cycles, end_session=False)
        ours_end = await meterlink_cycles(path, meters, args.cycles, end_session=True)
    finally:
        proc.terminate()
        await proc.wait()
    per_meter_chars = 2 * (19 + codec.BLOCK_LENGTH)
    limit = args.meters * (codec.wire_seconds(per_meter_chars, BAUD) + 2 * args.turnaround)
    t_ours, t_end, t_theirs = min(ours), min(ours_end), min(theirs)
    print(f"EKM bus cycle: {args.meters} v4 meters, A+B each, 9600 7E1")
    print(f"  simulator turnaround       : {args.turnaround:7.3f} s")
    print(f"  wire-time limit            : {limit:7.3f} s")
    print(f"  MeterLink                  : {t_ours:7.3f} s  ({t_ours / limit:.3f}x limit)")
    print(f"  MeterLink + end sessions   : {t_end:7.3f} s  ({t_end / limit:.3f}x limit)")
    print(f"  ekmmeters 0.2.5 (defaults) : {t_theirs:7.3f} s  ({t_theirs / limit:.3f}x limit)")
    print(f"  MeterLink is {t_theirs / t_ours:.2f}x faster than ekmmeters")
    print(
        json.dumps(
            {
                "bench": "ekm_bus",
                "meters": args.meters,
                "baudrate": BAUD,
                "turnaround_s": args.turnaround,
                "limit_s": round(limit, 4),
                "meterlink_s": round(t_ours, 4),
                "meterlink_median_s": round(statistics.median(ours), 4),
                "meterlink_end_session_s": round(t_end, 4),
                "ekmmeters_s": round(t_theirs, 4),
                "ratio_meterlink_to_limit": round(t_ours / limit, 4),
                "ratio_meterlink_end_session_to_limit": round(t_end / limit, 4),
                "ratio_ekmmeters_to_limit": round(t_theirs / limit, 4),
                "ratio_ekmmeters_to_meterlink": round(t_theirs / t_ours, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
