"""Asyncio RSCP client: one encrypted TCP connection, strict request/response, batched polls.

Session (fact sheet section 5): connect to TCP 5033, start fresh cipher chains, send
RSCP_REQ_AUTHENTICATION, read the user level. Then every public method sends ONE frame holding
all its requests and reads ONE reply frame. Failures are told apart so Home Assistant can act:

* the device closes the socket in order (FIN) or answers bytes that do not decrypt to a frame
  right after the login frame -> :class:`RscpAuthenticationError` with ``secret="rscp_key"``
  (go-rscp issue #6: a wrong key "just breaks the communication with EOF"); a reset or a
  timeout there is a connection error;
* user level 0 or ACCESS_DENIED -> ``secret="password"``, unless the device reports it is not
  online (SRV_IS_ONLINE false) or answers the login with another RSCP error: then
  :class:`RscpPortalUnreachableError` (local logins are checked against E3/DC's portal, fact
  sheet 5; the exact wire signal of that refusal is not documented - both are handled);
* timeouts, resets, garbage later in a session -> connection/protocol errors; the client
  reconnects once per read and then backs off (1 s doubling to 60 s, or to ``max_backoff_s``)
  so a device that tolerates only few clients is not hammered. Writes are sent once: when
  their reply is lost the device may have applied them, so they are never re-sent; the
  methods that verify by reading back go on to the read-back, the others raise;
* a login reply that is cut or garbled looks like a wrong RSCP key; the client believes it
  only when a second login on a fresh connection fails the same way (a network blip must not
  start a reauthentication).

An idle connection is kept alive with INFO_REQ_UTC_TIME every ``keepalive_s`` seconds; call
:meth:`RscpClient.close` (or use ``async with``) to stop it.
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
from dataclasses import dataclass, replace
import logging
import time
from typing import TYPE_CHECKING, Final, Self

from . import commands
from .cipher import RscpCipher
from .codec import RscpFrame, RscpItem, RscpStreamDecoder, RscpValue, encode_frame, error_name
from .errors import (
    SECRET_PASSWORD,
    SECRET_RSCP_KEY,
    RscpAuthenticationError,
    RscpConnectionError,
    RscpError,
    RscpPortalUnreachableError,
    RscpProtocolError,
    RscpResponseError,
    RscpTimeoutError,
)
from .models import (
    Battery,
    Details,
    FarmDevice,
    HistoryTotals,
    IdlePeriod,
    Inverter,
    LivePower,
    ManualCharge,
    PowerMeter,
    PowerSettings,
    SgReady,
    SmartSwitch,
    SystemInfo,
    Wallbox,
    WallboxSettings,
    index_by_tag,
)
from .tags import (
    RESPONSE_BIT,
    SYS_SPECS_REPLIES,
    SYS_STATUS_REPLIES,
    RscpErrorCode,
    RscpTag as T,
    RscpType,
    RscpUserLevel,
    tag_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from custom_components.meterlink.protocols.capture import FrameCallback

_LOGGER = logging.getLogger(__name__)

DEFAULT_PORT: Final = 5033  # fact sheet 0; pye3dc DEFAULT_PORT
READ_SIZE: Final = 64 * 1024  # one frame is at most 65 559 bytes (fact sheet 1)
# Our choice: the device tolerates few clients (fact sheet 5), so wait longer after each
# failed attempt; ioBroker's adapter pauses a minute (git-kick/ioBroker.e3dc-rscp #186).
BACKOFF_S: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)
# Indices probed by discover() (our choice; one frame, unanswered indices cost an error item).
MAX_BATTERIES: Final = 4
MAX_MODULES: Final = 32  # cap on DCB_INFO requests per battery, whatever DCB_COUNT says
MAX_INVERTERS: Final = 4
MAX_DC_STRINGS: Final = 8  # cap on per-string requests per inverter, whatever it reports
MAX_AC_PHASES: Final = 3  # cap on per-phase requests per inverter (three-phase grid)
MAX_POWER_METERS: Final = 8  # PM indices 0..7 (S10 Mini / Quattroporte use 6, fact sheet 3)
MAX_WALLBOXES: Final = 8
PASSWORD_MASK: Final = "**REDACTED**"  # noqa: S105  # shown to on_frame instead of the password


@dataclass(frozen=True, slots=True, kw_only=True)
class InverterLayout:
    """An inverter index with how many DC strings and AC phases it has."""

    index: int
    strings: int
    phases: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """Which batteries, inverters, power meters and wallboxes answer on this system."""

    batteries: tuple[int, ...] = ()
    battery_modules: tuple[int, ...] = ()  # modules (DCBs) per battery, aligned with batteries
    inverters: tuple[InverterLayout, ...] = ()
    power_meters: tuple[int, ...] = ()
    wallboxes: tuple[int, ...] = ()


class _ClosedError(RscpConnectionError):
    """The peer closed the connection in order (FIN), as a device does on a wrong RSCP key."""


class _Connection:
    """One authenticated TCP connection with its cipher state."""

    __slots__ = ("cipher", "decoder", "pending", "reader", "user_level", "writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cipher: RscpCipher
    ) -> None:
        """Wrap a connected stream pair."""
        self.reader = reader
        self.writer = writer
        self.cipher = cipher
        self.decoder = RscpStreamDecoder(cipher)
        self.pending: deque[RscpFrame] = deque()
        self.user_level = 0

    def close(self) -> None:
        """Close the transport (no waiting)."""
        self.writer.close()


class RscpClient:
    """Async client for one E3/DC home power station."""

    def __init__(
        self,
        *,
        host: str,
        username: str,
        password: str,
        rscp_key: str,
        port: int = DEFAULT_PORT,
        timeout: float = 5.0,
        keepalive_s: float | None = 30.0,
        on_frame: FrameCallback | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        max_backoff_s: float = BACKOFF_S[-1],
    ) -> None:
        """Store settings; nothing connects until the first request or :meth:`connect`.

        ``max_backoff_s`` caps the pause after failed connects: a poller passes its interval,
        so a device that comes back is read again at the next poll.
        """
        RscpCipher(rscp_key)  # validates the key length early
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_backoff_s = max_backoff_s
        self.keepalive_s = keepalive_s
        self._username = username
        self._password = password
        self._rscp_key = rscp_key
        self._on_frame = on_frame
        self._clock = clock
        self._monotonic = monotonic
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self._last_io = 0.0
        self._keepalive: asyncio.Task[None] | None = None
        self.topology: Topology | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        """Connect and authenticate."""
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection."""
        await self.close()

    @property
    def connected(self) -> bool:
        """True while an authenticated connection is open."""
        return self._conn is not None

    @property
    def user_level(self) -> int:
        """The RSCP user level granted at login (0 when not connected)."""
        return self._conn.user_level if self._conn is not None else 0

    async def connect(self) -> None:
        """Connect and authenticate now (errors are raised, not retried)."""
        async with self._lock:
            if self._conn is None:
                self._conn = await self._open()
                self._start_keepalive()

    async def close(self) -> None:
        """Close the connection and stop the keep-alive task."""
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1):
                    await conn.writer.wait_closed()

    def _drop(self) -> None:
        """Forget a broken connection without waiting for it to close."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # ------------------------------------------------------------------ transport

    async def _open(self) -> _Connection:
        """Open an authenticated connection; a suspected wrong RSCP key is checked once more."""
        try:
            return await self._open_once()
        except RscpAuthenticationError as err:
            if err.secret != SECRET_RSCP_KEY:
                raise
            # a wrong key and a login reply cut or garbled on the way look the same: only a
            # second failure on a fresh connection makes it the key
            _LOGGER.debug("E3/DC login looked like a wrong RSCP key, trying once more: %s", err)
            return await self._open_once()

    async def _open_once(self) -> _Connection:
        """Open TCP, authenticate, and return the ready connection."""
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as err:
            msg = f"connecting to {self.host}:{self.port} timed out after {self.timeout} s"
            raise RscpTimeoutError(msg) from err
        except OSError as err:
            msg = f"cannot connect to {self.host}:{self.port}: {err}"
            raise RscpConnectionError(msg) from err
        conn = _Connection(reader, writer, RscpCipher(self._rscp_key))
        try:
            conn.user_level = await self._authenticate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _authenticate(self, conn: _Connection) -> int:
        """Log in; tell a wrong key, a wrong password and an offline device apart."""
        login = commands.authentication(self._username, self._password)
        masked = commands.authentication(self._username, PASSWORD_MASK)
        try:
            frame = await self._exchange(conn, [login], log_items=[masked])
        except (RscpConnectionError, RscpProtocolError) as err:
            if isinstance(err, RscpConnectionError) and not isinstance(err, _ClosedError):
                raise  # a timeout or a reset (e.g. a bridge whose device is off): not the key
            msg = (
                "the E3/DC dropped the connection or sent undecipherable bytes after the "
                f"login frame: the RSCP key is probably wrong ({err})"
            )
            raise RscpAuthenticationError(msg, secret=SECRET_RSCP_KEY) from err
        reply = frame.find(T.RSCP_AUTHENTICATION)
        if reply is None:
            reply = next((i for i in frame.items if i.tag & ~RESPONSE_BIT == 1), None)
        if reply is not None and reply.is_error and reply.value != RscpErrorCode.ACCESS_DENIED:
            code = reply.value if isinstance(reply.value, int) else None
            msg = (
                "the E3/DC refused the local login with RSCP error "
                f"{error_name(code or 0)}: it could not check the credentials with E3/DC's "
                "servers (it needs internet access for local logins)"
            )
            raise RscpPortalUnreachableError(msg, status=code)
        level = reply.value if reply is not None and not reply.is_error else 0
        if not isinstance(level, int) or isinstance(level, bool) or level <= 0:
            if await self._device_offline(conn):
                msg = (
                    "the E3/DC rejected the login while it reports no connection to E3/DC's "
                    "servers; local logins are checked online, so restore its internet access"
                )
                raise RscpPortalUnreachableError(msg, status=0)
            msg = f"the E3/DC rejected user {self._username!r}: wrong portal password or user"
            raise RscpAuthenticationError(msg, secret=SECRET_PASSWORD)
        return level

    async def _device_offline(self, conn: _Connection) -> bool:
        """Ask SRV_REQ_IS_ONLINE after a rejected login; True only for an explicit 'offline'."""
        try:
            frame = await self._exchange(conn, commands.nones(T.SRV_REQ_IS_ONLINE))
        except RscpError:
            return False
        answer = frame.find(T.SRV_IS_ONLINE)
        return answer is not None and answer.type is RscpType.BOOL and answer.value is False

    async def _exchange(
        self,
        conn: _Connection,
        items: Sequence[RscpItem],
        *,
        log_items: Sequence[RscpItem] | None = None,
    ) -> RscpFrame:
        """Send one frame and wait for the next frame (strict request/response)."""
        now = self._clock()
        seconds = int(now)
        nanoseconds = int((now - seconds) * 1e9)
        plain = encode_frame(items, seconds=seconds, nanoseconds=nanoseconds)
        conn.pending.clear()  # strict request/response: a frame nobody waited for is stale
        if self._on_frame is not None:
            shown = plain if log_items is None else encode_frame(log_items, seconds=seconds)
            self._on_frame("tx", shown)
        try:
            async with asyncio.timeout(self.timeout):
                conn.writer.write(conn.cipher.encrypt(plain))
                await conn.writer.drain()
                while not conn.pending:
                    chunk = await conn.reader.read(READ_SIZE)
                    if not chunk:
                        msg = f"{self.host}:{self.port} closed the connection"
                        raise _ClosedError(msg)
                    conn.pending.extend(conn.decoder.feed(chunk))
        except TimeoutError as err:
            msg = f"no reply from {self.host}:{self.port} within {self.timeout} s"
            raise RscpTimeoutError(msg) from err
        except OSError as err:
            msg = f"connection to {self.host}:{self.port} failed: {err}"
            raise RscpConnectionError(msg) from err
        frame = conn.pending.popleft()
        self._last_io = self._monotonic()
        if self._on_frame is not None:
            self._on_frame(
                "rx",
                encode_frame(
                    frame.items,
                    seconds=frame.seconds,
                    nanoseconds=frame.nanoseconds,
                    crc=frame.crc,
                ),
            )
        return frame

    async def request(
        self, items: Sequence[RscpItem], *, retry: bool = True
    ) -> tuple[RscpItem, ...]:
        """Send ``items`` in one frame and return the reply items (reconnecting if needed).

        With ``retry`` a failed exchange is sent once more on a fresh connection; writes pass
        ``retry=False``: a lost reply does not tell whether the device applied them.
        """
        async with self._lock:
            return await self._request_locked(items, retry=retry)

    async def _request_locked(
        self, items: Sequence[RscpItem], *, retry: bool
    ) -> tuple[RscpItem, ...]:
        """Run one request with the lock held: connect, exchange, reconnect and retry once."""
        conn = await self._ensure_connected()
        try:
            frame = await self._exchange(conn, items)
        except (RscpConnectionError, RscpProtocolError) as err:
            self._drop()
            if not retry:
                raise  # the next request reconnects; a write must not run twice
            _LOGGER.debug("E3/DC request failed, reconnecting once: %s", err)
            conn = await self._ensure_connected()
            try:
                frame = await self._exchange(conn, items)
            except (RscpConnectionError, RscpProtocolError):
                self._drop()
                self._note_failure()
                raise
        self._failures = 0
        try:
            return _match(items, frame)
        except RscpProtocolError:
            self._drop()  # the reply answers something else: the stream is out of step
            raise

    async def _ensure_connected(self) -> _Connection:
        """Return the open connection, opening one unless backing off after failures."""
        if self._conn is not None:
            return self._conn
        wait = self._retry_at - self._monotonic()
        if wait > 0:
            msg = f"not retrying {self.host}:{self.port} for another {wait:.1f} s"
            raise RscpConnectionError(msg)
        try:
            self._conn = await self._open()
        except (RscpConnectionError, RscpProtocolError):
            self._note_failure()
            raise
        self._start_keepalive()
        return self._conn

    def _note_failure(self) -> None:
        """Schedule the next allowed connection attempt (exponential backoff)."""
        delay = min(BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)], self.max_backoff_s)
        self._failures += 1
        self._retry_at = self._monotonic() + delay

    def _start_keepalive(self) -> None:
        """Start the idle keep-alive task if enabled and not running."""
        if self.keepalive_s is None or self._keepalive is not None:
            return
        self._keepalive = asyncio.get_running_loop().create_task(
            self._keepalive_loop(self.keepalive_s), name="meterlink-e3dc-keepalive"
        )

    async def _keepalive_loop(self, interval: float) -> None:
        """Ping with INFO_REQ_UTC_TIME after ``interval`` idle seconds; drop dead connections."""
        while True:
            idle = self._monotonic() - self._last_io
            await asyncio.sleep(max(interval - idle, 0.05))
            if self._conn is None or self._lock.locked():
                continue
            if self._monotonic() - self._last_io < interval:
                continue
            await self._ping()

    async def _ping(self) -> None:
        """Send one keep-alive request; drop the connection if it fails."""
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            try:
                await self._exchange(conn, commands.nones(T.INFO_REQ_UTC_TIME))
            except RscpError as err:
                _LOGGER.debug("E3/DC keep-alive failed, dropping connection: %s", err)
                self._drop()

    # ------------------------------------------------------------------ reads

    async def poll_live(self) -> LivePower:
        """Read live power flows, SOC, autarky and EMS status (one round trip)."""
        return LivePower.from_items(await self.request(commands.live()))

    async def system_info(self) -> SystemInfo:
        """Read serial, model, firmware, MAC and ratings."""
        return SystemInfo.from_items(await self.request(commands.system_info()))

    async def discover(self) -> Topology:
        """Find the batteries, inverters, power meters and wallboxes present (one round trip)."""
        reply = await self.request(
            commands.discover_probe(
                batteries=MAX_BATTERIES,
                inverters=MAX_INVERTERS,
                power_meters=MAX_POWER_METERS,
                wallboxes=MAX_WALLBOXES,
            )
        )
        topology = _topology(reply)
        self.topology = topology
        return topology

    async def poll_details(self, topology: Topology | None = None) -> Details:
        """Read batteries, inverters, power meters, wallboxes and settings in ONE round trip."""
        if topology is None:
            topology = self.topology or await self.discover()
        modules = topology.battery_modules or (0,) * len(topology.batteries)
        items: list[RscpItem] = [
            commands.battery(i, modules=n) for i, n in zip(topology.batteries, modules, strict=True)
        ]
        items += [
            commands.inverter(p.index, strings=p.strings, phases=p.phases)
            for p in topology.inverters
        ]
        items += [commands.power_meter(i) for i in topology.power_meters]
        items += [commands.wallbox(i) for i in topology.wallboxes]
        items += commands.power_settings()
        items += commands.wallbox_settings()
        items.append(commands.sg_ready())
        reply = await self.request(items)
        by_tag = index_by_tag(reply)
        settings = by_tag.get(T.EMS_GET_POWER_SETTINGS)
        manual = by_tag.get(T.EMS_GET_MANUAL_CHARGE)
        return Details(
            batteries=tuple(Battery.from_item(i) for i in reply if i.tag == T.BAT_DATA),
            inverters=tuple(Inverter.from_item(i) for i in reply if i.tag == T.PVI_DATA),
            power_meters=tuple(PowerMeter.from_item(i) for i in reply if i.tag == T.PM_DATA),
            wallboxes=tuple(Wallbox.from_item(i) for i in reply if i.tag == T.WB_DATA),
            power_settings=None
            if settings is None or settings.is_error
            else PowerSettings.from_item(settings),
            manual_charge=None
            if manual is None or manual.is_error
            else ManualCharge.from_item(manual),
            wallbox_settings=WallboxSettings.from_items(reply),
            sg_ready=_sg_ready(by_tag.get(T.SGR_DATA)),
        )

    async def wallbox(self, index: int) -> Wallbox:
        """Read one wallbox (one round trip; to confirm a wallbox write)."""
        reply = _require(await self.request([commands.wallbox(index)]), T.WB_DATA)
        return Wallbox.from_item(reply)

    async def wallbox_settings(self) -> WallboxSettings:
        """Read the EMS settings that steer wallboxes (one round trip)."""
        return WallboxSettings.from_items(await self.request(commands.wallbox_settings()))

    async def farm_devices(self) -> tuple[FarmDevice, ...]:
        """List the members of a farm (empty when this E3/DC is not a farm master)."""
        reply = await self.request(commands.nones(T.FARM_REQ_CONNECTED_DEVICES))
        answer = index_by_tag(reply).get(T.FARM_CONNECTED_DEVICES)
        if answer is None or answer.is_error:
            return ()
        return FarmDevice.list_from_item(answer)

    async def switches(self) -> tuple[SmartSwitch, ...]:
        """List smart-home switches with their states (one round trip)."""
        return SmartSwitch.list_from_items(await self.request(commands.switches()))

    async def power_settings(self) -> PowerSettings:
        """Read the battery power limits and EMS options."""
        reply = _require(
            await self.request(commands.nones(T.EMS_REQ_GET_POWER_SETTINGS)),
            T.EMS_GET_POWER_SETTINGS,
        )
        return PowerSettings.from_item(reply)

    async def history(
        self, period: commands.HistoryPeriod, *, start: int, span_s: int
    ) -> HistoryTotals:
        """Read energy totals of one history period starting at unix time ``start``."""
        request = commands.history(period, start=start, interval=span_s, span=span_s)
        reply = _require(await self.request([request]), int(period) | RESPONSE_BIT)
        return HistoryTotals.from_item(reply, start=start, span_s=span_s)

    async def history_series(
        self, period: commands.HistoryPeriod, *, start: int, span_s: int, interval_s: int
    ) -> tuple[HistoryTotals, ...]:
        """Read energy per interval (e.g. hourly values of a day, for long-term statistics)."""
        request = commands.history(period, start=start, interval=interval_s, span=span_s)
        reply = _require(await self.request([request]), int(period) | RESPONSE_BIT)
        return HistoryTotals.series_from_item(reply, start=start, interval_s=interval_s)

    # ------------------------------------------------------------------ writes

    async def set_switch(self, index: int, on: bool) -> bool:
        """Switch a smart-home actuator on or off; True if the device accepted it."""
        reply = _require(
            await self.request([commands.set_switch(index, on)], retry=False),
            T.HA_COMMAND_ACTUATOR,
        )
        return bool(reply.value)

    async def set_power_settings(
        self,
        *,
        max_charge_w: int | None = None,
        max_discharge_w: int | None = None,
        discharge_start_w: int | None = None,
        powersave: bool | None = None,
        weather_regulated_charge: bool | None = None,
    ) -> PowerSettings:
        """Change settings read-modify-write (untouched limits are re-sent as read) and verify."""
        current = await self.power_settings()
        limits = (max_charge_w, max_discharge_w, discharge_start_w)
        touching_limits = any(value is not None for value in limits)
        request = commands.set_power_settings(
            limits_used=True if touching_limits else None,
            max_charge_w=_pick(max_charge_w, current.max_charge_power_w, touching_limits),
            max_discharge_w=_pick(max_discharge_w, current.max_discharge_power_w, touching_limits),
            discharge_start_w=_pick(
                discharge_start_w, current.discharge_start_power_w, touching_limits
            ),
            powersave=powersave,
            weather_regulated_charge=weather_regulated_charge,
        )
        reply = await self._write_then_verify([request])
        if reply is not None:
            _check_results(_require(reply, T.EMS_SET_POWER_SETTINGS))
        after = await self.power_settings()
        wanted = replace(
            current,
            power_limits_used=True if touching_limits else current.power_limits_used,
            max_charge_power_w=_or(max_charge_w, current.max_charge_power_w),
            max_discharge_power_w=_or(max_discharge_w, current.max_discharge_power_w),
            discharge_start_power_w=_or(discharge_start_w, current.discharge_start_power_w),
            powersave_enabled=_or(powersave, current.powersave_enabled),
            weather_regulated_charge_enabled=_or(
                weather_regulated_charge, current.weather_regulated_charge_enabled
            ),
        )
        if after != wanted:
            msg = f"E3/DC power settings read back as {after}, expected {wanted}"
            raise RscpResponseError(msg)
        return after

    async def clear_power_limits(self) -> PowerSettings:
        """Remove the user power limits (EMS_POWER_LIMITS_USED = false) and verify."""
        request = commands.set_power_settings(limits_used=False)
        reply = await self._write_then_verify([request])
        if reply is not None:
            _check_results(_require(reply, T.EMS_SET_POWER_SETTINGS))
        after = await self.power_settings()
        if after.power_limits_used:
            msg = "E3/DC still reports power limits in use after clearing them"
            raise RscpResponseError(msg)
        return after

    async def start_manual_charge(self, energy_wh: int) -> bool:
        """Start a manual (grid) charge of ``energy_wh`` (0 stops); True if accepted."""
        request = commands.start_manual_charge(energy_wh)
        reply = await self.request([request], retry=False)  # the device allows few starts
        reply_item = _require(reply, T.EMS_START_MANUAL_CHARGE)
        return bool(reply_item.value)

    async def manual_charge(self) -> ManualCharge:
        """Read the manual charge state."""
        reply = _require(
            await self.request(commands.nones(T.EMS_REQ_GET_MANUAL_CHARGE)), T.EMS_GET_MANUAL_CHARGE
        )
        return ManualCharge.from_item(reply)

    async def idle_periods(self) -> tuple[IdlePeriod, ...]:
        """Read the weekly idle periods."""
        reply = await self.request(commands.idle_periods())
        return IdlePeriod.list_from_item(_require(reply, T.EMS_GET_IDLE_PERIODS))

    async def set_idle_periods(self, periods: Sequence[IdlePeriod]) -> tuple[IdlePeriod, ...]:
        """Replace every idle period and verify by reading them back."""
        sent = await self._write_then_verify([commands.set_idle_periods(periods)])
        reply = None if sent is None else _require(sent, T.EMS_SET_IDLE_PERIODS)
        if reply is not None and reply.value is not True:
            msg = f"E3/DC refused the idle periods (answered {reply.value!r})"
            raise RscpResponseError(msg)
        after = await self.idle_periods()
        if sorted(after, key=_period_key) != sorted(periods, key=_period_key):
            msg = f"E3/DC idle periods read back as {after}, expected {tuple(periods)}"
            raise RscpResponseError(msg)
        return after

    async def update_idle_period(self, period: IdlePeriod) -> tuple[IdlePeriod, ...]:
        """Change one idle period (same type and day) read-modify-write, keeping the others."""
        current = [p for p in await self.idle_periods() if p.key != period.key]
        return await self.set_idle_periods([*current, period])

    async def set_power_mode(self, mode: commands.PowerMode, power_w: int) -> None:
        """Force a battery power mode (idle, charge, discharge, grid charge) for a while."""
        _require(
            await self.request([commands.set_power_mode(mode, power_w)], retry=False),
            T.EMS_SET_POWER,
        )

    async def set_wallbox_sun_mode(self, index: int, on: bool) -> None:
        """Switch a wallbox's sun (solar-only) mode."""
        await self._wallbox_write(index, commands.WallboxExtern.SUN_MODE, 1 if on else 2)

    async def set_wallbox_max_current(self, index: int, current_a: int) -> None:
        """Set a wallbox's maximum charge current in amperes."""
        await self._wallbox_write(
            index, commands.WallboxExtern.MAX_CURRENT, current_a, request=T.WB_REQ_SET_PARAM_1
        )

    async def toggle_wallbox_phases(self, index: int) -> None:
        """Toggle a wallbox between one and three phases (never retried: a toggle)."""
        await self._wallbox_write(index, commands.WallboxExtern.TOGGLE_PHASES, 1)

    async def toggle_wallbox_charging(self, index: int) -> None:
        """Start or stop charging at a wallbox (never retried: a toggle)."""
        await self._wallbox_write(index, commands.WallboxExtern.TOGGLE_CHARGING, 1)

    async def set_wallbox_schuko(self, index: int, on: bool) -> None:
        """Switch a wallbox's household socket."""
        await self._wallbox_write(index, commands.WallboxExtern.SCHUKO, 1 if on else 0)

    async def set_battery_to_car(self, enabled: bool) -> bool:
        """Allow or forbid discharging the house battery into the car."""
        reply = _require(
            await self.request([commands.set_battery_to_car(enabled)], retry=False),
            T.EMS_SET_BATTERY_TO_CAR_MODE,
        )
        return reply.value == (1 if enabled else 0)

    async def set_battery_before_car(self, enabled: bool) -> bool:
        """Charge the house battery before the car (True) or the car first (False)."""
        return await self._ems_setting(T.EMS_REQ_SET_BATTERY_BEFORE_CAR_MODE, int(enabled))

    async def set_wallbox_discharge_battery_until(self, percent: int) -> bool:
        """Let wallboxes discharge the house battery down to ``percent`` SOC."""
        return await self._ems_setting(T.EMS_REQ_SET_WB_DISCHARGE_BAT_UNTIL, percent)

    async def set_wallbox_enforce_power_assignment(self, enabled: bool) -> bool:
        """Enforce the wallbox power assignment."""
        return await self._ems_setting(T.EMS_REQ_SET_WALLBOX_ENFORCE_POWER_ASSIGNMENT, int(enabled))

    async def _ems_setting(self, request: int, value: int) -> bool:
        """Write one UChar8 EMS setting; True if the device echoes the value."""
        item = commands.set_ems_wallbox_setting(request, value)
        reply = _require(await self.request([item], retry=False), request | RESPONSE_BIT)
        return reply.value == value

    async def _write_then_verify(self, items: Sequence[RscpItem]) -> tuple[RscpItem, ...] | None:
        """Send a write once; None when its reply was lost (the caller's read-back decides)."""
        try:
            return await self.request(items, retry=False)
        except (RscpConnectionError, RscpProtocolError) as err:
            _LOGGER.debug("E3/DC write reply lost, verifying by reading back: %s", err)
            return None

    async def _wallbox_write(
        self,
        index: int,
        byte_index: int,
        value: int,
        *,
        request: int = T.WB_REQ_SET_EXTERN,
    ) -> None:
        """Send one wallbox extern-data write and check the echo (pye3dc sendWallboxSetRequest)."""
        item = commands.wallbox_extern(index, byte_index, value, request=request)
        reply = _require(await self.request([item], retry=False), T.WB_DATA)
        echo = reply.find(request | RESPONSE_BIT)
        if echo is None or echo.is_error:
            msg = (
                f"wallbox {index} did not accept {tag_name(request)} (byte {byte_index} = {value})"
            )
            raise RscpResponseError(
                msg, status=echo.value if echo is not None and isinstance(echo.value, int) else None
            )


