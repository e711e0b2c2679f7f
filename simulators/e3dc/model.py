"""Power-flow model of a simulated E3/DC: PV, house, wallboxes, batteries and grid in balance.

Every call to :meth:`PowerModel.flows` advances the model to the given time. The grid is the
balance: ``pv + additional + grid = house + wallboxes + battery`` holds exactly for every
reading (battery > 0 charges, grid > 0 imports). The battery follows the EMS settings: power
limits, discharge start power, power-save, manual charge, forced power modes, SOC bounds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

HOUSE_BASE_W = 350.0
SWITCH_LOAD_W = 150.0  # each smart-home switch that is on adds this load
WALLBOX_VOLTAGE_V = 230.0
WALLBOX_MIN_CURRENT_A = 6
BATTERY_VOLTAGE_V = 52.0
HISTORY_STEP_S = 900  # history totals are integrated in 15-minute steps
WEATHER_HOLD_UNTIL_H = 12  # weather-regulated charge: no charging before noon (UTC) ...
WEATHER_HOLD_MIN_SOC = 30.0  # ... unless the battery is below this SOC


@dataclass
class SwitchState:
    """A smart-home actuator."""

    index: int
    name: str
    type: int = 1
    on: bool = False


@dataclass
class WallboxState:
    """A wallbox and the car on it."""

    index: int
    name: str
    plugged: bool = True
    charging: bool = True
    sun_mode: bool = True
    phases: int = 3
    max_current_a: int = 16
    schuko_on: bool = False
    energy_solar_wh: float = 0.0
    energy_grid_wh: float = 0.0
    car_soc_pct: int = 40


def _default_switches() -> list[SwitchState]:
    """Three smart-home actuators, one of them on."""
    return [
        SwitchState(index=1, name="Heat pump"),
        SwitchState(index=2, name="Pool pump", on=True),
        SwitchState(index=5, name="Garage light"),
    ]


def _default_wallboxes() -> list[WallboxState]:
    """One wallbox with a car plugged in (pass ``wallboxes=[]`` for none)."""
    return [WallboxState(index=0, name="Garage")]


@dataclass
class Settings:
    """Everything a user can change; persisted as JSON when a state file is given."""

    power_limits_used: bool = False
    max_charge_w: int = 4500
    max_discharge_w: int = 4500
    discharge_start_w: int = 65
    powersave: bool = True
    weather_regulated_charge: bool = False
    battery_to_car: bool = False
    battery_before_car: bool = True
    wb_discharge_bat_until: int = 80
    wb_enforce_power_assignment: bool = False
    manual_charge_wh: float = 0.0
    manual_charge_done_wh: float = 0.0
    manual_charge_start: int = 0
    power_mode: int = 0
    power_mode_value: int = 0
    power_mode_until: float = 0.0
    idle_periods: list[dict[str, int | bool]] = field(default_factory=list)
    switches: list[dict[str, Any]] = field(default_factory=list)
    wallboxes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Flows:
    """One reading of the power flows (W) and the state of charge (%)."""

    pv_w: float
    additional_w: float
    house_w: float
    wallbox_w: float
    wallbox_solar_w: float
    battery_w: float
    grid_w: float
    soc_pct: float
    per_wallbox_w: tuple[tuple[float, float], ...]  # (solar, grid) per wallbox


@dataclass
class PowerModel:
    """The simulated plant: sizes, state, settings and the flow computation."""

    pv_peak_w: float = 9000.0
    strings_per_inverter: int = 2
    inverters: int = 1
    battery_count: int = 2
    battery_capacity_wh: float = 13800.0
    max_battery_power_w: int = 4500
    additional_w: float = 0.0
    soc_pct: float = 50.0
    state_path: Path | None = None
    settings: Settings = field(default_factory=Settings)
    switches: list[SwitchState] = field(default_factory=_default_switches)
    wallboxes: list[WallboxState] = field(default_factory=_default_wallboxes)
    last_time: float | None = None
    battery_charged_wh: float = 0.0
    battery_discharged_wh: float = 0.0
    battery_cycles: int = 123
    _last_flows: tuple[float, list[tuple[float, float]]] | None = None

    def __post_init__(self) -> None:
        """Load persisted settings."""
        self.load()

    # ------------------------------------------------------------------ persistence

    def load(self) -> None:
        """Read settings from the state file, if any."""
        if self.state_path is None or not self.state_path.exists():
            return
        data = json.loads(self.state_path.read_text(encoding="utf-8"))
        self.settings = Settings(**data.get("settings", {}))
        self.soc_pct = float(data.get("soc_pct", self.soc_pct))
        on = {s["index"]: s["on"] for s in self.settings.switches}
        for switch in self.switches:
            switch.on = bool(on.get(switch.index, switch.on))
        saved = {w["index"]: w for w in self.settings.wallboxes}
        for box in self.wallboxes:
            for key, value in saved.get(box.index, {}).items():
                setattr(box, key, value)

    def save(self) -> None:
        """Write settings (and switch/wallbox choices) to the state file, if any."""
        if self.state_path is None:
            return
        self.settings.switches = [{"index": s.index, "on": s.on} for s in self.switches]
        self.settings.wallboxes = [
            {
                "index": w.index,
                "sun_mode": w.sun_mode,
                "phases": w.phases,
                "max_current_a": w.max_current_a,
                "charging": w.charging,
                "schuko_on": w.schuko_on,
            }
            for w in self.wallboxes
        ]
        data = {"settings": asdict(self.settings), "soc_pct": self.soc_pct}
        self.state_path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    # ------------------------------------------------------------------ curves

    def pv_at(self, t: float) -> float:
        """PV production: a sine over the day (06:00-18:00 UTC) with passing clouds."""
        hour = (t % 86400) / 3600
        if not 6 <= hour <= 18:
            return 0.0
        sun = math.sin(math.pi * (hour - 6) / 12)
        clouds = 0.85 + 0.15 * math.sin(t / 600)
        return round(self.pv_peak_w * sun * clouds)

    def house_at(self, t: float) -> float:
        """House load: base, a daily pattern, and switched loads."""
        hour = (t % 86400) / 3600
        daily = 250 * (1 + math.sin(math.pi * (hour - 14) / 12))
        switched = sum(SWITCH_LOAD_W for s in self.switches if s.on)
        return round(HOUSE_BASE_W + daily + switched)

    def wallbox_demand(self, box: WallboxState, surplus_w: float) -> tuple[float, float]:
        """Return (solar, grid) power drawn by one wallbox."""
        if not (box.plugged and box.charging):
            return 0.0, 0.0
        volts = WALLBOX_VOLTAGE_V * box.phases
        full = box.max_current_a * volts
        minimum = WALLBOX_MIN_CURRENT_A * volts
        if box.sun_mode:
            solar = min(max(surplus_w, 0.0), full)
            return (round(solar), 0.0) if solar >= minimum else (0.0, 0.0)
        solar = min(max(surplus_w, 0.0), full)
        return round(solar), round(full - solar)

    # ------------------------------------------------------------------ battery

    def charge_limit_w(self) -> float:
        """Maximum charge power allowed now (settings and SOC)."""
        limit = float(self.max_battery_power_w)
        if self.settings.power_limits_used:
            limit = min(limit, self.settings.max_charge_w)
        if self.waiting_for_weather:
            limit = 0.0
        return 0.0 if self.soc_pct >= 100.0 else limit

    @property
    def waiting_for_weather(self) -> bool:
        """Weather-regulated charge holds charging until noon while SOC is above 30 %."""
        hour = ((self.last_time or 0.0) % 86400) / 3600
        return (
            self.settings.weather_regulated_charge
            and hour < WEATHER_HOLD_UNTIL_H
            and self.soc_pct > WEATHER_HOLD_MIN_SOC
        )

    def discharge_limit_w(self) -> float:
        """Maximum discharge power allowed now (settings and SOC)."""
        limit = float(self.max_battery_power_w)
        if self.settings.power_limits_used:
            limit = min(limit, self.settings.max_discharge_w)
        return 0.0 if self.soc_pct <= 0.0 else limit

    def battery_target(self, t: float, surplus_w: float) -> tuple[float, bool]:  # noqa: PLR0911
        """Battery power for a surplus (>0) or deficit (<0); True if it may draw from grid."""
        s = self.settings
        if s.power_mode and t < s.power_mode_until:
            mode, value = s.power_mode, float(s.power_mode_value)
            if mode == 1:  # idle
                return 0.0, False
            if mode == 2:  # discharge
                return -min(value, self.discharge_limit_w()), False
            return min(value, self.charge_limit_w()), mode == 4
        if s.manual_charge_wh > s.manual_charge_done_wh:
            return self.charge_limit_w(), True
        if surplus_w >= 0:
            return min(surplus_w, self.charge_limit_w()), False
        if -surplus_w < s.discharge_start_w:
            return 0.0, False
        return -min(-surplus_w, self.discharge_limit_w()), False

    # ------------------------------------------------------------------ stepping

    def flows(self, t: float) -> Flows:
        """Advance to time ``t`` and return the power flows there."""
        self._advance(t)
        pv = self.pv_at(t)
        house = self.house_at(t)
        add = self.additional_w
        surplus = pv + add - house
        battery_first = self.settings.battery_before_car
        battery = 0.0
        if battery_first:
            battery, _grid_ok = self.battery_target(t, surplus)
            battery = round(battery)
            surplus -= max(battery, 0.0)
        per_box = []
        for box in self.wallboxes:
            solar, grid = self.wallbox_demand(box, surplus)
            surplus -= solar
            per_box.append((solar, grid))
        wallbox = sum(a + b for a, b in per_box)
        wallbox_solar = sum(a for a, _ in per_box)
        if not battery_first:
            battery, _grid_ok = self.battery_target(t, surplus)
            battery = round(battery)
        grid = house + wallbox + battery - pv - add
        self._last_flows = (battery, per_box)
        return Flows(
            pv_w=pv,
            additional_w=add,
            house_w=house,
            wallbox_w=wallbox,
            wallbox_solar_w=wallbox_solar,
            battery_w=battery,
            grid_w=grid,
            soc_pct=self.soc_pct,
            per_wallbox_w=tuple(per_box),
        )

    def _advance(self, t: float) -> None:
        """Integrate SOC and energy counters from the last reading (at its flows) up to ``t``."""
        previous = self.last_time
        self.last_time = t
        if previous is None or t <= previous or self._last_flows is None:
            return
        battery_w, per_box = self._last_flows
        hours = (t - previous) / 3600
        energy = battery_w * hours
        self.soc_pct = min(100.0, max(0.0, self.soc_pct + 100 * energy / self.battery_capacity_wh))
        if energy > 0:
            self.battery_charged_wh += energy
            s = self.settings
            if s.manual_charge_wh > s.manual_charge_done_wh:
                s.manual_charge_done_wh = min(s.manual_charge_wh, s.manual_charge_done_wh + energy)
        else:
            self.battery_discharged_wh -= energy
        for box, (solar, grid) in zip(self.wallboxes, per_box, strict=True):
            box.energy_solar_wh += solar * hours
            box.energy_grid_wh += grid * hours

    def history(self, start: int, span: int, now: float | None = None) -> dict[str, float]:
        """Energy totals (Wh) over ``[start, start + span)`` up to ``now``, without SOC limits."""
        totals = dict.fromkeys(
            ("pv", "house", "bat_in", "bat_out", "grid_in", "grid_out", "pm0", "pm1"), 0.0
        )
        step = min(HISTORY_STEP_S, max(span, 1))
        t = float(start)
        end = start + span if now is None else min(start + span, now)
        while t < end:
            dt = min(step, end - t)
            hours = dt / 3600
            pv, house = self.pv_at(t), self.house_at(t)
            surplus = pv + self.additional_w - house
            battery = (
                min(surplus, self.max_battery_power_w)
                if surplus >= 0
                else -min(-surplus, self.max_battery_power_w)
            )
            grid = house + battery - pv - self.additional_w
            totals["pv"] += pv * hours
            totals["house"] += house * hours
            totals["bat_in" if battery > 0 else "bat_out"] += abs(battery) * hours
            totals["grid_out" if grid > 0 else "grid_in"] += abs(grid) * hours
            totals["pm0"] += self.additional_w * hours
            t += dt
        consumption = totals["house"]
        imported = totals["grid_out"]
        totals["autarky"] = 100.0 * (1 - imported / consumption) if consumption else 0.0
        exported = totals["grid_in"]
        totals["self_consumption"] = 100.0 * (1 - exported / totals["pv"]) if totals["pv"] else 0.0
        totals["soc"] = self.soc_pct
        return totals
