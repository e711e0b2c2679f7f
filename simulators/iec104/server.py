"""IEC 104 outstation: a c104 server (an independent stack) behind a fault-injecting TCP front.

The c104 server holds one station with measured values, single/double points, integrated
totals and command points (direct and select-before-operate, one that refuses). Clients
connect to the front, which relays bytes and can add latency, stall the outstation's
direction, inject a malformed frame, drop connections, or stop listening (a reboot).

This module deliberately does not use ``from __future__ import annotations``: c104 checks
the annotations of Python callbacks at run time and needs real types there.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
import socket
import threading
from typing import Any, Self

import c104

# Outstation points: (IOA, c104 type name, initial value, command mode, related IOA, refuses).
POINTS: tuple[tuple[int, str, Any, str, int | None, bool], ...] = (
    (11, "M_ME_NC_1", 21.5, "", None, False),
    (12, "M_ME_TF_1", 1.25, "", None, False),
    (13, "M_ME_NA_1", 0.5, "", None, False),
    (14, "M_ME_NB_1", -7, "", None, False),
    (15, "M_ME_TD_1", -0.25, "", None, False),
    (16, "M_ME_TE_1", 1234, "", None, False),
    (21, "M_SP_NA_1", True, "", None, False),
    (22, "M_DP_NA_1", 2, "", None, False),
    (23, "M_SP_TB_1", False, "", None, False),
    (24, "M_DP_TB_1", 1, "", None, False),
    (31, "M_IT_NA_1", 1000, "", None, False),
    (32, "M_IT_TB_1", 2000, "", None, False),
    (101, "C_SC_NA_1", False, "direct", 21, False),
    (102, "C_SC_NA_1", False, "sbo", None, False),
    (103, "C_DC_NA_1", 1, "sbo", 22, False),
    (104, "C_SC_TA_1", False, "direct", 23, False),
    (111, "C_SE_NC_1", 0.0, "direct", 11, False),
    (112, "C_SE_NA_1", 0.0, "direct", 13, False),
    (113, "C_SE_NB_1", 0, "sbo", 14, False),
    (120, "C_SC_NA_1", False, "direct", None, True),
)
EXTRA_IOA = 1001  # first IOA of the extra measurements (``extra_points``)


def _c104_value(type_name: str, value: Any) -> Any:
    """Wrap a Python value in the c104 type a point of ``type_name`` expects."""
    if type_name in {"M_ME_NA_1", "M_ME_TD_1", "C_SE_NA_1"}:
        return c104.NormalizedFloat(value)
    if type_name in {"M_ME_NB_1", "M_ME_TE_1", "C_SE_NB_1"}:
        return c104.Int16(int(value))
    if type_name in {"M_DP_NA_1", "M_DP_TB_1", "C_DC_NA_1"}:
        return {
            0: c104.Double.INTERMEDIATE,
            1: c104.Double.OFF,
            2: c104.Double.ON,
            3: c104.Double.INDETERMINATE,
        }[int(value)]
    return value


def _python_value(value: Any) -> Any:
    """Unwrap c104 value types into bool / int / float."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, c104.Double):
        return int(value.value)
    for attribute in ("value",):
        inner = getattr(value, attribute, None)
        if isinstance(inner, int | float):
            return inner
    return float(value)