# ---------------------------------------------------------------------------- helpers


def _sg_ready(data: RscpItem | None) -> SgReady | None:
    """SG-Ready state if the device answered it (SGR_STATE present and not an error)."""
    if data is None or data.is_error:
        return None
    state = data.find(T.SGR_STATE)
    return None if state is None or state.is_error else SgReady.from_item(data)


def _period_key(period: IdlePeriod) -> tuple[int, int]:
    """Sort key of idle periods."""
    return period.key


def _pick(new: int | None, current: int | None, send: bool) -> int | None:
    """Value to send for a limit: the new one, else the current one when limits are sent."""
    if new is not None:
        return new
    return current if send else None


def _or[V](new: V | None, current: V | None) -> V | None:
    """The new value if given, else the current one."""
    return current if new is None else new


def _expected(request: RscpItem) -> set[int]:
    """Tags that may answer ``request``."""
    if request.tag == T.EMS_REQ_GET_SYS_SPECS:
        return set(SYS_SPECS_REPLIES)
    if request.tag == T.EMS_REQ_SYS_STATUS:
        return set(SYS_STATUS_REPLIES)
    return {request.tag | RESPONSE_BIT}


def _match(items: Sequence[RscpItem], frame: RscpFrame) -> tuple[RscpItem, ...]:
    """Check the reply frame answers the request; return its items."""
    wanted: set[int] = set()
    for request in items:
        wanted |= _expected(request)
    if not any(entry.tag in wanted for entry in frame.items):
        got = ", ".join(entry.name for entry in frame.items[:4]) or "nothing"
        msg = f"reply carries {got}; none of the {len(items)} requested tags"
        raise RscpProtocolError(msg)
    return frame.items


