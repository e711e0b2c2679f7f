"""E3/DC actions: manual charge, power limits, history, idle periods."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ...const import CONF_SYSTEM, DOMAIN
from ...helpers import call_translated
from ...protocols.e3dc.commands import HistoryPeriod, PowerMode
from ...protocols.e3dc.models import IdlePeriod
from ..base import MeterLinkAction
from .const import MAX_POWER_MODE_DURATION, POWER_MODE_REFRESH, SYSTEM_KEY

if TYPE_CHECKING:
    from ...protocols.e3dc.models import HistoryTotals, PowerSettings
    from .runtime import E3dcRuntime

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_ENERGY: Final = "energy"
ATTR_MAX_CHARGE: Final = "max_charge_power"
ATTR_MAX_DISCHARGE: Final = "max_discharge_power"
ATTR_DISCHARGE_START: Final = "discharge_start_power"
ATTR_POWERSAVE: Final = "powersave"
ATTR_WEATHER: Final = "weather_regulated_charge"
ATTR_REMOVE_LIMITS: Final = "remove_limits"
ATTR_PERIOD: Final = "period"
ATTR_START: Final = "start"
ATTR_TYPE: Final = "type"
ATTR_DAY: Final = "day"
ATTR_ACTIVE: Final = "active"
ATTR_END: Final = "end"
ATTR_MODE: Final = "mode"
ATTR_POWER: Final = "power"
ATTR_DURATION: Final = "duration"

MAX_POWER_W: Final = 100_000  # far above any E3/DC; the device clamps to its own rating
MAX_MANUAL_CHARGE_WH: Final = 100_000
DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
IDLE_TYPES: Final = ("charge", "discharge")  # EMS_IDLE_PERIOD_TYPE 0 / 1 (fact sheet 3)
_WATTS = vol.All(vol.Coerce(int), vol.Range(min=0, max=MAX_POWER_W))

START_MANUAL_CHARGE_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_ENERGY): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=MAX_MANUAL_CHARGE_WH)
        ),
    }
)
SET_POWER_LIMITS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_MAX_CHARGE): _WATTS,
        vol.Optional(ATTR_MAX_DISCHARGE): _WATTS,
        vol.Optional(ATTR_DISCHARGE_START): _WATTS,
        vol.Optional(ATTR_POWERSAVE): cv.boolean,
        vol.Optional(ATTR_WEATHER): cv.boolean,
        vol.Optional(ATTR_REMOVE_LIMITS, default=False): cv.boolean,
    }
)
GET_HISTORY_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_PERIOD, default="day"): vol.In([p.name.lower() for p in HistoryPeriod]),
        vol.Optional(ATTR_START): cv.date,
    }
)
GET_IDLE_PERIODS_SCHEMA: Final = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
SET_IDLE_PERIOD_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_TYPE): vol.In(IDLE_TYPES),
        vol.Required(ATTR_DAY): vol.In(DAYS),
        vol.Optional(ATTR_ACTIVE, default=True): cv.boolean,
        vol.Required(ATTR_START): cv.time,
        vol.Required(ATTR_END): cv.time,
    }
)


def _runtime(hass: HomeAssistant, entry_id: str) -> E3dcRuntime:
    from .runtime import E3dcRuntime  # noqa: PLC0415 - avoids an import cycle

    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.data.get(CONF_SYSTEM) != SYSTEM_KEY:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="wrong_system",
            translation_placeholders={"title": entry.title, "system": "E3/DC"},
        )
    if entry.state is not ConfigEntryState.LOADED or not isinstance(
        entry.runtime_data, E3dcRuntime
    ):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry.runtime_data


def _settings_response(settings: PowerSettings) -> dict[str, Any]:
    return {
        "power_limits_used": settings.power_limits_used,
        "max_charge_power": settings.max_charge_power_w,
        "max_discharge_power": settings.max_discharge_power_w,
        "discharge_start_power": settings.discharge_start_power_w,
        "powersave": settings.powersave_enabled,
        "weather_regulated_charge": settings.weather_regulated_charge_enabled,
    }


def _publish_settings(runtime: E3dcRuntime, settings: PowerSettings) -> None:
    """Show what was written at once (numbers and switches) without waiting for a poll."""
    data = runtime.details.data
    if data is not None:
        runtime.details.async_set_updated_data(
            replace(data, details=replace(data.details, power_settings=settings))
        )


async def async_start_manual_charge(call: ServiceCall) -> ServiceResponse:
    """Start a manual charge of the battery from the grid (0 Wh stops it)."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    energy: int = call.data[ATTR_ENERGY]
    accepted = await call_translated(runtime.client.start_manual_charge(energy))
    if not accepted:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="e3dc_manual_charge_refused",
            translation_placeholders={"energy": str(energy)},
        )
    await runtime.details.async_request_refresh()
    return None


