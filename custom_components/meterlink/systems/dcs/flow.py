"""Config, reauth, reconfigure and options flows of the DCS system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.config_entries import ConfigFlow, OptionsFlow
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.helpers.aiohttp_client import async_create_clientsession
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
from ...helpers import normalise_http_url
from ...protocols.dcs import (
    DcsApi,
    DcsAuthenticationError,
    DcsConnectionError,
    DcsError,
    DcsMalformedResponseError,
    DcsMeter,
    DcsNotFoundError,
    DcsTimeoutError,
    DcsTlsError,
    DcsVirtualMeter,
)
from .const import (
    CONF_API,
    CONF_BACKFILL_DAYS,
    CONF_IMPORT_STATISTICS,
    CONF_METERS,
    CONF_PASSWORD,
    CONF_REGISTERS,
    CONF_SERVER_ID,
    CONF_URL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
    CONF_VIRTUAL_METERS,
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_SCAN_INTERVAL,
    SYSTEM_KEY,
)
from .runtime import DcsRuntime, build_client

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigFlowResult
    from homeassistant.core import HomeAssistant


@dataclass
class DcsServerView:
    """What a connection test learned: the detected API and the server's meters."""

    api: DcsApi
    meters: list[DcsMeter] = field(default_factory=list)
    virtual_meters: list[DcsVirtualMeter] = field(default_factory=list)


# A person is waiting on the form: give up sooner than the polling client does.
PROBE_TIMEOUT = 15.0