def _require(reply: Sequence[RscpItem], tag: int) -> RscpItem:
    """Return the reply item with ``tag``; raise if it is missing or an RSCP error."""
    for entry in reply:
        if entry.tag == tag:
            if entry.is_error:
                code = entry.value if isinstance(entry.value, int) else None
                msg = f"E3/DC answered {tag_name(tag)} with error {error_name(code or 0)}"
                raise RscpResponseError(msg, status=code)
            return entry
    msg = f"reply lacks {tag_name(tag)}"
    raise RscpProtocolError(msg)


def _check_results(reply: RscpItem) -> None:
    """Raise if any EMS_RES_* child of a set-power-settings reply is -1 (error)."""
    failed = [child.name for child in reply.children if child.value == -1]
    if failed:
        msg = f"E3/DC rejected power settings: {', '.join(failed)}"
        raise RscpResponseError(msg, status=-1)


def _topology(reply: Sequence[RscpItem]) -> Topology:
    """Read the discover() probe reply."""
    batteries, modules, inverters, meters, wallboxes = [], [], [], [], []
    for entry in reply:
        if entry.tag == T.BAT_DATA and _answered(entry, T.BAT_DCB_COUNT):
            batteries.append(_index(entry, T.BAT_INDEX))
            count = entry.get(T.BAT_DCB_COUNT)
            modules.append(_count(count, MAX_MODULES))
        elif entry.tag == T.PVI_DATA and _answered(entry, T.PVI_TYPE):
            strings = entry.get(T.PVI_USED_STRING_COUNT)
            phases = entry.get(T.PVI_AC_MAX_PHASE_COUNT)
            inverters.append(
                InverterLayout(
                    index=_index(entry, T.PVI_INDEX),
                    strings=_count(strings, MAX_DC_STRINGS),
                    phases=_count(phases, MAX_AC_PHASES),
                )
            )
        elif entry.tag == T.PM_DATA and _answered(entry, T.PM_TYPE):
            meters.append(_index(entry, T.PM_INDEX))
        elif entry.tag == T.WB_DATA and _answered(entry, T.WB_DEVICE_STATE):
            state = entry.find(T.WB_DEVICE_STATE)
            if state is not None and state.get(T.WB_DEVICE_CONNECTED) is not False:
                wallboxes.append(_index(entry, T.WB_INDEX))
    return Topology(
        batteries=tuple(batteries),
        battery_modules=tuple(modules),
        inverters=tuple(inverters),
        power_meters=tuple(meters),
        wallboxes=tuple(wallboxes),
    )


def _count(value: RscpValue, limit: int) -> int:
    """A count the device reported, clamped to 0..``limit`` (0 if it is not an integer)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    return max(0, min(value, limit))


def _answered(entry: RscpItem, tag: int) -> bool:
    """True if a container answers ``tag`` with a value (not an RSCP error)."""
    if entry.is_error:
        return False
    child = entry.find(tag)
    return child is not None and not child.is_error


def _index(entry: RscpItem, tag: int) -> int:
    """The index child of a reply container (0 if absent)."""
    value = entry.get(tag)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


__all__ = [
    "DEFAULT_PORT",
    "InverterLayout",
    "RscpClient",
    "RscpUserLevel",
    "Topology",
]
