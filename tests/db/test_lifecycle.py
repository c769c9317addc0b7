"""A device's life across scans, read back from the real CLI, on SQLite and PostgreSQL.

The issue's "done when": one camera across three scans (address change,
firmware update with new capabilities, unplugged) and a standalone unit that
appears on the network.  The hosts are the HostReports the ARP and ONVIF probes
would produce (see ``helpers``); everything after them is the real writer,
database and CLI.
"""

from __future__ import annotations

import json

from db.records import StandaloneUnit
from db.repository import Inventory
from db.writer import ScanWriter
from fingerprints.evidence import Identification
from tests.db.helpers import LAB_MAC, camera, plain_host
from tests.helpers import run_cli

SUBNET = "10.20.0.0/24"


def _scan(inv: Inventory, hosts: list, site: str = "hq", status: str = "completed") -> int:
    scan_id = inv.begin_scan([SUBNET], site=site, total=256)
    writer = ScanWriter(inv, scan_id, batch_hosts=2)
    for report, ident in hosts:
        writer.add(report, ident)
    writer.close()
    inv.finish_scan(scan_id, status, done=256)
    return scan_id


def test_three_scans_move_update_unplug_read_from_cli(db_url: str) -> None:
    inv = Inventory(db_url, missing_after=1)
    s1 = _scan(
        inv, [camera("10.20.0.5", "V5.5.0", ("motion detection", "line crossing")), plain_host("10.20.0.1")]
    )
    s2 = _scan(
        inv,
        [
            camera("10.20.0.9", "V5.7.3", ("motion detection", "line crossing", "face detection")),
            plain_host("10.20.0.1"),
        ],
    )
    s3 = _scan(inv, [plain_host("10.20.0.1")])  # the camera is unplugged
    [cam] = [d for d in inv.devices() if d.mac == LAB_MAC]
    assert (cam.ip, cam.firmware, cam.connectivity) == ("10.20.0.9", "V5.7.3", "missing")
    assert len(inv.devices()) == 2  # the move did not make a second camera
    inv.close()

    shown = run_cli("device", "show", LAB_MAC, "--db", db_url)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "connectivity   missing" in text
    assert "address 10.20.0.5 → 10.20.0.9" in text
    assert "firmware V5.5.0 → V5.7.3; new: face detection" in text
    assert "not answering at 10.20.0.9" in text

    as_json = run_cli("device", "show", str(cam.id), "--db", db_url, "--json")
    detail = json.loads(as_json.stdout)
    assert [(e["kind"], e["scan_id"]) for e in detail["events"]] == [
        ("new", s1),
        ("moved", s2),
        ("firmware", s2),
        ("gone", s3),
    ]
    firmware = detail["events"][2]["detail"]
    assert firmware["capabilities_added"] == ["face detection"] and firmware["capabilities_removed"] == []
    assert [s["firmware"] for s in detail["sightings"]] == ["V5.5.0", "V5.7.3"]
    assert {"key": "onvif.capability", "value": "face detection", "source": "onvif:80"} in [
        ev for obs in detail["evidence"] for ev in obs["evidence"]
    ]

    diff12 = json.loads(run_cli("diff", str(s1), str(s2), "--db", db_url, "--json").stdout)
    assert diff12["new"] == [] and diff12["gone"] == []
    [changed] = diff12["changed"]
    assert changed["changes"]["ip"] == ["10.20.0.5", "10.20.0.9"]
    assert changed["changes"]["firmware"] == ["V5.5.0", "V5.7.3"]
    diff23 = run_cli("diff", str(s2), str(s3), "--db", db_url)
    assert "0 new, 1 gone, 0 changed" in diff23.stdout
    assert f"gone     device {cam.id}" in diff23.stdout


def test_missing_only_after_n_scans_that_covered_the_address(db_url: str) -> None:
    inv = Inventory(db_url)  # default: missing after 2 scans
    assert inv.missing_after == 2
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())])
    other = inv.begin_scan(["10.99.0.0/24"], site="hq")  # does not cover 10.20.0.5
    inv.finish_scan(other)
    _scan(inv, [], status="interrupted")  # an incomplete scan proves nothing
    _scan(inv, [])
    assert inv.devices()[0].connectivity == "networked"
    _scan(inv, [])
    [dev] = inv.devices()
    assert dev.connectivity == "missing"
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())])
    [dev] = inv.devices()
    assert dev.connectivity == "networked"
    assert [e.kind for e in inv.device_events(dev.id)] == ["new", "gone", "returned"]
    inv.close()