async def async_probe(hass: HomeAssistant, data: Mapping[str, Any]) -> DcsServerView:
    """Log in with ``data`` and list the meters; raise a DcsError on failure.

    The probe uses Home Assistant's connector (same CA store as the entry will) with a cookie
    jar of its own, detached again afterwards.
    """
    session = async_create_clientsession(
        hass,
        verify_ssl=bool(data.get(CONF_VERIFY_SSL, True)),
        auto_cleanup=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    client = build_client(hass, dict(data), session=session, request_timeout=PROBE_TIMEOUT)
    try:
        await client.login()
        meters = await client.meters()
        vms = await client.virtual_meters()
        assert client.api_in_use is not None  # noqa: S101 - login sets it
        return DcsServerView(api=client.api_in_use, meters=meters, virtual_meters=vms)
    finally:
        await client.close()
        session.detach()


def flow_error(err: Exception) -> str:  # noqa: PLR0911
    """Return the form error key for a failed connection test."""
    if isinstance(err, DcsAuthenticationError):
        return "invalid_auth"
    if isinstance(err, DcsTlsError):
        return "tls_error"
    if isinstance(err, DcsTimeoutError):
        return "timeout"
    if isinstance(err, DcsConnectionError):
        return "cannot_connect"
    if isinstance(err, DcsNotFoundError):
        return "not_dcs"
    if isinstance(err, DcsMalformedResponseError):
        return "malformed_response"
    if isinstance(err, DcsError):
        return "server_error"
    LOGGER.exception("Unexpected error talking to a DCS server")
    return "unknown"


@dataclass
class DcsProbeResult:
    """A connection test: what the server showed, or the form error and its explanation."""

    view: DcsServerView | None = None
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""


async def async_test(hass: HomeAssistant, data: Mapping[str, Any]) -> DcsProbeResult:
    """Run the connection test."""
    try:
        return DcsProbeResult(view=await async_probe(hass, data))
    except Exception as err:  # noqa: BLE001 - every failure becomes a form error
        return DcsProbeResult(errors={"base": flow_error(err)}, error=str(err))


def _connection_schema(defaults: Mapping[str, Any], *, reconfigure: bool = False) -> vol.Schema:
    password_key = (
        vol.Optional(CONF_PASSWORD) if reconfigure else vol.Optional(CONF_PASSWORD, default="")
    )
    return vol.Schema(
        {
            vol.Required(CONF_URL, default=defaults.get(CONF_URL, "https://")): TextSelector(
                TextSelectorConfig(type=TextSelectorType.URL)
            ),
            vol.Optional(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "")): str,
            password_key: TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
            vol.Required(CONF_VERIFY_SSL, default=defaults.get(CONF_VERIFY_SSL, True)): bool,
            vol.Required(
                CONF_API, default=str(defaults.get(CONF_API, DcsApi.AUTO))
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[api.value for api in DcsApi],
                    translation_key="dcs_api",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )


def _select_schema(view: DcsServerView, defaults: Mapping[str, Any]) -> vol.Schema:
    meters = [
        SelectOptionDict(
            value=str(m.id),
            label=f"{m.name} ({m.serial_number})" if m.serial_number else m.name,
        )
        for m in view.meters
        if m.registers
    ]
    vms = [
        SelectOptionDict(value=vm.target.wire, label=f"{vm.name} ({vm.unit})")
        for vm in view.virtual_meters
    ]
    known_meters = {o["value"] for o in meters}
    known_vms = {o["value"] for o in vms}
    return vol.Schema(
        {
            vol.Optional(
                CONF_METERS,
                default=[m for m in defaults.get(CONF_METERS, known_meters) if m in known_meters],
            ): SelectSelector(SelectSelectorConfig(options=meters, multiple=True)),
            vol.Optional(
                CONF_VIRTUAL_METERS,
                default=[v for v in defaults.get(CONF_VIRTUAL_METERS, known_vms) if v in known_vms],
            ): SelectSelector(SelectSelectorConfig(options=vms, multiple=True)),
        }
    )


def _register_options(view: DcsServerView, meter_ids: list[str]) -> list[SelectOptionDict]:
    chosen = {int(i) for i in meter_ids}
    return [
        SelectOptionDict(
            value=reg.target.wire,
            label=f"{meter.name} / {reg.name} ({reg.unit or '-'}, {reg.target.wire})",
        )
        for meter in view.meters
        if meter.id in chosen
        for reg in meter.registers
    ]


def _history_fields(options: Mapping[str, Any]) -> dict[vol.Required, Any]:
    """Whether to import the history into statistics, and how far back (add and options)."""
    return {
        vol.Required(
            CONF_IMPORT_STATISTICS, default=options.get(CONF_IMPORT_STATISTICS, True)
        ): BooleanSelector(),
        vol.Required(
            CONF_BACKFILL_DAYS, default=options.get(CONF_BACKFILL_DAYS, DEFAULT_BACKFILL_DAYS)
        ): NumberSelector(
            NumberSelectorConfig(
                min=1, max=3650, step=1, unit_of_measurement="d", mode=NumberSelectorMode.BOX
            )
        ),
    }


def _registers_schema(options: list[SelectOptionDict], defaults: list[str] | None) -> vol.Schema:
    known = [o["value"] for o in options]
    default = known if defaults is None else [d for d in defaults if d in known] or known
    return vol.Schema(
        {
            vol.Required(CONF_REGISTERS, default=default): SelectSelector(
                SelectSelectorConfig(options=options, multiple=True)
            )
        }
    )


def _placeholders(data: Mapping[str, Any], error: str) -> dict[str, str]:
    return {"url": str(data.get(CONF_URL, "")), "error": error}


class DcsFlowMixin(ConfigFlow):
    """The DCS steps of MeterLink's config flow."""

    _dcs_data: dict[str, Any]
    _dcs_view: DcsServerView
    _dcs_selection: dict[str, Any]

    async def async_step_dcs(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the server's address and account, and test them."""
        result = DcsProbeResult()
        data: dict[str, Any] = user_input or {}
        if user_input is not None:
            try:
                data = {**user_input, CONF_URL: normalise_http_url(user_input[CONF_URL])}
            except ValueError as err:
                result = DcsProbeResult(errors={CONF_URL: "invalid_url"}, error=str(err))
            else:
                result = await async_test(self.hass, data)
                if (view := result.view) is not None:
                    unique_id = data[CONF_URL].lower()
                    await self.async_set_unique_id(unique_id)
                    self._abort_if_unique_id_configured()
                    self._dcs_data = {
                        **data,
                        CONF_SYSTEM: SYSTEM_KEY,
                        CONF_API: view.api.value,
                        CONF_SERVER_ID: unique_id,
                    }
                    self._dcs_view = view
                    return await self.async_step_dcs_select()
        return self.async_show_form(
            step_id="dcs",
            data_schema=self.add_suggested_values_to_schema(_connection_schema({}), data),
            errors=result.errors,
            description_placeholders=_placeholders(data, result.error),
        )

    async def async_step_dcs_select(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the meters and virtual meters to add."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input.get(CONF_METERS) and not user_input.get(CONF_VIRTUAL_METERS):
                errors["base"] = "nothing_selected"
            else:
                self._dcs_selection = user_input
                if user_input.get(CONF_METERS):
                    return await self.async_step_dcs_registers()
                return self._dcs_create({CONF_REGISTERS: []})
        # how much history to import is asked here: a year of every register of a big server
        # keeps the recorder busy for minutes, so a person may want less from the start
        return self.async_show_form(
            step_id="dcs_select",
            data_schema=self.add_suggested_values_to_schema(
                _select_schema(self._dcs_view, {}).extend(_history_fields({})), user_input or {}
            ),
            errors=errors,
            description_placeholders={"url": self._dcs_data[CONF_URL]},
        )

    async def async_step_dcs_registers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the registers of the chosen meters (all by default)."""
        if user_input is not None:
            return self._dcs_create(user_input)
        options = _register_options(self._dcs_view, self._dcs_selection.get(CONF_METERS, []))
        return self.async_show_form(
            step_id="dcs_registers", data_schema=_registers_schema(options, None)
        )

    def _dcs_create(self, registers: dict[str, Any]) -> ConfigFlowResult:
        data, selection = self._dcs_data, self._dcs_selection
        host = normalise_http_url(data[CONF_URL]).split("://", 1)[1]
        return self.async_create_entry(
            title=f"DCS {host}",
            data=data,
            options={
                CONF_METERS: list(selection.get(CONF_METERS, [])),
                CONF_VIRTUAL_METERS: list(selection.get(CONF_VIRTUAL_METERS, [])),
                CONF_REGISTERS: list(registers.get(CONF_REGISTERS, [])),
                CONF_SCAN_INTERVAL: int(DEFAULT_SCAN_INTERVAL.total_seconds()),
                CONF_IMPORT_STATISTICS: bool(selection.get(CONF_IMPORT_STATISTICS, True)),
                CONF_BACKFILL_DAYS: int(selection.get(CONF_BACKFILL_DAYS, DEFAULT_BACKFILL_DAYS)),
                CONF_CAPTURE_FRAMES: False,
            },
        )

    async def async_step_dcs_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauth: the server rejected the stored username or password."""
        return await self.async_step_dcs_reauth_confirm()

    async def async_step_dcs_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the username and password again."""
        entry = self._get_reauth_entry()
        result = DcsProbeResult()
        if user_input is not None:
            result = await async_test(self.hass, {**entry.data, **user_input})
            if result.view is not None:
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        schema = vol.Schema(
            {
                vol.Required(CONF_USERNAME, default=entry.data.get(CONF_USERNAME, "")): str,
                vol.Required(CONF_PASSWORD): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.PASSWORD)
                ),
            }
        )
        return self.async_show_form(
            step_id="dcs_reauth_confirm",
            data_schema=schema,
            errors=result.errors,
            description_placeholders={"title": entry.title}
            | _placeholders(entry.data, result.error),
        )

    async def async_step_dcs_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the server's address, account or TLS setting."""
        entry = self._get_reconfigure_entry()
        result = DcsProbeResult()
        data: dict[str, Any] = dict(entry.data)
        if user_input is not None:
            # an empty password keeps the stored one; an empty username means public access
            data = {**entry.data, **user_input}
            if not user_input.get(CONF_PASSWORD):
                data[CONF_PASSWORD] = entry.data.get(CONF_PASSWORD, "")
            try:
                data[CONF_URL] = normalise_http_url(data[CONF_URL])
            except ValueError as err:
                result = DcsProbeResult(errors={CONF_URL: "invalid_url"}, error=str(err))
            else:
                result = await async_test(self.hass, data)
                if (view := result.view) is not None:
                    if not _same_server(entry.options, view):
                        result = DcsProbeResult(errors={"base": "different_server"})
                    else:
                        unique_id = data[CONF_URL].lower()
                        for other in self._async_current_entries(include_ignore=False):
                            if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                                return self.async_abort(reason="already_configured")
                        if user_input.get(CONF_API, DcsApi.AUTO) == DcsApi.AUTO:
                            data[CONF_API] = view.api.value
                        host = data[CONF_URL].split("://", 1)[1]
                        return self.async_update_reload_and_abort(
                            entry, unique_id=unique_id, title=f"DCS {host}", data=data
                        )
        return self.async_show_form(
            step_id="dcs_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _connection_schema(entry.data, reconfigure=True),
                {k: v for k, v in data.items() if k != CONF_PASSWORD},
            ),
            errors=result.errors,
            description_placeholders=_placeholders(data, result.error),
        )


def _same_server(options: Mapping[str, Any], view: DcsServerView) -> bool:
    """Return True if the server has every meter and virtual meter the entry reads."""
    meters = {int(m) for m in options.get(CONF_METERS, [])}
    vms = set(options.get(CONF_VIRTUAL_METERS, []))
    return meters <= {m.id for m in view.meters} and vms <= {
        v.target.wire for v in view.virtual_meters
    }


class DcsOptionsFlow(OptionsFlow):
    """Change polling, history import and frame capture, then the selection."""

    _settings: dict[str, Any]
    _view: DcsServerView
    _selection: dict[str, Any]

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Polling and history settings."""
        if user_input is not None:
            self._settings = user_input
            view = await self._server_view()
            if view is None:
                # The server cannot be asked now (that may be why capture is being turned on):
                # keep the current selection and save the settings.
                current = self.config_entry.options
                self._selection = {
                    CONF_METERS: current.get(CONF_METERS, []),
                    CONF_VIRTUAL_METERS: current.get(CONF_VIRTUAL_METERS, []),
                }
                return self._create({CONF_REGISTERS: current.get(CONF_REGISTERS, [])})
            self._view = view
            return await self.async_step_select()
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(
                        CONF_SCAN_INTERVAL, int(DEFAULT_SCAN_INTERVAL.total_seconds())
                    ),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=30,
                        max=3600,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                **_history_fields(options),
                vol.Required(
                    CONF_CAPTURE_FRAMES, default=options.get(CONF_CAPTURE_FRAMES, False)
                ): BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)

    async def _server_view(self) -> DcsServerView | None:
        """Return the server's meters: from the loaded entry, else by asking the server."""
        runtime = getattr(self.config_entry, "runtime_data", None)
        if isinstance(runtime, DcsRuntime) and runtime.meters and runtime.client.api_in_use:
            return DcsServerView(
                api=runtime.client.api_in_use,
                meters=list(runtime.meters.values()),
                virtual_meters=list(runtime.virtual_meters.values()),
            )
        return (await async_test(self.hass, self.config_entry.data)).view

    async def async_step_select(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose the meters and virtual meters."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input.get(CONF_METERS) and not user_input.get(CONF_VIRTUAL_METERS):
                errors["base"] = "nothing_selected"
            else:
                self._selection = user_input
                if user_input.get(CONF_METERS):
                    return await self.async_step_registers()
                return self._create({CONF_REGISTERS: []})
        return self.async_show_form(
            step_id="select",
            data_schema=_select_schema(self._view, self.config_entry.options),
            errors=errors,
        )

    async def async_step_registers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the registers of the chosen meters."""
        if user_input is not None:
            return self._create(user_input)
        options = _register_options(self._view, self._selection.get(CONF_METERS, []))
        current = self.config_entry.options.get(CONF_REGISTERS)
        return self.async_show_form(
            step_id="registers", data_schema=_registers_schema(options, current)
        )

    def _create(self, registers: dict[str, Any]) -> ConfigFlowResult:
        settings = self._settings
        return self.async_create_entry(
            data={
                CONF_METERS: list(self._selection.get(CONF_METERS, [])),
                CONF_VIRTUAL_METERS: list(self._selection.get(CONF_VIRTUAL_METERS, [])),
                CONF_REGISTERS: list(registers.get(CONF_REGISTERS, [])),
                CONF_SCAN_INTERVAL: int(settings[CONF_SCAN_INTERVAL]),
                CONF_IMPORT_STATISTICS: bool(settings[CONF_IMPORT_STATISTICS]),
                CONF_BACKFILL_DAYS: int(settings[CONF_BACKFILL_DAYS]),
                CONF_CAPTURE_FRAMES: bool(settings[CONF_CAPTURE_FRAMES]),
            }
        )
