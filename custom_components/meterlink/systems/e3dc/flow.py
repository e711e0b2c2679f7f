"""Config, reauth, reconfigure and options flows of the E3/DC system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigFlow, OptionsFlow
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from ...const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, LOGGER
from ...protocols.e3dc.errors import (
    SECRET_RSCP_KEY,
    RscpAuthenticationError,
    RscpConnectionError,
    RscpError,
    RscpPortalUnreachableError,
    RscpProtocolError,
    RscpTimeoutError,
)
from .const import (
    CONF_HOST,
    CONF_IMPORT_STATISTICS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_RSCP_KEY,
    CONF_SERIAL,
    CONF_USERNAME,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_PORT,
    MAX_LIVE_INTERVAL_S,
    MIN_LIVE_INTERVAL_S,
    PROBE_TIMEOUT,
    SYSTEM_KEY,
)
from .runtime import build_client

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigFlowResult

    from ...protocols.e3dc.models import SystemInfo

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


@dataclass
class E3dcProbeResult:
    """A connection test: what the device said, or the form error and its explanation."""

    info: SystemInfo | None = None
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""


def flow_error(err: Exception) -> tuple[str, str]:  # noqa: PLR0911
    """Return the form field and error key for a failed connection test."""
    if isinstance(err, RscpAuthenticationError):
        if err.secret == SECRET_RSCP_KEY:
            return CONF_RSCP_KEY, "e3dc_invalid_rscp_key"
        return CONF_PASSWORD, "e3dc_invalid_auth"
    if isinstance(err, RscpPortalUnreachableError):
        return "base", "e3dc_portal_unreachable"
    if isinstance(err, RscpTimeoutError):
        return "base", "timeout"
    if isinstance(err, RscpConnectionError):
        return "base", "cannot_connect"
    if isinstance(err, RscpProtocolError):
        return "base", "e3dc_malformed_response"
    if isinstance(err, RscpError):
        return "base", "e3dc_device_error"
    LOGGER.exception("Unexpected error talking to an E3/DC")
    return "base", "unknown"


async def async_probe(data: Mapping[str, Any]) -> SystemInfo:
    """Log in with ``data`` and read the system info; raise an RscpError on failure."""
    client = build_client(data, timeout=PROBE_TIMEOUT, keepalive_s=None)
    try:
        await client.connect()
        return await client.system_info()
    finally:
        await client.close()


async def async_test(data: Mapping[str, Any], serial: str | None = None) -> E3dcProbeResult:
    """Run the connection test; with ``serial`` the device must be that system."""
    try:
        info = await async_probe(data)
    except Exception as err:  # noqa: BLE001 - every failure becomes a form error
        where, key = flow_error(err)
        return E3dcProbeResult(errors={where: key}, error=str(err))
    if not info.serial:
        return E3dcProbeResult(
            errors={"base": "e3dc_no_serial"}, error="the device reports no serial number"
        )
    if serial is not None and info.serial != serial:
        return E3dcProbeResult(errors={"base": "e3dc_different_system"}, error=info.serial)
    return E3dcProbeResult(info=info)


def _title(info: SystemInfo) -> str:
    return f"E3/DC {info.model or 'system'} {info.serial}"


def _connection_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_HOST): str,
            vol.Required(CONF_PORT, default=DEFAULT_PORT): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=65535)
            ),
            vol.Required(CONF_USERNAME): str,
            vol.Required(CONF_PASSWORD): PASSWORD_SELECTOR,
            vol.Required(CONF_RSCP_KEY): PASSWORD_SELECTOR,
        }
    )


def _placeholders(data: Mapping[str, Any], error: str) -> dict[str, str]:
    return {"host": str(data.get(CONF_HOST, "")), "error": error}


class E3dcFlowMixin(ConfigFlow):
    """The E3/DC steps of MeterLink's config flow."""

    async def async_step_e3dc(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the address, the portal account and the RSCP key, and test them."""
        result = E3dcProbeResult()
        data: dict[str, Any] = {}
        if user_input is not None:
            data = {**user_input, CONF_HOST: user_input[CONF_HOST].strip()}
            result = await async_test(data)
            if (info := result.info) is not None:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_configured(
                    updates={CONF_HOST: data[CONF_HOST], CONF_PORT: data[CONF_PORT]}
                )
                return self.async_create_entry(
                    title=_title(info),
                    data={**data, CONF_SYSTEM: SYSTEM_KEY, CONF_SERIAL: info.serial},
                    options={
                        CONF_SCAN_INTERVAL: int(DEFAULT_LIVE_INTERVAL.total_seconds()),
                        CONF_IMPORT_STATISTICS: True,
                        CONF_CAPTURE_FRAMES: False,
                    },
                )
        shown = {k: v for k, v in data.items() if k not in (CONF_PASSWORD, CONF_RSCP_KEY)}
        return self.async_show_form(
            step_id="e3dc",
            data_schema=self.add_suggested_values_to_schema(_connection_schema(), shown),
            errors=result.errors,
            description_placeholders=_placeholders(data, result.error),
        )

    async def async_step_e3dc_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start reauth: the E3/DC rejected the stored password or RSCP key."""
        return await self.async_step_e3dc_reauth_confirm()

    async def async_step_e3dc_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the portal password and the RSCP key again."""
        entry = self._get_reauth_entry()
        result = E3dcProbeResult()
        if user_input is not None:
            data = {**entry.data, **user_input}
            result = await async_test(data, serial=entry.unique_id)
            if result.info is not None:
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        schema = vol.Schema(
            {
                vol.Required(CONF_USERNAME, default=entry.data.get(CONF_USERNAME, "")): str,
                vol.Required(CONF_PASSWORD): PASSWORD_SELECTOR,
                vol.Required(CONF_RSCP_KEY): PASSWORD_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="e3dc_reauth_confirm",
            data_schema=schema,
            errors=result.errors,
            description_placeholders={"title": entry.title}
            | _placeholders(entry.data, result.error),
        )

    async def async_step_e3dc_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the entry to another address (the same system: same serial number)."""
        entry = self._get_reconfigure_entry()
        result = E3dcProbeResult()
        data: dict[str, Any] = dict(entry.data)
        if user_input is not None:
            data = {**entry.data, **user_input, CONF_HOST: user_input[CONF_HOST].strip()}
            result = await async_test(data, serial=entry.unique_id)
            if result.info is not None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={CONF_HOST: data[CONF_HOST], CONF_PORT: data[CONF_PORT]},
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): str,
                vol.Required(CONF_PORT): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
            }
        )
        return self.async_show_form(
            step_id="e3dc_reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                {CONF_HOST: data[CONF_HOST], CONF_PORT: data.get(CONF_PORT, DEFAULT_PORT)},
            ),
            errors=result.errors,
            description_placeholders={"serial": entry.unique_id or ""}
            | _placeholders(data, result.error),
        )


class E3dcOptionsFlow(OptionsFlow):
    """Change the live interval, history import and frame capture."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the E3/DC options."""
        return await self.async_step_e3dc_options()

    async def async_step_e3dc_options(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Live interval, history import, frame capture."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                    CONF_IMPORT_STATISTICS: bool(user_input[CONF_IMPORT_STATISTICS]),
                    CONF_CAPTURE_FRAMES: bool(user_input[CONF_CAPTURE_FRAMES]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL,
                    default=options.get(
                        CONF_SCAN_INTERVAL, int(DEFAULT_LIVE_INTERVAL.total_seconds())
                    ),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_LIVE_INTERVAL_S,
                        max=MAX_LIVE_INTERVAL_S,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_IMPORT_STATISTICS, default=options.get(CONF_IMPORT_STATISTICS, True)
                ): BooleanSelector(),
                vol.Required(
                    CONF_CAPTURE_FRAMES, default=options.get(CONF_CAPTURE_FRAMES, False)
                ): BooleanSelector(),
            }
        )
        return self.async_show_form(step_id="e3dc_options", data_schema=schema)
