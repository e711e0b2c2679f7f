"""Shared plumbing of the fuzz harnesses: only typed errors escape, buffers stay bounded."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
import sys
import tempfile
import types
from typing import TYPE_CHECKING, Any

try:
    import atheris  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # the harnesses still replay their corpus without atheris
    atheris = None
if os.environ.get("METERLINK_FUZZ_REPLAY"):  # replay the corpus once, even with atheris
    atheris = None

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CORPUS = Path(__file__).parent / "corpus"
PACKAGE = "custom_components.meterlink"
# libFuzzer flags every harness gets unless the command line sets them: a slow input (a hang) or
# a memory blow-up is a crash, and inputs are kept small enough that both mean a real bug.
DEFAULT_FLAGS = ("-timeout=10", "-rss_limit_mb=2048")

_typed: tuple[type[BaseException], ...] = ()


class UnboundedError(AssertionError):
    """A decoder kept more bytes, or yielded more events, than its input can justify."""


def typed_errors() -> tuple[type[BaseException], ...]:
    """Return the error classes a parser may raise (MeterLinkError), imported on first use.

    Imported lazily so the harness imports the protocol modules inside atheris' instrumentation.
    """
    global _typed  # noqa: PLW0603 - one cached tuple per process
    if not _typed:
        from custom_components.meterlink.protocols.errors import MeterLinkError  # noqa: PLC0415

        _typed = (MeterLinkError,)
    return _typed


def instrumented(*, protocols_only: bool = True) -> contextlib.AbstractContextManager[Any]:
    """Instrument for coverage (if atheris) the MeterLink modules imported inside the ``with``.

    With ``protocols_only`` the integration package is entered without running its
    ``__init__`` (which imports Home Assistant and every system): protocols never import Home
    Assistant, and the harness starts in a fraction of the time.
    """
    if protocols_only and PACKAGE not in sys.modules:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.submodule_search_locations is None:
            msg = f"{PACKAGE} is not importable from {Path.cwd()}"
            raise ImportError(msg)
        bare = types.ModuleType(PACKAGE, "MeterLink without its Home Assistant setup (fuzzing).")
        bare.__path__ = list(spec.submodule_search_locations)
        sys.modules[PACKAGE] = bare
    if atheris is None:
        return contextlib.nullcontext()
    result: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(
        include=["custom_components"]
    )
    return result


def call[T](function: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call a parser; a typed error gives None, anything else escapes (a crash)."""
    try:
        return function(*args, **kwargs)
    except typed_errors():
        return None


def split(data: bytes) -> tuple[int, bytes]:
    """Return the selector byte (0 for empty input) and the payload after it."""
    return (data[0], data[1:]) if data else (0, b"")


def chunks(payload: bytes, selector: int) -> Iterator[bytes]:
    """Cut ``payload`` into chunks whose sizes (1..97 bytes) vary with ``selector``."""
    pos = 0
    step = 0
    while pos < len(payload):
        step += 1
        size = 1 + (selector * 31 + step * 17 * (selector | 1)) % 97
        yield payload[pos : pos + size]
        pos += size


def pieces(payload: bytes, selector: int) -> Iterator[bytes]:
    """Chunks of ``payload`` (``chunks``), or, if bit 0 of ``selector`` is set, the whole
    payload 64 times (a long stream at little cost, to catch buffers that grow across frames).
    """
    if selector & 1:
        for _ in range(64):
            yield payload
    else:
        yield from chunks(payload, selector >> 1)


def drain[T](next_event: Callable[[], T | None], *, budget: int, resumable: bool = True) -> list[T]:
    """Call ``next_event`` until it returns None and return the events.

    Typed errors are swallowed; a ``resumable`` decoder is called again after one (it has
    dropped the bad bytes), any other stops there (the connection would be closed). Every
    call that does not return None must consume input, so more than ``budget`` calls (bytes
    buffered + 2) means the decoder spins.
    """
    out: list[T] = []
    for _ in range(budget + 2):
        try:
            event = next_event()
        except typed_errors():
            if not resumable:
                return out
            continue
        if event is None:
            return out
        out.append(event)
    msg = f"decoder returned events or errors more than {budget + 2} times for {budget} bytes"
    raise UnboundedError(msg)


def check_bounded(what: str, buffered: int, limit: int) -> None:
    """Raise :class:`UnboundedError` if a decoder holds more than ``limit`` bytes."""
    if buffered > limit:
        msg = f"{what} holds {buffered} bytes, more than its bound of {limit}"
        raise UnboundedError(msg)


def _replay(one_input: Callable[[bytes], None], paths: list[Path]) -> int:
    """Run every file of the given corpora once (the fallback without atheris)."""
    count = 0
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            one_input(file.read_bytes())
            count += 1
    return count


def run(name: str, one_input: Callable[[bytes], None], *, max_len: int = 8192) -> None:
    """Fuzz ``one_input`` with libFuzzer flags from the command line; seeds from corpus/<name>.

    With no corpus directory on the command line, new inputs go to a temporary directory and
    the committed seeds (bench/fuzz/corpus/<name>) are only read. ``max_len`` is the default
    largest input. Without atheris the corpus is replayed once.
    """
    args = sys.argv[1:]
    flags = [arg for arg in args if arg.startswith("-")]
    dirs = [arg for arg in args if not arg.startswith("-")]
    seeds = CORPUS / name
    if atheris is None:
        count = _replay(one_input, [Path(d) for d in dirs] or [seeds])
        print(f"replayed {count} corpus inputs of {name} (atheris missing or replay asked)")
        return
    given = {flag.split("=", 1)[0] for flag in flags}
    artifacts = Path(tempfile.gettempdir()) / "meterlink-fuzz" / name
    artifacts.mkdir(parents=True, exist_ok=True)
    defaults = (*DEFAULT_FLAGS, f"-max_len={max_len}", f"-artifact_prefix={artifacts}/")
    flags += [flag for flag in defaults if flag.split("=", 1)[0] not in given]
    if not dirs:
        # libFuzzer exits the process without unwinding, so this directory is left for the
        # caller (the runner passes its own); it only holds the inputs found in this run.
        work = tempfile.mkdtemp(prefix=f"fuzz-{name}-")
        dirs = [work, str(seeds)] if seeds.is_dir() else [work]
    atheris.Setup([sys.argv[0], *flags, *dirs], one_input)
    atheris.Fuzz()
