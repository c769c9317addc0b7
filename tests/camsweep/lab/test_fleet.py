"""Fleets and personalities as data: coverage, truth, sources, address plans, clear errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from camsweep.lab import load_fleet
from camsweep.lab.fleet import known_fleets, load_personalities
from camsweep.lab.hostile import HOSTILE_BEHAVIOURS
from camsweep.lab.servers import HANDLERS
from fingerprints.errors import LabError

TRUTH_FIELDS = ("brand", "manufacturer", "model", "firmware", "category", "is_camera")


def test_every_personality_cites_a_source_and_declares_truth() -> None:
    for p in load_personalities().values():
        assert p.sources and all(len(s) > 20 for s in p.sources), p.id
        assert isinstance(p.is_camera, bool)
        if p.is_camera:
            assert p.manufacturer and p.model and p.firmware and p.category, p.id
        for kind in p.services:
            assert kind in (*HANDLERS, "onvif", "wsd", "mdns"), (p.id, kind)


def test_the_issue_s_vendors_and_decoys_are_covered() -> None:
    people = load_personalities().values()
    made_by = {(p.brand, p.manufacturer) for p in people}
    for pair in [
        ("Hikvision", "Hikvision"),
        ("LTS", "Hikvision"),
        ("Annke", "Hikvision"),
        ("EZVIZ", "Hikvision"),
        ("Dahua", "Dahua"),
        ("Amcrest", "Dahua"),
        ("Lorex", "Dahua"),
        ("Imou", "Dahua"),
        ("Uniview", "Uniview"),
        ("Huawei", "Huawei"),
        ("Axis", "Axis"),
        ("Hanwha", "Hanwha"),
        ("Bosch", "Bosch"),
        ("Avigilon", "Avigilon"),
        ("Vivotek", "Vivotek"),
    ]:
        assert pair in made_by, pair
    categories = {p.category for p in people}
    assert {"camera", "ptz", "nvr", "anpr", "body-worn-dock"} <= categories
    assert {"web-server", "printer", "nas", "router", "media-server"} <= categories
    assert any(p.brand is None and p.is_camera for p in people)  # the white-label ONVIF camera
    behaviours = {s["behaviour"] for p in people for s in p.services.get("hostile", [])}
    assert behaviours == set(HOSTILE_BEHAVIOURS)


def test_demo_fleet_has_twenty_devices_with_decoys_and_a_recorder() -> None:
    fleet = load_fleet("demo")
    assert len(fleet.devices) >= 20
    assert sum(not d.personality.is_camera for d in fleet.devices) >= 5
    assert not any(d.personality.hostile for d in fleet.devices)
    macs = [d.mac for d in fleet.devices]
    assert len(set(macs)) == len(macs) and len(set(fleet.targets)) == len(fleet.targets)
    recorders = [d for d in fleet.devices if d.attached]
    assert recorders and all(cam.ip not in fleet.targets for r in recorders for cam in r.attached)
    hik = next(d for d in fleet.devices if d.personality.id == "hikvision-ds2cd-fixed")
    assert hik.mac.startswith("44:19:b6") and set(hik.truth) == set(TRUTH_FIELDS)


def test_bench_fleet_spreads_1000_devices_over_4096_addresses() -> None:
    fleet = load_fleet("bench-1000")
    net = ipaddress.ip_network(fleet.network)
    assert net.num_addresses == 4096 and len(fleet.devices) == 1000
    addresses = [ipaddress.ip_address(t) for t in fleet.targets]
    assert len(set(addresses)) == 1000 and all(a in net for a in addresses)
    assert max(addresses) > ipaddress.ip_address(int(net.network_address) + 3000)  # spread, not packed
    assert len({d.personality.id for d in fleet.devices}) >= 20


def test_every_shipped_fleet_loads() -> None:
    for name in known_fleets():
        assert load_fleet(name).devices, name


def test_netns_fleets_use_private_addresses_and_loopback_fleets_loopback() -> None:
    assert all(ipaddress.ip_address(t).is_loopback for t in load_fleet("mixed").targets)
    netns = load_fleet("mixed", mode="netns", network="10.80.50.0/24")
    assert all(ipaddress.ip_address(t) in ipaddress.ip_network("10.80.50.0/24") for t in netns.targets)
    with pytest.raises(LabError, match="not loopback"):
        load_fleet("mixed", network="10.0.0.0/24")
    with pytest.raises(LabError, match="must be private"):
        load_fleet("mixed", mode="netns", network="8.8.8.0/24")


def test_bad_fleet_files_fail_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices:\n  - {personality: no-such-thing}\n")
    with pytest.raises(LabError, match="unknown personality 'no-such-thing'"):
        load_fleet(str(bad))
    bad.write_text("devices:\n  - {personality: hikvision-ds2cd-fixed, firmware: V0}\n")
    with pytest.raises(LabError, match="no firmware 'V0'"):
        load_fleet(str(bad))
    bad.write_text("devices: [\n")
    with pytest.raises(LabError, match="cannot be read"):
        load_fleet(str(bad))
    with pytest.raises(LabError, match="known fleets"):
        load_fleet("nope")