def test_standalone_unit_seen_on_network_is_a_conflict_not_a_duplicate(db_url: str) -> None:
    reg = run_cli(
        "register",
        "--db",
        db_url,
        "--site",
        "hq",
        "--mac",
        "44-19-B6-6A-00-01",
        "--brand",
        "Hikvision",
        "--model",
        "DS-2CD2143G2-I",
        "--firmware",
        "V5.5.0",
        "--firmware-updated",
        "2022-03-01",
        "--location",
        "custody suite",
        "--category",
        "fixed camera",
    )
    assert reg.returncode == 0, reg.stderr
    assert "as standalone" in reg.stdout
    inv = Inventory(db_url)
    [unit] = inv.devices()
    assert (unit.connectivity, unit.mac, unit.location) == ("standalone", LAB_MAC, "custody suite")
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())])
    [dev] = inv.devices()
    assert dev.id == unit.id and dev.connectivity == "conflict"
    assert dev.location == "custody suite" and dev.firmware_updated == "2022-03-01"
    inv.close()
    shown = run_cli("history", str(dev.id), "--db", db_url)
    assert "registered as a standalone unit" in shown.stdout
    assert "declared standalone but observed on a network" in shown.stdout
    listed = json.loads(run_cli("devices", "--db", db_url, "--json").stdout.splitlines()[0])
    assert listed["connectivity"] == "conflict"


def test_registering_a_unit_already_on_the_network_is_a_conflict(db_url: str) -> None:
    inv = Inventory(db_url)
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())])
    dev_id = inv.register_standalone(
        StandaloneUnit(site="hq", manufacturer="Hikvision", serial="DS-2CD2143G2-I20210101AAWRF12345")
    )
    [dev] = inv.devices()
    assert dev.id == dev_id and dev.connectivity == "conflict"
    inv.close()


def test_recorder_attached_until_seen_directly(db_url: str) -> None:
    inv = Inventory(db_url)
    _scan(inv, [camera("192.168.254.3", "V5.5.0", (), mac=None, via_recorder="10.20.0.2")])
    [dev] = inv.devices()
    assert (dev.connectivity, dev.via_recorder) == ("recorder-attached", "10.20.0.2")
    # The same camera (found by maker + serial) later plugged into the network itself.
    _scan(inv, [camera("10.20.0.7", "V5.5.0", (), mac=None)])
    [dev] = inv.devices()
    assert (dev.connectivity, dev.ip, dev.via_recorder) == ("networked", "10.20.0.7", None)
    inv.close()


def test_annotations_survive_rescans_and_are_audited(db_url: str) -> None:
    inv = Inventory(db_url)
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())])
    [dev] = inv.devices()
    inv.close()
    out = run_cli(
        "annotate",
        str(dev.id),
        "--db",
        db_url,
        "--location",
        "yard",
        "--owner",
        "estates",
        "--dpia",
        "DPIA-2024-17",
        "--procurement",
        "PO-555",
        "--category",
        "ANPR",
        "--notes",
        "n",
        "--actor",
        "officer1",
    )
    assert out.returncode == 0, out.stderr
    assert "location - → yard" in out.stdout
    inv = Inventory(db_url)
    _scan(inv, [camera("10.20.0.6", "V5.5.1", ())])
    [dev] = inv.devices()
    assert dev.annotations == {
        "location": "yard",
        "owner": "estates",
        "dpia_ref": "DPIA-2024-17",
        "procurement_ref": "PO-555",
        "category_override": "ANPR",
        "notes": "n",
    }
    assert (dev.category, dev.category_identified) == ("ANPR", "fixed camera")
    [entry] = inv.actions("annotate")
    assert entry.actor == "officer1" and entry.detail["changes"]["owner"] == [None, "estates"]
    inv.close()


def test_two_sites_reusing_one_range_and_one_device_moving(db_url: str) -> None:
    inv = Inventory(db_url)
    _scan(inv, [plain_host("10.20.0.1")], site="north")
    _scan(inv, [plain_host("10.20.0.1")], site="south")
    _scan(inv, [camera("10.20.0.5", "V5.5.0", ())], site="north")
    _scan(inv, [camera("10.20.0.8", "V5.5.0", ())], site="north")
    assert sorted((d.site, d.ip) for d in inv.devices()) == [
        ("north", "10.20.0.1"),
        ("north", "10.20.0.8"),
        ("south", "10.20.0.1"),
    ]
    ambiguous = run_cli("device", "show", "10.20.0.1", "--db", db_url)
    assert ambiguous.returncode == 2 and "several devices" in ambiguous.stderr
    inv.close()


def test_reidentify_uses_stored_observations(db_url: str) -> None:
    inv = Inventory(db_url)
    report, _ = plain_host("10.20.0.5", server="App-webs/")
    # Recorded when the fingerprints did not know this banner: unidentified.
    _scan(inv, [(report, Identification())])
    [dev] = inv.devices()
    assert dev.brand is None
    inv.close()
    out = run_cli("reidentify", "--db", db_url, "--json")
    assert out.returncode == 0, out.stderr
    [change] = json.loads(out.stdout)
    assert change["device"] == dev.id and change["changes"]["brand"] == [None, "Hikvision"]
    inv = Inventory(db_url)
    assert inv.get_device(dev.id).brand == "Hikvision"
    [event] = [e for e in inv.device_events(dev.id) if e.kind == "identification"]
    assert event.detail["reidentify"] is True and event.detail["fingerprint_version"].startswith("sha256:")
    assert len(inv.scans()) == 1  # no rescan
    inv.close()
