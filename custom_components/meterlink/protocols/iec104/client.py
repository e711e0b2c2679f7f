"""Asyncio IEC 60870-5-104 client (controlling station) on the sans-I/O link state machine.

One task per connection reads the socket and runs the t1/t2/t3 timers; monitor-direction
ASDUs (spontaneous, periodic, interrogated) go to ``on_asdu``; interrogations and commands
wait for their activation confirmation (and termination) with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import logging
from typing import TYPE_CHECKING, Any, Self

from .connection import (
    AsduReceived,
    DataTransferStarted,
    Iec104Connection,
    Iec104Parameters,
    LinkState,
    UnknownAsduReceived,
)
from .errors import (
    Iec104CommandError,
    Iec104CommandUnconfirmedError,
    Iec104ConnectionError,
    Iec104Error,
    Iec104ProtocolError,
    Iec104TimeoutError,
)
from .models import Asdu, Cot, CP56Time2a, DoublePoint, InformationObject, TypeId

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from custom_components.meterlink.protocols.capture import FrameCallback

_LOGGER = logging.getLogger(__name__)

QOI_STATION = 20  # IEC 60870-5-101, 7.2.6.22: station interrogation
QCC_GENERAL = 5  # IEC 60870-5-101, 7.2.6.23: general counter request, no freeze/reset
# Our limit on the ASDUs one (counter) interrogation collects before its termination: up to
# 127 objects each, far more than any station has; an outstation that never terminates
# cannot make us buffer without end.
MAX_INTERROGATION_ASDUS = 16384
_ERROR_CAUSES = {
    Cot.UNKNOWN_TYPE,
    Cot.UNKNOWN_CAUSE,
    Cot.UNKNOWN_COMMON_ADDRESS,
    Cot.UNKNOWN_IOA,
}
_SET_POINT_TYPES = {
    "normalized": (TypeId.C_SE_NA_1, TypeId.C_SE_TA_1),
    "scaled": (TypeId.C_SE_NB_1, TypeId.C_SE_TB_1),
    "float": (TypeId.C_SE_NC_1, TypeId.C_SE_TC_1),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class CommandResult:
    """How the outstation answered a command."""

    confirmed: bool  # positive activation confirmation of the execute
    terminated: bool  # activation termination received


def _split_frames(buffer: bytearray) -> list[bytes]:
    """Cut complete APDUs off a capture buffer (tolerant: junk is passed on as one chunk)."""
    frames: list[bytes] = []
    while len(buffer) >= 2:  # noqa: PLR2004 - start octet + length
        if buffer[0] != 0x68:  # noqa: PLR2004 - IEC 60870-5-104 start character
            frames.append(bytes(buffer))
            buffer.clear()
            break
        size = buffer[1] + 2
        if len(buffer) < size:
            break
        frames.append(bytes(buffer[:size]))
        del buffer[:size]
    return frames


class _Pending:
    """A request waiting for its confirmation and termination."""

    def __init__(self, type_id: TypeId, ioa: int, common_address: int) -> None:
        """Create the futures on the running loop."""
        loop = asyncio.get_running_loop()
        self.type_id = type_id
        self.ioa = ioa
        self.common_address = common_address
        self.confirmation: asyncio.Future[Asdu] = loop.create_future()
        self.termination: asyncio.Future[Asdu] = loop.create_future()
        self.collected: list[Asdu] = []

    def fail(self, err: BaseException) -> None:
        """Fail both futures (connection lost)."""
        for future in (self.confirmation, self.termination):
            if not future.done():
                future.set_exception(err)
                future.exception()  # mark retrieved: nobody may be waiting for termination


def _collect(pending: _Pending, asdu: Asdu) -> None:
    """Keep an interrogated ASDU; fail the interrogation past :data:`MAX_INTERROGATION_ASDUS`."""
    if len(pending.collected) < MAX_INTERROGATION_ASDUS:
        pending.collected.append(asdu)
        return
    msg = (
        f"station {pending.common_address} sent more than {MAX_INTERROGATION_ASDUS} ASDUs "
        "without terminating the interrogation"
    )
    pending.fail(Iec104ProtocolError(msg))


class Iec104Client:
    """One TCP connection to an IEC 104 outstation."""

    def __init__(
        self,
        *,
        host: str,
        port: int = 2404,
        common_address: int = 1,
        params: Iec104Parameters | None = None,
        command_timeout_s: float = 10.0,
        on_asdu: Callable[[Asdu], None] | None = None,
        on_connection_lost: Callable[[Exception | None], None] | None = None,
        on_frame: FrameCallback | None = None,
        reconnect_delay_s: float = 1.0,
        reconnect_delay_max_s: float = 60.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Store settings; :meth:`connect` opens the link.

        After a failed :meth:`connect` the next attempt is refused until a backoff delay
        (doubling from ``reconnect_delay_s`` up to ``reconnect_delay_max_s``) has passed;
        ``clock`` (default: the event loop's) times it.
        """
        self.host = host
        self.port = port
        self.common_address = common_address
        self.params = params or Iec104Parameters()
        self.command_timeout_s = command_timeout_s
        self._on_asdu = on_asdu
        self._on_connection_lost = on_connection_lost
        self._on_frame = on_frame
        self._conn: Iec104Connection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._pending: list[_Pending] = []
        self._command_lock = asyncio.Lock()
        self._rx_capture = bytearray()
        self._wake = asyncio.Event()
        self.reconnect_delay_s = reconnect_delay_s
        self.reconnect_delay_max_s = reconnect_delay_max_s
        self._clock = clock
        self._delay_s = 0.0
        self._next_attempt = 0.0
        self.connect_attempts = 0
        self.last_error: Exception | None = None
        self.unknown_asdus = 0

    @property
    def connected(self) -> bool:
        """Whether data transfer is running."""
        return (
            self._conn is not None
            and self._conn.state is LinkState.STARTED
            and self._task is not None
            and not self._task.done()
        )

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

    # -- link ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open TCP (within t0), send STARTDT act and wait for its confirmation (t1).

        Raises at once, without trying, while the backoff after a failed attempt runs.
        """
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        wait = self._next_attempt - now
        if wait > 0:
            msg = f"{self.host}:{self.port} unreachable; next reconnect attempt in {wait:.1f} s"
            raise Iec104ConnectionError(msg)
        self.connect_attempts += 1
        try:
            await self._open()
        except Iec104Error:
            self._delay_s = min(
                self.reconnect_delay_max_s, max(self.reconnect_delay_s, self._delay_s * 2)
            )
            self._next_attempt = now + self._delay_s
            raise
        self._delay_s = 0.0
        self._next_attempt = 0.0

    async def _open(self) -> None:
        """Open the TCP connection and start data transfer."""
        await self.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.params.t0_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as err:
            msg = f"no TCP connection to {self.host}:{self.port} within t0={self.params.t0_s} s"
            raise Iec104TimeoutError(msg) from err
        except OSError as err:
            msg = f"cannot connect to {self.host}:{self.port}: {err}"
            raise Iec104ConnectionError(msg) from err
        self._writer = writer
        self._conn = Iec104Connection(now=loop.time(), params=self.params)
        self._started = loop.create_future()
        self._rx_capture.clear()
        self._conn.start_data_transfer(loop.time())
        self._flush()
        self._task = asyncio.create_task(self._run(reader), name="meterlink iec104 link")
        try:
            await asyncio.shield(self._started)
        except Iec104Error:
            await self.close()
            raise

    def reconnect_wait_s(self) -> float:
        """Seconds until :meth:`connect` may try again (0 when it may now)."""
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        return max(0.0, self._next_attempt - now)

    async def wait_disconnected(self) -> Exception | None:
        """Wait until the link fails; returns the error that ended it."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task})  # a cancelled link task ends the wait, not us
        return self.last_error

    async def close(self) -> None:
        """Close the connection (no STOPDT: the outstation keeps its events for us)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._drop(Iec104ConnectionError("connection closed by the client"))

    def _drop(self, err: Iec104Error) -> None:
        """Close the socket and fail everything waiting."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._started is not None and not self._started.done():
            self._started.set_exception(err)
            self._started.exception()
        for pending in self._pending:
            pending.fail(err)
        self._pending.clear()

    def _flush(self) -> None:
        """Write what the state machine produced."""
        if self._conn is None or self._writer is None:
            return
        data = self._conn.data_to_send()
        if not data:
            return
        if self._on_frame is not None:
            for frame in _split_frames(bytearray(data)):
                self._on_frame("tx", frame)
        self._writer.write(data)

    async def _run(self, reader: asyncio.StreamReader) -> None:
        """Read, feed the state machine, run its timers, until the link fails."""
        conn = self._conn
        assert conn is not None  # noqa: S101 - set by connect()
        loop = asyncio.get_running_loop()
        error: Iec104Error | None = None
        read_task: asyncio.Future[bytes] | None = None
        wake_task: asyncio.Future[Any] | None = None
        try:
            while True:
                if read_task is None:
                    read_task = asyncio.ensure_future(reader.read(4096))
                self._wake.clear()
                waker: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
                wake_task = waker
                timeout = max(0.0, conn.next_deadline() - loop.time())
                done, _ = await asyncio.wait(
                    {read_task, waker}, timeout=timeout, return_when="FIRST_COMPLETED"
                )
                waker.cancel()
                if read_task in done:
                    data = read_task.result()
                    read_task = None
                    if not data:
                        error = Iec104ConnectionError(
                            f"{self.host}:{self.port} closed the connection"
                        )
                        break
                    self._received(conn, data, loop.time())
                conn.tick(loop.time())  # only timers that are due act
                self._flush()
        except Iec104Error as err:
            _LOGGER.debug("IEC 104 link to %s:%s failed: %s", self.host, self.port, err)
            error = err
        except OSError as err:
            error = Iec104ConnectionError(f"connection to {self.host}:{self.port} failed: {err}")
        finally:
            for task in (read_task, wake_task):
                if task is not None:
                    task.cancel()
        self.last_error = error
        self._drop(error or Iec104ConnectionError("link ended"))
        if self._on_connection_lost is not None:
            self._on_connection_lost(error)

    def _received(self, conn: Iec104Connection, data: bytes, now: float) -> None:
        """Feed received bytes to the capture hook and the state machine."""
        if self._on_frame is not None:
            self._rx_capture += data
            for frame in _split_frames(self._rx_capture):
                self._on_frame("rx", frame)
        events = conn.receive_data(data, now)
        self._flush()
        for event in events:
            self._dispatch(event)

    def _dispatch(self, event: object) -> None:
        """Route one state-machine event."""
        if isinstance(event, DataTransferStarted):
            if self._started is not None and not self._started.done():
                self._started.set_result(None)
            return
        if isinstance(event, UnknownAsduReceived):
            self.unknown_asdus += 1
            return
        if not isinstance(event, AsduReceived):
            return
        asdu = event.asdu
        if asdu.type_id.is_command:
            self._answer(asdu)
            return
        if asdu.cot == Cot.REQUEST:
            self._answer_read(asdu)
        for pending in self._pending:
            if (
                pending.type_id in {TypeId.C_IC_NA_1, TypeId.C_CI_NA_1}
                and asdu.common_address in (pending.common_address, 0xFFFF)
                and asdu.cot in {Cot.INTERROGATED_BY_STATION, Cot.REQUESTED_BY_GENERAL_COUNTER}
            ):
                _collect(pending, asdu)
        if self._on_asdu is not None:
            self._on_asdu(asdu)

    def _answer(self, asdu: Asdu) -> None:
        """Match a confirmation / termination to the request waiting for it."""
        ioa = asdu.objects[0].ioa if asdu.objects else -1
        for pending in self._pending:
            if pending.type_id is not asdu.type_id or pending.ioa != ioa:
                continue
            if pending.common_address != asdu.common_address:
                continue
            if asdu.cot == Cot.ACTIVATION_TERMINATION:
                if not pending.termination.done():
                    pending.termination.set_result(asdu)
            elif not pending.confirmation.done():
                pending.confirmation.set_result(asdu)
            return
        _LOGGER.debug("unmatched %s with cause %s", asdu.type_id.name, asdu.cot)

    def _answer_read(self, asdu: Asdu) -> None:
        """Hand data sent with cause "request" to the read waiting for it."""
        ioas = {obj.ioa for obj in asdu.objects}
        for pending in self._pending:
            if (
                pending.type_id is TypeId.C_RD_NA_1
                and pending.ioa in ioas
                and pending.common_address == asdu.common_address
                and not pending.termination.done()
            ):
                pending.termination.set_result(asdu)

    # -- requests ------------------------------------------------------------------------

    def _send(self, asdu: Asdu) -> None:
        """Queue an ASDU on the link."""
        if not self.connected or self._conn is None:
            msg = f"not connected to {self.host}:{self.port}"
            raise Iec104ConnectionError(msg)
        self._conn.send_asdu(asdu, asyncio.get_running_loop().time())
        self._flush()
        self._wake.set()  # t1 of this frame may be the next deadline

    async def _activate(
        self, asdu: Asdu, *, wait_termination: bool, what: str
    ) -> tuple[Asdu, Asdu | None, list[Asdu]]:
        """Send an activation and wait for its confirmation (and termination)."""
        obj = asdu.objects[0]
        pending = _Pending(asdu.type_id, obj.ioa, asdu.common_address)
        self._pending.append(pending)
        try:
            self._send(asdu)
            async with asyncio.timeout(self.command_timeout_s):
                confirmation = await pending.confirmation
            self._check(confirmation, what)
            termination = None
            if wait_termination:
                async with asyncio.timeout(self.command_timeout_s):
                    termination = await pending.termination
        except TimeoutError as err:
            msg = f"{what}: no answer within {self.command_timeout_s} s"
            raise Iec104TimeoutError(msg) from err
        finally:
            with contextlib.suppress(ValueError):
                self._pending.remove(pending)
        return confirmation, termination, pending.collected

    @staticmethod
    def _check(confirmation: Asdu, what: str) -> None:
        """Raise for negative confirmations and error causes."""
        if confirmation.cot in _ERROR_CAUSES:
            name = Cot(confirmation.cot).name.lower().replace("_", " ")
            msg = f"{what}: outstation answered {name} (cause {confirmation.cot})"
            raise Iec104CommandError(msg, cause=confirmation.cot)
        if confirmation.negative:
            msg = f"{what}: negative activation confirmation"
            raise Iec104CommandError(msg, cause=confirmation.cot)
        if confirmation.cot != Cot.ACTIVATION_CON:
            msg = f"{what}: unexpected cause {confirmation.cot} instead of activation confirmation"
            raise Iec104ProtocolError(msg)

    async def interrogation(
        self, common_address: int | None = None, qualifier: int = QOI_STATION
    ) -> list[Asdu]:
        """General interrogation: returns every ASDU the outstation sent for it.

        The ASDUs also reach ``on_asdu`` like any other monitor data.
        """
        ca = self.common_address if common_address is None else common_address
        asdu = Asdu(
            type_id=TypeId.C_IC_NA_1,
            cot=Cot.ACTIVATION,
            common_address=ca,
            objects=(InformationObject(ioa=0, value=qualifier),),
        )
        async with self._command_lock:
            _, _, collected = await self._activate(
                asdu, wait_termination=True, what=f"interrogation of station {ca}"
            )
        return collected

    async def counter_interrogation(
        self, common_address: int | None = None, qualifier: int = QCC_GENERAL
    ) -> list[Asdu]:
        """Counter interrogation: returns the integrated totals sent for it."""
        ca = self.common_address if common_address is None else common_address
        asdu = Asdu(
            type_id=TypeId.C_CI_NA_1,
            cot=Cot.ACTIVATION,
            common_address=ca,
            objects=(InformationObject(ioa=0, value=qualifier),),
        )
        async with self._command_lock:
            _, _, collected = await self._activate(
                asdu, wait_termination=True, what=f"counter interrogation of station {ca}"
            )
        return collected

    async def read(self, ioa: int, common_address: int | None = None) -> InformationObject:
        """Read one object now (C_RD_NA_1, IEC 60870-5-101 7.3.4.3) and return it.

        The data arrives with cause "request"; a C_RD_NA_1 answer is either a confirmation
        some outstations send first (c104 does) or a refusal (negative, unknown IOA).
        """
        ca = self.common_address if common_address is None else common_address
        what = f"read of IOA {ioa} of station {ca}"
        request = Asdu(
            type_id=TypeId.C_RD_NA_1,
            cot=Cot.REQUEST,
            common_address=ca,
            objects=(InformationObject(ioa=ioa),),
        )
        pending = _Pending(TypeId.C_RD_NA_1, ioa, ca)
        async with self._command_lock:
            self._pending.append(pending)
            try:
                self._send(request)
                async with asyncio.timeout(self.command_timeout_s):
                    await asyncio.wait(
                        {pending.confirmation, pending.termination},
                        return_when="FIRST_COMPLETED",
                    )
                    if not pending.termination.done():
                        self._check_read(pending.confirmation.result(), what)
                    data = await pending.termination
            except TimeoutError as err:
                msg = f"{what}: no answer within {self.command_timeout_s} s"
                raise Iec104TimeoutError(msg) from err
            finally:
                with contextlib.suppress(ValueError):
                    self._pending.remove(pending)
        return next(obj for obj in data.objects if obj.ioa == ioa)

    @staticmethod
    def _check_read(answer: Asdu, what: str) -> None:
        """Raise unless a C_RD_NA_1 answer is a positive confirmation."""
        if answer.cot == Cot.ACTIVATION_CON and not answer.negative:
            return
        if answer.cot in _ERROR_CAUSES:
            cause = Cot(answer.cot).name.lower().replace("_", " ")
        else:
            cause = f"cause {answer.cot}"
        negative = ", negative" if answer.negative else ""
        msg = f"{what}: outstation refused ({cause}{negative})"
        raise Iec104CommandError(msg, cause=answer.cot)

    async def command(
        self,
        type_id: TypeId,
        ioa: int,
        value: bool | float,
        *,
        select_before_operate: bool = False,
        qualifier: int = 0,
        time: CP56Time2a | None = None,
        wait_termination: bool = False,
        common_address: int | None = None,
    ) -> CommandResult:
        """Send a command or set-point, optionally select-before-operate.

        With ``select_before_operate`` a select (S/E=1) must be confirmed before the execute
        (S/E=0) is sent. ``wait_termination`` also waits for the activation termination.
        """
        if not type_id.is_command or type_id in {
            TypeId.C_IC_NA_1,
            TypeId.C_CI_NA_1,
            TypeId.C_RD_NA_1,
        }:
            msg = f"{type_id.name} is not a command type"
            raise Iec104ProtocolError(msg)
        ca = self.common_address if common_address is None else common_address
        what = f"{type_id.name} to IOA {ioa} of station {ca}"

        def build(*, select: bool) -> Asdu:
            obj = InformationObject(
                ioa=ioa, value=value, select=select, qualifier=qualifier, time=time
            )
            return Asdu(type_id=type_id, cot=Cot.ACTIVATION, common_address=ca, objects=(obj,))

        async with self._command_lock:
            if select_before_operate:
                await self._activate(
                    build(select=True), wait_termination=False, what=f"select {what}"
                )
            if not self.connected:  # nothing is sent (_activate sends before its first await)
                msg = f"{what}: not connected to {self.host}:{self.port}"
                raise Iec104ConnectionError(msg)
            try:
                _, termination, _ = await self._activate(
                    build(select=False), wait_termination=wait_termination, what=what
                )
            except Iec104ConnectionError as err:
                if wait_termination:  # the confirmation may have come; the termination not
                    raise
                msg = f"{what}: sent, but the link failed before its confirmation ({err})"
                raise Iec104CommandUnconfirmedError(msg) from err
        return CommandResult(confirmed=True, terminated=termination is not None)

    async def single_command(
        self,
        ioa: int,
        value: bool,
        *,
        select_before_operate: bool = False,
        qualifier: int = 0,
        time: CP56Time2a | None = None,
        wait_termination: bool = False,
    ) -> CommandResult:
        """C_SC_NA_1 (or C_SC_TA_1 when ``time`` is given)."""
        return await self.command(
            TypeId.C_SC_TA_1 if time else TypeId.C_SC_NA_1,
            ioa,
            value,
            select_before_operate=select_before_operate,
            qualifier=qualifier,
            time=time,
            wait_termination=wait_termination,
        )

    async def double_command(
        self,
        ioa: int,
        state: DoublePoint,
        *,
        select_before_operate: bool = False,
        qualifier: int = 0,
        time: CP56Time2a | None = None,
        wait_termination: bool = False,
    ) -> CommandResult:
        """C_DC_NA_1 (or C_DC_TA_1 when ``time`` is given); state OFF or ON."""
        return await self.command(
            TypeId.C_DC_TA_1 if time else TypeId.C_DC_NA_1,
            ioa,
            int(state),
            select_before_operate=select_before_operate,
            qualifier=qualifier,
            time=time,
            wait_termination=wait_termination,
        )

    async def set_point(
        self,
        ioa: int,
        value: float,
        *,
        kind: str = "float",
        select_before_operate: bool = False,
        qualifier: int = 0,
        time: CP56Time2a | None = None,
        wait_termination: bool = False,
    ) -> CommandResult:
        """C_SE_NA/NB/NC_1 (``kind`` normalized / scaled / float; TA/TB/TC with ``time``)."""
        plain, timed = _SET_POINT_TYPES[kind]
        return await self.command(
            timed if time else plain,
            ioa,
            value,
            select_before_operate=select_before_operate,
            qualifier=qualifier,
            time=time,
            wait_termination=wait_termination,
        )
