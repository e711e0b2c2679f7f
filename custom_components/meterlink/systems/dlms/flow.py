"""Config, reauth, reconfigure and options flows of the DLMS/COSEM system."""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigFlow, OptionsFlow
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
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from ...const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, LOGGER
from ...helpers import async_list_serial_ports, normalise_serial_url
from ...protocols.dlms.client import DlmsAttributeRef, DlmsAuthentication, DlmsTransport
from ...protocols.dlms.errors import (
    DlmsAccessDeniedError,
    DlmsAssociationRefusedError,
    DlmsAuthenticationError,
    DlmsConnectionError,
    DlmsError,
    DlmsProtocolError,
    DlmsTimeoutError,
)
from ...protocols.dlms.listener import HAN_DEFAULT_BAUDRATE
from ...protocols.dlms.models import DlmsObjectInfo, DlmsPushNotification, DlmsReading
from ...protocols.dlms.push import PushFraming
from ...protocols.dlms.vendors import VENDOR_PROFILES, vendor_profile
from .const import (
    CONF_AUTHENTICATION,
    CONF_AUTHENTICATION_KEY,
    CONF_BAUDRATE,
    CONF_BLOCK_CIPHER_KEY,
    CONF_CLASSES,
    CONF_CLIENT_ADDRESS,
    CONF_DISCONNECT,
    CONF_FRAMING,
    CONF_HOST,
    CONF_IMPORT_STATISTICS,
    CONF_INVOCATION_COUNTER,
    CONF_METER_ID,
    CONF_MODE,
    CONF_PARITY,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_REGISTERS,
    CONF_SERIAL_PORT,
    CONF_SERVER_LOGICAL,
    CONF_SERVER_PHYSICAL,
    CONF_SOURCE,
    CONF_SYSTEM_TITLE,
    CONF_TRANSPORT,
    CONF_VENDOR,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_SERIAL_BAUDRATE,
    DEFAULT_SYSTEM_TITLE,
    MODE_LISTEN,
    MODE_POLLED,
    OBIS_DISCONNECT,
    OBIS_LOGICAL_DEVICE_NAME,
    OBIS_SERIAL,
    SYSTEM_KEY,
)
from .runtime import build_client, build_listener, numeric_obis, push_meter_id
from .units import describe, is_default_register

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant

