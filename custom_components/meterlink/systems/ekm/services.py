"""EKM actions: timed relay hold, meter clock from Home Assistant's, and the meter settings."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import ServiceCall, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import voluptuous as vol

from ...const import CONF_SYSTEM, DOMAIN
from ...protocols.ekm.codec import MAX_LCD_ITEMS, MAX_PULSE_INPUT_RATIO, MAX_RELAY_SECONDS
from ...protocols.ekm.models import (
    CT_RATIOS,
    LCD_ITEMS,
    PULSE_OUTPUT_RATIOS,
    EkmMaxDemandPeriod,
    EkmMaxDemandReset,
    EkmRelay,
    EkmRelayState,
    EkmVersion,
)
from ..base import MeterLinkAction
from .const import SYSTEM_KEY

if TYPE_CHECKING:
    from ...protocols.ekm.client import EkmMeterRef
    from .runtime import EkmRuntime

ATTR_DEVICE_ID: Final = "device_id"
ATTR_RELAY: Final = "relay"
ATTR_STATE: Final = "state"
ATTR_SECONDS: Final = "seconds"
ATTR_TIME: Final = "time"
ATTR_RATIO: Final = "ratio"
ATTR_LINE: Final = "line"
ATTR_PERIOD: Final = "period"
ATTR_INTERVAL: Final = "interval"
ATTR_ITEMS: Final = "items"

_PERIODS: Final = {
    "15": EkmMaxDemandPeriod.MINUTES_15,
    "30": EkmMaxDemandPeriod.MINUTES_30,
    "60": EkmMaxDemandPeriod.MINUTES_60,
}
_DEVICE: Final = {vol.Required(ATTR_DEVICE_ID): cv.string}

type Handler = Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]
type Command = Callable[[EkmRuntime, EkmMeterRef, dict[str, Any]], Coroutine[Any, Any, Any]]


def _fail(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _target(call: ServiceCall) -> tuple[EkmRuntime, EkmMeterRef]:
    """Return the loaded bus and the meter a call's device is."""
    from .runtime import EkmRuntime  # noqa: PLC0415 - avoids an import cycle

    device_id: str = call.data[ATTR_DEVICE_ID]
    device = dr.async_get(call.hass).async_get(device_id)
    address = None
    if device is not None:
        address = next(
            (
                ident.removeprefix("ekm_")
                for domain, ident in device.identifiers
                if domain == DOMAIN and ident.startswith("ekm_") and not ident.startswith("ekm_bus")
            ),
            None,
        )
    if device is None or address is None:
        raise _fail("ekm_not_a_meter", device_id=device_id)
    for entry_id in device.config_entries:
        entry = call.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.data.get(CONF_SYSTEM) != SYSTEM_KEY:
            continue
        if entry.state is not ConfigEntryState.LOADED or not isinstance(
            entry.runtime_data, EkmRuntime
        ):
            raise _fail("entry_not_loaded", title=entry.title)
        runtime = entry.runtime_data
        if address in runtime.by_address:
            return runtime, runtime.by_address[address].meter
    raise _fail("ekm_not_a_meter", device_id=device_id)


def _action(
    name: str, fields: dict[Any, Any], command: Command, *, v4_only: bool = False
) -> MeterLinkAction:
    """Build an action that runs ``command`` on the call's meter, then re-reads it."""

    async def handler(call: ServiceCall) -> ServiceResponse:
        runtime, meter = _target(call)
        if v4_only and meter.version is not EkmVersion.V4:
            raise _fail("ekm_needs_v4", address=meter.address, action=name)
        await runtime.async_command(meter, command(runtime, meter, dict(call.data)))
        await runtime.by_address[meter.address].async_request_refresh()
        return None

    return MeterLinkAction(name=name, schema=vol.Schema({**_DEVICE, **fields}), handler=handler)


async def _relay_hold(runtime: EkmRuntime, meter: EkmMeterRef, data: dict[str, Any]) -> None:
    state = EkmRelayState.CLOSED if data[ATTR_STATE] == "closed" else EkmRelayState.OPEN
    await runtime.bus.set_relay(
        meter.address,
        EkmRelay(int(data[ATTR_RELAY])),
        state,
        data[ATTR_SECONDS],
        password=runtime.password,
    )


