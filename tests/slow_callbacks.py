"""Pytest plugin: fail a test when MeterLink code holds the event loop for more than 50 ms.

asyncio's debug mode (which Home Assistant's test harness turns on) only logs slow callbacks at
100 ms and does not fail anything. This plugin times every ``asyncio.Handle._run`` (every
callback and every task step, in every loop of the process) with the wall clock and the thread's
CPU clock. A callback is an offender when its wall time is over the threshold and either

* its thread CPU time is over the threshold too (CPU-heavy work: parsing, hashing, big loops), or
* it spent the time blocked in the kernel: wall - CPU over the threshold, at least one voluntary
  context switch, and at least 10 ms per voluntary switch on average (a blocking ``sleep``,
  ``recv`` or file read; waits for the GIL are a few ms each and are not counted).

Time the thread lost to preemption (CI has 2 cores and runs 2 workers) shows up as wall time with
neither CPU time nor voluntary switches, so contention alone does not flag anything.

An offender fails the test (at teardown) when the callback is MeterLink code: the callback's
function, the object it is bound to, the protocol of a transport's ready-callback, or any
coroutine in a task's await chain lives under ``custom_components/meterlink``. Offenders
elsewhere (Home Assistant, simulators, tests) are only counted in the terminal summary.

Home Assistant's own blocking-call guard (``homeassistant.block_async_io``: ``time.sleep``,
``open``, ``os.listdir``, ... in the loop) is only enabled by ``bootstrap`` in a real instance,
not by the test harness; this plugin enables it for the session, so such calls in MeterLink code
raise (``time.sleep``, ``http.client``) or log a warning (file access) as they would in
production.

Attribution: a sampling thread records the loop thread's stack every 12.5 ms while a callback
runs over 25 ms; a flagged callback is MeterLink's when, in a sample, the innermost frame outside
the standard library is MeterLink code (time spent writing log records is nobody's: production
Home Assistant logs through a queue). MeterLink's share of the samples times the time the
callback held the loop must itself pass the threshold, with at least two samples in MeterLink
code. Time spent in the cyclic garbage collector is taken out of the callback's wall and CPU time
(``gc.callbacks``), and samples taken during a collection belong to nobody: a collection of the
whole heap runs in whichever callback allocated last. Without samples (the sampling thread did
not get to run, as on a loaded machine) the callback is listed with its function or task await
chain but fails nothing: where a task stopped is not where its time went. Blocking calls are
caught without timing by Home Assistant's guard (below).

Options: ``--slow-callback-ms N`` (default 50); ``--no-slow-callbacks`` disables the timing.
"""

from __future__ import annotations

import asyncio
from asyncio import events
from collections.abc import Callable, Generator
import contextlib
import dataclasses
import functools
import gc
import os
from pathlib import Path
import resource
import sys
import sysconfig
import threading
import time
from types import CodeType, FrameType
from typing import Any

import pytest

THRESHOLD_MS = 50.0
MIN_WAIT_PER_SWITCH_S = 0.010
# A flagged callback is MeterLink's only with at least this many samples in MeterLink code: one
# sample that happened to land in an entity constructor says nothing about 600 ms of setup.
MIN_OUR_SAMPLES = 2
GC_MARK = "<garbage collection>"
OURS = str(Path(__file__).resolve().parents[1] / "custom_components" / "meterlink") + os.sep


@dataclasses.dataclass(frozen=True)
class SlowCallback:
    """One callback that held the loop too long."""

    description: str
    wall_ms: float
    cpu_ms: float
    voluntary_switches: int
    locations: tuple[str, ...]
    ours: bool

    def __str__(self) -> str:
        """One line per offender with its source locations."""
        where = ", ".join(self.locations) or "?"
        return (
            f"{self.description} took {self.wall_ms:.0f} ms "
            f"(CPU {self.cpu_ms:.0f} ms, {self.voluntary_switches} blocking waits) at {where}"
        )


