"""Smoke test of the soak benchmark: a tiny configuration end to end, in a subprocess.

The benchmark runs its own Home Assistant (the test harness) and a simulator process; in a
subprocess it stays clear of this test session's Home Assistant fixtures and socket guard.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"modbus", "dlms", "ekm", "e3dc", "dcs", "iec104"}


def test_soak_quick_reports_every_figure_and_loses_no_command(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--quick",
        "--points",
        "60",
        "--polls",
        "8",
        "--command-every",
        "4",
        "--cadence-s",
        "1",
        "--calibration-polls",
        "3",
        "--fault-rate",
        "0.1",
        "--json",
        str(out),
    ]
    run = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "CPU at default cadence" in run.stdout
    report = json.loads(out.read_text())

    assert set(report["by_kind"]) == KINDS
    assert report["config"]["devices"] == 6
    assert report["config"]["points"] > 6
    totals = report["totals"]
    assert totals["polls"] == 6 * 8
    assert totals["faults"] > 0  # a tenth of the polls get a fault (seeded: always some)
    assert totals["failed_faulted"] <= totals["faults"]
    # commands wait while a fault is being recovered from (so a kind may send fewer); the
    # simulators executed exactly the ones Home Assistant confirmed
    for kind in ("modbus", "ekm", "e3dc", "iec104"):
        row = report["by_kind"][kind]
        assert row["commands_sent"] <= 2, (kind, row)
        assert row["commands_executed"] == row["commands_confirmed"] == row["commands_sent"], (
            kind,
            row,
        )
    assert totals["commands_sent"] >= 4
    assert totals["commands_lost"] == 0
    assert report["targets"]["commands_lost_zero"] is True

    soak = report["soak"]
    assert soak["cpu_s"] > 0
    assert soak["wall_s"] > 0
    assert abs(soak["cpu_per_wall"] - soak["cpu_s"] / soak["wall_s"]) < 0.01
    for lag in (soak["lag"], report["real_cadence"]["lag"]):
        assert lag["samples"] > 0
        assert 0 <= lag["p50_ms"] <= lag["p99_ms"] <= lag["max_ms"]
        assert lag["cpu_p99_ms"] <= lag["p99_ms"]
    normalised = report["normalised"]
    assert set(normalised["cpu_ms_per_poll_by_kind"]) == KINDS
    assert all(v > 0 for v in normalised["cpu_ms_per_poll_by_kind"].values())
    assert abs(normalised["core_pct"] - sum(normalised["core_pct_by_kind"].values())) < 0.001
    memory = report["memory"]
    assert memory["peak_rss_mb"] >= memory["final_rss_mb"] > 0
    assert "flat" in memory
