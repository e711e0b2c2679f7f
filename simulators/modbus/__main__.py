"""Run the Modbus simulator: ``python -m simulators.modbus --host 127.0.0.1 --port 5020``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import ExceptionRule, ModbusSimulator


def _parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--units", default="1,2,3", help="comma-separated unit ids")
    parser.add_argument("--rtu", action="store_true", help="RTU framing over TCP")
    parser.add_argument(
        "--size", type=int, default=2000, help="addresses per table (E3/DC maps need 40200)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per request")
    parser.add_argument("--change-interval", type=float, default=1.0, help="s between changes")
    parser.add_argument(
        "--hole", action="append", default=[], help="unit:start:end answered with exception 2"
    )
    parser.add_argument("--silent-unit", type=int, action="append", default=[])
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> None:
    """Start and serve until interrupted."""
    sim = ModbusSimulator(
        host=args.host,
        port=args.port,
        unit_ids=tuple(int(u) for u in args.units.split(",")),
        rtu=args.rtu,
        size=args.size,
        change_interval_s=args.change_interval or None,
    )
    sim.faults.latency_s = args.latency_ms / 1000
    sim.faults.silent_units = set(args.silent_unit)
    for hole in args.hole:
        unit, start, end = (int(part) for part in hole.split(":"))
        sim.faults.exception_rules.append(ExceptionRule(unit_id=unit, start=start, end=end))
    await sim.start()
    print(sim.listen_line, flush=True)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(_parse()))
