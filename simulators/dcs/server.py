"""aiohttp fake of a Coherent Research DCS server: NEW "DcsWebApi" API at the root, OLD API at /api.

Facts come from the MeterLink DCS fact sheet (shared docs, protocols/dcs.md, cited as §n), which
cites DcsPublicApiDescription.md, DCSApiDescription.md and pythondcs 1.1.1. Every path is
matched case-insensitively (IIS routing), with or without a trailing slash. Test hooks live under
``<prefix>/_sim/`` and are neither counted nor subject to faults. Readings semantics are in
``simulators.dcs.readings``.

Choices where the sources are silent (documented, so clients do not depend on more):

* bad credentials -> 401 ``{"details"}`` on both APIs; unknown register / virtual meter id in a
  readings query -> 400; unknown id on an OLD ``/api/<Thing>/{id}`` endpoint -> 404;
* ``GET /status`` (shape undocumented) answers ``{"status", "appVersion", "serverTime",
  "privateEndPointEnabled", "publicEndPointEnabled"}`` without authentication;
* ``readingDuration`` is in minutes (0 for registers and instantaneous VMs; month = 43200);
  ``duration_key="duration"`` switches to the key name of the spec sample;
* injected 500s carry ``{"details"}``; injected 502/503/504 carry an HTML body, as a gateway;
* sign-out (204) and OLD log-out (204) cancel the token and send an expired empty cookie;
  sessions survive ``set_credentials``; they expire via ``expire_sessions()``,
  ``faults.expire_after`` or ``session_ttl_s`` (measured on the injectable clock);
* rate limiting is a fixed window per endpoint group ("private", "public", "old", "open");
  ``Retry-After`` is an integer number of seconds (urllib3 cannot parse the spec's "3s");
* ``stats.requests`` is keyed by canonical route name (e.g. ``/readings``,
  ``/api/registerReadings/list``, ``/api/Meters/{id}``), whatever case the client used.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo
import json
import math
from pathlib import Path
import re
import secrets
import shutil
import tempfile
from typing import Any, Self
import zlib
from zoneinfo import ZoneInfo

from aiohttp import web

from .model import (
    SLOT_S,
    SimRegister,
    SimVirtualMeter,
    boundary,
    build_site,
)
from .readings import (
    PERIOD_NAMES,
    ReadingQuery,
    is_aligned,
    new_api_body,
    old_api_body,
    step,
)
from .tls import server_context, write_self_signed

NEW_COOKIE_PREFIX = "COHERENT-DCS-API"  # §1: the NEW API cookie name starts with this
OLD_COOKIE_PREFIX = "COHERENT-DCSV3"  # §1: the OLD API cookie name starts with this
NEW_COOKIE = NEW_COOKIE_PREFIX + "-TOKEN"
OLD_COOKIE = OLD_COOKIE_PREFIX + "-AUTH"
APP_VERSION = "3.0.0"  # §1 signin sample
ROLE = "Operator"  # §1 roles seen: Operator, Viewer
LONDON = ZoneInfo("Europe/London")  # §3/§6 OLD API useLocalTime: UK GMT/BST
CHUNK_BYTES = 64 * 1024
MAX_PERIOD_COUNT = 10_000_000
MALFORMED_ROWS = {  # what ``malformed_next`` puts after the header, per API generation
    "]}": '{"timestamp":"oops","value":}',
    "]": '{"id":0,"startTime":"oops","totalValue":}',
}
_ID_RE = re.compile(r"^(r|vm)(\d+)$", re.IGNORECASE)
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$")
_TRUE_FALSE = {"true": True, "false": False}
_OLD_DEFAULT_SPAN = {  # §3 OLD API: `end` defaults to 1 day / 1 week / 1 month after `start`
    "halfhour": "day",
    "hour": "day",
    "day": "day",
    "week": "week",
    "month": "month",
}

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequestError(Exception):
    """A request the server rejects with 400 and a ``details`` message."""


@dataclass(kw_only=True)
class DcsFaults:
    """Mutable fault switches; counters are consumed one per affected request."""

    fail_500: int = 0  # answer the next N requests with ``fail_status``
    fail_status: int = 500  # 500, 502, 503 or 504
    expire_after: int | None = None  # expire all sessions after K more authenticated requests
    rate_limit_429: int = 0  # answer the next N requests with 429 + Retry-After
    retry_after_s: int = 1  # Retry-After / backOffSuggestion seconds
    delay_s: float = 0.0  # sleep before answering every request
    truncate_next: bool = False  # cut the next readings body mid-row and close the connection
    malformed_next: bool = False  # corrupt the next JSON 200 body (still fully delivered)
    nan_values: bool = False  # first three readings carry "NaN", "Infinity", "-Infinity"
    rate_limit_per_s: int = 0  # 0 = off; else N requests per window per endpoint group
    rate_limit_window_s: float = 1.0
    forbidden_ids: set[str] = field(default_factory=set)  # e.g. {"R735", "VM10"} -> 403

    def update(self, values: dict[str, Any]) -> None:
        """Set the named fields from a JSON object (unknown names or wrong types: 400)."""
        names = {f.name for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in names:
                msg = f"unknown fault {key!r}; known: {sorted(names)}"
                raise BadRequestError(msg)
            checked[key] = self._checked(key, value)
        for key, value in checked.items():
            setattr(self, key, value)

    def _checked(self, key: str, value: Any) -> Any:
        """Return ``value`` converted to the type of field ``key``, or raise BadRequestError."""
        current = getattr(self, key)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key == "forbidden_ids" and isinstance(value, list):
            return {str(v).upper() for v in value}
        if key == "expire_after" and (value is None or (number and value == int(value))):
            return None if value is None else int(value)
        if isinstance(current, bool) and isinstance(value, bool):
            return value
        if isinstance(current, int) and not isinstance(current, bool) and number:
            if value == int(value):
                return int(value)
        elif isinstance(current, float) and number:
            return float(value)
        msg = f"fault {key!r} cannot be set to {value!r}"
        raise BadRequestError(msg)

    def to_json(self) -> dict[str, Any]:
        """Return the faults as a JSON-ready dict."""
        out = asdict(self)
        out["forbidden_ids"] = sorted(self.forbidden_ids)
        return out


@dataclass(kw_only=True)
class DcsStats:
    """What the simulator saw: per-route request counts, logins, concurrency per session cookie."""

    requests: Counter[str] = field(default_factory=Counter)
    logins: int = 0
    login_failures: int = 0
    logouts: int = 0
    max_concurrent: int = 0  # max in-flight requests carrying the same session cookie
    max_concurrent_any: int = 0  # max in-flight requests overall (cookies or not)
    in_flight: Counter[str] = field(default_factory=Counter)
    in_flight_any: int = 0

    def to_json(self) -> dict[str, Any]:
        """Return the statistics as a JSON-ready dict."""
        return {
            "requests": dict(self.requests),
            "logins": self.logins,
            "login_failures": self.login_failures,
            "logouts": self.logouts,
            "max_concurrent": self.max_concurrent,
            "max_concurrent_any": self.max_concurrent_any,
        }


@dataclass(kw_only=True, slots=True)
class _Session:
    """A signed-in session (one cookie value)."""

    api: str  # "new" or "old"
    username: str
    created: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class _Route:
    """One routable endpoint."""

    name: str  # canonical path used as the stats key
    method: str
    handler: Handler
    group: str  # "private", "public", "old", "open"
    auth: str | None  # session api required ("new"/"old") or None


def _details(status: int, message: str, **extra: Any) -> web.Response:
    """Return an error response with the §4 body ``{"details": ...}``."""
    return web.json_response({"details": message, **extra}, status=status)


def _parse_bool(query: dict[str, str], name: str, default: bool) -> bool:
    """Parse a case-insensitive true/false query parameter (pythondcs sends ``True``, §3)."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return _TRUE_FALSE[raw.lower()]
    except KeyError:
        msg = f"{name} must be true or false, got {raw!r}"
        raise BadRequestError(msg) from None


