"""The repository on both backends: record, re-record, read back."""

from __future__ import annotations

import pytest

from db.repository import Inventory
from fingerprints.errors import NotFoundError, StorageError
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status


def _report(ip: str, mac: str | None = None) -> HostReport:
    obs = Observation(
        "http", ip, 80, Status.SUCCESS, [Evidence("http.server", "App-webs/", "http:80")], b"HTTP/1.1 200"
    )
    return HostReport(ip, [obs], mac=mac)


def test_record_and_list(db_url: str) -> None:
    inv = Inventory(db_url)
    scan = inv.begin_scan(["10.0.0.0/24"], site="hq", total=256)
    ident = Identification(is_camera=True, brand="Hikvision", manufacturer="Hikvision", confidence=0.85)
    inv.record_host(scan, _report("10.0.0.5", "44:19:B6:00:00:01"), ident)
    inv.finish_scan(scan, "completed", done=256)
    [dev] = inv.devices()
    assert (dev.ip, dev.mac, dev.brand, dev.site, dev.is_camera) == (
        "10.0.0.5",
        "44:19:b6:00:00:01",  # normalised: one spelling per MAC
        "Hikvision",
        "hq",
        True,
    )
    [sc] = inv.scans()
    assert (sc.status, sc.addresses_done) == ("completed", 256)
    inv.close()


def test_same_mac_new_address_stays_one_device(db_url: str) -> None:
    inv = Inventory(db_url)
    ident = Identification(is_camera=True, brand="Hikvision")
    s1 = inv.begin_scan(["10.0.0.5"], site="hq")
    inv.record_host(s1, _report("10.0.0.5", "44:19:b6:00:00:01"), ident)
    s2 = inv.begin_scan(["10.0.0.9"], site="hq")
    inv.record_host(s2, _report("10.0.0.9", "44:19:b6:00:00:01"), ident)
    devs = inv.devices()
    assert len(devs) == 1 and devs[0].ip == "10.0.0.9"
    inv.close()


def test_two_sites_same_private_address_stay_apart(db_url: str) -> None:
    inv = Inventory(db_url)
    for site in ("north", "south"):
        scan = inv.begin_scan(["192.168.1.10"], site=site)
        inv.record_host(scan, _report("192.168.1.10"), Identification())
    assert sorted(d.site for d in inv.devices()) == ["north", "south"]
    inv.close()


def test_unknown_scan_is_an_error(db_url: str) -> None:
    inv = Inventory(db_url)
    with pytest.raises(NotFoundError):
        inv.finish_scan(999)
    inv.close()


def test_bad_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot open inventory"):
        Inventory("nosuchdialect://x")


def test_filters_and_observations_and_audit_log(db_url: str) -> None:
    from db.repository import DeviceFilter

    inv = Inventory(db_url)
    scan = inv.begin_scan(["10.0.0.0/24"], site="hq")
    hik = Identification(is_camera=True, brand="LTS", manufacturer="Hikvision", policy_flags=("ndaa-889",))
    d1 = inv.record_host(scan, _report("10.0.0.5", "44:19:b6:00:00:01"), hik)
    inv.record_host(
        scan, _report("10.0.0.6"), Identification(brand="Axis", manufacturer="Axis", is_camera=True)
    )
    assert [d.ip for d in inv.devices(DeviceFilter(manufacturer="hikvision"))] == ["10.0.0.5"]
    assert [d.ip for d in inv.devices(DeviceFilter(policy_flag="NDAA-889"))] == ["10.0.0.5"]
    assert inv.devices(DeviceFilter(site="elsewhere")) == []
    [obs] = inv.device_observations(d1)
    assert obs.evidence[0].value == "App-webs/" and obs.raw == b"HTTP/1.1 200"
    assert inv.get_device(d1).brand == "LTS"
    inv.log_action("export", actor="officer1", rows=1, filter={"manufacturer": "Hikvision"})
    [entry] = inv.actions("export")
    assert entry.actor == "officer1" and entry.detail["rows"] == 1
    inv.close()


def test_previous_scan_is_the_sites_latest_scan_before(db_url: str) -> None:
    with Inventory(db_url) as inv:
        hq1 = inv.begin_scan(["10.0.0.0/24"], site="hq")
        depot = inv.begin_scan(["10.1.0.0/24"], site="depot")
        hq2 = inv.begin_scan(["10.0.0.0/24"], site="hq")
        inv.finish_scan(hq2)
        hq3 = inv.begin_scan(["10.0.0.0/24"], site="hq")
        previous = inv.previous_scan("hq", hq3)
        assert previous is not None
        assert (previous.id, previous.site, previous.status) == (hq2, "hq", "completed")
        assert previous.targets == ["10.0.0.0/24"]
        assert [getattr(inv.previous_scan("hq", s), "id", None) for s in (hq1, depot, hq2)] == [
            None,
            hq1,
            hq1,
        ]
        assert getattr(inv.previous_scan("depot", hq3), "id", None) == depot
        assert inv.previous_scan("depot", depot) is None and inv.previous_scan("nowhere", hq3) is None


def test_actions_for_device_reads_only_that_devices_entries(db_url: str) -> None:
    with Inventory(db_url) as inv:
        first = inv.log_action("annotate", actor="olivia", device_id=7, annotation_id=1)
        inv.log_action("export", actor="olivia", rows=3, filter={"device_id": 7})  # nested: not about it
        inv.log_action("annotate", actor="olivia", device_id=70, annotation_id=2)
        inv.log_action("annotate", actor="cli", device=7)  # another key: not matched
        second = inv.log_action("annotate", actor="ada", device_id=7, annotation_id=3)
        entries = inv.actions_for_device(7)
        assert [(e.id, e.actor, e.detail["annotation_id"]) for e in entries] == [
            (first, "olivia", 1),
            (second, "ada", 3),
        ]
        assert [e.id for e in inv.actions_for_device(7, limit=1)] == [second]  # the latest
        assert [e.detail["annotation_id"] for e in inv.actions_for_device(70)] == [2]
        assert inv.actions_for_device(8) == []