# A person is waiting on the form: fail sooner than the polling client does.
PROBE_TIMEOUT: Final = 10.0
# Listen mode: how long the flow waits for the meter's first push (HAN ports send every 2-10 s).
PUSH_WAIT: Final = 30.0
# COSEM classes offered as sensors: register, extended register, demand register (Blue Book 4.3).
_SENSOR_CLASSES: Final = frozenset({3, 4, 5})
_HEX_KEY: Final = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{64})$")
_HEX_TITLE: Final = re.compile(r"^[0-9a-f]{16}$")
_TCP_TRANSPORTS: Final = (DlmsTransport.WRAPPER, DlmsTransport.HDLC_TCP)
_BAUDRATES: Final = [300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
_SECRET_FIELDS: Final = {
    "password": CONF_PASSWORD,
    "block_cipher_key": CONF_BLOCK_CIPHER_KEY,
    "authentication_key": CONF_AUTHENTICATION_KEY,
}


@dataclass
class DlmsMeterView:
    """What a connection test learned about a polled meter."""

    meter_id: str
    identity: dict[str, str] = field(default_factory=dict)
    objects: list[DlmsObjectInfo] = field(default_factory=list)
    invocation_counter: int = 0


def _fallback_id(data: Mapping[str, Any]) -> str:
    where = data.get(CONF_SERIAL_PORT) or f"{data.get(CONF_HOST)}:{data.get(CONF_PORT)}"
    return f"{where}/{data.get(CONF_SERVER_LOGICAL, 1)}".lower()


async def async_probe(data: Mapping[str, Any], *, discover: bool = True) -> DlmsMeterView:
    """Associate with ``data``, read who the meter is and (optionally) its object list."""
    client = build_client(
        data,
        invocation_counter=int(data.get(CONF_INVOCATION_COUNTER, 0)),
        request_timeout=PROBE_TIMEOUT,
    )
    try:
        await client.connect()
        refs = [
            DlmsAttributeRef(obis=o, class_id=1) for o in (OBIS_SERIAL, OBIS_LOGICAL_DEVICE_NAME)
        ]
        identity: dict[str, str] = {}
        for ref, result in zip(refs, await client.read_many(refs), strict=True):
            if isinstance(result, DlmsReading) and result.value not in (None, ""):
                value = result.value
                identity[ref.obis] = value.hex() if isinstance(value, bytes) else str(value)
        objects = await client.discover_objects() if discover else []
    finally:
        await client.close()
    meter_id = identity.get(OBIS_SERIAL) or identity.get(OBIS_LOGICAL_DEVICE_NAME)
    return DlmsMeterView(
        meter_id=meter_id or _fallback_id(data),
        identity=identity,
        objects=objects,
        invocation_counter=client.invocation_counter,
    )


async def async_wait_push(data: Mapping[str, Any]) -> DlmsPushNotification:
    """Open the push port and return the first notification the meter sends."""
    listener = build_listener(data, timeout=PUSH_WAIT)
    try:
        return await listener.receive()
    finally:
        await listener.close()


def flow_error(err: Exception) -> dict[str, str]:  # noqa: PLR0911
    """Return the form errors for a failed test: a wrong secret is marked on its own field."""
    if isinstance(err, DlmsAuthenticationError):
        field_name = _SECRET_FIELDS.get(err.secret or "", CONF_PASSWORD)
        return {field_name: f"dlms_invalid_{field_name}"}
    if isinstance(err, DlmsAssociationRefusedError):
        return {"base": "dlms_association_refused"}
    if isinstance(err, DlmsAccessDeniedError):
        return {"base": "dlms_access_denied"}
    if isinstance(err, DlmsTimeoutError):
        return {"base": "timeout"}
    if isinstance(err, DlmsConnectionError):
        return {"base": "cannot_connect"}
    if isinstance(err, DlmsProtocolError):
        return {"base": "dlms_malformed_response"}
    if isinstance(err, DlmsError):
        return {"base": "dlms_device_error"}
    LOGGER.exception("Unexpected error talking to a DLMS meter")
    return {"base": "unknown"}


async def _test[T](probe: Awaitable[T]) -> tuple[T | None, dict[str, str]]:
    try:
        return await probe, {}
    except Exception as err:  # noqa: BLE001 - every failure becomes a form error
        return None, flow_error(err) | {"_error": str(err) or type(err).__name__}


def _clean_hex(value: str | None) -> str:
    return re.sub(r"[\s:]", "", value or "").lower()


def check_secrets(data: dict[str, Any], *, listen: bool = False) -> dict[str, str]:  # noqa: C901
    """Normalise keys in ``data`` (hex, lower case); return form errors for missing/bad ones."""
    errors: dict[str, str] = {}
    for name in (CONF_BLOCK_CIPHER_KEY, CONF_AUTHENTICATION_KEY):
        if name in data:
            data[name] = _clean_hex(data[name])
            if data[name] and not _HEX_KEY.match(data[name]):
                errors[name] = "dlms_bad_key"
    if CONF_SYSTEM_TITLE in data:
        data[CONF_SYSTEM_TITLE] = _clean_hex(data[CONF_SYSTEM_TITLE]) or DEFAULT_SYSTEM_TITLE
        if not _HEX_TITLE.match(data[CONF_SYSTEM_TITLE]):
            errors[CONF_SYSTEM_TITLE] = "dlms_bad_system_title"
    if listen:
        if data.get(CONF_AUTHENTICATION_KEY) and not data.get(CONF_BLOCK_CIPHER_KEY):
            errors.setdefault(CONF_BLOCK_CIPHER_KEY, "dlms_key_required")
        return errors
    auth = data.get(CONF_AUTHENTICATION)
    if auth == DlmsAuthentication.LOW and not data.get(CONF_PASSWORD):
        errors[CONF_PASSWORD] = "dlms_password_required"
    if auth == DlmsAuthentication.HIGH_GMAC:
        for name in (CONF_BLOCK_CIPHER_KEY, CONF_AUTHENTICATION_KEY):
            if not data.get(name):
                errors.setdefault(name, "dlms_key_required")
    return errors


def _select(options: list[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(options=options, translation_key=key, mode=SelectSelectorMode.DROPDOWN)
    )


def _password() -> TextSelector:
    return TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


async def _serial_selector(hass: HomeAssistant) -> SelectSelector:
    ports = await async_list_serial_ports(hass)
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=p.path, label=p.label) for p in ports],
            custom_value=True,
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


