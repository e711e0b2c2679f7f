"""Iec104Supervisor: reconnect after an outstation reboot and re-interrogate, against c104."""

from __future__ import annotations

import asyncio

from custom_components.meterlink.protocols.iec104.client import Iec104Client
from custom_components.meterlink.protocols.iec104.connection import Iec104Parameters
from custom_components.meterlink.protocols.iec104.errors import Iec104ConnectionError
from custom_components.meterlink.protocols.iec104.models import Asdu, Cot
from custom_components.meterlink.protocols.iec104.supervisor import Iec104Supervisor
from simulators.iec104.server import Iec104Simulator


async def test_reboot_reconnects_and_reinterrogates():
    states: asyncio.Queue[tuple[bool, Exception | None]] = asyncio.Queue()
    interrogated: asyncio.Queue[Asdu] = asyncio.Queue()

    def on_asdu(asdu: Asdu) -> None:
        if asdu.cot == Cot.INTERROGATED_BY_STATION and asdu.objects[0].ioa == 11:
            interrogated.put_nowait(asdu)

    async with Iec104Simulator() as sim:
        client = Iec104Client(
            host="127.0.0.1",
            port=sim.port,
            on_asdu=on_asdu,
            reconnect_delay_s=0.05,
            reconnect_delay_max_s=0.1,
            params=Iec104Parameters(t0_s=2, t1_s=1, t2_s=0.2, t3_s=5),
        )
        supervisor = Iec104Supervisor(client, on_state=lambda c, e: states.put_nowait((c, e)))
        supervisor.start()
        try:
            async with asyncio.timeout(10):
                assert await states.get() == (True, None)
                assert (await interrogated.get()).objects[0].value == 21.5
                await sim.pause()
                connected, error = await states.get()
                assert not connected
                assert isinstance(error, Iec104ConnectionError)
                while (await states.get())[0] is False:  # refused attempts while down
                    if states.empty():
                        sim.set_value(11, 99.5)
                        await sim.resume()
                assert (await interrogated.get()).objects[0].value == 99.5
            assert supervisor.connects == 2
            assert client.connected
        finally:
            await supervisor.stop()
        assert not client.connected
