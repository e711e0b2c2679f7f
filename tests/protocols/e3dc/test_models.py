"""Models never crash on odd replies: wrong types, errors, missing or unknown children."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from custom_components.meterlink.protocols.e3dc.codec import (
    RscpItem,
    RscpTimestamp,
    container,
    item,
)
from custom_components.meterlink.protocols.e3dc.models import (
    Battery,
    EmsStatus,
    FarmDevice,
    HistoryTotals,
    IdlePeriod,
    Inverter,
    LivePower,
    ManualCharge,
    PowerMeter,
    PowerSettings,
    SgReady,
    SmartSwitch,
    SystemInfo,
    Wallbox,
    WallboxSettings,
    model_from_serial,
)
from custom_components.meterlink.protocols.e3dc.tags import TAG_NAMES, RscpTag as T, RscpType

_TAGS = st.sampled_from(sorted(TAG_NAMES)) | st.integers(0, 2**32 - 1)
_VALUES = st.one_of(
    st.builds(lambda v: (RscpType.BOOL, v), st.booleans()),
    st.builds(lambda v: (RscpType.INT32, v), st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda v: (RscpType.FLOAT32, v), st.floats(width=32)),
    st.builds(lambda v: (RscpType.STRING, v), st.text(max_size=8)),
    st.builds(lambda v: (RscpType.BYTEARRAY, v), st.binary(max_size=10)),
    st.builds(lambda v: (RscpType.ERROR, v), st.integers(0, 8)),
    st.builds(
        lambda s, n: (RscpType.TIMESTAMP, RscpTimestamp(s, n)),
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**32 - 1),
    ),
    st.just((RscpType.NONE, None)),
)


def _trees() -> st.SearchStrategy[RscpItem]:
    leaves = st.builds(lambda tag, tv: RscpItem(tag, tv[0], tv[1]), _TAGS, _VALUES)
    return st.recursive(
        leaves,
        lambda kids: st.builds(
            lambda tag, children: RscpItem(tag, RscpType.CONTAINER, tuple(children)),
            _TAGS,
            st.lists(kids, max_size=6),
        ),
        max_leaves=15,
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(_trees(), max_size=5), _trees())
def test_models_accept_any_item_tree(items: list[RscpItem], one: RscpItem) -> None:
    LivePower.from_items(items)
    SystemInfo.from_items(items)
    WallboxSettings.from_items(items)
    SmartSwitch.list_from_items(items)
    for build in (
        Battery.from_item,
        Inverter.from_item,
        PowerMeter.from_item,
        Wallbox.from_item,
        PowerSettings.from_item,
        ManualCharge.from_item,
        IdlePeriod.list_from_item,
        FarmDevice.list_from_item,
        SgReady.from_item,
    ):
        build(one)
    HistoryTotals.from_item(one, start=0, span_s=86400)


def test_wrong_types_read_as_missing() -> None:
    battery = Battery.from_item(
        container(
            T.BAT_DATA,
            item(T.BAT_RSOC, RscpType.STRING, "50"),
            item(T.BAT_CHARGE_CYCLES, RscpType.BOOL, value=True),
            item(T.BAT_MODULE_VOLTAGE, RscpType.ERROR, 6),
        )
    )
    assert battery.state_of_charge_pct is None
    assert battery.charge_cycles is None
    assert battery.voltage_v is None


def test_live_additional_source_sign_and_status_bits() -> None:
    live = LivePower.from_items(
        [
            item(T.EMS_POWER_ADD, RscpType.INT32, -800),
            item(T.EMS_REQ_SYS_STATUS | 0x00800000, RscpType.UINT32, (1 << 7) | (1 << 15)),
        ]
    )
    assert live.additional_power_w == 800
    assert live.status is not None
    assert live.status.flags["ems_alive"] is True
    assert live.status.flags["power_save_enabled"] is True
    assert live.status.flags["dcdc_alive"] is False
    assert EmsStatus.from_int(0).raw == 0
    # pye3dc's table names the status reply 0x0100009E: that is accepted too.
    other = LivePower.from_items([item(T.EMS_SYS_STATUS, RscpType.UINT32, 1)])
    assert other.status is not None
    assert other.status.flags["dcdc_alive"] is True


def test_model_from_serial_prefixes() -> None:
    assert model_from_serial("S10-721234567890") == "S10 E"
    assert model_from_serial("751234") == "S10 E Pro Compact"
    assert model_from_serial("P10-701234") == "S10 E Pro"
    assert model_from_serial("S10-512345") == "S10 Mini"
    assert model_from_serial("H20-999") is None
    assert model_from_serial(None) is None
