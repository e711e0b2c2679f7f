"""SCADA runtime: one channel (connection) per entry, one coordinator, items of every term.

Modbus channels poll every item through the read planner (few merged requests); IEC 104
channels keep a supervised link that receives spontaneous data, run a general interrogation
of every term after each (re)connect and at the poll interval. Every value passes the item's
data check before it reaches a state; formula items are computed after each update.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import math
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.exceptions import (
    ConfigEntryNotReady,
    HomeAssistantError,
    ServiceValidationError,
    TemplateError,
)
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.template import Template
from homeassistant.util import dt as dt_util

from ...capture import FrameCapture
from ...const import CONF_CAPTURE_FRAMES, DOMAIN, LOGGER
from ...coordinator import MeterLinkConfigEntry, MeterLinkCoordinator, MeterLinkRuntime
from ...helpers import error_translation, translated_error
from ...protocols.errors import MeterLinkError
from ...protocols.iec104.client import Iec104Client
from ...protocols.iec104.connection import Iec104Parameters
from ...protocols.iec104.errors import (
    Iec104CommandError,
    Iec104CommandUnconfirmedError,
    Iec104ConnectionError,
    Iec104Error,
)
from ...protocols.iec104.models import Asdu, DoublePoint, InformationObject, Quality, TypeId
from ...protocols.iec104.pointlist import base_type
from ...protocols.iec104.supervisor import Iec104Supervisor
from ...protocols.modbus.client import ModbusClient, ModbusPoller, ModbusTransport
from ...protocols.modbus.errors import (
    ModbusError,
    ModbusValueError,
    ModbusWriteUnconfirmedError,
    ModbusWriteVerifyError,
)
from ...protocols.modbus.planner import PlanLimits
from .const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_HOST,
    CONF_ITEMS,
    CONF_MAX_GAP,
    CONF_MAX_REGISTERS,
    CONF_NAME,
    CONF_PARITY,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    CONF_TERM,
    DEFAULT_IEC104_INTERVAL,
    DEFAULT_MAX_GAP,
    DEFAULT_MAX_REGISTERS,
    DEFAULT_MODBUS_INTERVAL,
    ISSUE_AFTER_REJECTIONS,
    MANUFACTURER,
    SUBENTRY_TERM,
    Protocol,
)
from .items import ItemError, ScadaItem, parse_items

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddEntitiesCallback

    from ...protocols.capture import FrameCallback
    from ...protocols.modbus.models import PointValue

# Connection timing; tests shorten it.
CLIENT_TIMING: Final[dict[str, float]] = {
    "timeout_s": 3.0,
    "reconnect_delay_s": 1.0,
    "reconnect_delay_max_s": 60.0,
    "t0_s": 10.0,
    "t1_s": 15.0,
    "t2_s": 10.0,
    "t3_s": 20.0,
    "first_connect_s": 15.0,
}
_MODBUS_TRANSPORT: Final = {
    Protocol.MODBUS_TCP: ModbusTransport.TCP,
    Protocol.MODBUS_RTU_OVER_TCP: ModbusTransport.RTU_OVER_TCP,
    Protocol.MODBUS_RTU_SERIAL: ModbusTransport.RTU_SERIAL,
}
_BAD_QUALITY: Final = Quality.INVALID | Quality.BLOCKED
_SCALED_RANGE: Final = (-32768, 32767)  # IEC 60870-5-101, 7.2.6.7 SVA: 16-bit signed


# --- model ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemState:
    """What an item shows: the accepted value, its quality and time, and why if not good.

    ``value`` is None while there is no valid value (the entity is unavailable). ``quality`` is
    ``good``, ``not_topical`` / ``substituted`` (IEC 104 flags, value shown), ``rejected``
    (data check: last accepted value kept), ``stale``, ``invalid`` or ``error`` (no value).
    """

    value: PointValue | None
    quality: str
    timestamp: datetime | None
    error: str | None = None
    raw: PointValue | None = None

    def as_response(self) -> dict[str, Any]:
        """The state as action response data."""
        return {
            "value": self.value,
            "quality": self.quality,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "error": self.error,
        }


@dataclass(kw_only=True)
class CheckStats:
    """Counters of an item's data check (shown in diagnostics)."""

    rejected: int = 0
    stale: int = 0
    consecutive: int = 0
    last_reason: str | None = None
    last_rejected_value: PointValue | None = None
    last_rejected_at: datetime | None = None
    issue: bool = False


