"""Decode throughput of EKM v4 A+B blocks: MeterLink's codec against ekmmeters' parser.

Run from the repository root: ``python bench/ekm_decode.py [--pairs 200] [--repeat 5]``.
Both sides parse the same 255-byte frames (built by the simulator's meters at different
times), including the CRC check; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import ekmmeters  # type: ignore[import-untyped]

from custom_components.meterlink.protocols.ekm import codec
from custom_components.meterlink.protocols.ekm.models import EkmBlock
from simulators.ekm.meter import SimMeter


def make_frames(pairs: int) -> list[tuple[bytes, bytes]]:
    """A and B frames of a meter read every 37 s of simulated time."""
    now = [1_716_981_000.0]
    meter = SimMeter(address="300001285", clock=lambda: now[0], power_w=(2500.0, 1200.0, 800.0))
    frames = []
    for _ in range(pairs):
        now[0] += 37
        frames.append((meter.block(EkmBlock.V4_A), meter.block(EkmBlock.V4_B)))
    return frames


def ours(frames: list[tuple[bytes, bytes]]) -> float:
    """Decode every pair with MeterLink's codec; return a checksum of kWh."""
    total = 0.0
    for raw_a, raw_b in frames:
        a = codec.decode_v4_a(raw_a, address="000300001285")
        b = codec.decode_v4_b(raw_b, kwh_scale=a.kwh_scale, address="000300001285")
        total += a.energy_total_wh + b.energy_tariff_1_wh
    return total / 1000


def theirs(frames: list[tuple[str, str]]) -> float:
    """Decode every pair the way ekmmeters' V4Meter.requestA/requestB do; kWh checksum."""
    meter = ekmmeters.V4Meter("000300001285")
    total = 0.0
    native = ekmmeters.MeterData.NativeValue
    for raw_a, raw_b in frames:
        meter.convertData(meter.unpackStruct(raw_a, meter.m_blk_a), meter.m_blk_a)
        scale = int(meter.m_blk_a[ekmmeters.Field.kWh_Scale][native])
        ok_a = meter.crcMeterRead(raw_a, meter.m_blk_a)
        meter.convertData(meter.unpackStruct(raw_b, meter.m_blk_b), meter.m_blk_b, scale)
        ok_b = meter.crcMeterRead(raw_b, meter.m_blk_b)
        assert ok_a
        assert ok_b
        total += meter.m_blk_a["kWh_Tot"][native] + meter.m_blk_b["kWh_Tariff_1"][native]
    return total


def interleaved(
    repeat: int, frames: list[tuple[bytes, bytes]], text_frames: list[tuple[str, str]]
) -> tuple[float, float, float, float]:
    """Alternate both decoders ``repeat`` times; best time and checksum of each."""
    ours(frames[:2])  # build lazy tables outside the timing
    best_ours = best_theirs = float("inf")
    kwh_ours = kwh_theirs = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        kwh_ours = ours(frames)
        best_ours = min(best_ours, time.perf_counter() - start)
        start = time.perf_counter()
        kwh_theirs = theirs(text_frames)
        best_theirs = min(best_theirs, time.perf_counter() - start)
    return best_ours, kwh_ours, best_theirs, kwh_theirs


def main() -> None:
    """Run the benchmark and print the summary and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    frames = make_frames(args.pairs)
    text_frames = [(a.decode("ascii"), b.decode("ascii")) for a, b in frames]
    t_ours, kwh_ours, t_theirs, kwh_theirs = interleaved(args.repeat, frames, text_frames)
    assert abs(kwh_ours - kwh_theirs) < 1e-6 * max(1.0, kwh_theirs), (kwh_ours, kwh_theirs)
    pairs_ours = args.pairs / t_ours
    pairs_theirs = args.pairs / t_theirs
    us_ours, us_theirs = t_ours * 1e6 / args.pairs, t_theirs * 1e6 / args.pairs
    print(f"EKM v4 A+B decode, {args.pairs} frame pairs, best of {args.repeat} interleaved runs")
    print(f"  MeterLink codec : {pairs_ours:10.0f} pairs/s  ({us_ours:.1f} us/pair)")
    print(f"  ekmmeters 0.2.5 : {pairs_theirs:10.0f} pairs/s  ({us_theirs:.1f} us/pair)")
    print(f"  ratio           : {pairs_ours / pairs_theirs:.2f}x  (same frames, same kWh checksum)")
    print(
        json.dumps(
            {
                "bench": "ekm_decode",
                "pairs": args.pairs,
                "repeat": args.repeat,
                "python": platform.python_version(),
                "meterlink_pairs_per_s": round(pairs_ours, 1),
                "ekmmeters_pairs_per_s": round(pairs_theirs, 1),
                "meterlink_us_per_pair": round(t_ours * 1e6 / args.pairs, 2),
                "ekmmeters_us_per_pair": round(t_theirs * 1e6 / args.pairs, 2),
                "ratio_vs_ekmmeters": round(pairs_ours / pairs_theirs, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
