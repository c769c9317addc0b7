"""`camsweep fingerprints test|match|explain` through the real CLI of this checkout."""

from __future__ import annotations

import json

from db.repository import Inventory
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status
from tests.helpers import run_cli


def test_fingerprints_test_passes() -> None:
    r = run_cli("fingerprints", "test", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["problems"] == []
    assert report["rules"] >= 80 and report["negative_hosts"] >= 15 and report["positive_hosts"] >= 25


def test_match_by_hand() -> None:
    r = run_cli("fingerprints", "match", "http.server", "App-webs/", "onvif.manufacturer", "LTS", "--json")
    assert r.returncode == 0, r.stderr
    ident = json.loads(r.stdout)
    assert (ident["brand"], ident["manufacturer"], ident["is_camera"]) == ("LTS", "Hikvision", True)
    assert "NDAA-889" in ident["policy_flags"]
    plain = run_cli("fingerprints", "match", "http.server", "App-webs/")
    assert (
        plain.returncode == 0
        and "Hikvision" in plain.stdout
        and "http.server.hikvision-app-webs" in plain.stdout
    )


def test_match_rejects_unknown_key_and_odd_arguments() -> None:
    r = run_cli("fingerprints", "match", "http.nonsense", "x")
    assert r.returncode == 2 and "unknown evidence key 'http.nonsense'" in r.stderr
    odd = run_cli("fingerprints", "match", "http.server")
    assert odd.returncode == 2 and "KEY VALUE" in odd.stderr


def test_match_with_organisation_vendor_list(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "vendors.yaml"
    p.write_text("brands:\n  - {name: Zeta Cams, maker: Dahua, relation: oem, source: our audit}\n")
    r = run_cli("fingerprints", "match", "onvif.manufacturer", "Zeta Cams", "--vendor-list", str(p), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["manufacturer"] == "Dahua"
    bad = tmp_path / "bad.yaml"
    bad.write_text("brands:\n  - {name: Q, maker: Nobody, relation: oem, source: s}\n")
    r = run_cli("fingerprints", "match", "onvif.manufacturer", "Q", "--vendor-list", str(bad))
    assert r.returncode == 2 and "bad.yaml:2" in r.stderr and "unknown maker 'Nobody'" in r.stderr


def test_explain_stored_device(db_url: str) -> None:
    inv = Inventory(db_url)
    try:
        scan_id = inv.begin_scan(["127.100.0.5"])
        http = Observation("http", "127.100.0.5", 80, Status.SUCCESS)
        http.add("http.server", "App-webs/")
        rtsp = Observation("rtsp", "127.100.0.5", 554, Status.AUTH_REQUIRED)
        rtsp.add("rtsp.server", "Dahua Rtsp Server")
        wsd = Observation("wsd", "127.100.0.5", 3702, Status.SUCCESS)
        wsd.evidence.append(
            Evidence("wsd.scope", "onvif://www.onvif.org/hardware/DS-2CD2143G0-I", "wsd:3702")
        )
        device_id = inv.record_host(scan_id, HostReport("127.100.0.5", [http, rtsp, wsd]), Identification())
        inv.finish_scan(scan_id)
    finally:
        inv.close()
    r = run_cli("fingerprints", "explain", str(device_id), "--db", db_url, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["manufacturer"], out["model"], out["category"]) == ("Hikvision", "DS-2CD2143G0-I", "fixed")
    assert [m["rule"] for m in out["contradicting"]] == ["rtsp.server.dahua"]
    assert {"key": "http.server", "value": "App-webs/", "source": "http:80"} in out["evidence"]
    plain = run_cli("fingerprints", "explain", str(device_id), "--db", db_url)
    assert plain.returncode == 0 and "Contradicting evidence" in plain.stdout
    missing = run_cli("fingerprints", "explain", "999999", "--db", db_url)
    assert missing.returncode == 2 and "device 999999 does not exist" in missing.stderr


def test_bad_vendor_list_in_environment_fails_the_selftest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "ours.yaml"
    bad.write_text("makers:\n  - {name: Q, policy_flags: [NOT-A-POLICY]}\n")
    r = run_cli("fingerprints", "test", env={"CAMSWEEP_VENDOR_LIST": str(bad)})
    assert r.returncode == 1
    assert "ours.yaml:2" in r.stderr and "policy flag 'NOT-A-POLICY' is not a known policy" in r.stderr