@dataclass(frozen=True, kw_only=True)
class Term:
    """A term (Modbus unit / IEC 104 station) from its subentry."""

    subentry_id: str
    term: int
    name: str
    items: tuple[ScadaItem, ...]
    errors: tuple[ItemError, ...] = ()


@dataclass(kw_only=True)
class _Track:
    """Per item: when its value last changed / arrived, for the stale check."""

    changed: datetime
    value: PointValue | None = None
    accepted_at: datetime | None = None
    stale_counted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def terms_of(entry: MeterLinkConfigEntry) -> list[Term]:
    """Return the entry's terms (subentries) with their parsed items, by term number."""
    protocol = Protocol(entry.data[CONF_PROTOCOL])
    terms: list[Term] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_TERM:
            continue
        number = int(subentry.data[CONF_TERM])
        items, errors = parse_items(protocol, number, list(subentry.data.get(CONF_ITEMS, [])))
        for err in errors:
            LOGGER.warning("%s term %s: item %s skipped: %s", entry.title, number, err.line, err)
        terms.append(
            Term(
                subentry_id=subentry.subentry_id,
                term=number,
                name=str(subentry.data.get(CONF_NAME) or subentry.title),
                items=tuple(items),
                errors=tuple(errors),
            )
        )
    return sorted(terms, key=lambda t: t.term)


def build_modbus_client(data: Mapping[str, Any], on_frame: FrameCallback | None) -> ModbusClient:
    """Return a Modbus client for an entry's channel (nothing is opened yet)."""
    protocol = Protocol(data[CONF_PROTOCOL])
    common: dict[str, Any] = {
        "transport": _MODBUS_TRANSPORT[protocol],
        "timeout_s": CLIENT_TIMING["timeout_s"],
        "reconnect_delay_s": CLIENT_TIMING["reconnect_delay_s"],
        "reconnect_delay_max_s": CLIENT_TIMING["reconnect_delay_max_s"],
        "on_frame": on_frame,
    }
    if protocol.is_serial:
        return ModbusClient(
            serial_port=data[CONF_SERIAL_PORT],
            baudrate=int(data[CONF_BAUDRATE]),
            bytesize=int(data[CONF_BYTESIZE]),
            parity=str(data[CONF_PARITY]),
            stopbits=int(data[CONF_STOPBITS]),
            **common,
        )
    return ModbusClient(host=data[CONF_HOST], port=int(data[CONF_PORT]), **common)


def build_iec104_client(
    data: Mapping[str, Any],
    *,
    common_address: int = 1,
    on_asdu: Any = None,
    on_frame: FrameCallback | None = None,
) -> Iec104Client:
    """Return an IEC 104 client for an entry's channel (nothing is opened yet)."""
    return Iec104Client(
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        common_address=common_address,
        params=Iec104Parameters(
            t0_s=CLIENT_TIMING["t0_s"],
            t1_s=CLIENT_TIMING["t1_s"],
            t2_s=CLIENT_TIMING["t2_s"],
            t3_s=CLIENT_TIMING["t3_s"],
        ),
        command_timeout_s=CLIENT_TIMING["t1_s"],
        on_asdu=on_asdu,
        on_frame=on_frame,
        reconnect_delay_s=CLIENT_TIMING["reconnect_delay_s"],
        reconnect_delay_max_s=CLIENT_TIMING["reconnect_delay_max_s"],
    )


def iec104_value(item: ScadaItem, obj: InformationObject) -> PointValue | None:
    """The shown value of an IEC 104 information object (None: indeterminate double point)."""
    point = item.iec104
    assert point is not None  # noqa: S101 - IEC 104 items only
    kind = point.type_id
    if kind in (TypeId.M_SP_NA_1, TypeId.C_SC_NA_1):
        return bool(obj.value)
    if kind in (TypeId.M_DP_NA_1, TypeId.C_DC_NA_1):
        if obj.value == DoublePoint.ON:
            return True
        if obj.value == DoublePoint.OFF:
            return False
        return None
    value = float(obj.value) * point.scale + point.offset
    return round(value, item.precision) if item.precision is not None else value


