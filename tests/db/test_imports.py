"""Imports, all or nothing: standalone-unit CSV, our own JSON export (round trip), real nmap XML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from camsweep import api
from camsweep.exports import to_json
from camsweep.lab import Lab, load_fleet
from db.repository import Inventory
from fingerprints.errors import ImportFileError
from tests.db.helpers import camera, plain_host
from tests.helpers import run_cli

CSV_GOOD = """mac,manufacturer,serial,site,brand,model,category,firmware,firmware_updated,location,owner,notes
44:19:b6:00:00:10,,,hq,Hikvision,DS-7608NI,NVR/DVR,V4.1.0,2021-06-01,custody suite,estates,
,Dahua,7G0123PAZ00001,hq,Dahua,IPC-HFW2431S,fixed camera,V2.800,2020-01-31,yard,,"quoted, with comma"
"""


def test_standalone_csv_imports_every_row(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text(CSV_GOOD, encoding="utf-8")
    out = run_cli("import", str(path), "--format", "standalone-csv", "--db", db_url, "--json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["devices"]) == 2
    inv = Inventory(db_url)
    units = {d.model: d for d in inv.devices()}
    assert units["DS-7608NI"].connectivity == "standalone"
    assert units["DS-7608NI"].firmware_updated == "2021-06-01"
    assert units["IPC-HFW2431S"].identity_key == "serial:dahua:7G0123PAZ00001"
    assert units["IPC-HFW2431S"].notes == "quoted, with comma"
    [entry] = inv.actions("register")
    assert entry.detail["source"] == str(path)
    inv.close()


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("nonsense-mac,,,hq,,,,,,,,", ":3: field 'mac': 'nonsense-mac' is not a MAC address"),
        (
            "44:19:b6:00:00:11,,,hq,,,,,31/12/2021,,,",
            ":3: field 'firmware_updated': '31/12/2021' is not a date",
        ),
        (",,,hq,Hikvision,,,,,,,", ":3: field 'mac': a unit needs an identity"),
    ],
)
def test_a_bad_csv_row_names_file_line_field_and_imports_nothing(
    tmp_path: Path, bad_line: str, expected: str
) -> None:
    url = f"sqlite:///{tmp_path}/inv.db"
    path = tmp_path / "units.csv"
    lines = CSV_GOOD.splitlines()
    path.write_text("\n".join([lines[0], lines[1], bad_line, lines[2]]) + "\n", encoding="utf-8")
    out = run_cli("import", str(path), "--format", "standalone-csv", "--db", url)
    assert out.returncode == 2
    assert f"{path}{expected}" in " ".join(out.stderr.split())
    inv = Inventory(url)
    assert inv.devices() == []  # the good rows before the bad one were not half-imported
    inv.close()


def test_a_unit_twice_or_already_registered_is_refused_with_its_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/inv.db"
    lines = CSV_GOOD.splitlines()
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([lines[0], lines[1], lines[2], lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"twice.csv:4: same unit as line 2"):
        api.import_file(url, twice, "standalone-csv")
    once = tmp_path / "once.csv"
    once.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")
    api.import_file(url, once, "standalone-csv")
    with pytest.raises(ImportFileError, match=r"units.csv:3: device \d+ .* already registered standalone"):
        path = tmp_path / "units.csv"
        path.write_text(CSV_GOOD, encoding="utf-8")
        api.import_file(url, path, "standalone-csv")
    inv = Inventory(url)
    assert len(inv.devices()) == 1  # the new unit on line 2 was not half-imported
    inv.close()


def test_unknown_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("mac,colour\n44:19:b6:00:00:10,red\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"units.csv:1: field 'colour': unknown column"):
        api.import_file(f"sqlite:///{tmp_path}/inv.db", path, "standalone-csv")


def test_json_export_round_trips(db_url: str, tmp_path: Path) -> None:
    inv = Inventory(db_url)
    scan = inv.begin_scan(["10.20.0.0/24"], site="hq")
    inv.record_host(scan, *camera("10.20.0.5", "V5.5.0", ("motion detection",)))
    inv.record_host(scan, *plain_host("10.20.0.1"))
    inv.finish_scan(scan)
    [cam] = [d for d in inv.devices() if d.mac]
    inv.annotate(cam.id, location="yard")
    first = to_json(inv.devices())
    inv.close()
    path = tmp_path / "export.json"
    path.write_text(first, encoding="utf-8")
    target = f"sqlite:///{tmp_path}/copy.db"
    out = run_cli("import", str(path), "--format", "json", "--db", target)
    assert out.returncode == 0, out.stderr
    assert "imported 2 devices" in out.stdout
    copy = Inventory(target)
    assert to_json(copy.devices()) == first
    copy.close()
    # `camsweep devices --json` (JSON lines) imports too.
    lines = run_cli("devices", "--db", target, "--json").stdout
    (tmp_path / "lines.json").write_text(lines, encoding="utf-8")
    again = api.import_file(f"sqlite:///{tmp_path}/lines.db", tmp_path / "lines.json", "json")
    assert len(again.devices) == 2


def test_bad_json_record_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    records = [
        {"ip": "10.0.0.1", "site": "hq", "connectivity": "networked"},
        {"ip": "10.0.0.2", "site": "hq", "connectivity": "networked", "confidence": "high"},
    ]
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    url = f"sqlite:///{tmp_path}/inv.db"
    with pytest.raises(ImportFileError, match=r"export.json:7: field 'confidence': not a number"):
        api.import_file(url, path, "json")
    inv = Inventory(url)
    assert inv.devices() == []
    inv.close()


NMAP_HEAD = (
    '<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner="nmap" version="7.93" start="1700000000">\n'
)


def test_hostile_or_broken_nmap_xml_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/inv.db"
    broken = tmp_path / "broken.xml"
    broken.write_text(NMAP_HEAD + "<host><status state='up'/>\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"broken.xml:\d+: not well-formed XML"):
        api.import_file(url, broken, "nmap-xml")
    bad_port = tmp_path / "badport.xml"
    bad_port.write_text(
        NMAP_HEAD
        + "<host><status state='up'/><address addr='10.0.0.1' addrtype='ipv4'/>\n"
        + "<ports>\n<port protocol='tcp' portid='99999'><state state='open'/></port></ports></host>\n"
        + "</nmaprun>\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError, match=r"badport.xml:6: field 'portid': 99999 is outside"):
        api.import_file(url, bad_port, "nmap-xml")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    xxe = tmp_path / "xxe.xml"
    xxe.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<nmaprun version='7.93'><host><status state='up'/><address addr='10.0.0.1' addrtype='ipv4'/>"
        "<ports><port protocol='tcp' portid='80'><state state='open'/>"
        "<script id='http-server-header' output='&x;'/></port></ports></host></nmaprun>\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError, match=r"xxe.xml:3: .*external entity") as info:
        api.import_file(url, xxe, "nmap-xml")
    assert "TOPSECRET" not in str(info.value)  # the external entity was never read
    inv = Inventory(url)
    assert inv.devices() == [] and inv.scans() == []
    inv.close()


@pytest.mark.skipif(shutil.which("nmap") is None and not os.environ.get("CI"), reason="nmap not installed")
def test_real_nmap_xml_of_the_lab_is_identified_by_our_fingerprints(db_url: str, tmp_path: Path) -> None:
    fleet = load_fleet(
        str(Path(__file__).with_name("nmap_fleet.yaml")), network=f"127.111.{uuid.uuid4().int % 200 + 1}.0/24"
    )
    xml = tmp_path / "nmap.xml"
    with Lab(fleet):
        # A TCP connect scan (no raw packets) of loopback addresses the lab serves.
        subprocess.run(
            [
                "nmap",
                "-sT",
                "-Pn",
                "-n",
                "-p",
                "80",
                "--script",
                "http-server-header,http-title",
                "-oX",
                str(xml),
                *fleet.targets,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    out = run_cli("import", str(xml), "--format", "nmap-xml", "--site", "lab", "--db", db_url, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["devices"]) == len(fleet.devices)
    inv = Inventory(db_url)
    by_ip = {d.ip: d for d in inv.devices()}
    for spec in fleet.devices:
        assert by_ip[spec.ip].brand == spec.personality.brand
        assert by_ip[spec.ip].is_camera == spec.personality.is_camera
    [scan] = inv.scans()
    assert scan.tool_version.startswith("nmap 7.") and scan.status == "completed" and scan.site == "lab"
    inv.close()
