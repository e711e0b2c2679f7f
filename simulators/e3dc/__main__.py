"""Run the E3/DC simulator: ``python -m simulators.e3dc --host 127.0.0.1 --port 5033``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from .model import PowerModel
from .server import E3dcSimulator


def _parse() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5033)
    parser.add_argument("--rscp-key", default="simulator-key", help="RSCP key set on the device")
    parser.add_argument("--user", default="user@example.com", help="E3/DC portal user")
    parser.add_argument("--password", default="portal-password", help="E3/DC portal password")
    parser.add_argument("--state", type=Path, help="JSON file where settings persist")
    parser.add_argument("--batteries", type=int, default=2)
    parser.add_argument("--strings", type=int, default=2, help="PV strings per inverter")
    parser.add_argument("--pv-peak", type=float, default=9000.0, help="installed PV peak (W)")
    parser.add_argument("--delay", type=float, default=0.0, help="delay every reply (s)")
    parser.add_argument(
        "--auth-refusal",
        choices=["password", "offline", "error"],
        help="refuse logins: as a wrong password, as a device offline, or with an RSCP error",
    )
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> None:
    """Start the simulator and serve until interrupted."""
    model = PowerModel(
        battery_count=args.batteries,
        strings_per_inverter=args.strings,
        pv_peak_w=args.pv_peak,
        state_path=args.state,
    )
    sim = E3dcSimulator(
        host=args.host,
        port=args.port,
        rscp_key=args.rscp_key,
        users={args.user: (args.password, 10)},
        model=model,
    )
    sim.faults.delay_s = args.delay
    sim.faults.auth = args.auth_refusal
    await sim.start()
    print(f"E3/DC RSCP simulator listening on {sim.host}:{sim.port}", flush=True)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    """Entry point."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(_parse()))


if __name__ == "__main__":
    main()
