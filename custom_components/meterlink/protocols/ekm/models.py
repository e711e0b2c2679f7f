"""Typed, frozen models of what EKM Omnimeter v3/v4 meters report and accept."""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from enum import IntEnum, StrEnum


class EkmVersion(IntEnum):
    """Omnimeter protocol generation (fact sheet §2)."""

    V3 = 3
    V4 = 4


class EkmBlock(StrEnum):
    """Which 255-byte block a read request asks for (fact sheet §2)."""

    V3 = "v3"
    V4_A = "a"
    V4_B = "b"


class EkmRelay(IntEnum):
    """v4 relay outputs (ekmmeters ``Relay``; fact sheet §5.2)."""

    RELAY_1 = 1
    RELAY_2 = 2


class EkmRelayState(IntEnum):
    """Relay command state digit (ekmmeters ``RelayState``; fact sheet §5.2)."""

    OPEN = 0
    CLOSED = 1


class EkmMaxDemandPeriod(IntEnum):
    """Max-demand integration period code (ekmmeters ``MaxDemandPeriod``; fact sheet §4 notes)."""

    MINUTES_15 = 1
    MINUTES_30 = 2
    MINUTES_60 = 3


class EkmMaxDemandReset(IntEnum):
    """v4 max-demand auto-reset interval code (ekmmeters ``MaxDemandResetInterval``)."""

    OFF = 0
    MONTHLY = 1
    WEEKLY = 2
    DAILY = 3
    HOURLY = 4


class EkmPowerFactorKind(StrEnum):
    """Prefix of a ``Cos_Theta`` field: L = inductive lag, C = capacitive lead, space = none."""

    LAG = "L"
    LEAD = "C"
    NONE = " "


# ekmmeters CTRatio (fact sheet §5.2): the only CT ratios the meter accepts.
CT_RATIOS: frozenset[int] = frozenset(
    {100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 3000, 4000, 5000}
)
# ekmmeters PulseOutput (fact sheet §5.2): the only pulse output ratios the meter accepts.
PULSE_OUTPUT_RATIOS: frozenset[int] = frozenset(
    {1, 2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 80, 100, 200, 400, 800, 1600}
)
# ekmmeters LCDItems (fact sheet §5.4): codes 1-45, 47 and 51 exist.
LCD_ITEMS: frozenset[int] = frozenset({*range(1, 46), 47, 51})

# ekmmeters StateOut (fact sheet §4 notes): code -> (relay 1 closed, relay 2 closed).
_STATE_OUT: dict[int, tuple[bool, bool]] = {
    1: (False, False),
    2: (False, True),
    3: (True, False),
    4: (True, True),
}
# ekmmeters DirectionFlag (fact sheet §4 notes): code -> line 1..3 reversed?
_WATTS_DIR: dict[int, tuple[bool, bool, bool]] = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, False),
    4: (True, False, False),
    5: (False, True, True),
    6: (True, False, True),
    7: (True, True, False),
    8: (True, True, True),
}


def relay_states_from_state_out(code: int) -> tuple[bool, bool] | None:
    """Return (relay 1 closed, relay 2 closed) for a ``State_Out`` code, None if unknown."""
    return _STATE_OUT.get(code)


def state_out_from_relays(relay_1_closed: bool, relay_2_closed: bool) -> int:
    """Return the ``State_Out`` code for two relay states."""
    return 1 + 2 * int(relay_1_closed) + int(relay_2_closed)


