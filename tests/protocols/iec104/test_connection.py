"""IEC 104 link state machine: STARTDT, sequence numbers, k/w windows, timers (fake clock)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meterlink.protocols.iec104.codec import (
    ApduDecoder,
    encode_apdu,
    encode_asdu,
)
from custom_components.meterlink.protocols.iec104.connection import (
    AsduReceived,
    DataTransferStarted,
    DataTransferStopped,
    Iec104Connection,
    Iec104Parameters,
    LinkState,
    UnknownAsduReceived,
)
from custom_components.meterlink.protocols.iec104.errors import (
    Iec104Error,
    Iec104ProtocolError,
    Iec104TimeoutError,
)
from custom_components.meterlink.protocols.iec104.models import (
    Asdu,
    Cot,
    IFrame,
    InformationObject,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
)

MEASURE = encode_asdu(
    Asdu(
        type_id=TypeId.M_ME_NC_1,
        cot=Cot.SPONTANEOUS,
        common_address=1,
        objects=(InformationObject(ioa=11, value=1.5),),
    )
)
GI = Asdu(
    type_id=TypeId.C_IC_NA_1,
    cot=Cot.ACTIVATION,
    common_address=1,
    objects=(InformationObject(ioa=0, value=20),),
)


def sent(conn: Iec104Connection) -> list:
    """Frames the connection wants to send."""
    decoder = ApduDecoder()
    decoder.feed(conn.data_to_send())
    return list(decoder.frames())


def u(function: UFunction) -> bytes:
    return encode_apdu(UFrame(function=function))


def i_frame(ns: int, nr: int, asdu: bytes = MEASURE) -> bytes:
    return encode_apdu(IFrame(send_seq=ns, recv_seq=nr, asdu=asdu))


def started(params: Iec104Parameters | None = None) -> Iec104Connection:
    conn = Iec104Connection(now=0.0, params=params)
    conn.start_data_transfer(0.0)
    assert sent(conn) == [UFrame(function=UFunction.STARTDT_ACT)]
    assert conn.receive_data(u(UFunction.STARTDT_CON), 0.1) == [DataTransferStarted()]
    assert conn.state is LinkState.STARTED
    return conn


def test_startdt_then_send_and_receive():
    conn = started()
    conn.send_asdu(GI, 1.0)
    (frame,) = sent(conn)
    assert frame == IFrame(send_seq=0, recv_seq=0, asdu=encode_asdu(GI))
    events = conn.receive_data(i_frame(0, 1), 1.2)
    assert events[0] == AsduReceived(
        asdu=Asdu(
            type_id=TypeId.M_ME_NC_1,
            cot=Cot.SPONTANEOUS,
            common_address=1,
            objects=(InformationObject(ioa=11, value=1.5),),
        )
    )
    assert conn.unacknowledged == 0
    conn.send_asdu(GI, 1.5)
    assert sent(conn) == [IFrame(send_seq=1, recv_seq=1, asdu=encode_asdu(GI))]


def test_send_before_startdt_con_is_refused():
    conn = Iec104Connection(now=0)
    with pytest.raises(Iec104ProtocolError, match="STARTDT not confirmed"):
        conn.send_asdu(GI, 0)
    conn.start_data_transfer(0)
    with pytest.raises(Iec104ProtocolError, match="cannot start"):
        conn.start_data_transfer(0)
    with pytest.raises(Iec104ProtocolError, match="I-frame received in state starting"):
        conn.receive_data(i_frame(0, 0), 0)


def test_k_window_queues_until_acknowledged():
    conn = started(Iec104Parameters(k=2, w=1))
    for _ in range(5):
        conn.send_asdu(GI, 1.0)
    assert [f.send_seq for f in sent(conn)] == [0, 1]
    assert (conn.unacknowledged, conn.queued) == (2, 3)
    conn.receive_data(encode_apdu(SFrame(recv_seq=1)), 2.0)
    assert [f.send_seq for f in sent(conn)] == [2]
    conn.receive_data(encode_apdu(SFrame(recv_seq=3)), 2.0)
    assert [f.send_seq for f in sent(conn)] == [3, 4]
    assert (conn.unacknowledged, conn.queued) == (2, 0)


def test_w_window_sends_s_frame_after_w_frames():
    conn = started(Iec104Parameters(w=3, k=5))
    conn.receive_data(i_frame(0, 0) + i_frame(1, 0), 1.0)
    assert sent(conn) == []
    conn.receive_data(i_frame(2, 0), 1.0)
    assert sent(conn) == [SFrame(recv_seq=3)]


def test_t2_acknowledges_late():
    conn = started(Iec104Parameters(t1_s=15, t2_s=10))
    conn.receive_data(i_frame(0, 0), 1.0)
    assert conn.next_deadline() == 11.0
    conn.tick(10.9)
    assert sent(conn) == []
    conn.tick(11.0)
    assert sent(conn) == [SFrame(recv_seq=1)]


def test_t1_without_acknowledgement_raises():
    conn = started(Iec104Parameters(t1_s=15, t2_s=10, t3_s=100))
    conn.send_asdu(GI, 5.0)
    sent(conn)
    assert conn.next_deadline() == 20.0
    conn.tick(19.9)
    with pytest.raises(Iec104TimeoutError, match=r"N\(S\)=0 not acknowledged within t1=15"):
        conn.tick(20.0)


def test_t3_sends_testfr_and_t1_guards_it():
    conn = started(Iec104Parameters(t1_s=15, t2_s=10, t3_s=20))
    assert conn.next_deadline() == pytest.approx(20.1)
    conn.tick(20.1)
    assert sent(conn) == [UFrame(function=UFunction.TESTFR_ACT)]
    conn.receive_data(u(UFunction.TESTFR_CON), 21.0)
    conn.tick(35.2)
    assert sent(conn) == []
    conn.tick(41.0)
    assert sent(conn) == [UFrame(function=UFunction.TESTFR_ACT)]
    with pytest.raises(Iec104TimeoutError, match="TESTFR_ACT not confirmed"):
        conn.tick(56.0)


def test_startdt_unconfirmed_times_out():
    conn = Iec104Connection(now=0, params=Iec104Parameters(t1_s=2, t2_s=1))
    conn.start_data_transfer(0)
    with pytest.raises(Iec104TimeoutError, match="STARTDT_ACT not confirmed within t1=2"):
        conn.tick(2)


def test_peer_testfr_act_is_answered():
    conn = started()
    conn.receive_data(u(UFunction.TESTFR_ACT), 1)
    assert sent(conn) == [UFrame(function=UFunction.TESTFR_CON)]


def test_sequence_errors():
    conn = started()
    with pytest.raises(Iec104ProtocolError, match=r"N\(S\)=1 but expected 0"):
        conn.receive_data(i_frame(1, 0), 1)
    conn = started()
    with pytest.raises(Iec104ProtocolError, match=r"N\(R\)=3 outside the sent range 0\.\.0"):
        conn.receive_data(encode_apdu(SFrame(recv_seq=3)), 1)


def test_unexpected_u_frame():
    conn = started()
    with pytest.raises(Iec104ProtocolError, match="unexpected U-frame STARTDT_ACT"):
        conn.receive_data(u(UFunction.STARTDT_ACT), 1)


def test_stopdt():
    conn = started()
    conn.receive_data(i_frame(0, 0), 1)
    conn.stop_data_transfer(2)
    assert sent(conn) == [SFrame(recv_seq=1), UFrame(function=UFunction.STOPDT_ACT)]
    assert conn.receive_data(u(UFunction.STOPDT_CON), 3) == [DataTransferStopped()]
    assert conn.state is LinkState.STOPPED
    with pytest.raises(Iec104ProtocolError, match="cannot stop"):
        conn.stop_data_transfer(3)


def test_unknown_type_is_acknowledged_and_reported():
    conn = started(Iec104Parameters(w=1, k=1))
    raw = bytes.fromhex("07010300010001000000000000")
    assert conn.receive_data(i_frame(0, 0, raw), 1) == [UnknownAsduReceived(type_id=7, raw=raw)]
    assert sent(conn) == [SFrame(recv_seq=1)]


def test_sequence_numbers_wrap_at_32768():
    conn = started(Iec104Parameters(k=5, w=5))
    conn._vs = conn._ack = 32766  # as after 32766 acknowledged frames
    conn._vr = 32767
    for _ in range(3):
        conn.send_asdu(GI, 1)
    assert [(f.send_seq, f.recv_seq) for f in sent(conn)] == [
        (32766, 32767),
        (32767, 32767),
        (0, 32767),
    ]
    conn.receive_data(encode_apdu(SFrame(recv_seq=32767)), 2)
    assert conn.unacknowledged == 2
    conn.receive_data(i_frame(32767, 1), 2)
    assert conn.unacknowledged == 0
    conn.receive_data(i_frame(0, 1), 2)
    conn.send_asdu(GI, 3)
    assert [(f.send_seq, f.recv_seq) for f in sent(conn)] == [(1, 1)]


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="t2=15"):
        Iec104Parameters(t1_s=15, t2_s=15)
    with pytest.raises(ValueError, match="w=13 must not exceed k=12"):
        Iec104Parameters(w=13)
    with pytest.raises(ValueError, match="k=0"):
        Iec104Parameters(k=0)
    with pytest.raises(ValueError, match="t0 and t3"):
        Iec104Parameters(t3_s=0)


FRAMES = st.one_of(
    st.builds(lambda f: encode_apdu(UFrame(function=f)), st.sampled_from(list(UFunction))),
    st.builds(lambda n: encode_apdu(SFrame(recv_seq=n)), st.integers(0, 32767)),
    st.builds(i_frame, st.integers(0, 3), st.integers(0, 3)),
    st.binary(min_size=1, max_size=12),
)


@settings(max_examples=200)
@given(
    frames=st.lists(FRAMES, max_size=8),
    sends=st.integers(0, 3),
    times=st.lists(st.floats(0, 100), min_size=8, max_size=8),
)
def test_state_machine_fuzz_only_typed_errors(frames, sends, times):
    conn = started(Iec104Parameters(k=2, w=2, t1_s=5, t2_s=1, t3_s=10))
    for _ in range(sends):
        conn.send_asdu(GI, 0.5)
    now = 1.0
    try:
        for frame, step in zip(frames, times, strict=False):
            now += step
            conn.receive_data(frame, now)
            conn.tick(now)
            assert conn.unacknowledged <= 2
            conn.data_to_send()
    except Iec104Error:
        pass