async def _link_schema(
    hass: HomeAssistant, transport: DlmsTransport, defaults: Mapping[str, Any]
) -> dict[Any, Any]:
    profile = vendor_profile(defaults.get(CONF_VENDOR))
    if transport in _TCP_TRANSPORTS:
        return {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): str,
            vol.Required(CONF_PORT, default=int(defaults.get(CONF_PORT, profile.port))): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=65535)
            ),
        }
    return {
        vol.Required(
            CONF_SERIAL_PORT, default=defaults.get(CONF_SERIAL_PORT, "")
        ): await _serial_selector(hass),
        vol.Required(
            CONF_BAUDRATE, default=int(defaults.get(CONF_BAUDRATE, DEFAULT_SERIAL_BAUDRATE))
        ): vol.In(_BAUDRATES),
    }


def _address_schema(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    profile = vendor_profile(defaults.get(CONF_VENDOR))
    physical = defaults.get(CONF_SERVER_PHYSICAL, profile.server_physical)
    return {
        vol.Required(
            CONF_CLIENT_ADDRESS,
            default=int(defaults.get(CONF_CLIENT_ADDRESS, profile.client_address)),
        ): vol.All(
            # a box, not the slider the frontend draws for a small integer range
            NumberSelector(
                NumberSelectorConfig(min=0, max=0x7F, step=1, mode=NumberSelectorMode.BOX)
            ),
            vol.Coerce(int),
        ),
        vol.Required(
            CONF_SERVER_LOGICAL,
            default=int(defaults.get(CONF_SERVER_LOGICAL, profile.server_logical)),
        ): vol.All(vol.Coerce(int), vol.Range(min=0, max=0x3FFF)),
        vol.Optional(CONF_SERVER_PHYSICAL, description={"suggested_value": physical}): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=0x3FFF)
        ),
    }


