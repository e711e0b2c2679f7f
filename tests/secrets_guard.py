"""Fail the test session when a secret shows up in anything the suite produced.

During the session every log record at DEBUG level and above (MeterLink and the simulators
log at DEBUG here), every test's captured stdout/stderr and every failure report is written to
``artifacts/suite-output/<worker>.log`` (``main`` without xdist, ``gw0``... with it). At the end
(on the xdist controller, or the single process) those files and the e2e Home Assistant logs are
grepped for each secret in :mod:`tests.known_secrets` (as text, as hex and as spaced hex) and for
each session cookie the DCS simulator handed out; any hit fails the session with the secret's
name, a masked form, the file and the line. The secret itself is never printed.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
import re
import shutil
import subprocess
import tempfile
from typing import IO, TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

DEBUG_LOGGERS: Final = ("custom_components.meterlink", "simulators")
# the test recorder's SQL echo (HA's test plugin sets it to INFO): most of the volume, and the
# states it writes are checked directly (tests/components/meterlink/test_secrets.py)
SKIPPED_LOGGERS: Final = ("sqlalchemy.",)
OUTPUT_DIR: Final = Path("artifacts") / "suite-output"
E2E_LOGS: Final = ("artifacts/e2e/hass.log", "artifacts/e2e-hass-dcs.log")
SECRETS_KEY: Final = pytest.StashKey[dict[str, str]]()  # override (the guard's own tests)
_WORKER_SECRETS: Final = "meterlink_secrets_guard_dynamic"
MAX_HITS: Final = 200
_HEX32: Final = re.compile(r"[0-9a-f]{32}")


class _OutputHandler(logging.Handler):
    """Write each record to the worker's output file; flushed at the end only."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SKIPPED_LOGGERS):
            return
        try:
            text = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            self.stream.write(f"{record.name} {record.levelname} {text}\n")
            if record.exc_text:
                self.stream.write(record.exc_text + "\n")
            if record.stack_info:
                self.stream.write(record.stack_info + "\n")
        except Exception:  # noqa: BLE001 - a handler must not raise
            self.handleError(record)


