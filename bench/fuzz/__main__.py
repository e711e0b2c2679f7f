"""Run every fuzz harness in turn (each in its own process) and print a JSON summary.

``python -m bench.fuzz --seconds 60`` gives each harness 60 s; ``--runs 1000000`` a number of
inputs instead; ``--only e3dc,ekm`` picks harnesses. The last line is one JSON object:
inputs executed, exec/s and crashes (with the crashing inputs' files) per harness.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import re
import shutil
import subprocess
import sys
import tempfile
import time

HARNESSES = ("e3dc", "ekm", "dlms", "dcs", "modbus", "iec104", "config")
CORPUS = Path(__file__).parent / "corpus"
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_RATE = re.compile(r"exec/s: (\d+)")
_DONE = re.compile(r"^#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)", re.MULTILINE)


def run_harness(
    name: str, *, seconds: float | None, runs: int | None, out: Path, extra: list[str]
) -> dict[str, object]:
    """Fuzz one harness in a subprocess; return what it executed and found."""
    work = out / name / "corpus"
    artifacts = out / name / "artifacts"
    work.mkdir(parents=True)
    artifacts.mkdir(parents=True)
    command = [sys.executable, "-m", f"bench.fuzz.{name}", "-print_final_stats=1"]
    command.append(f"-artifact_prefix={artifacts}/")
    if seconds is not None:
        command.append(f"-max_total_time={max(1, round(seconds))}")
    if runs is not None:
        command.append(f"-runs={runs}")
    command += [*extra, str(work), str(CORPUS / name)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    wall = time.monotonic() - started
    log = done.stderr
    (out / name / "fuzz.log").write_text(log)
    found = _EXECUTED.findall(log)
    executed = int(found[-1]) if found else max((int(n) for n in _DONE.findall(log)), default=0)
    crashes = sorted(str(path) for path in artifacts.iterdir())
    return {
        "inputs": executed,
        "exec_per_s": int(rates[-1]) if (rates := _RATE.findall(log)) else 0,
        "wall_s": round(wall, 1),
        "exit_code": done.returncode,
        "crashes": crashes,
        "ok": done.returncode == 0 and not crashes,
        "log": str(out / name / "fuzz.log"),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the harnesses, print the summary; exit 1 on any crash."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="fuzzing time per harness")
    parser.add_argument("--runs", type=int, help="inputs per harness (instead of --seconds)")
    parser.add_argument("--only", default=",".join(HARNESSES), help="comma-separated harnesses")
    parser.add_argument("--keep", type=Path, help="keep logs, new inputs and crashes here")
    parser.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags (after --)")
    args = parser.parse_args(argv)
    if args.seconds is None and args.runs is None:
        args.seconds = 10.0
    names = [name for name in args.only.split(",") if name]
    unknown = sorted(set(names) - set(HARNESSES))
    if unknown:
        parser.error(f"unknown harness(es) {', '.join(unknown)}; known: {', '.join(HARNESSES)}")
    out = args.keep or Path(tempfile.mkdtemp(prefix="meterlink-fuzz-"))
    summary: dict[str, dict[str, object]] = {}
    for name in names:
        result = run_harness(
            name, seconds=args.seconds, runs=args.runs, out=out, extra=args.libfuzzer
        )
        summary[name] = result
        state = "ok" if result["ok"] else f"CRASH ({len(result['crashes'])} input(s))"  # type: ignore[arg-type]
        print(
            f"{name:7} {result['inputs']:>10} inputs  {result['exec_per_s']:>6}/s  "
            f"{result['wall_s']:>7} s  {state}"
        )
    ok = all(result["ok"] for result in summary.values())
    if ok and args.keep is None:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({"ok": ok, "harnesses": summary}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
