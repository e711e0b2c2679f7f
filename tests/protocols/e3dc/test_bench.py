"""The benchmark script runs and ends with one JSON line carrying the ratio to pye3dc."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
import sys

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "e3dc_poll.py"


def test_bench_prints_json_last(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("e3dc_poll_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["e3dc_poll.py", "--rounds", "1"])
    module.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert figures["round_trips_meterlink"] == 2
    assert figures["round_trips_pye3dc"] > 20
    assert figures["ratio_vs_pye3dc"] == pytest.approx(
        figures["pye3dc_us"] / figures["meterlink_us"], rel=0.01
    )
    assert figures["ratio_vs_pye3dc"] > 10  # the >= 50x target is for a full run, not a smoke run
