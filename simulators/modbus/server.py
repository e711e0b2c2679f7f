"""Modbus simulator: pymodbus server (several units) behind a front that injects faults.

The pymodbus server holds the data (coils, discrete inputs, holding and input registers for
each unit id) and answers requests. Clients connect to the front, which forwards one request
at a time (like a real device) and can add latency, answer with exception responses, stay
silent for some units, stall, drop the connection, send malformed frames, ignore writes, or
stop listening altogether (a reboot).
"""

from __future__ import annotations

import asyncio
from collections import Counter
import contextlib
import dataclasses
from dataclasses import dataclass, field
import logging
import math
from typing import Any, Self

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer

try:  # pymodbus 3.10+ (API_changes.rst: ModbusSlaveContext -> ModbusDeviceContext)
    from pymodbus.datastore import ModbusDeviceContext as _DeviceContext

    _DEVICES_KEYWORD = "devices"
except ImportError:  # pragma: no cover - pymodbus 3.8 / 3.9
    from pymodbus.datastore import (  # type: ignore[attr-defined,no-redef]
        ModbusSlaveContext as _DeviceContext,
    )

    _DEVICES_KEYWORD = "slaves"

# Typed as Any: their annotations differ between the pymodbus versions we support.
_Block: Any = ModbusSequentialDataBlock
_ServerContext: Any = ModbusServerContext
_Server: Any = ModbusTcpServer

_LOGGER = logging.getLogger(__name__)

MBAP_HEADER = 7  # Modbus Messaging on TCP/IP V1.0b, 3.1.3: tid(2) pid(2) length(2) unit(1)
READ_FCS = {1, 2, 3, 4}  # MAP V1.1b3, 6.1-6.4
SINGLE_WRITE_FCS = {5, 6}  # MAP V1.1b3, 6.5-6.6
MULTI_WRITE_FCS = {15, 16}  # MAP V1.1b3, 6.11-6.12
TABLE_FCS = {
    "coil": {1, 5, 15},
    "discrete_input": {2},
    "holding_register": {3, 6, 16},
    "input_register": {4},
}
_DATASTORE_FC = {"coil": 1, "discrete_input": 2, "holding_register": 3, "input_register": 4}


