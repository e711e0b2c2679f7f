"""Sans-I/O IEC 60870-5-104 link state machine for the controlling station (client).

Sequence numbers, the k/w windows and the t1/t2/t3 timers of IEC 60870-5-104 clause 5 and
9.6, driven by the caller: every method takes ``now`` (seconds from any monotonic clock),
bytes go in through :meth:`receive_data` and come out of :meth:`data_to_send`, and
:meth:`next_deadline` says when :meth:`tick` must be called next. No sockets, no sleeping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from .codec import ApduDecoder, decode_asdu, encode_apdu, encode_asdu
from .errors import Iec104ProtocolError, Iec104TimeoutError, Iec104UnknownTypeError
from .models import MAX_SEQ, Asdu, IFrame, SFrame, UFrame, UFunction


@dataclass(frozen=True, kw_only=True, slots=True)
class Iec104Parameters:
    """Protocol parameters (IEC 60870-5-104, 9.6 table; defaults are the standard's)."""

    k: int = 12  # max unacknowledged I-frames sent
    w: int = 8  # acknowledge at the latest after w received I-frames
    t0_s: float = 30.0  # connection establishment (used by the client)
    t1_s: float = 15.0  # wait for acknowledgement of a sent I-frame / U-frame act
    t2_s: float = 10.0  # acknowledge received I-frames at the latest after t2 (t2 < t1)
    t3_s: float = 20.0  # send TESTFR act after t3 without receiving anything

    def __post_init__(self) -> None:
        """Reject parameter sets the standard forbids."""
        if not 1 <= self.k <= MAX_SEQ - 1 or not 1 <= self.w <= MAX_SEQ - 1:
            msg = f"k={self.k} and w={self.w} must be in 1..32767"
            raise ValueError(msg)
        if self.w > self.k:
            msg = f"w={self.w} must not exceed k={self.k}"
            raise ValueError(msg)
        if not 0 < self.t2_s < self.t1_s:
            msg = f"t2={self.t2_s} must be positive and below t1={self.t1_s}"
            raise ValueError(msg)
        if self.t0_s <= 0 or self.t3_s <= 0:
            msg = "t0 and t3 must be positive"
            raise ValueError(msg)


class LinkState(StrEnum):
    """Data transfer state of the link."""

    STOPPED = "stopped"
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"


@dataclass(frozen=True, kw_only=True, slots=True)
class AsduReceived:
    """An ASDU arrived."""

    asdu: Asdu


@dataclass(frozen=True, kw_only=True, slots=True)
class UnknownAsduReceived:
    """An I-frame with a type this codec does not know arrived (acknowledged, not decoded)."""

    type_id: int
    raw: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class DataTransferStarted:
    """STARTDT was confirmed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DataTransferStopped:
    """STOPDT was confirmed."""


type Event = AsduReceived | UnknownAsduReceived | DataTransferStarted | DataTransferStopped


def _distance(low: int, high: int) -> int:
    """Steps from ``low`` forward to ``high`` modulo 2^15."""
    return (high - low) % MAX_SEQ


class Iec104Connection:
    """Controlling-station side of one IEC 104 connection."""

    def __init__(self, *, now: float, params: Iec104Parameters | None = None) -> None:
        """Start a fresh link (as after a TCP connect): all counters zero, STOPPED."""
        self.params = params or Iec104Parameters()
        self.state = LinkState.STOPPED
        self._decoder = ApduDecoder()
        self._out = bytearray()
        self._vs = 0  # send state variable V(S)
        self._vr = 0  # receive state variable V(R)
        self._ack = 0  # oldest unacknowledged send sequence number
        self._sent: deque[tuple[int, float]] = deque()  # (N(S), time sent)
        self._queue: deque[bytes] = deque()  # ASDUs waiting for the k window
        self._recv_unacked = 0
        self._t2_deadline: float | None = None
        self._u_pending: dict[UFunction, float] = {}  # act sent -> t1 deadline
        self._last_rx = now
        self.frames_sent = 0
        self.frames_received = 0

    # -- sending -------------------------------------------------------------------------

    def _send_u(self, function: UFunction, now: float) -> None:
        """Queue a U-frame; an act starts its t1."""
        self._out += encode_apdu(UFrame(function=function))
        self.frames_sent += 1
        if function in {UFunction.STARTDT_ACT, UFunction.STOPDT_ACT, UFunction.TESTFR_ACT}:
            self._u_pending[function] = now + self.params.t1_s

    def _send_s(self) -> None:
        """Acknowledge every received I-frame."""
        self._out += encode_apdu(SFrame(recv_seq=self._vr))
        self.frames_sent += 1
        self._recv_unacked = 0
        self._t2_deadline = None

    def start_data_transfer(self, now: float) -> None:
        """Send STARTDT act (IEC 60870-5-104, 5.3)."""
        if self.state is not LinkState.STOPPED:
            msg = f"cannot start data transfer in state {self.state}"
            raise Iec104ProtocolError(msg)
        self.state = LinkState.STARTING
        self._send_u(UFunction.STARTDT_ACT, now)

    def stop_data_transfer(self, now: float) -> None:
        """Acknowledge what was received and send STOPDT act."""
        if self.state is not LinkState.STARTED:
            msg = f"cannot stop data transfer in state {self.state}"
            raise Iec104ProtocolError(msg)
        if self._recv_unacked:
            self._send_s()
        self.state = LinkState.STOPPING
        self._send_u(UFunction.STOPDT_ACT, now)

    def send_asdu(self, asdu: Asdu | bytes, now: float) -> None:
        """Queue an ASDU; it goes out as soon as the k window allows."""
        if self.state is not LinkState.STARTED:
            msg = f"cannot send an ASDU in state {self.state} (STARTDT not confirmed)"
            raise Iec104ProtocolError(msg)
        self._queue.append(asdu if isinstance(asdu, bytes) else encode_asdu(asdu))
        self._flush(now)

    def _flush(self, now: float) -> None:
        """Send queued ASDUs while fewer than k I-frames are unacknowledged."""
        while self._queue and self.state is LinkState.STARTED and len(self._sent) < self.params.k:
            payload = self._queue.popleft()
            frame = IFrame(send_seq=self._vs, recv_seq=self._vr, asdu=payload)
            self._out += encode_apdu(frame)
            self.frames_sent += 1
            self._sent.append((self._vs, now))
            self._vs = (self._vs + 1) % MAX_SEQ
            self._recv_unacked = 0  # an I-frame acknowledges too
            self._t2_deadline = None

    def data_to_send(self) -> bytes:
        """Take the bytes to write to the socket."""
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def unacknowledged(self) -> int:
        """I-frames sent and not yet acknowledged."""
        return len(self._sent)

    @property
    def queued(self) -> int:
        """ASDUs waiting for the k window."""
        return len(self._queue)

    # -- receiving -----------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Process received bytes; returns events, raises on protocol violations."""
        self._decoder.feed(data)
        events: list[Event] = []
        for frame in self._decoder.frames():
            self._last_rx = now
            self.frames_received += 1
            if isinstance(frame, IFrame):
                events.extend(self._on_i(frame, now))
            elif isinstance(frame, SFrame):
                self._on_ack(frame.recv_seq, now)
            else:
                events.extend(self._on_u(frame.function, now))
        return events

    def _on_ack(self, recv_seq: int, now: float) -> None:
        """Release sent I-frames acknowledged by N(R)."""
        if _distance(self._ack, recv_seq) > _distance(self._ack, self._vs):
            msg = (
                f"peer acknowledged N(R)={recv_seq} outside the sent range {self._ack}..{self._vs}"
            )
            raise Iec104ProtocolError(msg)
        # N(S)=s is acknowledged by N(R)=r when s lies in [ack, r) modulo 2^15.
        acked = _distance(self._ack, recv_seq)
        while self._sent and _distance(self._ack, self._sent[0][0]) < acked:
            self._sent.popleft()
        self._ack = recv_seq
        self._flush(now)

    def _on_i(self, frame: IFrame, now: float) -> list[Event]:
        """Handle an I-frame: sequence check, acknowledgement duty, ASDU decoding."""
        if self.state not in {LinkState.STARTED, LinkState.STOPPING}:
            msg = f"I-frame received in state {self.state}"
            raise Iec104ProtocolError(msg, snippet=frame.asdu[:16])
        if frame.send_seq != self._vr:
            msg = f"I-frame N(S)={frame.send_seq} but expected {self._vr} (lost or repeated frame)"
            raise Iec104ProtocolError(msg, snippet=frame.asdu[:16])
        self._on_ack(frame.recv_seq, now)
        self._vr = (self._vr + 1) % MAX_SEQ
        self._recv_unacked += 1
        if self._recv_unacked >= self.params.w:
            self._send_s()
        elif self._t2_deadline is None:
            self._t2_deadline = now + self.params.t2_s
        try:
            return [AsduReceived(asdu=decode_asdu(frame.asdu))]
        except Iec104UnknownTypeError as err:
            return [UnknownAsduReceived(type_id=err.type_id, raw=frame.asdu)]

    def _on_u(self, function: UFunction, now: float) -> list[Event]:
        """Handle a U-frame."""
        if function is UFunction.TESTFR_ACT:
            self._send_u(UFunction.TESTFR_CON, now)
            return []
        if function is UFunction.TESTFR_CON:
            self._u_pending.pop(UFunction.TESTFR_ACT, None)
            return []
        if function is UFunction.STARTDT_CON and self.state is LinkState.STARTING:
            self._u_pending.pop(UFunction.STARTDT_ACT, None)
            self.state = LinkState.STARTED
            self._flush(now)
            return [DataTransferStarted()]
        if function is UFunction.STOPDT_CON and self.state is LinkState.STOPPING:
            self._u_pending.pop(UFunction.STOPDT_ACT, None)
            self.state = LinkState.STOPPED
            return [DataTransferStopped()]
        msg = f"unexpected U-frame {function.name} in state {self.state}"
        raise Iec104ProtocolError(msg, snippet=bytes([function]))

    # -- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """When :meth:`tick` must run next (t1 of the oldest frame, t2, or t3)."""
        deadlines = [self._last_rx + self.params.t3_s, *self._u_pending.values()]
        if self._sent:
            deadlines.append(self._sent[0][1] + self.params.t1_s)
        if self._t2_deadline is not None:
            deadlines.append(self._t2_deadline)
        return min(deadlines)

    def tick(self, now: float) -> None:
        """Run due timers: t1 expiry raises, t2 sends an S-frame, t3 sends TESTFR act."""
        if self._sent and now >= self._sent[0][1] + self.params.t1_s:
            msg = f"I-frame N(S)={self._sent[0][0]} not acknowledged within t1={self.params.t1_s} s"
            raise Iec104TimeoutError(msg)
        for function, deadline in self._u_pending.items():
            if now >= deadline:
                msg = f"{function.name} not confirmed within t1={self.params.t1_s} s"
                raise Iec104TimeoutError(msg)
        if self._t2_deadline is not None and now >= self._t2_deadline:
            self._send_s()
        if now >= self._last_rx + self.params.t3_s and UFunction.TESTFR_ACT not in self._u_pending:
            self._send_u(UFunction.TESTFR_ACT, now)
            self._last_rx = now  # t3 restarts; t1 now guards the TESTFR
