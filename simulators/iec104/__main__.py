"""Run the IEC 104 simulator: ``python -m simulators.iec104 --host 127.0.0.1 --port 2404``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import Iec104Simulator


def _parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2404)
    parser.add_argument("--common-address", type=int, default=1)
    parser.add_argument("--change-interval", type=float, default=2.0, help="s between changes")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> None:
    """Start and serve until interrupted."""
    sim = Iec104Simulator(
        host=args.host,
        port=args.port,
        common_address=args.common_address,
        change_interval_s=args.change_interval or None,
    )
    sim.faults.latency_s = args.latency_ms / 1000
    await sim.start()
    print(sim.listen_line, flush=True)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(_parse()))
