"""Run the DCS simulator standalone: ``python -m simulators.dcs --host 127.0.0.1 --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .server import DcsSimulator


def _parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m simulators.dcs", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--prefix", default="", help="base path, e.g. /DCSWebApi")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed cert")
    parser.add_argument("--extra-meters", type=int, default=0)
    parser.add_argument("--extra-registers-per-meter", type=int, default=1)
    parser.add_argument("--range-limit-days", type=int, default=0)
    parser.add_argument("--no-public", action="store_true", help="disable /public/... routes")
    parser.add_argument("--gzip", action="store_true", help="gzip bodies for gzip clients")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    """Start the simulator, print where it listens, and run until SIGINT/SIGTERM."""
    sim = DcsSimulator(
        username=args.username,
        password=args.password,
        prefix=args.prefix,
        tls=args.tls,
        extra_meters=args.extra_meters,
        extra_registers_per_meter=args.extra_registers_per_meter,
        range_limit_days=args.range_limit_days,
        public_enabled=not args.no_public,
        gzip=args.gzip,
    )
    await sim.start(host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    cert = f", cert {sim.cert_path}" if sim.cert_path else ""
    sys.stdout.write(f"DCS simulator listening on {sim.url} (user {args.username}{cert})\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(_serve(_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
