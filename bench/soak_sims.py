"""The simulator side of the soak benchmark: every simulator in one child process.

The soak measures Home Assistant's process, so the simulators run in a process of their own
(own CPU, own GIL, own event loop). The parent (``bench/soak.py``) starts
``python -m bench.soak_sims``, writes one JSON line with the device list, reads one JSON line
with the ports, then drives faults and reads counters over JSON lines on stdin/stdout:

* ``{"id": 1, "op": "fault", "dev": 3, "fault": "drop"}`` -> ``{"id": 1, "ok": true}``
* ``{"id": 2, "op": "clear", "dev": 3}``: every fault of device 3 off again
* ``{"id": 3, "op": "stats"}``: commands each simulator executed, requests, connections

Values change between polls as they would at the real cadence: the E3/DC, EKM and DLMS
simulators run on a clock ``ACCELERATION`` times faster than real time, the Modbus and IEC 104
ones get new register / point values every ``TICK_S`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import sys
import time
from typing import Any

from custom_components.meterlink.protocols.e3dc.tags import RscpTag, RscpUserLevel
from custom_components.meterlink.protocols.ekm.models import EkmVersion
from simulators.dcs import DcsSimulator
from simulators.dlms.meter import SimulatedMeter
from simulators.dlms.server import DlmsSimulator, SimTransport
from simulators.e3dc.model import PowerModel
from simulators.e3dc.server import E3dcSimulator
from simulators.ekm.bus import BusEvent, EkmSimBus, Fault
from simulators.ekm.meter import SimMeter
from simulators.iec104.server import EXTRA_IOA, Iec104Simulator
from simulators.modbus.server import ExceptionRule, ModbusSimulator

ACCELERATION = 600.0  # simulated seconds per real second for clock-driven simulators
TICK_S = 0.25  # Modbus / IEC 104 values change this often (real seconds; a unit polls ~1 / s)
EKM_BAUD = 460800
E3DC_KEY = "soak-key"
E3DC_USER = "soak@example.com"
E3DC_PASSWORD = "soak-password"  # noqa: S105 - simulator account

FAULTS: dict[str, tuple[str, ...]] = {
    "modbus": ("drop", "malformed", "exception"),
    "iec104": ("malformed",),
    "dlms": ("garbage", "drop"),
    "ekm": ("bad_crc", "corrupt_byte", "garbage", "truncate", "wrong_address"),
    "e3dc": ("drop", "garbage", "bad_crc", "mismatch"),
    "dcs": ("fail_500", "malformed", "truncate"),
}

_START = time.time()


def fast_clock() -> float:
    """Unix time running ``ACCELERATION`` times faster than the wall clock."""
    now = time.time()
    return _START + (now - _START) * ACCELERATION


def fast_local() -> dt.datetime:
    """The accelerated clock as a meter's naive local time."""
    return dt.datetime.fromtimestamp(fast_clock())  # noqa: DTZ006 - meter local time


