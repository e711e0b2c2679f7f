"""SCADA actions (PyDataColl's device_call / device_ctrl): read items now, write, send commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
import voluptuous as vol

from ...const import CONF_SYSTEM, DOMAIN
from ..base import MeterLinkAction
from .const import SYSTEM_KEY
from .items import MAX_ITEMS

if TYPE_CHECKING:
    from .items import ScadaItem
    from .runtime import ItemState, ScadaRuntime, Term

ATTR_DEVICE_ID: Final = "device_id"
ATTR_ITEMS: Final = "items"
ATTR_ITEM: Final = "item"
ATTR_VALUE: Final = "value"
ATTR_COMMAND: Final = "command"
MAX_VALUE: Final = 1e15

_ITEM_KEY = vol.All(cv.string, vol.Length(min=1, max=64))


def _fail(key: str, **placeholders: str) -> ServiceValidationError:
    """A translated validation error."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _target(call: ServiceCall) -> tuple[ScadaRuntime, list[Term]]:
    """The loaded channel and the term(s) of a call's device (a term, or the whole channel)."""
    from .runtime import ScadaRuntime  # noqa: PLC0415 - avoids an import cycle

    device_id: str = call.data[ATTR_DEVICE_ID]
    device = dr.async_get(call.hass).async_get(device_id)
    if device is None:
        raise _fail("scada_not_a_device", device_id=device_id)
    for entry_id in device.config_entries:
        entry = call.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.data.get(CONF_SYSTEM) != SYSTEM_KEY:
            continue
        if entry.state is not ConfigEntryState.LOADED or not isinstance(
            entry.runtime_data, ScadaRuntime
        ):
            raise _fail("entry_not_loaded", title=entry.title)
        runtime = entry.runtime_data
        idents = {ident for domain, ident in device.identifiers if domain == DOMAIN}
        if runtime.channel_identifier[1] in idents:
            return runtime, list(runtime.terms)
        for term in runtime.terms:
            if f"{runtime.channel_identifier[1]}_{term.term}" in idents:
                return runtime, [term]
    raise _fail("scada_not_a_device", device_id=device_id)


def _find(terms: list[Term], key: str) -> ScadaItem:
    """An item by key in the call's term(s)."""
    matches = [item for term in terms for item in term.items if item.key == key]
    if len(matches) != 1:
        raise _fail(
            "scada_unknown_item" if not matches else "scada_ambiguous_item",
            item=key,
            device=", ".join(t.name for t in terms),
        )
    return matches[0]


def _response(item: ScadaItem, state: ItemState) -> dict[str, Any]:
    """An item's state as response data."""
    return {"key": item.key, "name": item.name, "term": item.term, "unit": item.unit} | (
        state.as_response()
    )


async def _read_items(call: ServiceCall) -> ServiceResponse:
    """Read items now and return their values with quality and timestamp."""
    runtime, terms = _target(call)
    keys: list[str] | None = call.data.get(ATTR_ITEMS)
    if keys:
        items = [_find(terms, key) for key in list(dict.fromkeys(keys))]
    else:
        items = [item for term in terms for item in term.items]
    from ...helpers import call_translated  # noqa: PLC0415
    from .runtime import ItemState  # noqa: PLC0415 - avoids an import cycle

    states = await call_translated(runtime.async_read(items))
    unknown = ItemState(value=None, quality="unknown", timestamp=None)
    return {ATTR_ITEMS: [_response(item, states.get(item.uid, unknown)) for item in items]}


async def _write_item(call: ServiceCall) -> ServiceResponse:
    """Write a value (register, set-point, coil) and return what the device confirmed."""
    runtime, terms = _target(call)
    item = _find(terms, call.data[ATTR_ITEM])
    if item.platform is not Platform.NUMBER and not (
        item.platform is Platform.SWITCH and isinstance(call.data[ATTR_VALUE], bool)
    ):
        raise _fail("scada_not_writable", item=item.name)
    state = await runtime.async_write(item, call.data[ATTR_VALUE])
    return _response(item, state) | {"confirmed": True}


async def _send_command(call: ServiceCall) -> ServiceResponse:
    """Switch a coil / single or double command on or off; return the confirmation."""
    runtime, terms = _target(call)
    item = _find(terms, call.data[ATTR_ITEM])
    if item.platform is not Platform.SWITCH:
        raise _fail("scada_not_a_command", item=item.name)
    state = await runtime.async_write(item, call.data[ATTR_COMMAND] == "on")
    return _response(item, state) | {"confirmed": True}


_DEVICE: Final[dict[Any, Any]] = {vol.Required(ATTR_DEVICE_ID): cv.string}

ACTIONS: Final = (
    MeterLinkAction(
        name="scada_read_items",
        schema=vol.Schema(
            {
                **_DEVICE,
                vol.Optional(ATTR_ITEMS): vol.All(
                    cv.ensure_list, vol.Length(min=1, max=MAX_ITEMS), [_ITEM_KEY]
                ),
            }
        ),
        handler=_read_items,
        supports_response=SupportsResponse.ONLY,
    ),
    MeterLinkAction(
        name="scada_write_item",
        schema=vol.Schema(
            {
                **_DEVICE,
                vol.Required(ATTR_ITEM): _ITEM_KEY,
                vol.Required(ATTR_VALUE): vol.Any(
                    bool,
                    vol.All(vol.Coerce(float), vol.Range(min=-MAX_VALUE, max=MAX_VALUE)),
                    vol.All(str, vol.Length(max=250)),
                ),
            }
        ),
        handler=_write_item,
        supports_response=SupportsResponse.OPTIONAL,
    ),
    MeterLinkAction(
        name="scada_send_command",
        schema=vol.Schema(
            {
                **_DEVICE,
                vol.Required(ATTR_ITEM): _ITEM_KEY,
                vol.Required(ATTR_COMMAND): vol.In(["on", "off"]),
            }
        ),
        handler=_send_command,
        supports_response=SupportsResponse.OPTIONAL,
    ),
)