def watts_direction_code(reversed_lines: tuple[bool, bool, bool]) -> int:
    """Return the ``State_Watts_Dir`` code for which lines run in reverse."""
    for code, lines in _WATTS_DIR.items():
        if lines == reversed_lines:
            return code
    msg = "unreachable: every combination has a code"  # pragma: no cover
    raise AssertionError(msg)  # pragma: no cover


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmPowerFactor:
    """A ``Cos_Theta`` field: ``C087`` is 0.87 leading."""

    raw: str
    kind: EkmPowerFactorKind
    power_factor: float

    @property
    def legacy_value(self) -> int:
        """EKM's legacy "push" PF number: 100 for none, 200-nnn leading, nnn lagging."""
        hundredths = round(self.power_factor * 100)
        if self.kind is EkmPowerFactorKind.LEAD:
            return 200 - hundredths
        if self.kind is EkmPowerFactorKind.LAG:
            return hundredths
        return 100


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmMeterTime:
    """``Meter_Time`` as sent: ``YYMMDDWWhhmmss`` (WW = weekday, fact sheet §4 notes)."""

    raw: str
    year: int
    month: int
    day: int
    weekday: int
    hour: int
    minute: int
    second: int

    def to_datetime(self) -> dt.datetime | None:
        """Return the naive local datetime the meter shows, None if it is not a real date."""
        try:
            return dt.datetime(  # noqa: DTZ001 - the meter has no time zone
                2000 + self.year, self.month, self.day, self.hour, self.minute, self.second
            )
        except ValueError:
            return None


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmV3Reading:
    """Every field of a v3 read (fact sheet §4.1); energy scaled with kWh scale 1."""

    reserved_10: str
    model: str
    firmware: str
    address: str
    energy_total_wh: float
    energy_tariff_1_wh: float
    energy_tariff_2_wh: float
    energy_tariff_3_wh: float
    energy_tariff_4_wh: float
    reverse_energy_total_wh: float
    reverse_energy_tariff_1_wh: float
    reverse_energy_tariff_2_wh: float
    reverse_energy_tariff_3_wh: float
    reverse_energy_tariff_4_wh: float
    voltage_ln_1_v: float
    voltage_ln_2_v: float
    voltage_ln_3_v: float
    current_ln_1_a: float
    current_ln_2_a: float
    current_ln_3_a: float
    power_ln_1_w: int
    power_ln_2_w: int
    power_ln_3_w: int
    power_total_w: int
    power_factor_ln_1: EkmPowerFactor
    power_factor_ln_2: EkmPowerFactor
    power_factor_ln_3: EkmPowerFactor
    max_demand_w: float
    max_demand_period: int
    meter_time: EkmMeterTime
    ct_ratio: int
    pulse_count_1: int
    pulse_count_2: int
    pulse_count_3: int
    pulse_ratio_1: int
    pulse_ratio_2: int
    pulse_ratio_3: int
    state_inputs: int
    reserved_11: str
    status_code: str
    reserved_12: str
    crc16: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmV4ReadingA:
    """Every field of a v4 "A" read (fact sheet §4.2); energy scaled by its own kWh scale."""

    reserved_1: str
    model: str
    firmware: str
    address: str
    energy_total_wh: float
    reactive_energy_total_varh: float
    reverse_energy_total_wh: float
    energy_ln_1_wh: float
    energy_ln_2_wh: float
    energy_ln_3_wh: float
    reverse_energy_ln_1_wh: float
    reverse_energy_ln_2_wh: float
    reverse_energy_ln_3_wh: float
    resettable_energy_wh: float
    resettable_reverse_energy_wh: float
    voltage_ln_1_v: float
    voltage_ln_2_v: float
    voltage_ln_3_v: float
    current_ln_1_a: float
    current_ln_2_a: float
    current_ln_3_a: float
    power_ln_1_w: int
    power_ln_2_w: int
    power_ln_3_w: int
    power_total_w: int
    power_factor_ln_1: EkmPowerFactor
    power_factor_ln_2: EkmPowerFactor
    power_factor_ln_3: EkmPowerFactor
    reactive_power_ln_1_var: int
    reactive_power_ln_2_var: int
    reactive_power_ln_3_var: int
    reactive_power_total_var: int
    frequency_hz: float
    pulse_count_1: int
    pulse_count_2: int
    pulse_count_3: int
    state_inputs: int
    state_watts_dir: int
    state_out: int
    kwh_scale: int
    reserved_2: str
    meter_time: EkmMeterTime
    request_type: str
    reserved_4: str
    crc16: str

    @property
    def relay_1_closed(self) -> bool | None:
        """Relay 1 state from ``State_Out``; None if the code is unknown."""
        states = relay_states_from_state_out(self.state_out)
        return None if states is None else states[0]

    @property
    def relay_2_closed(self) -> bool | None:
        """Relay 2 state from ``State_Out``; None if the code is unknown."""
        states = relay_states_from_state_out(self.state_out)
        return None if states is None else states[1]

    @property
    def net_power_w(self) -> tuple[int, int, int, int] | None:
        """Signed power per line and total from ``State_Watts_Dir`` (ekmmeters Net_Calc_Watts)."""
        lines = _WATTS_DIR.get(self.state_watts_dir)
        if lines is None:
            return None
        ln = [
            -watts if rev else watts
            for watts, rev in zip(
                (self.power_ln_1_w, self.power_ln_2_w, self.power_ln_3_w), lines, strict=True
            )
        ]
        return (ln[0], ln[1], ln[2], sum(ln))


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmV4ReadingB:
    """Every field of a v4 "B" read (fact sheet §4.3); energy scaled by the A block's kWh scale."""

    reserved_5: str
    model: str
    firmware: str
    address: str
    energy_tariff_1_wh: float
    energy_tariff_2_wh: float
    energy_tariff_3_wh: float
    energy_tariff_4_wh: float
    reverse_energy_tariff_1_wh: float
    reverse_energy_tariff_2_wh: float
    reverse_energy_tariff_3_wh: float
    reverse_energy_tariff_4_wh: float
    voltage_ln_1_v: float
    voltage_ln_2_v: float
    voltage_ln_3_v: float
    current_ln_1_a: float
    current_ln_2_a: float
    current_ln_3_a: float
    power_ln_1_w: int
    power_ln_2_w: int
    power_ln_3_w: int
    power_total_w: int
    power_factor_ln_1: EkmPowerFactor
    power_factor_ln_2: EkmPowerFactor
    power_factor_ln_3: EkmPowerFactor
    max_demand_w: float
    max_demand_period: int
    pulse_ratio_1: int
    pulse_ratio_2: int
    pulse_ratio_3: int
    ct_ratio: int
    max_demand_reset: int
    pulse_output_ratio: int
    reserved_7: str
    status_code_a: str
    status_code_b: str
    status_code_c: str
    meter_time: EkmMeterTime
    request_type: str
    reserved_9: str
    crc16: str


@dataclass(frozen=True, kw_only=True, slots=True)
class EkmV4Reading:
    """A v4 meter's A block with the B block read in the same cycle (or None)."""

    a: EkmV4ReadingA
    b: EkmV4ReadingB | None


type EkmReading = EkmV3Reading | EkmV4Reading
type EkmBlockReading = EkmV3Reading | EkmV4ReadingA | EkmV4ReadingB