def _security_schema(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    profile = vendor_profile(defaults.get(CONF_VENDOR))
    return {
        vol.Required(
            CONF_AUTHENTICATION,
            default=str(defaults.get(CONF_AUTHENTICATION, profile.authentication)),
        ): _select([a.value for a in DlmsAuthentication], "dlms_authentication"),
        vol.Optional(CONF_PASSWORD): _password(),
        vol.Optional(CONF_BLOCK_CIPHER_KEY): _password(),
        vol.Optional(CONF_AUTHENTICATION_KEY): _password(),
        vol.Optional(
            CONF_SYSTEM_TITLE, default=defaults.get(CONF_SYSTEM_TITLE, DEFAULT_SYSTEM_TITLE)
        ): str,
    }


def _normalise_link(data: dict[str, Any]) -> dict[str, str]:
    """Canonicalise the serial port; return form errors."""
    if CONF_SERIAL_PORT in data:
        try:
            data[CONF_SERIAL_PORT] = normalise_serial_url(str(data[CONF_SERIAL_PORT]))
        except ValueError as err:
            return {CONF_SERIAL_PORT: "dlms_invalid_port", "_error": str(err)}
    return {}


def register_options(
    objects: list[DlmsObjectInfo], current: list[str] | None = None
) -> list[SelectOptionDict]:
    """Return the registers of an object list as picker options (OBIS, unit, name)."""
    options: list[SelectOptionDict] = []
    seen: set[str] = set()
    for obj in objects:
        if obj.class_id not in _SENSOR_CLASSES or obj.obis in seen:
            continue
        seen.add(obj.obis)
        key = describe(obj.obis, obj.unit).translation_key
        name = key.replace("_", " ").capitalize() if key else f"class {obj.class_id}"
        options.append(
            SelectOptionDict(value=obj.obis, label=f"{obj.obis} - {name} ({obj.unit or '-'})")
        )
    options.extend(
        SelectOptionDict(value=obis, label=f"{obis} (no longer listed)")
        for obis in current or []
        if obis not in seen
    )
    return options


def _han_schema(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Framing and, for serial ports, the line settings of a push port."""
    return {
        vol.Required(
            CONF_FRAMING, default=str(defaults.get(CONF_FRAMING, PushFraming.HDLC))
        ): _select([f.value for f in PushFraming], "dlms_framing"),
        vol.Required(
            CONF_BAUDRATE, default=int(defaults.get(CONF_BAUDRATE, HAN_DEFAULT_BAUDRATE))
        ): vol.In(_BAUDRATES),
        # lower case: selector options are translation keys; the runtime reads either case
        vol.Required(CONF_PARITY, default=str(defaults.get(CONF_PARITY, "E")).lower()): _select(
            ["n", "e", "o"], "dlms_parity"
        ),
    }


def _registers_schema(options: list[SelectOptionDict], defaults: list[str]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_REGISTERS, default=defaults): SelectSelector(
                SelectSelectorConfig(options=options, multiple=True)
            )
        }
    )


def selection_options(objects: list[DlmsObjectInfo], registers: list[str]) -> dict[str, Any]:
    """Return the options that describe the chosen registers (class ids, relay)."""
    classes = {o.obis: o.class_id for o in objects if o.class_id in _SENSOR_CLASSES}
    return {
        CONF_REGISTERS: list(registers),
        CONF_CLASSES: {obis: classes.get(obis, 3) for obis in registers},
        CONF_DISCONNECT: any(o.obis == OBIS_DISCONNECT and o.class_id == 70 for o in objects),  # noqa: PLR2004
    }


def _placeholders(errors: dict[str, str]) -> dict[str, str]:
    return {"error": errors.pop("_error", "")}


def _title(data: Mapping[str, Any], meter_id: str) -> str:
    return f"DLMS {meter_id}"


class DlmsFlowMixin(ConfigFlow):
    """The DLMS steps of MeterLink's config flow."""

    _dlms_data: dict[str, Any]
    _dlms_view: DlmsMeterView

    async def async_step_dlms(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Polled meter or push (listen) meter."""
        return self.async_show_menu(step_id="dlms", menu_options=["dlms_polled", "dlms_listen"])

    # --- polled meters --------------------------------------------------------------------

    async def async_step_dlms_polled(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the vendor profile and how the meter is reached."""
        if user_input is not None:
            self._dlms_data = {
                CONF_SYSTEM: SYSTEM_KEY,
                CONF_MODE: MODE_POLLED,
                CONF_VENDOR: user_input[CONF_VENDOR],
                CONF_TRANSPORT: user_input[CONF_TRANSPORT],
            }
            return await self.async_step_dlms_connection()
        schema = vol.Schema(
            {
                vol.Required(CONF_VENDOR, default="generic"): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=k, label=p.name)
                            for k, p in VENDOR_PROFILES.items()
                        ],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_TRANSPORT, default=DlmsTransport.WRAPPER.value): _select(
                    [t.value for t in DlmsTransport], "dlms_transport"
                ),
            }
        )
        return self.async_show_form(step_id="dlms_polled", data_schema=schema)

    async def async_step_dlms_connection(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Address, link, authentication and secrets; test them and read the object list."""
        base = self._dlms_data
        transport = DlmsTransport(base[CONF_TRANSPORT])
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**base, **user_input}
            errors = _normalise_link(data) or check_secrets(data)
            if not errors:
                view, errors = await _test(async_probe(data))
                if view is not None:
                    await self.async_set_unique_id(view.meter_id)
                    self._abort_if_unique_id_configured(error="dlms_already_configured")
                    data[CONF_METER_ID] = view.meter_id
                    data[CONF_INVOCATION_COUNTER] = view.invocation_counter
                    self._dlms_data, self._dlms_view = data, view
                    return await self.async_step_dlms_registers()
        schema = vol.Schema(
            {
                **await _link_schema(self.hass, transport, base),
                **_address_schema(base),
                **_security_schema(base),
            }
        )
        return self.async_show_form(
            step_id="dlms_connection",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                {k: v for k, v in (user_input or {}).items() if k not in _SECRET_FIELDS.values()},
            ),
            errors=errors,
            description_placeholders=_placeholders(errors),
        )

    async def async_step_dlms_registers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the registers to read (energy, power, voltages, currents pre-selected)."""
        objects = self._dlms_view.objects
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input.get(CONF_REGISTERS):
                errors["base"] = "dlms_nothing_selected"
            else:
                data = self._dlms_data
                return self.async_create_entry(
                    title=_title(data, self._dlms_view.meter_id),
                    data=data,
                    options={
                        **selection_options(objects, user_input[CONF_REGISTERS]),
                        CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
                        CONF_IMPORT_STATISTICS: True,
                        CONF_CAPTURE_FRAMES: False,
                    },
                )
        options = register_options(objects)
        defaults = [o["value"] for o in options if is_default_register(o["value"])]
        return self.async_show_form(
            step_id="dlms_registers",
            data_schema=_registers_schema(options, defaults),
            errors=errors,
            description_placeholders={
                "meter": self._dlms_view.meter_id,
                "count": str(len(options)),
            },
        )

    # --- push meters ----------------------------------------------------------------------

    async def _listen_schema(self, defaults: Mapping[str, Any]) -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(
                    CONF_SOURCE, default=defaults.get(CONF_SOURCE, "")
                ): await _serial_selector(self.hass),
                **_han_schema(defaults),
                vol.Optional(CONF_BLOCK_CIPHER_KEY): _password(),
                vol.Optional(CONF_AUTHENTICATION_KEY): _password(),
            }
        )

    async def async_step_dlms_listen(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Where the meter pushes and its keys; wait for one push and recognise the list."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data: dict[str, Any] = {CONF_SYSTEM: SYSTEM_KEY, CONF_MODE: MODE_LISTEN, **user_input}
            try:
                data[CONF_SOURCE] = normalise_serial_url(str(data[CONF_SOURCE]))
            except ValueError as err:
                errors = {CONF_SOURCE: "dlms_invalid_port", "_error": str(err)}
            else:
                errors = check_secrets(data, listen=True)
            if not errors:
                notification, errors = await _test(async_wait_push(data))
                if notification is not None:
                    meter_id = push_meter_id(notification) or data[CONF_SOURCE].lower()
                    await self.async_set_unique_id(meter_id)
                    self._abort_if_unique_id_configured(error="dlms_already_configured")
                    registers = numeric_obis(notification.readings)
                    data[CONF_METER_ID] = meter_id
                    data[CONF_REGISTERS] = registers
                    return self.async_create_entry(
                        title=_title(data, meter_id),
                        data=data,
                        options={CONF_REGISTERS: registers, CONF_CAPTURE_FRAMES: False},
                        description_placeholders={"list": notification.push_list.list_id},
                    )
        return self.async_show_form(
            step_id="dlms_listen",
            data_schema=self.add_suggested_values_to_schema(
                await self._listen_schema({}),
                {k: v for k, v in (user_input or {}).items() if k not in _SECRET_FIELDS.values()},
            ),
            errors=errors,
            description_placeholders=_placeholders(errors),
        )

    # --- reauth ---------------------------------------------------------------------------

    async def async_step_dlms_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauth: the meter rejected the password or a key."""
        return await self.async_step_dlms_reauth_confirm()

    async def async_step_dlms_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the password (low) or the keys (high, push) again."""
        entry = self._get_reauth_entry()
        listen = entry.data.get(CONF_MODE) == MODE_LISTEN
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            errors = check_secrets(data, listen=listen)
            if not errors:
                probe = async_wait_push(data) if listen else async_probe(data, discover=False)
                result, errors = await _test(probe)
                if result is not None:
                    updates = {k: data[k] for k in user_input}
                    return self.async_update_reload_and_abort(
                        entry, data_updates=updates, reason="dlms_reauth_successful"
                    )
        if listen or entry.data.get(CONF_AUTHENTICATION) == DlmsAuthentication.HIGH_GMAC:
            required = vol.Optional if listen else vol.Required
            fields: dict[Any, Any] = {
                required(CONF_BLOCK_CIPHER_KEY): _password(),
                required(CONF_AUTHENTICATION_KEY): _password(),
            }
        else:
            fields = {vol.Required(CONF_PASSWORD): _password()}
        return self.async_show_form(
            step_id="dlms_reauth_confirm",
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders={"title": entry.title} | _placeholders(errors),
        )

    # --- reconfigure ----------------------------------------------------------------------

    async def async_step_dlms_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how the meter is reached (host, port, serial port, addresses, framing)."""
        entry = self._get_reconfigure_entry()
        listen = entry.data.get(CONF_MODE) == MODE_LISTEN
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **user_input}
            if listen:
                try:
                    data[CONF_SOURCE] = normalise_serial_url(str(data[CONF_SOURCE]))
                except ValueError as err:
                    errors = {CONF_SOURCE: "dlms_invalid_port", "_error": str(err)}
            else:
                errors = _normalise_link(data)
            if not errors:
                if listen:
                    push, errors = await _test(async_wait_push(data))
                    meter_id = (push_meter_id(push) or data[CONF_SOURCE].lower()) if push else None
                else:
                    view, errors = await _test(async_probe(data, discover=False))
                    meter_id = view.meter_id if view else None
                if meter_id is not None:
                    if meter_id != entry.data.get(CONF_METER_ID):
                        errors = {"base": "dlms_different_meter"}
                        _placeholders(errors)
                        errors["_error"] = meter_id
                    else:
                        return self.async_update_reload_and_abort(
                            entry, data=data, reason="dlms_reconfigure_successful"
                        )
        if listen:
            schema = vol.Schema(
                {
                    vol.Required(
                        CONF_SOURCE, default=entry.data[CONF_SOURCE]
                    ): await _serial_selector(self.hass),
                    **_han_schema(entry.data),
                }
            )
        else:
            transport = DlmsTransport(entry.data[CONF_TRANSPORT])
            schema = vol.Schema(
                {
                    **await _link_schema(self.hass, transport, entry.data),
                    **_address_schema(entry.data),
                }
            )
        return self.async_show_form(
            step_id="dlms_reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"title": entry.title} | _placeholders(errors),
        )


class DlmsOptionsFlow(OptionsFlow):
    """Polling interval, frame capture and the registers."""

    _settings: dict[str, Any]
    _objects: list[DlmsObjectInfo]

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Start with the settings step (own step ids: options strings are shared)."""
        return await self.async_step_dlms_settings()

    async def async_step_dlms_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Polling and capture settings (push meters: also the registers)."""
        entry = self.config_entry
        listen = entry.data.get(CONF_MODE) == MODE_LISTEN
        options = entry.options
        if user_input is not None:
            if listen:
                return self.async_create_entry(data={**options, **user_input})
            self._settings = user_input
            view, errors = await _test(async_probe(entry.data))
            if view is None:
                placeholders = _placeholders(errors)  # takes "_error" out
                # a wrong secret is a field error in forms; here it is the reason to abort
                return self.async_abort(
                    reason=next(iter(errors.values())), description_placeholders=placeholders
                )
            self._objects = view.objects
            return await self.async_step_dlms_registers()
        fields: dict[Any, Any] = {}
        if listen:
            available = list(
                dict.fromkeys(
                    [*entry.data.get(CONF_REGISTERS, []), *options.get(CONF_REGISTERS, [])]
                )
            )
            fields[vol.Required(CONF_REGISTERS, default=list(options.get(CONF_REGISTERS, [])))] = (
                SelectSelector(SelectSelectorConfig(options=available, multiple=True))
            )
        else:
            fields[
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(
                        CONF_SCAN_INTERVAL, int(DEFAULT_SCAN_INTERVAL.total_seconds())
                    ),
                )
            ] = NumberSelector(
                NumberSelectorConfig(
                    min=5, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
                )
            )
            fields[
                vol.Required(
                    CONF_IMPORT_STATISTICS, default=options.get(CONF_IMPORT_STATISTICS, True)
                )
            ] = BooleanSelector()
        fields[
            vol.Required(CONF_CAPTURE_FRAMES, default=options.get(CONF_CAPTURE_FRAMES, False))
        ] = BooleanSelector()
        return self.async_show_form(step_id="dlms_settings", data_schema=vol.Schema(fields))

    async def async_step_dlms_registers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the registers from the meter's object list."""
        errors: dict[str, str] = {}
        current = list(self.config_entry.options.get(CONF_REGISTERS, []))
        if user_input is not None:
            if not user_input.get(CONF_REGISTERS):
                errors["base"] = "dlms_nothing_selected"
            else:
                return self.async_create_entry(
                    data={
                        **selection_options(self._objects, user_input[CONF_REGISTERS]),
                        CONF_SCAN_INTERVAL: int(self._settings[CONF_SCAN_INTERVAL]),
                        CONF_IMPORT_STATISTICS: bool(self._settings[CONF_IMPORT_STATISTICS]),
                        CONF_CAPTURE_FRAMES: bool(self._settings[CONF_CAPTURE_FRAMES]),
                    }
                )
        return self.async_show_form(
            step_id="dlms_registers",
            data_schema=_registers_schema(register_options(self._objects, current), current),
            errors=errors,
        )
