"""Real processes: two scans writing one SQLite file at once, and a scan killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from db.repository import Inventory
from tests.helpers import REPO_ROOT, run_cli

WRITER = Path(__file__).with_name("writer_proc.py")
TIMEOUT_S = 120


def _spawn(url: str, tag: int, hosts: int, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), url, str(tag), str(hosts), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_scan_processes_write_one_inventory(db_url: str) -> None:
    url = db_url
    Inventory(url).close()  # both writers then open an existing, migrated database
    hosts = 120
    procs = [_spawn(url, tag, hosts) for tag in (1, 2)]
    for p in procs:
        out, errs = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, errs
        assert out.startswith("DONE")
    inv = Inventory(url)
    scans = inv.scans()
    assert [s.status for s in scans] == ["completed", "completed"]
    devices = inv.devices()
    # 50 MACs seen by both scans stay 50 devices; the rest are each process's own.
    assert len(devices) == 50 + 2 * (hosts - 50)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("select count(*) from observations").scalar() == 2 * 2 * hosts
        assert conn.exec_driver_sql("select count(*) from sightings").scalar() == 2 * hosts
    engine.dispose()
    inv.close()


def test_killed_scan_keeps_committed_batches_and_is_marked_interrupted(db_url: str) -> None:
    Inventory(db_url).close()
    proc = _spawn(db_url, 3, 30, "hang")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), proc.stderr.read() if proc.stderr else line
        scan_id = int(line.split()[1])
        inv = Inventory(db_url)
        assert inv.get_scan(scan_id).status == "running"  # alive: left alone
        inv.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT_S)
    inv = Inventory(db_url)  # opening notices the writer is dead
    scan = inv.get_scan(scan_id)
    assert scan.status == "interrupted" and scan.finished_at is not None
    assert len(inv.devices()) == 30  # every committed batch; the 5 queued hosts died with it
    assert all(len(inv.device_observations(d.id)) == 2 for d in inv.devices())
    inv.close()
    listed = run_cli("scans", "--db", db_url, "--json")
    assert '"status": "interrupted"' in listed.stdout


def test_scan_from_another_host_is_dead_only_when_its_heartbeat_is_stale(db_url: str) -> None:
    from datetime import timedelta

    from db.repository import STALE_SCAN_AFTER, utcnow

    inv = Inventory(db_url)
    fresh, stale = inv.begin_scan(["10.0.0.1"]), inv.begin_scan(["10.0.0.2"])
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE scans SET host = 'scanner-2', pid = 1"))
        conn.execute(
            sa.text("UPDATE scans SET heartbeat_at = :t WHERE id = :id"),
            {"t": utcnow() - STALE_SCAN_AFTER - timedelta(minutes=1), "id": stale},
        )
    engine.dispose()
    inv.close()
    inv = Inventory(db_url)
    assert (inv.get_scan(fresh).status, inv.get_scan(stale).status) == ("running", "interrupted")
    inv.close()
