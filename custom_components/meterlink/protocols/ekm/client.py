"""Asyncio owner of one EKM RS-485 bus: serial port (7E1) or TCP serial bridge."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import logging
import re
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import serial_asyncio_fast

from . import codec
from .errors import (
    EkmAddressMismatchError,
    EkmAuthenticationError,
    EkmConnectionError,
    EkmError,
    EkmProtocolError,
    EkmResponseError,
    EkmTimeoutError,
    EkmUnconfirmedError,
    EkmValueError,
)
from .models import (
    EkmBlock,
    EkmMaxDemandPeriod,
    EkmMaxDemandReset,
    EkmMeterTime,
    EkmReading,
    EkmRelay,
    EkmRelayState,
    EkmV3Reading,
    EkmV4Reading,
    EkmV4ReadingA,
    EkmV4ReadingB,
    EkmVersion,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    import datetime as dt
    from types import TracebackType

    from custom_components.meterlink.protocols.capture import FrameCallback

_LOGGER = logging.getLogger(__name__)

try:
    import termios

    _TERMIOS_ERRORS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # pragma: no cover - Windows
    _TERMIOS_ERRORS = ()
# What opening a port can raise (pyserial's SerialException is an OSError).
_OPEN_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, *_TERMIOS_ERRORS)

# Priorities of the bus queue: commands (relays, settings) go ahead of queued polls.
PRIORITY_COMMAND: Final = 0
PRIORITY_POLL: Final = 1
# Meter answers come after a device turnaround nobody documents (fact sheet §7 "Timing");
# ekmmeters waits up to ~2 s. This is the default allowance for the first byte to appear.
DEFAULT_TURNAROUND: Final = 1.0
# Allowance for gaps inside a frame (USB adapters and TCP bridges deliver in bursts).
DEFAULT_CHAR_GAP: Final = 0.1
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
# Serial ports already reported as refusing 7E1 (the warning is logged once per port).
_SOFTWARE_PARITY_PORTS: set[str] = set()
# Seconds a read-back of the meter clock may differ from the time that was set.
TIME_TOLERANCE: Final = 5.0
_HOST_PORT: Final = re.compile(r"^(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")
_PASSWORD_MASK: Final = re.compile(rb"(\x01P1\x02\()(\d{8})(\))|(\x01W1\x020020\()(\d{8})(\))")


def resolve_url(port: str) -> str:
    """Return the pyserial URL for a serial device path, ``socket://h:p`` or plain ``h:p``."""
    text = port.strip()
    if not text:
        msg = "serial port or TCP bridge address is empty"
        raise EkmValueError(msg)
    lower = text.lower()
    if lower.startswith("rfc2217://"):
        msg = (
            "rfc2217:// is not supported: pyserial-asyncio-fast needs a file descriptor, "
            "which pyserial's RFC 2217 client does not have; use the bridge's raw TCP port"
        )
        raise EkmValueError(msg)
    if lower.startswith("tcp://"):
        text = "socket://" + text[6:]
    if text.lower().startswith("socket://"):
        if not _HOST_PORT.match(text[9:]):
            msg = f"TCP bridge {port!r} must look like socket://host:port"
            raise EkmValueError(msg)
        return text
    if "://" in text:
        msg = f"{port!r}: only serial device paths, socket://host:port and host:port are supported"
        raise EkmValueError(msg)
    if _HOST_PORT.match(text):
        return "socket://" + text
    return text


def mask_secrets(frame: bytes) -> bytes:
    """Replace passwords in password and password-change frames with asterisks."""
    return _PASSWORD_MASK.sub(
        lambda m: (m.group(1) or m.group(4)) + b"********" + (m.group(3) or m.group(6)), frame
    )


