"""Config, reauth, reconfigure and options flows of the EKM system (one entry per bus)."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlow, OptionsFlow
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
from ...protocols.ekm import codec
from ...protocols.ekm.client import EkmBus, EkmMeterRef, resolve_url
from ...protocols.ekm.errors import (
    EkmAuthenticationError,
    EkmConnectionError,
    EkmError,
    EkmProtocolError,
    EkmTimeoutError,
    EkmValueError,
)
from ...protocols.ekm.models import EkmV3Reading, EkmVersion
from .const import (
    CONF_ADDRESS,
    CONF_ADDRESSES,
    CONF_METERS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_VERSION,
    DEFAULT_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    SYSTEM_KEY,
)
from .runtime import build_bus, meters_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from homeassistant.config_entries import ConfigEntry, ConfigFlowResult
    from homeassistant.core import HomeAssistant


class EkmFlowError(Exception):
    """A failed check in a flow: the form error key and what to show in {error}."""

    def __init__(self, key: str, detail: str, field: str = "base") -> None:
        """Remember the key, the field it belongs to and the detail."""
        super().__init__(detail)
        self.key = key
        self.field = field

    def errors(self) -> dict[str, str]:
        """Return the form errors."""
        return {self.field: self.key}


def _flow_error(err: Exception, address: str | None = None) -> EkmFlowError:
    """Translate a library error into a form error."""
    where = f"meter {address}: " if address else ""
    if isinstance(err, EkmAuthenticationError):
        return EkmFlowError("invalid_password", f"{where}{err}", CONF_PASSWORD)
    if isinstance(err, EkmTimeoutError):
        return EkmFlowError("meter_not_found" if address else "timeout", f"{where}{err}")
    if isinstance(err, EkmConnectionError):
        return EkmFlowError("cannot_connect", str(err))
    if isinstance(err, EkmProtocolError):
        return EkmFlowError("garbled_answer", f"{where}{err}")
    if isinstance(err, EkmError):  # pragma: no cover - reads and password checks raise no other
        return EkmFlowError("unknown", str(err))
    LOGGER.exception("Unexpected error talking to an EKM bus")
    return EkmFlowError("unknown", str(err))


def port_url(text: str) -> str:
    """Return the bus URL of a port or bridge the user typed or picked; raise EkmFlowError."""
    try:
        return resolve_url(normalise_serial_url(text))
    except (ValueError, EkmValueError) as err:
        raise EkmFlowError("invalid_port", str(err), CONF_PORT) from err


def parse_addresses(text: str) -> list[str]:
    """Return the normalised addresses in ``text`` (separated by commas or spaces)."""
    out: dict[str, None] = {}  # ordered, and a membership test in O(1) for long pasted lists
    for part in re.split(r"[,;\s]+", text.strip()):
        if not part:
            continue
        try:
            address = codec.normalize_address(part)
        except EkmValueError as err:
            raise EkmFlowError("invalid_address", str(err), CONF_ADDRESSES) from err
        out[address] = None
    return list(out)


@contextlib.asynccontextmanager
async def _open_bus(
    hass: HomeAssistant, url: str, entry: ConfigEntry | None
) -> AsyncIterator[EkmBus]:
    """Yield the running entry's bus owner (same port), or a short-lived one."""
    from .runtime import EkmRuntime  # noqa: PLC0415

    if (
        entry is not None
        and entry.state is ConfigEntryState.LOADED
        and isinstance(entry.runtime_data, EkmRuntime)
        and entry.runtime_data.bus.url == url
    ):
        yield entry.runtime_data.bus
        return
    bus = build_bus(url)
    try:
        try:
            await bus.open()
        except EkmError as err:
            raise _flow_error(err) from err
        yield bus
    finally:
        await bus.close()