def _quality_name(quality: Quality) -> str:
    """One word for IEC 104 quality flags (worst first)."""
    for flag, name in (
        (Quality.INVALID, "invalid"),
        (Quality.BLOCKED, "blocked"),
        (Quality.NOT_TOPICAL, "not_topical"),
        (Quality.SUBSTITUTED, "substituted"),
        (Quality.OVERFLOW, "overflow"),
    ):
        if quality & flag:
            return name
    return "good"


# --- coordinator ------------------------------------------------------------------------------


class ScadaCoordinator(MeterLinkCoordinator[dict[str, ItemState]]):
    """The one coordinator of a channel: polls (Modbus) or interrogates (IEC 104)."""

    def __init__(
        self, hass: HomeAssistant, entry: MeterLinkConfigEntry, runtime: ScadaRuntime
    ) -> None:
        """Set the cadence from the options."""
        default = DEFAULT_MODBUS_INTERVAL if runtime.protocol.is_modbus else DEFAULT_IEC104_INTERVAL
        seconds = entry.options.get(CONF_SCAN_INTERVAL)
        super().__init__(
            hass,
            entry,
            name=f"{entry.title} channel",
            update_interval=timedelta(seconds=seconds) if seconds else default,
        )
        self.runtime = runtime

    async def _async_fetch(self) -> dict[str, ItemState]:
        """Read every item once (Modbus) or interrogate every term (IEC 104)."""
        was_good = self.last_update_success
        try:
            return await self.runtime.async_fetch()
        except MeterLinkError as err:
            if not was_good and self.last_update_success:
                # Data pushed while this update ran (IEC 104: the link came back) marked the
                # channel good. The coordinator only tells the entities about a failure that
                # follows a good update, so they would keep showing those values: tell them.
                self.async_set_update_error(err)
            raise

    @callback
    def pushed(self, data: dict[str, ItemState]) -> None:
        """Publish data that arrived by itself (IEC 104 spontaneous / interrogated)."""
        self.last_success = dt_util.utcnow()
        self.last_error = None
        self.async_set_updated_data(data)


# --- runtime ----------------------------------------------------------------------------------