def _parse_enum(query: dict[str, str], name: str, default: str, allowed: Iterable[str]) -> str:
    """Parse a case-insensitive enum query parameter; return its lower-case form."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    value = raw.lower()
    options = list(allowed)
    if value not in options:
        msg = f"{name} must be one of {', '.join(options)}, got {raw!r}"
        raise BadRequestError(msg)
    return value


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    """Parse a non-negative integer query parameter."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdecimal():
        msg = f"{name} must be a non-negative integer, got {raw!r}"
        raise BadRequestError(msg)
    return int(raw)


def _parse_new_time(query: dict[str, str], name: str) -> datetime | None:
    """Parse a NEW API UTC time ``yyyy-MM-ddTHH:mm:ss[.f]Z`` (naive = UTC, offsets converted)."""
    raw = query.get(name)
    if raw is None:
        return None
    if not _TIME_RE.match(raw):
        msg = f"{name} must be yyyy-MM-ddTHH:mm:ssZ, got {raw!r}"
        raise BadRequestError(msg)
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        msg = f"{name} is not a valid date/time: {raw!r}"
        raise BadRequestError(msg) from None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)


def _parse_old_time(raw: str, name: str, zone: tzinfo) -> datetime:
    """Parse an OLD API ``start``/``end``: a date or an ISO date-time (naive = ``zone``)."""
    try:
        if "T" not in raw and " " not in raw:
            return datetime.combine(date.fromisoformat(raw), time(), zone)
        ts = datetime.fromisoformat(raw)
    except ValueError:
        msg = f"{name} is not a valid date or date/time: {raw!r}"
        raise BadRequestError(msg) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=zone)