async def find_meters(
    bus: EkmBus, addresses: list[str], known: Mapping[str, EkmVersion], password: str | None
) -> list[EkmMeterRef]:
    """Find each address's version (or the single meter on the bus); check the password."""
    meters: list[EkmMeterRef] = []
    if not addresses:  # address 999999999999: whichever meter is alone on the bus answers
        for version in (EkmVersion.V4, EkmVersion.V3):
            try:
                reading = await bus.read_single_meter(version)
            except EkmTimeoutError:
                continue
            except EkmError as err:
                raise EkmFlowError("several_meters", str(err), CONF_ADDRESSES) from err
            block = reading if isinstance(reading, EkmV3Reading) else reading.a
            meters.append(EkmMeterRef.of(block.address, version))
            break
        else:
            raise EkmFlowError("no_meter_answers", "", CONF_ADDRESSES)
    for address in addresses:
        try:
            version = known.get(address) or await bus.probe(address)
        except Exception as err:
            raise _flow_error(err, address) from err
        meters.append(EkmMeterRef(address=address, version=version))
    if password is not None:
        for meter in meters:
            try:
                await bus.check_password(meter.address, meter.version, password=password)
            except EkmError as err:
                raise _flow_error(err, meter.address) from err
    return meters


def _meters_option(meters: list[EkmMeterRef]) -> list[dict[str, Any]]:
    return [{CONF_ADDRESS: m.address, CONF_VERSION: m.version.value} for m in meters]


def _title(url: str) -> str:
    return f"EKM bus {url.removeprefix('socket://')}"


def _addresses_text(meters: list[EkmMeterRef]) -> str:
    return ", ".join(m.address.lstrip("0") or "0" for m in meters)


async def _port_schema(hass: HomeAssistant, *, password: bool) -> vol.Schema:
    ports = await async_list_serial_ports(hass)
    fields: dict[Any, Any] = {
        vol.Required(CONF_PORT): SelectSelector(
            SelectSelectorConfig(
                options=[SelectOptionDict(value=p.path, label=p.label) for p in ports],
                custom_value=True,
                mode=SelectSelectorMode.DROPDOWN,
            )
        )
    }
    if password:
        fields[vol.Required(CONF_PASSWORD, default=codec.DEFAULT_PASSWORD)] = TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        )
    return vol.Schema(fields)


def _password_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_PASSWORD): TextSelector(
                TextSelectorConfig(type=TextSelectorType.PASSWORD)
            )
        }
    )


def _check_password_text(password: str) -> None:
    if not (len(password) == 8 and password.isdigit()):  # noqa: PLR2004 - fact sheet §5.1
        raise EkmFlowError("password_format", "", CONF_PASSWORD)


