"""Run the EKM bus simulator: ``python -m simulators.ekm --host 127.0.0.1 --port N``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib

from custom_components.meterlink.protocols.ekm import codec

from .bus import EkmSimBus
from .meter import SimMeter


def _meter(spec: str) -> SimMeter:
    """Parse ``address[:v3|v4]``."""
    address, _, version = spec.partition(":")
    return SimMeter(address=address, version=codec.normalize_version(version or "v4"))


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50000, help="TCP bridge port (0 = any)")
    parser.add_argument(
        "--meters",
        default="300001285:v4,300001317:v4,20870:v3",
        help="comma-separated address[:v3|v4]",
    )
    parser.add_argument("--pty", action="store_true", help="also open a pseudo-terminal")
    parser.add_argument("--turnaround", type=float, default=0.02, help="seconds")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--no-pace", action="store_true", help="send answers at once")
    parser.add_argument("--parity-bits", action="store_true", help="send 7E1 as 8N1 bytes")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="random faults, 0..1")
    parser.add_argument("--state-file", type=pathlib.Path, help="persist settings here")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> None:
    """Start the endpoints and wait forever."""
    meters = [_meter(spec) for spec in args.meters.split(",") if spec]
    bus = EkmSimBus(
        meters,
        baudrate=args.baudrate,
        turnaround=args.turnaround,
        pace=not args.no_pace,
        parity_bits=args.parity_bits,
        fault_rate=args.fault_rate,
        state_file=args.state_file,
    )
    port = await bus.start_tcp(args.host, args.port)
    where = f"tcp {args.host}:{port}"
    if args.pty:
        where += f", pty {bus.start_pty()}"
    names = ", ".join(f"{m.address}(v{m.version.value})" for m in meters)
    print(f"EKM simulator listening on {where}; meters {names}", flush=True)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await bus.close()


if __name__ == "__main__":
    main()
