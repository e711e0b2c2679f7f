"""The fault proxy: each network fault behaves as it says, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from simulators.faultproxy import GARBAGE, FaultProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every chunk with itself."""
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    fault_proxy = await FaultProxy(server.sockets[0].getsockname()[1]).start()
    yield fault_proxy
    await fault_proxy.stop()
    server.close()
    await server.wait_closed()


async def _open(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await _open(proxy)
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    await asyncio.wait_for(proxy.wait_forwarded(to_device=5, to_client=5), 5)
    assert proxy.stats.to_device == 5
    assert proxy.stats.to_client == 5
    writer.close()


async def test_refuse_then_restart_on_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    reader, writer = await _open(proxy)
    await proxy.refuse()
    assert await reader.read() == b""  # reset or closed
    with pytest.raises(ConnectionRefusedError):
        await _open(proxy)
    await proxy.start()
    assert proxy.port == port
    reader, writer = await _open(proxy)
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    writer.close()


async def test_drop_mid_frame_cuts_the_reply_and_closes(proxy: FaultProxy) -> None:
    reader, writer = await _open(proxy)
    proxy.drop_mid_frame(cut_at=2)
    writer.write(b"abcdef")
    assert await reader.read() == b"ab"
    assert proxy.stats.cuts == 1
    writer.close()


async def test_garbage_comes_before_the_reply(proxy: FaultProxy) -> None:
    reader, writer = await _open(proxy)
    proxy.garbage_next()
    writer.write(b"ok")
    assert await reader.readexactly(len(GARBAGE) + 2) == GARBAGE + b"ok"
    writer.close()


async def test_stall_holds_bytes_until_pass(proxy: FaultProxy) -> None:
    reader, writer = await _open(proxy)
    proxy.set_mode("stall")
    writer.write(b"late")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.2)
    proxy.set_mode("pass")
    assert await reader.readexactly(4) == b"late"
    writer.close()


async def test_half_open_never_closes_the_client(proxy: FaultProxy) -> None:
    reader, writer = await _open(proxy)
    proxy.set_mode("half_open")
    writer.write(b"anyone?")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.2)
    assert not reader.at_eof()
    # new connections are accepted and stay silent too
    reader2, writer2 = await _open(proxy)
    writer2.write(b"?")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader2.read(1), 0.2)
    proxy.set_mode("pass")
    reader3, writer3 = await _open(proxy)
    writer3.write(b"back")
    assert await reader3.readexactly(4) == b"back"
    for w in (writer, writer2, writer3):
        w.close()
