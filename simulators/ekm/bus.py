"""A simulated RS-485 bus of EKM meters behind a pseudo-terminal and/or a TCP bridge port."""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
import dataclasses
from enum import StrEnum
import json
import os
import random
import tty
from typing import TYPE_CHECKING

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.errors import EkmError
from custom_components.meterlink.protocols.ekm.models import EkmBlock, EkmVersion

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    import pathlib

    from .meter import SimMeter

NAK = b"\x15"
EVENTS_KEPT = 100_000  # bus events kept for tests and the demo to inspect


class Fault(StrEnum):
    """Faults the bus can inject into the answer to a read."""

    NO_ANSWER = "no_answer"
    DELAY = "delay"  # slow turnaround
    BAD_CRC = "bad_crc"
    CORRUPT_BYTE = "corrupt_byte"
    TRUNCATE = "truncate"
    GARBAGE = "garbage"
    WRONG_ADDRESS = "wrong_address"
    COLLISION = "collision"  # two meters answering at once


@dataclasses.dataclass
class _Injection:
    """A queued fault: which meter (None = any), how many more times, extra delay."""

    fault: Fault
    address: str | None
    remaining: int
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class BusEvent:
    """Something the bus saw: a read, password, write or end-of-session."""

    kind: str
    address: str | None = None
    detail: str = ""


