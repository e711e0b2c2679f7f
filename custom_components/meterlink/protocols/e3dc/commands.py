"""Request builders: the RSCP items MeterLink sends, grouped so each poll is one frame.

Request shapes follow pye3dc 0.10.0 (``e3dc/_e3dc.py``: ``poll``, ``get_system_info_static``,
``get_battery_data``, ``get_pvi_data``, ``get_powermeter_data``, ``poll_switches``,
``set_switch_onoff``, ``get_power_settings``, ``set_power_limits``, ``get_db_data``,
``get_wallbox_data``, ``sendWallboxRequest``) and the fact sheet section 3; pye3dc sends one
request per round trip, we batch every request of a poll into one frame.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Final

from .codec import RscpItem, container, item
from .tags import RscpTag as T, RscpType

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .models import IdlePeriod

_NONE = RscpType.NONE

# Live values, one frame (fact sheet 3 "Live values"; pye3dc ``poll`` + ``get_system_status``).
LIVE_TAGS: Final = (
    T.INFO_REQ_UTC_TIME,
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
    T.EMS_REQ_SYS_STATUS,
)

# Static identity and ratings (pye3dc ``get_system_info_static`` + ``get_system_info``).
SYSTEM_INFO_TAGS: Final = (
    T.INFO_REQ_SERIAL_NUMBER,
    T.INFO_REQ_MAC_ADDRESS,
    T.INFO_REQ_IP_ADDRESS,
    T.INFO_REQ_SW_RELEASE,
    T.INFO_REQ_PRODUCTION_DATE,
    T.EMS_REQ_INSTALLED_PEAK_POWER,
    T.EMS_REQ_DERATE_AT_PERCENT_VALUE,
    T.EMS_REQ_DERATE_AT_POWER_VALUE,
    T.EMS_REQ_EXT_SRC_AVAILABLE,
    T.EMS_REQ_GET_SYS_SPECS,
)

_BATTERY_CHILDREN: Final = (
    T.BAT_REQ_DEVICE_NAME,
    T.BAT_REQ_RSOC,
    T.BAT_REQ_ASOC,
    T.BAT_REQ_MODULE_VOLTAGE,
    T.BAT_REQ_TERMINAL_VOLTAGE,
    T.BAT_REQ_CURRENT,
    T.BAT_REQ_CHARGE_CYCLES,
    T.BAT_REQ_DCB_COUNT,
    T.BAT_REQ_FCC,
    T.BAT_REQ_RC,
    T.BAT_REQ_DESIGN_CAPACITY,
    T.BAT_REQ_USABLE_CAPACITY,
    T.BAT_REQ_USABLE_REMAINING_CAPACITY,
    T.BAT_REQ_MAX_DCB_CELL_TEMPERATURE,
    T.BAT_REQ_MIN_DCB_CELL_TEMPERATURE,
    T.BAT_REQ_STATUS_CODE,
    T.BAT_REQ_ERROR_CODE,
    T.BAT_REQ_DEVICE_STATE,
    T.BAT_REQ_RSOC_REAL,
    T.BAT_REQ_MAX_CHARGE_CURRENT,
    T.BAT_REQ_MAX_DISCHARGE_CURRENT,
    T.BAT_REQ_TRAINING_MODE,
    T.BAT_REQ_TOTAL_USE_TIME,
    T.BAT_REQ_TOTAL_DISCHARGE_TIME,
)

_POWER_METER_CHILDREN: Final = (
    T.PM_REQ_TYPE,
    T.PM_REQ_ACTIVE_PHASES,
    T.PM_REQ_POWER_L1,
    T.PM_REQ_POWER_L2,
    T.PM_REQ_POWER_L3,
    T.PM_REQ_VOLTAGE_L1,
    T.PM_REQ_VOLTAGE_L2,
    T.PM_REQ_VOLTAGE_L3,
    T.PM_REQ_ENERGY_L1,
    T.PM_REQ_ENERGY_L2,
    T.PM_REQ_ENERGY_L3,
)

_WALLBOX_CHILDREN: Final = (
    T.WB_REQ_EXTERN_DATA_ALG,
    T.WB_REQ_EXTERN_DATA_SUN,
    T.WB_REQ_EXTERN_DATA_NET,
    T.WB_REQ_APP_SOFTWARE,
    T.WB_REQ_KEY_STATE,
    T.WB_REQ_DEVICE_NAME,
)


class HistoryPeriod(IntEnum):
    """History database request tags by period (fact sheet 3 "History database")."""

    DAY = T.DB_REQ_HISTORY_DATA_DAY
    WEEK = T.DB_REQ_HISTORY_DATA_WEEK
    MONTH = T.DB_REQ_HISTORY_DATA_MONTH
    YEAR = T.DB_REQ_HISTORY_DATA_YEAR


class PowerMode(IntEnum):
    """EMS_REQ_SET_POWER_MODE values (fact sheet 3; hacs-e3dc ``set_power_mode``)."""

    NORMAL = 0
    IDLE = 1
    DISCHARGE = 2
    CHARGE = 3
    GRID_CHARGE = 4


class WallboxExtern(IntEnum):
    """Byte index in the 6-byte WB_EXTERN_DATA write array (pye3dc ``sendWallboxRequest``)."""

    SUN_MODE = 0  # 1 = sun mode on, 2 = off
    MAX_CURRENT = 2  # sent with WB_REQ_SET_PARAM_1 (pye3dc set_wallbox_max_charge_current)
    TOGGLE_PHASES = 3  # 1 = toggle 1/3 phases
    TOGGLE_CHARGING = 4  # 1 = start/stop charging
    SCHUKO = 5  # 1 = on, 0 = off


WALLBOX_EXTERN_LENGTH: Final = 6  # pye3dc sendWallboxRequest: bytearray of six bytes


def nones(*tags: int) -> list[RscpItem]:
    """Build plain None-typed requests for ``tags``."""
    return [item(tag) for tag in tags]


def authentication(user: str, password: str) -> RscpItem:
    """Build RSCP_REQ_AUTHENTICATION {USER, PASSWORD} (fact sheet 5, step 3)."""
    return container(
        T.RSCP_REQ_AUTHENTICATION,
        item(T.RSCP_AUTHENTICATION_USER, RscpType.STRING, user),
        item(T.RSCP_AUTHENTICATION_PASSWORD, RscpType.STRING, password),
    )


def live() -> list[RscpItem]:
    """Build the live-values poll."""
    return nones(*LIVE_TAGS)


def system_info() -> list[RscpItem]:
    """Build the static system information poll."""
    return nones(*SYSTEM_INFO_TAGS)


def battery(index: int, *, modules: int = 0) -> RscpItem:
    """Build BAT_REQ_DATA for battery ``index``; BAT_REQ_DCB_INFO (Uint16 = module) per module."""
    return container(
        T.BAT_REQ_DATA,
        item(T.BAT_INDEX, RscpType.UINT16, index),
        *nones(*_BATTERY_CHILDREN),
        *(item(T.BAT_REQ_DCB_INFO, RscpType.UINT16, module) for module in range(modules)),
    )


def inverter(index: int, *, strings: int, phases: int) -> RscpItem:
    """Build PVI_REQ_DATA for inverter ``index``: per-string DC and per-phase AC values."""
    children = [
        item(T.PVI_INDEX, RscpType.UINT16, index),
        *nones(
            T.PVI_REQ_ON_GRID,
            T.PVI_REQ_STATE,
            T.PVI_REQ_TYPE,
            T.PVI_REQ_SERIAL_NUMBER,
            T.PVI_REQ_AC_MAX_PHASE_COUNT,
            T.PVI_REQ_DC_MAX_STRING_COUNT,
            T.PVI_REQ_USED_STRING_COUNT,
        ),
        item(T.PVI_REQ_TEMPERATURE, RscpType.UINT16, 0),
    ]
    for string in range(strings):
        children.extend(
            item(tag, RscpType.UINT16, string)
            for tag in (
                T.PVI_REQ_DC_POWER,
                T.PVI_REQ_DC_VOLTAGE,
                T.PVI_REQ_DC_CURRENT,
                T.PVI_REQ_DC_STRING_ENERGY_ALL,
            )
        )
    for phase in range(phases):
        children.extend(
            item(tag, RscpType.UINT16, phase)
            for tag in (
                T.PVI_REQ_AC_POWER,
                T.PVI_REQ_AC_VOLTAGE,
                T.PVI_REQ_AC_CURRENT,
                T.PVI_REQ_AC_ENERGY_ALL,
            )
        )
    return container(T.PVI_REQ_DATA, *children)


def power_meter(index: int) -> RscpItem:
    """Build PM_REQ_DATA for power meter ``index``."""
    return container(
        T.PM_REQ_DATA, item(T.PM_INDEX, RscpType.UINT16, index), *nones(*_POWER_METER_CHILDREN)
    )


def wallbox(index: int) -> RscpItem:
    """Build WB_REQ_DATA for wallbox ``index`` (status bytes, sun/grid power, key state)."""
    return container(
        T.WB_REQ_DATA, item(T.WB_INDEX, RscpType.UCHAR8, index), *nones(*_WALLBOX_CHILDREN)
    )


SG_READY_OVERALL: Final = 0xFF  # SGR_INDEX of the overall SG-Ready state (hacs-e3dc)


def sg_ready() -> RscpItem:
    """Build SGR_REQ_DATA for the overall SG-Ready state (index 0xFF)."""
    return container(
        T.SGR_REQ_DATA, item(T.SGR_INDEX, RscpType.UINT16, SG_READY_OVERALL), item(T.SGR_REQ_STATE)
    )


def wallbox_settings() -> list[RscpItem]:
    """Build the EMS-side wallbox settings (battery to car, battery before car, SOC limit)."""
    return nones(
        T.EMS_REQ_BATTERY_TO_CAR_MODE,
        T.EMS_REQ_BATTERY_BEFORE_CAR_MODE,
        T.EMS_REQ_GET_WB_DISCHARGE_BAT_UNTIL,
        T.EMS_REQ_GET_WALLBOX_ENFORCE_POWER_ASSIGNMENT,
    )


def wallbox_extern(
    index: int, byte_index: int, value: int, *, request: int = T.WB_REQ_SET_EXTERN
) -> RscpItem:
    """Build a wallbox write: a 6-byte WB_EXTERN_DATA array with one byte set."""
    data = bytearray(WALLBOX_EXTERN_LENGTH)
    data[byte_index] = value
    return container(
        T.WB_REQ_DATA,
        item(T.WB_INDEX, RscpType.UCHAR8, index),
        container(
            request,
            item(T.WB_EXTERN_DATA, RscpType.BYTEARRAY, bytes(data)),
            item(T.WB_EXTERN_DATA_LEN, RscpType.UCHAR8, WALLBOX_EXTERN_LENGTH),
        ),
    )


def set_battery_to_car(enabled: bool) -> RscpItem:
    """Build EMS_REQ_SET_BATTERY_TO_CAR_MODE (UChar8 1/0, pye3dc ``set_battery_to_car_mode``)."""
    return item(T.EMS_REQ_SET_BATTERY_TO_CAR_MODE, RscpType.UCHAR8, 1 if enabled else 0)


def set_ems_wallbox_setting(request: int, value: int) -> RscpItem:
    """Build one EMS wallbox setting write (UChar8): battery before car, SOC limit, enforce."""
    return item(request, RscpType.UCHAR8, value)


def switches() -> list[RscpItem]:
    """Build the smart-home switch list and states request (pye3dc ``poll_switches``)."""
    return nones(T.HA_REQ_DATAPOINT_LIST, T.HA_REQ_ACTUATOR_STATES)


def set_switch(index: int, on: bool) -> RscpItem:
    """Build HA_REQ_COMMAND_ACTUATOR {index, "on"/"off"} (pye3dc ``set_switch_onoff``)."""
    return container(
        T.HA_REQ_COMMAND_ACTUATOR,
        item(T.HA_DATAPOINT_INDEX, RscpType.UINT16, index),
        item(T.HA_REQ_COMMAND, RscpType.STRING, "on" if on else "off"),
    )


def power_settings() -> list[RscpItem]:
    """Build the power settings and manual charge status request."""
    return nones(T.EMS_REQ_GET_POWER_SETTINGS, T.EMS_REQ_GET_MANUAL_CHARGE)


def set_power_settings(
    *,
    limits_used: bool | None = None,
    max_charge_w: int | None = None,
    max_discharge_w: int | None = None,
    discharge_start_w: int | None = None,
    powersave: bool | None = None,
    weather_regulated_charge: bool | None = None,
) -> RscpItem:
    """Build EMS_REQ_SET_POWER_SETTINGS with only the given fields (types as pye3dc sends them)."""
    children: list[RscpItem] = []
    if limits_used is not None:
        children.append(item(T.EMS_POWER_LIMITS_USED, RscpType.BOOL, limits_used))
    for tag, watts in (
        (T.EMS_MAX_CHARGE_POWER, max_charge_w),
        (T.EMS_MAX_DISCHARGE_POWER, max_discharge_w),
        (T.EMS_DISCHARGE_START_POWER, discharge_start_w),
    ):
        if watts is not None:
            children.append(item(tag, RscpType.UINT32, watts))
    if powersave is not None:
        children.append(item(T.EMS_POWERSAVE_ENABLED, RscpType.UCHAR8, int(powersave)))
    if weather_regulated_charge is not None:
        children.append(
            item(
                T.EMS_WEATHER_REGULATED_CHARGE_ENABLED,
                RscpType.UCHAR8,
                int(weather_regulated_charge),
            )
        )
    return container(T.EMS_REQ_SET_POWER_SETTINGS, *children)


def start_manual_charge(energy_wh: int) -> RscpItem:
    """Build EMS_REQ_START_MANUAL_CHARGE (Uint32 Wh; 0 stops)."""
    return item(T.EMS_REQ_START_MANUAL_CHARGE, RscpType.UINT32, energy_wh)


def set_power_mode(mode: PowerMode, power_w: int) -> RscpItem:
    """Build EMS_REQ_SET_POWER {mode, value} (fact sheet 3, hacs-e3dc ``set_power_mode``)."""
    return container(
        T.EMS_REQ_SET_POWER,
        item(T.EMS_REQ_SET_POWER_MODE, RscpType.UCHAR8, int(mode)),
        item(T.EMS_REQ_SET_POWER_VALUE, RscpType.INT32, power_w),
    )


def history(period: HistoryPeriod, *, start: int, interval: int, span: int) -> RscpItem:
    """Build a DB history request (Uint64 unix seconds; interval = span gives one sum)."""
    return container(
        int(period),
        item(T.DB_REQ_HISTORY_TIME_START, RscpType.UINT64, start),
        item(T.DB_REQ_HISTORY_TIME_INTERVAL, RscpType.UINT64, interval),
        item(T.DB_REQ_HISTORY_TIME_SPAN, RscpType.UINT64, span),
    )


def idle_periods() -> list[RscpItem]:
    """Build EMS_REQ_GET_IDLE_PERIODS."""
    return nones(T.EMS_REQ_GET_IDLE_PERIODS)


def set_idle_periods(periods: Iterable[IdlePeriod]) -> RscpItem:
    """Build EMS_REQ_SET_IDLE_PERIODS with the full list (layout of pye3dc set_idle_periods)."""
    u8 = RscpType.UCHAR8
    return container(
        T.EMS_REQ_SET_IDLE_PERIODS,
        *(
            container(
                T.EMS_IDLE_PERIOD,
                item(T.EMS_IDLE_PERIOD_TYPE, u8, p.type),
                item(T.EMS_IDLE_PERIOD_DAY, u8, p.day),
                item(T.EMS_IDLE_PERIOD_ACTIVE, RscpType.BOOL, p.active),
                container(
                    T.EMS_IDLE_PERIOD_START,
                    item(T.EMS_IDLE_PERIOD_HOUR, u8, p.start_hour),
                    item(T.EMS_IDLE_PERIOD_MINUTE, u8, p.start_minute),
                ),
                container(
                    T.EMS_IDLE_PERIOD_END,
                    item(T.EMS_IDLE_PERIOD_HOUR, u8, p.end_hour),
                    item(T.EMS_IDLE_PERIOD_MINUTE, u8, p.end_minute),
                ),
            )
            for p in periods
        ),
    )


def discover_probe(
    *, batteries: int, inverters: int, power_meters: int, wallboxes: int
) -> list[RscpItem]:
    """Build one frame asking every candidate index whether a device answers there."""
    probe = [
        container(T.BAT_REQ_DATA, item(T.BAT_INDEX, RscpType.UINT16, i), item(T.BAT_REQ_DCB_COUNT))
        for i in range(batteries)
    ]
    probe += [
        container(
            T.PVI_REQ_DATA,
            item(T.PVI_INDEX, RscpType.UINT16, i),
            *nones(T.PVI_REQ_TYPE, T.PVI_REQ_USED_STRING_COUNT, T.PVI_REQ_AC_MAX_PHASE_COUNT),
        )
        for i in range(inverters)
    ]
    probe += [
        container(T.PM_REQ_DATA, item(T.PM_INDEX, RscpType.UINT16, i), item(T.PM_REQ_TYPE))
        for i in range(power_meters)
    ]
    probe += [
        container(T.WB_REQ_DATA, item(T.WB_INDEX, RscpType.UCHAR8, i), item(T.WB_REQ_DEVICE_STATE))
        for i in range(wallboxes)
    ]
    return probe