class SlowCallbackMonitor:
    """Times every handle and keeps the offenders."""

    def __init__(self, threshold_ms: float = THRESHOLD_MS) -> None:
        self.threshold_s = threshold_ms / 1000
        self.offenders: list[SlowCallback] = []
        self.others = 0
        self._original: Callable[[events.Handle], None] | None = None
        self._running: dict[int, float] = {}
        self._samples: dict[tuple[int, float], list[tuple[str, ...]]] = {}
        self._sampler: threading.Thread | None = None
        # per thread: wall and CPU seconds spent in the cyclic garbage collector so far, and the
        # start of the collection running now
        self._gc_time: dict[int, tuple[float, float]] = {}
        self._gc_started: dict[int, tuple[float, float]] = {}

    def install(self, *, sample_stacks: bool = True) -> None:
        """Patch ``Handle._run`` (once); ``sample_stacks`` records where slow ones spend time."""
        if self._original is not None:
            return
        original = events.Handle._run
        self._original = original
        monitor = self
        perf = time.perf_counter
        cpu = time.thread_time
        rusage = resource.getrusage
        who = resource.RUSAGE_THREAD
        running = self._running
        ident = threading.get_ident
        gc_time = self._gc_time
        no_gc = (0.0, 0.0)

        @functools.wraps(original)
        def _run(handle: events.Handle) -> None:
            me = ident()
            wall0 = running[me] = perf()
            cpu0 = cpu()
            gc_wall0, gc_cpu0 = gc_time.get(me, no_gc)
            vol0 = rusage(who).ru_nvcsw
            try:
                original(handle)
            finally:
                wall = perf() - wall0
                running.pop(me, None)
                if wall > monitor.threshold_s:
                    switches = rusage(who).ru_nvcsw - vol0
                    # a collection of the whole heap is nobody's: it runs in whichever callback
                    # allocated last (Home Assistant's test harness keeps a big heap)
                    gc_wall, gc_cpu = gc_time.get(me, no_gc)
                    monitor.check(
                        handle,
                        wall - (gc_wall - gc_wall0),
                        cpu() - cpu0 - (gc_cpu - gc_cpu0),
                        switches,
                        (me, wall0),
                    )

        gc.callbacks.append(self._on_gc)
        if sample_stacks:
            self._sampler = threading.Thread(target=self._sample, name="slow-cb", daemon=True)
            self._sampler.start()
        events.Handle._run = _run  # type: ignore[method-assign]

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:  # noqa: ARG002
        """Count each garbage collection's wall and CPU time against the thread that ran it."""
        me = threading.get_ident()
        if phase == "start":
            self._gc_started[me] = (time.perf_counter(), time.thread_time())
            return
        started = self._gc_started.pop(me, None)
        if started is not None:
            wall, cpu = self._gc_time.get(me, (0.0, 0.0))
            self._gc_time[me] = (
                wall + time.perf_counter() - started[0],
                cpu + time.thread_time() - started[1],
            )

    def _sample(self) -> None:
        """Record the stack of every thread whose current callback runs over half the threshold.

        Timings alone cannot say whose code a slow task step was running (the task's await
        chain only shows where it stopped); a few samples taken while it runs can.
        """
        interval = self.threshold_s / 4
        while self._original is not None:
            time.sleep(interval)
            now = time.perf_counter()
            late = [
                key for key in list(self._running.items()) if now - key[1] > self.threshold_s / 2
            ]
            if late:
                frames = sys._current_frames()
                for key in late:
                    frame = frames.get(key[0])
                    if key[0] in self._gc_started:  # collecting: not the frame's own work
                        self._samples.setdefault(key, []).append((GC_MARK,))
                    elif frame is not None:
                        self._samples.setdefault(key, []).append(_stack(frame))
            for key in [k for k in list(self._samples) if now - k[1] > 30]:
                self._samples.pop(key, None)

    def uninstall(self) -> None:
        """Undo ``install``."""
        if self._original is not None:
            events.Handle._run = self._original  # type: ignore[method-assign]
            self._original = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._sampler is not None:
            self._sampler.join()
            self._sampler = None

    def is_offender(self, wall: float, cpu: float, switches: int) -> bool:
        """Whether timings show CPU-heavy work or a blocking wait (not mere preemption)."""
        if cpu > self.threshold_s:
            return True
        blocked = wall - cpu
        return (
            blocked > self.threshold_s
            and switches > 0
            and blocked / switches >= MIN_WAIT_PER_SWITCH_S
        )

    def check(
        self,
        handle: events.Handle,
        wall: float,
        cpu: float,
        switches: int,
        key: tuple[int, float] = (0, 0.0),
    ) -> None:
        """Record ``handle`` if it is an offender, attributed by its stack samples if any."""
        samples = self._samples.pop(key, [])
        if not self.is_offender(wall, cpu, switches):
            return
        collecting = sum(1 for stack in samples if stack == (GC_MARK,))
        # samples taken during a collection: its time is already out of ``cpu`` (see _run)
        samples = [stack for stack in samples if stack != (GC_MARK,)]
        if samples:
            owners = [_stack_owner(stack) for stack in samples]
            # MeterLink's share of the samples, times the time the callback held the loop, must
            # itself pass the threshold: a step that set up 100 entities through Home Assistant
            # code is not made MeterLink's by one sample in an entity constructor
            our_samples = sum(1 for o in owners if o is not None and o.startswith(OURS))
            share = our_samples / len(owners)
            # only CPU time fails a test: wall time spent waiting cannot tell a blocking call
            # from a GIL wait on a loaded machine (2 CI cores, 2 workers, hass and Chromium);
            # blocking calls are refused by Home Assistant's guard instead (below)
            ours = share * cpu > self.threshold_s and our_samples >= MIN_OUR_SAMPLES
            locations = tuple(dict.fromkeys(o for o in owners if o is not None)) or ("(logging)",)
        elif collecting:
            locations, ours = ("(garbage collection)",), False
        else:
            # no sample was taken (the sampling thread did not run: a loaded machine): where the
            # task stopped is not where the time went, so it is listed but fails nothing
            locations = tuple(dict.fromkeys(_locations(handle)))
            ours = False
        if not ours:
            self.others += 1
        self.offenders.append(
            SlowCallback(
                description=_describe(handle),
                wall_ms=wall * 1000,
                cpu_ms=cpu * 1000,
                voluntary_switches=switches,
                locations=locations,
                ours=ours,
            )
        )

    def take(self) -> list[SlowCallback]:
        """Return and forget the offenders seen so far."""
        found, self.offenders = self.offenders, []
        return found


STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
LOGGING = STDLIB + "logging" + os.sep
NOT_OWNERS = (STDLIB, __file__, str(Path("homeassistant", "util", "loop.py")))


def _stack(frame: FrameType | None) -> tuple[str, ...]:
    """``file:line (function)`` of each frame, innermost first (at most 60)."""
    stack: list[str] = []
    while frame is not None and len(stack) < 60:
        code = frame.f_code
        stack.append(f"{code.co_filename}:{frame.f_lineno} ({code.co_name})")
        frame = frame.f_back
    return tuple(stack)


def _stack_owner(stack: tuple[str, ...]) -> str | None:
    """The innermost frame outside the standard library; None for time spent logging.

    Log output is not counted: in production Home Assistant logs through a queue handler, so a
    record never waits for its stream in the event loop; under pytest it is written in place.
    """
    if any(line.startswith(LOGGING) for line in stack):
        return None
    for line in stack:
        path = line.rsplit(":", 1)[0]
        if not (
            path.startswith(NOT_OWNERS[0]) or path == NOT_OWNERS[1] or path.endswith(NOT_OWNERS[2])
        ):
            return line
    return None


def _describe(handle: events.Handle) -> str:
    with contextlib.suppress(Exception):
        return repr(handle)[:200]
    return type(handle).__name__


def _code_location(code: CodeType, line: int | None = None) -> str:
    return f"{code.co_filename}:{line or code.co_firstlineno} ({code.co_name})"


def _coroutine_chain(coro: Any) -> Generator[str]:
    """Locations of every coroutine/generator in an await chain, outermost first."""
    seen = 0
    while coro is not None and seen < 50:
        seen += 1
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if code is not None:
            yield _code_location(code, frame.f_lineno if frame is not None else None)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)


def _function_locations(func: Any) -> Generator[str]:
    """Locations for a plain callback: the function, its partial, its bound object's class."""
    depth = 0
    while isinstance(func, functools.partial) and depth < 10:
        depth += 1
        func = func.func
    owner = getattr(func, "__self__", None)
    if isinstance(owner, asyncio.Task | asyncio.Future):
        if isinstance(owner, asyncio.Task):
            yield from _coroutine_chain(owner.get_coro())
        for callback, _context in getattr(owner, "_callbacks", None) or ():
            yield from _function_locations(callback)
        return
    code = getattr(func, "__code__", None)
    if code is not None:
        yield _code_location(code)
    if owner is not None:
        yield from _object_locations(owner)
        protocol = getattr(owner, "_protocol", None)  # a transport's _read_ready
        if protocol is not None:
            yield from _object_locations(protocol)


