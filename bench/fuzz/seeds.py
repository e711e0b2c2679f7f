"""Write the seed corpora (bench/fuzz/corpus/<codec>/) from our simulators' and encoders' frames.

Run ``python -m bench.fuzz.seeds``; it replaces the files it writes. Each seed is the harness's
selector byte (which path of the harness it feeds) followed by a real frame or document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
import shutil

from custom_components.meterlink.protocols.dlms import axdr, hdlc, mbus, mode_e, wrapper
from custom_components.meterlink.protocols.dlms.models import DlmsSecurity
from custom_components.meterlink.protocols.dlms.push import PushFraming
from custom_components.meterlink.protocols.e3dc import codec as rscp, commands
from custom_components.meterlink.protocols.e3dc.cipher import BLOCK_SIZE, RscpCipher
from custom_components.meterlink.protocols.ekm import codec as ekm
from custom_components.meterlink.protocols.ekm.models import (
    EkmBlock,
    EkmRelay,
    EkmRelayState,
    EkmVersion,
)
from custom_components.meterlink.protocols.iec104 import codec as iec104
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    CP56Time2a,
    IFrame,
    InformationObject,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
)
from simulators.dcs import model as dcs_model
from simulators.dcs.readings import ReadingQuery, new_api_body, old_api_body
from simulators.dlms import han
from simulators.e3dc.server import E3dcSimulator, Session
from simulators.ekm.meter import SimMeter

CORPUS = Path(__file__).parent / "corpus"
ROOT = Path(__file__).parents[2]
KEY = "fuzz-rscp-key"  # bench/fuzz/e3dc.py KEY
EK, AK = bytes(range(16)), bytes(range(16, 32))  # bench/fuzz/dlms.py EK, AK


def _e3dc() -> list[bytes]:
    """Requests of the client and the simulator's answers, plain, padded and encrypted."""
    sim = E3dcSimulator(clock=lambda: 1_700_000_000.0)
    session = Session(level=10)
    requests = [
        commands.authentication("user@example.com", "portal-password"),
        *commands.live(),
        *commands.system_info(),
        commands.battery(0, modules=2),
        commands.inverter(0, strings=2, phases=3),
        commands.power_meter(0),
        commands.wallbox(0),
        *commands.power_settings(),
        *commands.switches(),
        commands.history(commands.HistoryPeriod.DAY, start=1_699_920_000, interval=900, span=3600),
    ]
    seeds = []
    for request in requests:
        answer = sim.answer(request, session)
        for items in ([request], [answer]):
            frame = rscp.encode_frame(items, seconds=1_700_000_000, nanoseconds=5)
            data = rscp.encode_items(items)
            seeds += [b"\x00" + frame, b"\x01" + data, b"\x02" + data, b"\x03" + frame]
            padded = frame + bytes(-len(frame) % BLOCK_SIZE)
            seeds += [b"\x0c" + padded + padded, b"\x26" + frame]
            seeds.append(b"\x1d" + RscpCipher(KEY).encrypt(frame))
    return seeds


def _ekm() -> list[bytes]:
    """Blocks of the simulated v3 and v4 meters, the client's requests and command frames."""
    seeds = []
    for version, blocks in (
        (EkmVersion.V3, (EkmBlock.V3,)),
        (EkmVersion.V4, (EkmBlock.V4_A, EkmBlock.V4_B)),
    ):
        meter = SimMeter(address="300012345", version=version, kwh_scale=2, clock=lambda: 1e9)
        for block in blocks:
            raw = meter.block(block)
            index = (EkmBlock.V3, EkmBlock.V4_A, EkmBlock.V4_B).index(block)
            seeds += [bytes((index,)) + raw, bytes((index + 3,)) + raw[1:-2]]
            seeds.append(b"\x0e" + b"\x06" + raw + b"\x06")
    writes = [
        ekm.relay_write(EkmRelay.RELAY_1, EkmRelayState.CLOSED, 5),
        ekm.password_write("12345678"),
        ekm.max_demand_reset_now_write(),
        ekm.ct_ratio_write(200),
    ]
    requests = ekm.encode_read_request("300012345", EkmBlock.V4_A) + ekm.encode_password()
    for write in writes:
        requests += write.encode()
    return [*seeds, b"\x07" + requests + ekm.END_SESSION]


