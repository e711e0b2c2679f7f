"""Push (HAN/P1 port) simulator: emits DATA-NOTIFICATIONs on TCP clients and on a pty."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import os
from typing import TYPE_CHECKING

from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import PushFraming

from .han import HanList, HanSample, PushSecurity, frame_push, notification_apdu, protect
from .meter import SimulatedMeter

if TYPE_CHECKING:
    import datetime as dt


@dataclass(kw_only=True)
class PushFaults:
    """Faults of the push port; tests flip them at run time."""

    drop_after: int | None = None  # close TCP clients after this many pushes
    stall: bool = False  # stop pushing
    garbage: bool = False  # junk bytes before each push
    bad_checksum: bool = False  # corrupt HDLC FCS / M-Bus CS
    wrong_keys: bool = False  # cipher with keys the listener does not have


class PushSimulator:
    """Emit one notification per :meth:`push` (or every ``interval`` seconds when running)."""

    def __init__(
        self,
        *,
        meter: SimulatedMeter | None = None,
        han_list: HanList = HanList.AIDON,
        framing: PushFraming = PushFraming.HDLC,
        security: PushSecurity | None = None,
        faults: PushFaults | None = None,
        max_info: int = 128,
    ) -> None:
        """Configure the list format, framing and ciphering."""
        self.meter = meter or SimulatedMeter()
        self.han_list = han_list
        self.framing = framing
        self.security = security or PushSecurity()
        self.faults = faults or PushFaults()
        self.max_info = max_info
        self.invocation_counter = 0
        self.pushes = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._fds: list[int] = []
        self._connected = asyncio.Event()

    @property
    def port(self) -> int:
        """TCP port of the push socket."""
        if self._server is None:
            msg = "push simulator is not started"
            raise RuntimeError(msg)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen for TCP listeners (a HAN-to-TCP bridge such as ser2net)."""
        self._server = await asyncio.start_server(self._accept, host, port)

    def attach_pty(self, fd: int) -> None:
        """Also write every push to a pty master ``fd``."""
        self._fds.append(fd)

    async def wait_for_listener(self) -> None:
        """Return once a TCP listener is connected."""
        await self._connected.wait()

    async def _accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._connected.set()

    def sample(self) -> HanSample:
        """Current physical values of the meter as a HAN sample."""
        meter, now = self.meter, self.meter.now()

        def value(obis: str) -> float:
            return meter.physical_value(obis, now)

        return HanSample(
            timestamp=now.replace(microsecond=0),
            meter_id=meter.serial,
            power_import_w=round(value("1.0.1.7.0.255")),
            power_export_w=round(value("1.0.2.7.0.255")),
            reactive_import_var=round(value("1.0.3.7.0.255")),
            reactive_export_var=round(value("1.0.4.7.0.255")),
            current_a=(value("1.0.31.7.0.255"), value("1.0.51.7.0.255"), value("1.0.71.7.0.255")),
            voltage_v=(value("1.0.32.7.0.255"), value("1.0.52.7.0.255"), value("1.0.72.7.0.255")),
            energy_import_wh=round(value("1.0.1.8.0.255")),
            energy_export_wh=round(value("1.0.2.8.0.255")),
            reactive_energy_import_varh=round(value("1.0.3.8.0.255")),
            reactive_energy_export_varh=round(value("1.0.4.8.0.255")),
        )

    def frames(self) -> list[bytes]:
        """Build the wire frames of the next push (advancing the invocation counter)."""
        apdu = notification_apdu(self.han_list, self.sample())
        security = self.security
        if self.faults.wrong_keys and security.security is not DlmsSecurity.NONE:
            security = PushSecurity(
                security=security.security,
                system_title=security.system_title,
                block_cipher_key=bytes(16),
                authentication_key=bytes(16),
            )
        self.invocation_counter += 1
        ciphered = protect(apdu, security, self.invocation_counter)
        frames = frame_push(ciphered, self.framing, max_info=self.max_info)
        if self.faults.bad_checksum:
            frames = [frame[:-3] + bytes((frame[-3] ^ 0x5A,)) + frame[-2:] for frame in frames]
        if self.faults.garbage:
            frames = [b"\x00\xff\x13" + frame for frame in frames]
        return frames

    async def push(self) -> bytes:
        """Send one notification to every listener; return the bytes sent."""
        if self.faults.stall:
            return b""
        data = b"".join(self.frames())
        self.pushes += 1
        drop = self.faults.drop_after is not None and self.pushes > self.faults.drop_after
        if drop:
            self._connected.clear()
        for writer in list(self._writers):
            if drop:
                writer.close()
                self._writers.discard(writer)
                continue
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.write(fd, data)
        return data

    async def run(self, interval: float) -> None:
        """Push every ``interval`` seconds until cancelled."""
        while True:
            await self.push()
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop listening and close listeners."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


def fixed_clock(when: dt.datetime) -> SimulatedMeter:
    """A meter whose clock stands still (handy for deterministic pushes)."""
    return SimulatedMeter(now=lambda: when)
