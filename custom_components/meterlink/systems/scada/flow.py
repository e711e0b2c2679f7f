"""Config, reconfigure and options flows of a SCADA channel, and the term subentry flow.

A config entry is one channel (a Modbus TCP endpoint, an RTU gateway or serial port, or an
IEC 104 outstation). Its terms (Modbus units / IEC 104 stations) are config subentries whose
flow adds, edits and removes items, imports a pasted point list, and starts from a device
template (the UI form of PyDataColl's device / term / item CRUD).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from homeassistant.config_entries import ConfigFlow, ConfigSubentryFlow, OptionsFlow
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TemplateSelector,
    TextSelector,
    TextSelectorConfig,
)
import voluptuous as vol

from ...const import CONF_CAPTURE_FRAMES, CONF_SYSTEM
from ...helpers import async_list_serial_ports, normalise_serial_url
from ...protocols.errors import (
    MeterLinkConnectionError,
    MeterLinkTimeoutError,
)
from ...protocols.iec104.errors import Iec104Error
from ...protocols.iec104.models import MAX_COMMON_ADDRESS, MAX_IOA
from ...protocols.iec104.pointlist import TYPE_NAMES
from ...protocols.modbus.errors import ModbusError
from ...protocols.modbus.models import MAX_UNIT_ID, ByteOrder, DataType, Table, WordOrder
from .const import (
    BAUDRATES,
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_HOST,
    CONF_ITEMS,
    CONF_MAX_GAP,
    CONF_MAX_REGISTERS,
    CONF_NAME,
    CONF_PARITY,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_SERIAL_PORT,
    CONF_STOPBITS,
    CONF_TEMPLATE,
    CONF_TERM,
    DEFAULT_IEC104_INTERVAL,
    DEFAULT_MAX_GAP,
    DEFAULT_MAX_REGISTERS,
    DEFAULT_MODBUS_INTERVAL,
    DEFAULT_PORTS,
    MAX_GAP,
    MIN_SCAN_INTERVAL,
    PARITIES,
    SUBENTRY_TERM,
    SYSTEM_KEY,
    Protocol,
)
from .items import (
    BINARY_DEVICE_CLASSES,
    MAX_ITEMS,
    SENSOR_DEVICE_CLASSES,
    STATE_CLASSES,
    ItemError,
    import_point_list,
    validate_item,
)
from .runtime import build_iec104_client, build_modbus_client
from .templates import TEMPLATES, load_template, templates_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigFlowResult, SubentryFlowResult
    from homeassistant.core import HomeAssistant

_TITLES: Final = {
    Protocol.MODBUS_TCP: "Modbus TCP",
    Protocol.MODBUS_RTU_OVER_TCP: "Modbus RTU over TCP",
    Protocol.MODBUS_RTU_SERIAL: "Modbus RTU",
    Protocol.IEC104: "IEC 104",
}
NO_TEMPLATE: Final = "none"
CONF_TEXT: Final = "text"
CONF_SKIP_BAD_ROWS: Final = "skip_bad_rows"
CONF_REPLACE: Final = "replace"
CONF_ITEM: Final = "item"
CONF_KEYS: Final = "keys"
_NUMBER_FIELDS: Final = ("scale", "offset", "min", "max", "max_rate", "stale_timeout")
_INT_FIELDS: Final = ("address", "ioa", "count", "bit", "precision")
_REPORT_LINES: Final = 20
# shown through a placeholder: braces in a translation are read as placeholders by the frontend
FORMULA_EXAMPLE: Final = "{{ items.power_l1 + items.power_l2 }}"


class ScadaFlowError(Exception):
    """A failed check in a flow: the form error key, the field and what to show in {error}."""

    def __init__(self, key: str, detail: str = "", field: str = "base") -> None:
        """Store the error key and where to show it."""
        super().__init__(detail)
        self.key = key
        self.field = field

    def errors(self) -> dict[str, str]:
        """Return the form errors."""
        return {self.field: self.key}


def _connection_error(err: Exception) -> ScadaFlowError:
    """Translate a failed connection test into a form error."""
    if isinstance(err, MeterLinkTimeoutError):
        return ScadaFlowError("timeout", str(err))
    if isinstance(err, MeterLinkConnectionError | OSError):
        return ScadaFlowError("cannot_connect", str(err))
    return ScadaFlowError("scada_bad_answer", str(err))


async def probe_channel(data: Mapping[str, Any]) -> None:
    """Open the channel once (TCP connect / serial open; STARTDT for IEC 104) and close it."""
    protocol = Protocol(data[CONF_PROTOCOL])
    try:
        if protocol.is_modbus:
            async with build_modbus_client(data, None):
                pass
        else:
            async with build_iec104_client(data):
                pass
    except (ModbusError, Iec104Error, OSError) as err:
        raise _connection_error(err) from err


def channel_unique_id(data: Mapping[str, Any]) -> str:
    """Unique id of a channel: protocol and endpoint."""
    protocol = Protocol(data[CONF_PROTOCOL])
    if protocol.is_serial:
        return f"{protocol.value}:{data[CONF_SERIAL_PORT]}"
    return f"{protocol.value}:{str(data[CONF_HOST]).lower()}:{data[CONF_PORT]}"


def channel_title(data: Mapping[str, Any]) -> str:
    """Title of a channel entry."""
    protocol = Protocol(data[CONF_PROTOCOL])
    if protocol.is_serial:
        return f"{_TITLES[protocol]} {str(data[CONF_SERIAL_PORT]).removeprefix('socket://')}"
    return f"{_TITLES[protocol]} {data[CONF_HOST]}:{data[CONF_PORT]}"


def _box(
    low: float, high: float, step: float | Literal["any"] = 1, unit: str | None = None
) -> NumberSelector:
    """A number box."""
    config = NumberSelectorConfig(min=low, max=high, step=step, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _select(options: list[str] | list[SelectOptionDict], *, custom: bool = False) -> SelectSelector:
    """A drop-down."""
    return SelectSelector(
        SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN, custom_value=custom)
    )


def _tcp_schema(protocol: Protocol) -> vol.Schema:
    """Host and port of a TCP channel."""
    return vol.Schema(
        {
            vol.Required(CONF_HOST): TextSelector(),
            vol.Required(CONF_PORT, default=DEFAULT_PORTS[protocol]): _box(1, 65535),
        }
    )


async def _serial_schema(hass: HomeAssistant) -> vol.Schema:
    """Serial port (or socket:// bridge) and line settings."""
    ports = await async_list_serial_ports(hass)
    return vol.Schema(
        {
            vol.Required(CONF_SERIAL_PORT): _select(
                [SelectOptionDict(value=p.path, label=p.label) for p in ports], custom=True
            ),
            vol.Required(CONF_BAUDRATE, default="9600"): _select([str(b) for b in BAUDRATES]),
            vol.Required(CONF_BYTESIZE, default="8"): _select(["7", "8"]),
            vol.Required(CONF_PARITY, default="N"): _select(list(PARITIES)),
            vol.Required(CONF_STOPBITS, default="1"): _select(["1", "2"]),
        }
    )


def _channel_data(protocol: Protocol, user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Entry data from a channel form; raise ScadaFlowError for a bad port or host."""
    data: dict[str, Any] = {CONF_SYSTEM: SYSTEM_KEY, CONF_PROTOCOL: protocol.value}
    if protocol.is_serial:
        try:
            data[CONF_SERIAL_PORT] = normalise_serial_url(str(user_input[CONF_SERIAL_PORT]))
        except ValueError as err:
            raise ScadaFlowError("invalid_port", str(err), CONF_SERIAL_PORT) from err
        data[CONF_BAUDRATE] = int(user_input[CONF_BAUDRATE])
        data[CONF_BYTESIZE] = int(user_input[CONF_BYTESIZE])
        data[CONF_PARITY] = str(user_input[CONF_PARITY])
        data[CONF_STOPBITS] = int(user_input[CONF_STOPBITS])
        return data
    host = str(user_input[CONF_HOST]).strip()
    if not host or any(c in host for c in "/ ?#@"):
        raise ScadaFlowError("invalid_host", repr(host), CONF_HOST)
    data[CONF_HOST] = host
    data[CONF_PORT] = int(user_input[CONF_PORT])
    return data


def _default_interval(protocol: Protocol) -> int:
    """Default poll / interrogation interval in seconds."""
    interval = DEFAULT_MODBUS_INTERVAL if protocol.is_modbus else DEFAULT_IEC104_INTERVAL
    return int(interval.total_seconds())


class ScadaFlowMixin(ConfigFlow):
    """The SCADA steps of MeterLink's config flow."""

    async def async_step_scada(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the protocol of the channel."""
        return self.async_show_menu(
            step_id="scada", menu_options=[f"scada_{p.value}" for p in Protocol]
        )

    async def async_step_scada_modbus_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A Modbus TCP device or gateway."""
        return await self._scada_channel(Protocol.MODBUS_TCP, user_input)

    async def async_step_scada_modbus_rtu_over_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A transparent TCP gateway to an RS-485 bus (RTU frames over TCP)."""
        return await self._scada_channel(Protocol.MODBUS_RTU_OVER_TCP, user_input)

    async def async_step_scada_modbus_rtu_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """An RS-485 bus on a local serial port (or a socket:// bridge)."""
        return await self._scada_channel(Protocol.MODBUS_RTU_SERIAL, user_input)

    async def async_step_scada_iec104(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """An IEC 60870-5-104 outstation."""
        return await self._scada_channel(Protocol.IEC104, user_input)

    async def _scada_channel(
        self, protocol: Protocol, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Ask for the endpoint, test it, create the entry (terms are added as subentries)."""
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            try:
                data = _channel_data(protocol, user_input)
                await self.async_set_unique_id(channel_unique_id(data))
                self._abort_if_unique_id_configured()
                await probe_channel(data)
            except ScadaFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                return self.async_create_entry(
                    title=channel_title(data),
                    data=data,
                    options={
                        CONF_SCAN_INTERVAL: _default_interval(protocol),
                        CONF_MAX_REGISTERS: DEFAULT_MAX_REGISTERS,
                        CONF_MAX_GAP: DEFAULT_MAX_GAP,
                        CONF_CAPTURE_FRAMES: False,
                    },
                )
        schema = await _serial_schema(self.hass) if protocol.is_serial else _tcp_schema(protocol)
        return self.async_show_form(
            step_id=f"scada_{protocol.value}",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"error": detail},
        )

    async def async_step_scada_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the channel to another host/port or serial port; it must answer there."""
        entry = self._get_reconfigure_entry()
        protocol = Protocol(entry.data[CONF_PROTOCOL])
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            try:
                data = _channel_data(protocol, user_input)
                unique_id = channel_unique_id(data)
                for other in self._async_current_entries(include_ignore=False):
                    if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                        return self.async_abort(reason="already_configured")
                await probe_channel(data)
            except ScadaFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=unique_id,
                    title=channel_title(data),
                    data=data,
                    reason="reconfigure_successful",
                )
        step = "scada_reconfigure_serial" if protocol.is_serial else "scada_reconfigure_tcp"
        schema = await _serial_schema(self.hass) if protocol.is_serial else _tcp_schema(protocol)
        current = {k: str(v) if k != CONF_PORT else v for k, v in entry.data.items()}
        return self.async_show_form(
            step_id=step,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            errors=errors,
            description_placeholders={"title": entry.title, "error": detail},
        )

    async def async_step_scada_reconfigure_tcp(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The reconfigure form of a TCP channel."""
        return await self.async_step_scada_reconfigure(user_input)

    async def async_step_scada_reconfigure_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The reconfigure form of a serial channel."""
        return await self.async_step_scada_reconfigure(user_input)


class ScadaOptionsFlow(OptionsFlow):
    """Poll interval, request size, gap bridging and frame capture."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the SCADA settings under their own step name."""
        return await self.async_step_scada_options()

    async def async_step_scada_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the settings (the entry reloads)."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                    CONF_MAX_REGISTERS: int(user_input[CONF_MAX_REGISTERS]),
                    CONF_MAX_GAP: int(user_input[CONF_MAX_GAP]),
                    CONF_CAPTURE_FRAMES: bool(user_input[CONF_CAPTURE_FRAMES]),
                }
            )
        options = self.config_entry.options
        protocol = Protocol(self.config_entry.data[CONF_PROTOCOL])
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(CONF_SCAN_INTERVAL, _default_interval(protocol)),
                ): _box(MIN_SCAN_INTERVAL, 86400, unit="s"),
                vol.Required(
                    CONF_MAX_REGISTERS,
                    default=options.get(CONF_MAX_REGISTERS, DEFAULT_MAX_REGISTERS),
                ): _box(1, DEFAULT_MAX_REGISTERS),
                vol.Required(
                    CONF_MAX_GAP, default=options.get(CONF_MAX_GAP, DEFAULT_MAX_GAP)
                ): _box(0, MAX_GAP),
                vol.Required(
                    CONF_CAPTURE_FRAMES, default=options.get(CONF_CAPTURE_FRAMES, False)
                ): BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="scada_options", data_schema=schema)


# --- terms (subentries) -------------------------------------------------------------------------


def _optional_number(name: str, low: float = -1e12, high: float = 1e12) -> dict[Any, Any]:
    """An optional free number field."""
    return {vol.Optional(name): _box(low, high, step="any")}


def _item_schema(protocol: Protocol, *, with_key: bool) -> vol.Schema:
    """The form of a protocol item."""
    fields: dict[Any, Any] = {}
    if with_key:
        fields[vol.Required("key")] = TextSelector()
    fields[vol.Optional("name")] = TextSelector()
    if protocol.is_modbus:
        fields.update(
            {
                vol.Required("table", default=Table.HOLDING_REGISTER.value): _select(
                    [t.value for t in Table]
                ),
                vol.Required("address"): _box(0, 65535),
                vol.Required("data_type", default=DataType.UINT16.value): _select(
                    [t.value for t in DataType]
                ),
                vol.Optional("count"): _box(1, 125),
                vol.Optional("bit"): _box(0, 15),
                vol.Required("byte_order", default=ByteOrder.BIG.value): _select(
                    [o.value for o in ByteOrder]
                ),
                vol.Required("word_order", default=WordOrder.BIG.value): _select(
                    [o.value for o in WordOrder]
                ),
                vol.Required("writable", default=False): BooleanSelector(),
            }
        )
    else:
        names = sorted(name for name in TYPE_NAMES if not name.isdigit() and "_" in name)
        fields.update(
            {
                vol.Required("type", default="float"): _select(
                    sorted({*names, "float", "normalized", "scaled", "single", "double", "counter"})
                ),
                vol.Required("ioa"): _box(0, MAX_IOA),
                vol.Required("select_before_operate", default=False): BooleanSelector(),
            }
        )
    fields[vol.Required("scale", default=1.0)] = _box(-1e9, 1e9, step="any")
    fields[vol.Required("offset", default=0.0)] = _box(-1e9, 1e9, step="any")
    fields.update(_ha_fields())
    return vol.Schema(fields)


def _ha_fields() -> dict[Any, Any]:
    """Home Assistant and data check fields shared by every item form."""
    fields: dict[Any, Any] = {
        vol.Optional("precision"): _box(0, 15),
        vol.Optional("unit"): TextSelector(),
        vol.Optional("device_class"): _select(
            sorted({*SENSOR_DEVICE_CLASSES, *BINARY_DEVICE_CLASSES, "outlet", "switch"})
        ),
        vol.Optional("state_class"): _select(list(STATE_CLASSES)),
    }
    fields.update(_optional_number("min"))
    fields.update(_optional_number("max"))
    fields.update(_optional_number("max_rate", 0))
    fields.update(_optional_number("stale_timeout", 0, 86400 * 7))
    return fields


def _formula_schema(*, with_key: bool) -> vol.Schema:
    """The form of a formula item."""
    fields: dict[Any, Any] = {}
    if with_key:
        fields[vol.Required("key")] = TextSelector()
    fields[vol.Optional("name")] = TextSelector()
    fields[vol.Required("formula")] = TemplateSelector()
    fields.update(_ha_fields())
    return vol.Schema(fields)


def _cells(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Stored item from a form: whole numbers as ints, empty fields left out."""
    cells: dict[str, Any] = {}
    for name, value in user_input.items():
        if value is None or value == "":
            continue
        if name in _INT_FIELDS and isinstance(value, float):
            cells[name] = int(value) if value.is_integer() else value
        elif name in _NUMBER_FIELDS:
            cells[name] = float(value)
        elif isinstance(value, str):
            cells[name] = value.strip()
        else:
            cells[name] = value
    return cells


class ScadaTermSubentryFlow(ConfigSubentryFlow):
    """Add a term (from a template or empty); edit its items, import a point list."""

    _item_key: str | None = None

    @property
    def _protocol(self) -> Protocol:
        """The channel's protocol."""
        return Protocol(self._get_entry().data[CONF_PROTOCOL])

    def _term_limits(self) -> tuple[int, int]:
        """Valid term numbers: Modbus unit ids or IEC 104 common addresses."""
        if self._protocol.is_modbus:
            return 0, MAX_UNIT_ID
        return 1, MAX_COMMON_ADDRESS - 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A new term: its number, name and optionally a device template."""
        entry = self._get_entry()
        protocol = self._protocol
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            term = int(user_input[CONF_TERM])
            name = str(user_input.get(CONF_NAME) or "").strip() or f"{_TITLES[protocol]} {term}"
            template = user_input.get(CONF_TEMPLATE, NO_TEMPLATE)
            if any(
                s.subentry_type == SUBENTRY_TERM and int(s.data[CONF_TERM]) == term
                for s in entry.subentries.values()
            ):
                errors[CONF_TERM] = "term_exists"
                detail = str(term)
            else:
                items: list[dict[str, Any]] = []
                if template != NO_TEMPLATE:
                    result = await self.hass.async_add_executor_job(
                        load_template, template, protocol, term
                    )
                    items = result.items
                return self.async_create_entry(
                    title=name,
                    data={CONF_TERM: term, CONF_NAME: name, CONF_ITEMS: items},
                    unique_id=str(term),
                )
        low, high = self._term_limits()
        options = [SelectOptionDict(value=NO_TEMPLATE, label="-")] + [
            SelectOptionDict(value=t.key, label=t.title) for t in templates_for(protocol)
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_TERM, default=max(low, 1)): _box(low, high),
                vol.Optional(CONF_NAME): TextSelector(),
                vol.Required(CONF_TEMPLATE, default=NO_TEMPLATE): _select(options),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"error": detail, "low": str(low), "high": str(high)},
        )

    # --- editing ----------------------------------------------------------------------------

    def _items(self) -> list[dict[str, Any]]:
        """The term's stored items."""
        return [dict(i) for i in self._get_reconfigure_subentry().data.get(CONF_ITEMS, [])]

    def _term(self) -> int:
        """The term's number."""
        return int(self._get_reconfigure_subentry().data[CONF_TERM])

    def _save(
        self, items: list[dict[str, Any]], reason: str, **placeholders: str
    ) -> SubentryFlowResult:
        """Store the items (the entry reloads) and finish."""
        subentry = self._get_reconfigure_subentry()
        self.hass.config_entries.async_update_subentry(
            self._get_entry(), subentry, data={**subentry.data, CONF_ITEMS: items}
        )
        return self.async_abort(
            reason=reason,
            description_placeholders={"title": subentry.title, **placeholders},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """What to change in the term."""
        subentry = self._get_reconfigure_subentry()
        options = ["add_item", "add_formula", "import_items", "settings"]
        if subentry.data.get(CONF_ITEMS):
            options[1:1] = ["edit_item", "remove_items"]
        return self.async_show_menu(
            step_id="reconfigure",
            menu_options=options,
            description_placeholders={
                "title": subentry.title,
                "count": str(len(subentry.data.get(CONF_ITEMS, []))),
            },
        )

    def _validate(self, cells: dict[str, Any], others: list[dict[str, Any]]) -> None:
        """Check an item from a form; raise ScadaFlowError on the field that is wrong."""
        try:
            # the template selector has already checked a formula's syntax
            validate_item(self._protocol, self._term(), cells, others)
        except ItemError as err:
            field = (
                err.field
                if err.field in cells or err.field in {"key", "address", "ioa"}
                else "base"
            )
            raise ScadaFlowError("invalid_item", str(err), field) from err
        if len(others) >= MAX_ITEMS:
            raise ScadaFlowError("too_many_items", str(MAX_ITEMS))

    async def _item_form(
        self,
        step_id: str,
        user_input: dict[str, Any] | None,
        *,
        formula: bool,
        editing: bool,
    ) -> SubentryFlowResult:
        """Show / handle an item form (add or edit, protocol item or formula)."""
        items = self._items()
        current = (
            next((i for i in items if i.get("key") == self._item_key), None) if editing else None
        )
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            cells = _cells(user_input)
            if current is not None:
                cells["key"] = current["key"]
            others = [i for i in items if i is not current]
            try:
                self._validate(cells, others)
            except ScadaFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                if current is not None:
                    items[items.index(current)] = cells
                    return self._save(items, "item_saved", item=cells["key"])
                return self._save([*items, cells], "item_added", item=cells["key"])
        schema = (
            _formula_schema(with_key=not editing)
            if formula
            else _item_schema(self._protocol, with_key=not editing)
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current or {}),
            errors=errors,
            description_placeholders={
                "error": detail,
                "item": self._item_key or "",
                "example": FORMULA_EXAMPLE,
            },
        )

    async def async_step_add_item(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a protocol item (register, coil, information object...)."""
        return await self._item_form("add_item", user_input, formula=False, editing=False)

    async def async_step_add_formula(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add an item computed from the term's other items with a template."""
        return await self._item_form("add_formula", user_input, formula=True, editing=False)

    async def async_step_edit_item(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pick the item to edit."""
        items = self._items()
        if user_input is not None:
            self._item_key = str(user_input[CONF_ITEM])
            chosen = next(i for i in items if i.get("key") == self._item_key)
            if "formula" in chosen:
                return await self.async_step_edit_formula()
            return await self.async_step_edit_item_form()
        return self.async_show_form(
            step_id="edit_item",
            data_schema=vol.Schema({vol.Required(CONF_ITEM): _select(self._item_options(items))}),
        )

    @staticmethod
    def _item_options(items: list[dict[str, Any]]) -> list[SelectOptionDict]:
        """Items as picker options."""
        return [
            SelectOptionDict(value=str(i["key"]), label=f"{i.get('name') or i['key']} ({i['key']})")
            for i in items
        ]

    async def async_step_edit_item_form(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a protocol item (its key stays: entity ids hang on it)."""
        return await self._item_form("edit_item_form", user_input, formula=False, editing=True)

    async def async_step_edit_formula(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a formula item."""
        return await self._item_form("edit_formula", user_input, formula=True, editing=True)

    async def async_step_remove_items(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Remove items (their entities go with them)."""
        items = self._items()
        if user_input is not None:
            keys = set(user_input.get(CONF_KEYS, []))
            kept = [i for i in items if i.get("key") not in keys]
            return self._save(kept, "items_removed", count=str(len(items) - len(kept)))
        return self.async_show_form(
            step_id="remove_items",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_KEYS): SelectSelector(
                        SelectSelectorConfig(
                            options=self._item_options(items),
                            multiple=True,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
        )

    async def async_step_import_items(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Paste a point list (CSV with a header line, or JSON); bad rows are reported by line."""
        items = self._items()
        errors: dict[str, str] = {}
        report = ""
        if user_input is not None:
            replace = bool(user_input.get(CONF_REPLACE, False))
            kept = [] if replace else items
            result = import_point_list(
                self._protocol, self._term(), str(user_input.get(CONF_TEXT, "")), kept
            )
            if not result.errors or (user_input.get(CONF_SKIP_BAD_ROWS) and result.items):
                return self._save(
                    kept + result.items,
                    "items_imported",
                    count=str(len(result.items)),
                    skipped=str(len(result.errors)),
                )
            errors["base"] = "import_failed" if result.items else "import_nothing"
            lines = result.errors[:_REPORT_LINES]
            more = len(result.errors) - len(lines)
            report = "\n".join(f"- {line}" for line in lines)
            if more > 0:
                report += f"\n- … {more} more"
            report += f"\n\n{len(result.items)} good row(s), {len(result.errors)} bad row(s)."
        schema = vol.Schema(
            {
                vol.Required(CONF_TEXT): TextSelector(TextSelectorConfig(multiline=True)),
                vol.Required(CONF_REPLACE, default=False): BooleanSelector(),
                vol.Required(CONF_SKIP_BAD_ROWS, default=False): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="import_items",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"report": report},
        )

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Rename the term (its device)."""
        subentry = self._get_reconfigure_subentry()
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip() or subentry.title
            return self.async_update_and_abort(
                self._get_entry(), subentry, title=name, data_updates={CONF_NAME: name}
            )
        return self.async_show_form(
            step_id="settings",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_NAME, default=subentry.data.get(CONF_NAME, subentry.title)
                    ): TextSelector()
                }
            ),
        )


__all__ = ["TEMPLATES", "ScadaFlowMixin", "ScadaOptionsFlow", "ScadaTermSubentryFlow"]