def crc16(data: bytes) -> int:
    """Modbus RTU CRC (Modbus over Serial Line V1.02, 6.2.2: poly 0xA001, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(kw_only=True)
class ExceptionRule:
    """Answer requests touching [start, end) of a table with an exception code."""

    start: int
    end: int
    code: int = 2
    unit_id: int | None = None
    table: str | None = None
    writes_only: bool = False


@dataclass(kw_only=True)
class ModbusFaults:
    """Faults the front injects; tests change them while the simulator runs."""

    latency_s: float = 0.0
    exception_rules: list[ExceptionRule] = field(default_factory=list)
    silent_units: set[int] = field(default_factory=set)
    ignore_writes: list[ExceptionRule] = field(default_factory=list)
    drop_next: int = 0
    stall_next: int = 0
    malformed_next: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class _Request:
    """A request as the front sees it."""

    unit_id: int
    function_code: int
    address: int
    count: int
    header: bytes  # MBAP transaction id + protocol id (TCP) or b"" (RTU)
    raw: bytes


class ModbusSimulator:
    """A multi-unit Modbus device on 127.0.0.1 with changing values and fault injection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        unit_ids: tuple[int, ...] = (1, 2, 3),
        size: int = 2000,
        rtu: bool = False,
        change_interval_s: float | None = None,
    ) -> None:
        """Prepare the datastore; :meth:`start` opens the sockets."""
        self.host = host
        self.port = port
        self.unit_ids = unit_ids
        self.size = size
        self.rtu = rtu
        self.change_interval_s = change_interval_s
        self.faults = ModbusFaults()
        self.requests: Counter[int] = Counter()
        # writes the device executed, by (unit id, function code, address)
        self.writes: Counter[tuple[int, int, int]] = Counter()
        self.writes_applied = 0  # write requests the datastore answered without an exception
        self.connections = 0
        self._devices = {
            unit: _DeviceContext(
                co=_Block(1, [False] * size),
                di=_Block(1, [False] * size),
                hr=_Block(1, [0] * size),
                ir=_Block(1, [0] * size),
            )
            for unit in unit_ids
        }
        self._context = _ServerContext(**{_DEVICES_KEYWORD: self._devices}, single=False)
        simdevices = getattr(self._context, "simdevices", None)
        if simdevices and any(not hasattr(entry, "simdata") for entry in simdevices):
            # pymodbus 3.13.x lists the device contexts instead of their SimDevices here,
            # which its server then rejects; hand it the SimDevices with their unit ids.
            self._context.simdevices = [
                dataclasses.replace(getattr(device, "simdevice"), id=unit)  # noqa: B009
                for unit, device in self._devices.items()
            ]
        self._backend: Any = None
        self._backend_port = 0
        self._front: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.ticks = 0
        self.ticked = asyncio.Event()  # set after every tick

    @property
    def listen_line(self) -> str:
        """The one line ``python -m simulators.modbus`` prints."""
        kind = "RTU over TCP" if self.rtu else "Modbus TCP"
        units = ",".join(str(u) for u in self.unit_ids)
        return f"Modbus simulator ({kind}) listening on {self.host}:{self.port} (units {units})"

    async def start(self) -> None:
        """Start the pymodbus backend and the front listener."""
        framer = FramerType.RTU if self.rtu else FramerType.SOCKET
        self._backend = _Server(self._context, framer=framer, address=("127.0.0.1", 0))
        if not await self._backend.listen():
            msg = "pymodbus backend could not listen"
            raise RuntimeError(msg)
        listener: Any = self._backend.transport
        self._backend_port = int(listener.sockets[0].getsockname()[1])
        await self.resume()
        if self.change_interval_s:
            self._ticker = asyncio.create_task(self._tick_forever(self.change_interval_s))

    async def resume(self) -> None:
        """(Re)open the front listener on the same port."""
        self._front = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._front.sockets[0].getsockname()[1])

    async def pause(self) -> None:
        """Stop listening and drop every connection (a device or gateway reboot)."""
        if self._front is not None:
            self._front.close()
            self._front = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop everything."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.pause()
        if self._backend is not None:
            await self._backend.shutdown()
            self._backend = None

    async def __aenter__(self) -> Self:
        """Start on entering ``async with``."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop on leaving ``async with``."""
        await self.stop()

    # -- datastore ---------------------------------------------------------------------

    def _sim_core(self) -> Any:
        """Return the SimCore pymodbus 3.13+ wraps the context in, or None (older versions)."""
        context = getattr(self._backend, "context", None)
        if context is not None and context is not self._context:
            return context
        return None

    async def set_values(
        self, unit_id: int, table: str, address: int, values: list[int] | list[bool]
    ) -> None:
        """Write values into a unit's table (0-based protocol address)."""
        fc = _DATASTORE_FC[table]
        core = self._sim_core()
        if core is not None:
            await core.async_setValues(unit_id, fc, address, values)
            return
        device: Any = self._devices[unit_id]
        if hasattr(device, "setValues"):
            device.setValues(fc, address, values)
        else:  # pragma: no cover - async-only datastores
            await device.async_setValues(fc, address, values)

    async def get_values(
        self, unit_id: int, table: str, address: int, count: int = 1
    ) -> list[int] | list[bool]:
        """Read values from a unit's table (0-based protocol address)."""
        fc = _DATASTORE_FC[table]
        core = self._sim_core()
        if core is not None:
            result: Any = await core.async_getValues(unit_id, fc, address, count)
        else:
            device: Any = self._devices[unit_id]
            if hasattr(device, "getValues"):
                result = device.getValues(fc, address, count)
            else:  # pragma: no cover - async-only datastores
                result = await device.async_getValues(fc, address, count)
        return list(result)

    async def tick(self) -> None:
        """Change the live values once (input registers 0-1 energy uint32, 2 power int16)."""
        self.ticks += 1
        self.ticked.set()
        for unit in self.unit_ids:
            energy = (self.ticks * 7 * unit) & 0xFFFFFFFF
            power = round(1000 * math.sin(self.ticks / 5)) & 0xFFFF
            await self.set_values(unit, "input_register", 0, [energy >> 16, energy & 0xFFFF, power])

    async def _tick_forever(self, interval_s: float) -> None:
        """Run :meth:`tick` periodically."""
        while True:
            await asyncio.sleep(interval_s)
            await self.tick()

    # -- front -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection, one request at a time."""
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - always inside a task
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        backend: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            backend = await asyncio.open_connection("127.0.0.1", self._backend_port)
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                if not await self._handle(request, writer, backend):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except asyncio.CancelledError:
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()
            if backend is not None:
                backend[1].close()

    async def _handle(
        self,
        request: _Request,
        writer: asyncio.StreamWriter,
        backend: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> bool:
        """Apply faults to one request and answer it; False closes the connection."""
        faults = self.faults
        self.requests[request.unit_id] += 1
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if faults.drop_next > 0:
            faults.drop_next -= 1
            return False
        if faults.stall_next > 0 or request.unit_id in faults.silent_units:
            faults.stall_next = max(0, faults.stall_next - 1)
            return True
        if faults.malformed_next > 0:
            faults.malformed_next -= 1
            writer.write(self._malformed(request))
            await writer.drain()
            return True
        code = self._exception_for(request, faults.exception_rules)
        if code is not None:
            writer.write(self._frame(request, bytes([request.function_code | 0x80, code])))
            await writer.drain()
            return True
        if request.function_code not in READ_FCS and self._exception_for(
            request, faults.ignore_writes
        ):
            writer.write(self._frame(request, self._write_echo(request)))
            await writer.drain()
            return True
        if request.function_code not in READ_FCS:
            self.writes[request.unit_id, request.function_code, request.address] += 1
        backend[1].write(request.raw)
        await backend[1].drain()
        response = await self._read_response(backend[0])
        if request.function_code not in READ_FCS and not self._is_exception(response):
            self.writes_applied += 1
        writer.write(response)
        await writer.drain()
        return True

    def _is_exception(self, response: bytes) -> bool:
        """Whether a backend answer is an exception response (function code high bit)."""
        offset = 1 if self.rtu else 7  # RTU: unit id; TCP: MBAP header
        return len(response) > offset and bool(response[offset] & 0x80)

    @staticmethod
    def _exception_for(request: _Request, rules: list[ExceptionRule]) -> int | None:
        """First rule matching the request, as its exception code."""
        for rule in rules:
            if rule.unit_id is not None and rule.unit_id != request.unit_id:
                continue
            if rule.table is not None and request.function_code not in TABLE_FCS[rule.table]:
                continue
            if rule.writes_only and request.function_code in READ_FCS:
                continue
            if request.address < rule.end and rule.start < request.address + request.count:
                return rule.code
        return None

    @staticmethod
    def _write_echo(request: _Request) -> bytes:
        """The normal answer to a write, without writing (a device that ignores writes)."""
        pdu = request.raw[MBAP_HEADER:] if request.header else request.raw[1:-2]
        return pdu[:5]

    def _frame(self, request: _Request, pdu: bytes) -> bytes:
        """Wrap a PDU for the client's framing."""
        if self.rtu:
            body = bytes([request.unit_id]) + pdu
            return body + crc16(body).to_bytes(2, "little")
        length = len(pdu) + 1
        return request.header + length.to_bytes(2, "big") + bytes([request.unit_id]) + pdu

    def _malformed(self, request: _Request) -> bytes:
        """A broken answer: bad CRC (RTU) or a byte count that contradicts the length (TCP)."""
        if self.rtu:
            body = bytes([request.unit_id, request.function_code, 2, 0, 1])
            return body + ((crc16(body) ^ 0xFFFF).to_bytes(2, "little"))
        pdu = bytes([request.function_code, 200, 0, 1])
        return self._frame(request, pdu)

    async def _read_request(self, reader: asyncio.StreamReader) -> _Request | None:
        """Read one request frame, or None at end of stream or on junk."""
        if self.rtu:
            head = await reader.readexactly(2)
            unit, fc = head[0], head[1]
            if fc in READ_FCS | SINGLE_WRITE_FCS:
                rest = await reader.readexactly(6)
            elif fc in MULTI_WRITE_FCS:
                fixed = await reader.readexactly(5)
                rest = fixed + await reader.readexactly(fixed[4] + 2)
            else:
                return None
            raw = head + rest
            if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
                return None
            pdu = raw[1:-2]
            header = b""
        else:
            head = await reader.readexactly(MBAP_HEADER)
            length = int.from_bytes(head[4:6], "big")
            if head[2:4] != b"\x00\x00" or not 2 <= length <= 254:
                return None
            pdu = await reader.readexactly(length - 1)
            raw = head + pdu
            unit, fc = head[6], pdu[0]
            header = head[:4]
        address = int.from_bytes(pdu[1:3], "big") if len(pdu) >= 3 else 0
        count = 1 if fc in SINGLE_WRITE_FCS else int.from_bytes(pdu[3:5], "big")
        return _Request(
            unit_id=unit, function_code=fc, address=address, count=count, header=header, raw=raw
        )

    async def _read_response(self, reader: asyncio.StreamReader) -> bytes:
        """Read one response frame from the backend."""
        if not self.rtu:
            head = await reader.readexactly(MBAP_HEADER)
            return head + await reader.readexactly(int.from_bytes(head[4:6], "big") - 1)
        head = await reader.readexactly(2)
        fc = head[1]
        if fc & 0x80:
            return head + await reader.readexactly(3)
        if fc in READ_FCS:
            size = await reader.readexactly(1)
            return head + size + await reader.readexactly(size[0] + 2)
        return head + await reader.readexactly(6)