def _dlms() -> list[bytes]:
    """HAN pushes of every list (plain and ciphered, HDLC and M-Bus) and client framings."""
    seeds = []
    sample = han.HanSample()
    for han_list in han.HanList:
        apdu = han.notification_apdu(han_list, sample)
        seeds += [b"\x07" + apdu, b"\x08" + apdu, b"\x09" + apdu, b"\x0b" + apdu[-200:]]
        secure = han.PushSecurity(
            security=DlmsSecurity.AUTHENTICATED_ENCRYPTION,
            block_cipher_key=EK,
            authentication_key=AK,
        )
        ciphered = han.protect(apdu, secure, 7)
        seeds += [b"\x08" + ciphered, b"\x0d" + ciphered]
        seeds.append(b"\x0a" + b"".join(han.frame_push(ciphered, PushFraming.HDLC, max_info=128)))
        seeds.append(b"\x0b" + b"".join(han.frame_push(apdu, PushFraming.MBUS)))
        seeds.append(b"\x01" + b"".join(han.frame_push(apdu, PushFraming.HDLC, max_info=64)))
        seeds.append(b"\x03" + b"".join(mbus.segment_mbus(apdu)))
        seeds.append(b"\x05" + apdu[5 + 1 + 12 :] if apdu[5] == 12 else b"\x05" + apdu[6:])
    get_response = b"\xc4\x01\xc1\x00\x06\x00\x00\x12\x34"
    seeds.append(
        b"\x00"
        + wrapper.encode_wrapper_frame(
            wrapper.WrapperFrame(source=1, destination=16, payload=get_response)
        )
    )
    frame = hdlc.HdlcFrame(
        destination=hdlc.HdlcAddress(value=0x21),
        source=hdlc.HdlcAddress.server(1, 0x11),
        kind=hdlc.HdlcFrameKind.I,
        information=hdlc.LLC_RESPONSE + get_response,
    )
    seeds.append(b"\x02" + hdlc.encode_hdlc_frame(frame)[1:-1])
    ident = mode_e.ModeEIdentification(
        manufacturer="KFM", baud_char="5", baud_rate=9600, enhanced="2", identification="MA304H4"
    )
    seeds.append(b"\x04" + mode_e.encode_sign_on("12345678") + mode_e.encode_identification(ident))
    stamp = axdr.CosemDateTime.from_datetime(
        dt.datetime(2026, 1, 17, 12, 44, 40),  # noqa: DTZ001 - a meter's local time
        deviation_min=-60,
    )
    seeds += [b"\x0c" + stamp.to_bytes(), b"\x0e1-0:1.8.0*255", b"\x0e/KFM5\\2MA304H4\r\n"]
    return seeds


def _dcs() -> list[bytes]:
    """Readings bodies of the simulator's web (standard, complete) and v3 APIs, and JSON answers."""
    register = dcs_model._register(  # noqa: SLF001 - the simulator's own register builder
        (1, "Sample meter"), 733, "Active Energy (import)", "130", dcs_model.KIND_ENERGY
    )
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=3)
    query = ReadingQuery(
        register=register,
        virtual_meter=None,
        period="halfhour",
        start=start,
        end=end,
        zone=dt.UTC,
        now_b=int(end.timestamp()) // 1800 + 10,
        calibrated=True,
        interpolated=True,
        gaps=(),
        nan=False,
    )
    standard = "".join(new_api_body(query, complete=False, duration_key="readingDuration")) + "]}"
    complete = "".join(new_api_body(query, complete=True, duration_key="duration")) + "]}"
    old = "".join(old_api_body(query, decimal_places=3, local=False, manual=False)) + "]"
    meters = [{"id": 1, "name": "Sample meter", "serialNumber": "R1", "registers": [
        {"id": 733, "name": "Active Energy (import)", "address": "130", "unit": "kWh",
         "isInstantaneous": False, "scaleFactor": "", "defaultScaleFactor": "1"}]}]  # fmt: skip
    answers = [
        {"username": "user", "role": "admin", "appVersion": "3.1"},
        meters,
        [{"id": 9, "name": "Site", "registers": [], "aliases": []}],
        {"details": "Invalid credentials"},
    ]
    seeds = [b"\x00" + standard.encode(), b"\x01" + complete.encode(), b"\x02" + old.encode()]
    seeds += [b"\x12" + standard.encode(), b"\x0a" + old.encode()]
    return seeds + [b"\x03" + json.dumps(answer).encode() for answer in answers]


