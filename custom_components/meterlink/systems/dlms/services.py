"""DLMS actions: read and write OBIS attributes, read a load profile, set the meter clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ...const import CONF_SYSTEM, DOMAIN
from ...helpers import call_translated
from ...protocols.dlms.axdr import DataTag
from ...protocols.dlms.client import DlmsAttributeRef
from ...protocols.dlms.errors import DlmsError
from ...protocols.dlms.vendors import vendor_profile
from ..base import MeterLinkAction
from .const import CONF_VENDOR, OBIS_CLOCK, SYSTEM_KEY
from .units import obis_groups

if TYPE_CHECKING:
    from homeassistant.util.json import JsonValueType

    from ...protocols.dlms.client import DlmsClient
    from ...protocols.dlms.models import ReadingValue
    from .runtime import DlmsRuntime

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_OBIS: Final = "obis"
ATTR_CLASS_ID: Final = "class_id"
ATTR_ATTRIBUTE: Final = "attribute"
ATTR_VALUE: Final = "value"
ATTR_DATA_TYPE: Final = "data_type"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_LIMIT: Final = "limit"
ATTR_TIME: Final = "time"
# A clock set counts as confirmed when the meter reads back within this of what was sent.
CLOCK_TOLERANCE: Final = timedelta(seconds=10)

# Data types a value can be written as (Green Book Data CHOICE), with how the text converts.
WRITE_TYPES: Final = {
    "boolean": DataTag.BOOLEAN,
    "integer": DataTag.INTEGER,
    "long": DataTag.LONG,
    "double_long": DataTag.DOUBLE_LONG,
    "long64": DataTag.LONG64,
    "unsigned": DataTag.UNSIGNED,
    "long_unsigned": DataTag.LONG_UNSIGNED,
    "double_long_unsigned": DataTag.DOUBLE_LONG_UNSIGNED,
    "long64_unsigned": DataTag.LONG64_UNSIGNED,
    "enum": DataTag.ENUM,
    "octet_string": DataTag.OCTET_STRING,
    "visible_string": DataTag.VISIBLE_STRING,
}


def _obis(value: Any) -> str:
    text = cv.string(value).strip()
    if not obis_groups(text):
        msg = f"{text!r} is not an OBIS code A.B.C.D.E.F"
        raise vol.Invalid(msg)
    return text


_ENTRY: Final[dict[vol.Marker, Any]] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}
_CLASS: Final = vol.All(vol.Coerce(int), vol.Range(min=1, max=0xFFFF))
_ATTR: Final = vol.All(vol.Coerce(int), vol.Range(min=1, max=0x7F))

READ_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_OBIS): vol.All(cv.ensure_list, [_obis]),
        vol.Optional(ATTR_CLASS_ID, default=3): _CLASS,
        vol.Optional(ATTR_ATTRIBUTE, default=2): _ATTR,
    }
)
WRITE_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_OBIS): _obis,
        vol.Required(ATTR_CLASS_ID): _CLASS,
        vol.Required(ATTR_ATTRIBUTE): _ATTR,
        vol.Required(ATTR_VALUE): cv.string,
        vol.Required(ATTR_DATA_TYPE): vol.In(list(WRITE_TYPES)),
    }
)
PROFILE_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_OBIS): _obis,
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
        vol.Optional(ATTR_LIMIT, default=10_000): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=200_000)
        ),
    }
)
CLOCK_SCHEMA: Final = vol.Schema({**_ENTRY, vol.Optional(ATTR_TIME): cv.datetime})


def _runtime(hass: HomeAssistant, entry_id: str, *, polled: bool = True) -> DlmsRuntime:
    from .runtime import DlmsRuntime  # noqa: PLC0415 - avoids an import cycle

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
            translation_placeholders={"title": entry.title, "system": "DLMS"},
        )
    runtime = entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
    if not isinstance(runtime, DlmsRuntime):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    if polled and runtime.client is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="dlms_push_meter",
            translation_placeholders={"title": entry.title},
        )
    return runtime


def _client(runtime: DlmsRuntime) -> DlmsClient:
    assert runtime.client is not None  # noqa: S101 - _runtime checked it
    return runtime.client


def _meter_time(value: datetime | None) -> datetime:
    """Return ``value`` (or now) as naive local time, the way meters keep their clock."""
    if value is None:
        value = dt_util.now()
    if value.tzinfo is not None:
        value = dt_util.as_local(value)
    return value.replace(tzinfo=None, microsecond=0)


def _json(value: ReadingValue) -> JsonValueType:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


async def async_read_obis(call: ServiceCall) -> ServiceResponse:
    """Read one or many attributes (GET-with-list where the meter allows)."""
    data = call.data
    client = _client(_runtime(call.hass, data[ATTR_CONFIG_ENTRY_ID]))
    refs = [
        DlmsAttributeRef(obis=obis, class_id=data[ATTR_CLASS_ID], attribute=data[ATTR_ATTRIBUTE])
        for obis in data[ATTR_OBIS]
    ]
    results = await call_translated(client.read_many(refs))
    out: list[JsonValueType] = []
    for ref, result in zip(refs, results, strict=True):
        if isinstance(result, DlmsError):
            out.append({"obis": ref.obis, "error": str(result)})
        else:
            out.append(
                {
                    "obis": ref.obis,
                    "value": _json(result.value),
                    "unit": result.unit,
                    "scaler": result.scaler,
                }
            )
    return {"results": out}


def _convert(text: str, tag: DataTag) -> Any:
    """Turn the action's text into the Python value gurux writes as ``tag``."""
    if tag is DataTag.BOOLEAN:
        return cv.boolean(text)
    if tag is DataTag.OCTET_STRING:
        return bytes.fromhex(text.replace(" ", ""))
    if tag is DataTag.VISIBLE_STRING:
        return text
    return int(text, 0)


