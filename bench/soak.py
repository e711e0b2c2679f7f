"""Soak and scale: Home Assistant with many MeterLink devices, polled hard, with faults.

Home Assistant runs in this process (``async_test_home_assistant`` from
pytest-homeassistant-custom-component, an in-memory recorder); every simulator runs in a child
process (``bench/soak_sims.py``) and talks real wire protocols over loopback sockets, so this
process's CPU time is Home Assistant's and MeterLink's alone.

Devices (``--devices 50``): Modbus TCP and IEC 104 stations, DLMS meters, EKM meters (five per
RS-485 bus bridge), E3/DC systems and DCS meters (five per DCS server), about ``--points 5000``
entities in all (the Modbus and IEC 104 stations are sized to fill up the total). ``--home``:
a 5-device home (E3/DC, EKM meter, DLMS meter, two Modbus devices).

Time is accelerated: instead of waiting for each coordinator's interval, one task per device
calls its coordinator's refresh back to back (an E3/DC's details every 12th and static every
720th live poll, as at the default 5 s / 1 min / 1 h). Before a poll, with probability
``--fault-rate``, a fault is injected through the simulator's fault API (cut connections,
garbage, bad checksums, server errors, exception responses, malformed frames), and cleared
afterwards. Every ``--command-every`` polls a command goes out through Home Assistant
(EKM relay, E3/DC smart-home switch, Modbus register write, IEC 104 single command) and the
simulator counts what it executed.

Figures:

* CPU: process CPU seconds / wall seconds of the soak; and normalised to the real cadence: a
  calibration pass per device kind (no faults) gives CPU seconds per poll, times the polls per
  second of the configuration at its default intervals, as % of one core (the target figure).
* Memory: RSS (and Python's allocated heap blocks) sampled through the run; after the first
  ``--warmup`` share of the polls the mean of the first and the last window after warm-up
  must not differ by more than ``MEMORY_TOLERANCE``. ``--tracemalloc`` adds traced memory
  (slower; the CPU figures of such a run are not representative).
* Event-loop lag: a task sleeps 10 ms in a loop and records the overshoot (max, p99).
* Polls lost: polls that failed with no fault injected into them or into a poll of the same
  device before them (the failed polls right after a fault, until the first success, are the
  recovery and are counted separately).
* Commands: sent, confirmed (the action returned), failed (the action raised), executed
  (counted by the simulator); lost = sent - confirmed + max(0, confirmed - executed).

Run from the repository root::

    python -m bench.soak                       # 50 devices, 10,000 polls each
    python -m bench.soak --home                # 5 devices
    python -m bench.soak --quick --json out.json

The table goes to stdout, the figures as JSON to ``--json``.
"""

from __future__ import annotations

import argparse
from array import array
import asyncio
from collections import Counter
import contextlib
import dataclasses
from dataclasses import dataclass, field
import gc
import json
import logging
import math
import os
from pathlib import Path
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from aiohttp.resolver import AsyncResolver
from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    recorder as recorder_helper,
)
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.meterlink.const import CONF_CAPTURE_FRAMES, CONF_SYSTEM, DOMAIN
from custom_components.meterlink.systems.dcs.const import DEFAULT_SCAN_INTERVAL as DCS_INTERVAL
from custom_components.meterlink.systems.dlms.const import DEFAULT_SCAN_INTERVAL as DLMS_INTERVAL
from custom_components.meterlink.systems.e3dc.const import (
    DEFAULT_LIVE_INTERVAL,
    DETAILS_INTERVAL,
    STATIC_INTERVAL,
)
from custom_components.meterlink.systems.ekm.const import (
    BUS_TIMING,
    DEFAULT_SCAN_INTERVAL as EKM_INTERVAL,
)
from custom_components.meterlink.systems.scada.const import (
    DEFAULT_IEC104_INTERVAL,
    DEFAULT_MODBUS_INTERVAL,
)
from custom_components.meterlink.systems.scada.runtime import CLIENT_TIMING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from homeassistant.core import HomeAssistant

from .soak_sims import E3DC_KEY, E3DC_PASSWORD, E3DC_USER, EKM_BAUD, FAULTS

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("modbus", "dlms", "ekm", "e3dc", "dcs", "iec104")
MIX_50 = {"modbus": 15, "dlms": 10, "ekm": 10, "e3dc": 5, "dcs": 5, "iec104": 5}
HOME = {"e3dc": 1, "ekm": 1, "dlms": 1, "modbus": 2}
EKM_PER_BUS = 5
DCS_PER_SERVER = 5
# entities a device of these kinds brings (measured; the report counts the real ones)
FIXED_POINTS = {"dlms": 9, "ekm": 53, "e3dc": 161, "dcs": 4}
STATION_EXTRA_POINTS = 2  # entities of a Modbus / IEC 104 station besides its items
MAX_STATION_POINTS = 1000
# default cadence: real seconds one "poll" of a device stands for
INTERVAL_S = {
    "modbus": DEFAULT_MODBUS_INTERVAL.total_seconds(),
    "iec104": DEFAULT_IEC104_INTERVAL.total_seconds(),
    "dlms": DLMS_INTERVAL.total_seconds(),
    "ekm": EKM_INTERVAL.total_seconds(),
    "e3dc": DEFAULT_LIVE_INTERVAL.total_seconds(),
    "dcs": DCS_INTERVAL.total_seconds(),
}
E3DC_DETAILS_EVERY = round(DETAILS_INTERVAL / DEFAULT_LIVE_INTERVAL)
E3DC_STATIC_EVERY = round(STATIC_INTERVAL / DEFAULT_LIVE_INTERVAL)
LAG_SLEEP_S = 0.010
MEMORY_TOLERANCE = 0.05  # relative RSS growth allowed between the windows after warm-up
MEMORY_SLACK_BYTES = 8 << 20  # ... or this much, whichever is larger
TARGET_CORE_PCT = {"full": 5.0, "home": 0.5}
TARGET_LAG_P99_MS = 20.0
# the integration's timing, but a quick reconnect after an injected link fault
SCADA_TIMING = {"reconnect_delay_s": 0.05, "reconnect_delay_max_s": 1.0}
# the tests' short allowances, with room for a machine busy with other work
EKM_TIMING = {"baudrate": EKM_BAUD, "turnaround": 0.5, "char_gap": 0.1}


