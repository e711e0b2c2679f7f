"""A TCP proxy that puts network faults between a client and any simulator.

The simulators inject protocol faults (bad checksums, wrong keys, server errors). What happens on
the wire between two hosts is the same for every protocol, so it lives here once:

- ``refuse``: the listening socket is closed; connects are refused (a device switched off).
- ``drop_mid_frame``: the next reply from the device is cut after ``cut_at`` bytes and both
  connections are closed (a cable pulled mid-frame).
- ``stall``: bytes are accepted and held back in both directions; nothing is closed.
- ``half_open``: as stall, and the device side is dropped without the client noticing: no FIN, no
  RST, ever (the peer vanished, e.g. a router rebooted).
- ``garbage``: junk bytes are sent to the client before the next reply.
- ``restart()``: every connection is reset and the listener reopened on the same port
  (a serial bridge or a device rebooting).

The proxy runs in the caller's event loop; ``port`` stays the same for the proxy's lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import logging
from typing import Literal

_LOGGER = logging.getLogger(__name__)

Mode = Literal["pass", "stall", "half_open"]
GARBAGE = b"\xa5\x00\xff\x13\x37garbage\x7e\x7e\x00"


@dataclass
class ProxyStats:
    """What went through the proxy."""

    connections: int = 0
    to_device: int = 0  # bytes forwarded client -> device
    to_client: int = 0  # bytes forwarded device -> client
    cuts: int = 0


@dataclass(eq=False)
class _Pair:
    """One proxied connection."""

    client: asyncio.StreamWriter
    device: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    held: bool = False


class FaultProxy:
    """Forward 127.0.0.1:``port`` to ``target_host``:``target_port`` with faults on demand."""

    def __init__(self, target_port: int, *, target_host: str = "127.0.0.1", port: int = 0) -> None:
        """Prepare the proxy; :meth:`start` listens."""
        self.target_host = target_host
        self.target_port = target_port
        self.port = port
        self.mode: Mode = "pass"
        self.stats = ProxyStats()
        self._cut_at: int | None = None
        self._garbage_next = False
        self._server: asyncio.Server | None = None
        self._pairs: set[_Pair] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self._resume = asyncio.Event()
        self._resume.set()
        self.forwarded = asyncio.Condition()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        """Listen (again) on the proxy port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close the listener and every connection."""
        await self.refuse()
        self._resume.set()

    async def refuse(self) -> None:
        """Close the listener and reset all connections: new connects are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self.reset_connections()
        if server is not None:
            # since Python 3.12 this waits for the accepted connections too: reset them first
            await server.wait_closed()

    async def restart(self) -> None:
        """Reset every connection and listen again on the same port (a reboot)."""
        await self.refuse()
        self.mode = "pass"
        self._resume.set()
        await self.start()

    async def reset_connections(self) -> None:
        """Abort every open connection (RST to the client)."""
        for pair in list(self._pairs):
            self._close_pair(pair, abort=True)
        for writer in list(self._held) + list(self._clients):
            writer.transport.abort()
        self._held.clear()
        self._clients.clear()
        self._pairs.clear()

    @property
    def listening(self) -> bool:
        """Whether connects are accepted."""
        return self._server is not None

    @property
    def open_connections(self) -> int:
        """How many client connections are open now."""
        return len(self._pairs)

    # -- faults ----------------------------------------------------------------------------------

    def set_mode(self, mode: Mode) -> None:
        """Switch between passing, stalling and a silently vanished peer."""
        self.mode = mode
        if mode == "pass":
            self._resume.set()
        else:
            self._resume.clear()
        if mode == "half_open":
            # the device side goes away; the client side is never told
            for pair in list(self._pairs):
                pair.held = True
                self._pairs.discard(pair)
                self._held.add(pair.client)
                with contextlib.suppress(OSError, RuntimeError):
                    pair.device.transport.abort()
                for task in pair.tasks:
                    task.cancel()

    def drop_mid_frame(self, cut_at: int = 3) -> None:
        """Cut the next device -> client chunk after ``cut_at`` bytes and close both sides."""
        self._cut_at = cut_at

    def garbage_next(self) -> None:
        """Send junk to the client before the next device -> client chunk."""
        self._garbage_next = True

    async def wait_forwarded(self, *, to_device: int = 0, to_client: int = 0) -> None:
        """Wait until at least these many bytes went through in total."""
        async with self.forwarded:
            await self.forwarded.wait_for(
                lambda: self.stats.to_device >= to_device and self.stats.to_client >= to_client
            )

    # -- plumbing --------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Open the device side and pump both directions."""
        self.stats.connections += 1
        if self._server is None:
            # accepted just before the listener closed: a refused connect
            writer.transport.abort()
            return
        if self.mode == "half_open":
            # a new connect reaches nobody: hold it open and silent
            await self._hold(reader, writer)
            return
        self._clients.add(writer)
        try:
            dev_reader, dev_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        finally:
            self._clients.discard(writer)
        if writer.transport.is_closing():
            # reset while the device side was being opened
            dev_writer.transport.abort()
            return
        pair = _Pair(client=writer, device=dev_writer)
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, dev_writer, pair, to_client=False)),
            asyncio.create_task(self._pump(dev_reader, writer, pair, to_client=True)),
        ]
        await asyncio.gather(*pair.tasks, return_exceptions=True)
        if not pair.held:
            self._close_pair(pair, abort=False)

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Swallow what the client sends, answer nothing, never close."""
        self._held.add(writer)
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while await reader.read(4096):
                pass
        self._held.discard(writer)
        writer.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: _Pair,
        *,
        to_client: bool,
    ) -> None:
        """Copy one direction, applying the faults."""
        try:
            while data := await reader.read(65536):
                await self._resume.wait()
                if pair not in self._pairs:
                    return
                if to_client and self._garbage_next:
                    self._garbage_next = False
                    writer.write(GARBAGE)
                if to_client and self._cut_at is not None:
                    cut, self._cut_at = self._cut_at, None
                    writer.write(data[:cut])
                    with contextlib.suppress(OSError):
                        await writer.drain()
                    self.stats.cuts += 1
                    self._close_pair(pair, abort=False)
                    return
                writer.write(data)
                await writer.drain()
                async with self.forwarded:
                    if to_client:
                        self.stats.to_client += len(data)
                    else:
                        self.stats.to_device += len(data)
                    self.forwarded.notify_all()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if not pair.held:
                self._close_pair(pair, abort=False)

    def _close_pair(self, pair: _Pair, *, abort: bool) -> None:
        """Close both sides of a connection (abort sends RST)."""
        self._pairs.discard(pair)
        for writer in (pair.client, pair.device):
            with contextlib.suppress(OSError, RuntimeError):
                if abort:
                    writer.transport.abort()
                else:
                    writer.close()
        for task in pair.tasks:
            if task is not asyncio.current_task():
                task.cancel()
