"""The simulated meter: consistent registers, clock, disconnect control, load profile."""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from functools import partial
import math
from typing import TYPE_CHECKING

from custom_components.meterlink.protocols.dlms.axdr import (
    CosemDateTime,
    DataItem,
    DataTag,
    obis_from_str,
)

from .cosem import (
    CosemError,
    CosemObject,
    DataAccessResult,
    array,
    date_time,
    enum,
    i8,
    octets,
    struct,
    u16,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Blue Book 4.3.2 unit codes.
UNIT_W, UNIT_VAR, UNIT_WH, UNIT_VARH, UNIT_A, UNIT_V, UNIT_HZ, UNIT_NONE = (
    27,
    29,
    30,
    32,
    33,
    35,
    44,
    255,
)
PROFILE_PERIOD_S = 900
_DAY_S = 86400.0
_EPOCH = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - meter local time


@dataclass(frozen=True, kw_only=True, slots=True)
class RegisterSpec:
    """A simulated register: OBIS, unit, scaler and how it follows time."""

    obis: str
    unit: int
    scaler: int
    value: Callable[[float], float]
    tag: DataTag = DataTag.DOUBLE_LONG_UNSIGNED


def _power(seconds: float, base: float, swing: float) -> float:
    """Daily sinusoidal power in W."""
    return base + swing * math.sin(2 * math.pi * seconds / _DAY_S)


def _energy(seconds: float, base: float, swing: float, start_wh: float) -> float:
    """Energy in Wh: the exact integral of :func:`_power` since the epoch."""
    hours = seconds / 3600
    periodic = (
        swing * (_DAY_S / 3600) / (2 * math.pi) * (1 - math.cos(2 * math.pi * seconds / _DAY_S))
    )
    return start_wh + base * hours + periodic


def _scaled_power(seconds: float, *, base: float, swing: float, factor: float) -> float:
    """A share of the import power (phase powers and currents)."""
    return _power(seconds, base, swing) * factor


def _voltage(seconds: float, *, phase: int) -> float:
    """Phase voltage in V wobbling around 230 V."""
    return 230.0 + phase + math.sin(seconds / 600)


def default_registers() -> list[RegisterSpec]:
    """The 24 registers of the simulated meter (energy rising with power)."""
    imp = (1500.0, 700.0)
    exp = (300.0, 250.0)
    specs = [
        RegisterSpec(
            obis="1.0.1.8.0.255", unit=UNIT_WH, scaler=1, value=lambda s: _energy(s, *imp, 1.2e7)
        ),
        RegisterSpec(
            obis="1.0.1.8.1.255",
            unit=UNIT_WH,
            scaler=1,
            value=lambda s: _energy(s, *imp, 1.2e7) * 0.6,
        ),
        RegisterSpec(
            obis="1.0.1.8.2.255",
            unit=UNIT_WH,
            scaler=1,
            value=lambda s: _energy(s, *imp, 1.2e7) * 0.4,
        ),
        RegisterSpec(
            obis="1.0.2.8.0.255", unit=UNIT_WH, scaler=1, value=lambda s: _energy(s, *exp, 3.0e6)
        ),
        RegisterSpec(
            obis="1.0.3.8.0.255",
            unit=UNIT_VARH,
            scaler=1,
            value=lambda s: _energy(s, 120, 20, 4.0e5),
        ),
        RegisterSpec(
            obis="1.0.4.8.0.255",
            unit=UNIT_VARH,
            scaler=1,
            value=lambda s: _energy(s, 80, 10, 2.0e5),
        ),
        RegisterSpec(obis="1.0.1.7.0.255", unit=UNIT_W, scaler=0, value=lambda s: _power(s, *imp)),
        RegisterSpec(obis="1.0.2.7.0.255", unit=UNIT_W, scaler=0, value=lambda s: _power(s, *exp)),
        RegisterSpec(
            obis="1.0.3.7.0.255", unit=UNIT_VAR, scaler=0, value=lambda s: _power(s, 120, 20)
        ),
        RegisterSpec(
            obis="1.0.4.7.0.255", unit=UNIT_VAR, scaler=0, value=lambda s: _power(s, 80, 10)
        ),
    ]
    for phase, (p_c, i_c, u_c) in enumerate(((21, 31, 32), (41, 51, 52), (61, 71, 72))):
        share = (0.4, 0.35, 0.25)[phase]
        specs += [
            RegisterSpec(
                obis=f"1.0.{p_c}.7.0.255",
                unit=UNIT_W,
                scaler=0,
                value=partial(_scaled_power, base=imp[0], swing=imp[1], factor=share),
            ),
            RegisterSpec(
                obis=f"1.0.{i_c}.7.0.255",
                unit=UNIT_A,
                scaler=-2,
                value=partial(_scaled_power, base=imp[0], swing=imp[1], factor=share / 230.0),
                tag=DataTag.LONG_UNSIGNED,
            ),
            RegisterSpec(
                obis=f"1.0.{u_c}.7.0.255",
                unit=UNIT_V,
                scaler=-1,
                value=partial(_voltage, phase=phase),
                tag=DataTag.LONG_UNSIGNED,
            ),
        ]
    specs += [
        RegisterSpec(
            obis="1.0.14.7.0.255",
            unit=UNIT_HZ,
            scaler=-2,
            value=lambda s: 50 + 0.02 * math.sin(s / 60),
            tag=DataTag.LONG_UNSIGNED,
        ),
        RegisterSpec(
            obis="1.0.13.7.0.255", unit=UNIT_NONE, scaler=-3, value=lambda _: 0.97, tag=DataTag.LONG
        ),
        RegisterSpec(
            obis="1.0.1.6.0.255", unit=UNIT_W, scaler=0, value=lambda s: _power(s, *imp) + 900
        ),
        RegisterSpec(
            obis="1.0.15.8.0.255",
            unit=UNIT_WH,
            scaler=1,
            value=lambda s: _energy(s, 1800, 0, 1.5e7),
        ),
        RegisterSpec(
            obis="1.0.16.7.0.255",
            unit=UNIT_W,
            scaler=0,
            value=lambda s: _power(s, *imp) - _power(s, *exp),
            tag=DataTag.DOUBLE_LONG,
        ),
    ]
    return specs


class SimulatedMeter:
    """State of one simulated meter, shared by every connection to it."""

    def __init__(
        self,
        *,
        now: Callable[[], dt.datetime] | None = None,
        serial: str = "SIM0000000001",
        profile_start: dt.datetime | None = None,
        registers: list[RegisterSpec] | None = None,
    ) -> None:
        """Set up registers; ``now`` gives the meter's local time (naive)."""
        self._now = now or dt.datetime.now
        self.serial = serial
        self.clock_offset = dt.timedelta()
        self.registers = {spec.obis: spec for spec in registers or default_registers()}
        self.profile_start = profile_start or (self._now() - dt.timedelta(days=92)).replace(
            minute=0, second=0, microsecond=0
        )
        self.output_state = True
        self.control_state = 1  # connected
        self.control_mode = 4
        # Disconnect-control methods carried out, in order ("disconnect" / "reconnect"), and
        # callbacks told of each as it happens (before the reply is sent).
        self.actions: list[str] = []
        self.action_listeners: list[Callable[[str], None]] = []

    def now(self) -> dt.datetime:
        """Return the meter clock."""
        return self._now() + self.clock_offset

    def seconds(self, when: dt.datetime | None = None) -> float:
        """Seconds since the simulation epoch."""
        return ((when or self.now()) - _EPOCH).total_seconds()

    def raw_value(self, obis: str, when: dt.datetime | None = None) -> int:
        """Return the integer a register holds (physical value divided by 10**scaler)."""
        spec = self.registers[obis]
        return round(spec.value(self.seconds(when)) / 10.0**spec.scaler)

    def physical_value(self, obis: str, when: dt.datetime | None = None) -> float:
        """Return a register's value after applying the scaler."""
        return float(self.raw_value(obis, when) * 10.0 ** self.registers[obis].scaler)

    # -- load profile ------------------------------------------------------------------

    PROFILE_COLUMNS = ("0.0.1.0.0.255", "1.0.1.8.0.255", "1.0.2.8.0.255")

    def profile_rows(
        self, start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[dt.datetime, int, int]]:
        """Yield (time, import raw, export raw) for each 15-minute row in [start, end]."""
        first = max(start, self.profile_start)
        offset = (first - self.profile_start).total_seconds() % PROFILE_PERIOD_S
        if offset:
            first += dt.timedelta(seconds=PROFILE_PERIOD_S - offset)
        last = min(end, self.now())
        step = dt.timedelta(seconds=PROFILE_PERIOD_S)
        when = first
        while when <= last:
            yield when, self.raw_value("1.0.1.8.0.255", when), self.raw_value("1.0.2.8.0.255", when)
            when += step

    def entries_in_use(self) -> int:
        """Number of rows stored so far."""
        return int((self.now() - self.profile_start).total_seconds() // PROFILE_PERIOD_S) + 1

    # -- COSEM objects -----------------------------------------------------------------

    def objects(self) -> list[CosemObject]:
        """Build the COSEM object list (fresh getters bound to this meter)."""
        objects = [self._association_placeholder()]
        objects.append(
            CosemObject(
                class_id=1,
                version=0,
                logical_name=obis_from_str("0.0.96.1.0.255"),
                getters={2: lambda: octets(self.serial.encode())},
            )
        )
        objects.extend(self._register(spec) for spec in self.registers.values())
        objects += [self._clock(), self._disconnect(), self._profile()]
        association = objects[0]
        association.getters[2] = lambda: array(
            [
                struct(
                    u16(obj.class_id),
                    DataItem(tag=DataTag.UNSIGNED, value=obj.version),
                    octets(obj.logical_name),
                    obj.access_rights(),
                )
                for obj in objects
            ]
        )
        return objects

    @staticmethod
    def _association_placeholder() -> CosemObject:
        return CosemObject(class_id=15, version=1, logical_name=obis_from_str("0.0.40.0.0.255"))

    def _register(self, spec: RegisterSpec) -> CosemObject:
        return CosemObject(
            class_id=3,
            version=0,
            logical_name=obis_from_str(spec.obis),
            getters={
                2: lambda: DataItem(tag=spec.tag, value=self.raw_value(spec.obis)),
                3: lambda: struct(i8(spec.scaler), enum(spec.unit)),
            },
        )

    def _set_clock(self, value: DataItem) -> None:
        if not isinstance(value.value, bytes) or len(value.value) != 12:
            raise CosemError(DataAccessResult.TYPE_UNMATCHED)
        target = CosemDateTime.from_bytes(value.value).to_datetime()
        if target is None:
            raise CosemError(DataAccessResult.OTHER_REASON)
        self.clock_offset = target - self._now()

    def _clock(self) -> CosemObject:
        return CosemObject(
            class_id=8,
            version=0,
            logical_name=obis_from_str("0.0.1.0.0.255"),
            getters={
                2: lambda: date_time(self.now()),
                3: lambda: DataItem(tag=DataTag.LONG, value=60),
            },
            setters={2: self._set_clock},
        )

    def _disconnect_method(self, *, connect: bool) -> Callable[[DataItem | None], None]:
        def run(_: DataItem | None) -> None:
            self.output_state = connect
            self.control_state = 1 if connect else 0
            action = "reconnect" if connect else "disconnect"
            self.actions.append(action)
            for listener in self.action_listeners:
                listener(action)

        return run

    def _disconnect(self) -> CosemObject:
        return CosemObject(
            class_id=70,
            version=0,
            logical_name=obis_from_str("0.0.96.3.10.255"),
            getters={
                2: lambda: DataItem(tag=DataTag.BOOLEAN, value=self.output_state),
                3: lambda: enum(self.control_state),
                4: lambda: enum(self.control_mode),
            },
            methods={
                1: self._disconnect_method(connect=False),
                2: self._disconnect_method(connect=True),
            },
        )

    def _capture_objects(self) -> DataItem:
        classes = {"0.0.1.0.0.255": 8}
        return array(
            [
                struct(u16(classes.get(obis, 3)), octets(obis_from_str(obis)), i8(2), u16(0))
                for obis in self.PROFILE_COLUMNS
            ]
        )

    def _rows(self, start: dt.datetime, end: dt.datetime) -> DataItem:
        return array(
            [
                struct(
                    date_time(when),
                    DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=imp),
                    DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=exp),
                )
                for when, imp, exp in self.profile_rows(start, end)
            ]
        )

    def _profile_selective(self, index: int, access: DataItem) -> DataItem:
        selector_item, parameters = access.children
        if index != 2:
            raise CosemError(DataAccessResult.OTHER_REASON)
        selector = selector_item.value
        fields = parameters.children
        if selector == 1 and len(fields) >= 3:
            start = _to_datetime(fields[1])
            end = _to_datetime(fields[2])
            return self._rows(start, end)
        if selector == 2 and len(fields) >= 2:
            first = int(fields[0].value or 1)  # type: ignore[arg-type]
            last = int(fields[1].value or 0) or self.entries_in_use()  # type: ignore[arg-type]
            step = dt.timedelta(seconds=PROFILE_PERIOD_S)
            return self._rows(
                self.profile_start + step * (first - 1), self.profile_start + step * (last - 1)
            )
        raise CosemError(DataAccessResult.OTHER_REASON)

    def _profile(self) -> CosemObject:
        return CosemObject(
            class_id=7,
            version=1,
            logical_name=obis_from_str("1.0.99.1.0.255"),
            getters={
                2: lambda: self._rows(self.now() - dt.timedelta(days=1), self.now()),
                3: self._capture_objects,
                4: lambda: DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=PROFILE_PERIOD_S),
                7: lambda: DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=self.entries_in_use()),
                8: lambda: DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=100000),
            },
            selective=self._profile_selective,
        )


def _to_datetime(item: DataItem) -> dt.datetime:
    """Read a range bound sent as an octet-string date-time."""
    if isinstance(item.value, bytes) and len(item.value) == 12:
        value = CosemDateTime.from_bytes(item.value).to_datetime()
        if value is not None:
            return value
    if isinstance(item.value, CosemDateTime):
        value = item.value.to_datetime()
        if value is not None:
            return value
    raise CosemError(DataAccessResult.TYPE_UNMATCHED)
