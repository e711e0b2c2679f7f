"""Asyncio Modbus client on pymodbus: executes read plans, verified writes, reconnect backoff.

Works with pymodbus 3.8.3 .. 3.x: the unit keyword was ``slave=`` until 3.9 and is
``device_id=`` from 3.10 on; it is picked once from the installed client's signature.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import inspect
import logging
from typing import TYPE_CHECKING, Any, Self

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from .codec import decode_registers, encode_bit, encode_value
from .errors import (
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionResponseError,
    ModbusProtocolError,
    ModbusTimeoutError,
    ModbusValueError,
    ModbusWriteUnconfirmedError,
    ModbusWriteVerifyError,
)
from .models import DataType, ModbusPoint, PointValue, Table
from .planner import PlanLimits, ReadRequest, decode_block, plan_reads

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from types import TracebackType

    from custom_components.meterlink.protocols.capture import FrameCallback

_LOGGER = logging.getLogger(__name__)

# pymodbus renamed the unit keyword: slave= (3.3 .. 3.9) -> device_id= (3.10+, API_changes.rst).
UNIT_KEYWORD = (
    "device_id"
    if "device_id" in inspect.signature(AsyncModbusTcpClient.read_coils).parameters
    else "slave"
)
EXCEPTION_ILLEGAL_ADDRESS = 2  # MAP V1.1b3, 7: ILLEGAL DATA ADDRESS
EXCEPTION_ILLEGAL_VALUE = 3  # MAP V1.1b3, 7: ILLEGAL DATA VALUE
MAX_WRITE_REGISTERS = 123  # MAP V1.1b3, 6.12: FC16 quantity 1..123


class ModbusTransport(StrEnum):
    """How the client reaches the device."""

    TCP = "tcp"  # Modbus TCP (MBAP header), Modbus Messaging on TCP/IP V1.0b
    RTU_OVER_TCP = "rtu_over_tcp"  # RTU frames with CRC through a transparent TCP gateway
    RTU_SERIAL = "rtu_serial"  # RTU on a local serial port (Modbus over Serial Line V1.02)


@dataclass(frozen=True, kw_only=True)
class ModbusReadResult:
    """Values of the points that could be read, and a typed error for each that could not."""

    values: dict[str, PointValue] = field(default_factory=dict)
    errors: dict[str, ModbusError] = field(default_factory=dict)
    requests: int = 0


class ModbusClient:
    """One connection (TCP endpoint or serial port) to one or more Modbus units."""

    def __init__(
        self,
        *,
        transport: ModbusTransport = ModbusTransport.TCP,
        host: str | None = None,
        port: int = 502,
        serial_port: str | None = None,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        timeout_s: float = 3.0,
        retries: int = 0,
        reconnect_delay_s: float = 0.5,
        reconnect_delay_max_s: float = 60.0,
        on_frame: FrameCallback | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Store the settings; nothing connects until the first request or :meth:`connect`.

        ``clock`` (default: the event loop's) times the reconnect backoff; tests inject one.
        """
        if transport is ModbusTransport.RTU_SERIAL:
            if not serial_port:
                msg = "rtu_serial needs serial_port"
                raise ValueError(msg)
        elif not host:
            msg = f"{transport} needs host"
            raise ValueError(msg)
        self.transport = transport
        self.host = host
        self.port = port
        self.serial_port = serial_port
        self._serial: dict[str, Any] = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        self.timeout_s = timeout_s
        self.retries = retries
        self.reconnect_delay_s = reconnect_delay_s
        self.reconnect_delay_max_s = reconnect_delay_max_s
        self._on_frame = on_frame
        self._clock = clock
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._lock = asyncio.Lock()
        self._lost: asyncio.Event = asyncio.Event()
        self._delay_s = 0.0
        self._next_attempt = 0.0
        self.connect_attempts = 0

    @property
    def target(self) -> str:
        """Human-readable endpoint for messages."""
        if self.transport is ModbusTransport.RTU_SERIAL:
            return f"serial port {self.serial_port}"
        return f"{self.host}:{self.port} ({self.transport})"

    @property
    def connected(self) -> bool:
        """Whether the link is up."""
        return self._client is not None and self._client.connected and not self._lost.is_set()

    async def __aenter__(self) -> Self:
        """Connect on entering ``async with``."""
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving ``async with``."""
        await self.close()

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """Forward raw frames to the capture hook (pymodbus trace_packet, 3.8+)."""
        if self._on_frame is not None:
            self._on_frame("tx" if sending else "rx", bytes(data))
        return data

    def _trace_connect(self, connected: bool) -> None:
        """Note a lost link so a pending request fails at once instead of timing out."""
        if not connected:
            self._lost.set()

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        """Build the pymodbus client; its own reconnect is off, we back off ourselves."""
        common: dict[str, Any] = {
            "timeout": self.timeout_s,
            "retries": self.retries,
            "reconnect_delay": 0,
            "trace_packet": self._trace_packet,
            "trace_connect": self._trace_connect,
        }
        if self.transport is ModbusTransport.RTU_SERIAL:
            assert self.serial_port is not None  # noqa: S101 - checked in __init__
            bridge = _socket_bridge(self.serial_port)
            if bridge is not None:
                # A raw TCP serial bridge carries the RTU bytes unchanged: talk RTU over TCP
                # (pymodbus 3.16's serial transport fails on socket:// URLs).
                return AsyncModbusTcpClient(
                    bridge[0], port=bridge[1], framer=FramerType.RTU, **common
                )
            return AsyncModbusSerialClient(
                self.serial_port, framer=FramerType.RTU, **self._serial, **common
            )
        assert self.host is not None  # noqa: S101 - checked in __init__
        framer = FramerType.SOCKET if self.transport is ModbusTransport.TCP else FramerType.RTU
        return AsyncModbusTcpClient(self.host, port=self.port, framer=framer, **common)

    def reconnect_wait_s(self) -> float:
        """Seconds until :meth:`connect` may try again (0 when it may now)."""
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        return max(0.0, self._next_attempt - now)

    async def connect(self) -> None:
        """Open the link, honouring the backoff after failed attempts."""
        if self.connected:
            return
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        wait = self._next_attempt - now
        if wait > 0:
            msg = f"{self.target} unreachable; next reconnect attempt in {wait:.1f} s"
            raise ModbusConnectionError(msg)
        self._drop_client()
        client = self._make_client()
        self.connect_attempts += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                ok = await client.connect()
        except (TimeoutError, OSError, ModbusException) as err:
            ok = False
            _LOGGER.debug("connect to %s failed: %s", self.target, err)
        if not ok:
            client.close()
            self._delay_s = min(
                self.reconnect_delay_max_s, max(self.reconnect_delay_s, self._delay_s * 2)
            )
            self._next_attempt = now + self._delay_s
            msg = f"cannot connect to {self.target}; retrying in {self._delay_s:.1f} s"
            raise ModbusConnectionError(msg)
        self._delay_s = 0.0
        self._next_attempt = 0.0
        self._lost = asyncio.Event()
        self._client = client

    def _drop_client(self) -> None:
        """Close and forget the pymodbus client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        """Close the link (a later request reconnects)."""
        async with self._lock:
            self._drop_client()

    async def _call(
        self, what: str, points: Sequence[str], call: Callable[[Any], Awaitable[Any]]
    ) -> Any:
        """Run one pymodbus request with the link up, mapping every failure to our errors."""
        await self.connect()
        client = self._client
        assert client is not None  # noqa: S101 - connect() succeeded
        lost = self._lost
        task = asyncio.ensure_future(call(client))
        lost_wait = asyncio.ensure_future(lost.wait())
        budget = self.timeout_s * (self.retries + 1) + 1.0
        try:
            done, _ = await asyncio.wait(
                {task, lost_wait}, timeout=budget, return_when="FIRST_COMPLETED"
            )
        finally:
            lost_wait.cancel()
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        names = ", ".join(points) or "-"
        if task not in done:
            self._drop_client()
            if lost.is_set():
                msg = f"{self.target} closed the connection during {what} of {names}"
                raise ModbusConnectionError(msg)
            msg = f"{self.target} did not answer {what} of {names} within {budget:.1f} s"
            raise ModbusTimeoutError(msg)
        err = task.exception()
        if err is None:
            return task.result()
        self._drop_client()
        if isinstance(err, ConnectionException) or lost.is_set():
            msg = f"{self.target} connection failed during {what} of {names}: {err}"
            raise ModbusConnectionError(msg) from err
        if isinstance(err, ModbusIOException):
            msg = f"{self.target} gave no valid answer to {what} of {names}: {err}"
            raise ModbusTimeoutError(msg) from err
        if isinstance(err, ModbusException | ValueError):
            msg = f"{what} of {names} failed: {err}"
            raise ModbusProtocolError(msg) from err
        raise err

    async def _request(
        self,
        *,
        unit_id: int,
        function_code: int,
        address: int,
        count: int,
        points: Sequence[str],
        call: Callable[[Any], Awaitable[Any]],
    ) -> Any:
        """Send one request under the bus lock; exception responses become typed errors."""
        async with self._lock:
            response = await self._call(f"function {function_code} at {address}", points, call)
        if response.isError():
            code = getattr(response, "exception_code", None)
            if code is None:
                msg = f"unit {unit_id}: unexpected error response {response!r}"
                raise ModbusProtocolError(msg, snippet=repr(response))
            raise ModbusExceptionResponseError(
                unit_id=unit_id,
                function_code=function_code,
                exception_code=int(code),
                address=address,
                count=count,
                points=tuple(points),
            )
        return response

    async def read_block(self, request: ReadRequest) -> list[int] | list[bool]:
        """Execute one planned read and return its registers or bits."""
        kw = {"count": request.count, UNIT_KEYWORD: request.unit_id}
        method = {
            Table.COIL: "read_coils",
            Table.DISCRETE_INPUT: "read_discrete_inputs",
            Table.HOLDING_REGISTER: "read_holding_registers",
            Table.INPUT_REGISTER: "read_input_registers",
        }[request.table]
        response = await self._request(
            unit_id=request.unit_id,
            function_code=request.function_code,
            address=request.address,
            count=request.count,
            points=[p.key for p in request.points],
            call=lambda c: getattr(c, method)(request.address, **kw),
        )
        if request.table.is_bit_table:
            bits = [bool(b) for b in response.bits]
            # pymodbus unpacks every data byte without checking the byte count; a reply
            # must carry exactly ceil(count / 8) bytes (MAP V1.1b3, 6.1-6.2).
            if len(bits) != 8 * ((request.count + 7) // 8):
                msg = (
                    f"unit {request.unit_id}: {len(bits) // 8} data bytes for a read of "
                    f"{request.count} bits at {request.address}"
                )
                raise ModbusProtocolError(msg)
            return bits[: request.count]
        registers = [int(r) for r in response.registers]
        if len(registers) != request.count:
            msg = (
                f"unit {request.unit_id}: {len(registers)} registers for a read of "
                f"{request.count} at {request.address}"
            )
            raise ModbusProtocolError(msg)
        return registers

    async def execute_plan(self, plan: Sequence[ReadRequest]) -> ModbusReadResult:
        """Run every request of a plan; a failed request marks its points, others go on.

        A connection or timeout error aborts the poll (the link is gone), re-raised as is.
        """
        values: dict[str, PointValue] = {}
        errors: dict[str, ModbusError] = {}
        for request in plan:
            try:
                data = await self.read_block(request)
                values.update(decode_block(request, data))
            except (ModbusExceptionResponseError, ModbusProtocolError, ModbusValueError) as err:
                errors.update(dict.fromkeys((p.key for p in request.points), err))
        return ModbusReadResult(values=values, errors=errors, requests=len(plan))

    async def read_points(
        self, points: Sequence[ModbusPoint], limits: PlanLimits | None = None
    ) -> ModbusReadResult:
        """Plan and read points."""
        return await self.execute_plan(plan_reads(points, limits))

    async def read_point(self, point: ModbusPoint) -> PointValue:
        """Read one point, raising its error."""
        result = await self.read_points([point])
        if point.key in result.errors:
            raise result.errors[point.key]
        return result.values[point.key]

    async def write_point(
        self, point: ModbusPoint, value: PointValue, *, verify: bool = True, multiple: bool = False
    ) -> PointValue:
        """Write a coil or holding-register point, then read it back and compare.

        Single registers use function 6 unless ``multiple`` asks for function 16 (some
        devices only implement 16); a bit inside a register is read, modified and written.
        Returns the value read back (or the value written when ``verify`` is False).
        """
        if not point.table.writable:
            msg = f"point {point.key!r} is in table {point.table}, which cannot be written"
            raise ModbusValueError(msg, point=point.key)
        unit = {UNIT_KEYWORD: point.unit_id}
        if point.table is Table.COIL:
            bit = encode_bit(point, value)
            expected: PointValue = bit
            function_code, count = 5, 1
            call: Callable[[Any], Awaitable[Any]] = lambda c: c.write_coil(  # noqa: E731
                point.address, bit, **unit
            )
        else:
            current = None
            if point.data_type is DataType.BIT:
                request = plan_reads([point])[0]
                current = int((await self.read_block(request))[0])
            registers = encode_value(point, value, current=current)
            if len(registers) > MAX_WRITE_REGISTERS:
                msg = (
                    f"point {point.key!r}: {len(registers)} registers exceed the "
                    f"{MAX_WRITE_REGISTERS} one write (function 16) may carry"
                )
                raise ModbusValueError(msg, point=point.key)
            expected = decode_registers(point, registers)
            count = len(registers)
            if count == 1 and not multiple:
                function_code = 6
                call = lambda c: c.write_register(  # noqa: E731
                    point.address, registers[0], **unit
                )
            else:
                function_code = 16
                call = lambda c: c.write_registers(  # noqa: E731
                    point.address, registers, **unit
                )
        async with self._lock:
            await self.connect()  # raising here, nothing was sent
        try:
            await self._request(
                unit_id=point.unit_id,
                function_code=function_code,
                address=point.address,
                count=count,
                points=[point.key],
                call=call,
            )
        except ModbusConnectionError as err:
            return await self._reconcile_write(point, expected, err)
        if not verify:
            return expected
        read_back = await self.read_point(point)
        if read_back != expected:
            msg = (
                f"point {point.key!r}: wrote {expected!r} but read back {read_back!r} "
                f"(unit {point.unit_id}, address {point.address})"
            )
            raise ModbusWriteVerifyError(
                msg, point=point.key, written=expected, read_back=read_back
            )
        return read_back

    async def _reconcile_write(
        self, point: ModbusPoint, expected: PointValue, err: ModbusConnectionError
    ) -> PointValue:
        """A write whose reply never came: confirm it from the device, never send it again.

        The device may have executed the write before the link failed, so sending it again
        could act twice. Instead the point is read back (reconnecting): the device holding
        the written value confirms the write; another value means the write was lost (the
        original error is raised); no read-back either leaves it open, which the error says.
        """
        try:
            read_back = await self.read_point(point)
        except ModbusError as read_err:
            msg = (
                f"write of {point.key!r} sent, but neither its reply nor a read-back came "
                f"({err}; read-back: {read_err})"
            )
            raise ModbusWriteUnconfirmedError(msg) from err
        if read_back != expected:
            raise err
        _LOGGER.debug("write of %s confirmed by read-back after its reply was lost", point.key)
        return read_back


class ModbusPoller:
    """Reads a fixed set of points each poll, learning which merged blocks a device refuses.

    When a merged request covering several points is answered with ILLEGAL DATA ADDRESS or
    ILLEGAL DATA VALUE (a hole in the device's map), it is replaced by one request per point
    for this and every later poll, so only the truly bad point reports an error.
    """

    def __init__(
        self,
        client: ModbusClient,
        points: Sequence[ModbusPoint],
        limits: PlanLimits | None = None,
    ) -> None:
        """Plan once."""
        self.client = client
        self.points = tuple(points)
        self.plan: list[ReadRequest] = plan_reads(points, limits)

    async def poll(self) -> ModbusReadResult:
        """Read every point once."""
        result = await self.client.execute_plan(self.plan)
        retry = [
            request
            for request in self.plan
            if len(request.points) > 1
            and isinstance(
                err := result.errors.get(request.points[0].key), ModbusExceptionResponseError
            )
            and err.exception_code in {EXCEPTION_ILLEGAL_ADDRESS, EXCEPTION_ILLEGAL_VALUE}
        ]
        if not retry:
            return result
        new_plan: list[ReadRequest] = []
        for request in self.plan:
            if request in retry:
                new_plan.extend(plan_reads([p], None)[0] for p in request.points)
            else:
                new_plan.append(request)
        self.plan = new_plan
        singles = [plan_reads([p])[0] for request in retry for p in request.points]
        again = await self.client.execute_plan(singles)
        for request in retry:
            for p in request.points:
                result.errors.pop(p.key, None)
        result.values.update(again.values)
        result.errors.update(again.errors)
        return ModbusReadResult(
            values=result.values, errors=result.errors, requests=result.requests + again.requests
        )


def _socket_bridge(url: str) -> tuple[str, int] | None:
    """Return (host, port) of a ``socket://host:port`` serial URL, None for a real port."""
    if not url.startswith("socket://"):
        return None
    netloc = url.removeprefix("socket://").split("/", 1)[0].split("?", 1)[0]
    host, _, port = netloc.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)