class ScadaRuntime(MeterLinkRuntime):
    """A loaded SCADA entry: channel, terms, items, data checks and formulas."""

    def __init__(self, hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Build the client and coordinator; nothing is opened yet."""
        self.hass = hass
        self.entry = entry
        self.clock: Callable[[], datetime] = dt_util.utcnow  # tests move it
        self.protocol = Protocol(entry.data[CONF_PROTOCOL])
        self.capture = FrameCapture.for_secrets(
            enabled=bool(entry.options.get(CONF_CAPTURE_FRAMES, False)), secrets=[]
        )
        self.terms = terms_of(entry)
        self.items: dict[str, ScadaItem] = {i.uid: i for t in self.terms for i in t.items}
        self.states: dict[str, ItemState] = {}
        self.stats: dict[str, CheckStats] = {uid: CheckStats() for uid in self.items}
        self._track: dict[str, _Track] = {}
        self._templates: dict[str, Template] = {}
        self._unsub: list[CALLBACK_TYPE] = []
        self.coordinator = ScadaCoordinator(hass, entry, self)
        self.coordinators = [self.coordinator]
        self.modbus: ModbusClient | None = None
        self.poller: ModbusPoller | None = None
        self.iec104: Iec104Client | None = None
        self.supervisor: Iec104Supervisor | None = None
        self._iec_index: dict[tuple[int, int, TypeId], ScadaItem] = {}
        self._connected = asyncio.Event()
        self._first_state: asyncio.Future[Exception | None] | None = None
        self._push_scheduled = False
        if self.protocol.is_modbus:
            self.modbus = build_modbus_client(entry.data, self.capture.callback)
            # Every poll tries to reconnect: a backoff longer than the poll interval would
            # skip polls, and a device that came back would be read one poll late or more.
            self.modbus.reconnect_delay_max_s = min(
                self.modbus.reconnect_delay_max_s, self.coordinator.base_interval.total_seconds()
            )
            gap = int(entry.options.get(CONF_MAX_GAP, DEFAULT_MAX_GAP))
            limits = PlanLimits(
                max_registers=int(entry.options.get(CONF_MAX_REGISTERS, DEFAULT_MAX_REGISTERS)),
                max_gap_registers=gap,
                max_gap_bits=gap * 16,  # a register holds 16 bits
            )
            points = [i.modbus for i in self.items.values() if i.modbus is not None]
            self.poller = ModbusPoller(self.modbus, points, limits)
        else:
            first = self.terms[0].term if self.terms else 1
            self.iec104 = build_iec104_client(
                entry.data,
                common_address=first,
                on_asdu=self._on_asdu,
                on_frame=self.capture.callback,
            )
            self.supervisor = Iec104Supervisor(
                self.iec104, interrogate=False, on_state=self._on_link_state
            )
            for item in self.items.values():
                if item.iec104 is not None:
                    point = item.iec104
                    self._iec_index[point.common_address, point.ioa, point.type_id] = item

    # --- devices ------------------------------------------------------------------------------

    @property
    def channel_identifier(self) -> tuple[str, str]:
        """Identifier of the channel (hub) device."""
        return (DOMAIN, f"scada_{self.entry.entry_id}")

    @property
    def channel_device(self) -> DeviceInfo:
        """The channel: a TCP endpoint or serial port (gateway) carrying the terms."""
        return DeviceInfo(
            identifiers={self.channel_identifier},
            name=self.entry.title,
            manufacturer=MANUFACTURER,
            model={
                Protocol.MODBUS_TCP: "Modbus TCP channel",
                Protocol.MODBUS_RTU_OVER_TCP: "Modbus RTU over TCP channel",
                Protocol.MODBUS_RTU_SERIAL: "Modbus RTU serial channel",
                Protocol.IEC104: "IEC 60870-5-104 channel",
            }[self.protocol],
        )

    def term_device(self, term: Term) -> DeviceInfo:
        """A term's device: a Modbus unit or an IEC 104 station behind the channel."""
        kind = "Modbus unit" if self.protocol.is_modbus else "IEC 104 station"
        return DeviceInfo(
            identifiers={(DOMAIN, f"scada_{self.entry.entry_id}_{term.term}")},
            name=term.name,
            manufacturer=MANUFACTURER,
            model=f"{kind} {term.term}",
            serial_number=str(term.term),
            via_device=self.channel_identifier,
        )

    # --- platforms ----------------------------------------------------------------------------

    async def async_setup_platform(
        self, platform: Platform, async_add_entities: AddEntitiesCallback
    ) -> None:
        """Add each term's entities of one platform (linked to the term's subentry)."""
        from .entity import build_entities  # noqa: PLC0415 - platform code loads with it

        if platform is Platform.SENSOR:
            from ...entity import MeterLinkLastReadSensor  # noqa: PLC0415

            async_add_entities(
                [
                    MeterLinkLastReadSensor(
                        self.coordinator,
                        unique_id=f"scada_{self.entry.entry_id}_last_read",
                        device_info=self.channel_device,
                    )
                ]
            )
        # Home Assistant passes its config-entry callback, which takes the subentry.
        add_to_subentry: Any = async_add_entities
        for term in self.terms:
            entities = build_entities(self, term, platform)
            if entities:
                add_to_subentry(entities, config_subentry_id=term.subentry_id)

    # --- values -------------------------------------------------------------------------------

    def _accept(
        self,
        item: ScadaItem,
        value: PointValue | None,
        *,
        quality: str = "good",
        timestamp: datetime | None = None,
        error: str | None = None,
        now: datetime,
        arrived: bool = False,
    ) -> None:
        """Pass one reading through the item's data check into ``states``."""
        uid = item.uid
        previous = self.states.get(uid)
        track = self._track.get(uid)
        stats = self.stats.setdefault(uid, CheckStats())
        stamp = timestamp or now
        if error is not None or value is None:
            self.states[uid] = ItemState(
                value=None, quality="error" if error else quality, timestamp=stamp, error=error
            )
            return
        if track is None or arrived or track.value != value:
            track = _Track(
                changed=now, value=value, accepted_at=track.accepted_at if track else None
            )
            self._track[uid] = track
        check = item.check
        if check and isinstance(value, int | float) and not isinstance(value, bool):
            last = previous.value if previous is not None and previous.quality != "error" else None
            elapsed = (
                (now - track.accepted_at).total_seconds() if track.accepted_at is not None else None
            )
            reason = check.reject_reason(
                float(value),
                last=float(last) if isinstance(last, int | float) else None,
                elapsed_s=elapsed,
            )
            if reason == "rate" and self._settled(
                previous, stats, float(value), now, check.max_rate
            ):
                reason = None  # a step, not a spike: the new level held since the last reading
            if reason is not None:
                stats.last_rejected_at = now
                stats.rejected += 1
                stats.consecutive += 1
                stats.last_reason = reason
                stats.last_rejected_value = value
                LOGGER.debug("%s: %s rejected (%s)", item.name, value, reason)
                kept = previous.value if previous is not None else None
                self.states[uid] = ItemState(
                    value=kept,
                    quality="rejected",
                    timestamp=previous.timestamp if previous is not None else stamp,
                    error=reason,
                    raw=value,
                )
                if stats.consecutive >= ISSUE_AFTER_REJECTIONS and not stats.issue:
                    self._raise_issue(item, reason, value)
                return
        stats.consecutive = 0
        if stats.issue:
            self._clear_issue(item)
        track.accepted_at = now
        track.stale_counted = False
        self.states[uid] = ItemState(value=value, quality=quality, timestamp=stamp, raw=value)

    @staticmethod
    def _settled(
        previous: ItemState | None,
        stats: CheckStats,
        value: float,
        now: datetime,
        max_rate: float | None,
    ) -> bool:
        """Whether a rate-rejected reading repeats the previous rejected one (a real step)."""
        if previous is None or previous.error != "rate" or max_rate is None:
            return False
        raw = previous.raw
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int | float)
            or stats.last_rejected_at is None
        ):
            return False
        elapsed = (now - stats.last_rejected_at).total_seconds()
        return abs(value - raw) <= max_rate * max(elapsed, 1e-3)

    def _check_stale(self, now: datetime) -> bool:
        """Mark items whose value has not changed / arrived within their stale timeout."""
        changed = False
        for uid, item in self.items.items():
            limit = item.check.stale_s
            track = self._track.get(uid)
            state = self.states.get(uid)
            if limit is None or track is None or state is None or state.value is None:
                continue
            if (now - track.changed).total_seconds() <= limit:
                continue
            stats = self.stats[uid]
            if not track.stale_counted:
                stats.stale += 1
                track.stale_counted = True
                self._raise_issue(item, "stale", state.value)
            self.states[uid] = replace(state, value=None, quality="stale", error="stale")
            changed = True
        return changed

    def _raise_issue(self, item: ScadaItem, reason: str, value: PointValue | None) -> None:
        """Create the repair issue of an item whose data check keeps failing."""
        self.stats[item.uid].issue = True
        term = next(t for t in self.terms if t.term == item.term)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id(item),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="scada_data_check",
            translation_placeholders={
                "item": item.name,
                "device": term.name,
                "reason": reason,
                "value": str(value),
                "count": str(self.stats[item.uid].rejected + self.stats[item.uid].stale),
            },
        )

    def _clear_issue(self, item: ScadaItem) -> None:
        """Remove an item's repair issue once a valid value arrives."""
        self.stats[item.uid].issue = False
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id(item))

    def issue_id(self, item: ScadaItem) -> str:
        """Id of an item's data check repair issue."""
        return f"scada_data_check_{self.entry.entry_id}_{item.uid}"

    def _compute_formulas(self, now: datetime) -> None:
        """Compute formula items from the accepted values of their term (sandboxed templates)."""
        for item in self.items.values():
            if item.formula is None:
                continue
            values = {
                other.key: self.states[other.uid].value
                for other in self.items.values()
                if other.term == item.term and other.uid in self.states and other.formula is None
            }
            template = self._templates.get(item.uid)
            if template is None:
                template = self._templates[item.uid] = Template(item.formula, self.hass)
            try:
                rendered = template.async_render({"items": values}, parse_result=False, strict=True)
                result = float(rendered)
                if not math.isfinite(result):
                    msg = f"{rendered} is not a finite number"
                    raise ValueError(msg)  # noqa: TRY301
            except (TemplateError, ValueError, TypeError) as err:
                self._accept(item, None, error=f"formula: {err}", now=now)
                continue
            if item.precision is not None:
                result = round(result, item.precision)
            self._accept(item, result, now=now)

    def _publish(self, now: datetime) -> dict[str, ItemState]:
        """Finish an update: formulas, stale check; return a copy for the coordinator."""
        self._compute_formulas(now)
        self._check_stale(now)
        return dict(self.states)

    # --- fetch --------------------------------------------------------------------------------

    async def async_fetch(self) -> dict[str, ItemState]:
        """One coordinator update."""
        if self.protocol.is_modbus:
            return await self._fetch_modbus()
        return await self._fetch_iec104()

    async def _fetch_modbus(self) -> dict[str, ItemState]:
        """Poll every Modbus item through the planner; all failing is a failed poll."""
        assert self.poller is not None  # noqa: S101 - Modbus channel
        result = await self.poller.poll()
        if self.poller.points and not result.values and result.errors:
            raise next(iter(result.errors.values()))
        now = self.clock()
        self._ingest_modbus(result.values, result.errors, now)
        return self._publish(now)

    def _ingest_modbus(
        self, values: Mapping[str, PointValue], errors: Mapping[str, ModbusError], now: datetime
    ) -> None:
        """Pass Modbus readings (point key = item uid) through the checks."""
        for uid, value in values.items():
            self._accept(self.items[uid], value, now=now)
        for uid, err in errors.items():
            self._accept(self.items[uid], None, error=str(err), now=now)

    async def _fetch_iec104(self) -> dict[str, ItemState]:
        """Interrogate every term (values arrive through on_asdu)."""
        client = self.iec104
        assert client is not None  # noqa: S101 - IEC 104 channel
        if not client.connected:
            detail = client.last_error or (self.supervisor.last_error if self.supervisor else None)
            msg = f"no link to {client.host}:{client.port}" + (f": {detail}" if detail else "")
            raise Iec104ConnectionError(msg)
        for term in self.terms:
            await client.interrogation(term.term)
            # integrated totals are not part of a general interrogation (101, 7.4.5 / 7.4.8)
            if any(i.iec104 and i.iec104.type_id is TypeId.M_IT_NA_1 for i in term.items):
                await client.counter_interrogation(term.term)
        return self._publish(self.clock())

    @callback
    def _on_asdu(self, asdu: Asdu) -> None:
        """Take monitor data (spontaneous, interrogated, periodic) into the states."""
        now = self.clock()
        kind = base_type(asdu.type_id)
        touched = False
        for obj in asdu.objects:
            item = self._iec_index.get((asdu.common_address, obj.ioa, kind))
            if item is None:
                continue
            touched = True
            quality = _quality_name(obj.quality)
            when = obj.time.to_datetime() if obj.time is not None and not obj.time.invalid else None
            if obj.quality & _BAD_QUALITY:
                self._accept(item, None, quality=quality, timestamp=when, now=now)
                continue
            value = iec104_value(item, obj)
            self._accept(
                item,
                value,
                quality=quality if value is not None else "indeterminate",
                timestamp=when,
                now=now,
                arrived=True,
            )
        if touched and not self._push_scheduled:
            self._push_scheduled = True
            self.hass.loop.call_soon(self._push)

    @callback
    def _push(self) -> None:
        """Publish the values that arrived (coalesced per event-loop turn)."""
        self._push_scheduled = False
        if self.iec104 is not None and self.iec104.connected:
            self.coordinator.pushed(self._publish(self.clock()))

    @callback
    def _on_link_state(self, connected: bool, error: Exception | None) -> None:
        """The supervisor's link reports: interrogate after a connect, fail on a loss."""
        if self._first_state is not None and not self._first_state.done():
            self._first_state.set_result(None if connected else error)
        if connected:
            LOGGER.info("%s: IEC 104 link up", self.entry.title)
            self.entry.async_create_background_task(
                self.hass, self.coordinator.async_refresh(), "meterlink scada interrogation"
            )
            return
        err = error if isinstance(error, MeterLinkError) else Iec104ConnectionError(str(error))
        if self.coordinator.last_update_success:
            LOGGER.warning("%s: IEC 104 link lost: %s", self.entry.title, err)
        self.coordinator.async_set_update_error(self.coordinator.failed(err))

    async def _stale_tick(self, now: datetime) -> None:
        """Re-check stale timeouts between updates (push channels get no poll)."""
        if self.coordinator.data is not None and self._check_stale(self.clock()):
            self.coordinator.async_set_updated_data(dict(self.states))

    # --- read now / write ---------------------------------------------------------------------

    async def async_read(self, items: list[ScadaItem]) -> dict[str, ItemState]:
        """Read items now (device_call); returns their states after the data check."""
        now = self.clock()
        if self.protocol.is_modbus:
            assert self.modbus is not None  # noqa: S101
            points = [i.modbus for i in items if i.modbus is not None]
            if points:
                result = await self.modbus.read_points(points)
                self._ingest_modbus(result.values, result.errors, now)
        else:
            assert self.iec104 is not None  # noqa: S101
            for item in items:
                point = item.iec104
                if point is None or point.is_command:
                    continue
                try:
                    obj = await self.iec104.read(point.ioa, point.common_address)
                except Iec104CommandError as err:
                    self._accept(item, None, error=str(err), now=now)
                    continue
                value = iec104_value(item, obj)
                bad = obj.quality & _BAD_QUALITY
                self._accept(
                    item,
                    None if bad else value,
                    quality=_quality_name(obj.quality),
                    timestamp=obj.time.to_datetime() if obj.time is not None else None,
                    now=now,
                    arrived=True,
                )
        data = self._publish(now)
        self.coordinator.pushed(data)
        return {i.uid: data[i.uid] for i in items if i.uid in data}

    async def async_write(self, item: ScadaItem, value: PointValue) -> ItemState:
        """Write an item (device_ctrl) and return its confirmed state, or raise translated."""
        if not item.is_command:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="scada_not_writable",
                translation_placeholders={"item": item.name},
            )
        now = self.clock()
        try:
            if item.modbus is not None:
                assert self.modbus is not None  # noqa: S101
                confirmed = await self.modbus.write_point(item.modbus, value)
            else:
                confirmed = await self._command_iec104(item, value)
        except ModbusValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="scada_invalid_value",
                translation_placeholders={"item": item.name, "error": str(err)},
            ) from err
        except ModbusWriteVerifyError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="scada_write_not_confirmed",
                translation_placeholders={
                    "item": item.name,
                    "written": str(err.written),
                    "read_back": str(err.read_back),
                },
            ) from err
        except Iec104CommandError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="scada_command_refused",
                translation_placeholders={"item": item.name, "error": str(err)},
            ) from err
        except ModbusWriteUnconfirmedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="scada_write_unconfirmed",
                translation_placeholders={"item": item.name, "error": str(err)},
            ) from err
        except Iec104CommandUnconfirmedError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="scada_command_unconfirmed",
                translation_placeholders={"item": item.name, "error": str(err)},
            ) from err
        except MeterLinkError as err:
            raise translated_error(err) from err
        self.states[item.uid] = ItemState(
            value=confirmed, quality="good", timestamp=now, raw=confirmed
        )
        self._track[item.uid] = _Track(changed=now, value=confirmed, accepted_at=now)
        self.coordinator.pushed(self._publish(now))
        return self.states[item.uid]

    async def _command_iec104(self, item: ScadaItem, value: PointValue) -> PointValue:
        """Send an IEC 104 command or set-point; the activation confirmation confirms it."""
        assert self.iec104 is not None  # noqa: S101
        point = item.iec104
        assert point is not None  # noqa: S101
        kind = point.type_id
        wire: bool | float
        shown: PointValue
        if kind in (TypeId.C_SC_NA_1, TypeId.C_DC_NA_1):
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise self._invalid(item, f"{value!r} is not on/off")
            shown = bool(value)
            wire = (
                shown
                if kind is TypeId.C_SC_NA_1
                else int(DoublePoint.ON if shown else DoublePoint.OFF)
            )
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._invalid(item, f"{value!r} is not a number")
            raw = (float(value) - point.offset) / point.scale
            if kind is TypeId.C_SE_NA_1 and not -1.0 <= raw <= 1.0:
                raise self._invalid(item, f"{value!r} gives {raw:g}, outside the normalized -1..1")
            if kind is TypeId.C_SE_NB_1:
                raw = round(raw)
                if not _SCALED_RANGE[0] <= raw <= _SCALED_RANGE[1]:
                    raise self._invalid(item, f"{value!r} gives {raw}, outside -32768..32767")
            wire, shown = raw, float(value)
        if not self.iec104.connected:
            msg = f"no link to {self.iec104.host}:{self.iec104.port}"
            raise Iec104ConnectionError(msg)
        await self.iec104.command(
            kind,
            point.ioa,
            wire,
            select_before_operate=point.select_before_operate,
            common_address=point.common_address,
        )
        return shown

    @staticmethod
    def _invalid(item: ScadaItem, error: str) -> ServiceValidationError:
        """A value the item cannot take."""
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="scada_invalid_value",
            translation_placeholders={"item": item.name, "error": error},
        )

    # --- life cycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Connect, read once; raise ConfigEntryNotReady when the channel does not answer."""
        if self.supervisor is not None:
            self._first_state = self.hass.loop.create_future()
            self.supervisor.start()
            try:
                async with asyncio.timeout(CLIENT_TIMING["first_connect_s"]):
                    error = await self._first_state
            except TimeoutError:
                error = Iec104ConnectionError("no answer to STARTDT")
            if error is not None:
                await self.supervisor.stop()
                err = error if isinstance(error, MeterLinkError) else Iec104Error(str(error))
                key, placeholders = error_translation(err)
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN,
                    translation_key=key,
                    translation_placeholders=placeholders,
                ) from error
        await self.coordinator.async_config_entry_first_refresh()
        if any(i.check.stale_s for i in self.items.values()):
            shortest = min(i.check.stale_s or 60.0 for i in self.items.values())
            self._unsub.append(
                async_track_time_interval(
                    self.hass,
                    self._stale_tick,
                    timedelta(seconds=min(60.0, max(1.0, shortest / 2))),
                    cancel_on_shutdown=True,
                )
            )

    async def async_shutdown(self) -> None:
        """Close the channel."""
        for unsub in self._unsub:
            unsub()
        self._unsub.clear()
        # a data check issue belongs to the running channel; it comes back if the fault does
        for item in self.items.values():
            if self.stats[item.uid].issue:
                self._clear_issue(item)
        if self.supervisor is not None:
            await self.supervisor.stop()
        if self.modbus is not None:
            await self.modbus.close()

    def diagnostics(self) -> dict[str, Any]:
        """Terms, items, their states and data check counters, client statistics."""
        error = self.coordinator.last_error
        return {
            "protocol": self.protocol.value,
            "last_success": self.coordinator.last_success,
            "last_error": error_translation(error)[0] if error else None,
            "requests_per_poll": len(self.poller.plan) if self.poller else None,
            "terms": [
                {
                    "term": term.term,
                    "name": term.name,
                    "item_errors": [str(e) for e in term.errors],
                    "items": {
                        item.key: {
                            "platform": item.platform.value,
                            "state": self.states[item.uid].as_response()
                            if item.uid in self.states
                            else None,
                            "data_check": {
                                "rejected": self.stats[item.uid].rejected,
                                "stale": self.stats[item.uid].stale,
                                "last_reason": self.stats[item.uid].last_reason,
                                "last_rejected_value": self.stats[item.uid].last_rejected_value,
                                "repair_issue": self.stats[item.uid].issue,
                            },
                        }
                        for item in term.items
                    },
                }
                for term in self.terms
            ],
        }