async def async_set_power_limits(call: ServiceCall) -> ServiceResponse:
    """Change any subset of the power settings; the rest stay as they are."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    data = call.data
    changes = {
        "max_charge_w": data.get(ATTR_MAX_CHARGE),
        "max_discharge_w": data.get(ATTR_MAX_DISCHARGE),
        "discharge_start_w": data.get(ATTR_DISCHARGE_START),
        "powersave": data.get(ATTR_POWERSAVE),
        "weather_regulated_charge": data.get(ATTR_WEATHER),
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    remove = data[ATTR_REMOVE_LIMITS]
    limits = {"max_charge_w", "max_discharge_w", "discharge_start_w"}
    if remove and limits & set(changes):
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="e3dc_limits_and_remove"
        )
    if not remove and not changes:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="e3dc_nothing_to_set"
        )
    client = runtime.client
    settings = None
    if remove:
        settings = await call_translated(client.clear_power_limits())
    if changes:
        settings = await call_translated(client.set_power_settings(**changes))
    assert settings is not None  # noqa: S101 - one of the two ran
    _publish_settings(runtime, settings)
    return _settings_response(settings)


def _period_bounds(period: HistoryPeriod, day: date) -> tuple[datetime, datetime]:
    """Return the local start and end of the period that contains ``day``."""
    zone = dt_util.get_default_time_zone()
    if period is HistoryPeriod.DAY:
        first, after = day, day + timedelta(days=1)
    elif period is HistoryPeriod.WEEK:
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    elif period is HistoryPeriod.MONTH:
        first = day.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        first, after = day.replace(month=1, day=1), day.replace(year=day.year + 1, month=1, day=1)
    return (
        datetime.combine(first, time(), tzinfo=zone),
        datetime.combine(after, time(), tzinfo=zone),
    )


def _totals_response(totals: HistoryTotals) -> dict[str, Any]:
    def kwh(value: float | None) -> float | None:
        return None if value is None else round(value / 1000, 3)

    return {
        "solar_production": kwh(totals.solar_production_wh),
        "house_consumption": kwh(totals.house_consumption_wh),
        "grid_import": kwh(totals.grid_import_wh),
        "grid_export": kwh(totals.grid_export_wh),
        "battery_charge": kwh(totals.battery_charge_wh),
        "battery_discharge": kwh(totals.battery_discharge_wh),
        "additional_source": kwh(totals.additional_pm0_wh),
        "autarky": totals.autarky_pct,
        "self_consumption": totals.self_consumption_pct,
    }


async def async_get_history(call: ServiceCall) -> ServiceResponse:
    """Return the energy totals (kWh) of a day, week, month or year from the history database."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    period = HistoryPeriod[call.data[ATTR_PERIOD].upper()]
    day: date = call.data.get(ATTR_START) or dt_util.now().date()
    start, end = _period_bounds(period, day)
    # the current period so far: the database has nothing after today
    tomorrow = dt_util.start_of_local_day() + timedelta(days=1)
    end = min(end, max(tomorrow, start + timedelta(days=1)))
    totals = await call_translated(
        runtime.client.history(
            period, start=int(start.timestamp()), span_s=int((end - start).total_seconds())
        )
    )
    return {
        "period": period.name.lower(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "unit": "kWh",
        **_totals_response(totals),
    }


def _period_response(period: IdlePeriod) -> dict[str, Any]:
    return {
        "type": IDLE_TYPES[period.type] if period.type < len(IDLE_TYPES) else period.type,
        "day": DAYS[period.day] if period.day < len(DAYS) else period.day,
        "active": period.active,
        "start": f"{period.start_hour:02d}:{period.start_minute:02d}",
        "end": f"{period.end_hour:02d}:{period.end_minute:02d}",
    }


async def async_get_idle_periods(call: ServiceCall) -> ServiceResponse:
    """Return the weekly idle periods (no charge / no discharge windows)."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    periods = await call_translated(runtime.client.idle_periods())
    return {"idle_periods": [_period_response(p) for p in periods]}


async def async_set_idle_period(call: ServiceCall) -> ServiceResponse:
    """Set one idle period (kind and weekday), keeping the others; read back."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    start: time = call.data[ATTR_START]
    end: time = call.data[ATTR_END]
    if end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="e3dc_idle_period_order",
            translation_placeholders={"start": start.isoformat(), "end": end.isoformat()},
        )
    period = IdlePeriod(
        type=IDLE_TYPES.index(call.data[ATTR_TYPE]),
        day=DAYS.index(call.data[ATTR_DAY]),
        active=call.data[ATTR_ACTIVE],
        start_hour=start.hour,
        start_minute=start.minute,
        end_hour=end.hour,
        end_minute=end.minute,
    )
    periods = await call_translated(runtime.client.update_idle_period(period))
    return {"idle_periods": [_period_response(p) for p in periods]}


