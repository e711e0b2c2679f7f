"""Data model of the fake DCS site: meters, registers, virtual meters and their value curves.

Every value is a closed-form function of the half-hour *boundary index* ``b`` (Unix seconds
divided by 1800), so readings for any range are computed lazily, row by row, and two runs (or two
simulators) always agree. Cumulative totals are exact integers of thousandths (milli-units), so
every code path (fast streaming loops, ground truth) produces identical numbers.

Cumulative register (kWh, m3, kVArh), in thousandths of the unit::

    milli(b) = base + c*b + W[b % 336]
    W[k]     = round(A*(1 - cos(2*pi*(k + phase)/48)) + B*(1 - cos(2*pi*k/336)))
    total(b) = (milli(b) - milli(reset_b)*(b > reset_b)
                + calibration*(calibrated and b >= calibration_b)) / 1000

with a daily and a weekly wave, ``A*2*pi/48 = 0.5*c`` and ``B*2*pi/336 = 0.2*c``, so ``milli``
grows by at least 0.3*c per half-hour: totals strictly increase, except across a configured
register reset, where they restart near 0; daily consumption varies over the week.
Instantaneous register (kW), twice the slope of the matching energy curve (kWh/half-hour -> kW)::

    inst(b) = round(2*(c + A*w*sin(2*pi*(b + phase)/48) + B*v*sin(2*pi*b/336)) / 1000, 3) > 0

with w = 2*pi/48, v = 2*pi/336.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import math

SLOT_S = 1800  # one half-hour in seconds (DCS fact sheet §3: halfHour periods)
SLOTS_PER_DAY = 48
SLOTS_PER_WEEK = 336  # 1970-01-01 (b = 0) was a Thursday: b % 336 == 0 on Thursdays 00:00 UTC
EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
DATA_START = datetime(2000, 1, 1, tzinfo=UTC)  # first boundary with stored readings
DATA_START_B = int(DATA_START.timestamp()) // SLOT_S

KIND_ENERGY = "electricity_kwh"
KIND_POWER = "power_kw"
KIND_GAS = "gas_m3"
KIND_WATER = "water_m3"
KIND_REACTIVE = "reactive_kvarh"

_KIND_RATE = {  # c: consumption per half-hour (unit per slot)
    KIND_ENERGY: 2.0,
    KIND_POWER: 2.0,
    KIND_GAS: 1.5,
    KIND_WATER: 0.2,
    KIND_REACTIVE: 0.7,
}
_KIND_UNIT = {
    KIND_ENERGY: "kWh",
    KIND_POWER: "kW",
    KIND_GAS: "m3",
    KIND_WATER: "m3",
    KIND_REACTIVE: "kVArh",
}
_DAILY_SHARE = 0.5  # A*2*pi/48 = 0.5*c
_WEEKLY_SHARE = 0.2  # B*2*pi/336 = 0.2*c, so the slope never drops below 0.3*c


def boundary(ts: datetime) -> int:
    """Return the half-hour boundary index of an aligned aware datetime."""
    return int(ts.timestamp()) // SLOT_S


@dataclass(kw_only=True, slots=True)
class SimRegister:
    """One register of a simulated meter, with its deterministic value curve."""

    id: int
    meter_id: int
    meter_name: str
    name: str
    address: str
    kind: str
    unit: str
    is_instantaneous: bool
    scale_factor: str = ""
    default_scale_factor: str = "1"
    base_m: int = 0  # thousandths of the unit
    rate_m: int = 1000  # thousandths of the unit per half-hour
    phase: int = 0
    calibration_b: int | None = None
    calibration_m: int = 0
    reset_b: int | None = None
    wave: list[int] = field(default_factory=list, repr=False)  # index b % 336
    inst: list[float] = field(default_factory=list, repr=False)  # index b % 336

    def __post_init__(self) -> None:
        """Precompute the 336-entry weekly tables (index ``b % 336``)."""
        day_turn = 2 * math.pi / SLOTS_PER_DAY
        week_turn = 2 * math.pi / SLOTS_PER_WEEK
        day_amp = _DAILY_SHARE * self.rate_m / day_turn
        week_amp = _WEEKLY_SHARE * self.rate_m / week_turn
        self.wave = [
            round(
                day_amp * (1 - math.cos(day_turn * (k + self.phase)))
                + week_amp * (1 - math.cos(week_turn * k))
            )
            for k in range(SLOTS_PER_WEEK)
        ]
        self.inst = [
            round(
                2
                * (
                    self.rate_m
                    + day_amp * day_turn * math.sin(day_turn * (k + self.phase))
                    + week_amp * week_turn * math.sin(week_turn * k)
                )
                / 1000,
                3,
            )
            for k in range(SLOTS_PER_WEEK)
        ]

    def milli(self, b: int) -> int:
        """Return the uncorrected total at boundary ``b`` in thousandths."""
        return self.base_m + self.rate_m * b + self.wave[b % SLOTS_PER_WEEK]

    def offset_m(self, b: int, calibrated: bool) -> int:
        """Return the correction (thousandths) added at boundary ``b``: reset drop, calibration."""
        off = 0
        if self.reset_b is not None and b > self.reset_b:
            off -= self.milli(self.reset_b)
        if calibrated and self.calibration_b is not None and b >= self.calibration_b:
            off += self.calibration_m
        return off

    def total(self, b: int, calibrated: bool = False) -> float:
        """Return the register total at boundary ``b`` (cumulative registers)."""
        return (self.milli(b) + self.offset_m(b, calibrated)) / 1000

    def consumption(self, b0: int, b1: int) -> float:
        """Return the true consumption between two boundaries (reset-proof)."""
        return (self.milli(b1) - self.milli(b0)) / 1000

    def instantaneous(self, b: int) -> float:
        """Return the instantaneous value sampled at boundary ``b``."""
        return self.inst[b % SLOTS_PER_WEEK]

    @property
    def full_name(self) -> str:
        """Return "METER NAME: REGISTER NAME" as the NEW API reports it."""
        return f"{self.meter_name}: {self.name}"

    def to_json(self) -> dict[str, object]:
        """Return the register object as both API generations send it (fact sheet §2)."""
        return {
            "address": self.address,
            "id": self.id,
            "isInstantaneous": self.is_instantaneous,
            "name": self.name,
            "scaleFactor": self.scale_factor,
            "defaultScaleFactor": self.default_scale_factor,
            "unit": self.unit,
        }


@dataclass(kw_only=True, slots=True)
class SimMeter:
    """A simulated DCS meter (fact sheet §2)."""

    id: int
    name: str
    serial_number: str
    meter_type: str
    connection_method: str
    remote_address: str
    device_id: str
    status: str
    group_id: int
    registers: list[SimRegister]
    mpn: str | None = None

    def to_json(self, with_registers: bool = True) -> dict[str, object]:
        """Return the meter object as both API generations send it."""
        out: dict[str, object] = {
            "connectionMethod": self.connection_method,
            "deviceId": self.device_id,
            "id": self.id,
            "name": self.name,
            "meterType": self.meter_type,
            "remoteAddress": self.remote_address,
            "serialNumber": self.serial_number,
            "status": self.status,
        }
        if self.mpn is not None:
            out["mpn"] = self.mpn
        if with_registers:
            out["registers"] = [reg.to_json() for reg in self.registers]
        return out


@dataclass(kw_only=True, slots=True)
class SimVirtualMeter:
    """A simulated virtual meter: the sum of its register aliases."""

    id: int
    name: str
    expression: str
    decimal_places: int
    is_instantaneous: bool
    unit: str
    aliases: list[tuple[str, SimRegister]]
    group_id: int = 1

    def value(self, b0: int, b1: int) -> float:
        """Return the VM value for the period [b0, b1): consumption or instantaneous sum."""
        if self.is_instantaneous:
            return round(sum(reg.instantaneous(b0) for _, reg in self.aliases), self.decimal_places)
        total_m = sum(reg.milli(b1) - reg.milli(b0) for _, reg in self.aliases)
        return round(total_m / 1000, self.decimal_places)

    def to_json(self) -> dict[str, object]:
        """Return the virtual meter object (fact sheet §2)."""
        return {
            "id": self.id,
            "name": self.name,
            "expression": self.expression,
            "decimalPlaces": self.decimal_places,
            "isInstantaneous": self.is_instantaneous,
            "unit": self.unit,
            "registerAliases": [
                {"alias": alias, "registerId": reg.id, "registerName": reg.name}
                for alias, reg in self.aliases
            ],
        }


def _register(
    meter: tuple[int, str], reg_id: int, name: str, address: str, kind: str, **extra: object
) -> SimRegister:
    """Build a register of ``kind`` with id-derived curve parameters."""
    rate_m = round(1000 * _KIND_RATE[kind] * (1 + (reg_id % 5) * 0.15))
    return SimRegister(
        id=reg_id,
        meter_id=meter[0],
        meter_name=meter[1],
        name=name,
        address=address,
        kind=kind,
        unit=_KIND_UNIT[kind],
        is_instantaneous=kind == KIND_POWER,
        base_m=1_000_000 * (reg_id % 97),
        rate_m=rate_m,
        phase=(reg_id * 7) % SLOTS_PER_DAY,
        **extra,  # type: ignore[arg-type]
    )


CALIBRATION_TIME = datetime(2020, 1, 1, tzinfo=UTC)  # calibration reading of register 733
CALIBRATION_OFFSET_M = 125_500  # +125.5 kWh


def build_site(
    *,
    extra_meters: int = 0,
    extra_registers_per_meter: int = 1,
    resets: dict[int, datetime] | None = None,
) -> tuple[list[SimMeter], list[SimVirtualMeter]]:
    """Build the default site (4 meters, 2 virtual meters) plus ``extra_meters`` generated ones."""
    resets = resets or {}

    def reset_b(reg_id: int) -> int | None:
        """Return the reset boundary of a register, if one is configured."""
        ts = resets.get(reg_id)
        return None if ts is None else boundary(ts)

    main = (405, "Main Incomer")
    gas = (406, "Gas Meter")
    water = (407, "Water Meter")
    light = (408, "Lighting Board")
    r733 = _register(
        main,
        733,
        "Active Energy (import)",
        "130",
        KIND_ENERGY,
        calibration_b=boundary(CALIBRATION_TIME),
        calibration_m=CALIBRATION_OFFSET_M,
        reset_b=reset_b(733),
    )
    r734 = _register(main, 734, "Active Power", "140", KIND_POWER)
    r735 = _register(
        main, 735, "Reactive Energy (import)", "132", KIND_REACTIVE, reset_b=reset_b(735)
    )
    r740 = _register(
        gas, 740, "Gas Volume", "1", KIND_GAS, scale_factor="0.01", reset_b=reset_b(740)
    )
    r750 = _register(
        water, 750, "Water Volume", "1", KIND_WATER, default_scale_factor="", reset_b=reset_b(750)
    )
    r760 = _register(light, 760, "Active Energy (import)", "130", KIND_ENERGY, reset_b=reset_b(760))
    r761 = _register(light, 761, "Active Power", "140", KIND_POWER)
    meters = [
        SimMeter(
            id=405,
            name=main[1],
            serial_number="R1100729",
            meter_type="Elcomponent AEM",
            connection_method="tcp",
            remote_address="10.8.222.99:5000",
            device_id="",
            status="online",
            group_id=1,
            registers=[r733, r734, r735],
            mpn="1200023305963",
        ),
        SimMeter(
            id=406,
            name=gas[1],
            serial_number="G2200451",
            meter_type="Pulse Counter",
            connection_method="idc",
            remote_address="",
            device_id="3",
            status="online",
            group_id=2,
            registers=[r740],
        ),
        SimMeter(
            id=407,
            name=water[1],
            serial_number="W3300112",
            meter_type="Pulse Counter",
            connection_method="modem",
            remote_address="01234 567890",
            device_id="12",
            status="offline",
            group_id=2,
            registers=[r750],
        ),
        SimMeter(
            id=408,
            name=light[1],
            serial_number="R1100730",
            meter_type="Elcomponent AEM",
            connection_method="tcp",
            remote_address="10.8.222.100:5000",
            device_id="",
            status="online",
            group_id=1,
            registers=[r760, r761],
        ),
    ]
    for i in range(extra_meters):
        meter_id = 1000 + i
        ident = (meter_id, f"Generated Meter {i + 1}")
        regs = [
            _register(
                ident,
                10000 + i * extra_registers_per_meter + j,
                f"Active Energy {j + 1}",
                str(130 + j),
                KIND_ENERGY,
                reset_b=reset_b(10000 + i * extra_registers_per_meter + j),
            )
            for j in range(extra_registers_per_meter)
        ]
        meters.append(
            SimMeter(
                id=meter_id,
                name=ident[1],
                serial_number=f"X{meter_id:07d}",
                meter_type="Elcomponent AEM",
                connection_method="tcp",
                remote_address=f"10.9.{i // 250}.{i % 250 + 1}:5000",
                device_id="",
                status="online",
                group_id=3,
                registers=regs,
            )
        )
    virtual_meters = [
        SimVirtualMeter(
            id=9,
            name="Site Electricity",
            expression="R1+R2",
            decimal_places=2,
            is_instantaneous=False,
            unit="kWh",
            aliases=[("R1", r733), ("R2", r760)],
        ),
        SimVirtualMeter(
            id=10,
            name="Site Power",
            expression="P1+P2",
            decimal_places=3,
            is_instantaneous=True,
            unit="kW",
            aliases=[("P1", r734), ("P2", r761)],
        ),
    ]
    return meters, virtual_meters