def _floor(ts: datetime, period: str, zone: tzinfo) -> datetime:
    """Floor an aware time to the start of its half-hour, hour or (``zone``) day."""
    if period == "day":
        local = ts.astimezone(zone)
        return datetime.combine(local.date(), time(), zone)
    width = SLOT_S * (2 if period == "hour" else 1)
    return datetime.fromtimestamp(int(ts.timestamp()) // width * width, UTC)


class DcsSimulator:
    """A fake Coherent Research DCS server on a real socket (both API generations)."""

    def __init__(
        self,
        *,
        username: str = "demo",
        password: str = "demo-password",  # noqa: S107 - the simulator's demo account
        prefix: str = "",
        tls: bool = False,
        clock: Callable[[], datetime] | None = None,
        extra_meters: int = 0,
        extra_registers_per_meter: int = 1,
        range_limit_days: int = 0,
        public_enabled: bool = True,
        private_enabled: bool = True,
        gzip: bool = False,
        gap_slots: Iterable[datetime] = (),
        resets: dict[int, datetime] | None = None,
        duration_key: str = "readingDuration",
        session_ttl_s: float | None = None,
    ) -> None:
        """Build the site; nothing listens until ``start()``."""
        self._username = username
        self._password = password
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.tls = tls
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.range_limit_days = range_limit_days
        self.public_enabled = public_enabled
        self.private_enabled = private_enabled
        self.gzip = gzip
        self.duration_key = duration_key
        self.session_ttl_s = session_ttl_s  # cookie expiry, measured on ``clock``
        self.faults = DcsFaults()
        self.stats = DcsStats()
        self.meters, self.virtual_meters = build_site(
            extra_meters=extra_meters,
            extra_registers_per_meter=extra_registers_per_meter,
            resets=resets,
        )
        self.registers: dict[int, SimRegister] = {
            reg.id: reg for meter in self.meters for reg in meter.registers
        }
        self._vms: dict[int, SimVirtualMeter] = {vm.id: vm for vm in self.virtual_meters}
        self.gap_slots: tuple[int, ...] = ()
        self.set_gaps(gap_slots)
        self._sessions: dict[str, _Session] = {}
        self._rate_windows: dict[str, tuple[float, int]] = {}
        self._runner: web.AppRunner | None = None
        self._tmpdir: Path | None = None
        self.cert_path: str | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ public Python API

    @property
    def url(self) -> str:
        """Root URL of the NEW API (the OLD API is at ``url + "/api"``)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{self.prefix}"

    @property
    def username(self) -> str:
        """The accepted username."""
        return self._username

    @property
    def password(self) -> str:
        """The accepted password."""
        return self._password

    def set_credentials(self, username: str, password: str) -> None:
        """Change the accepted credentials (existing sessions stay valid)."""
        self._username, self._password = username, password

    def expire_sessions(self) -> None:
        """Invalidate every session now: the next authenticated request gets 401."""
        self._sessions.clear()

    def set_gaps(self, slots: Iterable[datetime]) -> None:
        """Set the half-hour slots (period starts) missing from cumulative registers."""
        self.gap_slots = tuple(sorted({boundary(ts) for ts in slots}))

    def now_boundary(self) -> int:
        """Return the boundary index of the end of the last complete half-hour."""
        return math.floor(self.clock().timestamp() / SLOT_S)

    def register(self, register_id: int) -> SimRegister:
        """Return a register by id (``KeyError`` if unknown)."""
        return self.registers[register_id]

    def register_total(self, register_id: int, ts: datetime, calibrated: bool = False) -> float:
        """Ground truth: the total of a cumulative register at a half-hour boundary ``ts``."""
        seconds = ts.timestamp()
        if seconds % SLOT_S:
            msg = f"{ts.isoformat()} is not a half-hour boundary"
            raise ValueError(msg)
        return self.registers[register_id].total(boundary(ts), calibrated)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 = a free port)."""
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        ssl_context = None
        if self.tls:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="dcs-sim-tls-"))
            cert, key = write_self_signed(self._tmpdir, host)
            self.cert_path = str(cert)
            ssl_context = server_context(cert, key)
        # handler_cancellation: a client that gives up (timeout) must not leave a handler behind
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        self.host = host
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening and remove the temporary TLS files."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def __aenter__(self) -> Self:
        """Start on 127.0.0.1 and a free port."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server."""
        await self.stop()

    # ------------------------------------------------------------------ routing

    def _build_routes(self) -> dict[str, _Route]:
        """Return the routing table keyed by lower-case path without trailing slash."""
        routes: list[_Route] = [
            _Route(
                name="/authentication/signin",
                method="POST",
                handler=self._new_signin,
                group="private",
                auth=None,
            ),
            _Route(
                name="/authentication/signout",
                method="POST",
                handler=self._new_signout,
                group="private",
                auth=None,
            ),
            _Route(name="/status", method="GET", handler=self._status, group="open", auth=None),
            _Route(
                name="/api/account/login",
                method="POST",
                handler=self._old_login,
                group="old",
                auth=None,
            ),
            _Route(
                name="/api/account/logout",
                method="POST",
                handler=self._old_logout,
                group="old",
                auth=None,
            ),
            _Route(
                name="/api/Meters", method="GET", handler=self._old_meters, group="old", auth="old"
            ),
            _Route(
                name="/api/VirtualMeters",
                method="GET",
                handler=self._old_vms,
                group="old",
                auth="old",
            ),
            _Route(
                name="/api/registerReadings/list",
                method="GET",
                handler=self._old_register_readings,
                group="old",
                auth="old",
            ),
            _Route(
                name="/api/VirtualMeterReadings/list",
                method="GET",
                handler=self._old_vm_readings,
                group="old",
                auth="old",
            ),
            _Route(
                name="/api/MeterTypes",
                method="GET",
                handler=self._old_meter_types,
                group="old",
                auth="old",
            ),
            _Route(
                name="/api/CalibrationReadings",
                method="GET",
                handler=self._old_calibration,
                group="old",
                auth="old",
            ),
            _Route(name="/api/Idcs", method="GET", handler=self._old_idcs, group="old", auth="old"),
        ]
        for group, base, auth in (("private", "", "new"), ("public", "/public", None)):
            routes.extend(
                [
                    _Route(
                        name=f"{base}/meters",
                        method="GET",
                        handler=self._new_meters,
                        group=group,
                        auth=auth,
                    ),
                    _Route(
                        name=f"{base}/virtualMeters",
                        method="GET",
                        handler=self._new_vms,
                        group=group,
                        auth=auth,
                    ),
                    _Route(
                        name=f"{base}/readings",
                        method="GET",
                        handler=self._new_readings,
                        group=group,
                        auth=auth,
                    ),
                ]
            )
        return {route.name.lower(): route for route in routes}

    _ID_ROUTES = (  # OLD API endpoints with a trailing numeric id
        ("/api/meters/", "/api/Meters/{id}"),
        ("/api/virtualmeters/", "/api/VirtualMeters/{id}"),
        ("/api/metergroups/", "/api/MeterGroups/{id}"),
        ("/api/metertypes/", "/api/MeterTypes/{id}"),
        ("/api/idcs/", "/api/Idcs/{id}"),
    )

    def _resolve(self, rel: str) -> tuple[_Route | None, str | None]:
        """Find the route of a prefix-relative path; return it and a trailing id, if any."""
        low = rel.lower().rstrip("/") or "/"
        route = self._routes.get(low)
        if route is not None:
            return route, None
        for start, name in self._ID_ROUTES:
            if low.startswith(start) and low[len(start) :].isdecimal():
                handler = {
                    "/api/Meters/{id}": self._old_meters,
                    "/api/VirtualMeters/{id}": self._old_vms,
                    "/api/MeterGroups/{id}": self._old_meter_groups,
                    "/api/MeterTypes/{id}": self._old_meter_types,
                    "/api/Idcs/{id}": self._old_idcs,
                }[name]
                route = _Route(name=name, method="GET", handler=handler, group="old", auth="old")
                return route, low[len(start) :]
        return None, None

    def _session_key(self, request: web.Request) -> str | None:
        """Return the value of the request's DCS session cookie, if any."""
        for name, value in request.cookies.items():
            if name.startswith("COHERENT-"):
                return value
        return None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """Route a request, applying statistics, faults, rate limits and authentication."""
        path = request.path
        if self.prefix:
            if not path.lower().startswith(self.prefix.lower()):
                return _details(404, f"no such path {path}")
            path = path[len(self.prefix) :]
        if path.lower().startswith("/_sim/"):
            return await self._sim_hook(request, path.lower().rstrip("/"))
        route, item_id = self._resolve(path)
        if route is None:
            return _details(404, f"no such path {path}")
        if (route.group == "public" and not self.public_enabled) or (
            route.group == "private" and not self.private_enabled
        ):
            return _details(404, f"{route.name} is not enabled on this server")
        if request.method != route.method:
            return _details(405, f"{route.name} only accepts {route.method}")
        self.stats.requests[route.name] += 1
        key = self._session_key(request)
        stats = self.stats
        stats.in_flight_any += 1
        stats.max_concurrent_any = max(stats.max_concurrent_any, stats.in_flight_any)
        if key is not None:
            stats.in_flight[key] += 1
            stats.max_concurrent = max(stats.max_concurrent, stats.in_flight[key])
        try:
            return await self._faulted(request, route, item_id)
        finally:
            stats.in_flight_any -= 1
            if key is not None:
                stats.in_flight[key] -= 1
                if not stats.in_flight[key]:
                    del stats.in_flight[key]

    async def _faulted(
        self, request: web.Request, route: _Route, item_id: str | None
    ) -> web.StreamResponse:
        """Apply the injected faults, then authentication, then call the handler."""
        if self.faults.delay_s > 0:
            await asyncio.sleep(self.faults.delay_s)
        refused = self._injected(request, route)
        if refused is not None:
            return refused
        request["item_id"] = item_id
        try:
            return await route.handler(request)
        except BadRequestError as err:
            return _details(400, str(err))

    def _injected(self, request: web.Request, route: _Route) -> web.Response | None:
        """Return the response of an injected fault, rate limit or failed authentication."""
        faults = self.faults
        if faults.fail_500 > 0:
            faults.fail_500 -= 1
            if faults.fail_status == 500:
                return _details(500, "Internal server error (injected by the simulator)")
            return web.Response(
                status=faults.fail_status,
                text=f"<html><body>{faults.fail_status} gateway error (injected)</body></html>",
                content_type="text/html",
            )
        if faults.rate_limit_429 > 0:
            faults.rate_limit_429 -= 1
            return self._too_many(faults.retry_after_s)
        limited = self._rate_limit(request, route.group)
        if limited is not None:
            return limited
        if route.auth is not None:
            return self._authenticate(request, route.auth)
        return None

    def _too_many(self, seconds: int) -> web.Response:
        """Return a 429 with Retry-After and ``backOffSuggestion`` (fact sheet §5)."""
        response = _details(429, "Too many requests, please slow down", backOffSuggestion=seconds)
        response.headers["Retry-After"] = str(seconds)
        return response

    def _rate_limit(self, request: web.Request, group: str) -> web.Response | None:
        """Apply the per-endpoint-group fixed-window rate limit; stash X-Rate-Limit headers."""
        limit = self.faults.rate_limit_per_s
        if limit <= 0:
            return None
        loop = asyncio.get_running_loop()
        window = self.faults.rate_limit_window_s
        now = loop.time()
        started, count = self._rate_windows.get(group, (now, 0))
        if now - started >= window:
            started, count = now, 0
        if count >= limit:
            return self._too_many(max(1, math.ceil(started + window - now)))
        self._rate_windows[group] = (started, count + 1)
        reset = datetime.now(UTC) + timedelta(seconds=started + window - now)
        request["extra_headers"] = {
            "X-Rate-Limit-Limit": f"{window:g}s",
            "X-Rate-Limit-Remaining": str(limit - count - 1),
            "X-Rate-Limit-Reset": reset.isoformat().replace("+00:00", "Z"),
        }
        return None

    def _authenticate(self, request: web.Request, api: str) -> web.Response | None:
        """Check the session cookie of ``api``; handle ``expire_after``; 401 when invalid."""
        cookie_prefix = NEW_COOKIE_PREFIX if api == "new" else OLD_COOKIE_PREFIX
        token = next((v for k, v in request.cookies.items() if k.startswith(cookie_prefix)), None)
        session = self._sessions.get(token or "")
        ttl = self.session_ttl_s
        if (
            session is not None
            and ttl is not None
            and self.clock() - session.created > timedelta(seconds=ttl)
        ):
            del self._sessions[token or ""]
            session = None
        if session is None or session.api != api:
            return _details(401, "Missing, invalid or expired authentication token")
        faults = self.faults
        if faults.expire_after is not None:
            if faults.expire_after <= 0:
                faults.expire_after = None
                self.expire_sessions()
                return _details(401, "Authentication token has expired")
            faults.expire_after -= 1
        return None

    # ------------------------------------------------------------------ response helpers

    def _gzip_ok(self, request: web.Request) -> bool:
        """Tell whether to gzip: simulator option on and the client accepts gzip."""
        return self.gzip and "gzip" in request.headers.get("Accept-Encoding", "").lower()

    def _headers(self, request: web.Request) -> dict[str, str]:
        """Return the base headers of a 200 JSON response."""
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers.update(request.get("extra_headers", {}))
        if self._gzip_ok(request):
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        return headers

    def _json(self, request: web.Request, payload: Any) -> web.Response:
        """Return a 200 JSON response (gzip and ``malformed_next`` applied)."""
        text = json.dumps(payload)
        if self.faults.malformed_next:
            self.faults.malformed_next = False
            text = text[: max(1, len(text) // 2)] + "<<corrupted by simulator>>"
        body = text.encode()
        headers = self._headers(request)
        if "Content-Encoding" in headers:
            compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
            body = compressor.compress(body) + compressor.flush()
        return web.Response(body=body, status=200, headers=headers)

    async def _stream(
        self, request: web.Request, pieces: Iterator[str], closing: str
    ) -> web.StreamResponse:
        """Stream JSON text pieces in ~64 KiB chunks (truncate/malformed faults applied)."""
        faults = self.faults
        truncate, malformed = faults.truncate_next, faults.malformed_next
        faults.truncate_next = faults.malformed_next = False
        headers = self._headers(request)
        compressor = (
            zlib.compressobj(1, zlib.DEFLATED, 31) if "Content-Encoding" in headers else None
        )
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)

        async def send(text: str, *, final: bool = False) -> None:
            """Write (and maybe compress) one piece of text."""
            data = text.encode()
            if compressor is not None:
                data = compressor.compress(data) + (
                    compressor.flush() if final else compressor.flush(zlib.Z_SYNC_FLUSH)
                )
            if data:
                await response.write(data)

        if malformed:
            await send(next(pieces) + MALFORMED_ROWS[closing] + closing, final=True)
            await response.write_eof()
            return response
        if truncate:
            head = next(pieces)
            first = next(pieces, "")
            cut = _mid_row(first) if first else len(head) // 2
            await send((head + first[:cut]) if first else head[:cut])
            if request.transport is not None:
                request.transport.close()  # flushes what was written, then closes
            return response
        buf: list[str] = []
        size = 0
        for piece in pieces:
            buf.append(piece)
            size += len(piece)
            if size >= CHUNK_BYTES:
                await send("".join(buf))
                buf, size = [], 0
                await asyncio.sleep(0)  # let other requests in between chunks
        await send("".join(buf), final=True)
        await response.write_eof()
        return response

    # ------------------------------------------------------------------ /_sim test hooks

    async def _sim_hook(self, request: web.Request, path: str) -> web.Response:
        """Serve the out-of-process test hooks under ``/_sim/``."""
        hooks: dict[tuple[str, str], Callable[[Any], object]] = {
            ("GET", "/_sim/faults"): lambda _: self.faults.to_json(),
            ("POST", "/_sim/faults"): self._hook_faults,
            ("POST", "/_sim/credentials"): self._hook_credentials,
            ("POST", "/_sim/expire_sessions"): self._hook_expire,
            ("GET", "/_sim/stats"): lambda _: self.stats.to_json(),
            ("POST", "/_sim/clock"): self._hook_clock,
        }
        hook = hooks.get((request.method, path))
        if hook is None:
            return _details(404, f"no such simulator hook {request.method} {path}")
        try:
            body: Any = await request.json() if request.can_read_body else {}
            return web.json_response(hook(body))
        except (BadRequestError, KeyError, ValueError, TypeError) as err:
            return _details(400, f"bad simulator hook request: {err}")

    def _hook_faults(self, body: Any) -> object:
        """POST /_sim/faults: update the named fault fields, answer all of them."""
        if not isinstance(body, dict):
            msg = "body must be a JSON object of fault fields"
            raise BadRequestError(msg)
        self.faults.update(body)
        return self.faults.to_json()

    def _hook_expire(self, _body: Any) -> object:
        """POST /_sim/expire_sessions: invalidate every session now."""
        self.expire_sessions()
        return {"expired": True}

    def _hook_credentials(self, body: Any) -> object:
        """POST /_sim/credentials: ``{"username", "password"}``."""
        self.set_credentials(str(body["username"]), str(body["password"]))
        return {"username": self._username}

    def _hook_clock(self, body: Any) -> object:
        """POST /_sim/clock: ``{"now": iso}`` fixes the simulator clock."""
        fixed = datetime.fromisoformat(str(body["now"]))
        if fixed.tzinfo is None:
            fixed = fixed.replace(tzinfo=UTC)
        self.clock = lambda: fixed
        return {"now": fixed.isoformat()}

    # ------------------------------------------------------------------ NEW API handlers

    async def _read_credentials(self, request: web.Request) -> tuple[str, str]:
        """Parse the ``{"username", "password"}`` JSON body of a sign-in."""
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            msg = "request body must be a JSON object with username and password"
            raise BadRequestError(msg) from None
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("username", "password")
        ):
            msg = "request body must be a JSON object with username and password"
            raise BadRequestError(msg)
        return body["username"], body["password"]

    def _login(self, username: str, password: str, api: str) -> str | None:
        """Check credentials; create and return a session token, or None."""
        if not (
            secrets.compare_digest(username, self._username)
            and secrets.compare_digest(password, self._password)
        ):
            self.stats.login_failures += 1
            return None
        self.stats.logins += 1
        token = secrets.token_urlsafe(24)
        self._sessions[token] = _Session(api=api, username=username, created=self.clock())
        return token

    def _cookie_path(self) -> str:
        """Return the cookie Path attribute (the configured prefix, or /)."""
        return self.prefix or "/"

    async def _new_signin(self, request: web.Request) -> web.Response:
        """POST /authentication/signin (fact sheet §1)."""
        username, password = await self._read_credentials(request)
        token = self._login(username, password, "new")
        if token is None:
            return _details(401, "Invalid username or password")
        response = self._json(
            request, {"username": username, "role": ROLE, "appVersion": APP_VERSION}
        )
        response.set_cookie(
            NEW_COOKIE, token, path=self._cookie_path(), httponly=True, secure=self.tls or None
        )
        return response

    async def _new_signout(self, request: web.Request) -> web.Response:
        """POST /authentication/signout: 204 in all cases, token cancelled, empty cookie."""
        token = self._session_key(request)
        if token is not None and self._sessions.pop(token, None) is not None:
            self.stats.logouts += 1
        response = web.Response(status=204)
        response.del_cookie(NEW_COOKIE, path=self._cookie_path())
        return response

    async def _status(self, request: web.Request) -> web.Response:
        """GET /status: shape undocumented (fact sheet §1), so a small invented object."""
        return self._json(
            request,
            {
                "status": "running",
                "appVersion": APP_VERSION,
                "serverTime": self.clock().astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "privateEndPointEnabled": self.private_enabled,
                "publicEndPointEnabled": self.public_enabled,
            },
        )

    async def _new_meters(self, request: web.Request) -> web.Response:
        """GET /meters and /public/meters."""
        return self._json(request, [meter.to_json() for meter in self.meters])

    async def _new_vms(self, request: web.Request) -> web.Response:
        """GET /virtualMeters and /public/virtualMeters."""
        return self._json(request, [vm.to_json() for vm in self.virtual_meters])

    def _source(self, kind: str, number: int) -> SimRegister | SimVirtualMeter:
        """Look up a register (``r``) or virtual meter (``vm``); 400 if unknown."""
        found: SimRegister | SimVirtualMeter | None
        found = self.registers.get(number) if kind == "r" else self._vms.get(number)
        if found is None:
            label = "register" if kind == "r" else "virtual meter"
            msg = f"unknown {label} id {kind.upper()}{number}"
            raise BadRequestError(msg)
        return found

    def _forbidden(self, label: str) -> web.Response | None:
        """Return 403 when ``label`` (e.g. "R735") is in ``faults.forbidden_ids``."""
        if label.upper() in self.faults.forbidden_ids:
            return _details(403, f"access to {label} is restricted for this user")
        return None

    async def _new_readings(self, request: web.Request) -> web.StreamResponse:
        """GET /readings and /public/readings (fact sheet §3, validation per §11.4)."""
        query = dict(request.query)
        raw_id = query.get("id", "")
        match = _ID_RE.match(raw_id)
        if match is None:
            msg = f"id must be R<registerId> or VM<virtualMeterId>, got {raw_id!r}"
            raise BadRequestError(msg)
        kind, number = match.group(1).lower(), int(match.group(2))
        source = self._source(kind, number)
        denied = self._forbidden(f"{kind.upper()}{number}")
        if denied is not None:
            return denied
        fmt = _parse_enum(query, "format", "standard", ("standard", "complete"))
        period = _parse_enum(query, "periodType", "halfhour", PERIOD_NAMES)
        calibrated = _parse_bool(query, "calibrated", default=False)
        interpolated = _parse_bool(query, "interpolated", default=False)
        if isinstance(source, SimVirtualMeter) and fmt == "complete":
            msg = "format complete is not supported for virtual meters"
            raise BadRequestError(msg)
        if source.is_instantaneous and period != "halfhour":
            msg = "periodType must be halfHour for instantaneous registers and virtual meters"
            raise BadRequestError(msg)
        start, end = self._new_span(query, period)
        reading_query = self._query(
            source,
            period=period,
            start=start,
            end=end,
            zone=UTC,
            calibrated=calibrated,
            interpolated=interpolated,
        )
        body = new_api_body(
            reading_query, complete=fmt == "complete", duration_key=self.duration_key
        )
        return await self._stream(request, body, "]}")

    def _new_span(self, query: dict[str, str], period: str) -> tuple[datetime, datetime]:
        """Return the [start, end) span from two of startTime, endTime, periodCount (§3)."""
        start = _parse_new_time(query, "startTime")
        end = _parse_new_time(query, "endTime")
        count = self._parse_count(query)
        if [start, end, count].count(None) != 1:
            msg = "exactly two of startTime, endTime and periodCount must be given"
            raise BadRequestError(msg)
        for name, ts in (("startTime", start), ("endTime", end)):
            if ts is not None and not is_aligned(ts, period):
                msg = f"{name} {ts.isoformat()} is not aligned to periodType {PERIOD_NAMES[period]}"
                raise BadRequestError(msg)
        try:
            if start is None:
                assert end is not None  # noqa: S101 - two of three are set
                start = step(end, period, -(count or 0))
            if end is None:
                end = step(start, period, count or 0)
        except (OverflowError, ValueError):
            msg = "periodCount reaches beyond the supported date range"
            raise BadRequestError(msg) from None
        if end <= start:
            msg = "endTime must be after startTime"
            raise BadRequestError(msg)
        if self.range_limit_days and end - start > timedelta(days=self.range_limit_days):
            msg = (
                f"requested range {end - start} exceeds the maximum of {self.range_limit_days} days"
            )
            raise BadRequestError(msg)
        return start, end

    def _parse_count(self, query: dict[str, str]) -> int | None:
        """Parse ``periodCount``: a positive integer."""
        raw = query.get("periodCount")
        if raw is None:
            return None
        if not raw.isdecimal() or not 0 < int(raw) <= MAX_PERIOD_COUNT:
            msg = f"periodCount must be an integer from 1 to {MAX_PERIOD_COUNT}, got {raw!r}"
            raise BadRequestError(msg)
        return int(raw)

    def _query(
        self,
        source: SimRegister | SimVirtualMeter,
        *,
        period: str,
        start: datetime,
        end: datetime,
        zone: tzinfo,
        calibrated: bool,
        interpolated: bool,
    ) -> ReadingQuery:
        """Build a ReadingQuery for a register or virtual meter."""
        register = source if isinstance(source, SimRegister) else None
        cumulative_register = register is not None and not register.is_instantaneous
        return ReadingQuery(
            register=register,
            virtual_meter=source if isinstance(source, SimVirtualMeter) else None,
            period=period,
            start=start,
            end=end,
            zone=zone,
            now_b=self.now_boundary(),
            calibrated=calibrated,
            interpolated=interpolated,
            gaps=self.gap_slots if cumulative_register else (),
            nan=self.faults.nan_values,
        )

    # ------------------------------------------------------------------ OLD API handlers

    async def _old_login(self, request: web.Request) -> web.Response:
        """POST /api/account/login/ (fact sheet §1 OLD)."""
        username, password = await self._read_credentials(request)
        token = self._login(username, password, "old")
        if token is None:
            return _details(401, "Invalid username or password")
        response = self._json(request, {"username": username, "role": ROLE})
        response.set_cookie(
            OLD_COOKIE, token, path=self._cookie_path(), httponly=True, secure=self.tls or None
        )
        return response

    async def _old_logout(self, request: web.Request) -> web.Response:
        """POST /api/account/logout/: cancels the token; pythondcspro ignores the answer."""
        for name, value in request.cookies.items():
            if name.startswith(OLD_COOKIE_PREFIX) and value in self._sessions:
                del self._sessions[value]
                self.stats.logouts += 1
        response = web.Response(status=204)
        response.del_cookie(OLD_COOKIE, path=self._cookie_path())
        return response

    async def _old_meters(self, request: web.Request) -> web.Response:
        """GET /api/Meters/ and /api/Meters/{id}."""
        item = request["item_id"]
        if item is None:
            return self._json(request, [meter.to_json() for meter in self.meters])
        meter = next((m for m in self.meters if m.id == int(item)), None)
        if meter is None:
            return _details(404, f"unknown meter id {item}")
        return self._json(request, meter.to_json())

    async def _old_vms(self, request: web.Request) -> web.Response:
        """GET /api/VirtualMeters/ and /api/VirtualMeters/{id}."""
        item = request["item_id"]
        if item is None:
            return self._json(request, [vm.to_json() for vm in self.virtual_meters])
        vm = self._vms.get(int(item))
        if vm is None:
            return _details(404, f"unknown virtual meter id {item}")
        return self._json(request, vm.to_json())

    async def _old_register_readings(self, request: web.Request) -> web.StreamResponse:
        """GET /api/registerReadings/list/?registerId=N&... (fact sheet §3 OLD)."""
        return await self._old_readings(request, "registerId", "r")

    async def _old_vm_readings(self, request: web.Request) -> web.StreamResponse:
        """GET /api/VirtualMeterReadings/list/?virtualMeterId=N&..."""
        return await self._old_readings(request, "virtualMeterId", "vm")

    async def _old_readings(self, request: web.Request, key: str, kind: str) -> web.StreamResponse:
        """Validate OLD API reading parameters and stream the JSON array."""
        query = dict(request.query)
        raw_id = query.get(key, "")
        if not raw_id.isdecimal():
            msg = f"{key} must be an integer, got {raw_id!r}"
            raise BadRequestError(msg)
        source = self._source(kind, int(raw_id))
        denied = self._forbidden(f"{kind.upper()}{raw_id}")
        if denied is not None:
            return denied
        period = _parse_enum(query, "integrationPeriod", "halfhour", PERIOD_NAMES)
        local = _parse_bool(query, "useLocalTime", default=False)
        calibrated = _parse_bool(query, "calibrated", default=False)
        interpolated = _parse_bool(query, "interpolated", default=False)
        src = _parse_enum(query, "source", "automatic", ("automatic", "manual", "merged"))
        raw_dp = query.get("decimalPlaces", "1")
        if not raw_dp.isdecimal() or int(raw_dp) > 15:
            msg = f"decimalPlaces must be an integer from 0 to 15, got {raw_dp!r}"
            raise BadRequestError(msg)
        zone: tzinfo = LONDON if local else UTC
        try:
            start, end = self._old_span(query, period, zone)
        except (OverflowError, OSError, ValueError):
            msg = "start/end lie outside the supported date range"
            raise BadRequestError(msg) from None
        if isinstance(source, SimVirtualMeter) or source.is_instantaneous:
            calibrated = False
        reading_query = self._query(
            source,
            period=period,
            start=start,
            end=end,
            zone=zone,
            calibrated=calibrated,
            interpolated=interpolated,
        )
        body = old_api_body(
            reading_query, decimal_places=int(raw_dp), local=local, manual=src == "manual"
        )
        return await self._stream(request, body, "]")

    def _old_span(
        self, query: dict[str, str], period: str, zone: tzinfo
    ) -> tuple[datetime, datetime]:
        """Return the OLD API [start, end): defaults, flooring and calendar alignment (§3)."""
        raw_start = query.get("start")
        start = (
            _parse_old_time(raw_start, "start", zone)
            if raw_start
            else datetime.combine(self.clock().astimezone(zone).date(), time(), zone)
        )
        if period in ("week", "month"):
            if not is_aligned(start.astimezone(zone), period):
                msg = f"start {raw_start} must be the start of a calendar {period}"
                raise BadRequestError(msg)
            start = start.astimezone(zone)
        else:
            start = _floor(start, period, zone)
        raw_end = query.get("end")
        if raw_end:
            end = _parse_old_time(raw_end, "end", zone)
        else:
            end = step(start.astimezone(zone), _OLD_DEFAULT_SPAN[period], 1)
        if end <= start:
            msg = "end must be after start"
            raise BadRequestError(msg)
        return start, end

    def _group_json(self, group_id: int, query: dict[str, str], depth: int) -> dict[str, Any]:
        """Return one meter group (``/api/MeterGroups/{id}``) with its children."""
        recursively = _parse_bool(query, "recursively", default=True)
        groups_only = _parse_bool(query, "groupsOnly", default=False)
        without_registers = _parse_bool(query, "withoutRegister", default=False)
        names = {0: "All Meters", 1: "Electricity", 2: "Utilities", 3: "Generated"}
        children = {0: [1, 2] + ([3] if any(m.group_id == 3 for m in self.meters) else [])}
        meters = [m for m in self.meters if m.group_id == group_id]
        vms = [vm for vm in self.virtual_meters if vm.group_id == group_id]
        expand = depth == 0 or recursively
        return {
            "id": group_id,
            "name": names[group_id],
            "parentId": None if group_id == 0 else 0,
            "hasMeters": bool(meters),
            "meters": []
            if groups_only or not expand
            else [m.to_json(with_registers=not without_registers) for m in meters],
            "virtualMeters": [] if groups_only or not expand else [vm.to_json() for vm in vms],
            "meterGroups": [
                self._group_json(child, query, depth + 1) if expand else {}
                for child in children.get(group_id, [])
            ]
            if expand
            else [],
        }

    async def _old_meter_groups(self, request: web.Request) -> web.Response:
        """GET /api/MeterGroups/{id} (pythondcspro extra, 0 = root)."""
        group_id = int(request["item_id"])
        if group_id not in (0, 1, 2) and not (
            group_id == 3 and any(m.group_id == 3 for m in self.meters)
        ):
            return _details(404, f"unknown meter group id {group_id}")
        return self._json(request, self._group_json(group_id, dict(request.query), 0))

    def _meter_types(self) -> list[dict[str, Any]]:
        """Return the meter types (with register types) implied by the site."""
        types: dict[str, dict[str, Any]] = {}
        for meter in self.meters:
            entry = types.setdefault(
                meter.meter_type,
                {"id": len(types) + 1, "name": meter.meter_type, "registerTypes": {}},
            )
            for reg in meter.registers:
                entry["registerTypes"].setdefault(
                    reg.name,
                    {
                        "id": entry["id"] * 100 + len(entry["registerTypes"]) + 1,
                        "name": reg.name,
                        "address": reg.address,
                        "unit": reg.unit,
                        "isInstantaneous": reg.is_instantaneous,
                        "defaultScaleFactor": reg.default_scale_factor,
                    },
                )
        return [{**t, "registerTypes": list(t["registerTypes"].values())} for t in types.values()]

    async def _old_meter_types(self, request: web.Request) -> web.Response:
        """GET /api/MeterTypes/ and /api/MeterTypes/{id}."""
        types = self._meter_types()
        item = request["item_id"]
        if item is None:
            return self._json(request, types)
        found = next((t for t in types if t["id"] == int(item)), None)
        if found is None:
            return _details(404, f"unknown meter type id {item}")
        return self._json(request, found)

    async def _old_calibration(self, request: web.Request) -> web.Response:
        """GET /api/CalibrationReadings/?registerId=&startIndex=&maxCount= (naive timestamps)."""
        query = dict(request.query)
        raw_id = query.get("registerId", "")
        if not raw_id.isdecimal():
            msg = f"registerId must be an integer, got {raw_id!r}"
            raise BadRequestError(msg)
        reg = self._source("r", int(raw_id))
        assert isinstance(reg, SimRegister)  # noqa: S101 - _source("r") returns registers
        start_index = _int_param(query, "startIndex", 0)
        max_count = _int_param(query, "maxCount", 2**31 - 1)
        items: list[dict[str, Any]] = []
        if reg.calibration_b is not None:
            ts = datetime.fromtimestamp(reg.calibration_b * SLOT_S, UTC).replace(tzinfo=None)
            items.append(
                {
                    "id": reg.id * 10 + 1,
                    "registerId": reg.id,
                    "timestamp": ts.isoformat(),
                    "startTime": ts.isoformat(),
                    "value": round(reg.total(reg.calibration_b, calibrated=True), 3),
                    "offset": reg.calibration_m / 1000,
                }
            )
        page = items[start_index : start_index + max_count]
        return self._json(request, {"totalCount": len(items), "calibrationReadings": page})

    def _idcs(self) -> list[dict[str, Any]]:
        """Return the (single) IDC data concentrator the ``idc`` meters hang off."""
        mac = 0x0050C2F01234
        return [
            {
                "macAddress": mac,
                "name": "Plant Room IDC",
                "serialNumber": "IDC-000451",
                "ipAddress": "10.8.222.50",
                "firmwareVersion": "2.1.7",
                "status": "online",
                "meterCount": sum(m.connection_method == "idc" for m in self.meters),
            }
        ]

    async def _old_idcs(self, request: web.Request) -> web.Response:
        """GET /api/Idcs/ and /api/Idcs/{macInt}."""
        idcs = self._idcs()
        item = request["item_id"]
        if item is None:
            return self._json(request, idcs)
        found = next((i for i in idcs if i["macAddress"] == int(item)), None)
        if found is None:
            return _details(404, f"unknown IDC {item}")
        return self._json(request, found)


def _mid_row(chunk: str) -> int:
    """Return a cut position inside a row near the middle of ``chunk``."""
    middle = len(chunk) // 2
    row_start = chunk.find('{"', middle)
    if row_start < 0:
        row_start = chunk.find('{"')
    return max(1, row_start + 10)
