"""A scan killed with SIGKILL, sealed after the fact by an auditor: ``camsweep audit seal-interrupted``.

The killed scan is a real ``python -m camsweep scan`` of a lab fleet whose last
devices are tarpits (``hostile-blackhole``): the first devices are committed,
then the scan stalls, and the kill lands while it is still running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from camsweep.audit.answers import parse_answers
from camsweep.audit.chain import AfterInterruption, seal_interrupted_scan, seal_scan, verify_chain
from camsweep.audit.draft import draft_answers
from camsweep.audit.render import to_html, to_markdown
from camsweep.audit.verify import verify_answers
from camsweep.lab import Lab, load_fleet
from db.repository import Inventory
from fingerprints.errors import ConfigError, NotFoundError
from tests.helpers import REPO_ROOT, run_cli

#: Bounds on waits (when the test gives up, not speed claims).
COMMIT_TIMEOUT_S = 60.0
WAIT_S = 30.0


def _fleet_file(tmp_path: Path) -> Path:
    """The mini fleet's cameras and decoy, then two tarpits that hold the scan open."""
    net = f"127.{150 + uuid.uuid4().int % 10}.{uuid.uuid4().int % 250 + 1}.0/29"
    path = tmp_path / "fleet.yaml"
    path.write_text(
        f"network: {net}\n"
        "devices:\n"
        '  - {personality: hikvision-ds2cd-fixed, oui: "44:19:b6", count: 2}\n'
        '  - {personality: decoy-nginx, oui: "02:00:00"}\n'
        "  - {personality: hostile-blackhole, count: 2}\n",
        encoding="utf-8",
    )
    return path


