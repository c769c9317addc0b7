"""A real distributed scan: `celery worker` processes, a real broker, PostgreSQL, a lab fleet.

The kill test SIGKILLs a worker (and its pool child) in the middle of a chunk,
starts a fresh one, and checks the merged scan record is complete with
nothing recorded twice.  Parametrised over Redis and RabbitMQ.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from camsweep.lab import Lab, load_fleet
from camsweep.worker.store import ChunkRecord, ChunkStore
from db.repository import Inventory
from tests.helpers import run_cli

#: Bounds on the waits below (how long before the test gives up, not a speed claim).
RUNNING_CHUNK_TIMEOUT_S = 120.0
SCAN_DONE_TIMEOUT_S = 240.0
POLL_S = 0.1

# 512 addresses in chunks of 64 at 32 new connections/s on one port: each chunk
# takes a couple of seconds, so a chunk seen "running" is still running when the
# kill lands a poll later.
TARGET_PREFIX = 23
CHUNK_SIZE = 64
RATE_PPS = 32
DEVICE_OFFSETS = {"hikvision-ds2cd-fixed": [10, 140, 300], "decoy-nginx": [460]}


def _lab_fleet(tmp_path: Path) -> tuple[Path, ipaddress.IPv4Network]:
    """A fleet spread over several chunks of a random /23 of the worker block (127.140-149)."""
    rnd = uuid.uuid4().int
    net = ipaddress.IPv4Network(f"127.{140 + rnd % 10}.{(rnd >> 8) % 128 * 2}.0/{TARGET_PREFIX}")
    lines = [f"network: {net}", "devices:"]
    for personality, offsets in DEVICE_OFFSETS.items():
        for off in offsets:
            lines += [
                f"  - personality: {personality}",
                f"    name: {personality}-{off}",
                '    oui: "44:19:b6"',
                f"    ip: {net[off]}",
            ]
    path = tmp_path / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, net


def _wait_for(what: str, timeout_s: float, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"gave up after {timeout_s}s waiting for {what}")


def test_worker_killed_mid_chunk_scan_completes_without_duplicates(
    tmp_path: Path, pg_url: str, broker_url: str, site: str, broker_env: dict[str, str], start_worker: Any
) -> None:
    fleet_file, net = _lab_fleet(tmp_path)
    fleet = load_fleet(str(fleet_file))
    inventory = Inventory(pg_url)
    store = ChunkStore(inventory)
    with Lab(fleet) as lab:
        ports = sorted({port for _, port in lab.listening})
        # Two workers for the site: chunks spread across both and merge into one scan.
        # The victim alone at first, so it surely takes a chunk; the steady worker joins after.
        victim = start_worker("victim", site, pg_url, broker_url, pool="prefork")
        victim.wait_ready()
        submitted = run_cli(
            "worker", "submit", str(net), "--site", site, "--db", pg_url, "--broker", broker_url,
            "--ports", ",".join(map(str, ports)), "--chunk-size", str(CHUNK_SIZE),
            "--rate", str(RATE_PPS), "--json", env=broker_env,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        info = json.loads(submitted.stdout)
        scan_id = info["scan_id"]
        assert info["chunks"] == net.num_addresses // CHUNK_SIZE
        assert info["queue"] == f"camsweep.site.{site}"
        steady = start_worker("steady", site, pg_url, broker_url, pool="solo")

        def victim_mid_chunk() -> list[ChunkRecord]:
            return [c for c in store.chunks(scan_id) if c.status == "running" and c.worker == victim.name]

        _wait_for("the victim worker to be mid-chunk", RUNNING_CHUNK_TIMEOUT_S, victim_mid_chunk)
        victim.kill()
        # What the victim held when it died: started, never recorded.
        interrupted = victim_mid_chunk()
        assert interrupted, "the kill should land mid-chunk"
        assert victim.proc.returncode is not None

        fresh = start_worker("fresh", site, pg_url, broker_url, pool="prefork")

        def scan_closed() -> bool:
            scan = next(s for s in inventory.scans() if s.id == scan_id)
            return scan.status != "running"

        try:
            _wait_for("the scan to finish", SCAN_DONE_TIMEOUT_S, scan_closed)
        except AssertionError:
            raise AssertionError(f"chunks: {store.chunks(scan_id)}\nsteady log:\n{steady.output()}") from None

    scan = next(s for s in inventory.scans() if s.id == scan_id)
    assert scan.status == "completed"
    assert scan.addresses_total == net.num_addresses
    assert scan.addresses_done == net.num_addresses

    chunks = store.chunks(scan_id)
    assert [c.status for c in chunks] == ["done"] * len(chunks)
    by_idx = {c.idx: c for c in chunks}
    for c in interrupted:
        assert by_idx[c.idx].attempts >= 2, "the interrupted chunk was redelivered"
        assert by_idx[c.idx].worker != victim.name
    # Spread over the site's workers: the victim held one when it died, the others did the rest.
    workers = {c.worker for c in chunks}
    assert steady.name in workers
    assert workers <= {steady.name, fresh.name}
    assert sum(c.hosts for c in chunks) == len(fleet.devices)

    # Every lab device exactly once, identified as the lab says it is.
    devices = [d for d in inventory.devices() if d.site == site]
    assert sorted(d.ip for d in devices) == sorted(d.ip for d in fleet.devices)
    truth = {d.ip: d.personality for d in fleet.devices}
    for d in devices:
        assert d.manufacturer == truth[d.ip].manufacturer, d

    # Every observation exactly once per (ip, port, probe) in this scan.
    with inventory.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select ip, port, probe, count(*) from observations where scan_id = :s "
                "group by ip, port, probe"
            ),
            {"s": scan_id},
        ).all()
    assert rows, "observations were recorded"
    assert {r[0] for r in rows} == set(truth)
    assert [r for r in rows if r[3] != 1] == []

    status = run_cli("worker", "status", str(scan_id), "--db", pg_url, "--json")
    assert status.returncode == 0, status.stderr
    listed = [json.loads(line) for line in status.stdout.splitlines()]
    assert [c["status"] for c in listed] == ["done"] * len(chunks)
    inventory.close()


# One broker is enough here: delivery over both is what the kill test covers.
@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_a_beat_entry_runs_on_its_site_worker_and_scans_the_site(
    pg_url: str, broker_url: str, site: str, broker_env: dict[str, str], start_worker: Any, monkeypatch: Any
) -> None:
    """What beat sends at a job's cron time, sent now: the site's worker creates and runs the scan."""
    from camsweep.worker.app import make_app, transport_options_from_env
    from camsweep.worker.schedule import ScheduledJob, beat_schedule

    rnd = uuid.uuid4().int
    net = f"127.{140 + rnd % 10}.{(rnd >> 8) % 256}.0/24"
    fleet = load_fleet("mini", network=net)
    inventory = Inventory(pg_url)
    with Lab(fleet) as lab:
        ports = sorted({port for _, port in lab.listening})
        job = ScheduledJob("nightly", site, "30 1 * * *", fleet.targets, site_networks=[net], ports=ports)
        entry = beat_schedule([job])["nightly"]
        start_worker("sched", site, pg_url, broker_url, pool="solo")
        for key, value in broker_env.items():
            monkeypatch.setenv(key, value)
        sender = make_app(broker_url, transport_options_from_env())
        sender.send_task(entry["task"], kwargs=entry["kwargs"], **entry["options"])
        sender.close()

        def finished() -> list[Any]:
            return [s for s in inventory.scans() if s.site == site and s.status != "running"]

        (scan,) = _wait_for("the scheduled scan to finish", SCAN_DONE_TIMEOUT_S, finished)
    assert scan.status == "completed"
    assert scan.addresses_done == len(fleet.devices)
    devices = sorted((d.ip or "", d.manufacturer) for d in inventory.devices() if d.site == site)
    assert devices == sorted((d.ip, d.personality.manufacturer) for d in fleet.devices)
    assert [a.detail["scan_id"] for a in inventory.actions("worker.submit")] == [scan.id]
    assert [a.actor for a in inventory.actions("worker.submit")] == ["schedule:nightly"]
    inventory.close()
