"""rscp-lib 1.0.2 (independent asyncio RSCP client, frames without CRC) and the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rscp_lib.RscpConnection import RscpConnection
from rscp_lib.RscpEncryption import RscpEncryption
from rscp_lib.RscpFrame import RscpFrame
from rscp_lib.RscpTags import rscpTags
from rscp_lib.RscpValue import RscpValue

from custom_components.meterlink.protocols.e3dc import commands
from custom_components.meterlink.protocols.e3dc.tags import TAG_NAMES, RscpType
from simulators.e3dc.server import E3dcSimulator, Session

if TYPE_CHECKING:
    from custom_components.meterlink.protocols.e3dc.codec import RscpItem

KEY = "rscp-lib-key"
USER = "lib@example.com"
PASSWORD = "lib-password"
NOON = 1_750_000_000 - 1_750_000_000 % 86400 + 12 * 3600


async def test_rscp_lib_logs_in_and_reads_a_batched_frame() -> None:
    sim = E3dcSimulator(rscp_key=KEY, users={USER: (PASSWORD, 10)}, clock=lambda: NOON)
    await sim.start()
    connection = RscpConnection("127.0.0.1", sim.port, RscpEncryption(KEY), USER, PASSWORD)
    try:
        assert await connection.connect() is True
        assert await connection.authorize() is True
        request = [
            RscpValue().withTagName("TAG_EMS_REQ_POWER_PV", None),
            RscpValue().withTagName("TAG_EMS_REQ_BAT_SOC", None),
        ]
        await connection.send(RscpFrame().packFrame(request))
        frame = RscpFrame()
        frame.unpack(await connection.receive())
        pv, soc = frame.getRscpValues()
    finally:
        connection.disconnect()
        await sim.stop()
    flows = sim.model.flows(NOON)
    assert pv.isTag("TAG_EMS_POWER_PV")
    assert pv.getValue() == flows.pv_w
    assert soc.isTag("TAG_EMS_BAT_SOC")
    assert soc.getValue() == round(flows.soc_pct)


_TYPE_NAMES = {
    "Bool": RscpType.BOOL,
    "Char8": RscpType.CHAR8,
    "UChar8": RscpType.UCHAR8,
    "Int16": RscpType.INT16,
    "Uint16": RscpType.UINT16,
    "UInt16": RscpType.UINT16,
    "Int32": RscpType.INT32,
    "Uint32": RscpType.UINT32,
    "UInt32": RscpType.UINT32,
    "Int64": RscpType.INT64,
    "Uint64": RscpType.UINT64,
    "UInt64": RscpType.UINT64,
    "Float32": RscpType.FLOAT32,
    "Double64": RscpType.DOUBLE64,
    "Bitfield": RscpType.BITFIELD,
    "CString": RscpType.STRING,
    "Container": RscpType.CONTAINER,
    "Timestamp": RscpType.TIMESTAMP,
    "ByteArray": RscpType.BYTEARRAY,
}


def _walk(entry: RscpItem, seen: dict[int, RscpType]) -> None:
    seen.setdefault(entry.tag, entry.type)
    for child in entry.children:
        _walk(child, seen)


def test_simulator_reply_types_follow_rscp_libs_typed_table() -> None:
    # rscp-lib carries a reply type per tag (E3/DC's rscpLib); the simulator must agree.
    sim = E3dcSimulator(clock=lambda: NOON)
    session = Session(level=10)
    requests = [
        *commands.live(),
        *commands.system_info(),
        commands.battery(0, modules=3),
        commands.inverter(0, strings=2, phases=3),
        commands.power_meter(0),
        commands.wallbox(0),
        *commands.power_settings(),
        *commands.wallbox_settings(),
        commands.sg_ready(),
        *commands.switches(),
        commands.history(
            commands.HistoryPeriod.DAY, start=NOON - 86400, interval=86400, span=86400
        ),
    ]
    seen: dict[int, RscpType] = {}
    for request in requests:
        _walk(sim.answer(request, session), seen)
    checked, differ = 0, {}
    for tag, rscp_type in seen.items():
        declared = rscpTags.get(f"TAG_{TAG_NAMES.get(tag)}")
        if rscp_type is RscpType.ERROR or declared is None or declared.get("type_variable"):
            continue
        checked += 1
        if _TYPE_NAMES.get(declared["type"]) is not rscp_type:
            differ[TAG_NAMES[tag]] = (rscp_type.name, declared["type"])
    assert differ == {}
    assert checked > 100
