"""Run the DLMS simulator: ``python -m simulators.dlms --host 127.0.0.1 --port 4059``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import PushFraming

from .han import HanList, PushSecurity
from .push import PushSimulator
from .server import DlmsSimulator, Faults, SimTransport


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.dlms", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4059)
    parser.add_argument("--transport", choices=[t.value for t in SimTransport], default="wrapper")
    parser.add_argument("--password", help="LLS password (enables low-level security)")
    parser.add_argument("--max-pdu", type=int, default=0xFFFF)
    parser.add_argument("--max-info", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument("--no-get-with-list", action="store_true")
    parser.add_argument("--push", choices=[h.value for h in HanList], help="push mode list format")
    parser.add_argument("--framing", choices=[f.value for f in PushFraming], default="hdlc")
    parser.add_argument("--security", choices=[s.value for s in DlmsSecurity], default="none")
    parser.add_argument("--block-cipher-key", help="hex, 16 bytes")
    parser.add_argument("--authentication-key", help="hex, 16 bytes")
    parser.add_argument("--interval", type=float, default=10.0, help="push interval (s)")
    parser.add_argument("--pty", action="store_true", help="push mode: also write to a new pty")
    return parser


async def _main(args: argparse.Namespace) -> None:
    if args.push:
        security = PushSecurity(
            security=DlmsSecurity(args.security),
            block_cipher_key=bytes.fromhex(args.block_cipher_key)
            if args.block_cipher_key
            else None,
            authentication_key=(
                bytes.fromhex(args.authentication_key) if args.authentication_key else None
            ),
        )
        pusher = PushSimulator(
            han_list=HanList(args.push), framing=PushFraming(args.framing), security=security
        )
        await pusher.start(args.host, args.port)
        where = f"{args.host}:{pusher.port}"
        if args.pty:
            master, slave = os.openpty()
            pusher.attach_pty(master)
            where += f" and {os.ttyname(slave)}"
        print(f"DLMS push simulator ({args.push}, {args.framing}) sending on {where}", flush=True)  # noqa: T201
        await pusher.run(args.interval)
        return
    simulator = DlmsSimulator(
        transport=SimTransport(args.transport),
        password=args.password.encode() if args.password else None,
        max_pdu=args.max_pdu,
        max_info=args.max_info,
        faults=Faults(latency_s=args.latency),
        get_with_list=not args.no_get_with_list,
    )
    await simulator.start(args.host, args.port)
    print(  # noqa: T201
        f"DLMS simulator ({args.transport}) listening on {args.host}:{simulator.port}", flush=True
    )
    await asyncio.Event().wait()


def main() -> None:
    """Parse arguments and run until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(_parser().parse_args()))


if __name__ == "__main__":
    main()
