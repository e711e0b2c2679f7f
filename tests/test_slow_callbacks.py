"""The slow-callback plugin flags MeterLink callbacks that hold the event loop, and only those."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import threading
import time

from homeassistant import block_async_io
import pytest

from tests.slow_callbacks import GC_MARK, OURS, SlowCallbackMonitor

# The callbacks below are slow on purpose; the session's own monitor must not fail these tests.
pytestmark = pytest.mark.allow_slow_callbacks


def _meterlink_callback(seconds: float, cpu: bool) -> object:
    """Build a function whose code object claims to live in custom_components/meterlink."""
    source = (
        "def slow():\n"
        "    import threading, time\n"
        "    if CPU:\n"
        "        end = time.thread_time() + SECONDS\n"  # CPU time: the same on a loaded machine
        "        while time.thread_time() < end:\n"
        "            pass\n"
        "    else:\n"
        "        threading.Event().wait(SECONDS)\n"
    )
    namespace: dict[str, object] = {"SECONDS": seconds, "CPU": cpu}
    exec(compile(source, OURS + "fake_module.py", "exec"), namespace)  # noqa: S102
    return namespace["slow"]


@pytest.fixture
def monitor() -> SlowCallbackMonitor:
    """A monitor of its own (the session's one keeps running underneath)."""
    return SlowCallbackMonitor(threshold_ms=50)


def _run_callbacks(monitor: SlowCallbackMonitor, *callbacks: object) -> None:
    """Run callbacks through Handle._run in a private loop, timing them with ``monitor``."""
    monitor.install()
    loop = asyncio.new_event_loop()
    try:
        for callback in callbacks:
            loop.call_soon(callback)
        loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
        monitor.uninstall()


def test_blocking_wait_in_meterlink_code_is_listed_not_failed(
    monitor: SlowCallbackMonitor,
) -> None:
    # a wait is listed; only CPU time fails a test (HA's guard refuses blocking calls)
    _run_callbacks(monitor, _meterlink_callback(0.1, cpu=False))
    found = monitor.take()
    assert len(found) == 1
    assert not found[0].ours
    assert found[0].wall_ms >= 100
    assert "fake_module.py" in str(found[0])


def test_cpu_heavy_meterlink_code_is_flagged(monitor: SlowCallbackMonitor) -> None:
    _run_callbacks(monitor, _meterlink_callback(0.08, cpu=True))
    found = monitor.take()
    assert len(found) == 1
    assert found[0].ours
    assert found[0].cpu_ms > 50


def test_fast_meterlink_callback_is_not_flagged(monitor: SlowCallbackMonitor) -> None:
    _run_callbacks(monitor, _meterlink_callback(0.001, cpu=True))
    assert monitor.take() == []


def test_slow_callback_elsewhere_is_not_ours(monitor: SlowCallbackMonitor) -> None:
    _run_callbacks(monitor, lambda: threading.Event().wait(0.06))
    found = monitor.take()
    assert len(found) == 1
    assert not found[0].ours


def test_task_step_in_meterlink_coroutine_is_flagged(monitor: SlowCallbackMonitor) -> None:
    source = (
        "async def poll():\n"
        "    import time\n"
        "    end = time.thread_time() + 0.08\n"
        "    while time.thread_time() < end:\n"
        "        pass\n"
    )
    namespace: dict[str, object] = {}
    exec(compile(source, OURS + "fake_coordinator.py", "exec"), namespace)  # noqa: S102
    monitor.install()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(namespace["poll"]())  # type: ignore[operator]
    finally:
        loop.close()
        monitor.uninstall()
    found = [s for s in monitor.take() if s.ours]
    assert len(found) == 1
    assert "fake_coordinator.py" in str(found[0])


def test_time_spent_writing_a_log_record_is_not_meterlinks(monitor: SlowCallbackMonitor) -> None:
    class SlowStream(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:  # noqa: ARG002
            threading.Event().wait(0.07)

    logger = logging.getLogger("tests.slow_callbacks.fake")
    logger.propagate = False
    handler = SlowStream()
    logger.addHandler(handler)
    source = "def log():\n    LOGGER.warning('polled')\n"
    namespace: dict[str, object] = {"LOGGER": logger}
    exec(compile(source, OURS + "fake_logging.py", "exec"), namespace)  # noqa: S102
    try:
        _run_callbacks(monitor, namespace["log"])
    finally:
        logger.removeHandler(handler)
    found = monitor.take()
    assert len(found) == 1
    assert not found[0].ours


def test_preemption_alone_is_not_an_offender(monitor: SlowCallbackMonitor) -> None:
    # 80 ms of wall time with neither CPU time nor blocking waits: the thread was descheduled.
    assert not monitor.is_offender(wall=0.08, cpu=0.002, switches=0)
    # Many short GIL waits do not add up to a blocking call.
    assert not monitor.is_offender(wall=0.08, cpu=0.01, switches=30)
    assert monitor.is_offender(wall=0.08, cpu=0.002, switches=1)
    assert monitor.is_offender(wall=0.08, cpu=0.07, switches=0)


def _meterlink_sleeper() -> Callable[[], None]:
    """A function whose code claims to live in custom_components/meterlink and sleeps."""
    namespace: dict[str, object] = {}
    source = "def nap():\n    import time\n    time.sleep(0)\n"
    exec(compile(source, OURS + "fake_sleeper.py", "exec"), namespace)  # noqa: S102
    nap = namespace["nap"]
    assert callable(nap)
    return nap  # type: ignore[return-value]


async def test_home_assistant_blocking_guard_raises_in_the_loop() -> None:
    assert any(c.function == "sleep" for c in block_async_io._BLOCKED_CALLS.calls)
    with pytest.raises(RuntimeError, match="blocking call to sleep"):
        _meterlink_sleeper()()
    # the test's own code (e.g. the browser tests' HTTP calls under Playwright's loop) is not
    # MeterLink's: the guard lets it through
    time.sleep(0)  # noqa: ASYNC251


def test_meterlink_must_own_enough_of_the_samples(monitor: SlowCallbackMonitor) -> None:
    handle = asyncio.Handle(print, (), asyncio.new_event_loop())
    handle._loop.close()
    ours = (f"{OURS}entity.py:26 (__init__)",)
    theirs = ("/site-packages/homeassistant/helpers/entity_platform.py:390 (_add)",)
    # 80 ms of CPU, one sample in four in MeterLink code: 20 ms of it is MeterLink's
    monitor._samples[(1, 0.0)] = [ours, theirs, theirs, theirs]
    monitor.check(handle, wall=0.09, cpu=0.08, switches=0, key=(1, 0.0))
    # the same callback with every sample in MeterLink code
    monitor._samples[(2, 0.0)] = [ours, ours, ours]
    monitor.check(handle, wall=0.09, cpu=0.08, switches=0, key=(2, 0.0))
    # no samples at all (the sampler did not run): listed, never MeterLink's
    monitor.check(handle, wall=0.09, cpu=0.08, switches=0, key=(3, 0.0))
    assert [s.ours for s in monitor.take()] == [False, True, False]


def test_one_sample_in_meterlink_code_is_not_enough(monitor: SlowCallbackMonitor) -> None:
    handle = asyncio.Handle(print, (), asyncio.new_event_loop())
    handle._loop.close()
    ours = (f"{OURS}sensor.py:417 (__init__)",)
    # 600 ms of CPU, one sample of one: a share of 1 but no evidence
    monitor._samples[(1, 0.0)] = [ours]
    monitor.check(handle, wall=0.66, cpu=0.6, switches=0, key=(1, 0.0))
    monitor._samples[(2, 0.0)] = [ours, ours]
    monitor.check(handle, wall=0.66, cpu=0.6, switches=0, key=(2, 0.0))
    assert [s.ours for s in monitor.take()] == [False, True]


def test_samples_taken_during_a_collection_do_not_dilute_meterlinks_share(
    monitor: SlowCallbackMonitor,
) -> None:
    handle = asyncio.Handle(print, (), asyncio.new_event_loop())
    handle._loop.close()
    ours = (f"{OURS}coordinator.py:80 (_async_update_data)",)
    collecting = (GC_MARK,)
    # 90 ms of CPU outside the collection (its time is already taken out), all of it in
    # MeterLink code: the samples taken while collecting say nothing about whose that was
    monitor._samples[(1, 0.0)] = [ours, ours, collecting, collecting]
    monitor.check(handle, wall=0.1, cpu=0.09, switches=0, key=(1, 0.0))
    # only collection samples: nobody's
    monitor._samples[(2, 0.0)] = [collecting, collecting]
    monitor.check(handle, wall=0.1, cpu=0.09, switches=0, key=(2, 0.0))
    found = monitor.take()
    assert [s.ours for s in found] == [True, False]
    assert found[1].locations == ("(garbage collection)",)


def test_garbage_collection_is_not_meterlinks_time(monitor: SlowCallbackMonitor) -> None:
    # a heap of reference cycles that takes well over the threshold to collect
    heap: list[object] = []
    for _ in range(600_000):
        pair: list[object] = []
        pair.append([pair])
        heap.append(pair)
    namespace: dict[str, object] = {"HEAP": heap}
    source = "def collect():\n    import gc\n    HEAP.clear()\n    gc.collect()\n"
    exec(compile(source, OURS + "fake_allocator.py", "exec"), namespace)  # noqa: S102
    started = time.thread_time()
    _run_callbacks(monitor, namespace["collect"])
    assert time.thread_time() - started > 0.05  # the collection really took that long
    # the collection's time is taken out: what is left (if a loaded machine made the rest slow
    # at all) is far under the threshold in CPU, and nothing is MeterLink's
    assert monitor._gc_time
    left = monitor.take()
    assert all(s.cpu_ms < 50 and not s.ours for s in left), left
