"""`camsweep audit ...` through the real CLI of this checkout, against a scanned lab fleet."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from camsweep.lab import Lab
from db.repository import Inventory
from tests.camsweep.audit.conftest import lab_network
from tests.helpers import run_cli


def test_draft_verify_and_verify_chain_end_to_end(lab: Lab, tmp_path: Path) -> None:
    db_file = tmp_path / "inv.db"
    db = f"sqlite:///{db_file}"
    r = run_cli("scan", lab_network(lab), "--site", "hq", "--ports", "80", "--db", db, "--json")
    assert r.returncode == 0, r.stderr

    answers = tmp_path / "answers.yaml"
    r = run_cli(
        "audit",
        "draft",
        "--db",
        db,
        "--force",
        "Lab Constabulary",
        "--placement",
        "hq=external",
        "-o",
        str(answers),
    )
    assert r.returncode == 0, r.stderr
    assert 'manufacturers: ["Hikvision"]' in answers.read_text(encoding="utf-8")

    html, md, js = tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.json"
    r = run_cli(
        "audit", "verify", str(answers), "--db", db, "--html", str(html), "--md", str(md), "--json", str(js)
    )
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["counts"]["contradicted"] == 0 and report["chain"]["ok"]
    head = report["chain_head"]
    assert head in html.read_text(encoding="utf-8") and head in md.read_text(encoding="utf-8")
    assert head in r.stdout.replace("\n", "")

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "force: Lab Constabulary\nsite_placement: {hq: external}\ntechnologies:\n"
        "  external_cctv: {in_use: true, manufacturers: [Axis], connectivity: standalone}\n",
        encoding="utf-8",
    )
    r = run_cli("audit", "verify", str(wrong), "--db", db)
    assert r.returncode == 1, r.stderr
    assert '| External CCTV | manufacturers | ["Axis"] | **contradicted** |' in r.stdout
    assert "| External CCTV | connectivity | standalone | **contradicted** |" in r.stdout

    inventory = Inventory(db)
    try:
        logged = inventory.actions("audit.verify")
    finally:
        inventory.close()
    assert [e.detail["chain_head"] for e in logged] == [head, head]
    assert logged[1].detail["contradicted"] == 2

    r = run_cli("audit", "verify-chain", "--db", db)
    assert r.returncode == 0 and "chain intact" in r.stdout, r.stdout + r.stderr

    # An auditor's worst case: someone edits the evidence by hand.
    with sqlite3.connect(db_file) as conn:
        (oid,) = conn.execute("SELECT min(id) FROM observations WHERE probe = 'http'").fetchone()
        conn.execute("UPDATE observations SET evidence = '[]' WHERE id = ?", (oid,))
    r = run_cli("audit", "verify-chain", "--db", db, "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["problems"][0]["observation_id"] == oid
    assert doc["first_broken_link"].startswith("modified: site 'hq'")
    r = run_cli("audit", "verify", str(answers), "--db", db, "--md", str(md))
    assert r.returncode == 1 and "BROKEN" in md.read_text(encoding="utf-8")


def test_bad_answer_file_is_a_usage_error_naming_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("force: F\ntechnologies:\n  drones:\n    approximate_count: lots\n", encoding="utf-8")
    r = run_cli("audit", "verify", str(bad), "--db", f"sqlite:///{tmp_path}/x.db")
    assert r.returncode == 2
    assert f"{bad}:4: technologies.drones.approximate_count" in " ".join(r.stderr.split())
