"""Benchmark: IEC 104 monitor traffic through MeterLink's sans-I/O codec and link state machine.

Feeds a stream of I-frames (short floats with CP56Time2a, 10 objects per ASDU) in 1400-byte
chunks, as TCP would deliver them, and counts decoded information objects per second. The
baseline is a busy outstation sending 1,000 objects per second.
"""

from __future__ import annotations

import json
import time

from custom_components.meterlink.protocols.iec104.codec import encode_apdu, encode_asdu
from custom_components.meterlink.protocols.iec104.connection import (
    AsduReceived,
    Iec104Connection,
    Iec104Parameters,
)
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    Cot,
    CP56Time2a,
    IFrame,
    InformationObject,
    TypeId,
    UFrame,
    UFunction,
)

BASELINE_OBJECTS_PER_S = 1000
FRAMES = 10000
TIME = CP56Time2a(year=2026, month=11, day=25, hour=12, minute=0, millisecond=1234)


def stream() -> bytes:
    """STARTDT con followed by FRAMES I-frames."""
    asdu = encode_asdu(
        Asdu(
            type_id=TypeId.M_ME_TF_1,
            cot=Cot.SPONTANEOUS,
            common_address=1,
            objects=tuple(
                InformationObject(ioa=100 + i, value=230.5 + i, time=TIME) for i in range(10)
            ),
        )
    )
    parts = [encode_apdu(UFrame(function=UFunction.STARTDT_CON))]
    parts += [encode_apdu(IFrame(send_seq=n % 32768, recv_seq=0, asdu=asdu)) for n in range(FRAMES)]
    return b"".join(parts)


def main() -> None:
    """Run and print the figures."""
    data = stream()
    conn = Iec104Connection(now=0.0, params=Iec104Parameters())
    conn.start_data_transfer(0.0)
    objects = 0
    started = time.perf_counter()
    for offset in range(0, len(data), 1400):
        for event in conn.receive_data(data[offset : offset + 1400], 1.0):
            if isinstance(event, AsduReceived):
                objects += len(event.asdu.objects)
        conn.data_to_send()
    elapsed = time.perf_counter() - started
    rate = objects / elapsed
    print(f"{FRAMES} I-frames, {objects} short floats with time tags, {len(data)} bytes")
    print(f"decoded in {elapsed * 1000:.0f} ms: {rate:,.0f} objects/s")
    print(f"{rate / BASELINE_OBJECTS_PER_S:.0f}x a busy outstation's 1,000 objects/s")
    print(
        json.dumps(
            {
                "frames": FRAMES,
                "objects": objects,
                "seconds": round(elapsed, 4),
                "objects_per_s": round(rate),
                "ratio_vs_baseline_1000_per_s": round(rate / BASELINE_OBJECTS_PER_S, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