def _object_locations(obj: Any) -> Generator[str]:
    module = getattr(type(obj), "__module__", "") or ""
    with contextlib.suppress(Exception):
        path = getattr(sys.modules.get(module), "__file__", None)
        if path:
            yield f"{path} ({type(obj).__qualname__})"


def _locations(handle: events.Handle) -> Generator[str]:
    callback = getattr(handle, "_callback", None)
    if callback is None:
        return
    yield from _function_locations(callback)


MONITOR_KEY = pytest.StashKey[SlowCallbackMonitor]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Command line options."""
    group = parser.getgroup("slow-callbacks")
    group.addoption(
        "--slow-callback-ms",
        type=float,
        default=THRESHOLD_MS,
        help="fail a test when a MeterLink callback holds the event loop longer (default 50)",
    )
    group.addoption(
        "--no-slow-callbacks",
        action="store_true",
        default=False,
        help="do not time event-loop callbacks",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Install the monitor and Home Assistant's blocking-call guard."""
    if config.getoption("--no-slow-callbacks", default=False):
        return
    config.addinivalue_line(
        "markers", "allow_slow_callbacks: do not fail the test on slow MeterLink callbacks"
    )
    monitor = SlowCallbackMonitor(config.getoption("--slow-callback-ms", default=THRESHOLD_MS))
    monitor.install()
    config.stash[MONITOR_KEY] = monitor
    _enable_block_async_io()


def _enable_block_async_io() -> None:
    """Enable Home Assistant's guard, but only while an event loop runs in the calling thread.

    Home Assistant's guard checks the thread id only (in production the main thread is the
    loop); in the suite, synchronous tests and fixtures also run on the main thread.
    """
    from homeassistant import block_async_io  # noqa: PLC0415

    if block_async_io._BLOCKED_CALLS.calls:
        return
    block_async_io.enable()
    for call in block_async_io._BLOCKED_CALLS.calls:
        setattr(call.object, call.function, _only_in_a_loop(getattr(call.object, call.function)))


def _called_from_meterlink() -> bool:
    """Whether MeterLink code is on the calling stack.

    Playwright's sync API runs its own event loop in the test's thread, so "a loop is running"
    alone would also catch the browser tests' own HTTP calls.
    """
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(OURS):
            return True
        frame = frame.f_back
    return False


def _only_in_a_loop(protected: Callable[..., Any]) -> Callable[..., Any]:
    original = protected.__wrapped__  # type: ignore[attr-defined]
    running = asyncio.events._get_running_loop

    @functools.wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if running() is None or not _called_from_meterlink():
            return original(*args, **kwargs)
        return protected(*args, **kwargs)

    return guarded


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the monitor."""
    monitor = config.stash.get(MONITOR_KEY, None)
    if monitor is not None:
        monitor.uninstall()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Forget offenders from outside this test."""
    monitor = item.config.stash.get(MONITOR_KEY, None)
    if monitor is not None:
        monitor.take()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn the teardown report into a failure when MeterLink code was slow in the loop."""
    report = yield
    monitor = item.config.stash.get(MONITOR_KEY, None)
    if monitor is None or call.when != "teardown":
        return report
    slow = monitor.take()
    ours = [s for s in slow if s.ours]
    if item.get_closest_marker("allow_slow_callbacks"):
        return report
    for offender in slow:
        item.config.stash.setdefault(_ALL_KEY, []).append((item.nodeid, offender))
    if ours and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"MeterLink held the event loop over {monitor.threshold_s * 1000:.0f} ms:\n"
            + "\n".join(f"  {s}" for s in ours)
        )
    return report


_ALL_KEY = pytest.StashKey[list[tuple[str, SlowCallback]]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """List every slow callback seen (MeterLink's fail their test; others are information)."""
    seen = config.stash.get(_ALL_KEY, [])
    if not seen:
        return
    terminalreporter.section("slow event-loop callbacks")
    for nodeid, offender in seen:
        tag = "MeterLink" if offender.ours else "other"
        terminalreporter.write_line(f"[{tag}] {nodeid}: {offender}")
