"""The ``meterlink.dcs_get_readings`` action: readings of a register or virtual meter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ...const import CONF_SYSTEM, DOMAIN
from ...helpers import call_translated
from ...protocols.dcs import DcsFormat, DcsPeriod, DcsSource, DcsStatus, DcsTarget
from ..base import MeterLinkAction
from .const import SYSTEM_KEY

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.util.json import JsonValueType

    from .runtime import DcsRuntime

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_ID: Final = "id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_PERIOD_COUNT: Final = "period_count"
ATTR_PERIOD_TYPE: Final = "period_type"
ATTR_FORMAT: Final = "format"
ATTR_CALIBRATED: Final = "calibrated"
ATTR_INTERPOLATED: Final = "interpolated"
ATTR_DECIMAL_PLACES: Final = "decimal_places"
ATTR_USE_LOCAL_TIME: Final = "use_local_time"
ATTR_SOURCE: Final = "source"
ATTR_LIMIT: Final = "limit"

# The selector shows half_hour (translation keys are snake case); the API's halfHour works too.
HALF_HOUR: Final = "half_hour"

GET_READINGS_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_ID): cv.string,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
        vol.Optional(ATTR_PERIOD_COUNT): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_PERIOD_TYPE, default=HALF_HOUR): vol.In(
            [HALF_HOUR, *(p.value for p in DcsPeriod)]
        ),
        vol.Optional(ATTR_FORMAT): vol.In([f.value for f in DcsFormat]),
        vol.Optional(ATTR_CALIBRATED, default=True): cv.boolean,
        vol.Optional(ATTR_INTERPOLATED, default=True): cv.boolean,
        vol.Optional(ATTR_DECIMAL_PLACES, default=15): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=15)
        ),
        vol.Optional(ATTR_USE_LOCAL_TIME, default=False): cv.boolean,
        vol.Optional(ATTR_SOURCE, default=DcsSource.AUTOMATIC.value): vol.In(
            [s.value for s in DcsSource]
        ),
        vol.Optional(ATTR_LIMIT, default=10_000): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=200_000)
        ),
    }
)


def _runtime(hass: HomeAssistant, entry_id: str) -> DcsRuntime:
    from .runtime import DcsRuntime  # noqa: PLC0415 - avoids an import cycle

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
            translation_placeholders={"title": entry.title, "system": "DCS"},
        )
    if entry.state is not ConfigEntryState.LOADED or not isinstance(entry.runtime_data, DcsRuntime):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry.runtime_data


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


async def async_get_readings(call: ServiceCall) -> ServiceResponse:
    """Return readings with the seed's options (pythondcs ``get_readings``)."""
    data = call.data
    runtime = _runtime(call.hass, data[ATTR_CONFIG_ENTRY_ID])
    try:
        target = DcsTarget.parse(data[ATTR_ID])
    except ValueError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="dcs_invalid_id",
            translation_placeholders={"id": data[ATTR_ID]},
        ) from err
    info = runtime.targets.get(target.wire)
    if info is not None:
        name, unit, instantaneous = info.name, info.unit, info.is_instantaneous
    else:  # not one of the entry's sensors: ask the server what it is
        name, unit, instantaneous = await call_translated(_describe(runtime, target))
    limit: int = data[ATTR_LIMIT]
    rows: list[JsonValueType] = []
    truncated = False
    batches = runtime.client.reading_batches(
        target,
        start=_utc(data.get(ATTR_START)),
        end=_utc(data.get(ATTR_END)),
        period_count=data.get(ATTR_PERIOD_COUNT),
        period=(
            DcsPeriod.HALF_HOUR
            if data[ATTR_PERIOD_TYPE] == HALF_HOUR
            else DcsPeriod(data[ATTR_PERIOD_TYPE])
        ),
        fmt=DcsFormat(data[ATTR_FORMAT]) if ATTR_FORMAT in data else None,
        calibrated=data[ATTR_CALIBRATED],
        interpolated=data[ATTR_INTERPOLATED],
        decimal_places=data[ATTR_DECIMAL_PLACES],
        use_local_time=data[ATTR_USE_LOCAL_TIME],
        source=DcsSource(data[ATTR_SOURCE]),
        instantaneous=instantaneous,
    )

    async def collect() -> None:
        nonlocal truncated
        try:
            async for batch in batches:
                for reading in batch:
                    if len(rows) >= limit:
                        truncated = True
                        return
                    rows.append(
                        {
                            "timestamp": reading.timestamp.isoformat(),
                            "total": reading.total,
                            "period": reading.period,
                            "status": [
                                flag.name.lower()
                                for flag in DcsStatus
                                if flag and flag in reading.status and flag.name
                            ],
                        }
                    )
        except ValueError as err:  # the span breaks the API's rules (raised on first use)
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="dcs_invalid_span",
                translation_placeholders={"error": str(err)},
            ) from err
        finally:
            await batches.aclose()

    await call_translated(collect())
    return {
        "id": target.wire,
        "name": name,
        "unit": unit,
        "count": len(rows),
        "truncated": truncated,
        "readings": rows,
    }


async def _describe(runtime: DcsRuntime, target: DcsTarget) -> tuple[str, str, bool]:
    """Return the name, unit and kind of a register or virtual meter from the server."""
    if target.kind == "register":
        meter, register = await runtime.client.register(target.id)
        return f"{meter.name}: {register.name}", register.unit, register.is_instantaneous
    vm = await runtime.client.virtual_meter(target.id)
    return vm.name, vm.unit, vm.is_instantaneous


ACTIONS: Final = (
    MeterLinkAction(
        name="dcs_get_readings",
        schema=GET_READINGS_SCHEMA,
        handler=async_get_readings,
        supports_response=SupportsResponse.ONLY,
    ),
)
