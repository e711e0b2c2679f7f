"""Coherent Research DCS server simulator (NEW "DcsWebApi" API and OLD /api API).

In-process (tests)::

    async with DcsSimulator(clock=lambda: fixed_now, extra_meters=50) as sim:
        sim.url                      # NEW API root; the OLD API is at sim.url + "/api"
        sim.faults.fail_500 = 2      # DcsFaults: mutable switches, consumed per request
        sim.expire_sessions()        # next authenticated request -> 401
        sim.register_total(733, ts)  # ground truth total at a half-hour boundary
        sim.stats.requests["/readings"], sim.stats.max_concurrent, sim.stats.logins

Subprocess (benchmarks, Home Assistant end-to-end tests): ``python -m simulators.dcs --port 0``
or :class:`simulators.dcs.process.DcsSimulatorProcess`, driven through ``<url>/_sim/faults``,
``/_sim/credentials``, ``/_sim/expire_sessions``, ``/_sim/clock`` (POST) and ``/_sim/stats``.
Readings semantics: :mod:`simulators.dcs.readings`; value curves: :mod:`simulators.dcs.model`.
"""

from .model import SimMeter, SimRegister, SimVirtualMeter
from .server import DcsFaults, DcsSimulator, DcsStats

__all__ = [
    "DcsFaults",
    "DcsSimulator",
    "DcsStats",
    "SimMeter",
    "SimRegister",
    "SimVirtualMeter",
]
