"""``camsweep scan`` over hostile devices among ordinary ones.

The ``mixed`` fleet (Hikvision, Dahua, Axis, a decoy, a formula-injecting and a
dripping device) and the whole ``hostile`` fleet (drip, endless headers, 50 MB
body, XML bomb and XXE, broken RTSP, resets, a blackhole, non-UTF-8, HTML and
formula strings) run at once; one real CLI scan covers both with a
``--deadline``.  The scan must end ``completed`` (every hostile device is
bounded by the per-read timeouts, well inside the deadline), record every probe
with a status from the fixed vocabulary, keep every stored value bounded, and
still identify every ordinary device.  A second scan whose deadline is shorter
than the hostile devices' stalling must end ``deadline`` and keep what it
recorded.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from camsweep.lab import Lab, load_fleet
from fingerprints.evidence import MAX_RAW_BYTES, Status
from tests.helpers import run_cli

DEADLINE_S = 60


@pytest.fixture
def two_labs() -> Iterator[tuple[Lab, Lab]]:
    n = uuid.uuid4().int % 200 + 20
    mixed = load_fleet("mixed", network=f"127.174.{n}.0/24")
    hostile = load_fleet("hostile", network=f"127.175.{n}.0/24")
    with Lab(mixed) as a, Lab(hostile) as b:
        yield a, b


def _scan(db: str, targets: list[str], *extra: str) -> list[dict[str, object]]:
    res = run_cli(
        "scan", *targets, "--db", db, "--json", "--no-arp", "--no-wsd", "--no-mdns",
        "--connect-timeout", "1", "--read-timeout", "1", *extra,
        timeout_s=DEADLINE_S * 3,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def test_scan_of_hostile_and_normal_devices_completes_and_identifies(
    two_labs: tuple[Lab, Lab], tmp_path: Path
) -> None:
    mixed, hostile = two_labs
    db_path = tmp_path / "hostile.db"
    targets = mixed.fleet.targets + hostile.fleet.targets
    rows = _scan(f"sqlite:///{db_path}", targets, "--deadline", str(DEADLINE_S))
    summary, hosts = rows[-1], {r["ip"]: r for r in rows[:-1]}
    assert summary["status"] == "completed"
    assert summary["addresses"] == len(targets)
    # Every ordinary device is identified as what it is, hostile neighbours or not.
    for spec in mixed.fleet.devices:
        p = spec.personality
        if not p.hostile:
            assert hosts[spec.ip]["is_camera"] == p.is_camera, spec.name
            assert hosts[spec.ip]["manufacturer"] == p.manufacturer, spec.name
            assert hosts[spec.ip]["brand"] == p.brand, spec.name
    # No hostile device passes for a camera.
    for spec in mixed.fleet.devices + hostile.fleet.devices:
        if spec.personality.hostile and spec.ip in hosts:
            assert hosts[spec.ip]["is_camera"] is False, spec.name
    con = sqlite3.connect(db_path)
    try:
        (status, done, total) = con.execute(
            "SELECT status, addresses_done, addresses_total FROM scans"
        ).fetchone()
        obs = con.execute(
            "SELECT ip, port, probe, status, length(raw), evidence FROM observations"
        ).fetchall()
    finally:
        con.close()
    assert (status, done, total) == ("completed", len(targets), len(targets))
    vocabulary = {s.value for s in Status}
    by_ip: dict[str, dict[tuple[str, int], str]] = {}
    for ip, port, probe, st, raw_len, evidence in obs:
        assert st in vocabulary, (ip, probe, st)
        assert raw_len <= MAX_RAW_BYTES
        assert all(len(value) <= 512 for _key, value, _src in json.loads(evidence))
        by_ip.setdefault(ip, {})[(probe, port)] = st
    for spec in hostile.fleet.devices:
        assert spec.ip in by_ip, f"{spec.name} left no observation"
    h = {spec.personality.id: by_ip[spec.ip] for spec in hostile.fleet.devices}
    # Each misbehaviour is recorded as what it is, not as a success.
    assert h["hostile-blackhole"][("http", 80)] == "timeout"
    assert h["hostile-drip"][("http", 80)] in ("timeout", "protocol-mismatch")
    assert h["hostile-endless-headers"][("http", 80)] in ("timeout", "protocol-mismatch")
    assert h["hostile-xml-bomb"][("onvif", 80)] == "protocol-mismatch"  # refused to expand
    assert h["hostile-xml-bomb"][("onvif", 8899)] == "protocol-mismatch"  # external entity refused
    assert h["hostile-rtsp"][("rtsp", 554)] != "success"  # "RTSP/1.0 2OO 0K" is not an answer


def test_deadline_cuts_a_stalled_scan_and_keeps_what_it_recorded(
    two_labs: tuple[Lab, Lab], tmp_path: Path
) -> None:
    mixed, hostile = two_labs
    db_path = tmp_path / "deadline.db"
    # Long read timeouts: the drip and blackhole devices would hold the scan far past 3 s.
    targets = mixed.fleet.targets + hostile.fleet.targets
    rows = _scan(
        f"sqlite:///{db_path}", targets, "--deadline", "3", "--read-timeout", "30", "--concurrency", "4"
    )
    summary = rows[-1]
    assert summary["status"] == "deadline"
    con = sqlite3.connect(db_path)
    try:
        (status, done, total, finished) = con.execute(
            "SELECT status, addresses_done, addresses_total, finished_at FROM scans"
        ).fetchone()
        recorded = con.execute("SELECT count(DISTINCT ip) FROM observations").fetchone()[0]
    finally:
        con.close()
    assert status == "deadline" and finished is not None
    assert done < total == len(targets)
    assert recorded == len(rows) - 1  # every host reported before the deadline is stored
