"""RSCP server: the encrypted TCP face of the simulated E3/DC, with fault injection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import logging
import os
import struct
import time
from typing import TYPE_CHECKING, Literal, Self

from custom_components.meterlink.protocols.e3dc.cipher import RscpCipher
from custom_components.meterlink.protocols.e3dc.codec import (
    RscpItem,
    RscpStreamDecoder,
    RscpTimestamp,
    container,
    encode_frame,
    item,
)
from custom_components.meterlink.protocols.e3dc.errors import RscpError
from custom_components.meterlink.protocols.e3dc.tags import (
    RESPONSE_BIT,
    RscpErrorCode,
    RscpTag as T,
    RscpType,
    RscpUserLevel,
)

from .model import PowerModel, WallboxState

if TYPE_CHECKING:
    from collections.abc import Callable

    from .model import Flows

_LOGGER = logging.getLogger(__name__)

type AuthFault = Literal["password", "offline", "error"] | None

# Requests a normal user (level 10) may not make; our choice for the simulator, as E3/DC's
# per-tag permissions are not published.
INSTALLER_ONLY = frozenset({T.SYS_REQ_SYSTEM_REBOOT})
MAX_HISTORY_SPAN_S = 366 * 86400
MAX_HISTORY_VALUES = 400
MANUAL_CHARGE_LOCK_S = 3600  # the device accepts a manual charge "once every few hours"
POWER_MODE_HOLD_S = 30  # a forced power mode lapses unless refreshed (fact sheet 3)

_F = RscpType.FLOAT32
_D = RscpType.DOUBLE64
_U8 = RscpType.UCHAR8
_U16 = RscpType.UINT16
_U32 = RscpType.UINT32
_I32 = RscpType.INT32
_B = RscpType.BOOL
_S = RscpType.STRING


@dataclass
class Faults:
    """Faults to inject; counters apply to the next N replies after login."""

    drop: int = 0
    garbage: int = 0
    bad_crc: int = 0
    mismatch: int = 0  # answer with an item that answers none of the requests
    lose_write_reply: int = 0  # apply the next N writes, then hang up instead of replying
    error_tags: set[int] = field(default_factory=set)  # requests answered with an RSCP error
    stall: bool = False
    delay_s: float = 0.0
    auth: AuthFault = None
    on_bad_key: Literal["close", "garbage"] = "close"  # how to react to undecipherable input


@dataclass
class Session:
    """Per-connection state."""

    level: int = 0


@dataclass
class Stats:
    """Counters tests can inspect."""

    connections: int = 0
    frames: int = 0
    logins: int = 0
    requests_by_tag: dict[int, int] = field(default_factory=dict)
    executed: dict[int, int] = field(default_factory=dict)  # writes applied, by request tag


def _rsp(tag: int, rscp_type: RscpType, value: object = None) -> RscpItem:
    """Build the reply item for request ``tag``."""
    return item(tag | RESPONSE_BIT, rscp_type, value)  # type: ignore[arg-type]


def _err(tag: int, code: RscpErrorCode = RscpErrorCode.NOT_AVAILABLE) -> RscpItem:
    """Build an RSCP error reply for request ``tag``."""
    return item(tag | RESPONSE_BIT, RscpType.ERROR, int(code))


class E3dcSimulator:
    """An E3/DC speaking RSCP on TCP: authentication, user levels, model, faults."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rscp_key: str = "simulator-key",
        users: dict[str, tuple[str, int]] | None = None,
        model: PowerModel | None = None,
        serial: str = "S10-721234567890",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure the simulated device (port 0 picks a free port)."""
        self.host = host
        self.port = port
        self.rscp_key = rscp_key
        self.users = users or {"user@example.com": ("portal-password", RscpUserLevel.USER)}
        self.model = model or PowerModel()
        self.serial = serial
        self.clock = clock
        self._frame_now: float | None = None
        self.faults = Faults()
        self.stats = Stats()
        self.extra_reply_items: list[RscpItem] = []  # e.g. tags of a newer firmware
        self.farm_members: list[tuple[str, str]] = []  # (serial, name): makes this a farm master
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on TCP."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        """Start."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop."""
        await self.stop()

    def drop_all(self) -> None:
        """Close every open connection now (a device reboot or network blip)."""
        for writer in list(self._writers):
            writer.close()

    # ------------------------------------------------------------------ connection

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        self.stats.connections += 1
        cipher = RscpCipher(self.rscp_key)
        decoder = RscpStreamDecoder(cipher)
        session = Session()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                try:
                    frames = decoder.feed(chunk)
                except RscpError as err:
                    # A wrong RSCP key decrypts to garbage: a real device just hangs up
                    # (go-rscp issue #6); optionally answer noise first to test clients.
                    _LOGGER.debug("closing connection on undecipherable input: %s", err)
                    if self.faults.on_bad_key == "garbage":
                        writer.write(os.urandom(64))
                        await writer.drain()
                    return
                for frame in frames:
                    if not await self._serve(frame.items, session, cipher, writer):
                        return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _serve(
        self,
        items: tuple[RscpItem, ...],
        session: Session,
        cipher: RscpCipher,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one frame; False when the connection must close."""
        self.stats.frames += 1
        logged_in = session.level > 0
        faults = self.faults
        if logged_in and faults.drop:
            faults.drop -= 1
            return False
        if logged_in and faults.stall:
            return True
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        writes = sum(self.stats.executed.values())
        # one frame is answered from one instant, as the device answers from one snapshot
        self._frame_now = self.clock()
        try:
            replies = [self.answer(request, session) for request in items]
        finally:
            self._frame_now = None
        if faults.lose_write_reply and sum(self.stats.executed.values()) > writes:
            faults.lose_write_reply -= 1
            return False  # applied, but the reply is lost
        if logged_in:
            replies += self.extra_reply_items
        if logged_in and faults.mismatch:
            faults.mismatch -= 1
            replies = [item(0x0A8FFFF0, RscpType.UINT32, 0)]
        now = self.clock()
        data = encode_frame(
            replies, seconds=int(now), nanoseconds=int((now - int(now)) * 1e9) % 1_000_000_000
        )
        if logged_in and faults.bad_crc:
            faults.bad_crc -= 1
            data = data[:-4] + struct.pack("<I", ~struct.unpack("<I", data[-4:])[0] & 0xFFFFFFFF)
        out = cipher.encrypt(data)
        if logged_in and faults.garbage:
            faults.garbage -= 1
            out = os.urandom(len(out))
        writer.write(out)
        await writer.drain()
        return True

    # ------------------------------------------------------------------ dispatch

    def answer(self, request: RscpItem, session: Session) -> RscpItem:  # noqa: PLR0911
        """Answer one request item."""
        tag = request.tag
        self.stats.requests_by_tag[tag] = self.stats.requests_by_tag.get(tag, 0) + 1
        if tag == T.RSCP_REQ_AUTHENTICATION:
            return self._login(request, session)
        if tag == T.SRV_REQ_IS_ONLINE:
            return _rsp(tag, _B, self.faults.auth != "offline")
        if session.level <= 0:
            return _err(tag, RscpErrorCode.ACCESS_DENIED)
        if tag in self.faults.error_tags:
            return _err(tag, RscpErrorCode.NOT_AVAILABLE)
        if tag == T.RSCP_REQ_USER_LEVEL:
            return _rsp(tag, _U8, session.level)
        if tag in INSTALLER_ONLY:
            if session.level < RscpUserLevel.INSTALLER:
                return _err(tag, RscpErrorCode.ACCESS_DENIED)
            return _rsp(tag, _B, value=True)
        handler = self._handlers_by_tag().get(tag)
        if handler is not None:
            return handler(request)
        simple = self._simple(tag)
        if simple is not None:
            return simple
        # Requests this simulator does not model: an error item answers them, as a device
        # answers tags of other models or firmware (the session goes on).
        return _err(tag, RscpErrorCode.UNKNOWN_TAG)

    def _executed(self, tag: int) -> None:
        """Count a write the device applied (tests prove none runs twice)."""
        self.stats.executed[tag] = self.stats.executed.get(tag, 0) + 1

    def _login(self, request: RscpItem, session: Session) -> RscpItem:
        """Check user and password (and the portal-offline fault)."""
        self.stats.logins += 1
        user = request.get(T.RSCP_AUTHENTICATION_USER)
        password = request.get(T.RSCP_AUTHENTICATION_PASSWORD)
        fault = self.faults.auth
        if fault == "error":
            return item(T.RSCP_AUTHENTICATION, RscpType.ERROR, int(RscpErrorCode.AGAIN))
        known = self.users.get(user if isinstance(user, str) else "")
        ok = known is not None and known[0] == password and fault is None
        session.level = known[1] if ok and known is not None else 0
        return item(T.RSCP_AUTHENTICATION, _U8, session.level)

    def _handlers_by_tag(self) -> dict[int, Callable[[RscpItem], RscpItem]]:
        """Requests that need their parameters."""
        return {
            T.EMS_REQ_GET_SYS_SPECS: lambda _r: self._sys_specs(),
            T.EMS_REQ_GET_POWER_SETTINGS: lambda _r: self._power_settings(),
            T.EMS_REQ_SET_POWER_SETTINGS: self._set_power_settings,
            T.EMS_REQ_GET_MANUAL_CHARGE: lambda _r: self._manual_charge(),
            T.EMS_REQ_START_MANUAL_CHARGE: self._start_manual_charge,
            T.EMS_REQ_SET_POWER: self._set_power,
            T.EMS_REQ_GET_IDLE_PERIODS: lambda _r: self._idle_periods(),
            T.EMS_REQ_SET_IDLE_PERIODS: self._set_idle_periods,
            T.EMS_REQ_SET_BATTERY_TO_CAR_MODE: self._set_setting("battery_to_car"),
            T.EMS_REQ_SET_BATTERY_BEFORE_CAR_MODE: self._set_setting("battery_before_car"),
            T.EMS_REQ_SET_WB_DISCHARGE_BAT_UNTIL: self._set_setting("wb_discharge_bat_until"),
            T.EMS_REQ_SET_WALLBOX_ENFORCE_POWER_ASSIGNMENT: self._set_setting(
                "wb_enforce_power_assignment"
            ),
            T.EMS_REQ_GET_WALLBOX_ENFORCE_POWER_ASSIGNMENT: lambda r: _rsp(
                r.tag, _B, self.model.settings.wb_enforce_power_assignment
            ),
            T.BAT_REQ_DATA: self._battery,
            T.PVI_REQ_DATA: self._inverter,
            T.PM_REQ_DATA: self._power_meter,
            T.WB_REQ_DATA: self._wallbox,
            T.HA_REQ_DATAPOINT_LIST: lambda _r: self._datapoints(),
            T.FARM_REQ_CONNECTED_DEVICES: lambda _r: self._farm(),
            T.SGR_REQ_DATA: self._sg_ready,
            T.HA_REQ_ACTUATOR_STATES: lambda _r: self._actuator_states(),
            T.HA_REQ_COMMAND_ACTUATOR: self._command_actuator,
            T.DB_REQ_HISTORY_DATA_DAY: self._history,
            T.DB_REQ_HISTORY_DATA_WEEK: self._history,
            T.DB_REQ_HISTORY_DATA_MONTH: self._history,
            T.DB_REQ_HISTORY_DATA_YEAR: self._history,
        }

    def _flows(self) -> Flows:
        """Current power flows (at the instant of the frame being answered)."""
        return self.model.flows(self._frame_now if self._frame_now is not None else self.clock())

    def _simple(self, tag: int) -> RscpItem | None:  # noqa: C901, PLR0911
        """Answer parameterless requests."""
        m, s = self.model, self.model.settings
        if tag >> 24 == 0x01 and tag in _LIVE:
            f = self._flows()
            return _live(tag, f, m)
        if tag == T.INFO_REQ_UTC_TIME:
            now = self.clock()
            return _rsp(tag, RscpType.TIMESTAMP, RscpTimestamp(int(now), int((now % 1) * 1e9)))
        info = {
            T.INFO_REQ_SERIAL_NUMBER: self.serial,
            T.INFO_REQ_MAC_ADDRESS: "00:1a:2b:3c:4d:5e",
            T.INFO_REQ_IP_ADDRESS: self.host,
            T.INFO_REQ_SW_RELEASE: "S10_2024_062",
            T.INFO_REQ_PRODUCTION_DATE: "KW 11 2022",
            T.INFO_REQ_TIME_ZONE: "Europe/Berlin",
        }
        if tag in info:
            return _rsp(tag, _S, info[tag])
        if tag == T.EMS_REQ_INSTALLED_PEAK_POWER:
            return _rsp(tag, _U32, int(m.pv_peak_w))
        if tag == T.EMS_REQ_DERATE_AT_PERCENT_VALUE:
            return _rsp(tag, _F, 0.7)
        if tag == T.EMS_REQ_DERATE_AT_POWER_VALUE:
            return _rsp(tag, _F, m.pv_peak_w * 0.7)
        if tag == T.EMS_REQ_EXT_SRC_AVAILABLE:
            return _rsp(tag, RscpType.CHAR8, 1 if m.additional_w else 0)
        if tag == T.EMS_REQ_BATTERY_TO_CAR_MODE:
            return _rsp(tag, _U8, int(s.battery_to_car))
        if tag == T.EMS_REQ_BATTERY_BEFORE_CAR_MODE:
            return _rsp(tag, _U8, int(s.battery_before_car))
        if tag == T.EMS_REQ_GET_WB_DISCHARGE_BAT_UNTIL:
            return _rsp(tag, _U8, s.wb_discharge_bat_until)
        if tag in (T.EP_REQ_IS_GRID_CONNECTED, T.EP_REQ_IS_POSSIBLE, T.EP_REQ_IS_READY_FOR_SWITCH):
            return _rsp(tag, _B, value=True)
        if tag == T.EP_REQ_IS_ISLAND_GRID:
            return _rsp(tag, _B, value=False)
        return None

    # ------------------------------------------------------------------ EMS settings

    def _sys_specs(self) -> RscpItem:
        """EMS system specification list (reply tag EMS_GET_SYS_SPECS, see tags.py)."""
        m = self.model
        specs: list[tuple[str, int]] = [
            ("hybridModeSupported", 1),
            ("installedBatteryCapacity", int(m.battery_capacity_wh)),
            ("maxAcPower", 12000),
            ("maxBatChargePower", m.max_battery_power_w),
            ("maxBatDischargPower", m.max_battery_power_w),  # spelling pye3dc looks for
            ("maxPvPower", int(m.pv_peak_w)),
            ("maxStartChargePower", 100),
            ("startDischargeDefault", 65),
        ]
        return container(
            T.EMS_GET_SYS_SPECS,
            *(
                container(
                    T.EMS_SYS_SPEC,
                    item(T.EMS_SYS_SPEC_INDEX, _I32, i),
                    item(T.EMS_SYS_SPEC_NAME, _S, name),
                    item(T.EMS_SYS_SPEC_VALUE_INT, _I32, value),
                )
                for i, (name, value) in enumerate(specs)
            ),
        )

    def _power_settings(self) -> RscpItem:
        """EMS_GET_POWER_SETTINGS container (children carry the request-namespace tags)."""
        s = self.model.settings
        return container(
            T.EMS_GET_POWER_SETTINGS,
            item(T.EMS_POWER_LIMITS_USED, _B, s.power_limits_used),
            item(T.EMS_MAX_CHARGE_POWER, _U32, s.max_charge_w),
            item(T.EMS_MAX_DISCHARGE_POWER, _U32, s.max_discharge_w),
            item(T.EMS_DISCHARGE_START_POWER, _U32, s.discharge_start_w),
            item(T.EMS_POWERSAVE_ENABLED, _U8, int(s.powersave)),
            item(T.EMS_WEATHER_REGULATED_CHARGE_ENABLED, _U8, int(s.weather_regulated_charge)),
            item(T.EMS_WEATHER_FORECAST_MODE, _U8, 0),
        )

    def _set_power_settings(self, request: RscpItem) -> RscpItem:
        """Apply the given settings; each answered by an EMS_RES_* Char8 (0 ok, 1 adjusted)."""
        s, limit = self.model.settings, self.model.max_battery_power_w
        self._executed(request.tag)
        results: list[RscpItem] = []
        for child in request.children:
            value = child.value
            code = 0
            if child.tag == T.EMS_POWER_LIMITS_USED:
                s.power_limits_used = bool(value)
            elif child.tag in (T.EMS_MAX_CHARGE_POWER, T.EMS_MAX_DISCHARGE_POWER):
                watts = int(value) if isinstance(value, int) else -1
                if watts < 0:
                    code = -1
                else:
                    code = 1 if watts > limit else 0
                    watts = min(watts, limit)
                    if child.tag == T.EMS_MAX_CHARGE_POWER:
                        s.max_charge_w = watts
                    else:
                        s.max_discharge_w = watts
            elif child.tag == T.EMS_DISCHARGE_START_POWER and isinstance(value, int):
                s.discharge_start_w = value
            elif child.tag == T.EMS_POWERSAVE_ENABLED:
                s.powersave = bool(value)
            elif child.tag == T.EMS_WEATHER_REGULATED_CHARGE_ENABLED:
                s.weather_regulated_charge = bool(value)
            else:
                code = -1
            results.append(item(child.tag | RESPONSE_BIT, RscpType.CHAR8, code))
        self.model.save()
        return container(T.EMS_SET_POWER_SETTINGS, *results)

    def _manual_charge(self) -> RscpItem:
        """EMS_GET_MANUAL_CHARGE: active flag, charged energy, last start."""
        s = self.model.settings
        return container(
            T.EMS_GET_MANUAL_CHARGE,
            item(T.EMS_MANUAL_CHARGE_ACTIVE, _B, s.manual_charge_wh > s.manual_charge_done_wh),
            item(T.EMS_MANUAL_CHARGE_ENERGY_COUNTER, _U32, int(s.manual_charge_done_wh)),
            item(
                T.EMS_MANUAL_CHARGE_LASTSTART,
                RscpType.TIMESTAMP,
                RscpTimestamp(s.manual_charge_start, 0),
            ),
        )

    def _start_manual_charge(self, request: RscpItem) -> RscpItem:
        """Start (or with 0 stop) a manual charge; refused if started within the last hour."""
        s, now = self.model.settings, int(self.clock())
        self._executed(request.tag)
        energy = request.value if isinstance(request.value, int) else 0
        if energy and now - s.manual_charge_start < MANUAL_CHARGE_LOCK_S:
            return _rsp(request.tag, _B, value=False)
        s.manual_charge_wh = float(energy)
        s.manual_charge_done_wh = 0.0
        if energy:
            s.manual_charge_start = now
        self.model.save()
        return _rsp(request.tag, _B, value=True)

    def _set_power(self, request: RscpItem) -> RscpItem:
        """Force a power mode for POWER_MODE_HOLD_S seconds."""
        self._executed(request.tag)
        s = self.model.settings
        mode = request.get(T.EMS_REQ_SET_POWER_MODE)
        value = request.get(T.EMS_REQ_SET_POWER_VALUE)
        if not isinstance(mode, int) or not 0 <= mode <= 4 or not isinstance(value, int):
            return _err(request.tag, RscpErrorCode.FORMAT)
        s.power_mode, s.power_mode_value = mode, value
        s.power_mode_until = self.clock() + POWER_MODE_HOLD_S
        return _rsp(request.tag, _I32, value)

    def _idle_periods(self) -> RscpItem:
        """EMS_GET_IDLE_PERIODS."""
        periods = [
            container(
                T.EMS_IDLE_PERIOD,
                item(T.EMS_IDLE_PERIOD_TYPE, _U8, int(p["type"])),
                item(T.EMS_IDLE_PERIOD_DAY, _U8, int(p["day"])),
                item(T.EMS_IDLE_PERIOD_ACTIVE, _B, bool(p["active"])),
                container(
                    T.EMS_IDLE_PERIOD_START,
                    item(T.EMS_IDLE_PERIOD_HOUR, _U8, int(p["start_hour"])),
                    item(T.EMS_IDLE_PERIOD_MINUTE, _U8, int(p["start_minute"])),
                ),
                container(
                    T.EMS_IDLE_PERIOD_END,
                    item(T.EMS_IDLE_PERIOD_HOUR, _U8, int(p["end_hour"])),
                    item(T.EMS_IDLE_PERIOD_MINUTE, _U8, int(p["end_minute"])),
                ),
            )
            for p in self.model.settings.idle_periods
        ]
        return container(T.EMS_GET_IDLE_PERIODS, *periods)

    def _set_idle_periods(self, request: RscpItem) -> RscpItem:
        """Store idle periods (full replacement, as pye3dc sends them)."""
        self._executed(request.tag)
        stored: list[dict[str, int | bool]] = []
        for p in request.find_all(T.EMS_IDLE_PERIOD):
            start, end = p.find(T.EMS_IDLE_PERIOD_START), p.find(T.EMS_IDLE_PERIOD_END)
            if start is None or end is None:
                return _err(request.tag, RscpErrorCode.FORMAT)
            stored.append(
                {
                    "type": int(p.get(T.EMS_IDLE_PERIOD_TYPE) or 0),  # type: ignore[arg-type]
                    "day": int(p.get(T.EMS_IDLE_PERIOD_DAY) or 0),  # type: ignore[arg-type]
                    "active": bool(p.get(T.EMS_IDLE_PERIOD_ACTIVE)),
                    "start_hour": int(start.get(T.EMS_IDLE_PERIOD_HOUR) or 0),  # type: ignore[arg-type]
                    "start_minute": int(start.get(T.EMS_IDLE_PERIOD_MINUTE) or 0),  # type: ignore[arg-type]
                    "end_hour": int(end.get(T.EMS_IDLE_PERIOD_HOUR) or 0),  # type: ignore[arg-type]
                    "end_minute": int(end.get(T.EMS_IDLE_PERIOD_MINUTE) or 0),  # type: ignore[arg-type]
                }
            )
        self.model.settings.idle_periods = stored
        self.model.save()
        return _rsp(request.tag, _B, value=True)

    def _set_setting(self, name: str) -> Callable[[RscpItem], RscpItem]:
        """Handler storing a UChar8 setting and echoing it."""

        def handler(request: RscpItem) -> RscpItem:
            """Store and echo."""
            self._executed(request.tag)
            value = request.value if isinstance(request.value, int) else 0
            current = getattr(self.model.settings, name)
            setattr(self.model.settings, name, bool(value) if isinstance(current, bool) else value)
            self.model.save()
            return _rsp(request.tag, _U8, value)

        return handler

    # ------------------------------------------------------------------ devices

    def _battery(self, request: RscpItem) -> RscpItem:
        """BAT_DATA for one battery index."""
        raw = request.get(T.BAT_INDEX)
        index = raw if isinstance(raw, int) else -1
        m = self.model
        exists = 0 <= index < m.battery_count
        out = [item(T.BAT_INDEX, _U16, max(index, 0))]
        if not exists:
            out += [_err(c.tag) for c in request.children if c.tag != T.BAT_INDEX]
            return container(T.BAT_DATA, *out)
        f = self._flows()
        share = 1 / m.battery_count
        amp_hours = m.battery_capacity_wh * share / 52.0
        values: dict[int, tuple[RscpType, object]] = {
            T.BAT_REQ_RSOC: (_F, f.soc_pct),
            T.BAT_REQ_RSOC_REAL: (_F, f.soc_pct),
            T.BAT_REQ_ASOC: (_F, 96.0 - index),
            T.BAT_REQ_MODULE_VOLTAGE: (_F, 51.0 + f.soc_pct / 50),
            T.BAT_REQ_TERMINAL_VOLTAGE: (_F, 51.2 + f.soc_pct / 50),
            T.BAT_REQ_CURRENT: (_F, f.battery_w * share / 52.0),
            T.BAT_REQ_CHARGE_CYCLES: (_U32, m.battery_cycles + index),
            T.BAT_REQ_DCB_COUNT: (_U8, DCB_COUNT),
            T.BAT_REQ_FCC: (_F, amp_hours * 0.96),
            T.BAT_REQ_RC: (_F, amp_hours * 0.96 * f.soc_pct / 100),
            T.BAT_REQ_DESIGN_CAPACITY: (_D, amp_hours),
            T.BAT_REQ_USABLE_CAPACITY: (_F, amp_hours * 0.9),
            T.BAT_REQ_USABLE_REMAINING_CAPACITY: (_F, amp_hours * 0.9 * f.soc_pct / 100),
            T.BAT_REQ_MAX_DCB_CELL_TEMPERATURE: (_F, 24.5),
            T.BAT_REQ_MIN_DCB_CELL_TEMPERATURE: (_F, 21.0),
            T.BAT_REQ_STATUS_CODE: (RscpType.BITFIELD, b"\x00\x00\x00\x00"),
            T.BAT_REQ_ERROR_CODE: (RscpType.BITFIELD, b"\x00\x00\x00\x00"),
            T.BAT_REQ_DEVICE_NAME: (_S, f"BAT{index}"),
            T.BAT_REQ_MAX_CHARGE_CURRENT: (_F, 90.0),
            T.BAT_REQ_MAX_DISCHARGE_CURRENT: (_F, 90.0),
            T.BAT_REQ_TRAINING_MODE: (_U8, 0),
            T.BAT_REQ_TOTAL_USE_TIME: (_I32, 86400 * 700),
            T.BAT_REQ_TOTAL_DISCHARGE_TIME: (_I32, 86400 * 300),
        }
        for child in request.children:
            if child.tag == T.BAT_INDEX:
                continue
            if child.tag == T.BAT_REQ_DEVICE_STATE:
                out.append(
                    container(
                        T.BAT_DEVICE_STATE,
                        item(T.BAT_DEVICE_CONNECTED, _B, value=True),
                        item(T.BAT_DEVICE_WORKING, _B, value=True),
                        item(T.BAT_DEVICE_IN_SERVICE, _B, value=False),
                    )
                )
            elif child.tag in values:
                rscp_type, value = values[child.tag]
                out.append(_rsp(child.tag, rscp_type, value))
            elif child.tag == T.BAT_REQ_DCB_INFO and isinstance(child.value, int):
                out.append(_dcb_info(index, child.value, f.soc_pct, f.battery_w * share))
            else:
                out.append(_err(child.tag))
        return container(T.BAT_DATA, *out)

    def _inverter(self, request: RscpItem) -> RscpItem:
        """PVI_DATA for one inverter index (per-string DC, per-phase AC)."""
        raw = request.get(T.PVI_INDEX)
        index = raw if isinstance(raw, int) else -1
        m = self.model
        exists = 0 <= index < m.inverters
        out = [item(T.PVI_INDEX, _U16, max(index, 0))]
        if not exists:
            out += [_err(c.tag) for c in request.children if c.tag != T.PVI_INDEX]
            return container(T.PVI_DATA, *out)
        f = self._flows()
        strings = m.strings_per_inverter
        string_w = f.pv_w / m.inverters / strings
        ac_w = (f.pv_w - f.battery_w) / m.inverters / 3
        per_string: dict[int, Callable[[int], float]] = {
            T.PVI_REQ_DC_POWER: lambda i: string_w * (1.1 if i == 0 else 0.9),
            T.PVI_REQ_DC_VOLTAGE: lambda i: 420.0 + 10 * i if string_w else 0.0,
            T.PVI_REQ_DC_CURRENT: lambda i: string_w * (1.1 if i == 0 else 0.9) / (420.0 + 10 * i),
            T.PVI_REQ_DC_STRING_ENERGY_ALL: lambda i: 4_000_000.0 + 1000 * i,
        }
        per_phase: dict[int, Callable[[int], float]] = {
            T.PVI_REQ_AC_POWER: lambda _i: ac_w,
            T.PVI_REQ_AC_VOLTAGE: lambda i: 230.0 + i,
            T.PVI_REQ_AC_CURRENT: lambda i: ac_w / (230.0 + i),
            T.PVI_REQ_AC_ENERGY_ALL: lambda i: 3_000_000.0 + 1000 * i,
        }
        plain: dict[int, tuple[RscpType, object]] = {
            T.PVI_REQ_ON_GRID: (_B, True),
            T.PVI_REQ_STATE: (_S, "Running"),
            T.PVI_REQ_TYPE: (_U8, 3),
            T.PVI_REQ_SERIAL_NUMBER: (_S, f"PVI-{index}-0042"),
            T.PVI_REQ_AC_MAX_PHASE_COUNT: (_U8, 3),
            T.PVI_REQ_DC_MAX_STRING_COUNT: (_U8, strings),
            T.PVI_REQ_USED_STRING_COUNT: (_U8, strings),
            T.PVI_REQ_TEMPERATURE_COUNT: (_U8, 1),
        }
        for child in request.children:
            tag, which = child.tag, child.value
            if tag == T.PVI_INDEX:
                continue
            if tag in plain:
                out.append(_rsp(tag, *plain[tag]))
                continue
            table, limit = (per_string, strings) if tag in per_string else (per_phase, 3)
            if tag == T.PVI_REQ_TEMPERATURE:
                table, limit = {tag: _temperature}, 1
            if tag in table and isinstance(which, int) and 0 <= which < limit:
                out.append(
                    container(
                        tag | RESPONSE_BIT,
                        item(T.PVI_INDEX, _U16, which),
                        item(T.PVI_VALUE, _F, float(table[tag](which))),
                    )
                )
            else:
                out.append(_err(tag))
        return container(T.PVI_DATA, *out)

    def _power_meter(self, request: RscpItem) -> RscpItem:
        """PM_DATA: index 0 is the grid (root) meter, 1 an additional meter of unknown type."""
        index = request.get(T.PM_INDEX)
        out = [item(T.PM_INDEX, _U16, index if isinstance(index, int) else 0)]
        meters = {0: 1, 1: 42}  # type 42: newer than our table, must be tolerated
        if index not in meters:
            out += [_err(c.tag) for c in request.children if c.tag != T.PM_INDEX]
            return container(T.PM_DATA, *out)
        f = self._flows()
        phase_w = f.grid_w / 3 if index == 0 else f.additional_w / 3
        values: dict[int, tuple[RscpType, object]] = {
            T.PM_REQ_TYPE: (_U16, meters[index]),  # type: ignore[index]
            T.PM_REQ_ACTIVE_PHASES: (_U8, 7),
            T.PM_REQ_MODE: (_U8, 0),
            T.PM_REQ_MAX_PHASE_POWER: (_U32, 11000),
        }
        for n, (p, v, e) in enumerate(
            (
                (T.PM_REQ_POWER_L1, T.PM_REQ_VOLTAGE_L1, T.PM_REQ_ENERGY_L1),
                (T.PM_REQ_POWER_L2, T.PM_REQ_VOLTAGE_L2, T.PM_REQ_ENERGY_L2),
                (T.PM_REQ_POWER_L3, T.PM_REQ_VOLTAGE_L3, T.PM_REQ_ENERGY_L3),
            )
        ):
            values[p] = (_D, float(phase_w))
            values[v] = (_F, 230.0 + n)
            values[e] = (_D, 1_000_000.0 + n)
        for child in request.children:
            if child.tag == T.PM_INDEX:
                continue
            if child.tag in values:
                out.append(_rsp(child.tag, *values[child.tag]))
            else:
                out.append(_err(child.tag))
        return container(T.PM_DATA, *out)

    def _wallbox(self, request: RscpItem) -> RscpItem:  # noqa: C901
        """WB_DATA: reads (extern data, key state, device state) and writes (set extern/param)."""
        index = request.get(T.WB_INDEX)
        boxes = {w.index: w for w in self.model.wallboxes}
        box = boxes.get(index) if isinstance(index, int) else None
        out = [item(T.WB_INDEX, _U8, index if isinstance(index, int) else 0)]
        if box is None:
            out += [_err(c.tag) for c in request.children if c.tag != T.WB_INDEX]
            return container(T.WB_DATA, *out)
        f = self._flows()
        solar_w, grid_w = f.per_wallbox_w[self.model.wallboxes.index(box)]
        for child in request.children:
            tag = child.tag
            if tag == T.WB_INDEX:
                continue
            if tag in (T.WB_REQ_SET_EXTERN, T.WB_REQ_SET_PARAM_1):
                out.append(self._wallbox_write(box, child))
            elif tag == T.WB_REQ_EXTERN_DATA_ALG:
                out.append(_extern(tag, _alg_bytes(box)))
            elif tag == T.WB_REQ_EXTERN_DATA_SUN:
                out.append(_extern(tag, struct.pack("<hi", int(solar_w), int(box.energy_solar_wh))))
            elif tag == T.WB_REQ_EXTERN_DATA_NET:
                out.append(_extern(tag, struct.pack("<hi", int(grid_w), int(box.energy_grid_wh))))
            elif tag == T.WB_REQ_APP_SOFTWARE:
                out.append(_rsp(tag, _U8, 42))  # rscp-lib types WB_APP_SOFTWARE as UChar8
            elif tag == T.WB_REQ_KEY_STATE:
                out.append(_rsp(tag, _U32, 0))
            elif tag == T.WB_REQ_DEVICE_NAME:
                out.append(_rsp(tag, _S, box.name))
            elif tag == T.WB_REQ_DEVICE_STATE:
                out.append(
                    container(
                        T.WB_DEVICE_STATE,
                        item(T.WB_DEVICE_CONNECTED, _B, value=True),
                        item(T.WB_DEVICE_WORKING, _B, value=True),
                    )
                )
            else:
                out.append(_err(tag))
        return container(T.WB_DATA, *out)

    def _wallbox_write(self, box: WallboxState, request: RscpItem) -> RscpItem:
        """Apply a WB_EXTERN_DATA write (pye3dc byte layout) and echo it."""
        self._executed(request.tag)
        data = request.get(T.WB_EXTERN_DATA)
        if not isinstance(data, bytes) or len(data) < 6:
            return _err(request.tag, RscpErrorCode.FORMAT)
        if request.tag == T.WB_REQ_SET_PARAM_1:
            if data[2]:
                box.max_current_a = max(6, min(32, data[2]))
        else:
            if data[0] in (1, 2):
                box.sun_mode = data[0] == 1
            if data[3] == 1:
                box.phases = 1 if box.phases == 3 else 3
            if data[4] == 1:
                box.charging = not box.charging
            box.schuko_on = data[5] == 1
        self.model.save()
        return _rsp(request.tag, RscpType.BYTEARRAY, data)

    # ------------------------------------------------------------------ smart home, history

    def _sg_ready(self, request: RscpItem) -> RscpItem:
        """SGR_DATA: overall state (index 0xFF) 2 = normal operation, not active."""
        index = request.get(T.SGR_INDEX)
        out = [item(T.SGR_INDEX, _U16, index if isinstance(index, int) else 0)]
        for child in request.children:
            if child.tag == T.SGR_REQ_STATE:
                out.append(_rsp(child.tag, RscpType.CHAR8, 2))
                out.append(item(T.SGR_AKTIV, _B, value=False))
            elif child.tag != T.SGR_INDEX:
                out.append(_err(child.tag))
        return container(T.SGR_DATA, *out)

    def _farm(self) -> RscpItem:
        """FARM_CONNECTED_DEVICES (layout assumed from the tag names; see tags.py)."""
        if not self.farm_members:
            return _err(T.FARM_REQ_CONNECTED_DEVICES)
        return container(
            T.FARM_CONNECTED_DEVICES,
            *(
                container(
                    T.FARM_PARAM_DEVICE,
                    item(T.FARM_PARAM_SERIALNO, _S, serial),
                    item(T.FARM_PARAM_CNAME, _S, name),
                )
                for serial, name in self.farm_members
            ),
        )

    def _datapoints(self) -> RscpItem:
        """HA_DATAPOINT_LIST."""
        return container(
            T.HA_DATAPOINT_LIST,
            *(
                container(
                    T.HA_DATAPOINT,
                    item(T.HA_DATAPOINT_INDEX, _U16, s.index),
                    item(T.HA_DATAPOINT_TYPE, _U32, s.type),
                    item(T.HA_DATAPOINT_NAME, _S, s.name),
                )
                for s in self.model.switches
            ),
        )

    def _actuator_states(self) -> RscpItem:
        """HA_ACTUATOR_STATES, in the same order as the list."""
        return container(
            T.HA_ACTUATOR_STATES,
            *(
                container(
                    T.HA_DATAPOINT,
                    item(T.HA_DATAPOINT_INDEX, _U16, s.index),
                    item(T.HA_DATAPOINT_STATE, RscpType.CHAR8, 1 if s.on else 0),
                )
                for s in self.model.switches
            ),
        )

    def _command_actuator(self, request: RscpItem) -> RscpItem:
        """Switch an actuator; False for an unknown index or command."""
        self._executed(request.tag)
        index = request.get(T.HA_DATAPOINT_INDEX)
        command = request.get(T.HA_REQ_COMMAND)
        for switch in self.model.switches:
            if switch.index == index and command in ("on", "off"):
                switch.on = command == "on"
                self.model.save()
                return _rsp(request.tag, _B, value=True)
        return _rsp(request.tag, _B, value=False)

    def _history(self, request: RscpItem) -> RscpItem:
        """DB history: one sum container, plus value containers per interval."""
        start = request.get(T.DB_REQ_HISTORY_TIME_START)
        interval = request.get(T.DB_REQ_HISTORY_TIME_INTERVAL)
        span = request.get(T.DB_REQ_HISTORY_TIME_SPAN)
        valid = (
            isinstance(start, int)
            and isinstance(interval, int)
            and isinstance(span, int)
            and 0 < span <= MAX_HISTORY_SPAN_S
            and 0 < interval <= span
            and span // interval <= MAX_HISTORY_VALUES
            and start + span <= self.clock() + 86400
        )
        if not valid:
            return _err(request.tag, RscpErrorCode.OUT_OF_BOUNDS)
        assert isinstance(start, int)  # noqa: S101  # narrowed by ``valid``
        assert isinstance(span, int)  # noqa: S101
        assert isinstance(interval, int)  # noqa: S101
        now = self.clock()
        out = [_db_container(T.DB_SUM_CONTAINER, 0, self.model.history(start, span, now))]
        if interval < span:
            for n, t in enumerate(range(start, start + span, interval)):
                out.append(
                    _db_container(T.DB_VALUE_CONTAINER, n, self.model.history(t, interval, now))
                )
        return container(request.tag | RESPONSE_BIT, *out)


_LIVE = frozenset(
    {
        T.EMS_REQ_POWER_PV,
        T.EMS_REQ_POWER_BAT,
        T.EMS_REQ_POWER_HOME,
        T.EMS_REQ_POWER_GRID,
        T.EMS_REQ_POWER_ADD,
        T.EMS_REQ_POWER_WB_ALL,
        T.EMS_REQ_POWER_WB_SOLAR,
        T.EMS_REQ_BAT_SOC,
        T.EMS_REQ_AUTARKY,
        T.EMS_REQ_SELF_CONSUMPTION,
        T.EMS_REQ_MODE,
        T.EMS_REQ_STATUS,
        T.EMS_REQ_SYS_STATUS,
        T.EMS_REQ_COUPLING_MODE,
    }
)


def _live(tag: int, f: Flows, m: PowerModel) -> RscpItem:
    """Answer a live EMS value."""
    consumption = f.house_w + f.wallbox_w
    imported = max(f.grid_w, 0.0)
    exported = max(-f.grid_w, 0.0)
    autarky = 100.0 * (1 - imported / consumption) if consumption else 100.0
    self_consumption = 100.0 * (1 - exported / f.pv_w) if f.pv_w else 100.0
    s = m.settings
    status = (
        0b1011_1111  # bits 0-5, 7: dcdc, pm, battery, pv module, pv inverter, server, ems alive
        | (1 << 11)
        | ((1 << 14) if m.wallboxes else 0)
        | ((1 << 15) if s.powersave else 0)
        | ((1 << 18) if m.waiting_for_weather else 0)  # waitForWeatherBreakthrough
    )
    values: dict[int, tuple[RscpType, object]] = {
        T.EMS_REQ_POWER_PV: (_I32, int(f.pv_w)),
        T.EMS_REQ_POWER_BAT: (_I32, int(f.battery_w)),
        T.EMS_REQ_POWER_HOME: (_I32, int(f.house_w)),
        T.EMS_REQ_POWER_GRID: (_I32, int(f.grid_w)),
        T.EMS_REQ_POWER_ADD: (_I32, -int(f.additional_w)),
        T.EMS_REQ_POWER_WB_ALL: (_I32, int(f.wallbox_w)),
        T.EMS_REQ_POWER_WB_SOLAR: (_I32, int(f.wallbox_solar_w)),
        T.EMS_REQ_BAT_SOC: (_U8, round(f.soc_pct)),
        T.EMS_REQ_AUTARKY: (_F, autarky),
        T.EMS_REQ_SELF_CONSUMPTION: (_F, self_consumption),
        T.EMS_REQ_MODE: (_U8, 3),
        T.EMS_REQ_STATUS: (_U32, 0),
        T.EMS_REQ_SYS_STATUS: (_U32, status),
        T.EMS_REQ_COUPLING_MODE: (_U8, 0),
    }
    rscp_type, value = values[tag]
    if tag == T.EMS_REQ_SYS_STATUS:  # E3/DC's table: the answer is EMS_SYS_STATUS 0x0100009E
        return item(T.EMS_SYS_STATUS, rscp_type, value)  # type: ignore[arg-type]
    return _rsp(tag, rscp_type, value)


DCB_COUNT = 3  # modules per simulated battery


def _dcb_info(battery: int, module: int, soc: float, battery_w: float) -> RscpItem:
    """BAT_DCB_INFO for one module; NOT_AVAILABLE past the last module."""
    if not 0 <= module < DCB_COUNT:
        return _err(T.BAT_REQ_DCB_INFO)
    voltage = 17.0 + soc / 100
    return container(
        T.BAT_DCB_INFO,
        item(T.BAT_DCB_INDEX, _U16, module),
        item(T.BAT_DCB_SOC, _F, soc),
        item(T.BAT_DCB_SOH, _F, 97.5 - module - battery),
        item(T.BAT_DCB_CYCLE_COUNT, _U32, 120 + module),
        item(T.BAT_DCB_VOLTAGE, _F, voltage),
        item(T.BAT_DCB_CURRENT, _F, battery_w / (voltage * DCB_COUNT)),
        item(T.BAT_DCB_FULL_CHARGE_CAPACITY, _F, 44.0),
        item(T.BAT_DCB_REMAINING_CAPACITY, _F, 44.0 * soc / 100),
        item(T.BAT_DCB_SERIALNO, _U32, 7_000_000 + 100 * battery + module),
    )


def _temperature(_index: int) -> float:
    """Inverter temperature (degrees C)."""
    return 38.5


def _alg_bytes(box: WallboxState) -> bytes:
    """WB_EXTERN_DATA_ALG bytes: SOC, phases, status bits, max current, -, schuko, -, -."""
    status = (
        (0x80 if box.sun_mode else 0)
        | (0x20 if box.charging and box.plugged else 0)
        | (0x10 if box.plugged else 0)
        | (0x08 if box.plugged else 0)
        | (0x40 if box.plugged and not box.charging else 0)
    )
    return bytes(
        [box.car_soc_pct, box.phases, status, box.max_current_a, 0, int(box.schuko_on), 0, 0]
    )


def _extern(tag: int, data: bytes) -> RscpItem:
    """A WB_EXTERN_DATA_* reply container."""
    return container(
        tag | RESPONSE_BIT,
        item(T.WB_EXTERN_DATA, RscpType.BYTEARRAY, data),
        item(T.WB_EXTERN_DATA_LEN, _U8, len(data)),
    )


def _db_container(tag: int, index: int, totals: dict[str, float]) -> RscpItem:
    """A DB sum/value container (Float32 values, energies in Wh)."""
    values = (
        (T.DB_GRAPH_INDEX, float(index)),
        (T.DB_BAT_POWER_IN, totals["bat_in"]),
        (T.DB_BAT_POWER_OUT, totals["bat_out"]),
        (T.DB_DC_POWER, totals["pv"]),
        (T.DB_GRID_POWER_IN, totals["grid_in"]),
        (T.DB_GRID_POWER_OUT, totals["grid_out"]),
        (T.DB_CONSUMPTION, totals["house"]),
        (T.DB_PM_0_POWER, totals["pm0"]),
        (T.DB_PM_1_POWER, totals["pm1"]),
        (T.DB_BAT_CHARGE_LEVEL, totals["soc"]),
        (T.DB_CONSUMED_PRODUCTION, totals["self_consumption"]),
        (T.DB_AUTARKY, totals["autarky"]),
    )
    return container(tag, *(item(t, _F, v) for t, v in values))