class Device:
    """One simulated device (or a bus / server holding several)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        """Remember the spec; :meth:`start` builds the simulator."""
        self.spec = spec
        self.kind: str = spec["kind"]
        self.sim: Any = None
        self.info: dict[str, Any] = {}
        self.executed = 0
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Build and start the simulator of this device."""
        spec = self.spec
        if self.kind == "modbus":
            self.sim = ModbusSimulator(unit_ids=(1,), size=max(2000, spec["registers"] + 100))
            await self.sim.start()
            self.info = {"port": self.sim.port}
            self._ticker = asyncio.create_task(self._tick_modbus(spec["registers"]))
        elif self.kind == "iec104":
            self.sim = Iec104Simulator(extra_points=spec["points"])
            await self.sim.start()
            self.info = {"port": self.sim.port}
            self._ticker = asyncio.create_task(self._tick_iec104(spec["points"]))
        elif self.kind == "dlms":
            self.sim = DlmsSimulator(
                meter=SimulatedMeter(now=fast_local, serial=spec["serial"]),
                transport=SimTransport.WRAPPER,
            )
            await self.sim.start()
            self.info = {"port": self.sim.port}
        elif self.kind == "ekm":
            meters = [SimMeter(address=a, clock=fast_clock) for a in spec["addresses"]]
            self.sim = EkmSimBus(meters, baudrate=EKM_BAUD, turnaround=0.002)
            self.sim.add_listener(self._ekm_event)
            self.info = {"port": await self.sim.start_tcp(), "writes": {}}
        elif self.kind == "e3dc":
            self.sim = E3dcSimulator(
                rscp_key=E3DC_KEY,
                users={E3DC_USER: (E3DC_PASSWORD, RscpUserLevel.USER)},
                model=PowerModel(),
                serial=spec["serial"],
                clock=fast_clock,
            )
            await self.sim.start()
            self.info = {"port": self.sim.port}
        elif self.kind == "dcs":
            self.sim = DcsSimulator(extra_meters=spec["meters"])
            await self.sim.start()
            self.info = {
                "url": self.sim.url,
                "username": self.sim.username,
                "password": self.sim.password,
                "meters": [
                    {"id": m.id, "registers": [r.id for r in m.registers]}
                    for m in self.sim.meters[: spec["meters"]]
                ],
            }
        else:
            msg = f"unknown device kind {self.kind!r}"
            raise ValueError(msg)

    async def stop(self) -> None:
        """Stop the simulator."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self.kind in ("ekm", "dlms"):
            await self.sim.close()
        else:
            await self.sim.stop()

    # --- changing values -----------------------------------------------------------------------

    async def _tick_modbus(self, registers: int) -> None:
        """New input register values every TICK_S (all of them, as a busy device)."""
        rng = random.Random(self.spec["index"])
        tick = 0
        while True:
            await asyncio.sleep(TICK_S)
            tick += 1
            values = [(tick * 7 + n * 13 + rng.randrange(16)) & 0x7FFF for n in range(registers)]
            await self.sim.set_values(1, "input_register", 0, values)

    async def _tick_iec104(self, points: int) -> None:
        """New measurement values every TICK_S (read by the next interrogation)."""
        tick = 0
        while True:
            await asyncio.sleep(TICK_S)
            tick += 1
            for n in range(points):
                self.sim.set_value(EXTRA_IOA + n, round(100 * math.sin(tick / 10 + n), 3))

    def _ekm_event(self, event: BusEvent) -> None:
        """Count relay writes the bus executed, per meter."""
        if event.kind == "write" and event.detail.startswith(("0081", "0082")):
            writes = self.info["writes"]
            writes[event.address] = writes.get(event.address, 0) + 1

    # --- faults and counters -------------------------------------------------------------------

    async def fault(self, name: str, address: str | None) -> None:  # noqa: C901, PLR0912
        """Inject one fault into the next exchange(s)."""
        sim = self.sim
        if self.kind == "modbus":
            if name == "drop":
                sim.faults.drop_next = 1
            elif name == "malformed":
                sim.faults.malformed_next = 1
            else:
                sim.faults.exception_rules = [ExceptionRule(start=0, end=65536, code=4)]
        elif self.kind == "iec104":
            sim.inject_malformed()
        elif self.kind == "dlms":
            if name == "garbage":
                sim.faults.garbage = True
            else:
                sim.faults.drop_after = sim.stats.requests
        elif self.kind == "ekm":
            sim.inject(Fault(name), address=address, count=1)
        elif self.kind == "e3dc":
            setattr(sim.faults, name, 1)
        elif self.kind == "dcs":
            if name == "fail_500":
                sim.faults.fail_500 = 1
            elif name == "malformed":
                sim.faults.malformed_next = True
            else:
                sim.faults.truncate_next = True

    def clear(self, address: str | None) -> None:
        """Switch every fault of this device off."""
        sim = self.sim
        if self.kind == "modbus":
            sim.faults.drop_next = sim.faults.malformed_next = 0
            sim.faults.exception_rules = []
        elif self.kind == "dlms":
            sim.faults.garbage = False
            sim.faults.drop_after = None
        elif self.kind == "ekm":
            sim._injections = [i for i in sim._injections if i.address != address]  # noqa: SLF001
        elif self.kind == "e3dc":
            sim.faults.drop = sim.faults.garbage = sim.faults.bad_crc = sim.faults.mismatch = 0
        elif self.kind == "dcs":
            sim.faults.fail_500 = 0
            sim.faults.malformed_next = sim.faults.truncate_next = False

    def stats(self) -> dict[str, Any]:
        """Commands executed and requests seen."""
        sim = self.sim
        if self.kind == "modbus":
            return {"executed": sim.writes_applied, "connections": sim.connections}
        if self.kind == "iec104":
            executed = sum(1 for c in sim.faults.commands if not c.select)
            return {"executed": executed, "connections": sim.connections}
        if self.kind == "ekm":
            return {"executed_by_meter": dict(self.info["writes"])}
        if self.kind == "e3dc":
            return {
                "executed": sim.stats.requests_by_tag.get(RscpTag.HA_REQ_COMMAND_ACTUATOR, 0),
                "connections": sim.stats.connections,
                "switches": {s.index: s.on for s in sim.model.switches},
            }
        if self.kind == "dlms":
            return {"connections": sim.stats.connections, "requests": sim.stats.requests}
        return {"requests": sum(sim.stats.requests.values()), "logins": sim.stats.logins}


async def _serve(devices: list[Device]) -> None:
    """Answer control lines on stdin until it closes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"], "ok": True}
        try:
            op = request["op"]
            if op == "fault":
                device = devices[request["dev"]]
                await device.fault(request["fault"], request.get("address"))
            elif op == "clear":
                devices[request["dev"]].clear(request.get("address"))
            elif op == "stats":
                reply["stats"] = [d.stats() for d in devices]
            elif op == "quit":
                break
        except Exception as err:  # noqa: BLE001 - reported to the parent
            reply = {"id": request["id"], "ok": False, "error": repr(err)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


async def _orphaned() -> None:
    """Return once the parent process is gone (killed without closing our stdin)."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing signals a parent's death
        await asyncio.sleep(1)


async def main() -> None:
    """Start the devices of the spec on stdin, print their ports, serve control lines."""
    specs = json.loads(sys.stdin.readline())
    devices = [Device(spec) for spec in specs]
    watchdog = asyncio.create_task(_orphaned())
    try:
        for device in devices:
            await device.start()
        sys.stdout.write(json.dumps({"ready": [d.info for d in devices]}) + "\n")
        sys.stdout.flush()
        serve = asyncio.create_task(_serve(devices))
        await asyncio.wait({serve, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        serve.cancel()
    finally:
        watchdog.cancel()
        for device in devices:
            with contextlib.suppress(Exception):
                await device.stop()


EKM_VERSION = EkmVersion.V4

if __name__ == "__main__":
    asyncio.run(main())
