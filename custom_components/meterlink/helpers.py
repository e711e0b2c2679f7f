"""Helpers shared by every MeterLink system: error translation, counters, serial ports."""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import re
from typing import TYPE_CHECKING, Any, Concatenate, Final
from urllib.parse import urlsplit, urlunsplit

from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN, LOGGER
from .protocols.errors import (
    MeterLinkAuthenticationError,
    MeterLinkConnectionError,
    MeterLinkError,
    MeterLinkProtocolError,
    MeterLinkResponseError,
    MeterLinkTimeoutError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

    from homeassistant.core import HomeAssistant

    from .entity import MeterLinkEntity

# --- errors -----------------------------------------------------------------------------------


def error_translation(err: MeterLinkError) -> tuple[str, dict[str, str]]:
    """Return the translation key and placeholders that say what went wrong."""
    placeholders = {"error": str(err) or type(err).__name__}
    if isinstance(err, MeterLinkAuthenticationError):
        return "invalid_auth", placeholders | {"secret": err.secret}
    if isinstance(err, MeterLinkTimeoutError):
        return "timeout", placeholders
    if isinstance(err, MeterLinkConnectionError):
        return "cannot_connect", placeholders
    if isinstance(err, MeterLinkProtocolError):
        return "malformed_response", placeholders
    if isinstance(err, MeterLinkResponseError):
        return "device_error", placeholders
    return "unknown_error", placeholders


def translated_error(err: MeterLinkError) -> HomeAssistantError:
    """Return a translated HomeAssistantError for a protocol error."""
    key, placeholders = error_translation(err)
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def meterlink_exception_handler[EntityT: MeterLinkEntity[Any], **P](
    func: Callable[Concatenate[EntityT, P], Coroutine[Any, Any, Any]],
) -> Callable[Concatenate[EntityT, P], Coroutine[Any, Any, None]]:
    """Turn protocol errors of an entity command into translated Home Assistant errors.

    An authentication error also schedules a reload of the entry, which starts reauth.
    """

    async def handler(self: EntityT, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await func(self, *args, **kwargs)
        except MeterLinkAuthenticationError as err:
            entry = self.coordinator.config_entry
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            raise translated_error(err) from err
        except MeterLinkError as err:
            raise translated_error(err) from err

    return handler


async def call_translated[T](awaitable: Awaitable[T]) -> T:
    """Await a protocol call, turning its errors into translated Home Assistant errors."""
    try:
        return await awaitable
    except MeterLinkError as err:
        raise translated_error(err) from err


# --- cumulative counters ----------------------------------------------------------------------


@dataclass
class CounterGuard:
    """Keep a cumulative energy counter from stepping backwards into the Energy dashboard.

    Home Assistant reads any decrease of a ``total_increasing`` sensor as a meter reset, so a
    glitch (a stale cache, a rounding flip) would add the whole counter again. A backward step
    is logged and dropped; it is accepted as a real reset only when the device flags a reset,
    or when ``confirm`` *different* readings in a row (told apart by ``stamp``, e.g. the
    reading's time) are all lower: a replaced or cleared meter. Seeing the same glitchy reading
    again (another poll, a recovery) does not count twice.
    """

    name: str
    confirm: int = 3
    last: float | None = None
    _backward: int = 0
    _last_stamp: object = None

    def accept(
        self, value: float | None, *, reset: bool = False, stamp: object = None
    ) -> float | None:
        """Return the value to publish for a new reading."""
        if value is None:
            return None
        if self.last is None or value >= self.last:
            self.last = value
            self._backward = 0
            return value
        if reset:
            LOGGER.info("%s: meter reset from %s to %s", self.name, self.last, value)
            self.last = value
            self._backward = 0
            return value
        if stamp is None or stamp != self._last_stamp:
            self._backward += 1
            self._last_stamp = stamp
        if self._backward >= self.confirm:
            LOGGER.warning(
                "%s: counter stayed below %s for %s readings; taking %s as a meter reset",
                self.name,
                self.last,
                self._backward,
                value,
            )
            self.last = value
            self._backward = 0
            return value
        LOGGER.warning(
            "%s: counter stepped backwards from %s to %s; reading dropped",
            self.name,
            self.last,
            value,
        )
        return self.last


# --- serial ports -----------------------------------------------------------------------------

BY_ID_DIR: Final = Path("/dev/serial/by-id")
_URL_SCHEMES: Final = ("socket://", "rfc2217://")
_HOST_PORT: Final = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")


@dataclass(frozen=True, kw_only=True)
class SerialPortOption:
    """A serial port as the flows offer it: the stable path and what the kernel calls it."""

    path: str  # /dev/serial/by-id/... when the device has one
    device: str  # /dev/ttyUSB0
    description: str = ""

    @property
    def label(self) -> str:
        """Return the text shown in the picker."""
        extra = f" ({self.device})" if self.device != self.path else ""
        desc = f" - {self.description}" if self.description else ""
        return f"{self.path}{extra}{desc}"


def list_serial_ports(
    by_id_dir: Path = BY_ID_DIR, devices: list[tuple[str, str]] | None = None
) -> list[SerialPortOption]:
    """Return the serial ports, each by its stable /dev/serial/by-id path where it has one.

    Blocking (reads /dev): call it in the executor. ``devices`` is (device, description) pairs;
    by default pyserial's port list.
    """
    if devices is None:
        from serial.tools import list_ports  # noqa: PLC0415 - blocking import, executor only

        devices = [(p.device, p.description or "") for p in list_ports.comports()]
    by_device: dict[str, str] = {}
    if by_id_dir.is_dir():
        for link in sorted(by_id_dir.iterdir()):
            by_device.setdefault(os.path.realpath(link), str(link))
    options = [
        SerialPortOption(
            path=by_device.get(os.path.realpath(dev), dev),
            device=dev,
            description=desc if desc not in ("n/a", dev) else "",
        )
        for dev, desc in devices
    ]
    return sorted(options, key=lambda o: o.path)


async def async_list_serial_ports(hass: HomeAssistant) -> list[SerialPortOption]:
    """Return the serial ports without blocking the event loop."""
    return await hass.async_add_executor_job(list_serial_ports)


def normalise_serial_url(text: str) -> str:
    """Return a serial port path or bridge URL in canonical form, or raise ValueError.

    Accepts a device path (``/dev/serial/by-id/...``, ``/dev/ttyUSB0``, ``COM3``), a TCP
    serial bridge as ``socket://host:port`` or ``rfc2217://host:port``, and a bare
    ``host:port`` (taken as ``socket://``).
    """
    value = text.strip()
    if not value:
        msg = "no serial port or bridge address given"
        raise ValueError(msg)
    lower = value.lower()
    for scheme in _URL_SCHEMES:
        if lower.startswith(scheme):
            rest = value[len(scheme) :].split("?", 1)[0]
            _check_host_port(rest, value)
            return scheme + value[len(scheme) :]
    if value.startswith("/") or re.fullmatch(r"COM\d+", value, re.IGNORECASE):
        return value
    if "://" in value:
        msg = f"{value!r}: only socket:// and rfc2217:// bridges are supported"
        raise ValueError(msg)
    _check_host_port(value, value)
    return f"socket://{value}"


def _check_host_port(host_port: str, original: str) -> None:
    match = _HOST_PORT.match(host_port)
    if match is None:
        msg = f"{original!r} is not a serial port path or a host:port bridge address"
        raise ValueError(msg)
    port = int(match.group("port"))
    if not 0 < port < 65536:  # noqa: PLR2004
        msg = f"{original!r}: port {port} is outside 1-65535"
        raise ValueError(msg)


# --- URLs -------------------------------------------------------------------------------------


def normalise_http_url(text: str) -> str:
    """Return an http(s) URL without trailing slash, user info or query, or raise ValueError."""
    value = text.strip()
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        msg = f"{text!r} is not an http:// or https:// address"
        raise ValueError(msg)
    try:
        port = parts.port
    except ValueError as err:
        msg = f"{text!r} has an invalid port"
        raise ValueError(msg) from err
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