async def async_write_obis(call: ServiceCall) -> None:
    """Write one attribute."""
    data = call.data
    client = _client(_runtime(call.hass, data[ATTR_CONFIG_ENTRY_ID]))
    tag = WRITE_TYPES[data[ATTR_DATA_TYPE]]
    try:
        value = _convert(data[ATTR_VALUE], tag)
    except (ValueError, vol.Invalid) as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="dlms_invalid_value",
            translation_placeholders={"value": data[ATTR_VALUE], "type": data[ATTR_DATA_TYPE]},
        ) from err
    await call_translated(
        client.write(data[ATTR_OBIS], data[ATTR_CLASS_ID], data[ATTR_ATTRIBUTE], value, tag)
    )


async def async_read_load_profile(call: ServiceCall) -> ServiceResponse:
    """Read load-profile rows between start and end (meter local time)."""
    data = call.data
    runtime = _runtime(call.hass, data[ATTR_CONFIG_ENTRY_ID])
    client = _client(runtime)
    obis = (
        data.get(ATTR_OBIS) or vendor_profile(runtime.entry.data.get(CONF_VENDOR)).load_profile_obis
    )
    start, end = _meter_time(data[ATTR_START]), _meter_time(data[ATTR_END])
    if end <= start:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="dlms_invalid_span",
            translation_placeholders={"start": start.isoformat(), "end": end.isoformat()},
        )
    limit: int = data[ATTR_LIMIT]
    rows: list[JsonValueType] = []
    columns: list[JsonValueType] = []
    truncated = False

    async def collect() -> None:
        nonlocal truncated, columns
        async for row in client.read_profile(obis, start, end):
            if not columns:
                columns = [{"obis": c.obis, "unit": c.unit} for c in row.columns]
            if len(rows) >= limit:
                truncated = True
                break
            rows.append(
                {
                    "timestamp": row.timestamp.isoformat() if row.timestamp else None,
                    "values": [_json(v) for v in row.values],
                }
            )

    await call_translated(collect())
    return {
        "obis": obis,
        "columns": columns,
        "count": len(rows),
        "truncated": truncated,
        "rows": rows,
    }


async def async_set_clock(call: ServiceCall) -> None:
    """Set the meter clock (to Home Assistant's local time by default) and confirm it."""
    data = call.data
    client = _client(_runtime(call.hass, data[ATTR_CONFIG_ENTRY_ID]))
    explicit = data.get(ATTR_TIME)
    when = _meter_time(explicit)
    await call_translated(client.set_clock(when))
    reading = await call_translated(client.read(OBIS_CLOCK, class_id=8, attribute=2))
    expected = when if explicit is not None else _meter_time(None)
    got = reading.value
    if not isinstance(got, datetime) or abs(got.replace(tzinfo=None) - expected) > CLOCK_TOLERANCE:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="dlms_clock_not_confirmed",
            translation_placeholders={"sent": when.isoformat(), "read": str(got)},
        )


ACTIONS: Final = (
    MeterLinkAction(
        name="dlms_read_obis",
        schema=READ_SCHEMA,
        handler=async_read_obis,
        supports_response=SupportsResponse.ONLY,
    ),
    MeterLinkAction(name="dlms_write_obis", schema=WRITE_SCHEMA, handler=async_write_obis),
    MeterLinkAction(
        name="dlms_read_load_profile",
        schema=PROFILE_SCHEMA,
        handler=async_read_load_profile,
        supports_response=SupportsResponse.ONLY,
    ),
    MeterLinkAction(name="dlms_set_clock", schema=CLOCK_SCHEMA, handler=async_set_clock),
)
