"""End to end with real scans of the lab on loopback, through the CLI, on both backends.

What the lab shows today (HTTP only, no MACs on loopback): a standalone unit
that answers on the network becomes a conflict, and an unplugged camera goes
missing after two scans that covered its address, with a ``gone`` event and a
diff that says so.
"""

from __future__ import annotations

import json
import uuid

from camsweep.lab import Lab, load_fleet
from camsweep.lab.fleet import Fleet
from tests.helpers import run_cli


def _scan(targets: list[str], db_url: str) -> int:
    out = run_cli("scan", *targets, "--site", "lab", "--ports", "80", "--db", db_url, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    assert summary["status"] == "completed"
    return int(summary["scan_id"])


def test_lab_standalone_conflict_and_unplugged_camera(db_url: str) -> None:
    fleet = load_fleet("demo", network=f"127.112.{uuid.uuid4().int % 200 + 1}.0/24")
    unplugged, declared = fleet.devices[0], fleet.devices[1]
    assert unplugged.personality.is_camera and declared.personality.is_camera
    reg = run_cli(
        "register", "--db", db_url, "--site", "lab", "--ip", declared.ip, "--location", "evidence store"
    )
    assert reg.returncode == 0, reg.stderr

    with Lab(fleet):
        first = _scan(fleet.targets, db_url)
    rest = Fleet(fleet.name, [d for d in fleet.devices if d is not unplugged])
    with Lab(rest):
        second = _scan(fleet.targets, db_url)
        third = _scan(fleet.targets, db_url)

    shown = run_cli("device", "show", declared.ip, "--site", "lab", "--db", db_url)
    assert shown.returncode == 0, shown.stderr
    assert "connectivity   conflict" in shown.stdout
    assert "location       evidence store" in shown.stdout
    assert "declared standalone but observed on a network" in shown.stdout

    history = json.loads(run_cli("history", unplugged.ip, "--db", db_url, "--json").stdout)
    assert [(e["kind"], e["scan_id"]) for e in history] == [("new", first), ("gone", third)]
    devices = {
        d["ip"]: d for d in map(json.loads, run_cli("devices", "--db", db_url, "--json").stdout.splitlines())
    }
    assert devices[unplugged.ip]["connectivity"] == "missing"
    assert devices[fleet.devices[2].ip]["connectivity"] == "networked"

    diff = json.loads(run_cli("diff", str(first), str(second), "--db", db_url, "--json").stdout)
    assert [d["ip"] for d in diff["gone"]] == [unplugged.ip]
    assert diff["new"] == [] and diff["changed"] == []
