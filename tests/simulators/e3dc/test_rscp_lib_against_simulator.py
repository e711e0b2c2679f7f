"""rscp-lib 1.0.2 (an independent asyncio RSCP client, frames without CRC) against the simulator."""

from __future__ import annotations

from rscp_lib.RscpConnection import RscpConnection
from rscp_lib.RscpEncryption import RscpEncryption
from rscp_lib.RscpFrame import RscpFrame
from rscp_lib.RscpValue import RscpValue

from simulators.e3dc.server import E3dcSimulator

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
