"""Asyncio client for DCS servers, on aiohttp with an injectable session.

One :class:`DcsClient` per server performs one HTTP transaction at a time (request *and* body),
as pythondcs does, to protect the server. It logs in again when the session cookie expires,
waits as long as a 429's ``Retry-After`` asks (within a bound), retries 502/503/504 with
backoff, and turns every failure into a typed :class:`~.errors.DcsError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.cookies import CookieError, SimpleCookie
import json
import socket
from typing import TYPE_CHECKING, Any, Final, Self, TypedDict, Unpack
from urllib.parse import urlencode, urlsplit

import aiohttp

from ..errors import SECRET_PASSWORD
from .codec import (
    DcsReadingsDecoder,
    Layout,
    ValueField,
    error_details,
    loads,
    parse_list,
    parse_meter,
    parse_user,
    parse_virtual_meter,
    v3_readings_params,
    web_api_readings_params,
)
from .errors import (
    DcsAuthenticationError,
    DcsBadRequestError,
    DcsConnectionError,
    DcsError,
    DcsForbiddenError,
    DcsMalformedResponseError,
    DcsNotFoundError,
    DcsRateLimitedError,
    DcsResponseError,
    DcsServerError,
    DcsTimeoutError,
    DcsTlsError,
)
from .models import (
    DcsApi,
    DcsFormat,
    DcsMeter,
    DcsPeriod,
    DcsReading,
    DcsReadingsHeader,
    DcsRegister,
    DcsSource,
    DcsTarget,
    DcsUser,
    DcsVirtualMeter,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Mapping
    import ssl

    from ..capture import FrameCallback

CHUNK_SIZE: Final = 1 << 14  # ~170 rows: batches (and peak memory) stay small
CAPTURE_BODY: Final = 512
# Our limit on a JSON answer read whole (meter lists, login, status): thousands of meters fit in
# a few MB; readings are streamed instead (codec.MAX_PENDING bounds what they buffer).
MAX_BODY_SIZE: Final = 16 << 20
MASK: Final = "***"
_COOKIE_PREFIX: Final = "COHERENT-DCS"  # COHERENT-DCS-API... (web API), COHERENT-DCSV3... (v3)
_RETRY_STATUSES: Final = frozenset({502, 503, 504})
_SECRET_FIELDS: Final = frozenset({"password", "username"})

# DcsPublicApiDescription.md (web API) and DCSApiDescription.md (v3) paths
_WEB_SIGNIN = "/authentication/signin"
_WEB_SIGNOUT = "/authentication/signout"
_V3_LOGIN = "/api/account/login/"
_V3_LOGOUT = "/api/account/logout/"


class DcsReadingOptions(TypedDict, total=False):
    """The reading options of :meth:`DcsClient.reading_batches`, for the methods built on it."""

    start: datetime | date | None
    end: datetime | date | None
    period_count: int | None
    period: DcsPeriod
    fmt: DcsFormat | None
    calibrated: bool
    interpolated: bool
    decimal_places: int
    use_local_time: bool
    source: DcsSource
    instantaneous: bool | None


@dataclass(kw_only=True)
class DcsClient:
    """Client for one DCS server (``url`` is the root the web UI or web API lives under)."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api: DcsApi = DcsApi.AUTO
    session: aiohttp.ClientSession | None = None
    verify_ssl: bool = True
    ssl_context: ssl.SSLContext | None = None
    request_timeout: float = 30.0
    max_retries: int = 3
    max_retry_after: float = 60.0
    max_window: timedelta = timedelta(days=365)
    on_frame: FrameCallback | None = None

    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _cookie: tuple[str, str] | None = field(default=None, init=False, repr=False)
    _api_in_use: DcsApi | None = field(default=None, init=False)
    _user: DcsUser | None = field(default=None, init=False)
    _close_session: bool = field(default=False, init=False, repr=False)
    _base: str = field(default="", init=False, repr=False)
    _host: str = field(default="", init=False, repr=False)
    _port: int | None = field(default=None, init=False, repr=False)
    last_header: DcsReadingsHeader | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Normalise the URL and remember host and port for error messages."""
        self._base = self.url.strip().rstrip("/")
        parts = urlsplit(self._base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"{self.url!r} is not an http:// or https:// URL"
            raise ValueError(msg)
        self._host = parts.hostname
        try:
            self._port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            msg = f"{self.url!r} has an invalid port"
            raise ValueError(msg) from err
        if self.api is not DcsApi.AUTO:
            self._api_in_use = self.api

    # --- life cycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Log in."""
        await self.login()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Log out and close what we opened."""
        await self.close()

    async def close(self) -> None:
        """Log out (errors ignored) and close the session if this client created it."""
        with contextlib.suppress(DcsError):
            await self.logout()
        if self.session is not None and self._close_session:
            await self.session.close()
            self.session = None

    @property
    def api_in_use(self) -> DcsApi | None:
        """Return the API generation detected (or configured); None before the first login."""
        return self._api_in_use

    @property
    def user(self) -> DcsUser | None:
        """Return the account of the current login."""
        return self._user

    @property
    def authenticated(self) -> bool:
        """Return True when a session cookie is held."""
        return self._cookie is not None

    # --- authentication -----------------------------------------------------------------------

    async def login(self) -> DcsUser:
        """Log in (choosing the API generation on first use) and return the account."""
        async with self._lock:
            return await self._login_locked()

    async def _login_locked(self) -> DcsUser:
        self._cookie = None
        if not self.username:
            # Unauthenticated ("public") web API: prove it answers.
            self._api_in_use = DcsApi.WEB_API
            await self._json_locked("GET", "/public/meters", what="meter list", auth=False)
            self._user = DcsUser(username="", role="public")
            return self._user
        order = [DcsApi.WEB_API, DcsApi.V3] if self._api_in_use is None else [self._api_in_use]
        for api in order:
            path = _WEB_SIGNIN if api is DcsApi.WEB_API else _V3_LOGIN
            try:
                body = await self._request_locked(
                    "POST",
                    path,
                    json_body={"username": self.username, "password": self.password or ""},
                    auth=False,
                )
            except DcsNotFoundError:
                continue  # not this API generation
            except (DcsBadRequestError, DcsForbiddenError) as err:
                raise self._auth_error(err.details) from err
            self._api_in_use = api
            self._user = parse_user(loads(body, "login answer"))
            if not self.authenticated:  # _take_cookie() set it, or the server sent none
                msg = f"the DCS server at {self._host} accepted the login but set no session cookie"
                raise DcsMalformedResponseError(msg, snippet=body[:CAPTURE_BODY])
            return self._user
        tried = ", ".join(_WEB_SIGNIN if a is DcsApi.WEB_API else _V3_LOGIN for a in order)
        msg = f"no DCS web API answers at {self._base} (tried {tried})"
        raise DcsNotFoundError(msg, status=404)

    def _auth_error(self, details: str) -> DcsAuthenticationError:
        text = f": {details}" if details else ""
        return DcsAuthenticationError(
            f"the DCS server at {self._host} rejected the username or password{text}",
            secret=SECRET_PASSWORD,
        )

    async def logout(self) -> None:
        """End the session on the server (the web API always answers 204)."""
        async with self._lock:
            if self._cookie is None:
                return
            path = _WEB_SIGNOUT if self._api_in_use is DcsApi.WEB_API else _V3_LOGOUT
            try:
                await self._request_locked("POST", path, auth=True, relogin=False)
            finally:
                self._cookie = None
                self._user = None

    # --- metadata -----------------------------------------------------------------------------

    async def meters(self) -> list[DcsMeter]:
        """Return every meter with its registers."""
        path = {DcsApi.WEB_API: "/meters", DcsApi.V3: "/api/Meters/"}[await self._api()]
        payload = await self._json("GET", self._public(path), what="meter list")
        return parse_list(payload, parse_meter, "meter list")

    async def meter(self, meter_id: int) -> DcsMeter:
        """Return one meter (the web API has no by-id endpoint: the list is filtered)."""
        if await self._api() is DcsApi.V3:
            payload = await self._json("GET", f"/api/Meters/{meter_id}", what="meter")
            return parse_meter(payload)
        for meter in await self.meters():
            if meter.id == meter_id:
                return meter
        msg = f"the DCS server at {self._host} has no meter with id {meter_id}"
        raise DcsNotFoundError(msg, status=404)

    async def registers(self) -> list[tuple[DcsMeter, DcsRegister]]:
        """Return every register with the meter it belongs to."""
        return [(meter, reg) for meter in await self.meters() for reg in meter.registers]

    async def register(self, register_id: int) -> tuple[DcsMeter, DcsRegister]:
        """Return one register (by its own id, not the meter's) and its meter."""
        for meter, reg in await self.registers():
            if reg.id == register_id:
                return meter, reg
        msg = f"the DCS server at {self._host} has no register with id {register_id}"
        raise DcsNotFoundError(msg, status=404)

    async def virtual_meters(self) -> list[DcsVirtualMeter]:
        """Return every virtual meter."""
        path = {DcsApi.WEB_API: "/virtualMeters", DcsApi.V3: "/api/VirtualMeters/"}[
            await self._api()
        ]
        payload = await self._json("GET", self._public(path), what="virtual meter list")
        return parse_list(payload, parse_virtual_meter, "virtual meter list")

    async def virtual_meter(self, vm_id: int) -> DcsVirtualMeter:
        """Return one virtual meter."""
        if await self._api() is DcsApi.V3:
            payload = await self._json("GET", f"/api/VirtualMeters/{vm_id}", what="virtual meter")
            return parse_virtual_meter(payload)
        for vm in await self.virtual_meters():
            if vm.id == vm_id:
                return vm
        msg = f"the DCS server at {self._host} has no virtual meter with id {vm_id}"
        raise DcsNotFoundError(msg, status=404)

    async def status(self) -> Any:
        """Return the web API's ``/status`` document (its shape is undocumented)."""
        return await self._json("GET", "/status", what="status")

    # pythondcspro's read-only extras: undocumented v3 endpoints the DCS web UI uses.

    async def meter_groups(self, group_id: int = 0, *, recursive: bool = True) -> Any:
        """Return the meter group tree (v3 API only)."""
        params = {"recursively": "true" if recursive else "false"}
        return await self._v3_json(f"/api/MeterGroups/{group_id}", params, "meter groups")

    async def meter_types(self) -> Any:
        """Return the meter types with their register types (v3 API only)."""
        return await self._v3_json("/api/MeterTypes/", None, "meter types")

    async def calibration_readings(self, register_id: int) -> Any:
        """Return a register's calibration readings (v3 API only)."""
        params = {"registerId": str(register_id), "startIndex": "0", "maxCount": "2147483647"}
        return await self._v3_json("/api/CalibrationReadings/", params, "calibration readings")

    async def idcs(self) -> Any:
        """Return the IDC data concentrators (v3 API only)."""
        return await self._v3_json("/api/Idcs/", None, "IDC list")

    async def _v3_json(self, path: str, params: dict[str, str] | None, what: str) -> Any:
        if await self._api() is not DcsApi.V3:
            msg = f"{what} is only available on the v3 (/api) DCS API, not the web API"
            raise DcsNotFoundError(msg, status=None)
        return await self._json("GET", path, params=params, what=what)

    # --- readings -----------------------------------------------------------------------------

    async def readings(
        self, target: DcsTarget | str, **options: Unpack[DcsReadingOptions]
    ) -> list[DcsReading]:
        """Return the readings of a register or virtual meter as one list.

        Takes the options of :meth:`reading_batches`.
        """
        result: list[DcsReading] = []
        async with contextlib.aclosing(self.reading_batches(target, **options)) as batches:
            async for batch in batches:
                result.extend(batch)
        return result

    async def reading_batches(
        self,
        target: DcsTarget | str,
        *,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        period_count: int | None = None,
        period: DcsPeriod = DcsPeriod.HALF_HOUR,
        fmt: DcsFormat | None = None,
        calibrated: bool = True,
        interpolated: bool = True,
        decimal_places: int = 15,
        use_local_time: bool = False,
        source: DcsSource = DcsSource.AUTOMATIC,
        instantaneous: bool | None = None,
    ) -> AsyncGenerator[list[DcsReading]]:
        """Stream readings in batches as the body arrives (memory independent of the range).

        Spans longer than ``max_window`` are fetched in consecutive requests, as pythondcs's
        ``largereadings`` does, because servers limit the range of one query. Options that
        only one API generation knows are ignored by the other (decimal places, local time
        and source are v3 only; ``fmt`` and ``period_count`` are web API only).
        Use with :func:`contextlib.aclosing` when you may stop early.
        """
        if isinstance(target, str):
            target = DcsTarget.parse(target)
        api = await self._api()
        for chunk_start, chunk_end in _windows(start, end, period, self.max_window):
            if api is DcsApi.WEB_API:
                if fmt is None:
                    fmt = DcsFormat.COMPLETE if target.kind == "register" else DcsFormat.STANDARD
                params = web_api_readings_params(
                    target,
                    start=_as_datetime(chunk_start),
                    end=_as_datetime(chunk_end),
                    period_count=period_count,
                    period=period,
                    fmt=fmt,
                    calibrated=calibrated,
                    interpolated=interpolated,
                )
                layout: Layout = "web_complete" if fmt is DcsFormat.COMPLETE else "web_standard"
                value_field: ValueField = (
                    "period" if target.kind == "virtual_meter" and not instantaneous else "total"
                )
                path = self._public("/readings")
            else:
                params = v3_readings_params(
                    target,
                    start=chunk_start,
                    end=chunk_end,
                    period=period,
                    calibrated=calibrated,
                    interpolated=interpolated,
                    decimal_places=decimal_places,
                    use_local_time=use_local_time,
                    source=source,
                )
                layout = "v3"
                value_field = "total" if target.kind == "register" or instantaneous else "period"
                path = (
                    "/api/registerReadings/list/"
                    if target.kind == "register"
                    else "/api/VirtualMeterReadings/list/"
                )
            async with contextlib.aclosing(
                self._stream(
                    path, params, layout, value_field, virtual=target.kind == "virtual_meter"
                )
            ) as stream:
                async for batch in stream:
                    yield batch

    async def _stream(
        self,
        path: str,
        params: dict[str, str],
        layout: Layout,
        value_field: ValueField,
        *,
        virtual: bool,
    ) -> AsyncGenerator[list[DcsReading]]:
        decoder = DcsReadingsDecoder(layout, value_field=value_field, virtual_meter=virtual)
        async with self._lock:
            response = await self._send_locked("GET", path, params=params, auth=True)
            restore = _bound_socket_reads(response)
            try:
                captured = False
                try:
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        if not captured:
                            self._capture_rx(response, chunk)
                            captured = True
                        rows = decoder.feed(chunk)
                        if rows:
                            yield rows
                except TimeoutError as err:
                    raise self._timeout_error() from err
                except aiohttp.ClientError as err:
                    msg = f"the connection to {self._host}:{self._port} broke mid-response: {err}"
                    raise DcsConnectionError(msg, host=self._host, port=self._port) from err
                rows = decoder.close()
                if layout != "v3":
                    self.last_header = decoder.header
                if rows:
                    yield rows
            finally:
                restore()
                response.release()

    # --- the request funnel -------------------------------------------------------------------

    async def _api(self) -> DcsApi:
        if self._api_in_use is None or (self.username and self._cookie is None):
            await self.login()
        assert self._api_in_use is not None  # noqa: S101 - login sets it or raises
        return self._api_in_use

    def _public(self, path: str) -> str:
        if self._api_in_use is DcsApi.WEB_API and not self.username:
            return f"/public{path}"
        return path

    async def _json(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, what: str
    ) -> Any:
        async with self._lock:
            return await self._json_locked(method, path, params=params, what=what)

    async def _json_locked(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        what: str,
        auth: bool = True,
    ) -> Any:
        body = await self._request_locked(method, path, params=params, auth=auth)
        return loads(body, what)

    async def _request_locked(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        auth: bool = True,
        relogin: bool = True,
    ) -> bytes:
        response = await self._send_locked(
            method, path, params=params, json_body=json_body, auth=auth, relogin=relogin
        )
        try:
            body = await _read_bounded(response)
        except TimeoutError as err:
            raise self._timeout_error() from err
        except aiohttp.ClientError as err:
            msg = f"the connection to {self._host}:{self._port} broke mid-response: {err}"
            raise DcsConnectionError(msg, host=self._host, port=self._port) from err
        finally:
            response.release()
        self._capture_rx(response, body)
        return body

    async def _send_locked(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        auth: bool = True,
        relogin: bool = True,
    ) -> aiohttp.ClientResponse:
        """Send until a 2xx arrives; map everything else to a typed error."""
        attempt = 0
        relogged = False
        while True:
            response = await self._send_once(method, path, params, json_body, auth=auth)
            status = response.status
            if status < 300:  # noqa: PLR2004
                if path in (_WEB_SIGNIN, _V3_LOGIN):
                    self._take_cookie(response)
                return response
            try:
                body = await response.content.read(64 * 1024)
            except (aiohttp.ClientError, TimeoutError):
                body = b""
            finally:
                response.release()
            self._capture_rx(response, body)
            details = error_details(body)
            if status == 401 and auth and relogin and self.username and not relogged:  # noqa: PLR2004
                # The session cookie expired: log in again once, then repeat the request.
                relogged = True
                await self._login_locked()
                continue
            if status == 429:  # noqa: PLR2004
                wait = _retry_after(response.headers, body)
                if attempt < self.max_retries and wait <= self.max_retry_after:
                    attempt += 1
                    await asyncio.sleep(wait)
                    continue
                msg = f"the DCS server at {self._host} is rate limiting (retry after {wait:g} s)"
                raise DcsRateLimitedError(msg, retry_after=wait, details=details)
            if status in _RETRY_STATUSES and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(0.25 * 2**attempt)
                continue
            raise self._status_error(status, path, details, params)

    def _status_error(  # noqa: PLR0911
        self, status: int, path: str, details: str, params: Mapping[str, str] | None
    ) -> DcsError:
        what = path
        if params and ("id" in params or "registerId" in params or "virtualMeterId" in params):
            ident = params.get("id") or params.get("registerId") or params.get("virtualMeterId")
            what = f"{path} for {ident}"
        text = f"{status} from {self._host} on {what}" + (f": {details}" if details else "")
        if status == 401:  # noqa: PLR2004
            if path in (_WEB_SIGNIN, _V3_LOGIN):
                return self._auth_error(details)
            return DcsAuthenticationError(
                f"the DCS server at {self._host} refused the session ({text})",
                secret=SECRET_PASSWORD,
            )
        if status == 400:  # noqa: PLR2004
            return DcsBadRequestError(text, status=status, details=details)
        if status == 403:  # noqa: PLR2004
            return DcsForbiddenError(text, status=status, details=details)
        if status in (404, 405):
            return DcsNotFoundError(text, status=status, details=details)
        if status >= 500:  # noqa: PLR2004
            return DcsServerError(text, status=status, details=details)
        return DcsResponseError(text, status=status, details=details)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
        *,
        auth: bool,
    ) -> aiohttp.ClientResponse:
        session = self._session()
        url = self._base + path
        headers = {"Accept": "application/json"}
        if auth and self._cookie is not None:
            headers["Cookie"] = f"{self._cookie[0]}={self._cookie[1]}"
        self._capture_tx(method, path, params, json_body)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.request_timeout, sock_read=self.request_timeout
        )
        try:
            async with asyncio.timeout(self.request_timeout):
                return await session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    ssl=self._ssl(),
                    timeout=timeout,
                    allow_redirects=False,
                    # bounded read-ahead: a year of readings never piles up in memory
                    read_bufsize=CHUNK_SIZE,
                )
        except TimeoutError as err:
            raise self._timeout_error() from err
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as err:
            msg = f"the TLS certificate of {self._host}:{self._port} could not be verified: {err}"
            raise DcsTlsError(msg, host=self._host, port=self._port) from err
        except aiohttp.ClientConnectorError as err:
            reason = err.os_error.strerror or str(err.os_error)
            msg = f"cannot connect to {self._host} port {self._port}: {reason}"
            raise DcsConnectionError(msg, host=self._host, port=self._port) from err
        except (aiohttp.ClientError, socket.gaierror, OSError) as err:
            msg = f"request to {self._host}:{self._port} failed: {err}"
            raise DcsConnectionError(msg, host=self._host, port=self._port) from err

    def _timeout_error(self) -> DcsTimeoutError:
        msg = f"{self._host}:{self._port} did not answer within {self.request_timeout:g} s"
        return DcsTimeoutError(msg, host=self._host, port=self._port)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            # Our own jar-less session: the session cookie is handled explicitly.
            self.session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
            self._close_session = True
        return self.session

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.ssl_context is not None:
            return self.ssl_context
        return self.verify_ssl

    def _take_cookie(self, response: aiohttp.ClientResponse) -> None:
        for header in response.headers.getall("Set-Cookie", []):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                if name.upper().startswith(_COOKIE_PREFIX):
                    self._cookie = (name, morsel.value) if morsel.value else None

    # --- raw-frame capture (secrets masked) ---------------------------------------------------

    def _capture_tx(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
    ) -> None:
        if self.on_frame is None:
            return
        line = f"{method} {path}" + (f"?{urlencode(params)}" if params else "")
        if json_body is not None:
            shown = {
                k: (MASK if k in ("password", "username") else v) for k, v in json_body.items()
            }
            line += "\r\n\r\n" + json.dumps(shown)
        self.on_frame("tx", line.encode())

    def _capture_rx(self, response: aiohttp.ClientResponse, body: bytes) -> None:
        if self.on_frame is None:
            return
        head = [f"HTTP {response.status} {response.reason or ''}".rstrip()]
        for name, value in response.headers.items():
            shown = value
            if name.lower() == "set-cookie":
                shown = value.split("=", 1)[0] + "=" + MASK
            head.append(f"{name}: {shown}")
        self.on_frame("rx", ("\r\n".join(head) + "\r\n\r\n").encode() + body[:CAPTURE_BODY])