# --- plan -------------------------------------------------------------------------------------


def mix(devices: int, *, home: bool) -> dict[str, int]:
    """How many devices of each kind."""
    if home:
        return dict(HOME)
    if devices == sum(MIX_50.values()):
        return dict(MIX_50)
    counts = {k: devices * MIX_50[k] // 50 for k in KINDS}
    for kind in KINDS:  # at least one of each while there is room, then by weight
        if sum(counts.values()) >= devices:
            break
        if counts[kind] == 0:
            counts[kind] = 1
    order = sorted(KINDS, key=lambda k: -MIX_50[k])
    n = 0
    while sum(counts.values()) < devices:
        counts[order[n % len(order)]] += 1
        n += 1
    while sum(counts.values()) > devices:
        kind = max(counts, key=lambda k: counts[k])
        counts[kind] -= 1
    return {k: v for k, v in counts.items() if v}


def station_points(counts: dict[str, int], total: int) -> int:
    """Points per Modbus / IEC 104 station so that all devices have about ``total``."""
    fixed = sum(FIXED_POINTS.get(k, 0) * n for k, n in counts.items())
    stations = counts.get("modbus", 0) + counts.get("iec104", 0)
    if not stations:
        return 0
    each = (total - fixed) // stations - STATION_EXTRA_POINTS
    return max(4, min(MAX_STATION_POINTS, each))


def sim_specs(counts: dict[str, int], points: int) -> list[dict[str, Any]]:
    """One spec per simulator process object (an EKM bus or DCS server holds several)."""
    specs: list[dict[str, Any]] = []
    for kind in KINDS:
        n = counts.get(kind, 0)
        if kind == "ekm":
            for bus in range(math.ceil(n / EKM_PER_BUS)):
                size = min(EKM_PER_BUS, n - bus * EKM_PER_BUS)
                addresses = [f"0003{bus:04d}{m:04d}" for m in range(1, size + 1)]
                specs.append({"kind": kind, "addresses": addresses})
        elif kind == "dcs":
            for server in range(math.ceil(n / DCS_PER_SERVER)):
                size = min(DCS_PER_SERVER, n - server * DCS_PER_SERVER)
                specs.append({"kind": kind, "meters": size})
        else:
            for i in range(n):
                spec: dict[str, Any] = {"kind": kind}
                if kind == "modbus":
                    spec["registers"] = points
                elif kind == "iec104":
                    spec["points"] = points
                else:
                    spec["serial"] = f"SOAK{kind.upper()}{i:04d}"
                specs.append(spec)
    for index, spec in enumerate(specs):
        spec["index"] = index
    return specs


# --- the simulator process --------------------------------------------------------------------


class Simulators:
    """The child process holding every simulator, and its JSON-line control channel."""

    def __init__(self) -> None:
        """Nothing runs yet."""
        self.process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._id = 0

    async def start(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Start the child, hand it the specs, return each simulator's ports."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.soak_sims",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 22,
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(specs).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        if not line:
            msg = "the simulator process did not start"
            raise RuntimeError(msg)
        ready: list[dict[str, Any]] = json.loads(line)["ready"]
        return ready

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one control line and wait for its answer."""
        assert self.process is not None
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        async with self._lock:
            self._id += 1
            self.process.stdin.write(json.dumps({"id": self._id, "op": op, **args}).encode())
            self.process.stdin.write(b"\n")
            await self.process.stdin.drain()
            reply: dict[str, Any] = json.loads(await self.process.stdout.readline())
        if not reply.get("ok"):
            msg = f"simulator control {op} failed: {reply.get('error')}"
            raise RuntimeError(msg)
        return reply

    async def stop(self) -> None:
        """Close stdin (the child stops its simulators) and wait for it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- Home Assistant side ----------------------------------------------------------------------


@dataclass
class Unit:
    """One polled device: its coordinator(s), its command, its counters."""

    kind: str
    sim: int  # index of its simulator in the child
    name: str
    coordinators: list[Any]
    devices: int = 1  # Home Assistant devices it stands for (a DCS server's meters)
    address: str | None = None  # EKM meter address
    command: tuple[str, str, dict[str, Any]] | None = None  # domain, service, data
    command_field: str = ""
    polls: int = 0
    failed: int = 0
    faults: int = 0
    failed_faulted: int = 0  # failed polls with a fault injected
    failed_recovery: int = 0  # failed polls right after a fault, before the first success
    lost: int = 0  # failed polls with no fault to blame
    recovery_polls_max: int = 0
    commands_sent: int = 0
    commands_confirmed: int = 0
    commands_failed: int = 0
    command_errors: Counter[str] = field(default_factory=Counter)
    lost_errors: Counter[str] = field(default_factory=Counter)


def _entry(
    hass: HomeAssistant,
    title: str,
    data: dict[str, Any],
    options: dict[str, Any],
    unique_id: str,
    **extra: Any,
) -> MockConfigEntry:
    """Add a MeterLink entry (not set up yet)."""
    entry = MockConfigEntry(
        domain=DOMAIN, title=title, data=data, options=options, unique_id=unique_id, **extra
    )
    entry.add_to_hass(hass)
    return entry


def _modbus_items(points: int) -> list[dict[str, Any]]:
    """Input registers 0.. as sensors, plus the writable set-point at holding register 10."""
    kinds = ("uint16", "int16")
    items: list[dict[str, Any]] = [
        {
            "key": f"r{n}",
            "name": f"Register {n}",
            "table": "input_register",
            "address": n,
            "data_type": kinds[n % 2],
            "unit": "W",
            "device_class": "power",
            "state_class": "measurement",
        }
        for n in range(points - 1)
    ]
    items.append(
        {
            "key": "setpoint",
            "name": "Set-point",
            "table": "holding_register",
            "address": 10,
            "data_type": "uint16",
            "writable": True,
            "min": 0,
            "max": 60000,
        }
    )
    return items


def _iec104_items(points: int) -> list[dict[str, Any]]:
    """The extra short floats as sensors, plus the single command at IOA 101."""
    items: list[dict[str, Any]] = [
        {"key": f"p{n}", "name": f"Point {n}", "ioa": 1001 + n, "type": "float", "unit": "kW"}
        for n in range(points - 1)
    ]
    items.append({"key": "relay", "name": "Relay", "ioa": 101, "type": "single_command"})
    return items


def _scada_terms(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "data": {"term": 1, "name": "Station", "items": items},
            "subentry_id": "term1",
            "subentry_type": "scada_term",
            "title": "Station",
            "unique_id": "1",
        }
    ]


def add_entries(
    hass: HomeAssistant, specs: list[dict[str, Any]], ready: list[dict[str, Any]], points: int
) -> list[MockConfigEntry]:
    """One entry per simulator, as the config flows would store them."""
    entries: list[MockConfigEntry] = []
    for spec, info in zip(specs, ready, strict=True):
        kind, i = spec["kind"], spec["index"]
        if kind in ("modbus", "iec104"):
            protocol = "modbus_tcp" if kind == "modbus" else "iec104"
            items = _modbus_items(points) if kind == "modbus" else _iec104_items(points)
            entry = _entry(
                hass,
                f"Soak {kind} {i}",
                {CONF_SYSTEM: "scada", "protocol": protocol, "host": "127.0.0.1"}
                | {"port": info["port"]},
                {
                    CONF_SCAN_INTERVAL: int(INTERVAL_S[kind]),
                    "max_registers": 125,
                    "max_gap": 10,
                    CONF_CAPTURE_FRAMES: False,
                },
                f"{protocol}:127.0.0.1:{info['port']}",
                subentries_data=_scada_terms(items),
            )
        elif kind == "dlms":
            registers = [
                "1.0.1.8.0.255",
                "1.0.2.8.0.255",
                "1.0.3.8.0.255",
                "1.0.1.7.0.255",
                "1.0.32.7.0.255",
                "1.0.31.7.0.255",
                "1.0.14.7.0.255",
                "1.0.13.7.0.255",
            ]
            entry = _entry(
                hass,
                f"DLMS {spec['serial']}",
                {
                    CONF_SYSTEM: "dlms",
                    "mode": "polled",
                    "vendor": "generic",
                    "transport": "wrapper",
                    "host": "127.0.0.1",
                    "port": info["port"],
                    "client_address": 16,
                    "server_logical": 1,
                    "authentication": "none",
                    "system_title": "4d544c3030303031",
                    "meter_id": spec["serial"],
                },
                {
                    "registers": registers,
                    "classes": dict.fromkeys(registers, 3),
                    "disconnect": True,
                    CONF_SCAN_INTERVAL: int(INTERVAL_S[kind]),
                    "import_statistics": False,
                    CONF_CAPTURE_FRAMES: False,
                },
                spec["serial"],
            )
        elif kind == "ekm":
            url = f"socket://127.0.0.1:{info['port']}"
            entry = _entry(
                hass,
                f"EKM bus {i}",
                {CONF_SYSTEM: "ekm", "port": url, "password": "00000000"},
                {
                    "meters": [{"address": a, "version": 4} for a in spec["addresses"]],
                    CONF_SCAN_INTERVAL: int(INTERVAL_S[kind]),
                    CONF_CAPTURE_FRAMES: False,
                },
                url,
            )
        elif kind == "e3dc":
            entry = _entry(
                hass,
                f"E3/DC {spec['serial']}",
                {
                    CONF_SYSTEM: "e3dc",
                    "host": "127.0.0.1",
                    "port": info["port"],
                    "username": E3DC_USER,
                    "password": E3DC_PASSWORD,
                    "rscp_key": E3DC_KEY,
                    "serial": spec["serial"],
                },
                {
                    CONF_SCAN_INTERVAL: int(INTERVAL_S[kind]),
                    "import_statistics": False,
                    CONF_CAPTURE_FRAMES: False,
                },
                spec["serial"],
            )
        else:  # dcs
            meters = info["meters"]
            entry = _entry(
                hass,
                f"DCS {i}",
                {
                    CONF_SYSTEM: "dcs",
                    "url": info["url"],
                    "username": info["username"],
                    "password": info["password"],
                    "verify_ssl": True,
                    "api": "web_api",
                    "server_id": info["url"].lower(),
                },
                {
                    "meters": [str(m["id"]) for m in meters],
                    "registers": [f"R{r}" for m in meters for r in m["registers"]],
                    "virtual_meters": [],
                    CONF_SCAN_INTERVAL: int(INTERVAL_S[kind]),
                    "import_statistics": False,
                    "backfill_days": 2,
                    CONF_CAPTURE_FRAMES: False,
                },
                info["url"].lower(),
            )
        entries.append(entry)
    return entries


def build_units(
    hass: HomeAssistant, specs: list[dict[str, Any]], entries: list[MockConfigEntry]
) -> list[Unit]:
    """The polled devices of the loaded entries and the command each one gets."""
    ent_reg = er.async_get(hass)
    dev_reg = dr.async_get(hass)
    units: list[Unit] = []
    for spec, entry in zip(specs, entries, strict=True):
        kind, i = spec["kind"], spec["index"]
        runtime = entry.runtime_data
        by_unique = {
            e.unique_id: e.entity_id
            for e in er.async_entries_for_config_entry(ent_reg, entry.entry_id)
        }
        if kind == "ekm":
            for address in spec["addresses"]:
                entity = by_unique[f"ekm_{address}_relay_1"]
                units.append(
                    Unit(
                        kind,
                        i,
                        f"ekm {address}",
                        [runtime.by_address[address]],
                        address=address,
                        command=("switch", "turn_on", {"entity_id": entity}),
                    )
                )
            continue
        if kind == "e3dc":
            entity = next(v for k, v in by_unique.items() if k.endswith("smart_switch_1"))
            units.append(
                Unit(
                    kind,
                    i,
                    f"e3dc {spec['serial']}",
                    [runtime.live, runtime.details, runtime.static],
                    command=("switch", "turn_on", {"entity_id": entity}),
                )
            )
            continue
        unit = Unit(kind, i, f"{kind} {i}", list(runtime.coordinators))
        if kind in ("modbus", "iec104"):
            device = dev_reg.async_get_device({(DOMAIN, f"scada_{entry.entry_id}_1")})
            assert device is not None, entry.title
            if kind == "modbus":
                unit.command = (
                    DOMAIN,
                    "scada_write_item",
                    {"device_id": device.id, "item": "setpoint", "value": 0},
                )
                unit.command_field = "value"
            else:
                unit.command = (
                    DOMAIN,
                    "scada_send_command",
                    {"device_id": device.id, "item": "relay", "command": "on"},
                )
                unit.command_field = "command"
        if kind == "dcs":
            unit.devices = spec["meters"]
        units.append(unit)
    return units


# --- measuring --------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with Path("/proc/self/statm").open() as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class LagProbe:
    """A task that sleeps 10 ms in a loop and records how late it wakes up.

    Besides the wall-clock overshoot it keeps a CPU-attributed one: the overshoot, but at most
    the CPU time this (the event loop's) thread used meanwhile. On a machine shared with other
    busy processes the thread also waits for a CPU; that wait shows in the wall figure only.
    Garbage-collector pauses are recorded too (they stop the loop like any long callback).
    """

    def __init__(self) -> None:
        """No samples yet."""
        # raw doubles, not a list of floats: a float object per sample would grow the very heap
        # the memory check watches (a 10,000-poll run takes about 120,000 samples)
        self.samples = array("d")
        self.cpu_samples = array("d")
        self.gc_pauses = array("d")
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None
        self.interruptions = 0  # bumped around the benchmark's own pauses (memory samples)
        self.collecting = False  # the benchmark's own gc.collect() is running

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2 or self.collecting:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    def start(self) -> None:
        """Start sampling."""
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before, cpu_before = loop.time(), time.thread_time()
            interruptions = self.interruptions
            await asyncio.sleep(LAG_SLEEP_S)
            if interruptions != self.interruptions:
                continue  # the benchmark itself held the loop (a memory sample)
            over = max(0.0, loop.time() - before - LAG_SLEEP_S)
            self.samples.append(over)
            self.cpu_samples.append(min(over, time.thread_time() - cpu_before))

    async def stop(self) -> None:
        """Stop sampling."""
        gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @staticmethod
    def _stats(samples: Sequence[float], prefix: str = "") -> dict[str, float]:
        ordered = sorted(samples) or [0.0]
        return {
            f"{prefix}max_ms": round(ordered[-1] * 1000, 2),
            f"{prefix}p99_ms": round(
                ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2
            ),
            f"{prefix}p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        }

    def summary(self) -> dict[str, float]:
        """Max, p99, p50 of the overshoot in ms (wall and CPU-attributed), GC pauses."""
        return {
            "samples": len(self.samples),
            **self._stats(self.samples),
            **self._stats(self.cpu_samples, "cpu_"),
            "gc_gen2_collections": len(self.gc_pauses),
            "gc_gen2_max_ms": round(max(self.gc_pauses, default=0.0) * 1000, 2),
        }


@dataclass
class Sample:
    """One memory sample."""

    progress: float  # share of all polls done
    rss: int
    blocks: int  # sys.getallocatedblocks(): Python heap blocks in use
    traced: int | None


class Soak:
    """Drives the polls, faults and commands of every unit and keeps the figures."""

    def __init__(
        self, hass: HomeAssistant, sims: Simulators, units: list[Unit], args: argparse.Namespace
    ) -> None:
        """Nothing runs yet."""
        self.hass = hass
        self.sims = sims
        self.units = units
        self.args = args
        self.rng = random.Random(args.seed)
        self.total_target = len(units) * args.polls
        self.done = 0
        self.samples: list[Sample] = []
        self.fault_kinds: Counter[str] = Counter()

    async def poll(self, unit: Unit, n: int) -> bool:
        """One cadence step of a unit; True when its main coordinator read successfully."""
        main = unit.coordinators[0]
        await main.async_refresh()
        ok: bool = main.last_update_success
        if unit.kind == "e3dc":
            if n % E3DC_DETAILS_EVERY == 0:
                await unit.coordinators[1].async_refresh()
                ok = ok and unit.coordinators[1].last_update_success
            if n % E3DC_STATIC_EVERY == 0:
                await unit.coordinators[2].async_refresh()
                ok = ok and unit.coordinators[2].last_update_success
        return ok

    async def command(self, unit: Unit, n: int) -> None:
        """Send the unit's command through Home Assistant and count the outcome."""
        assert unit.command is not None
        domain, service, data = unit.command
        data = dict(data)
        on = n % 2 == 0
        if unit.kind in ("ekm", "e3dc"):
            service = "turn_on" if on else "turn_off"
        elif unit.kind == "modbus":
            data["value"] = unit.commands_sent + 1
        else:
            data["command"] = "on" if on else "off"
        unit.commands_sent += 1
        try:
            await self.hass.services.async_call(
                domain,
                service,
                data,
                blocking=True,
                return_response=domain == DOMAIN,
            )
        except (HomeAssistantError, TimeoutError) as err:
            unit.commands_failed += 1
            unit.command_errors[type(err).__name__ + ": " + str(err)[:120]] += 1
        else:
            unit.commands_confirmed += 1

    async def run_unit(self, unit: Unit, polls: int, *, faults: bool, commands: bool) -> None:
        """Poll a unit ``polls`` times; inject faults and send commands as configured."""
        args = self.args
        rng = random.Random(self.rng.random())
        recovering = 0  # failed polls since the last fault, 0 = not recovering
        after_fault = False
        command_due = False
        for n in range(polls):
            inject = faults and n > 0 and rng.random() < args.fault_rate
            if inject:
                name = rng.choice(FAULTS[unit.kind])
                self.fault_kinds[f"{unit.kind}:{name}"] += 1
                await self.sims.call("fault", dev=unit.sim, fault=name, address=unit.address)
                unit.faults += 1
            ok = await self.poll(unit, unit.polls)  # cadence continues across phases
            if inject:
                await self.sims.call("clear", dev=unit.sim, address=unit.address)
            unit.polls += 1
            self.done += 1
            if ok:
                unit.recovery_polls_max = max(unit.recovery_polls_max, recovering)
                recovering = 0
                after_fault = False
            else:
                unit.failed += 1
                if inject:
                    unit.failed_faulted += 1
                    after_fault = True
                elif after_fault:
                    unit.failed_recovery += 1
                    recovering += 1
                else:
                    unit.lost += 1
                    error = next(
                        (c.last_exception for c in unit.coordinators if c.last_exception), None
                    )
                    unit.lost_errors[f"{unit.kind}: {error!r}"[:200]] += 1
            if commands and unit.command and n % args.command_every == args.command_every // 2:
                command_due = True
            # commands go out on a healthy link only (after a fault: once a poll succeeded)
            if command_due and ok:
                command_due = False
                await self.command(unit, unit.commands_sent)

    async def sample_memory(self, lag: LagProbe) -> None:
        """Sample RSS, heap blocks and traced memory at even steps of the progress.

        Each sample follows a full garbage collection (so garbage waiting for the collector
        does not look like growth); the lag probe ignores these pauses.
        """
        step = 1 / max(4, self.args.memory_samples)
        next_at = 0.0
        while True:
            progress = self.done / self.total_target
            if progress >= next_at:
                if self.args.progress:
                    print(f"  {progress:4.0%} of the polls", file=sys.stderr, flush=True)
                next_at += step
                lag.interruptions += 1
                lag.collecting = True
                gc.collect()
                lag.collecting = False
                traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else None
                self.samples.append(Sample(progress, rss_bytes(), sys.getallocatedblocks(), traced))
                lag.interruptions += 1
            await asyncio.sleep(0.2)

    async def run(self) -> dict[str, Any]:
        """The soak: every unit at once, faults and commands on."""
        lag = LagProbe()
        sampler = asyncio.create_task(self.sample_memory(lag))
        lag.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(
            *(self.run_unit(u, self.args.polls, faults=True, commands=True) for u in self.units)
        )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        await lag.stop()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        gc.collect()
        traced = tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else None
        self.samples.append(
            Sample(1.0, rss_bytes(), sys.getallocatedblocks(), traced and traced[0])
        )
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_per_wall": round(cpu / wall, 3),
            "polls": self.done,
            "polls_per_s": round(self.done / wall, 1),
            "cpu_ms_per_poll": round(cpu / self.done * 1000, 3),
            "lag": lag.summary(),
            "traced_peak": traced[1] if traced else None,
        }

    async def real_cadence(self, seconds: float) -> dict[str, Any]:
        """Leave the coordinators to their own timers (default intervals) and measure."""
        refreshes = Counter[str]()

        def counter(kind: str) -> Any:
            def _count() -> None:
                refreshes[kind] += 1

            return _count

        unsubs = [c.async_add_listener(counter(u.kind)) for u in self.units for c in u.coordinators]
        lag = LagProbe()
        lag.start()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        await lag.stop()
        for unsub in unsubs:
            unsub()
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 3),
            "core_pct": round(cpu / wall * 100, 3),
            "updates_by_kind": dict(refreshes),
            "lag": lag.summary(),
        }

    async def calibrate(self, polls: int) -> dict[str, float]:
        """CPU seconds per poll of each kind: its units alone, no faults, no commands."""
        per_kind: dict[str, float] = {}
        gc.collect()
        for kind in KINDS:
            units = [u for u in self.units if u.kind == kind]
            if not units:
                continue
            cpu0 = time.process_time()
            before = sum(u.polls for u in units)
            await asyncio.gather(
                *(self.run_unit(u, polls, faults=False, commands=False) for u in units)
            )
            done = sum(u.polls for u in units) - before
            per_kind[kind] = (time.process_time() - cpu0) / done
        return per_kind


