"""Short coverage-guided runs of every fuzz harness (bench/fuzz), each in its own process.

libFuzzer ends its process when it stops or finds a crash, so each harness runs as a
subprocess; a crash shows the harness's traceback. Skipped where atheris is not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import re
import subprocess
import sys

import pytest

from bench.fuzz.__main__ import HARNESSES

ROOT = Path(__file__).parents[2]
# Fuzzing seconds per harness (plus about 2 s to start); METERLINK_FUZZ_SECONDS overrides.
SECONDS = int(os.environ.get("METERLINK_FUZZ_SECONDS", "6"))

HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None


@pytest.mark.skipif(
    HAVE_ATHERIS, reason="atheris is installed: the short fuzz runs start from these seeds"
)
@pytest.mark.parametrize("name", HARNESSES)
def test_seed_corpus_replays_without_atheris(name: str) -> None:
    """Without atheris each harness still runs its committed seeds once, without a crash."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", f"bench.fuzz.{name}"],
        cwd=ROOT,
        env={**os.environ, "METERLINK_FUZZ_REPLAY": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    count = sum(1 for _ in (ROOT / "bench" / "fuzz" / "corpus" / name).iterdir())
    assert f"replayed {count} corpus inputs of {name}" in done.stdout


@pytest.mark.skipif(
    not HAVE_ATHERIS,
    reason="atheris is not installed (pip install atheris==3.1.0); the fuzz runs need it",
)
@pytest.mark.parametrize("name", HARNESSES)
def test_fuzz_harness_short_run(name: str, tmp_path: Path) -> None:
    """A few seconds of fuzzing from the seeds finds no crash, hang or unbounded buffer."""
    seeds = ROOT / "bench" / "fuzz" / "corpus" / name
    work = tmp_path / "corpus"
    work.mkdir()
    command = [
        sys.executable,
        "-m",
        f"bench.fuzz.{name}",
        f"-max_total_time={SECONDS}",
        f"-artifact_prefix={tmp_path}/",
        "-print_final_stats=1",
        str(work),
        str(seeds),
    ]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS * 4 + 60, check=False
    )
    crashes = sorted(path.name for path in tmp_path.glob("crash-*"))
    tail = "\n".join(done.stderr.splitlines()[-40:])
    assert done.returncode == 0, f"bench.fuzz.{name} exited {done.returncode}:\n{tail}"
    assert not crashes, f"bench.fuzz.{name} found {crashes}:\n{tail}"
    executed = re.findall(r"stat::number_of_executed_units:\s*(\d+)", done.stderr)
    seed_count = sum(1 for _ in seeds.iterdir())
    # Every seed ran, and fuzzing went on past them (slow machines included).
    assert executed, tail
    assert int(executed[-1]) > seed_count + 100, tail
