"""The secrets guard (tests/secrets_guard.py) fails a session that leaks a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.secrets_guard import find_secrets, mask, needles

pytest_plugins = ["pytester"]

SECRET = "inner-s3cret-value"
ROOT = Path(__file__).parents[1]

CONFTEST = f"""
from tests.secrets_guard import SECRETS_KEY

def pytest_configure(config):
    config.stash[SECRETS_KEY] = {{"inner password": {SECRET!r}}}
"""

LEAKS = f"""
import logging

def test_debug_log():
    logging.getLogger("custom_components.meterlink.inner").debug("login as %s", {SECRET!r})

def test_print():
    print({SECRET!r}.encode().hex(" "))

def test_report():
    assert {SECRET!r} == "something else"
"""

CLEAN = """
import logging

def test_clean():
    logging.getLogger("custom_components.meterlink.inner").debug("login as %s", "***")
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A bare pytest (no auto-loaded plugins) with the guard and an inner secret."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(CONFTEST)
    return pytester


def _run(inner: pytest.Pytester, *args: str) -> pytest.RunResult:
    return inner.runpytest_subprocess("-p", "tests.secrets_guard", "-p", "no:cacheprovider", *args)


def test_guard_fails_on_each_kind_of_leak(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_leaks=LEAKS)
    result = _run(inner)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "leak(s) of a secret" in out
    assert f"inner password ({mask(SECRET)})" in out
    hits = [line for line in result.stdout.lines if "inner password" in line]
    assert len(hits) >= 3  # the log record, the printed hex, the failure report
    guard_lines = out.split("leak(s) of a secret")[1].split("= FAILURES =")[0]
    assert SECRET not in guard_lines  # reported masked, never as itself


def test_guard_with_xdist_greps_the_workers_output(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_leaks=LEAKS.split("def test_print", maxsplit=1)[0])
    result = _run(inner, "-p", "xdist.plugin", "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*inner password (in*******)*suite-output?gw0.log:*"])


def test_guard_passes_a_clean_session(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_clean=CLEAN)
    result = _run(inner)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*secrets guard: 1 secrets, 1 files, no leak*"])
    assert (inner.path / "artifacts" / "suite-output" / "main.log").read_text().count("***") == 1


def test_needles_find_text_hex_and_key_bytes(tmp_path: Path) -> None:
    key = "000102030405060708090a0b0c0d0e0f"
    assert repr(bytes.fromhex(key))[2:-1] in needles(key)
    out = tmp_path / "out.log"
    out.write_text(f"a\nframe {bytes.fromhex(key).hex(' ').upper()}\nb {b'pw'.hex()}\n")
    found = [(name, line) for name, _, _, line in find_secrets([out], {"k": key, "p": "pw"})]
    assert found == [("k", 2), ("p", 3)]


def test_python_fallback_finds_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.log"
    out.write_text("x\nthe password is hunter2-abc\nnothing\nhunter2-abc twice hunter2-abc\n")
    with_grep = list(find_secrets([out], {"p": "hunter2-abc"}))
    monkeypatch.setattr("tests.secrets_guard.shutil.which", lambda _name: None)
    without = list(find_secrets([out], {"p": "hunter2-abc"}))
    assert [(n, line) for n, _, _, line in with_grep] == [("p", 2), ("p", 4)]
    assert without == with_grep