POWER_MODES: Final = {
    "normal": PowerMode.NORMAL,
    "idle": PowerMode.IDLE,
    "discharge": PowerMode.DISCHARGE,
    "charge": PowerMode.CHARGE,
    "grid_charge": PowerMode.GRID_CHARGE,
}
SET_POWER_MODE_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_MODE): vol.In(list(POWER_MODES)),
        vol.Optional(ATTR_POWER, default=0): _WATTS,
        vol.Optional(ATTR_DURATION, default={"hours": 1}): vol.All(
            cv.positive_time_period,
            vol.Range(min=POWER_MODE_REFRESH, max=MAX_POWER_MODE_DURATION),
        ),
    }
)


async def async_set_power_mode(call: ServiceCall) -> ServiceResponse:
    """Force idle, charge, discharge or grid charge for a while (normal ends it)."""
    runtime = _runtime(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    mode = POWER_MODES[call.data[ATTR_MODE]]
    power: int = call.data[ATTR_POWER]
    if mode in (PowerMode.DISCHARGE, PowerMode.CHARGE, PowerMode.GRID_CHARGE) and power <= 0:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="e3dc_power_mode_needs_power",
            translation_placeholders={"mode": call.data[ATTR_MODE]},
        )
    await call_translated(runtime.async_set_power_mode(mode, power, call.data[ATTR_DURATION]))
    return None


ACTIONS: Final = (
    MeterLinkAction(
        name="e3dc_start_manual_charge",
        schema=START_MANUAL_CHARGE_SCHEMA,
        handler=async_start_manual_charge,
    ),
    MeterLinkAction(
        name="e3dc_set_power_limits",
        schema=SET_POWER_LIMITS_SCHEMA,
        handler=async_set_power_limits,
        supports_response=SupportsResponse.OPTIONAL,
    ),
    MeterLinkAction(
        name="e3dc_get_history",
        schema=GET_HISTORY_SCHEMA,
        handler=async_get_history,
        supports_response=SupportsResponse.ONLY,
    ),
    MeterLinkAction(
        name="e3dc_set_power_mode",
        schema=SET_POWER_MODE_SCHEMA,
        handler=async_set_power_mode,
    ),
    MeterLinkAction(
        name="e3dc_get_idle_periods",
        schema=GET_IDLE_PERIODS_SCHEMA,
        handler=async_get_idle_periods,
        supports_response=SupportsResponse.ONLY,
    ),
    MeterLinkAction(
        name="e3dc_set_idle_period",
        schema=SET_IDLE_PERIOD_SCHEMA,
        handler=async_set_idle_period,
        supports_response=SupportsResponse.OPTIONAL,
    ),
)

__all__ = ["ACTIONS"]