class EkmSimBus:
    """Several virtual meters on one bus; answers only the addressed meter."""

    def __init__(
        self,
        meters: Iterable[SimMeter],
        *,
        baudrate: int = 9600,
        turnaround: float = 0.02,
        pace: bool = True,
        parity_bits: bool = False,
        fault_rate: float = 0.0,
        fault_delay: float = 0.5,
        seed: int | None = None,
        state_file: pathlib.Path | None = None,
    ) -> None:
        """Create the bus; ``pace`` sends at the real character rate after ``turnaround``.

        ``fault_rate`` injects a random fault (no answer, bad CRC, truncation, garbage, or a
        turnaround ``fault_delay`` s late) into that share of reads.
        """
        self.meters = {m.address: m for m in meters}
        self.baudrate = baudrate
        self.turnaround = turnaround
        self.pace = pace
        self.parity_bits = parity_bits
        self.fault_rate = fault_rate
        self.fault_delay = fault_delay
        self._random = random.Random(seed)
        self._injections: list[_Injection] = []
        self._lost_acks = 0
        self.selected: str | None = None
        self.authorized = False
        # the latest events (a long-running demo or soak must not grow without bound)
        self.events: deque[BusEvent] = deque(maxlen=EVENTS_KEPT)
        self._listeners: list[Callable[[BusEvent], None]] = []
        self.state_file = state_file
        if state_file is not None and state_file.exists():
            saved = json.loads(state_file.read_text())
            for address, settings in saved.items():
                if address in self.meters:
                    self.meters[address].restore(settings)
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ptys: list[tuple[int, int]] = []
        self._pty_queues: list[asyncio.Queue[bytes | None]] = []

    # --- faults and events ---------------------------------------------------------------

    def inject(
        self, fault: Fault, *, address: int | str | None = None, count: int = 1, seconds: float = 0
    ) -> None:
        """Queue ``fault`` for the next ``count`` reads (of ``address``, or of any meter)."""
        addr = None if address is None else codec.normalize_address(address)
        self._injections.append(_Injection(fault, addr, count, seconds))

    def lose_acks(self, count: int = 1) -> None:
        """Execute the next ``count`` writes but send no ACK (the reply is lost on the wire)."""
        self._lost_acks += count

    def clear_faults(self) -> None:
        """Forget every queued fault (a meter that rebooted answers normally again)."""
        self._injections.clear()
        self._lost_acks = 0

    def add_listener(self, listener: Callable[[BusEvent], None]) -> None:
        """Call ``listener`` for every bus event."""
        self._listeners.append(listener)

    def _record(self, event: BusEvent) -> None:
        """Remember and announce an event."""
        self.events.append(event)
        for listener in self._listeners:
            listener(event)

    def _take_fault(self, address: str) -> _Injection | None:
        """Pop the next fault for ``address``, or a random one at ``fault_rate``."""
        for inj in self._injections:
            if inj.address in (None, address):
                inj.remaining -= 1
                if inj.remaining <= 0:
                    self._injections.remove(inj)
                return inj
        if self.fault_rate and self._random.random() < self.fault_rate:
            fault = self._random.choice(
                [Fault.NO_ANSWER, Fault.BAD_CRC, Fault.TRUNCATE, Fault.GARBAGE, Fault.DELAY]
            )
            return _Injection(fault, address, 0, self.fault_delay)
        return None

    # --- protocol ------------------------------------------------------------------------

    def handle(self, event: codec.EkmMeterEvent) -> tuple[bytes, float]:  # noqa: PLR0911
        """Return (answer bytes, extra delay) for one request, command or end frame."""
        if isinstance(event, codec.EkmEndSession):
            self._record(BusEvent("end", self.selected))
            self.selected, self.authorized = None, False
            return b"", 0.0
        if isinstance(event, codec.EkmReadRequest):
            return self._read(event)
        meter = self.meters.get(self.selected) if self.selected else None
        if meter is None:  # nobody is listening for commands
            self._record(BusEvent("ignored", None, event.command))
            return b"", 0.0
        if event.command == "P1":
            ok = event.data == meter.password
            self.authorized = ok
            self._record(BusEvent("password", meter.address, "ok" if ok else "bad"))
            return (bytes((codec.ACK,)) if ok else b""), 0.0
        if event.command == "W1" and self.authorized:
            ok = meter.write(event.register, event.data)
            self._record(BusEvent("write", meter.address, f"{event.register}({event.data})"))
            self._save()
            if ok and self._lost_acks:
                self._lost_acks -= 1
                self._record(BusEvent("fault", meter.address, "lost_ack"))
                return b"", 0.0
            return (bytes((codec.ACK,)) if ok else NAK), 0.0
        self._record(BusEvent("refused", meter.address, event.command))
        return b"", 0.0

    def _read(self, request: codec.EkmReadRequest) -> tuple[bytes, float]:
        """Answer a read from the addressed meter, applying any injected fault."""
        meter = self.meters.get(request.address)
        self.selected, self.authorized = None, False
        self._record(BusEvent("read", request.address, request.block.value))
        if request.address == codec.ANY_SINGLE_METER:
            return self._read_any(request.block)
        if meter is None or not self._speaks(meter, request.block):
            return b"", 0.0  # nobody answers, nobody listens for commands
        self.selected = request.address
        frame = meter.block(request.block)
        inj = self._take_fault(request.address)
        if inj is None:
            return frame, 0.0
        self._record(BusEvent("fault", request.address, inj.fault.value))
        return self._apply(inj, frame, meter)

    @staticmethod
    def _speaks(meter: SimMeter, block: EkmBlock) -> bool:
        """Whether ``meter`` answers a read of ``block`` (v3 meters only v3 reads)."""
        return (meter.version is EkmVersion.V3) == (block is EkmBlock.V3)

    def _read_any(self, block: EkmBlock) -> tuple[bytes, float]:
        """Address 999999999999: every meter answers; more than one garble each other."""
        frames = [m.block(block) for m in self.meters.values() if self._speaks(m, block)]
        if not frames:
            return b"", 0.0
        if len(frames) == 1:
            self.selected = next(a for a, m in self.meters.items() if self._speaks(m, block))
            return frames[0], 0.0
        mixed = bytes(0x7F for _ in frames[0])
        for frame in frames:  # wired-AND of idle-high drivers
            mixed = bytes(a & b for a, b in zip(mixed, frame, strict=True))
        return mixed, 0.0

    def _apply(self, inj: _Injection, frame: bytes, meter: SimMeter) -> tuple[bytes, float]:
        """Damage ``frame`` as the fault says."""
        fault = inj.fault
        out = bytearray(frame)
        if fault is Fault.NO_ANSWER:
            return b"", 0.0
        if fault is Fault.DELAY:
            return frame, inj.seconds
        if fault is Fault.BAD_CRC:
            out[-1] ^= 0x01
        elif fault is Fault.CORRUPT_BYTE:
            out[100] ^= 0x04
        elif fault is Fault.TRUNCATE:
            del out[120:]
        elif fault is Fault.GARBAGE:
            out = bytearray(self._random.randrange(0x03, 0x7F) for _ in range(40))
        elif fault is Fault.WRONG_ADDRESS:
            stranger = next((a for a in self.meters if a != meter.address), "999999999999")
            out[4:16] = stranger.encode()
            out[-2:] = codec.crc16_bytes(bytes(out[1:-2]))
        else:  # COLLISION: two drivers on the wire; a 0 bit wins (wired-AND of idle-high lines)
            block = EkmBlock.V3 if meter.version is EkmVersion.V3 else EkmBlock.V4_A
            other_meter = next((m for m in self.meters.values() if m is not meter), meter)
            other = other_meter.block(block)
            out = bytearray(a & b for a, b in zip(out, other, strict=True))
            out[-1] ^= 0x01 if bytes(out) == frame else 0
        return bytes(out), 0.0

    def _save(self) -> None:
        """Persist settings if a state file is configured."""
        if self.state_file is None:
            return
        data = {addr: m.settings() for addr, m in self.meters.items()}
        self.state_file.write_text(json.dumps(data, indent=1))

    # --- timing -------------------------------------------------------------------------

    def _wire(self, n_bytes: int) -> float:
        """Seconds ``n_bytes`` take at the bus baud rate (7E1)."""
        return codec.wire_seconds(n_bytes, self.baudrate)

    async def _serve(
        self, chunks: asyncio.Queue[bytes | None], send: Callable[[bytes], None]
    ) -> None:
        """Process one port's incoming bytes in order, answering with wire timing."""
        loop = asyncio.get_running_loop()
        decoder = codec.EkmRequestDecoder()
        while (chunk := await chunks.get()) is not None:
            arrived = loop.time()
            decoder.feed(chunk)
            while True:
                try:
                    event = decoder.next_event()
                except EkmError as err:
                    self._record(BusEvent("garbage", None, str(err)))
                    continue
                if event is None:
                    break
                answer, delay = self.handle(event)
                if not answer:
                    continue
                if self.parity_bits:
                    answer = codec.add_even_parity(answer)
                await self._transmit(answer, send, arrived, event, delay)

    async def _transmit(
        self,
        answer: bytes,
        send: Callable[[bytes], None],
        arrived: float,
        event: codec.EkmMeterEvent,
        delay: float,
    ) -> None:
        """Send ``answer`` after the request's wire time and the turnaround, at wire pace."""
        loop = asyncio.get_running_loop()
        if not self.pace:
            await asyncio.sleep(delay)
            send(answer)
            return
        request_len = 19 if isinstance(event, codec.EkmReadRequest) else 18
        start = arrived + self._wire(request_len) + self.turnaround + delay
        step = 32
        for offset in range(0, len(answer), step):
            part = answer[offset : offset + step]
            due = start + self._wire(offset + len(part))
            await asyncio.sleep(max(0.0, due - loop.time()))
            send(part)

    # --- endpoints ----------------------------------------------------------------------

    def _spawn(self, chunks: asyncio.Queue[bytes | None], send: Callable[[bytes], None]) -> None:
        """Start serving one port."""
        task = asyncio.get_running_loop().create_task(self._serve(chunks, send))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen as a TCP serial bridge; return the port."""

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

            def send(data: bytes) -> None:
                if not writer.is_closing():
                    writer.write(data)

            self._spawn(chunks, send)
            try:
                while data := await reader.read(4096):
                    chunks.put_nowait(data)
            except ConnectionError:
                pass
            finally:
                chunks.put_nowait(None)
                self._writers.discard(writer)
                writer.close()

        server = await asyncio.start_server(on_client, host, port)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def start_pty(self) -> str:
        """Open a pseudo-terminal; return the path a serial client opens."""
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._ptys.append((master, slave))
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

        def on_readable() -> None:
            try:
                data = os.read(master, 4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                loop.remove_reader(master)
                return
            if data:
                chunks.put_nowait(data)

        def send(data: bytes) -> None:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(master, data)

        loop.add_reader(master, on_readable)
        self._spawn(chunks, send)
        self._pty_queues.append(chunks)
        return os.ttyname(slave)

    async def close(self) -> None:
        """Stop every endpoint and task."""
        loop = asyncio.get_running_loop()
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for master, slave in self._ptys:
            loop.remove_reader(master)
            os.close(master)
            os.close(slave)
        self._ptys.clear()
        for queue in self._pty_queues:
            queue.put_nowait(None)
        self._pty_queues.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
