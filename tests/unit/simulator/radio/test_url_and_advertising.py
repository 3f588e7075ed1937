"""Radio URLs and the mapping of advertising reports to bleak's AdvertisementData."""

from __future__ import annotations

import struct

import pytest
from bumble.core import AdvertisingData
from bumble.device import Advertisement
from bumble.hci import Address

from simulator.radio import RadioUrl, RadioUrlError, resolve_radio_url
from simulator.radio.scanner import advertisement_data, bleak_uuid
from simulator.radio.url import RADIO_URL_ENV


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sim://local", RadioUrl(link_name="default")),
        ("sim://local/", RadioUrl(link_name="default")),
        ("sim://local/ward-3", RadioUrl(link_name="ward-3")),
        ("sim://127.0.0.1:8765", RadioUrl(host="127.0.0.1", port=8765)),
        ("sim://fleet.internal:9000", RadioUrl(host="fleet.internal", port=9000)),
        ("sim://[::1]:9000", RadioUrl(host="::1", port=9000)),
    ],
)
def test_radio_urls(text: str, expected: RadioUrl) -> None:
    parsed = RadioUrl.parse(text)
    assert parsed == expected
    assert parsed.is_local == (expected.link_name is not None)


def test_radio_url_round_trips_to_text() -> None:
    for text in ("sim://local", "sim://local/ward-3", "sim://127.0.0.1:8765"):
        assert str(RadioUrl.parse(text)) == text


@pytest.mark.parametrize("text", ["local", "tcp://127.0.0.1:1", "sim://127.0.0.1", "sim://host:0", "sim://local/a/b"])
def test_bad_radio_urls(text: str) -> None:
    with pytest.raises(RadioUrlError):
        RadioUrl.parse(text)


def test_radio_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RADIO_URL_ENV, "sim://127.0.0.1:7000")
    assert resolve_radio_url(None) == RadioUrl(host="127.0.0.1", port=7000)
    assert resolve_radio_url("sim://local") == RadioUrl(link_name="default")
    monkeypatch.delenv(RADIO_URL_ENV)
    assert resolve_radio_url(None) == RadioUrl(link_name="default")


def test_bleak_uuids() -> None:
    assert bleak_uuid(b"\x10\x18") == "00001810-0000-1000-8000-00805f9b34fb"
    assert bleak_uuid(struct.pack("<I", 0x12345678)) == "12345678-0000-1000-8000-00805f9b34fb"
    raw = bytes(reversed(bytes.fromhex("ecbe3980c9a211e1b1bd0002a5d5c51b")))
    assert bleak_uuid(raw) == "ecbe3980-c9a2-11e1-b1bd-0002a5d5c51b"


def test_advertisement_data_mapping() -> None:
    data = AdvertisingData(
        [
            (AdvertisingData.FLAGS, b"\x06"),
            (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x10\x18\x0a\x18"),
            (AdvertisingData.SHORTENED_LOCAL_NAME, b"BLEsm"),
            (AdvertisingData.COMPLETE_LOCAL_NAME, b"BLEsmart_0000"),
            (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, b"\x0e\x02\x01\x02"),
            (AdvertisingData.SERVICE_DATA_16_BIT_UUID, b"\x0f\x18\x57"),
            (AdvertisingData.TX_POWER_LEVEL, b"\xf8"),
        ]
    )
    report = Advertisement(address=Address("C0:5E:53:00:00:01"), rssi=-61, data_bytes=bytes(data))
    mapped = advertisement_data(report)
    assert mapped.local_name == "BLEsmart_0000"
    assert mapped.service_uuids == [
        "00001810-0000-1000-8000-00805f9b34fb",
        "0000180a-0000-1000-8000-00805f9b34fb",
    ]
    assert mapped.manufacturer_data == {0x020E: b"\x01\x02"}  # Omron's company id
    assert mapped.service_data == {"0000180f-0000-1000-8000-00805f9b34fb": b"\x57"}
    assert (mapped.tx_power, mapped.rssi) == (-8, -61)
    assert mapped.platform_data == (report,)