class _PriorityLock:
    """A lock whose waiters are served lowest priority number first, then in arrival order."""

    def __init__(self) -> None:
        """Start unlocked."""
        self._locked = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: int) -> None:
        """Wait for the lock."""
        if not self._locked and not self._waiters:
            self._locked = True
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority, next(self._seq), fut)
        heapq.heappush(self._waiters, entry)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # we were handed the lock as we were cancelled
            else:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            raise

    def _release(self) -> None:
        """Hand the lock to the next waiter, or unlock."""
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self._locked = False

    @contextlib.asynccontextmanager
    async def hold(self, priority: int) -> Any:
        """Hold the lock for a block."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self._release()


class _Link(asyncio.Protocol):
    """Hands received bytes and connection loss to the bus."""

    def __init__(self, bus: EkmBus) -> None:
        """Remember the bus."""
        self._bus = bus
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        """Feed the bus."""
        self._bus._on_data(data)  # noqa: SLF001 - private partner

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the bus the port or socket is gone."""
        if not self.closed.done():
            self.closed.set_result(None)
        self._bus._on_lost(self, exc)  # noqa: SLF001 - private partner


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class EkmMeterRef:
    """A meter on the bus: normalised address and version."""

    address: str
    version: EkmVersion

    @classmethod
    def of(cls, address: int | str, version: int | str | EkmVersion) -> Self:
        """Normalise an address and a version."""
        return cls(
            address=codec.normalize_address(address), version=codec.normalize_version(version)
        )