def _free_port() -> int:
    """A free TCP port on 127.0.0.1 for the c104 backend (c104 needs a fixed port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceivedCommand:
    """A command the outstation executed (select steps are handled inside c104)."""

    ioa: int
    value: Any
    select: bool


@dataclass(kw_only=True)
class Iec104Faults:
    """Faults the front injects; tests change them while the simulator runs."""

    latency_s: float = 0.0
    stall: bool = False  # hold back everything the outstation sends
    commands: list[ReceivedCommand] = field(default_factory=list)
    # execute the next N commands (not selects), then drop the connection before the
    # activation confirmation reaches the client (a confirmation lost on the way)
    drop_after_execute: int = 0


class Iec104Simulator:
    """An IEC 104 outstation on 127.0.0.1 with fault injection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        common_address: int = 1,
        change_interval_s: float | None = None,
        select_timeout_ms: int = 5000,
        extra_points: int = 0,
    ) -> None:
        """Prepare the c104 server; :meth:`start` opens the sockets.

        ``extra_points`` adds that many short-float measurements (M_ME_NC_1) at IOA
        ``EXTRA_IOA``, ``EXTRA_IOA + 1``, ... (a large outstation, e.g. for the soak benchmark).
        """
        self.host = host
        self.port = port
        self.common_address = common_address
        self.change_interval_s = change_interval_s
        self.faults = Iec104Faults()
        self.connections = 0
        self._lock = threading.Lock()
        self._drop_before_next_reply = False  # set on a c104 thread, read by the front
        self._backend_port = _free_port()
        self._server = c104.Server(
            ip="127.0.0.1",
            port=self._backend_port,
            tick_rate_ms=50,
            select_timeout_ms=select_timeout_ms,
        )
        station = self._server.add_station(common_address=common_address)
        assert station is not None  # noqa: S101 - fresh server
        self._station = station
        self._points: dict[int, Any] = {}
        self._types: dict[int, str] = {}
        extra = tuple(
            (EXTRA_IOA + n, "M_ME_NC_1", 0.0, "", None, False) for n in range(extra_points)
        )
        for ioa, type_name, value, mode, related, refuses in POINTS + extra:
            point = station.add_point(
                io_address=ioa,
                type=getattr(c104.Type, type_name),
                related_io_address=related,
                related_io_autoreturn=related is not None,
                command_mode=(
                    c104.CommandMode.SELECT_AND_EXECUTE
                    if mode == "sbo"
                    else c104.CommandMode.DIRECT
                ),
            )
            assert point is not None  # noqa: S101 - unique IOAs
            if mode:
                point.on_receive(callable=self._command_handler(related, refuses))
            else:
                point.value = _c104_value(type_name, value)
            self._points[ioa] = point
            self._types[ioa] = type_name
        self._front: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.ticks = 0
        self.ticked = asyncio.Event()  # set after every tick

    def _command_handler(self, related: int | None, refuses: bool) -> Any:
        """Build the c104 callback of a command point (runs on a c104 thread)."""

        def on_command(
            point: c104.Point,
            previous_info: c104.Information,  # noqa: ARG001 - c104 checks the signature
            message: c104.IncomingMessage,
        ) -> c104.ResponseState:
            value = _python_value(point.value)
            with self._lock:
                self.faults.commands.append(
                    ReceivedCommand(
                        ioa=point.io_address, value=value, select=message.is_select_command
                    )
                )
                if self.faults.drop_after_execute > 0 and not message.is_select_command:
                    self.faults.drop_after_execute -= 1
                    self._drop_before_next_reply = True
            if refuses:
                return c104.ResponseState.FAILURE
            if related is not None:
                self._points[related].value = _c104_value(self._types[related], value)
            return c104.ResponseState.SUCCESS

        return on_command

    @property
    def listen_line(self) -> str:
        """The one line ``python -m simulators.iec104`` prints."""
        return (
            f"IEC 104 simulator (c104 outstation, common address {self.common_address}) "
            f"listening on {self.host}:{self.port}"
        )

    async def start(self) -> None:
        """Start c104 and the front listener."""
        await asyncio.to_thread(self._server.start)
        await self.resume()
        if self.change_interval_s:
            self._ticker = asyncio.create_task(self._tick_forever(self.change_interval_s))

    async def resume(self) -> None:
        """(Re)open the front listener on the same port."""
        self._front = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._front.sockets[0].getsockname()[1])

    async def pause(self) -> None:
        """Stop listening and drop every connection (an outstation reboot)."""
        if self._front is not None:
            self._front.close()
            self._front = None
        await self.drop_connections()

    async def drop_connections(self) -> None:
        """Close every client connection."""
        for writer in list(self._clients):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def inject_malformed(self) -> None:
        """Send every client a frame with an invalid length octet."""
        for writer in self._clients:
            writer.write(b"\x68\x01\x00\x00\x00\x00")

    async def stop(self) -> None:
        """Stop everything."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.pause()
        await asyncio.to_thread(self._server.stop)

    async def __aenter__(self) -> Self:
        """Start on entering ``async with``."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on leaving ``async with``."""
        await self.stop()

    # -- values ----------------------------------------------------------------------------

    def value(self, ioa: int) -> Any:
        """Current value of a point as bool / int / float."""
        return _python_value(self._points[ioa].value)

    def set_value(self, ioa: int, value: Any, *, spontaneous: bool = False) -> None:
        """Change a monitoring point, and send it spontaneously if asked."""
        point = self._points[ioa]
        point.value = _c104_value(self._types[ioa], value)
        if spontaneous:
            point.transmit(cause=c104.Cot.SPONTANEOUS)

    def set_quality(self, ioa: int, *flags: str, spontaneous: bool = False) -> None:
        """Set quality flags (c104 names: Invalid, NonTopical, Blocked, Substituted, Overflow)."""
        point = self._points[ioa]
        quality = c104.Quality()
        for flag in flags:
            quality |= getattr(c104.Quality, flag)
        point.quality = quality
        if spontaneous:
            point.transmit(cause=c104.Cot.SPONTANEOUS)

    async def tick(self) -> None:
        """Change the live values once and send them spontaneously."""
        self.ticks += 1
        self.ticked.set()
        self.set_value(11, 21.5 + self.ticks, spontaneous=True)
        self.set_value(31, 1000 + 10 * self.ticks, spontaneous=True)

    async def _tick_forever(self, interval_s: float) -> None:
        """Run :meth:`tick` periodically."""
        while True:
            await asyncio.sleep(interval_s)
            await self.tick()

    # -- front -----------------------------------------------------------------------------

    def _take_drop(self) -> bool:
        """Whether a command was executed whose confirmation must be lost (clears the flag)."""
        with self._lock:
            drop, self._drop_before_next_reply = self._drop_before_next_reply, False
        return drop

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay one client connection to the c104 backend."""
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - always inside a task
        self._tasks.add(task)
        self._clients.add(writer)
        self.connections += 1
        backend_writer: asyncio.StreamWriter | None = None
        try:
            backend_reader, backend_writer = await asyncio.open_connection(
                "127.0.0.1", self._backend_port
            )
            upstream = asyncio.ensure_future(self._pump(reader, backend_writer, delay=False))
            downstream = asyncio.ensure_future(self._pump(backend_reader, writer, delay=True))
            try:
                await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                upstream.cancel()
                downstream.cancel()
                await asyncio.gather(upstream, downstream, return_exceptions=True)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            self._clients.discard(writer)
            writer.close()
            if backend_writer is not None:
                backend_writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delay: bool
    ) -> None:
        """Copy bytes one way; the outstation's direction honours latency and stall."""
        held = bytearray()
        while True:
            data = await reader.read(4096)
            if not data:
                return
            if delay and self._take_drop():
                return  # the connection closes; this reply is never sent
            if delay and self.faults.stall:
                held += data
                continue
            if delay and self.faults.latency_s:
                await asyncio.sleep(self.faults.latency_s)
            writer.write(bytes(held) + data)
            held.clear()
            await writer.drain()