def _committed(engine: sa.Engine, scan_id: int | None = None) -> tuple[int, int]:
    """(scan id, observations committed) of the newest scan while it is running, else (0, 0)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, status FROM scans ORDER BY id DESC LIMIT 1")).first()
        if row is None or row[1] != "running":
            return 0, 0
        n = conn.execute(sa.text("SELECT count(*) FROM observations WHERE scan_id = :s"), {"s": row[0]})
        return row[0], int(n.scalar() or 0)


def _kill_a_scan_after_its_first_commit(db_url: str, lab: Lab) -> int:
    """Run a real scan, SIGKILL it once a batch is committed and it is still running; its id back."""
    Inventory(db_url).close()  # migrated before the scan and the poller use it
    argv = [
        sys.executable, "-m", "camsweep", "scan", *lab.fleet.targets, "--site", "hq", "--db", db_url,
        "--ports", "80", "--concurrency", "1", "--read-timeout", "3", "--progress", "none",
        "--no-arp", "--no-wsd", "--no-mdns",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    engine = sa.create_engine(db_url)
    try:
        deadline = time.monotonic() + COMMIT_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            scan_id, rows = _committed(engine)
            if rows:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no batch committed while the scan ran (exit {proc.returncode})")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=WAIT_S)
        engine.dispose()
    assert proc.returncode == -signal.SIGKILL, "the scan ended before the kill"
    return scan_id


def test_a_killed_scan_is_sealed_after_the_fact_and_still_tamper_evident(db_url: str, tmp_path: Path) -> None:
    with Lab(load_fleet(str(_fleet_file(tmp_path)))) as lab:
        killed = _kill_a_scan_after_its_first_commit(db_url, lab)
        completed = run_cli("scan", *lab.fleet.targets[:3], "--site", "hq", "--db", db_url, "--ports", "80")
        assert completed.returncode == 0, completed.stderr

    inventory = Inventory(db_url)  # opening notices the dead scan
    try:
        scans = {s.id: s for s in inventory.scans()}
        assert scans[killed].status == "interrupted"
        (done,) = [sid for sid, s in scans.items() if s.status == "completed"]
    finally:
        inventory.close()

    r = run_cli("audit", "verify-chain", "--db", db_url, "--json")
    assert r.returncode == 1, r.stderr
    [problem] = json.loads(r.stdout)["problems"]
    assert problem["scan_id"] == killed and "seal-interrupted" in problem["detail"]

    r = run_cli("audit", "seal-interrupted", str(done), "--reason", "x", "--actor", "alice", "--db", db_url)
    assert r.returncode == 2 and "completed, not interrupted" in r.stderr, r.stderr

    reason = "scanner host lost power; rows checked against the lab truth"
    r = run_cli(
        "audit", "seal-interrupted", str(killed), "--reason", reason, "--actor", "alice", "--db", db_url
    )
    assert r.returncode == 0, r.stderr
    assert f"scan {killed} (site 'hq') sealed after interruption" in r.stdout

    r = run_cli(
        "audit", "seal-interrupted", str(killed), "--reason", reason, "--actor", "bob", "--db", db_url
    )
    assert r.returncode == 2 and "already sealed" in r.stderr and "by alice" in r.stderr, r.stderr

    r = run_cli("audit", "verify-chain", "--db", db_url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "chain intact" in r.stdout
    assert f"scan {killed} (site 'hq'): interrupted, sealed after interruption by alice at " in r.stdout
    assert reason in r.stdout
    r = run_cli("audit", "verify-chain", "--db", db_url, "--json")
    report = json.loads(r.stdout)
    assert report["ok"] and report["scans_checked"] == 2
    [late] = report["sealed_after_interruption"]
    assert (late["scan_id"], late["by"], late["reason"]) == (killed, "alice", reason)

    inventory = Inventory(db_url)
    try:
        [logged] = inventory.actions("audit.seal-interrupted")
    finally:
        inventory.close()
    assert (logged.actor, logged.detail["scan_id"], logged.detail["reason"]) == ("alice", killed, reason)

    # Tampering with a row the late seal covers is caught like any other.
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            oid, committed = conn.execute(
                sa.text("SELECT min(id), count(*) FROM observations WHERE scan_id = :s"), {"s": killed}
            ).one()
            assert logged.detail["observations"] == committed > 0  # everything it committed, sealed
            conn.execute(sa.text("UPDATE observations SET evidence = '[]' WHERE id = :id"), {"id": oid})
    finally:
        engine.dispose()
    r = run_cli("audit", "verify-chain", "--db", db_url, "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["problems"][0]["kind"] == "modified" and doc["problems"][0]["observation_id"] == oid


def _ts(late: AfterInterruption) -> str:
    return str(late.as_dict()["sealed_at"])


def _interrupted_scan(inventory: Inventory) -> int:
    scan_id = inventory.begin_scan(["127.150.0.0/30"], site="hq")
    inventory.finish_scan(scan_id, "interrupted", done=0)
    return scan_id


def test_the_late_seal_statement_cannot_be_edited_and_the_chain_goes_on(db_url: str) -> None:
    inventory = Inventory(db_url)
    try:
        late = _interrupted_scan(inventory)
        seal_interrupted_scan(inventory, late, "alice", "checked by hand")
        after = inventory.begin_scan(["127.150.0.0/30"], site="hq")
        inventory.finish_scan(after, done=0)
        seal_scan(inventory, after)  # the next scan of the site extends the chain past the late seal
        report = verify_chain(inventory)
        assert report.ok, report.problems
        assert [a.scan_id for a in report.sealed_after_interruption] == [late]
        # A survey report states it next to the chain head, in both renderings.
        answers = parse_answers(draft_answers(inventory, "Lab Constabulary"), "draft.yaml")
        survey = verify_answers(inventory, answers)
        said = f"was interrupted and sealed after the fact by alice at {_ts(report.sealed_after_interruption[0])}"
        assert said in to_markdown(survey) and said in to_html(survey)
        with inventory.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE audit_scan_seals SET after_interruption_by = 'mallory' WHERE scan_id = :s"),
                {"s": late},
            )
        [problem] = verify_chain(inventory).problems
        assert (problem.kind, problem.scan_id) == ("modified", late)
        with inventory.engine.begin() as conn:  # hiding that it was a late seal is caught too
            conn.execute(
                sa.text(
                    "UPDATE audit_scan_seals SET after_interruption_by = NULL, "
                    "after_interruption_reason = NULL WHERE scan_id = :s"
                ),
                {"s": late},
            )
        [problem] = verify_chain(inventory).problems
        assert (problem.kind, problem.scan_id) == ("modified", late)
    finally:
        inventory.close()


def test_running_missing_and_unexplained_seals_are_refused(db_url: str) -> None:
    inventory = Inventory(db_url)
    try:
        running = inventory.begin_scan(["127.150.0.0/30"], site="hq")  # this process: alive
        with pytest.raises(ConfigError, match=f"scan {running} is still running"):
            seal_interrupted_scan(inventory, running, "alice", "too early")
        assert verify_chain(inventory).running_scans == [running]
        with pytest.raises(NotFoundError, match="scan 9999 does not exist"):
            seal_interrupted_scan(inventory, 9999, "alice", "no such scan")
        late = _interrupted_scan(inventory)
        with pytest.raises(ConfigError, match="--reason"):
            seal_interrupted_scan(inventory, late, "alice", "  ")
        with pytest.raises(ConfigError, match="--actor"):
            seal_interrupted_scan(inventory, late, "", "checked")
        assert [p.scan_id for p in verify_chain(inventory).problems] == [late]  # nothing half-sealed
    finally:
        inventory.close()