async def _set_time(runtime: EkmRuntime, meter: EkmMeterRef, data: dict[str, Any]) -> None:
    when = data.get(ATTR_TIME)
    if when is None:
        await runtime.bus.sync_time(
            meter.address, meter.version, dt_util.now(), password=runtime.password
        )
        return
    if when.tzinfo is not None:  # the meter shows Home Assistant's local time
        when = dt_util.as_local(when).replace(tzinfo=None)
    await runtime.bus.set_time(meter.address, meter.version, when, password=runtime.password)


ACTIONS: Final = (
    _action(
        "ekm_relay_hold",
        {
            vol.Required(ATTR_RELAY): vol.All(vol.Coerce(int), vol.In([r.value for r in EkmRelay])),
            vol.Optional(ATTR_STATE, default="closed"): vol.In(["closed", "open"]),
            vol.Required(ATTR_SECONDS): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=MAX_RELAY_SECONDS)
            ),
        },
        _relay_hold,
        v4_only=True,
    ),
    _action("ekm_set_time", {vol.Optional(ATTR_TIME): cv.datetime}, _set_time),
    _action(
        "ekm_set_ct_ratio",
        {vol.Required(ATTR_RATIO): vol.All(vol.Coerce(int), vol.In(sorted(CT_RATIOS)))},
        lambda rt, m, d: rt.bus.set_ct_ratio(
            m.address, m.version, d[ATTR_RATIO], password=rt.password
        ),
    ),
    _action(
        "ekm_set_max_demand_period",
        {vol.Required(ATTR_PERIOD): vol.All(cv.string, vol.In(list(_PERIODS)))},
        lambda rt, m, d: rt.bus.set_max_demand_period(
            m.address, m.version, _PERIODS[d[ATTR_PERIOD]], password=rt.password
        ),
    ),
    _action(
        "ekm_reset_max_demand",
        {},
        lambda rt, m, _d: rt.bus.reset_max_demand(m.address, m.version, password=rt.password),
    ),
    _action(
        "ekm_set_max_demand_reset",
        {vol.Required(ATTR_INTERVAL): vol.In([i.name.lower() for i in EkmMaxDemandReset])},
        lambda rt, m, d: rt.bus.set_max_demand_reset(
            m.address, EkmMaxDemandReset[d[ATTR_INTERVAL].upper()], password=rt.password
        ),
        v4_only=True,
    ),
    _action(
        "ekm_set_pulse_output_ratio",
        {vol.Required(ATTR_RATIO): vol.All(vol.Coerce(int), vol.In(sorted(PULSE_OUTPUT_RATIOS)))},
        lambda rt, m, d: rt.bus.set_pulse_output_ratio(
            m.address, d[ATTR_RATIO], password=rt.password
        ),
        v4_only=True,
    ),
    _action(
        "ekm_set_pulse_input_ratio",
        {
            vol.Required(ATTR_LINE): vol.All(vol.Coerce(int), vol.Range(min=1, max=3)),
            vol.Required(ATTR_RATIO): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=MAX_PULSE_INPUT_RATIO)
            ),
        },
        lambda rt, m, d: rt.bus.set_pulse_input_ratio(
            m.address, d[ATTR_LINE], d[ATTR_RATIO], password=rt.password
        ),
        v4_only=True,
    ),
    _action(
        "ekm_reset_resettable_kwh",
        {},
        lambda rt, m, _d: rt.bus.reset_resettable_kwh(m.address, password=rt.password),
        v4_only=True,
    ),
    _action(
        "ekm_set_lcd_items",
        {
            vol.Required(ATTR_ITEMS): vol.All(
                cv.ensure_list,
                vol.Length(min=1, max=MAX_LCD_ITEMS),
                [vol.All(vol.Coerce(int), vol.In(sorted(LCD_ITEMS)))],
            )
        },
        lambda rt, m, d: rt.bus.set_lcd_items(m.address, d[ATTR_ITEMS], password=rt.password),
        v4_only=True,
    ),
)
