"""OUI lookup: longest prefix wins, registrants map only through the curated table."""

from __future__ import annotations

import pytest

from fingerprints import oui


def test_ma_l_hikvision() -> None:
    hit = oui.lookup("54:C4:15:12:34:56")  # fingerprint-facts appendix: Hikvision 54C415
    assert hit is not None and hit.prefix == "54C415" and hit.maker == "Hikvision" and hit.camera_maker


def test_longest_prefix_wins_and_false_friend_is_not_dahua() -> None:
    # 40:2C:76 is an IEEE MA-M block; 402C761 is Shanghai Dahua Scale Factory (fingerprint-facts C.4)
    friend = oui.lookup("40-2c-76-1a-bc-de")
    assert friend is not None
    assert friend.prefix == "402C761" and friend.registrant == "Shanghai Dahua Scale Factory"
    assert friend.maker is None and friend.brand is None
    other = oui.lookup("40:2c:76:f0:00:00")
    assert other is not None and other.prefix == "402C76"


def test_false_friends_never_map() -> None:
    assert oui.map_registrant("Shanghai Dahua Scale Factory") is None
    assert oui.map_registrant("Hanwha NxMD (Thailand) Co., Ltd.") is None
    dahua = oui.map_registrant("Zhejiang Dahua Technology Co., Ltd.")
    assert dahua is not None and dahua.maker == "Dahua"
    vision = oui.map_registrant("Hanwha Vision VietNam")
    assert vision is not None and vision.maker == "Hanwha"


def test_brand_oui_maps_to_brand() -> None:
    hit = oui.lookup("00:1f:54:00:00:01")  # Lorex Technology Inc.
    assert hit is not None and hit.brand == "Lorex" and hit.maker is None
    ezviz = oui.lookup("0c:a6:4c:00:00:01")  # Hangzhou Ezviz Software
    assert ezviz is not None and ezviz.brand == "EZVIZ"


def test_unmapped_registrant_is_reported_without_maker() -> None:
    hit = oui.lookup("00:11:32:00:00:01")
    assert hit is not None and hit.registrant == "Synology Incorporated" and hit.maker is None


@pytest.mark.parametrize("bad", ["", "zz:zz", "54:c4:15", "54:c4:15:12:34:56:78", "x" * 100])
def test_bad_mac_is_none(bad: str) -> None:
    assert oui.lookup(bad) is None


def test_registry_holds_all_three_block_sizes() -> None:
    lengths = {len(p) for p in oui.load_registry()}
    assert lengths == {6, 7, 9}
    assert len(oui.load_registry()) > 40_000
