"""The first vertical slice, end to end through the real console script."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

from camsweep.exports import EXPORT_FIELDS
from camsweep.lab import Lab
from tests.helpers import run_cli


def camsweep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


def test_scan_then_devices_lists_the_camera(demo_lab: Lab, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/x.db"
    hik = next(d for d in demo_lab.fleet.devices if d.personality.brand == "Hikvision")
    r = camsweep("scan", hik.ip, "--db", db, "--ports", "80,554", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["ip"] == hik.ip and lines[0]["manufacturer"] == "Hikvision"
    assert lines[-1]["status"] == "completed"
    r = camsweep("devices", "--db", db, "--json")
    assert r.returncode == 0, r.stderr
    [dev] = [json.loads(line) for line in r.stdout.splitlines()]
    assert (
        dev["ip"] == hik.ip and dev["brand"] == "Hikvision" and dev["category"] == "fixed"
    )  # DS-2CD family: a fixed camera


def test_decoy_is_not_a_camera(demo_lab: Lab, tmp_path: Path) -> None:
    # The demo fleet has cameras whose only marks are outside HTTP Server headers (ONVIF, RTSP,
    # OUI); this slice checks the decoys and the first Hikvision, the end-to-end fingerprint
    # tests check every personality's truth.
    db = f"sqlite:///{tmp_path}/x.db"
    r = camsweep("scan", *demo_lab.fleet.targets, "--db", db, "--ports", "80,554", "--json")
    assert r.returncode == 0, r.stderr
    rows = {d["ip"]: d for d in map(json.loads, r.stdout.splitlines()) if "ip" in d}
    decoys = [d for d in demo_lab.fleet.devices if not d.personality.is_camera]
    assert len(decoys) >= 5
    for device in decoys:
        assert rows[device.ip]["is_camera"] is False, device.name
    hik = next(d for d in demo_lab.fleet.devices if d.personality.brand == "Hikvision")
    assert rows[hik.ip]["is_camera"] is True


def test_export_json_and_csv_have_the_interface_keys(demo_lab: Lab, tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")  # a plain path is a SQLite file
    assert (
        camsweep("scan", *demo_lab.fleet.targets, "--db", db, "--ports", "80,554", "--json").returncode == 0
    )
    r = camsweep("export", "--db", db, "--format", "json")
    records = json.loads(r.stdout)
    assert len(records) == len(demo_lab.fleet.devices)
    assert all(set(EXPORT_FIELDS) <= set(rec) for rec in records)
    out = tmp_path / "inv.csv"
    assert camsweep("export", "--db", db, "--format", "csv", "-o", str(out)).returncode == 0
    header = next(csv.reader(io.StringIO(out.read_text())))
    assert header[: len(EXPORT_FIELDS)] == list(EXPORT_FIELDS)


def test_db_from_environment(demo_lab: Lab, tmp_path: Path) -> None:
    env = {"CAMSWEEP_DB": f"sqlite:///{tmp_path}/env.db"}
    assert camsweep("scan", demo_lab.fleet.targets[0], "--ports", "80", "--json", env=env).returncode == 0
    assert (tmp_path / "env.db").exists()


def test_public_target_refused_with_clear_error(tmp_path: Path) -> None:
    r = camsweep("scan", "8.8.8.8", "--db", f"sqlite:///{tmp_path}/x.db")
    assert r.returncode == 2
    assert "public address space" in r.stderr and "--allow-public" in r.stderr


def test_scan_without_targets_says_what_to_pass(tmp_path: Path) -> None:
    r = camsweep("scan", "--db", f"sqlite:///{tmp_path}/x.db")
    assert r.returncode == 2 and "camsweep demo" in r.stderr


def test_demo_runs_and_names_the_maker(tmp_path: Path) -> None:
    r = camsweep("demo", "--db", f"sqlite:///{tmp_path}/demo.db", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows[-1]["status"] == "completed"
    assert any(row.get("manufacturer") == "Hikvision" for row in rows)