async def async_setup_scada_entry(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> ScadaRuntime:
    """Set a SCADA channel up: connect, read every item once, register the channel device."""
    runtime = ScadaRuntime(hass, entry)
    try:
        await runtime.async_start()
    except Exception:
        await runtime.async_shutdown()
        raise
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **runtime.channel_device)
    _remove_gone_entities(hass, runtime)
    subentries = _subentry_snapshot(entry)

    async def _async_subentries_changed(hass: HomeAssistant, entry: MeterLinkConfigEntry) -> None:
        """Reload when terms or their items change (the shared listener handles options)."""
        if _subentry_snapshot(entry) != subentries:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(entry.add_update_listener(_async_subentries_changed))
    return runtime


def _remove_gone_entities(hass: HomeAssistant, runtime: ScadaRuntime) -> None:
    """Remove the entities of items that were removed from their term (or changed platform)."""
    prefix = f"scada_{runtime.entry.entry_id}_"
    wanted: set[tuple[str, str]] = {(f"{prefix}last_read", Platform.SENSOR.value)}
    wanted |= {(f"{prefix}{t.term}_last_read", Platform.SENSOR.value) for t in runtime.terms}
    wanted |= {(f"{prefix}{i.uid}", i.platform.value) for i in runtime.items.values()}
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, runtime.entry.entry_id):
        gone = (entity.unique_id, entity.domain) not in wanted
        if gone and entity.unique_id.startswith(prefix):
            registry.async_remove(entity.entity_id)


def _subentry_snapshot(entry: MeterLinkConfigEntry) -> dict[str, Any]:
    """What the subentries say, to tell whether they changed."""
    return {sid: (s.title, dict(s.data)) for sid, s in entry.subentries.items()}