class SecretsGuard:
    """The plugin object: one per process (controller, worker or single run)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.is_worker = workerinput is not None
        self.worker = workerinput["workerid"] if workerinput else "main"
        self.is_controller = not self.is_worker
        # with xdist the workers write; without it this process does
        self.writes = self.is_worker or not getattr(config.option, "numprocesses", None)
        self.output_dir = config.rootpath / OUTPUT_DIR
        self.dynamic: set[str] = set()
        self.from_workers: set[str] = set()
        self.stream: IO[str] | None = None
        self.handler: _OutputHandler | None = None
        self._unpatch: list[tuple[Any, str, Any]] = []

    # --- set-up --------------------------------------------------------------------------

    def start(self) -> None:
        """Clear old output (controller), open this process's file, hook logging."""
        if self.is_controller:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            for old in self.output_dir.glob("*.log"):
                old.unlink()
        if not self.writes:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.stream = (self.output_dir / f"{self.worker}.log").open(
            "w", encoding="utf-8", errors="backslashreplace", buffering=1 << 20
        )
        self.handler = _OutputHandler(self.stream)
        self.install()
        self._record_dcs_tokens()

    def install(self) -> None:
        """(Re-)attach the handler and the DEBUG levels (a fixture may have reset them)."""
        assert self.handler is not None
        root = logging.getLogger()
        if self.handler not in root.handlers:
            root.addHandler(self.handler)
        for name in DEBUG_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level != logging.DEBUG:
                logger.setLevel(logging.DEBUG)

    def _record_dcs_tokens(self) -> None:
        """Remember every session token the DCS simulator hands out (random per login)."""
        try:
            from simulators.dcs import server  # noqa: PLC0415 - only where the repo is on the path
        except ImportError:  # pragma: no cover - the guard's own pytester runs
            return
        original = server.DcsSimulator._login
        dynamic = self.dynamic

        def _login(sim: Any, username: str, password: str, api: str) -> str | None:
            token = original(sim, username, password, api)
            if token:
                dynamic.add(token)
            return token

        server.DcsSimulator._login = _login  # type: ignore[method-assign]
        self._unpatch.append((server.DcsSimulator, "_login", original))

    def stop(self) -> None:
        """Detach and close (pytest_unconfigure)."""
        for owner, name, original in self._unpatch:
            setattr(owner, name, original)
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    # --- hooks ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self) -> None:
        if self.handler is not None:
            self.install()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self) -> None:
        if self.handler is not None:
            self.install()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.stream is None:
            return
        for title, text in (
            ("stdout", report.capstdout),
            ("stderr", report.capstderr),
            ("report", report.longreprtext if report.longrepr else ""),
        ):
            if text:
                self.stream.write(f"--- {report.nodeid} {report.when} {title}\n{text}\n")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any) -> None:
        """Controller: collect the session cookies a worker's simulators handed out."""
        output = getattr(node, "workeroutput", None) or {}
        self.from_workers.update(output.get(_WORKER_SECRETS, ()))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.stream is not None:
            self.stream.flush()
        if self.is_worker:
            self.config.workeroutput[_WORKER_SECRETS] = sorted(self.dynamic)  # type: ignore[attr-defined]
            return
        secrets = dict(self.config.stash.get(SECRETS_KEY, None) or _known_secrets())
        for n, token in enumerate(sorted(self.dynamic | self.from_workers)):
            secrets[f"dcs session cookie #{n}"] = token
        files = sorted(self.output_dir.glob("*.log"))
        files += [p for name in E2E_LOGS if (p := self.config.rootpath / name).is_file()]
        hits = list(itertools.islice(find_secrets(files, secrets), MAX_HITS))
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        write = reporter.write_line if reporter is not None else print
        if not hits:
            write(f"secrets guard: {len(secrets)} secrets, {len(files)} files, no leak")
            return
        write(f"secrets guard: {len(hits)} leak(s) of a secret", red=True, bold=True)
        for name, secret, path, line in hits:
            write(f"  {name} ({mask(secret)}) in {path}:{line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _known_secrets() -> dict[str, str]:
    from tests.known_secrets import SECRETS  # noqa: PLC0415

    return SECRETS


def mask(secret: str) -> str:
    """Return a form of ``secret`` that says which one it is without giving it away."""
    return f"{secret[:2]}{'*' * 6} ({len(secret)} chars)"


def needles(secret: str) -> set[str]:
    """The forms a secret may take in output: text, hex, spaced hex (and a key's raw bytes)."""
    raw = secret.encode()
    forms = {secret, raw.hex(), raw.hex(" ")}
    if _HEX32.fullmatch(secret):  # a key given as hex: its bytes may show as hex or repr
        key = bytes.fromhex(secret)
        forms |= {key.hex(" "), repr(key)[2:-1]}
    return forms | {f.upper() for f in forms if f != secret and f.isascii()}


def find_secrets(
    files: Iterable[Path], secrets: dict[str, str]
) -> Iterator[tuple[str, str, Path, int]]:
    """Yield (name, secret, file, line number) for each file line holding a secret."""
    owner: dict[str, tuple[str, str]] = {}
    for name, secret in secrets.items():
        for form in needles(secret):
            owner[form] = (name, secret)
    files = list(files)
    grep = shutil.which("grep")
    if grep is not None and files:
        yield from _grep(grep, files, owner)
        return
    # no grep: Python's regex tries every alternative at every position (minutes for the
    # suite's ~80 MB of output with a few hundred secrets); grep -F does it in about a second
    pattern = re.compile("|".join(re.escape(f) for f in sorted(owner, key=len, reverse=True)))
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        seen: set[tuple[str, int]] = set()
        for match in pattern.finditer(text):
            name, secret = owner[match.group()]
            line = text.count("\n", 0, match.start()) + 1
            if (name, line) not in seen:
                seen.add((name, line))
                yield name, secret, path, line


def _grep(
    grep: str, files: list[Path], owner: dict[str, tuple[str, str]]
) -> Iterator[tuple[str, str, Path, int]]:
    """Search the files for every form at once with ``grep -F`` (Aho-Corasick in C)."""
    with tempfile.TemporaryDirectory() as tmp:
        patterns = Path(tmp) / "needles"
        patterns.write_text("\n".join(owner) + "\n", encoding="utf-8")
        found = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [grep, "-F", "-a", "-H", "-n", "-o", "-f", str(patterns), "--", *map(str, files)],
            capture_output=True,
            check=False,
        )
    if found.returncode > 1:
        msg = f"grep failed: {found.stderr.decode(errors='replace').strip()}"
        raise RuntimeError(msg)
    seen: set[tuple[str, str, int]] = set()
    names = {str(path): path for path in files}
    for row in found.stdout.decode("utf-8", errors="replace").splitlines():
        # path:line:match (our paths hold no ':' followed by digits and ':')
        match = re.match(r"(.*?):(\d+):(.*)$", row)
        if match is None or match.group(3) not in owner:
            continue
        path, line = names.get(match.group(1), Path(match.group(1))), int(match.group(2))
        name, secret = owner[match.group(3)]
        if (name, str(path), line) not in seen:
            seen.add((name, str(path), line))
            yield name, secret, path, line


def pytest_configure(config: pytest.Config) -> None:
    guard = SecretsGuard(config)
    config.pluginmanager.register(guard, "meterlink_secrets_guard")
    guard.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.pluginmanager.get_plugin("meterlink_secrets_guard")
    if isinstance(guard, SecretsGuard):
        guard.stop()
