"""Run a simulator on its own event loop in a thread.

Used where the simulator's own errors must not land in the test's event loop (Home Assistant's
test harness fails a test on any error logged there, e.g. a refused TLS handshake), and for
synchronous peers such as pythondcs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
import threading
from typing import Protocol


class Startable(Protocol):
    """A simulator with async start() and stop()."""

    async def start(self, host: str = ..., port: int = ...) -> None:
        """Start listening."""

    async def stop(self) -> None:
        """Stop listening."""


@contextlib.contextmanager
def threaded[S: Startable](factory: Callable[[], S]) -> Iterator[S]:
    """Build the simulator in a new loop on a new thread, start it, yield it, stop it."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # the simulator's own noise
    ready = threading.Event()
    thread = threading.Thread(target=_run, args=(loop, ready), name="sim", daemon=True)
    thread.start()
    ready.wait(10)

    async def build() -> S:
        sim = factory()
        await sim.start()
        return sim

    sim = asyncio.run_coroutine_threadsafe(build(), loop).result(30)
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()
