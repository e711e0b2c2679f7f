"""Frozen models of E3/DC values, built from decoded RSCP reply items (SI units, signs fixed once).

Sign conventions: ``battery_power_w`` > 0 charges the battery; ``grid_power_w`` > 0 imports from
the grid; ``additional_power_w`` > 0 is production by the additional source (the device reports
it negative, pye3dc ``poll`` negates it too). Values a device does not answer (an ERROR item,
e.g. NOT_AVAILABLE on models without that part) are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
import struct
from typing import TYPE_CHECKING, Final

from .codec import RscpItem, RscpTimestamp, RscpValue
from .errors import RscpProtocolError
from .tags import SYS_SPECS_REPLIES, RscpTag as T, RscpType

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Serial-number prefixes -> model (fact sheet 3 "Static info"; pye3dc ``_set_serial``).
MODEL_BY_PREFIX: Final = (
    ("75", "S10 E Pro Compact"),
    ("74", "S10 E Compact"),
    ("72", "S10 E"),
    ("70", "S10 E Pro"),
    ("4", "S10 E"),
    ("5", "S10 Mini"),
    ("6", "Quattroporte"),
    ("8", "S10 X"),
)

# Power-meter types (fact sheet 3, PM_TYPE); unknown numbers stay numbers.
POWER_METER_TYPES: Final[dict[int, str]] = {
    1: "root",
    2: "additional",
    3: "additional_production",
    4: "additional_consumption",
    5: "farm",
    6: "unused",
    7: "wallbox",
    8: "farm_additional",
    9: "data_display",
    10: "regulation_bypass",
    11: "additional_production_no_storage",
}

# EMS_SYS_STATUS bits (fact sheet 3 live values table; pye3dc ``get_system_status``).
EMS_STATUS_BITS: Final = (
    (0, "dcdc_alive"),
    (1, "power_meter_alive"),
    (2, "battery_module_alive"),
    (3, "pv_module_alive"),
    (4, "pv_inverter_inited"),
    (5, "server_connection_alive"),
    (6, "pv_derated"),
    (7, "ems_alive"),
    (10, "ac_mode_blocked"),
    (11, "sys_conf_checked"),
    (12, "emergency_power_started"),
    (13, "emergency_power_override"),
    (14, "wallbox_alive"),
    (15, "power_save_enabled"),
    (16, "charge_idle_period_active"),
    (17, "discharge_idle_period_active"),
    (18, "wait_for_weather_breakthrough"),
    (19, "rescue_battery_enabled"),
    (20, "emergency_reserve_reached"),
    (21, "soc_sync_requested"),
)

# Wallbox WB_EXTERN_DATA_ALG status byte 2 (pye3dc ``get_wallbox_data``).
_WB_SUN_MODE = 0x80
_WB_CANCELED = 0x40
_WB_CHARGING = 0x20
_WB_LOCKED = 0x10
_WB_PLUGGED = 0x08
_WB_ALG_MIN = 6
_WB_POWER = struct.Struct("<hi")  # EXTERN_DATA_SUN/NET: int16 W, int32 Wh (pye3dc)


_NUMBERS: Final = frozenset({int, float})
# Our limit on DB_GRAPH_INDEX: more intervals than any history request asks for (a year of
# 15-minute values is 35 040), small enough that the interval start stays a valid time.
MAX_GRAPH_INDEX: Final = 1 << 20


def _num(value: RscpValue) -> float | None:
    """Return a numeric value as float, anything else (bool, str, None, ...) as None."""
    return float(value) if type(value) in _NUMBERS else None  # type: ignore[arg-type]


def _int(value: RscpValue) -> int | None:
    """Return an integer value, anything else (bool included) as None."""
    return value if type(value) is int else None


def _bool(value: RscpValue) -> bool | None:
    """Return a flag (bool or 0/1 integer) as bool, anything else as None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    return None


def _str(value: RscpValue) -> str | None:
    """Return a string value, anything else as None."""
    return value if isinstance(value, str) else None


def _version(value: RscpValue) -> str | None:
    """A software version reported as a string or a number (WB_APP_SOFTWARE is UChar8)."""
    if type(value) is int:
        return str(value)
    return _str(value)


def _state(value: RscpValue) -> str | int | None:
    """A switch state: a string like "on" or a small integer."""
    return value if isinstance(value, str) else _int(value)


def _code(value: RscpValue) -> int | None:
    """A status/error code sent as an integer or as a bitfield (little-endian bytes)."""
    if isinstance(value, bytes):
        return int.from_bytes(value, "little")
    return _int(value)


