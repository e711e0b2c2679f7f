"""One virtual EKM Omnimeter (v3 or v4): readings that change, relays, settings, clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from typing import TYPE_CHECKING, Any

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.models import (
    CT_RATIOS,
    LCD_ITEMS,
    PULSE_OUTPUT_RATIOS,
    EkmBlock,
    EkmPowerFactorKind,
    EkmV3Reading,
    EkmV4ReadingA,
    EkmV4ReadingB,
    EkmVersion,
    state_out_from_relays,
    watts_direction_code,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# Settings kept across restarts when the simulator has a state file.
PERSISTED = (
    "password",
    "ct_ratio",
    "pulse_ratios",
    "pulse_output_ratio",
    "max_demand_period",
    "max_demand_reset",
    "lcd_items",
    "clock_offset_s",
    "relays",
    "energy_wh",
    "reverse_energy_wh",
)


@dataclasses.dataclass
class Relay:
    """State of one relay, with an optional timed hold."""

    closed: bool = False
    revert_at: float | None = None


@dataclasses.dataclass
class SimMeter:
    """A virtual meter; ``clock`` is wall time in seconds (injectable for tests)."""

    address: str
    version: EkmVersion = EkmVersion.V4
    password: str = codec.DEFAULT_PASSWORD
    kwh_scale: int = 1
    model: str = "1024"
    firmware: str = "15"
    power_w: tuple[float, float, float] = (340.0, 120.0, 0.0)
    reverse_lines: tuple[bool, bool, bool] = (False, False, False)
    voltage_v: tuple[float, float, float] = (123.5, 121.0, 0.0)
    frequency_hz: float = 60.0
    ct_ratio: int = 200
    pulse_ratios: list[int] = dataclasses.field(default_factory=lambda: [1, 1, 1])
    pulse_output_ratio: int = 800
    max_demand_period: int = 1
    max_demand_reset: int = 0
    lcd_items: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 3])
    clock_offset_s: float = 0.0
    relays: list[Relay] = dataclasses.field(default_factory=lambda: [Relay(), Relay()])
    energy_wh: list[float] = dataclasses.field(default_factory=lambda: [1_000_000.0, 0.0, 0.0])
    reverse_energy_wh: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0, 0.0])
    tariff_wh: list[float] = dataclasses.field(default_factory=lambda: [1_000_000.0, 0, 0, 0])
    resettable_wh: float = 0.0
    resettable_reverse_wh: float = 0.0
    max_demand_w: float = 0.0
    pulse_counts: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.0, 0.0])
    clock: Callable[[], float] = time.time
    _last: float | None = None
    _demand_start: float | None = None
    _demand_wh: float = 0.0

    def __post_init__(self) -> None:
        """Normalise the address."""
        self.address = codec.normalize_address(self.address)

    # --- live values ---------------------------------------------------------------------

    def line_power_w(self, now: float) -> list[float]:
        """Power per line, wandering +-10 % over time (always >= 0; sign is the direction)."""
        return [p * (1 + 0.1 * math.sin(now / 7 + i)) for i, p in enumerate(self.power_w)]

    def update(self) -> float:
        """Advance energy, demand, pulses and relay holds to the current clock; return it."""
        now = self.clock()
        last = self._last if self._last is not None else now
        self._last = now
        hours = max(0.0, now - last) / 3600
        powers = self.line_power_w(now)
        for i, watts in enumerate(powers):
            if self.reverse_lines[i]:
                self.reverse_energy_wh[i] += watts * hours
                self.resettable_reverse_wh += watts * hours
            else:
                self.energy_wh[i] += watts * hours
                self.resettable_wh += watts * hours
                self.tariff_wh[self.tariff(now)] += watts * hours
            self.pulse_counts[i] += (now - last) * (i + 1) / max(1, self.pulse_ratios[i])
        self._demand(now, last, sum(powers))
        for relay in self.relays:
            if relay.revert_at is not None and now >= relay.revert_at:
                relay.closed = not relay.closed
                relay.revert_at = None
        return now

    def _demand(self, now: float, last: float, watts: float) -> None:
        """Max demand: the highest average power over a completed demand period."""
        period_s = 900 * (1, 2, 4)[self.max_demand_period - 1]
        self._demand_wh += watts * max(0.0, now - last) / 3600
        if self._demand_start is None:
            self._demand_start = now
        if now - self._demand_start >= period_s:
            average = self._demand_wh * 3600 / (now - self._demand_start)
            self.max_demand_w = max(self.max_demand_w, average)
            self._demand_start, self._demand_wh = now, 0.0

    def tariff(self, now: float) -> int:
        """Tariff 0..3 in force: by quarter of the meter's day."""
        return self.meter_datetime(now).hour // 6

    def meter_datetime(self, now: float) -> dt.datetime:
        """The meter clock (naive local time) at wall time ``now``."""
        return dt.datetime.fromtimestamp(now + self.clock_offset_s).replace(microsecond=0)  # noqa: DTZ006

    # --- blocks -------------------------------------------------------------------------

    def block(self, block: EkmBlock) -> bytes:
        """Return the 255-byte answer to a read of ``block``."""
        now = self.update()
        if block is EkmBlock.V3:
            return codec.encode_block(self._v3(now))
        if block is EkmBlock.V4_A:
            return codec.encode_block(self._v4_a(now))
        return codec.encode_block(self._v4_b(now), kwh_scale=self.kwh_scale)

    def _instant(self, now: float) -> dict[str, Any]:
        """Volts, amps, watts and power factors shared by all blocks."""
        powers = [round(p) for p in self.line_power_w(now)]
        values: dict[str, Any] = {
            "model": self.model,
            "firmware": self.firmware,
            "address": self.address,
            "power_total_w": sum(powers),
        }
        for i in range(3):
            volts = self.voltage_v[i]
            values[f"voltage_ln_{i + 1}_v"] = volts
            values[f"current_ln_{i + 1}_a"] = round(powers[i] / volts, 1) if volts else 0.0
            values[f"power_ln_{i + 1}_w"] = powers[i]
            kind = EkmPowerFactorKind.LEAD if i == 0 else EkmPowerFactorKind.LAG
            pf = 0.87 + 0.01 * i if powers[i] else 1.0
            values[f"power_factor_ln_{i + 1}"] = codec.power_factor(
                pf, kind if powers[i] else EkmPowerFactorKind.NONE
            )
        values["meter_time"] = codec.meter_time(self.meter_datetime(now))
        return values

    def _tariffs(self, scale: int | None = None) -> dict[str, Any]:
        """Tariff registers."""
        values: dict[str, Any] = {}
        for i in range(4):
            values[f"energy_tariff_{i + 1}_wh"] = self._wh(self.tariff_wh[i], scale)
            values[f"reverse_energy_tariff_{i + 1}_wh"] = self._wh(
                sum(self.reverse_energy_wh) if i == 0 else 0.0, scale
            )
        return values

    def _wh(self, wh: float, scale: int | None = None) -> float:
        """Round ``wh`` to what the register can show at the kWh scale."""
        step = 1000 / 10 ** (self.kwh_scale if scale is None else scale)
        return float(math.floor(wh / step) * step)

    def _v3(self, now: float) -> EkmV3Reading:
        """The v3 block."""
        return EkmV3Reading(
            reserved_10="02",
            energy_total_wh=self._wh(sum(self.energy_wh), codec.V3_KWH_SCALE),
            reverse_energy_total_wh=self._wh(sum(self.reverse_energy_wh), codec.V3_KWH_SCALE),
            max_demand_w=round(self.max_demand_w, 1),
            max_demand_period=self.max_demand_period,
            ct_ratio=self.ct_ratio,
            pulse_count_1=int(self.pulse_counts[0]),
            pulse_count_2=int(self.pulse_counts[1]),
            pulse_count_3=int(self.pulse_counts[2]),
            pulse_ratio_1=self.pulse_ratios[0],
            pulse_ratio_2=self.pulse_ratios[1],
            pulse_ratio_3=self.pulse_ratios[2],
            state_inputs=0,
            reserved_11="30" * 19,
            status_code="00",
            reserved_12=codec.BLOCK_TRAILER.hex(),
            crc16="0000",
            **self._instant(now),
            **self._tariffs(codec.V3_KWH_SCALE),
        )

    def _v4_a(self, now: float) -> EkmV4ReadingA:
        """The v4 A block."""
        instant = self._instant(now)
        values: dict[str, Any] = {}
        for i in range(3):
            values[f"energy_ln_{i + 1}_wh"] = self._wh(self.energy_wh[i])
            values[f"reverse_energy_ln_{i + 1}_wh"] = self._wh(self.reverse_energy_wh[i])
            values[f"reactive_power_ln_{i + 1}_var"] = round(instant[f"power_ln_{i + 1}_w"] / 2)
        return EkmV4ReadingA(
            reserved_1="02",
            energy_total_wh=self._wh(sum(self.energy_wh)),
            reactive_energy_total_varh=self._wh(sum(self.energy_wh) / 2),
            reverse_energy_total_wh=self._wh(sum(self.reverse_energy_wh)),
            resettable_energy_wh=self._wh(self.resettable_wh),
            resettable_reverse_energy_wh=self._wh(self.resettable_reverse_wh),
            reactive_power_total_var=sum(values[f"reactive_power_ln_{i}_var"] for i in (1, 2, 3)),
            frequency_hz=round(self.frequency_hz + 0.05 * math.sin(now), 2),
            pulse_count_1=int(self.pulse_counts[0]),
            pulse_count_2=int(self.pulse_counts[1]),
            pulse_count_3=int(self.pulse_counts[2]),
            state_inputs=0,
            state_watts_dir=watts_direction_code(self.reverse_lines),
            state_out=state_out_from_relays(self.relays[0].closed, self.relays[1].closed),
            kwh_scale=self.kwh_scale,
            reserved_2="3030",
            request_type="00",
            reserved_4=codec.BLOCK_TRAILER.hex(),
            crc16="0000",
            **instant,
            **values,
        )

    def _v4_b(self, now: float) -> EkmV4ReadingB:
        """The v4 B block."""
        return EkmV4ReadingB(
            reserved_5="02",
            max_demand_w=round(self.max_demand_w, 1),
            max_demand_period=self.max_demand_period,
            pulse_ratio_1=self.pulse_ratios[0],
            pulse_ratio_2=self.pulse_ratios[1],
            pulse_ratio_3=self.pulse_ratios[2],
            ct_ratio=self.ct_ratio,
            max_demand_reset=self.max_demand_reset,
            pulse_output_ratio=self.pulse_output_ratio,
            reserved_7="30" * 53,
            status_code_a="00",
            status_code_b="00",
            status_code_c="00",
            request_type="01",
            reserved_9=codec.BLOCK_TRAILER.hex(),
            crc16="0000",
            **self._instant(now),
            **self._tariffs(),
        )

    # --- commands -----------------------------------------------------------------------

    def write(self, register: str, data: str) -> bool:  # noqa: C901, PLR0911, PLR0912
        """Apply a write frame's register and data; return whether the meter ACKs it."""
        now = self.update()
        v4 = self.version is EkmVersion.V4
        if register in ("0081", "0082") and v4:
            if len(data) != 5 or not data.isdigit() or data[0] not in "01":
                return False
            relay = self.relays[int(register[3]) - 1]
            relay.closed = data[0] == "1"
            seconds = int(data[1:])
            relay.revert_at = now + seconds if seconds else None
        elif register == "0020":
            if len(data) != 8 or not data.isdigit():
                return False
            self.password = data
        elif register == "0040":
            self.max_demand_w = 0.0
        elif register == "0050":
            if data not in ("1", "2", "3"):
                return False
            self.max_demand_period = int(data)
        elif register == "0060":
            try:
                when = dt.datetime.strptime(data[:6] + data[8:], "%y%m%d%H%M%S")  # noqa: DTZ007
            except ValueError:
                return False
            self.clock_offset_s = when.timestamp() - now
        elif register == "00D0":
            if not data.isdigit() or int(data) not in CT_RATIOS:
                return False
            self.ct_ratio = int(data)
        elif register == "00D2" and v4:
            codes = [int(data[i : i + 2]) for i in range(0, len(data), 2) if data[i : i + 2]]
            if len(data) != 80 or any(c and c not in LCD_ITEMS for c in codes):
                return False
            self.lcd_items = [c for c in codes if c]
        elif register == "00D3" and v4:
            self.resettable_wh = self.resettable_reverse_wh = 0.0
        elif register == "00D4" and v4:
            if not data.isdigit() or int(data) not in PULSE_OUTPUT_RATIOS:
                return False
            self.pulse_output_ratio = int(data)
        elif register == "00D5" and v4:
            if data not in ("0", "1", "2", "3", "4"):
                return False
            self.max_demand_reset = int(data)
        elif register in ("00A0", "00A1", "00A2") and v4:
            if not data.isdigit() or not 1 <= int(data) <= 9999:
                return False
            self.pulse_ratios[int(register[3])] = int(data)
        else:
            return False
        return True

    # --- persistence ---------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The persisted part of the state, JSON-ready."""
        out: dict[str, Any] = {}
        for name in PERSISTED:
            value = getattr(self, name)
            if name == "relays":
                value = [r.closed for r in value]
            out[name] = value
        return out

    def restore(self, saved: dict[str, Any]) -> None:
        """Load persisted settings."""
        for name in PERSISTED:
            if name not in saved:
                continue
            if name == "relays":
                self.relays = [Relay(closed=bool(c)) for c in saved[name]]
            else:
                setattr(self, name, saved[name])