def _modbus() -> list[bytes]:
    """The simulator's example point lists (CSV, JSON) and register words of each data type."""
    csv = (ROOT / "simulators/modbus/example_points.csv").read_bytes()
    rows = [line.split(",") for line in csv.decode().splitlines() if line and line[0] != "#"]
    as_json = json.dumps({"points": [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]})
    words = bytes.fromhex("42f6e979000000004d65746572")
    return [b"\x00" + csv, b"\x02" + as_json.encode()] + [
        bytes((1 | i << 1 | (i & 1) << 6,)) + words for i in range(10)
    ]


def _iec104() -> list[bytes]:
    """APDUs a station sends (spontaneous, interrogation, commands, U/S frames) and point lists."""
    stamp = CP56Time2a(millisecond=40123, minute=44, hour=12, day=17, month=1, year=2026)
    asdus = [
        Asdu(type_id=TypeId.M_ME_NC_1, cot=3, common_address=1, objects=(
            InformationObject(ioa=1001, value=230.5), InformationObject(ioa=1002, value=49.98))),
        Asdu(type_id=TypeId.M_ME_TF_1, cot=3, common_address=1, objects=(
            InformationObject(ioa=1003, value=12.5, time=stamp),)),
        Asdu(type_id=TypeId.M_SP_NA_1, cot=20, common_address=1, sequence=True, objects=(
            InformationObject(ioa=2001, value=True), InformationObject(ioa=2002, value=False))),
        Asdu(type_id=TypeId.C_IC_NA_1, cot=7, common_address=1, objects=(
            InformationObject(ioa=0, value=20),)),
    ]  # fmt: skip
    frames = [iec104.encode_apdu(UFrame(function=UFunction.STARTDT_CON))]
    for index, asdu in enumerate(asdus):
        raw = iec104.encode_asdu(asdu)
        frames.append(iec104.encode_apdu(IFrame(send_seq=index, recv_seq=0, asdu=raw), raw))
    frames.append(iec104.encode_apdu(SFrame(recv_seq=4)))
    csv = (ROOT / "simulators/iec104/example_points.csv").read_bytes()
    rows = [line.split(",") for line in csv.decode().splitlines() if line and line[0] != "#"]
    as_json = json.dumps([dict(zip(rows[0], row, strict=True)) for row in rows[1:]])
    seeds = [b"\x00" + b"".join(frames), b"\x03" + csv, b"\x04" + as_json.encode()]
    seeds += [b"\x02" + iec104.encode_time(stamp)]
    return seeds + [b"\x01" + iec104.encode_asdu(asdu) for asdu in asdus]


def _config() -> list[bytes]:
    """Typical form entries: serial paths, bridges, URLs, EKM addresses, OBIS codes, keys."""
    texts = [
        "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0",
        "COM3",
        "socket://192.168.1.20:4001",
        "rfc2217://[fe80::1]:2217?logging=debug",
        "10.0.0.5:502",
        "https://dcs.example.com:8443/api/",
        "dcs.local",
        "300012345, 000300012346;300012347",
        "1-0:1.8.0*255",
        "1.0.32.7.0.255",
        "000102030405060708090a0b0c0d0e0f",
        "4B:46:4D:00:00:00:00:01",
    ]
    return [text.encode() for text in texts]


GENERATORS = {
    "e3dc": _e3dc,
    "ekm": _ekm,
    "dlms": _dlms,
    "dcs": _dcs,
    "modbus": _modbus,
    "iec104": _iec104,
    "config": _config,
}


def main() -> None:
    """Write every corpus, one file per seed named by its SHA-1 (as libFuzzer names inputs)."""
    for name, generate in GENERATORS.items():
        folder = CORPUS / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        seeds = generate()
        for seed in seeds:
            (folder / hashlib.sha1(seed).hexdigest()).write_bytes(seed)  # noqa: S324 - a file name
        size = sum(len(seed) for seed in seeds)
        print(f"{name}: {len(seeds)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