async def idle_baseline(seconds: float) -> float:
    """CPU % of one core of Home Assistant and the lag probe before any entry is loaded."""
    lag = LagProbe()
    lag.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await lag.stop()
    return round(cpu / wall * 100, 3)


def memory_check(samples: list[Sample], warmup: float) -> dict[str, Any]:
    """Compare the first and last window after warm-up (RSS and Python heap blocks)."""
    after = [s for s in samples if s.progress >= warmup]
    if len(after) < 4:
        return {"flat": None, "reason": "too few samples after warm-up"}
    third = max(1, len(after) // 3)
    first, last = after[:third], after[-third:]
    rss_first = statistics.mean(s.rss for s in first)
    rss_last = statistics.mean(s.rss for s in last)
    obj_first = statistics.mean(s.blocks for s in first)
    obj_last = statistics.mean(s.blocks for s in last)
    growth = rss_last - rss_first
    allowed = max(MEMORY_SLACK_BYTES, MEMORY_TOLERANCE * rss_first)
    result: dict[str, Any] = {
        "rss_first_window_mb": round(rss_first / 2**20, 1),
        "rss_last_window_mb": round(rss_last / 2**20, 1),
        "rss_growth_mb": round(growth / 2**20, 1),
        "rss_allowed_growth_mb": round(allowed / 2**20, 1),
        "blocks_first_window": round(obj_first),
        "blocks_last_window": round(obj_last),
        "blocks_growth_pct": round((obj_last - obj_first) / obj_first * 100, 2),
    }
    flat = growth <= allowed and obj_last <= obj_first * (1 + MEMORY_TOLERANCE)
    traced = [s for s in after if s.traced is not None]
    if len(traced) >= 4:
        t_first = statistics.mean(s.traced or 0 for s in traced[:third])
        t_last = statistics.mean(s.traced or 0 for s in traced[-third:])
        result["traced_first_window_mb"] = round(t_first / 2**20, 1)
        result["traced_last_window_mb"] = round(t_last / 2**20, 1)
        flat = flat and t_last - t_first <= max(MEMORY_SLACK_BYTES, MEMORY_TOLERANCE * t_first)
    result["flat"] = flat
    return result


def normalised(per_kind: dict[str, float], units: list[Unit]) -> dict[str, Any]:
    """CPU per poll x polls per second at the default intervals, as % of one core."""
    load = sum(per_kind[u.kind] / INTERVAL_S[u.kind] for u in units)
    by_kind: dict[str, float] = {}
    for unit in units:
        by_kind[unit.kind] = (
            by_kind.get(unit.kind, 0.0) + per_kind[unit.kind] / INTERVAL_S[unit.kind] * 100
        )
    home_units = sum(HOME.values())
    home_load = sum(per_kind.get(k, 0.0) / INTERVAL_S[k] * n for k, n in HOME.items())
    return {
        "core_pct": round(load * 100, 4),
        "core_pct_by_kind": {k: round(v, 4) for k, v in by_kind.items()},
        "home_core_pct_estimate": (
            round(home_load * 100, 4) if all(k in per_kind for k in HOME) else None
        ),
        "home_devices": home_units,
        "cpu_ms_per_poll_by_kind": {k: round(v * 1000, 3) for k, v in per_kind.items()},
        "interval_s_by_kind": {k: INTERVAL_S[k] for k in per_kind},
    }


async def commands_executed(sims: Simulators, units: list[Unit]) -> dict[str, int]:
    """Commands each unit's simulator executed (EKM: per meter on the bus)."""
    stats = (await sims.call("stats"))["stats"]
    executed: dict[str, int] = {}
    for unit in units:
        sim_stats = stats[unit.sim]
        if unit.kind == "ekm":
            executed[unit.name] = sim_stats["executed_by_meter"].get(unit.address, 0)
        else:
            executed[unit.name] = sim_stats.get("executed", 0)
    return executed


# --- report -----------------------------------------------------------------------------------


def report(
    *,
    args: argparse.Namespace,
    units: list[Unit],
    points: int,
    soak: dict[str, Any],
    calibration: dict[str, Any],
    memory: dict[str, Any],
    executed: dict[str, int],
    setup_s: float,
    fault_kinds: Counter[str],
    cadence: dict[str, Any],
) -> dict[str, Any]:
    """Assemble the JSON report."""
    by_kind: dict[str, dict[str, Any]] = {}
    for unit in units:
        row = by_kind.setdefault(
            unit.kind,
            dict.fromkeys(
                (
                    "units",
                    "devices",
                    "polls",
                    "failed",
                    "faults",
                    "failed_faulted",
                    "failed_recovery",
                    "polls_lost",
                    "recovery_polls_max",
                    "commands_sent",
                    "commands_confirmed",
                    "commands_failed",
                    "commands_executed",
                    "commands_lost",
                ),
                0,
            ),
        )
        row["units"] += 1
        row["devices"] += unit.devices
        row["polls"] += unit.polls
        row["failed"] += unit.failed
        row["faults"] += unit.faults
        row["failed_faulted"] += unit.failed_faulted
        row["failed_recovery"] += unit.failed_recovery
        row["polls_lost"] += unit.lost
        row["recovery_polls_max"] = max(row["recovery_polls_max"], unit.recovery_polls_max)
        if unit.command:
            done = executed.get(unit.name, 0)
            row["commands_sent"] += unit.commands_sent
            row["commands_confirmed"] += unit.commands_confirmed
            row["commands_failed"] += unit.commands_failed
            row["commands_executed"] += done
            row["commands_lost"] += (unit.commands_sent - unit.commands_confirmed) + max(
                0, unit.commands_confirmed - done
            )
    errors: Counter[str] = Counter()
    lost_errors: Counter[str] = Counter()
    for unit in units:
        errors.update(unit.command_errors)
        lost_errors.update(unit.lost_errors)
    target = TARGET_CORE_PCT["home" if args.home else "full"]
    totals = {
        key: sum(row[key] for row in by_kind.values())
        for key in (
            "devices",
            "polls",
            "failed",
            "faults",
            "failed_faulted",
            "failed_recovery",
            "polls_lost",
            "commands_sent",
            "commands_confirmed",
            "commands_failed",
            "commands_executed",
            "commands_lost",
        )
    }
    return {
        "benchmark": "soak",
        "command": " ".join(["python", "-m", "bench.soak", *sys.argv[1:]]),
        "config": {
            "devices": totals["devices"],
            "units": len(units),
            "points": points,
            "polls_per_unit": args.polls,
            "fault_rate": args.fault_rate,
            "command_every": args.command_every,
            "calibration_polls": args.calibration_polls,
            "home": args.home,
            "tracemalloc": args.tracemalloc,
            "setup_s": round(setup_s, 1),
        },
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "soak": soak,
        "normalised": calibration,
        "real_cadence": cadence,
        "memory": {
            "peak_rss_mb": round(max(peak_rss_bytes(), rss_bytes()) / 2**20, 1),
            "final_rss_mb": round(rss_bytes() / 2**20, 1),
            **memory,
        },
        "by_kind": by_kind,
        "totals": totals,
        "fault_kinds": dict(sorted(fault_kinds.items())),
        "command_errors": dict(errors.most_common(10)),
        "lost_poll_errors": dict(lost_errors.most_common(10)),
        "targets": {
            "core_pct": target,
            "core_pct_met": calibration["core_pct"] < target,
            "memory_flat": memory.get("flat"),
            "lag_p99_ms": TARGET_LAG_P99_MS,
            "lag_p99_met": cadence["lag"]["p99_ms"] < TARGET_LAG_P99_MS,
            "commands_lost_zero": totals["commands_lost"] == 0,
        },
    }


def print_table(result: dict[str, Any]) -> None:
    """The report as text tables."""
    cfg, soak, norm, mem = result["config"], result["soak"], result["normalised"], result["memory"]
    tgt = result["targets"]
    print(
        f"Soak: {cfg['devices']} devices ({cfg['units']} polled units), {cfg['points']} points, "
        f"{cfg['polls_per_unit']} polls per unit, fault rate {cfg['fault_rate']:.0%}, "
        f"setup {cfg['setup_s']} s"
    )
    header = (
        f"{'kind':8} {'units':>5} {'devs':>4} {'polls':>9} {'faults':>7} {'fail/flt':>8} "
        f"{'recov':>6} {'lost':>5} {'cmd sent':>8} {'conf':>6} {'exec':>6} {'lost':>5} "
        f"{'ms/poll':>8} {'% core':>8}"
    )
    print(header)
    print("-" * len(header))
    for kind, row in result["by_kind"].items():
        print(
            f"{kind:8} {row['units']:5d} {row['devices']:4d} {row['polls']:9d} "
            f"{row['faults']:7d} {row['failed_faulted']:8d} {row['failed_recovery']:6d} "
            f"{row['polls_lost']:5d} {row['commands_sent']:8d} {row['commands_confirmed']:6d} "
            f"{row['commands_executed']:6d} {row['commands_lost']:5d} "
            f"{norm['cpu_ms_per_poll_by_kind'][kind]:8.3f} "
            f"{norm['core_pct_by_kind'][kind]:8.4f}"
        )
    t = result["totals"]
    print("-" * len(header))
    print(
        f"{'total':8} {cfg['units']:5d} {t['devices']:4d} {t['polls']:9d} {t['faults']:7d} "
        f"{t['failed_faulted']:8d} {t['failed_recovery']:6d} {t['polls_lost']:5d} "
        f"{t['commands_sent']:8d} {t['commands_confirmed']:6d} {t['commands_executed']:6d} "
        f"{t['commands_lost']:5d} {'':8} {norm['core_pct']:8.4f}"
    )
    lag = soak["lag"]
    cad = result["real_cadence"]
    clag = cad["lag"]

    def mark(ok: bool | None) -> str:
        return {True: "ok", False: "MISSED", None: "n/a"}[ok]

    print()
    rows = [
        ("soak wall / CPU", f"{soak['wall_s']} s / {soak['cpu_s']} s"),
        ("CPU s per wall s (accelerated)", f"{soak['cpu_per_wall']:.3f}"),
        ("polls per s / CPU per poll", f"{soak['polls_per_s']} / {soak['cpu_ms_per_poll']} ms"),
        (
            "CPU at default cadence",
            (
                f"{norm['core_pct']:.4f} % of one core (target < {tgt['core_pct']} %: "
                f"{mark(tgt['core_pct_met'])})"
            ),
        ),
        ("home (5 devices) estimate", f"{norm['home_core_pct_estimate']} % of one core"),
        (
            "real cadence: CPU (HA's own timers)",
            (
                f"{cad['core_pct']} % of one core over {cad['wall_s']} s "
                f"(idle Home Assistant before setup: {cad['baseline_core_pct']} %), updates "
                + ", ".join(f"{k} {v}" for k, v in sorted(cad["updates_by_kind"].items()))
            ),
        ),
        (
            "real cadence: loop lag max / p99 / p50",
            (
                f"{clag['max_ms']} / {clag['p99_ms']} / {clag['p50_ms']} ms wall; "
                f"{clag['cpu_max_ms']} / {clag['cpu_p99_ms']} / {clag['cpu_p50_ms']} ms "
                "CPU-attributed "
                f"(p99 target < {tgt['lag_p99_ms']} ms: {mark(tgt['lag_p99_met'])})"
            ),
        ),
        (
            "accelerated soak: loop lag max / p99 / p50",
            (
                f"{lag['max_ms']} / {lag['p99_ms']} / {lag['p50_ms']} ms wall; "
                f"{lag['cpu_max_ms']} / {lag['cpu_p99_ms']} / {lag['cpu_p50_ms']} ms CPU-attributed"
            ),
        ),
        (
            "GC gen-2 pauses (soak / cadence)",
            (
                f"{lag['gc_gen2_collections']} max {lag['gc_gen2_max_ms']} ms / "
                f"{clag['gc_gen2_collections']} max {clag['gc_gen2_max_ms']} ms"
            ),
        ),
        (
            "machine",
            (
                f"{result['machine']['cpus']} CPUs, load average "
                + " ".join(f"{x:.1f}" for x in result["machine"]["load_average"])
            ),
        ),
        ("RSS peak / final", f"{mem['peak_rss_mb']} / {mem['final_rss_mb']} MB"),
        (
            "RSS after warm-up, first / last window",
            (
                f"{mem.get('rss_first_window_mb')} / {mem.get('rss_last_window_mb')} MB "
                f"(growth {mem.get('rss_growth_mb')} MB, "
                f"allowed {mem.get('rss_allowed_growth_mb')})"
            ),
        ),
        (
            "Python heap blocks, first / last window",
            f"{mem.get('blocks_first_window')} / {mem.get('blocks_last_window')}",
        ),
        ("memory flat", mark(tgt["memory_flat"])),
        (
            "polls lost / commands lost",
            (
                f"{t['polls_lost']} / {t['commands_lost']} "
                f"(zero lost commands: {mark(tgt['commands_lost_zero'])})"
            ),
        ),
    ]
    if "traced_first_window_mb" in mem:
        rows.append(
            (
                "tracemalloc first / last window, peak",
                (
                    f"{mem['traced_first_window_mb']} / {mem['traced_last_window_mb']} MB, "
                    f"{round((soak['traced_peak'] or 0) / 2**20, 1)} MB"
                ),
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:{width}}  {value}")
    if result["command_errors"]:
        print("command errors:", json.dumps(result["command_errors"], indent=1))
    if result["lost_poll_errors"]:
        print("lost polls:", json.dumps(result["lost_poll_errors"], indent=1))


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, help="devices (default 50; --quick 6)")
    parser.add_argument("--points", type=int, help="entities in all, about (5000; --quick 600)")
    parser.add_argument("--polls", type=int, help="polls per polled unit (10000; --quick 40)")
    parser.add_argument("--home", action="store_true", help="a 5-device home setup")
    parser.add_argument("--quick", action="store_true", help="6 devices, 40 polls, 600 points")
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of faulted polls")
    parser.add_argument("--command-every", type=int, default=200, help="polls between commands")
    parser.add_argument("--calibration-polls", type=int, default=0, help="0: polls/20, >= 10")
    parser.add_argument(
        "--cadence-s", type=float, help="seconds at the real default cadence (90; --quick 6)"
    )
    parser.add_argument("--warmup", type=float, default=0.2, help="share of polls to warm up")
    parser.add_argument(
        "--memory-samples", type=int, default=20, help="memory samples (full GC each)"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python allocations")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--progress", action="store_true", help="print progress to stderr")
    parser.add_argument("--verbose", action="store_true", help="show MeterLink's log")
    args = parser.parse_args(argv)
    quick = {"devices": 6, "polls": 40, "points": 600, "cadence_s": 6.0}
    full = {"devices": 50, "polls": 10_000, "points": 5000, "cadence_s": 90.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.quick:
        args.command_every = min(args.command_every, 10)
    if args.home:
        args.devices, args.points = sum(HOME.values()), 0
    if not args.calibration_polls:
        args.calibration_polls = max(10, args.polls // 20)
    return args


async def setup_recorder(hass: HomeAssistant) -> None:
    """The recorder MeterLink depends on: SQLite in a temporary folder, sensor states off."""
    database = Path(tempfile.mkdtemp(prefix="soak-")) / "recorder.db"
    recorder_helper.async_initialize_recorder(hass)
    config = {"db_url": f"sqlite:///{database}", "exclude": {"domains": ["sensor"]}}
    assert await async_setup_component(hass, "recorder", {"recorder": config})


async def setup_entries(
    hass: HomeAssistant, specs: list[dict[str, Any]], ready: list[dict[str, Any]], points: int
) -> list[MockConfigEntry]:
    """Add and load one entry per simulator."""
    entries = add_entries(hass, specs, ready, points)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    not_loaded = [e.title for e in entries if e.state is not ConfigEntryState.LOADED]
    if not_loaded:
        msg = f"entries not loaded: {not_loaded}"
        raise RuntimeError(msg)
    return entries


async def soak_main(args: argparse.Namespace) -> dict[str, Any]:
    """Set everything up, soak, calibrate, report."""
    started = time.perf_counter()

    def phase(name: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {name}", file=sys.stderr, flush=True)

    counts = mix(args.devices, home=args.home)
    points_each = station_points(counts, args.points) if not args.home else 50
    specs = sim_specs(counts, points_each)
    sims = Simulators()
    phase("simulators up")
    ready = await sims.start(specs)
    try:
        async with async_test_home_assistant() as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load custom_components/meterlink
            await setup_recorder(hass)
            phase("baseline")
            baseline = await idle_baseline(min(args.cadence_s, 30.0))
            t0 = time.perf_counter()
            entries = await setup_entries(hass, specs, ready, points_each)
            setup_s = time.perf_counter() - t0
            units = build_units(hass, specs, entries)
            points_by_kind: Counter[str] = Counter()
            for spec, entry in zip(specs, entries, strict=True):
                registry = er.async_get(hass)
                points_by_kind[spec["kind"]] += len(
                    er.async_entries_for_config_entry(registry, entry.entry_id)
                )
            points = sum(points_by_kind.values())
            if args.tracemalloc:
                tracemalloc.start()
            soak = Soak(hass, sims, units, args)
            phase("soak")
            figures = await soak.run()
            executed = await commands_executed(sims, units)
            memory = memory_check(soak.samples, args.warmup)
            soaked = [dataclasses.replace(u) for u in units]  # counters of the soak alone
            failed_before = sum(u.failed for u in units)
            phase("real cadence")
            cadence = await soak.real_cadence(args.cadence_s)
            cadence["baseline_core_pct"] = baseline
            cadence["meterlink_core_pct"] = round(cadence["core_pct"] - baseline, 3)
            phase("calibration")
            per_kind = await soak.calibrate(args.calibration_polls)
            calibration = normalised(per_kind, units)
            calibration["failed_polls"] = sum(u.failed for u in units) - failed_before
            result = report(
                args=args,
                units=soaked,
                points=points,
                soak=figures,
                calibration=calibration,
                memory=memory,
                executed=executed,
                setup_s=setup_s,
                fault_kinds=soak.fault_kinds,
                cadence=cadence,
            )
            result["config"]["points_by_kind"] = dict(points_by_kind)
            result["config"]["points_per_station"] = points_each
            for entry in entries:
                await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)
    finally:
        await sims.stop()
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the soak; print the table; write the JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    with (
        # no zeroconf in this process: plain DNS for the DCS client session (as in the tests)
        patch(
            "homeassistant.helpers.aiohttp_client._async_make_resolver",
            return_value=AsyncResolver(),
        ),
        patch.dict(BUS_TIMING, EKM_TIMING),
        patch.dict(CLIENT_TIMING, SCADA_TIMING),
    ):
        result = asyncio.run(soak_main(args))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
