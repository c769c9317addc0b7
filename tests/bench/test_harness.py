"""The benchmark harness runs end to end in --quick mode and counts accuracy right (no timing asserts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.run import firmware_matches, nmap_maker, parse_nmap_xml, render_table, score
from tests.helpers import REPO_ROOT

HERE = Path(__file__).resolve().parent
HIK: dict[str, Any] = {
    "ip": "127.160.0.1",
    "manufacturer": "Hikvision",
    "model": "DS-2CD2143G2-I",
    "firmware": "V5.7.3 build 220112",
    "is_camera": True,
}
DAHUA: dict[str, Any] = {
    "ip": "127.160.5.112",
    "manufacturer": "Dahua",
    "model": "IPC-HDW2431T-AS-S2",
    "firmware": "2.680.0000000.25.R, Build Date: 2020-09-24",
    "is_camera": True,
}
XM: dict[str, Any] = {
    "ip": "127.160.13.111",
    "manufacturer": "Xiongmai",
    "model": "XM-IPC",
    "firmware": "V4.02",
    "is_camera": True,
}
DECOY: dict[str, Any] = {
    "ip": "127.160.15.1",
    "manufacturer": "nginx",
    "model": None,
    "firmware": None,
    "is_camera": False,
}


def test_score_counts_fields_and_whole_devices() -> None:
    found: dict[str, dict[str, Any]] = {
        HIK["ip"]: {"manufacturer": "HIKVISION", "model": "ds-2cd2143g2-i", "firmware": "V5.7.3"},
        DAHUA["ip"]: {"manufacturer": "Dahua", "model": None, "firmware": "2.680.0000000.25.R"},
        DECOY["ip"]: {"manufacturer": "Hikvision", "model": "x", "firmware": "y"},  # decoys are not scored
    }
    acc = score([HIK, DAHUA, XM, DECOY], found)
    assert (acc.cameras, acc.manufacturer, acc.model, acc.firmware, acc.all_three) == (3, 2, 1, 2, 1)
    assert [w["ip"] for w in acc.wrong] == [DAHUA["ip"], XM["ip"]]
    assert acc.as_dict()["wrong_examples"][0]["truth"][1] == "IPC-HDW2431T-AS-S2"


def test_firmware_matching_is_by_version_token() -> None:
    assert firmware_matches("V5.7.3", "V5.7.3 build 220112")
    assert firmware_matches("5.7.3", "V5.7.3 build 220112")
    assert firmware_matches("2.680.0000000.25.R", "2.680.0000000.25.R, Build Date: 2020-09-24")
    assert not firmware_matches("V5.7.1", "V5.7.3 build 220112")
    assert not firmware_matches(None, "V5.7.3")
    assert not firmware_matches("", "")


def test_nmap_products_map_to_makers_and_real_xml_parses() -> None:
    assert nmap_maker("Hikvision IP camera httpd") == "Hikvision"
    assert nmap_maker("Amcrest IP camera http interface") == "Dahua"
    assert nmap_maker("uc-httpd 1.0.0") == "Xiongmai"
    assert nmap_maker("nginx 1.22.1") is None
    # A real nmap 7.93 -sT -sV -oX of three lab devices (service fingerprints removed).
    xml = (HERE / "nmap_sample.xml").read_bytes()
    truth = [HIK, DAHUA, XM]
    found = parse_nmap_xml(xml, {d["ip"]: str(d["model"]) for d in truth})
    assert set(found) == {HIK["ip"], DAHUA["ip"], XM["ip"]}
    assert found[HIK["ip"]]["manufacturer"] == "Hikvision"
    assert found[DAHUA["ip"]]["manufacturer"] == "Dahua"
    assert found[XM["ip"]]["manufacturer"] == "Xiongmai"
    assert "Hikvision IP camera httpd" in found[HIK["ip"]]["services"]
    acc = score(truth, found)
    assert acc.manufacturer == 3 and acc.all_three == 0  # nmap names makers, never these models


def test_quick_harness_runs_and_writes_the_results(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "speed,floor,scale",
            "--fleet",
            "mini",
            "--network",
            "127.165.0.0/28",
            "--devices",
            "40",
            "--no-postgres",
            "--json",
            str(out),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    speed = res["speed"]["with_credentials"]
    assert speed["addresses"] == 16 and res["speed"]["devices"] == 3
    acc = speed["accuracy"]
    assert acc["cameras"] == 2
    # The mini fleet's two Hikvision cameras answer ONVIF with the lab credential.
    assert acc["manufacturer"] == 2 and acc["model"] == 2 and acc["firmware"] == 2
    assert "CAMSWEEP_ONVIF_USER=admin" in speed["scan_command"] and "127.165.0.0/28" in speed["scan_command"]
    # CPU of the scanner process and of the lab process during the scan (the lab's is read
    # from /proc, so NaN would mean the lab's pid was lost).
    assert speed["scanner_cpu_s"] > 0 and 0 <= speed["lab_cpu_s"] < speed["seconds"] * 2
    floor = res["floor"]
    assert floor["connects"] == 160 and floor["open_ports"] >= 3
    assert floor["camsweep_multiple"] > 0
    sweeps = res["scale"]["sweeps"]
    assert [s["addresses"] for s in sweeps] == [1024, 16384] and all(s["found"] == 6 for s in sweeps)
    inv = res["scale"]["inventory"]
    assert [i["backend"] for i in inv] == ["sqlite"] and inv[0]["devices"] == 40
    assert {"export_json_s", "export_csv_s", "export_xlsx_s"} <= set(inv[0])
    # Every figure in the table comes with its command.
    table = proc.stdout
    assert table == render_table(res) + "\n" + table.splitlines()[-1] + "\n"
    assert table.count("$ ") == 1 + 1 + 2 + 1
    assert "python -m bench --ingest-child --devices 40 --backend sqlite" in table