class EkmFlowMixin(ConfigFlow):
    """The EKM steps of MeterLink's config flow."""

    _ekm_data: dict[str, Any]

    async def async_step_ekm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the bus's serial port (or a TCP bridge) and the meters' password."""
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            try:
                url = port_url(user_input[CONF_PORT])
                _check_password_text(user_input[CONF_PASSWORD])
                await self.async_set_unique_id(url)
                if any(e.unique_id == url for e in self._async_current_entries()):
                    return self.async_abort(reason="ekm_bus_configured")
                async with _open_bus(self.hass, url, None):
                    pass
            except EkmFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                self._ekm_data = {
                    CONF_SYSTEM: SYSTEM_KEY,
                    CONF_PORT: url,
                    CONF_PASSWORD: user_input[CONF_PASSWORD],
                }
                return await self.async_step_ekm_meters()
        return self.async_show_form(
            step_id="ekm",
            data_schema=self.add_suggested_values_to_schema(
                await _port_schema(self.hass, password=True), user_input or {}
            ),
            errors=errors,
            description_placeholders={"error": detail},
        )

    async def async_step_ekm_meters(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the meters' addresses; each is read to learn its version (v3 or v4)."""
        errors: dict[str, str] = {}
        detail = ""
        url = self._ekm_data[CONF_PORT]
        if user_input is not None:
            try:
                addresses = parse_addresses(user_input.get(CONF_ADDRESSES, ""))
                async with _open_bus(self.hass, url, None) as bus:
                    meters = await find_meters(bus, addresses, {}, self._ekm_data[CONF_PASSWORD])
            except EkmFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                return self.async_create_entry(
                    title=_title(url),
                    data=self._ekm_data,
                    options={
                        CONF_METERS: _meters_option(meters),
                        CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
                        CONF_CAPTURE_FRAMES: False,
                    },
                )
        return self.async_show_form(
            step_id="ekm_meters",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Optional(CONF_ADDRESSES, default=""): str}), user_input or {}
            ),
            errors=errors,
            description_placeholders={"port": url, "error": detail},
        )

    async def async_step_ekm_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauth: a meter refused the stored command password."""
        return await self.async_step_ekm_reauth_confirm()

    async def async_step_ekm_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the meters' password again and check it on every meter."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            password = user_input[CONF_PASSWORD]
            meters = meters_of(entry.options)
            try:
                _check_password_text(password)
                async with _open_bus(self.hass, entry.data[CONF_PORT], entry) as bus:
                    await find_meters(
                        bus,
                        [m.address for m in meters],
                        {m.address: m.version for m in meters},
                        password,
                    )
            except EkmFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_PASSWORD: password}, reason="ekm_reauth_successful"
                )
        return self.async_show_form(
            step_id="ekm_reauth_confirm",
            data_schema=_password_schema(),
            errors=errors,
            description_placeholders={"title": entry.title, "error": detail},
        )

    async def async_step_ekm_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the bus to another serial port or bridge; its meters must answer there."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            meters = meters_of(entry.options)
            try:
                url = port_url(user_input[CONF_PORT])
                for other in self._async_current_entries(include_ignore=False):
                    if other.entry_id != entry.entry_id and other.unique_id == url:
                        return self.async_abort(reason="ekm_bus_configured")
                async with _open_bus(self.hass, url, entry) as bus:
                    await find_meters(
                        bus,
                        [m.address for m in meters],
                        {},
                        None,
                    )
            except EkmFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=url,
                    title=_title(url),
                    data_updates={CONF_PORT: url},
                    reason="ekm_reconfigure_successful",
                )
        return self.async_show_form(
            step_id="ekm_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                await _port_schema(self.hass, password=False),
                user_input or {CONF_PORT: entry.data[CONF_PORT]},
            ),
            errors=errors,
            description_placeholders={"port": entry.data[CONF_PORT], "error": detail},
        )


class EkmOptionsFlow(OptionsFlow):
    """Polling interval, frame capture, and the meters on the bus (add or remove)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the EKM settings (a step of its own name: ``init`` is DCS's text)."""
        return await self.async_step_ekm_options()

    async def async_step_ekm_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the settings; new addresses are read to learn their version."""
        entry = self.config_entry
        current = meters_of(entry.options)
        errors: dict[str, str] = {}
        detail = ""
        if user_input is not None:
            try:
                addresses = parse_addresses(user_input.get(CONF_ADDRESSES, ""))
                if not addresses:
                    raise EkmFlowError("no_meters", "", CONF_ADDRESSES)  # noqa: TRY301
                known = {m.address: m.version for m in current}
                new = [a for a in addresses if a not in known]
                async with _open_bus(self.hass, entry.data[CONF_PORT], entry) as bus:
                    found = await find_meters(bus, new, {}, None) if new else []
            except EkmFlowError as err:
                errors, detail = err.errors(), str(err)
            else:
                versions = known | {m.address: m.version for m in found}
                meters = [EkmMeterRef(address=a, version=versions[a]) for a in addresses]
                return self.async_create_entry(
                    data={
                        CONF_METERS: _meters_option(meters),
                        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                        CONF_CAPTURE_FRAMES: bool(user_input[CONF_CAPTURE_FRAMES]),
                    }
                )
        options = entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(
                        CONF_SCAN_INTERVAL, int(DEFAULT_SCAN_INTERVAL.total_seconds())
                    ),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL,
                        max=3600,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_CAPTURE_FRAMES, default=options.get(CONF_CAPTURE_FRAMES, False)
                ): BooleanSelector(),
                vol.Required(CONF_ADDRESSES, default=_addresses_text(current)): str,
            }
        )
        return self.async_show_form(
            step_id="ekm_options",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"error": detail},
        )