class EkmBus:
    """One physical bus: serialises every exchange, checks, retries once, confirms commands."""

    def __init__(
        self,
        *,
        port: str,
        baudrate: int = 9600,
        turnaround: float = DEFAULT_TURNAROUND,
        char_gap: float = DEFAULT_CHAR_GAP,
        software_parity: bool = False,
        end_session_after_read: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        on_frame: FrameCallback | None = None,
    ) -> None:
        """Configure the bus; nothing is opened until the first exchange or :meth:`open`.

        ``software_parity`` sends 8N1 with the even-parity bit computed here, for adapters and
        bridges that cannot do 7E1 themselves; received parity bits are always dropped.
        """
        self.url = resolve_url(port)
        self.baudrate = baudrate
        self.turnaround = turnaround
        self.char_gap = char_gap
        self.software_parity = software_parity
        self.end_session_after_read = end_session_after_read
        self.connect_timeout = connect_timeout
        self._on_frame = on_frame
        self._lock = _PriorityLock()
        self._transport: asyncio.Transport | None = None
        self._link: _Link | None = None
        self._decoder = codec.EkmDecoder()
        self._waiter: asyncio.Future[codec.EkmClientEvent] | None = None
        self._silent_link = False  # the last exchange timed out: replace a bridge connection
        self._kwh_scale: dict[str, int] = {}
        self.stats = {"exchanges": 0, "retries": 0, "tx_bytes": 0, "rx_bytes": 0}

    # --- connection ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Open the bus."""
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the bus."""
        await self.close()

    @property
    def is_open(self) -> bool:
        """Whether the port or socket is open."""
        return self._transport is not None

    async def open(self) -> None:
        """Open the serial port or TCP bridge (done lazily by every exchange too).

        A serial port that refuses 7E1 (some drivers and Linux pseudo-terminals) is reopened
        as 8N1 with the parity bit computed here, which puts the same bits on the wire.
        """
        if self._transport is not None:
            return
        is_socket = self.url.startswith("socket://")
        try:
            await self._open_once(serial_8n1=self.software_parity and not is_socket)
        except EkmConnectionError as err:
            if is_socket or self.software_parity or not isinstance(err.__cause__, _TERMIOS_ERRORS):
                raise
            # once per port and process: every reload opens the port again the same way
            log = _LOGGER.debug if self.url in _SOFTWARE_PARITY_PORTS else _LOGGER.warning
            log("%s refuses 7E1 (%s); using 8N1 with software parity", self.url, err)
            _SOFTWARE_PARITY_PORTS.add(self.url)
            self.software_parity = True
            await self._open_once(serial_8n1=True)

    async def _open_once(self, *, serial_8n1: bool) -> None:
        """Open the port once with the given framing."""
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {
            "baudrate": self.baudrate,
            "bytesize": 8 if serial_8n1 else 7,
            "parity": "N" if serial_8n1 else "E",
            "stopbits": 1,
            "rtscts": False,
            "xonxoff": False,
        }
        link = _Link(self)
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, _ = await serial_asyncio_fast.create_serial_connection(
                    loop, lambda: link, self.url, **kwargs
                )
        except TimeoutError as err:
            msg = f"opening {self.url} took longer than {self.connect_timeout} s"
            raise EkmTimeoutError(msg) from err
        except _OPEN_ERRORS as err:
            msg = f"cannot open {self.url}: {err}"
            raise EkmConnectionError(msg) from err
        self._transport = transport
        self._link = link

    async def close(self) -> None:
        """Close the port or socket and wait until it is closed."""
        transport, link = self._transport, self._link
        self._transport = self._link = None
        if transport is None or link is None:
            return
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(EkmConnectionError(f"{self.url} was closed"))
        transport.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await link.closed

    def _on_lost(self, link: _Link, exc: Exception | None) -> None:
        """Forget a lost connection; fail the exchange waiting on it."""
        if link is not self._link:
            return  # a link already dropped here; a newer one may be serving an exchange
        self._transport = self._link = None
        if self._waiter is not None and not self._waiter.done():
            msg = f"connection to {self.url} lost" + (f": {exc}" if exc else "")
            self._waiter.set_exception(EkmConnectionError(msg))

    def _drop_silent_bridge_link(self) -> None:
        """After silence on a TCP bridge, drop the connection; the exchange opens another.

        Called by the exchange after the one that timed out (so an end-of-session frame still
        goes out on the old connection). A bridge that vanished without FIN or RST (half-open)
        would swallow every later request on the old connection, and an answer held up in the
        network could arrive during the next exchange and be taken for its answer. A serial
        port has neither problem.
        """
        transport, silent, self._silent_link = self._transport, self._silent_link, False
        if not silent or transport is None or not self.url.startswith("socket://"):
            return
        self._transport = self._link = None
        transport.abort()

    def _on_data(self, data: bytes) -> None:
        """Feed received bytes to the decoder; complete the waiting exchange."""
        self.stats["rx_bytes"] += len(data)
        self._decoder.feed(data)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            event = self._decoder.next_event()
        except EkmError as err:
            waiter.set_exception(err)
            return
        if event is not None:
            waiter.set_result(event)

    # --- one exchange ---------------------------------------------------------------------

    def _wire(self, n_bytes: int) -> float:
        """Seconds ``n_bytes`` take on the wire at this baud rate (7E1: 10 bits each)."""
        return codec.wire_seconds(n_bytes, self.baudrate)

    def _send(self, frame: bytes) -> None:
        """Write one frame (with software parity if asked) and report it."""
        if self._transport is None:  # pragma: no cover - guarded by callers
            msg = "bus is not open"
            raise EkmConnectionError(msg)
        if self._on_frame is not None:
            self._on_frame("tx", mask_secrets(frame))
        self.stats["tx_bytes"] += len(frame)
        self._transport.write(codec.add_even_parity(frame) if self.software_parity else frame)

    async def _exchange(
        self, frame: bytes, expect: Literal["block", "ack"], what: str
    ) -> codec.EkmClientEvent:
        """Drain stale input, send ``frame`` and wait exactly as long as the answer needs."""
        self._drop_silent_bridge_link()
        await self.open()
        loop = asyncio.get_running_loop()
        if expect == "block":
            self._decoder.expect_block()
            length = codec.BLOCK_LENGTH
        else:
            self._decoder.expect_ack()
            length = 1
        waiter: asyncio.Future[codec.EkmClientEvent] = loop.create_future()
        self._waiter = waiter
        self.stats["exchanges"] += 1
        try:
            self._send(frame)
            # Request on the wire + turnaround + the whole answer on the wire.
            timeout = self._wire(len(frame)) + self.turnaround + self._wire(length)
            timeout += self.char_gap
            seen = 0
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=timeout)
                if done:
                    event = waiter.result()
                    if self._on_frame is not None:
                        raw = event.raw if isinstance(event, codec.EkmBlockFrame) else b"\x06"
                        self._on_frame("rx", raw)
                    return event
                got = self._decoder.buffered
                if got > seen:  # still arriving: allow what is left, plus one gap
                    seen = got
                    timeout = self._wire(length - got) + self.char_gap
                    continue
                if got:
                    msg = f"{what}: truncated answer, {got} of {length} bytes"
                    raise EkmProtocolError(msg, snippet=self._decoder.pending())
                if self._decoder.skipped:
                    msg = f"{what}: {self._decoder.skipped} bytes of garbage, no frame"
                    raise EkmProtocolError(msg)
                msg = f"{what}: no answer within {timeout:.3f} s"
                self._silent_link = True
                raise EkmTimeoutError(msg)
        finally:
            self._waiter = None
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # mark retrieved

    def _end_session(self) -> None:
        """Send the end-of-session frame (no answer is expected)."""
        if self._transport is not None:
            self._send(codec.END_SESSION)

    async def _read_block(
        self, address: str, block: EkmBlock
    ) -> EkmV3Reading | EkmV4ReadingA | EkmV4ReadingB:
        """One block read with checks; a corrupted answer is retried once."""
        request = codec.encode_read_request(address, block)
        what = f"meter {address} {block.value} read"
        for attempt in (1, 2):
            try:
                event = await self._exchange(request, "block", what)
                assert isinstance(event, codec.EkmBlockFrame)  # noqa: S101 - expect_block
                scale = self._kwh_scale.get(address, 1) if block is EkmBlock.V4_B else None
                reading = codec.decode_block(
                    event.raw,
                    block,
                    address=None if address == codec.ANY_SINGLE_METER else address,
                    kwh_scale=scale,
                )
            except (EkmProtocolError, EkmAddressMismatchError) as err:
                if attempt == 2:  # noqa: PLR2004
                    raise
                self.stats["retries"] += 1
                _LOGGER.debug("%s: %s; retrying once", what, err)
                continue
            if isinstance(reading, EkmV4ReadingA):
                self._kwh_scale[address] = reading.kwh_scale
            return reading
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def _read_locked(self, meter: EkmMeterRef, *, include_b: bool) -> EkmReading:
        """Read a meter (v3, or v4 A and optionally B) while holding the bus."""
        if meter.version is EkmVersion.V3:
            reading = await self._read_block(meter.address, EkmBlock.V3)
            assert isinstance(reading, EkmV3Reading)  # noqa: S101
            return reading
        a = await self._read_block(meter.address, EkmBlock.V4_A)
        assert isinstance(a, EkmV4ReadingA)  # noqa: S101
        b: EkmV4ReadingB | None = None
        if include_b:
            block_b = await self._read_block(meter.address, EkmBlock.V4_B)
            assert isinstance(block_b, EkmV4ReadingB)  # noqa: S101
            b = block_b
        return EkmV4Reading(a=a, b=b)

    # --- public reads -------------------------------------------------------------------

    async def read(
        self,
        address: int | str,
        version: int | str | EkmVersion = EkmVersion.V4,
        *,
        include_b: bool = True,
    ) -> EkmReading:
        """Read one meter: v3 block, or v4 A (+ B); ends the session afterwards if configured."""
        meter = EkmMeterRef.of(address, version)
        async with self._lock.hold(PRIORITY_POLL):
            try:
                return await self._read_locked(meter, include_b=include_b)
            finally:
                if self.end_session_after_read:
                    self._end_session()

    async def probe(self, address: int | str) -> EkmVersion:
        """Find a meter's version: a v4 A read first, then a v3 read; raise if neither answers."""
        addr = codec.normalize_address(address)
        for version in (EkmVersion.V4, EkmVersion.V3):
            try:
                await self.read(addr, version, include_b=False)
            except EkmTimeoutError:
                continue
            return version
        msg = f"meter {addr} answers neither a v4 nor a v3 read"
        raise EkmTimeoutError(msg)

    async def read_single_meter(
        self, version: int | str | EkmVersion = EkmVersion.V4
    ) -> EkmReading:
        """Read whichever meter is alone on the bus via address 999999999999 (forum t=5).

        The answer carries the meter's real address; with several meters on the bus they all
        answer at once and the read fails with a CRC error.
        """
        return await self.read(codec.ANY_SINGLE_METER, version, include_b=False)

    async def read_time(
        self, address: int | str, version: int | str | EkmVersion = EkmVersion.V4
    ) -> EkmMeterTime:
        """Return the meter's clock."""
        reading = await self.read(address, version, include_b=False)
        return reading.meter_time if isinstance(reading, EkmV3Reading) else reading.a.meter_time

    # --- commands ------------------------------------------------------------------------

    async def check_password(
        self,
        address: int | str,
        version: int | str | EkmVersion = EkmVersion.V4,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> None:
        """Open a command session and end it without writing: raise if the password is refused."""
        meter = EkmMeterRef.of(address, version)
        frame = codec.encode_password(password)
        async with self._lock.hold(PRIORITY_COMMAND):
            try:
                await self._read_locked(meter, include_b=False)
                try:
                    await self._exchange(frame, "ack", f"meter {meter.address} password")
                except (EkmTimeoutError, EkmProtocolError) as err:
                    msg = f"meter {meter.address} did not accept the password"
                    raise EkmAuthenticationError(msg, secret="password") from err  # noqa: S106
            finally:
                self._end_session()

    async def _command(
        self,
        meter: EkmMeterRef,
        write: codec.EkmWrite,
        *,
        password: str,
        include_b: bool,
        confirm: Callable[[EkmReading], bool],
        what: str,
        check_password: str | None = None,
        verify_lost_ack: bool = False,
    ) -> EkmReading:
        """Read, password, write, end; then read back and confirm, all ahead of queued polls.

        The write frame is sent once, never again. When its ACK is lost (silence, a garbled
        byte, the bridge connection breaking) and ``verify_lost_ack`` says the read-back shows
        the change, the read-back decides: the change shows (confirmed), it does not
        (EkmResponseError), or no read-back is possible (EkmUnconfirmedError).
        """
        if write.v4_only and meter.version is not EkmVersion.V4:
            msg = f"{what} needs a v4 meter; meter {meter.address} is v3"
            raise EkmValueError(msg)
        async with self._lock.hold(PRIORITY_COMMAND):
            lost = await self._write_locked(
                meter, password, write.encode(), what, verify_lost_ack=verify_lost_ack
            )
            try:
                reading = await self._read_back_locked(
                    meter, include_b=include_b, check_password=check_password
                )
            except EkmError as err:
                if lost is None or isinstance(err, EkmResponseError):
                    raise
                msg = (
                    f"meter {meter.address}: the answer to {what} was lost ({lost}) and the "
                    f"meter could not be read back ({err}); it may have taken effect"
                )
                raise EkmUnconfirmedError(msg) from err
        if not confirm(reading):
            if lost is not None:
                msg = f"meter {meter.address} did not acknowledge {what}; its read-back shows"
                msg += " it did not take effect"
            else:
                msg = f"meter {meter.address} acknowledged {what} but its read-back does not"
                msg += " show it"
            raise EkmResponseError(msg)
        return reading

    async def _write_locked(
        self, meter: EkmMeterRef, password: str, frame: bytes, what: str, *, verify_lost_ack: bool
    ) -> EkmError | None:
        """Open a session, send the password and then the write once; end the session.

        Return None when the meter acknowledged the write, or the error that lost its ACK when
        a read-back can tell whether the meter carried it out.
        """
        try:
            # The read opens the session: command frames carry no address (§5.1).
            await self._read_locked(meter, include_b=False)
            try:
                await self._exchange(
                    codec.encode_password(password), "ack", f"meter {meter.address} password"
                )
            except (EkmTimeoutError, EkmProtocolError) as err:
                msg = f"meter {meter.address} did not accept the password"
                raise EkmAuthenticationError(msg, secret="password") from err  # noqa: S106
            try:
                await self._exchange(frame, "ack", f"meter {meter.address} {what}")
            except (EkmConnectionError, EkmProtocolError) as err:
                nak = isinstance(err, EkmProtocolError) and err.snippet == bytes((codec.NAK,))
                if nak or not verify_lost_ack:
                    msg = f"meter {meter.address} did not acknowledge {what}"
                    raise EkmResponseError(msg) from err
                # The meter may have carried the write out: never send it again; read back.
                _LOGGER.debug("meter %s: %s; confirming by read-back", meter.address, err)
                return err
            return None
        finally:
            self._end_session()

    async def _read_back_locked(
        self, meter: EkmMeterRef, *, include_b: bool, check_password: str | None
    ) -> EkmReading:
        """Read the meter after a command (checking a new password first, if one was set)."""
        try:
            if check_password is not None:
                await self._read_locked(meter, include_b=False)
                try:
                    await self._exchange(
                        codec.encode_password(check_password), "ack", "password check"
                    )
                except (EkmTimeoutError, EkmProtocolError) as err:
                    msg = f"meter {meter.address} does not accept the new password"
                    raise EkmResponseError(msg) from err
                finally:
                    self._end_session()
            return await self._read_locked(meter, include_b=include_b)
        finally:
            self._end_session()

    async def set_relay(
        self,
        address: int | str,
        relay: EkmRelay | int,
        state: EkmRelayState | int,
        seconds: int = 0,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmV4ReadingA:
        """Open or close relay 1/2, held ``seconds`` (0 = until changed); v4 only."""
        write = codec.relay_write(relay, state, seconds)
        want = EkmRelayState(state) is EkmRelayState.CLOSED
        index = EkmRelay(relay).value - 1

        def confirm(reading: EkmReading) -> bool:
            assert isinstance(reading, EkmV4Reading)  # noqa: S101
            closed = (reading.a.relay_1_closed, reading.a.relay_2_closed)[index]
            return closed is want

        reading = await self._command(
            EkmMeterRef.of(address, EkmVersion.V4),
            write,
            password=password,
            include_b=False,
            confirm=confirm,
            what=f"relay {index + 1} {'close' if want else 'open'}",
            verify_lost_ack=True,
        )
        assert isinstance(reading, EkmV4Reading)  # noqa: S101
        return reading.a

    async def _setting(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        write: codec.EkmWrite,
        check: Callable[[EkmV3Reading | EkmV4ReadingB], bool] | None,
        what: str,
        *,
        password: str,
        check_a: Callable[[EkmV4ReadingA], bool] | None = None,
        check_password: str | None = None,
    ) -> EkmReading:
        """Run a settings write and confirm it in the v3 block or the v4 B (or A) block."""
        meter = EkmMeterRef.of(address, version)

        def confirm(reading: EkmReading) -> bool:
            if isinstance(reading, EkmV3Reading):
                return check is None or check(reading)
            if check_a is not None and not check_a(reading.a):
                return False
            return check is None or (reading.b is not None and check(reading.b))

        return await self._command(
            meter,
            write,
            password=password,
            include_b=check is not None,
            confirm=confirm,
            what=what,
            check_password=check_password,
            verify_lost_ack=check is not None or check_a is not None or check_password is not None,
        )

    async def set_time(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        when: dt.datetime,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmMeterTime:
        """Set the meter clock (naive local time, as the meter shows it); confirm by read-back."""
        write = codec.time_write(when)
        loop = asyncio.get_running_loop()
        started = loop.time()

        def close_enough(meter_time: EkmMeterTime) -> bool:
            shown = meter_time.to_datetime()
            if shown is None:
                return False
            elapsed = loop.time() - started
            delta = (shown - when.replace(tzinfo=None)).total_seconds()
            return -TIME_TOLERANCE <= delta <= elapsed + TIME_TOLERANCE

        reading = await self._setting(
            address,
            version,
            write,
            lambda r: close_enough(r.meter_time),
            "time set",
            password=password,
            check_a=lambda a: close_enough(a.meter_time),
        )
        if isinstance(reading, EkmV3Reading):
            return reading.meter_time
        return reading.a.meter_time

    async def sync_time(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        now: dt.datetime,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmMeterTime:
        """Set the meter clock from an aware ``now`` (e.g. Home Assistant's), in its own zone."""
        if now.tzinfo is None:
            msg = "sync_time needs an aware datetime (the meter shows local time)"
            raise EkmValueError(msg)
        return await self.set_time(address, version, now.replace(tzinfo=None), password=password)

    async def set_ct_ratio(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        ratio: int,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmReading:
        """Set the CT ratio."""
        return await self._setting(
            address,
            version,
            codec.ct_ratio_write(ratio),
            lambda r: r.ct_ratio == ratio,
            "CT ratio",
            password=password,
        )

    async def set_pulse_output_ratio(
        self, address: int | str, ratio: int, *, password: str = codec.DEFAULT_PASSWORD
    ) -> EkmReading:
        """Set the v4 pulse output ratio."""
        return await self._setting(
            address,
            EkmVersion.V4,
            codec.pulse_output_ratio_write(ratio),
            lambda r: isinstance(r, EkmV4ReadingB) and r.pulse_output_ratio == ratio,
            "pulse output ratio",
            password=password,
        )

    async def set_pulse_input_ratio(
        self, address: int | str, line: int, ratio: int, *, password: str = codec.DEFAULT_PASSWORD
    ) -> EkmReading:
        """Set a v4 pulse input ratio (line 1..3)."""
        write = codec.pulse_input_ratio_write(line, ratio)
        attr = f"pulse_ratio_{line}"
        return await self._setting(
            address,
            EkmVersion.V4,
            write,
            lambda r: getattr(r, attr) == ratio,
            f"pulse input ratio {line}",
            password=password,
        )

    async def set_max_demand_period(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        period: EkmMaxDemandPeriod | int,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmReading:
        """Set the max-demand period (15/30/60 min)."""
        write = codec.max_demand_period_write(period)
        return await self._setting(
            address,
            version,
            write,
            lambda r: r.max_demand_period == int(period),
            "max demand period",
            password=password,
        )

    async def set_max_demand_reset(
        self,
        address: int | str,
        interval: EkmMaxDemandReset | int,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmReading:
        """Set the v4 max-demand auto-reset interval."""
        write = codec.max_demand_reset_write(interval)
        return await self._setting(
            address,
            EkmVersion.V4,
            write,
            lambda r: isinstance(r, EkmV4ReadingB) and r.max_demand_reset == int(interval),
            "max demand reset interval",
            password=password,
        )

    async def reset_max_demand(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmReading:
        """Reset max demand now; confirmed by a read-back showing zero max demand."""
        return await self._setting(
            address,
            version,
            codec.max_demand_reset_now_write(),
            lambda r: r.max_demand_w == 0,
            "max demand reset",
            password=password,
        )

    async def reset_resettable_kwh(
        self, address: int | str, *, password: str = codec.DEFAULT_PASSWORD
    ) -> EkmReading:
        """Zero the v4 resettable kWh registers; confirmed by a read-back of zero."""
        return await self._setting(
            address,
            EkmVersion.V4,
            codec.zero_resettable_write(),
            None,
            "resettable kWh reset",
            password=password,
            check_a=lambda a: a.resettable_energy_wh == 0 and a.resettable_reverse_energy_wh == 0,
        )

    async def set_lcd_items(
        self, address: int | str, items: Sequence[int], *, password: str = codec.DEFAULT_PASSWORD
    ) -> EkmReading:
        """Set the v4 LCD rotation; no read shows it, so the ACK and a good read-back confirm it."""
        return await self._setting(
            address,
            EkmVersion.V4,
            codec.lcd_items_write(items),
            None,
            "LCD items",
            password=password,
        )

    async def set_password(
        self,
        address: int | str,
        version: int | str | EkmVersion,
        new_password: str,
        *,
        password: str = codec.DEFAULT_PASSWORD,
    ) -> EkmReading:
        """Change the meter password; confirmed by the meter accepting the new one."""
        return await self._setting(
            address,
            version,
            codec.password_write(new_password),
            None,
            "password change",
            password=password,
            check_password=new_password,
        )