def _bound_socket_reads(response: aiohttp.ClientResponse) -> Callable[[], None]:
    """Make the transport read at most CHUNK_SIZE per receive while a body streams.

    asyncio's socket transport receives up to 256 KiB at once; with a fast server that would be
    the peak memory of every long readings download, whatever its length. Returns the function
    that puts the transport back as it was (it goes back to the connection pool). Transports
    without the knob are left alone.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    before = getattr(transport, "max_size", None)
    if transport is None or not isinstance(before, int):
        return lambda: None
    transport.max_size = CHUNK_SIZE  # type: ignore[attr-defined]

    def restore() -> None:
        transport.max_size = before  # type: ignore[attr-defined]

    return restore


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """Read a whole body, refusing one larger than :data:`MAX_BODY_SIZE` before buffering it."""
    if (response.content_length or 0) > MAX_BODY_SIZE:
        msg = f"answer of {response.content_length} bytes exceeds our limit of {MAX_BODY_SIZE}"
        raise DcsMalformedResponseError(msg)
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
        body += chunk
        if len(body) > MAX_BODY_SIZE:
            msg = f"answer runs past our limit of {MAX_BODY_SIZE} bytes"
            raise DcsMalformedResponseError(msg)
    return bytes(body)


def _retry_after(headers: Mapping[str, str], body: bytes) -> float:
    """Return the wait a 429 asks for: ``Retry-After`` ("3" or "3s"), else backOffSuggestion."""
    raw = headers.get("Retry-After", "").strip().rstrip("sS")
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    with contextlib.suppress(
        ValueError, UnicodeDecodeError, TypeError, AttributeError, OverflowError, RecursionError
    ):
        suggestion = json.loads(body).get("backOffSuggestion")
        return max(0.0, float(suggestion))
    return 1.0


def _as_datetime(value: datetime | date | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _windows(
    start: datetime | date | None,
    end: datetime | date | None,
    period: DcsPeriod,
    max_window: timedelta,
) -> list[tuple[datetime | date | None, datetime | date | None]]:
    """Split [start, end) into period-aligned windows no longer than ``max_window``."""
    if start is None or end is None:
        return [(start, end)]
    begin, stop = _as_datetime(start), _as_datetime(end)
    assert begin is not None  # noqa: S101
    assert stop is not None  # noqa: S101
    if stop <= begin:
        msg = f"end {stop.isoformat()} is not after start {begin.isoformat()}"
        raise ValueError(msg)
    if stop - begin <= max_window:
        return [(start, end)]
    windows: list[tuple[datetime | date | None, datetime | date | None]] = []
    if period is DcsPeriod.MONTH:
        months = max(1, max_window.days // 31)
        cursor = begin
        while cursor < stop:
            year, month = divmod(cursor.month - 1 + months, 12)
            nxt = min(stop, cursor.replace(year=cursor.year + year, month=month + 1))
            windows.append((cursor, nxt))
            cursor = nxt
        return windows
    unit = period.fixed_length or timedelta(days=1)
    step = max(unit, (max_window // unit) * unit)
    if period is not DcsPeriod.WEEK:
        step = (
            max(unit, (step // timedelta(days=1)) * timedelta(days=1))
            if step >= timedelta(days=1)
            else step
        )
    cursor = begin
    while cursor < stop:
        nxt = min(stop, cursor + step)
        windows.append((cursor, nxt))
        cursor = nxt
    return windows
