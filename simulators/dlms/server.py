"""asyncio TCP front end of the simulated meter: IEC 62056-47 wrapper or HDLC, with faults."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import os

from custom_components.meterlink.protocols.dlms.axdr import DataItem, DataTag, obis_from_str
from custom_components.meterlink.protocols.dlms.errors import DlmsError
from custom_components.meterlink.protocols.dlms.hdlc import (
    HDLC_DEFAULT_MAX_INFO,
    LLC_REQUEST,
    LLC_RESPONSE,
    HdlcDecoder,
    HdlcFrame,
    HdlcFrameKind,
    HdlcReassembler,
    encode_hdlc_frame,
    segment_information,
)
from custom_components.meterlink.protocols.dlms.wrapper import (
    WrapperDecoder,
    WrapperFrame,
    encode_wrapper_frame,
)

from .cosem import (
    CONFORMANCE_MULTIPLE_REFERENCES,
    SERVER_CONFORMANCE,
    CosemObject,
    CosemServer,
    ServerSecurity,
)
from .meter import SimulatedMeter

_LOGGER = logging.getLogger(__name__)


class SimTransport(StrEnum):
    """Which framing the simulator speaks."""

    WRAPPER = "wrapper"
    HDLC = "hdlc"


@dataclass(kw_only=True)
class Faults:
    """Faults the simulator injects; tests flip them at run time."""

    drop_after: int | None = None  # close the connection after this many requests
    stall: bool = False  # read requests, never answer
    garbage: bool = False  # send junk bytes before each answer
    bad_fcs: bool = False  # corrupt the FCS of HDLC answers
    refuse_association: bool = False
    latency_s: float = 0.0
    chunk_size: int | None = None  # dribble answers out in chunks of this many bytes
    drop_action_reply: bool = False  # carry out the next ACTION, then close instead of answering
    bad_tag: bool = False  # flip a bit of the GCM tag of ciphered GET answers (wrapper only)
    endless_blocks: bool = False  # answer every GET by block transfer that never ends


@dataclass(kw_only=True)
class Stats:
    """Counters tests and benchmarks read."""

    connections: int = 0
    requests: int = 0
    apdus: list[int] = field(default_factory=list)


def _ua_information(max_info: int) -> bytes:
    """HDLC parameter negotiation field (IEC 62056-46 6.4.4.4.3.2) with window size 1."""
    params = (
        b"\x05\x02"
        + max_info.to_bytes(2, "big")
        + b"\x06\x02"
        + max_info.to_bytes(2, "big")
        + b"\x07\x04\x00\x00\x00\x01\x08\x04\x00\x00\x00\x01"
    )
    return b"\x81\x80" + bytes((len(params),)) + params


class HdlcSession:
    """Server side of the HDLC link for one connection (window size 1)."""

    def __init__(self, cosem: CosemServer, *, max_info: int, stats: Stats) -> None:
        """Start disconnected."""
        self.cosem = cosem
        self.max_info = max_info
        self.stats = stats
        self.connected = False
        self.vs = 0
        self.vr = 0
        self.join = HdlcReassembler()
        self.pending: list[tuple[bytes, bool]] = []

    def _reply(self, request: HdlcFrame, kind: HdlcFrameKind, **kwargs: object) -> bytes:
        frame = HdlcFrame(
            destination=request.source,
            source=request.destination,
            kind=kind,
            **kwargs,  # type: ignore[arg-type]
        )
        return encode_hdlc_frame(frame)

    def _next_segment(self, request: HdlcFrame) -> bytes:
        chunk, segmented = self.pending.pop(0)
        wire = self._reply(
            request,
            HdlcFrameKind.I,
            send_sequence=self.vs,
            receive_sequence=self.vr,
            segmented=segmented,
            information=chunk,
        )
        self.vs = (self.vs + 1) % 8
        return wire

    def receive(self, frame: HdlcFrame) -> list[bytes]:  # noqa: PLR0911
        """Handle one frame from the client; return frames to send."""
        kind = frame.kind
        if kind is HdlcFrameKind.SNRM:
            self.connected, self.vs, self.vr = True, 0, 0
            self.join.reset()
            self.pending = []
            self.cosem.reset()
            return [
                self._reply(frame, HdlcFrameKind.UA, information=_ua_information(self.max_info))
            ]
        if kind is HdlcFrameKind.DISC:
            was = self.connected
            self.connected = False
            self.cosem.reset()
            return [self._reply(frame, HdlcFrameKind.UA if was else HdlcFrameKind.DM)]
        if not self.connected:
            return [self._reply(frame, HdlcFrameKind.DM)]
        if kind is HdlcFrameKind.RR:
            if self.pending:
                return [self._next_segment(frame)]
            return [self._reply(frame, HdlcFrameKind.RR, receive_sequence=self.vr)]
        if kind is not HdlcFrameKind.I:
            return []
        if frame.send_sequence != self.vr:
            _LOGGER.debug("ignoring I-frame N(S)=%s, expected %s", frame.send_sequence, self.vr)
            return []
        self.vr = (self.vr + 1) % 8
        whole = self.join.add(frame)
        if whole is None:
            return [self._reply(frame, HdlcFrameKind.RR, receive_sequence=self.vr)]
        if whole[:3] != LLC_REQUEST:
            return []
        self.stats.requests += 1
        self.stats.apdus.append(whole[3])
        response = self.cosem.handle(whole[3:])
        self.pending = segment_information(LLC_RESPONSE + response, max_info=self.max_info)
        return [self._next_segment(frame)]


class _FdWriter:
    """The StreamWriter subset the simulator uses, writing to a pty master fd."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes) -> None:
        os.write(self._fd, data)

    async def drain(self) -> None:
        return None