def _time(value: RscpValue) -> datetime | None:
    """Turn an RSCP timestamp into an aware UTC datetime; None if absent or out of range."""
    if not isinstance(value, RscpTimestamp):
        return None
    try:
        return datetime.fromtimestamp(value.as_float(), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def index_by_tag(items: Iterable[RscpItem]) -> dict[int, RscpItem]:
    """Map tag -> first item (reply items of one frame)."""
    entries = items if isinstance(items, (tuple, list)) else tuple(items)
    return {entry[0]: entry for entry in reversed(entries)}


def values_by_tag(items: Iterable[RscpItem]) -> dict[int, RscpValue]:
    """Map tag -> value of the first item with that tag, leaving out RSCP error items."""
    entries = items if isinstance(items, (tuple, list)) else tuple(items)
    error = RscpType.ERROR
    return {tag: value for tag, kind, value in reversed(entries) if kind is not error}


@dataclass(frozen=True, slots=True, kw_only=True)
class EmsStatus:
    """EMS_SYS_STATUS decoded into named flags."""

    raw: int
    flags: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_int(cls, raw: int) -> EmsStatus:
        """Decode the status bit field."""
        return cls(raw=raw, flags={name: bool(raw >> bit & 1) for bit, name in EMS_STATUS_BITS})


@dataclass(frozen=True, slots=True, kw_only=True)
class LivePower:
    """Live power flows of the whole system (one poll)."""

    time: datetime | None
    pv_power_w: float | None
    battery_power_w: float | None
    house_power_w: float | None
    grid_power_w: float | None
    additional_power_w: float | None
    wallbox_power_w: float | None
    wallbox_solar_power_w: float | None
    state_of_charge_pct: float | None
    autarky_pct: float | None
    self_consumption_pct: float | None
    mode: int | None
    status: EmsStatus | None

    @classmethod
    def from_items(cls, items: Iterable[RscpItem]) -> LivePower:
        """Build from the reply to :func:`commands.live`."""
        values = values_by_tag(items)
        add = _num(values.get(T.EMS_POWER_ADD))
        status = _int(values.get(T.EMS_REQ_SYS_STATUS | 0x00800000))
        if status is None:
            status = _int(values.get(T.EMS_SYS_STATUS))
        return cls(
            time=_time(values.get(T.INFO_UTC_TIME)),
            pv_power_w=_num(values.get(T.EMS_POWER_PV)),
            battery_power_w=_num(values.get(T.EMS_POWER_BAT)),
            house_power_w=_num(values.get(T.EMS_POWER_HOME)),
            grid_power_w=_num(values.get(T.EMS_POWER_GRID)),
            additional_power_w=None if add is None else 0.0 - add,  # 0.0 - x: no "-0.0"
            wallbox_power_w=_num(values.get(T.EMS_POWER_WB_ALL)),
            wallbox_solar_power_w=_num(values.get(T.EMS_POWER_WB_SOLAR)),
            state_of_charge_pct=_num(values.get(T.EMS_BAT_SOC)),
            autarky_pct=_num(values.get(T.EMS_AUTARKY)),
            self_consumption_pct=_num(values.get(T.EMS_SELF_CONSUMPTION)),
            mode=_int(values.get(T.EMS_MODE)),
            status=None if status is None else EmsStatus.from_int(status),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemInfo:
    """Identity and ratings of the E3/DC (rarely changes)."""

    serial: str | None
    model: str | None
    firmware: str | None
    mac: str | None
    ip_address: str | None
    production_date: str | None
    installed_peak_power_w: float | None
    derate_percent: float | None
    derate_power_w: float | None
    external_source_available: bool | None
    installed_battery_capacity_wh: float | None
    max_ac_power_w: float | None
    max_charge_power_w: float | None
    max_discharge_power_w: float | None
    discharge_start_default_w: float | None
    specs: dict[str, int | str] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: Iterable[RscpItem]) -> SystemInfo:
        """Build from the reply to :func:`commands.system_info`."""
        entries = list(items)
        values = values_by_tag(entries)
        specs: dict[str, int | str] = {}
        for entry in entries:
            if entry.tag in SYS_SPECS_REPLIES and not entry.is_error:
                for spec in entry.find_all(T.EMS_SYS_SPEC):
                    name = _str(spec.get(T.EMS_SYS_SPEC_NAME))
                    value = spec.get(T.EMS_SYS_SPEC_VALUE_INT)
                    if not isinstance(value, int):
                        value = spec.get(T.EMS_SYS_SPEC_VALUE_STRING)
                    if name is not None and isinstance(value, (int, str)):
                        specs[name] = value
        serial = _str(values.get(T.INFO_SERIAL_NUMBER))
        percent = _num(values.get(T.EMS_DERATE_AT_PERCENT_VALUE))
        return cls(
            serial=serial,
            model=model_from_serial(serial),
            firmware=_str(values.get(T.INFO_SW_RELEASE)),
            mac=_str(values.get(T.INFO_MAC_ADDRESS)),
            ip_address=_str(values.get(T.INFO_IP_ADDRESS)),
            production_date=_str(values.get(T.INFO_PRODUCTION_DATE)),
            installed_peak_power_w=_num(values.get(T.EMS_INSTALLED_PEAK_POWER)),
            derate_percent=None if percent is None else percent * 100,
            derate_power_w=_num(values.get(T.EMS_DERATE_AT_POWER_VALUE)),
            external_source_available=_bool(values.get(T.EMS_EXT_SRC_AVAILABLE)),
            installed_battery_capacity_wh=_spec(specs, "installedBatteryCapacity"),
            max_ac_power_w=_spec(specs, "maxAcPower"),
            max_charge_power_w=_spec(specs, "maxBatChargePower"),
            # pye3dc looks for the misspelt "maxBatDischargPower"; accept both spellings.
            max_discharge_power_w=_spec(specs, "maxBatDischargePower", "maxBatDischargPower"),
            discharge_start_default_w=_spec(specs, "startDischargeDefault"),
            specs=specs,
        )


def _spec(specs: dict[str, int | str], *names: str) -> float | None:
    """Return the first numeric system spec among ``names``."""
    for name in names:
        value = specs.get(name)
        if isinstance(value, int):
            return float(value)
    return None


def model_from_serial(serial: str | None) -> str | None:
    """Derive the model from the serial number (prefix like ``S10-`` stripped first)."""
    if not serial:
        return None
    digits = serial if serial[0].isdigit() else serial[4:]
    for prefix, model in MODEL_BY_PREFIX:
        if digits.startswith(prefix):
            return model
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryModule:
    """One module (DCB) of a battery."""

    index: int
    state_of_charge_pct: float | None
    state_of_health_pct: float | None
    cycles: int | None
    voltage_v: float | None
    current_a: float | None
    full_charge_capacity_ah: float | None
    remaining_capacity_ah: float | None
    serial: str | None

    @classmethod
    def from_item(cls, data: RscpItem) -> BatteryModule:
        """Build from one BAT_DCB_INFO container."""
        values = values_by_tag(data.children)
        return cls(
            index=_int(values.get(T.BAT_DCB_INDEX)) or 0,
            state_of_charge_pct=_num(values.get(T.BAT_DCB_SOC)),
            state_of_health_pct=_num(values.get(T.BAT_DCB_SOH)),
            cycles=_int(values.get(T.BAT_DCB_CYCLE_COUNT)),
            voltage_v=_num(values.get(T.BAT_DCB_VOLTAGE)),
            current_a=_num(values.get(T.BAT_DCB_CURRENT)),
            full_charge_capacity_ah=_num(values.get(T.BAT_DCB_FULL_CHARGE_CAPACITY)),
            remaining_capacity_ah=_num(values.get(T.BAT_DCB_REMAINING_CAPACITY)),
            serial=_version(values.get(T.BAT_DCB_SERIALNO)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Battery:
    """One battery (BAT index) with its pack values."""

    index: int
    name: str | None
    state_of_charge_pct: float | None
    state_of_health_pct: float | None
    voltage_v: float | None
    terminal_voltage_v: float | None
    current_a: float | None
    charge_cycles: int | None
    module_count: int | None
    full_charge_capacity_ah: float | None
    remaining_capacity_ah: float | None
    design_capacity_ah: float | None
    usable_capacity_ah: float | None
    usable_remaining_capacity_ah: float | None
    max_cell_temperature_c: float | None
    min_cell_temperature_c: float | None
    status_code: int | None
    error_code: int | None
    connected: bool | None
    working: bool | None
    real_state_of_charge_pct: float | None = None
    max_charge_current_a: float | None = None
    max_discharge_current_a: float | None = None
    training_mode: int | None = None
    total_use_time_s: int | None = None
    total_discharge_time_s: int | None = None
    modules: tuple[BatteryModule, ...] = ()

    @classmethod
    def from_item(cls, data: RscpItem) -> Battery:
        """Build from one BAT_DATA container."""
        by_tag = index_by_tag(data.children)
        values = values_by_tag(data.children)
        state = by_tag.get(T.BAT_DEVICE_STATE)
        return cls(
            index=_int(values.get(T.BAT_INDEX)) or 0,
            name=_str(values.get(T.BAT_DEVICE_NAME)),
            state_of_charge_pct=_num(values.get(T.BAT_RSOC)),
            state_of_health_pct=_num(values.get(T.BAT_ASOC)),
            voltage_v=_num(values.get(T.BAT_MODULE_VOLTAGE)),
            terminal_voltage_v=_num(values.get(T.BAT_TERMINAL_VOLTAGE)),
            current_a=_num(values.get(T.BAT_CURRENT)),
            charge_cycles=_int(values.get(T.BAT_CHARGE_CYCLES)),
            module_count=_int(values.get(T.BAT_DCB_COUNT)),
            full_charge_capacity_ah=_num(values.get(T.BAT_FCC)),
            remaining_capacity_ah=_num(values.get(T.BAT_RC)),
            design_capacity_ah=_num(values.get(T.BAT_DESIGN_CAPACITY)),
            usable_capacity_ah=_num(values.get(T.BAT_USABLE_CAPACITY)),
            usable_remaining_capacity_ah=_num(values.get(T.BAT_USABLE_REMAINING_CAPACITY)),
            max_cell_temperature_c=_num(values.get(T.BAT_MAX_DCB_CELL_TEMPERATURE)),
            min_cell_temperature_c=_num(values.get(T.BAT_MIN_DCB_CELL_TEMPERATURE)),
            status_code=_code(values.get(T.BAT_STATUS_CODE)),
            error_code=_code(values.get(T.BAT_ERROR_CODE)),
            connected=None if state is None else _bool(state.get(T.BAT_DEVICE_CONNECTED)),
            working=None if state is None else _bool(state.get(T.BAT_DEVICE_WORKING)),
            real_state_of_charge_pct=_num(values.get(T.BAT_RSOC_REAL)),
            max_charge_current_a=_num(values.get(T.BAT_MAX_CHARGE_CURRENT)),
            max_discharge_current_a=_num(values.get(T.BAT_MAX_DISCHARGE_CURRENT)),
            training_mode=_int(values.get(T.BAT_TRAINING_MODE)),
            total_use_time_s=_int(values.get(T.BAT_TOTAL_USE_TIME)),
            total_discharge_time_s=_int(values.get(T.BAT_TOTAL_DISCHARGE_TIME)),
            modules=tuple(
                BatteryModule.from_item(child)
                for child in data.children
                if child.tag == T.BAT_DCB_INFO and child.type is RscpType.CONTAINER
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InverterString:
    """One DC string (PV input) of an inverter."""

    index: int
    power_w: float | None
    voltage_v: float | None
    current_a: float | None
    energy_wh: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InverterPhase:
    """One AC phase of an inverter."""

    index: int
    power_w: float | None
    voltage_v: float | None
    current_a: float | None
    energy_wh: float | None


_PVI_INDEXED: Final = frozenset(
    {
        T.PVI_DC_POWER,
        T.PVI_DC_VOLTAGE,
        T.PVI_DC_CURRENT,
        T.PVI_DC_STRING_ENERGY_ALL,
        T.PVI_AC_POWER,
        T.PVI_AC_VOLTAGE,
        T.PVI_AC_CURRENT,
        T.PVI_AC_ENERGY_ALL,
        T.PVI_TEMPERATURE,
    }
)


def _indexed(children: Iterable[RscpItem]) -> dict[int, dict[int, float | None]]:
    """Collect PVI per-string/phase replies (containers {PVI_INDEX, PVI_VALUE}) in one pass."""
    out: dict[int, dict[int, float | None]] = {}
    container, error = RscpType.CONTAINER, RscpType.ERROR
    for tag, kind, parts in children:
        if tag not in _PVI_INDEXED or kind is not container or not isinstance(parts, tuple):
            continue
        index: RscpValue = None
        value: RscpValue = None
        for part_tag, part_kind, part_value in parts:
            if part_tag == T.PVI_INDEX:
                index = part_value
            elif part_tag == T.PVI_VALUE and part_kind is not error:
                value = part_value
        if type(index) is int:
            out.setdefault(tag, {})[index] = _num(value)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Inverter:
    """One PV inverter (PVI index) with per-string and per-phase values."""

    index: int
    serial: str | None
    on_grid: bool | None
    temperature_c: float | None
    strings: tuple[InverterString, ...]
    phases: tuple[InverterPhase, ...]

    @classmethod
    def from_item(cls, data: RscpItem) -> Inverter:
        """Build from one PVI_DATA container."""
        children = data.children
        values = values_by_tag(children)
        indexed = _indexed(children)
        empty: dict[int, float | None] = {}
        dc = [indexed.get(t, empty) for t in (T.PVI_DC_POWER, T.PVI_DC_VOLTAGE, T.PVI_DC_CURRENT)]
        dc_energy = indexed.get(T.PVI_DC_STRING_ENERGY_ALL, empty)
        ac = [indexed.get(t, empty) for t in (T.PVI_AC_POWER, T.PVI_AC_VOLTAGE, T.PVI_AC_CURRENT)]
        ac_energy = indexed.get(T.PVI_AC_ENERGY_ALL, empty)
        temperatures = indexed.get(T.PVI_TEMPERATURE, empty)
        return cls(
            index=_int(values.get(T.PVI_INDEX)) or 0,
            serial=_str(values.get(T.PVI_SERIAL_NUMBER)),
            on_grid=_bool(values.get(T.PVI_ON_GRID)),
            temperature_c=temperatures.get(0),
            strings=tuple(
                InverterString(
                    index=i,
                    power_w=dc[0].get(i),
                    voltage_v=dc[1].get(i),
                    current_a=dc[2].get(i),
                    energy_wh=dc_energy.get(i),
                )
                for i in sorted(set(dc[0]) | set(dc[1]) | set(dc[2]))
            ),
            phases=tuple(
                InverterPhase(
                    index=i,
                    power_w=ac[0].get(i),
                    voltage_v=ac[1].get(i),
                    current_a=ac[2].get(i),
                    energy_wh=ac_energy.get(i),
                )
                for i in sorted(set(ac[0]) | set(ac[1]) | set(ac[2]))
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerMeter:
    """One power meter (PM index); ``type_name`` is None for types newer than our table."""

    index: int
    type: int | None
    type_name: str | None
    active_phases: int | None
    power_w: tuple[float | None, float | None, float | None]
    voltage_v: tuple[float | None, float | None, float | None]
    energy_wh: tuple[float | None, float | None, float | None]

    @property
    def total_power_w(self) -> float | None:
        """Sum of the phase powers (None if no phase answered)."""
        phases = [p for p in self.power_w if p is not None]
        return sum(phases) if phases else None

    @classmethod
    def from_item(cls, data: RscpItem) -> PowerMeter:
        """Build from one PM_DATA container."""
        values = values_by_tag(data.children)
        meter_type = _int(values.get(T.PM_TYPE))
        return cls(
            index=_int(values.get(T.PM_INDEX)) or 0,
            type=meter_type,
            type_name=None if meter_type is None else POWER_METER_TYPES.get(meter_type),
            active_phases=_int(values.get(T.PM_ACTIVE_PHASES)),
            power_w=(
                _num(values.get(T.PM_POWER_L1)),
                _num(values.get(T.PM_POWER_L2)),
                _num(values.get(T.PM_POWER_L3)),
            ),
            voltage_v=(
                _num(values.get(T.PM_VOLTAGE_L1)),
                _num(values.get(T.PM_VOLTAGE_L2)),
                _num(values.get(T.PM_VOLTAGE_L3)),
            ),
            energy_wh=(
                _num(values.get(T.PM_ENERGY_L1)),
                _num(values.get(T.PM_ENERGY_L2)),
                _num(values.get(T.PM_ENERGY_L3)),
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallbox:
    """One wallbox (WB index): power split, energy, plug and charging state."""

    index: int
    name: str | None
    app_software: str | None
    power_w: float | None
    solar_power_w: float | None
    grid_power_w: float | None
    energy_solar_wh: float | None
    energy_grid_wh: float | None
    state_of_charge_pct: int | None
    phases: int | None
    max_charge_current_a: int | None
    sun_mode: bool | None
    charging: bool | None
    charging_canceled: bool | None
    plug_locked: bool | None
    plugged: bool | None
    schuko_on: bool | None
    key_state: int | None

    @property
    def energy_wh(self) -> float | None:
        """Total energy charged (solar + grid)."""
        if self.energy_solar_wh is None or self.energy_grid_wh is None:
            return None
        return self.energy_solar_wh + self.energy_grid_wh

    @classmethod
    def from_item(cls, data: RscpItem) -> Wallbox:
        """Build from one WB_DATA container."""
        by_tag = index_by_tag(data.children)
        values = values_by_tag(data.children)
        alg = _extern(by_tag, T.WB_EXTERN_DATA_ALG)
        sun = _extern(by_tag, T.WB_EXTERN_DATA_SUN)
        net = _extern(by_tag, T.WB_EXTERN_DATA_NET)
        sun_w, sun_wh = _power_energy(sun)
        net_w, net_wh = _power_energy(net)
        status = alg[2] if alg is not None and len(alg) >= _WB_ALG_MIN else None
        key = by_tag.get(T.WB_KEY_STATE)
        key_value = None if key is None or key.is_error else key.value
        if isinstance(key_value, tuple) and key is not None:  # some firmware nests the value
            key_value = key.get(T.WB_KEY_STATE)
        return cls(
            index=_int(values.get(T.WB_INDEX)) or 0,
            name=_str(values.get(T.WB_DEVICE_NAME)),
            app_software=_version(values.get(T.WB_APP_SOFTWARE)),
            power_w=None if sun_w is None or net_w is None else sun_w + net_w,
            solar_power_w=sun_w,
            grid_power_w=net_w,
            energy_solar_wh=sun_wh,
            energy_grid_wh=net_wh,
            state_of_charge_pct=None if status is None or alg is None else alg[0],
            phases=None if status is None or alg is None else alg[1],
            max_charge_current_a=None if status is None or alg is None else alg[3],
            sun_mode=None if status is None else bool(status & _WB_SUN_MODE),
            charging=None if status is None else bool(status & _WB_CHARGING),
            charging_canceled=None if status is None else bool(status & _WB_CANCELED),
            plug_locked=None if status is None else bool(status & _WB_LOCKED),
            plugged=None if status is None else bool(status & _WB_PLUGGED),
            schuko_on=None if status is None or alg is None else alg[5] != 0,
            key_state=_int(key_value),
        )


def _extern(by_tag: dict[int, RscpItem], tag: int) -> bytes | None:
    """Return the WB_EXTERN_DATA bytes inside a wallbox extern-data reply container."""
    entry = by_tag.get(tag)
    if entry is None or entry.is_error:
        return None
    data = entry.get(T.WB_EXTERN_DATA)
    return data if isinstance(data, bytes) else None


def _power_energy(data: bytes | None) -> tuple[float | None, float | None]:
    """Decode int16 power (W) and int32 energy (Wh) from EXTERN_DATA_SUN/NET bytes."""
    if data is None or len(data) < _WB_POWER.size:
        return None, None
    power, energy = _WB_POWER.unpack_from(data, 0)
    return float(power), float(energy)


@dataclass(frozen=True, slots=True, kw_only=True)
class WallboxSettings:
    """EMS settings that steer wallboxes."""

    battery_to_car: bool | None
    battery_before_car: bool | None
    discharge_battery_until_pct: int | None
    enforce_power_assignment: bool | None

    @classmethod
    def from_items(cls, items: Iterable[RscpItem]) -> WallboxSettings:
        """Build from the reply to :func:`commands.wallbox_settings`."""
        values = values_by_tag(items)
        return cls(
            battery_to_car=_bool(values.get(T.EMS_BATTERY_TO_CAR_MODE)),
            battery_before_car=_bool(values.get(T.EMS_BATTERY_BEFORE_CAR_MODE)),
            discharge_battery_until_pct=_int(values.get(T.EMS_GET_WB_DISCHARGE_BAT_UNTIL)),
            enforce_power_assignment=_bool(values.get(T.EMS_GET_WALLBOX_ENFORCE_POWER_ASSIGNMENT)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SgReady:
    """Overall SG-Ready (heat-pump control) state."""

    state: int | None
    active: bool | None

    @classmethod
    def from_item(cls, data: RscpItem) -> SgReady:
        """Build from SGR_DATA."""
        values = values_by_tag(data.children)
        return cls(state=_int(values.get(T.SGR_STATE)), active=_bool(values.get(T.SGR_AKTIV)))


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartSwitch:
    """One smart-home actuator (HA datapoint)."""

    index: int
    type: int | None
    name: str | None
    state: str | int | None  # rscp-lib types HA_DATAPOINT_STATE as Char8; strings also seen

    @property
    def is_on(self) -> bool | None:
        """True for "on"/1, False for "off"/0, None for anything else (dimmers, motors)."""
        if isinstance(self.state, str):
            return {"on": True, "off": False}.get(self.state.lower())
        return {1: True, 0: False}.get(self.state) if self.state is not None else None

    @staticmethod
    def list_from_items(items: Iterable[RscpItem]) -> tuple[SmartSwitch, ...]:
        """Build from the reply to :func:`commands.switches` (list + states, matched by order)."""
        by_tag = index_by_tag(items)
        points = by_tag.get(T.HA_DATAPOINT_LIST)
        states = by_tag.get(T.HA_ACTUATOR_STATES)
        state_items = list(states.children) if states is not None else []
        out = []
        for position, point in enumerate(points.children if points is not None else ()):
            state = state_items[position] if position < len(state_items) else None
            out.append(
                SmartSwitch(
                    index=_int(point.get(T.HA_DATAPOINT_INDEX)) or 0,
                    type=_int(point.get(T.HA_DATAPOINT_TYPE)),
                    name=_str(point.get(T.HA_DATAPOINT_NAME)),
                    state=None if state is None else _state(state.get(T.HA_DATAPOINT_STATE)),
                )
            )
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerSettings:
    """Battery power limits and EMS options (EMS_GET_POWER_SETTINGS)."""

    power_limits_used: bool | None
    max_charge_power_w: int | None
    max_discharge_power_w: int | None
    discharge_start_power_w: int | None
    powersave_enabled: bool | None
    weather_regulated_charge_enabled: bool | None
    weather_forecast_mode: int | None

    @classmethod
    def from_item(cls, data: RscpItem) -> PowerSettings:
        """Build from the EMS_GET_POWER_SETTINGS container."""
        values = values_by_tag(data.children)
        return cls(
            power_limits_used=_bool(values.get(T.EMS_POWER_LIMITS_USED)),
            max_charge_power_w=_int(values.get(T.EMS_MAX_CHARGE_POWER)),
            max_discharge_power_w=_int(values.get(T.EMS_MAX_DISCHARGE_POWER)),
            discharge_start_power_w=_int(values.get(T.EMS_DISCHARGE_START_POWER)),
            powersave_enabled=_bool(values.get(T.EMS_POWERSAVE_ENABLED)),
            weather_regulated_charge_enabled=_bool(
                values.get(T.EMS_WEATHER_REGULATED_CHARGE_ENABLED)
            ),
            weather_forecast_mode=_int(values.get(T.EMS_WEATHER_FORECAST_MODE)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualCharge:
    """State of the manual (grid) charge."""

    active: bool | None
    energy_counter_wh: float | None
    last_start: datetime | None

    @classmethod
    def from_item(cls, data: RscpItem) -> ManualCharge:
        """Build from the EMS_GET_MANUAL_CHARGE container."""
        values = values_by_tag(data.children)
        return cls(
            active=_bool(values.get(T.EMS_MANUAL_CHARGE_ACTIVE)),
            energy_counter_wh=_num(values.get(T.EMS_MANUAL_CHARGE_ENERGY_COUNTER)),
            last_start=_time(values.get(T.EMS_MANUAL_CHARGE_LASTSTART)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class IdlePeriod:
    """A weekly window in which the battery does not charge (type 0) or discharge (type 1)."""

    type: int
    day: int  # 0 = Monday .. 6 = Sunday
    active: bool
    start_hour: int
    start_minute: int
    end_hour: int
    end_minute: int

    @property
    def key(self) -> tuple[int, int]:
        """(type, day): the device keeps one period per kind and weekday."""
        return (self.type, self.day)

    @staticmethod
    def list_from_item(data: RscpItem) -> tuple[IdlePeriod, ...]:
        """Build from EMS_GET_IDLE_PERIODS (a list of EMS_IDLE_PERIOD containers)."""
        out = []
        for period in data.find_all(T.EMS_IDLE_PERIOD):
            start = period.find(T.EMS_IDLE_PERIOD_START)
            end = period.find(T.EMS_IDLE_PERIOD_END)
            numbers = (
                _int(period.get(T.EMS_IDLE_PERIOD_TYPE)),
                _int(period.get(T.EMS_IDLE_PERIOD_DAY)),
                None if start is None else _int(start.get(T.EMS_IDLE_PERIOD_HOUR)),
                None if start is None else _int(start.get(T.EMS_IDLE_PERIOD_MINUTE)),
                None if end is None else _int(end.get(T.EMS_IDLE_PERIOD_HOUR)),
                None if end is None else _int(end.get(T.EMS_IDLE_PERIOD_MINUTE)),
            )
            if any(n is None for n in numbers):
                continue  # incomplete period: skip rather than invent values
            kind, day, start_h, start_m, end_h, end_m = (int(n or 0) for n in numbers)
            out.append(
                IdlePeriod(
                    type=kind,
                    day=day,
                    active=bool(_bool(period.get(T.EMS_IDLE_PERIOD_ACTIVE))),
                    start_hour=start_h,
                    start_minute=start_m,
                    end_hour=end_h,
                    end_minute=end_m,
                )
            )
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class FarmDevice:
    """One member of a farm (an E3/DC master with slaves), as the master lists it."""

    serial: str | None
    name: str | None
    short_id: int | None

    @staticmethod
    def list_from_item(data: RscpItem) -> tuple[FarmDevice, ...]:
        """Build from FARM_CONNECTED_DEVICES (FARM_PARAM_DEVICE containers, or flat children)."""
        devices = data.find_all(T.FARM_PARAM_DEVICE) or [data]
        out = []
        for device in devices:
            serial = _str(device.get(T.FARM_PARAM_SERIALNO))
            name = _str(device.get(T.FARM_PARAM_CNAME))
            if serial is None and name is None:
                continue
            out.append(
                FarmDevice(
                    serial=serial, name=name, short_id=_int(device.get(T.FARM_PARAM_SHORT_ID))
                )
            )
        return tuple(out)


def _sum(values: Iterable[float | None]) -> float | None:
    """Sum the known values; None if none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def combine_live(
    parts: Sequence[LivePower], capacities_wh: Sequence[float] | None = None
) -> LivePower:
    """Combine the live values of several systems (a farm) into totals.

    Powers add up; the state of charge is weighted by battery capacity (equal weights if not
    given); autarky and self-consumption are recomputed from the combined flows, so they are
    exact rather than averaged.
    """
    if not parts:
        msg = "combine_live needs at least one system"
        raise ValueError(msg)
    weights = list(capacities_wh) if capacities_wh is not None else [1.0] * len(parts)
    pv = _sum(p.pv_power_w for p in parts)
    grid = _sum(p.grid_power_w for p in parts)
    house = _sum(p.house_power_w for p in parts)
    wallbox = _sum(p.wallbox_power_w for p in parts)
    socs = [(p.state_of_charge_pct, w) for p, w in zip(parts, weights, strict=True)]
    known = [(soc, w) for soc, w in socs if soc is not None]
    total_weight = sum(w for _, w in known)
    autarky = self_consumption = None
    if house is not None and grid is not None:
        consumption = house + (wallbox or 0.0)
        autarky = 100.0 * (1 - max(grid, 0.0) / consumption) if consumption else 100.0
    if pv is not None and grid is not None:
        self_consumption = 100.0 * (1 - max(-grid, 0.0) / pv) if pv else 100.0
    return LivePower(
        time=max((p.time for p in parts if p.time is not None), default=None),
        pv_power_w=pv,
        battery_power_w=_sum(p.battery_power_w for p in parts),
        house_power_w=house,
        grid_power_w=grid,
        additional_power_w=_sum(p.additional_power_w for p in parts),
        wallbox_power_w=wallbox,
        wallbox_solar_power_w=_sum(p.wallbox_solar_power_w for p in parts),
        state_of_charge_pct=(
            sum(soc * w for soc, w in known) / total_weight if total_weight else None
        ),
        autarky_pct=None if autarky is None else min(100.0, max(0.0, autarky)),
        self_consumption_pct=(
            None if self_consumption is None else min(100.0, max(0.0, self_consumption))
        ),
        mode=parts[0].mode,
        status=parts[0].status,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryTotals:
    """Energy totals for one history-database period (Wh; percentages as reported)."""

    start: datetime
    span_s: int
    battery_charge_wh: float | None
    battery_discharge_wh: float | None
    solar_production_wh: float | None
    grid_import_wh: float | None
    grid_export_wh: float | None
    house_consumption_wh: float | None
    additional_pm0_wh: float | None
    additional_pm1_wh: float | None
    state_of_charge_pct: float | None
    autarky_pct: float | None
    self_consumption_pct: float | None

    @classmethod
    def from_item(cls, data: RscpItem, *, start: int, span_s: int) -> HistoryTotals:
        """Build from a DB_HISTORY_DATA_* container (its sum container)."""
        sums = data.find(T.DB_SUM_CONTAINER) or data.find(T.DB_VALUE_CONTAINER)
        return cls._from_sums(sums, start=start, span_s=span_s)

    @classmethod
    def series_from_item(
        cls, data: RscpItem, *, start: int, interval_s: int
    ) -> tuple[HistoryTotals, ...]:
        """One entry per DB_VALUE_CONTAINER (interval), placed by its DB_GRAPH_INDEX."""
        out = []
        for position, values in enumerate(data.find_all(T.DB_VALUE_CONTAINER)):
            graph_index = _num(values.get(T.DB_GRAPH_INDEX))
            if graph_index is not None and not (
                math.isfinite(graph_index) and 0 <= graph_index <= MAX_GRAPH_INDEX
            ):
                msg = (
                    f"DB_GRAPH_INDEX of history value {position} is {graph_index}, "
                    f"not an interval number 0..{MAX_GRAPH_INDEX}"
                )
                raise RscpProtocolError(msg)
            index = int(graph_index) if graph_index is not None else position
            out.append(cls._from_sums(values, start=start + index * interval_s, span_s=interval_s))
        return tuple(out)

    @classmethod
    def _from_sums(cls, sums: RscpItem | None, *, start: int, span_s: int) -> HistoryTotals:
        """Build from one DB sum/value container."""
        values = values_by_tag(sums.children if sums is not None else ())
        try:
            when = datetime.fromtimestamp(start, tz=UTC)
        except (OverflowError, OSError, ValueError) as err:
            msg = f"history interval start {start} is not a representable time"
            raise RscpProtocolError(msg) from err
        return cls(
            start=when,
            span_s=span_s,
            battery_charge_wh=_num(values.get(T.DB_BAT_POWER_IN)),
            battery_discharge_wh=_num(values.get(T.DB_BAT_POWER_OUT)),
            solar_production_wh=_num(values.get(T.DB_DC_POWER)),
            grid_import_wh=_num(values.get(T.DB_GRID_POWER_OUT)),
            grid_export_wh=_num(values.get(T.DB_GRID_POWER_IN)),
            house_consumption_wh=_num(values.get(T.DB_CONSUMPTION)),
            additional_pm0_wh=_num(values.get(T.DB_PM_0_POWER)),
            additional_pm1_wh=_num(values.get(T.DB_PM_1_POWER)),
            state_of_charge_pct=_num(values.get(T.DB_BAT_CHARGE_LEVEL)),
            autarky_pct=_num(values.get(T.DB_AUTARKY)),
            self_consumption_pct=_num(values.get(T.DB_CONSUMED_PRODUCTION)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Details:
    """Per-device details polled in one frame: batteries, inverters, meters, wallboxes."""

    batteries: tuple[Battery, ...]
    inverters: tuple[Inverter, ...]
    power_meters: tuple[PowerMeter, ...]
    wallboxes: tuple[Wallbox, ...]
    power_settings: PowerSettings | None
    manual_charge: ManualCharge | None
    wallbox_settings: WallboxSettings | None
    sg_ready: SgReady | None = None