class DlmsSimulator:
    """A simulated DLMS meter listening on TCP."""

    def __init__(
        self,
        *,
        meter: SimulatedMeter | None = None,
        transport: SimTransport = SimTransport.WRAPPER,
        password: bytes | None = None,
        max_pdu: int = 0xFFFF,
        max_info: int = HDLC_DEFAULT_MAX_INFO,
        faults: Faults | None = None,
        get_with_list: bool = True,
        security: ServerSecurity | None = None,
        identification: str = "MTL5\\2SIM0000000001",
    ) -> None:
        """Configure the meter and how it is reached."""
        self.get_with_list = get_with_list
        self.security = security
        self.identification = identification
        self.meter = meter or SimulatedMeter()
        self.transport = transport
        self.password = password
        self.max_pdu = max_pdu
        self.max_info = max_info
        self.faults = faults or Faults()
        self.stats = Stats()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The TCP port the simulator listens on."""
        if self._server is None:
            msg = "simulator is not started"
            raise RuntimeError(msg)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._handle, host, port)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        """Close every open connection (the meter drops the association)."""
        for writer in list(self._writers):
            writer.close()

    def _frame_counter(self) -> DataItem:
        counters = self.security.client_counters if self.security else {}
        return DataItem(tag=DataTag.DOUBLE_LONG_UNSIGNED, value=max(counters.values(), default=0))

    def _cosem(self) -> CosemServer:
        counter = CosemObject(
            class_id=1,
            version=0,
            logical_name=obis_from_str("0.0.43.1.0.255"),
            getters={2: self._frame_counter},
        )
        return CosemServer(
            [*self.meter.objects(), counter],
            security=self.security,
            password=self.password,
            max_pdu=self.max_pdu,
            refuse_association=self.faults.refuse_association,
            endless_blocks=self.faults.endless_blocks,
            conformance=SERVER_CONFORMANCE
            if self.get_with_list
            else SERVER_CONFORMANCE & ~CONFORMANCE_MULTIPLE_REFERENCES,
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.stats.connections += 1
        try:
            if self.transport is SimTransport.WRAPPER:
                await self._serve_wrapper(reader, writer)
            else:
                await self._serve_hdlc(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _send(self, writer: asyncio.StreamWriter, frames: list[bytes]) -> bool:
        """Send answers through the fault filters; return False to close the connection."""
        faults = self.faults
        if faults.stall:
            return True
        if faults.drop_after is not None and self.stats.requests > faults.drop_after:
            return False
        if faults.drop_action_reply and self.stats.apdus[-1:] in ([0xC3], [0xCB]):
            faults.drop_action_reply = False  # ACTION-Request, plain or glo-ciphered
            return False
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        for frame in frames:
            data = frame
            if faults.bad_fcs and self.transport is SimTransport.HDLC:
                data = frame[:-3] + bytes((frame[-3] ^ 0xFF,)) + frame[-2:]
            if faults.garbage:
                data = b"\x55\xaa\x13\x37" + data
            step = faults.chunk_size or len(data) or 1
            for start in range(0, len(data), step):
                writer.write(data[start : start + step])
                if faults.chunk_size:
                    await writer.drain()
                    await asyncio.sleep(0)  # let each chunk go out as its own segment
        await writer.drain()
        return True

    async def _serve_wrapper(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder = WrapperDecoder()
        cosem = self._cosem()
        while data := await reader.read(65536):
            decoder.feed(data)
            try:
                frames = list(decoder.frames())
            except DlmsError:
                return
            for frame in frames:
                self.stats.requests += 1
                self.stats.apdus.append(frame.payload[0] if frame.payload else 0)
                response = cosem.handle(frame.payload)
                if self.faults.bad_tag and response[:1] == b"\xcc":  # glo-get-response
                    response = response[:-1] + bytes((response[-1] ^ 0x01,))
                answer = WrapperFrame(
                    source=frame.destination, destination=frame.source, payload=response
                )
                if not await self._send(writer, [encode_wrapper_frame(answer)]):
                    return

    async def serve_serial(self, fd: int, *, mode_e: bool = False) -> None:
        """Serve HDLC on a pty master ``fd`` (optionally after the IEC 62056-21 mode E sign-on)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        pipe = os.fdopen(os.dup(fd), "rb", buffering=0)
        read_transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
        writer = _FdWriter(fd)
        self.stats.connections += 1
        try:
            if mode_e:
                await self._mode_e(reader, writer)
            await self._serve_hdlc(reader, writer)  # type: ignore[arg-type]
        except (ConnectionError, OSError):
            pass
        finally:
            read_transport.close()

    async def _mode_e(self, reader: asyncio.StreamReader, writer: _FdWriter) -> None:
        """Answer the sign-on with the identification and wait for the ACK option select."""
        line = await reader.readuntil(b"\n")
        if not line.strip().startswith(b"/?"):
            return
        writer.write(("/" + self.identification + "\r\n").encode("ascii"))
        ack = await reader.readuntil(b"\n")
        if not ack.startswith(b"\x062"):
            msg = f"unexpected option select {ack!r}"
            raise ConnectionError(msg)

    async def _serve_hdlc(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = HdlcDecoder()
        session = HdlcSession(self._cosem(), max_info=self.max_info, stats=self.stats)
        while data := await reader.read(65536):
            decoder.feed(data)
            while True:
                try:
                    frame = decoder.next_frame()
                except DlmsError:
                    continue  # IEC 62056-46: discard bad frames silently
                if frame is None:
                    break
                if not await self._send(writer, session.receive(frame)):
                    return
