"""Chunk recording is all-or-nothing and happens once, however often a chunk is delivered."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from camsweep.worker.chunks import plan_chunks
from camsweep.worker.store import MAX_CHUNK_ATTEMPTS, ChunkStore
from db.repository import Inventory
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status
from scanner.targets import Scope, parse_targets

#: Bound on the threads of the concurrency test (a hang is a failure, not a wait).
JOIN_TIMEOUT_S = 60.0


def _host(ip: str) -> tuple[HostReport, Identification]:
    report = HostReport(ip)
    report.observations.append(Observation(probe="tcp", ip=ip, port=80, status=Status.SUCCESS))
    report.observations.append(
        Observation(
            probe="http",
            ip=ip,
            port=80,
            status=Status.SUCCESS,
            evidence=[Evidence("http.server", "App-webs/", "http")],
        )
    )
    return report, Identification(manufacturer="Hikvision", is_camera=True)


def _scan(inventory: Inventory, store: ChunkStore, target: str, chunk_size: int) -> int:
    specs = parse_targets([target])
    chunks = list(plan_chunks(specs, Scope(), chunk_size))
    scan_id = inventory.begin_scan([target], site="hq", total=sum(c.addresses for c in chunks))
    assert store.create(scan_id, chunks) == len(chunks)
    return scan_id


def _observations(inventory: Inventory, scan_id: int) -> list[tuple[str, int, str, int]]:
    with inventory.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select ip, port, probe, count(*) from observations where scan_id = :s "
                "group by ip, port, probe order by ip, probe"
            ),
            {"s": scan_id},
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_a_redelivered_chunk_is_recorded_once_and_the_scan_closes_once(db_url: str) -> None:
    inventory = Inventory(db_url)
    store = ChunkStore(inventory)
    scan_id = _scan(inventory, store, "10.9.0.0/25", chunk_size=64)
    hosts = [_host("10.9.0.5"), _host("10.9.0.6")]

    assert store.start(scan_id, 0, "a@x")
    assert store.record(scan_id, 0, hosts, addresses=64)
    assert store.finish_if_complete(scan_id) is None  # chunk 1 still pending
    # The same chunk delivered again (a worker died before its ack).
    assert not store.start(scan_id, 0, "b@x")
    assert not store.record(scan_id, 0, hosts, addresses=64)

    assert store.start(scan_id, 1, "b@x")
    assert store.record(scan_id, 1, [_host("10.9.0.100")], addresses=64)
    assert store.finish_if_complete(scan_id) == "completed"
    assert store.finish_if_complete(scan_id) is None  # already closed

    scan = next(s for s in inventory.scans() if s.id == scan_id)
    assert (scan.status, scan.addresses_done, scan.addresses_total) == ("completed", 128, 128)
    assert scan.finished_at is not None
    assert _observations(inventory, scan_id) == [
        (ip, 80, probe, 1) for ip in ("10.9.0.100", "10.9.0.5", "10.9.0.6") for probe in ("http", "tcp")
    ]
    assert sorted(d.ip or "" for d in inventory.devices()) == ["10.9.0.100", "10.9.0.5", "10.9.0.6"]
    chunks = store.chunks(scan_id)
    assert [(c.status, c.attempts, c.hosts) for c in chunks] == [("done", 1, 2), ("done", 1, 1)]
    inventory.close()


def test_a_chunk_that_fails_for_good_leaves_the_scan_partial(db_url: str) -> None:
    inventory = Inventory(db_url)
    store = ChunkStore(inventory)
    scan_id = _scan(inventory, store, "10.9.1.0/25", chunk_size=64)
    assert store.start(scan_id, 0, "a@x")
    assert store.record(scan_id, 0, [], addresses=64)
    assert store.start(scan_id, 1, "a@x")
    store.fail(scan_id, 1, "database went away " * 200)
    assert store.finish_if_complete(scan_id) == "partial"
    failed = store.chunks(scan_id)[1]
    assert failed.status == "failed"
    assert failed.error.startswith("database went away")
    assert len(failed.error) <= 1024
    inventory.close()


def test_a_chunk_that_keeps_killing_its_worker_is_given_up(db_url: str) -> None:
    inventory = Inventory(db_url)
    store = ChunkStore(inventory)
    scan_id = _scan(inventory, store, "10.9.3.0/26", chunk_size=64)
    for _ in range(MAX_CHUNK_ATTEMPTS):
        assert store.start(scan_id, 0, "doomed@x")  # each time the worker "dies" before recording
    assert not store.start(scan_id, 0, "next@x")
    (chunk,) = store.chunks(scan_id)
    assert (chunk.status, chunk.attempts) == ("failed", MAX_CHUNK_ATTEMPTS)
    assert "worker died" in chunk.error
    assert store.finish_if_complete(scan_id) == "partial"
    # A delivery that was only slow, not dead, records it after all: the scan is complete.
    assert store.record(scan_id, 0, [_host("10.9.3.7")], addresses=64)
    assert store.finish_if_complete(scan_id) == "completed"
    assert next(s for s in inventory.scans() if s.id == scan_id).status == "completed"
    inventory.close()


def test_two_deliveries_recording_at_the_same_moment_write_once(pg_url: str) -> None:
    # PostgreSQL, several connections: the guarded UPDATE's row lock makes the
    # second transaction wait, then match nothing and roll back.
    inventory = Inventory(pg_url)
    store = ChunkStore(inventory)
    scan_id = _scan(inventory, store, "10.9.2.0/26", chunk_size=64)
    hosts = [_host(f"10.9.2.{n}") for n in range(1, 20)]
    deliveries = 4
    barrier = threading.Barrier(deliveries)
    results: list[bool] = []
    lock = threading.Lock()

    def deliver() -> None:
        barrier.wait(JOIN_TIMEOUT_S)
        recorded = store.record(scan_id, 0, hosts, addresses=64)
        with lock:
            results.append(recorded)

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert sorted(results) == [False] * (deliveries - 1) + [True]
    assert {count for *_, count in _observations(inventory, scan_id)} == {1}
    assert len(_observations(inventory, scan_id)) == 2 * len(hosts)
    scan = next(s for s in inventory.scans() if s.id == scan_id)
    assert scan.addresses_done == 64
    inventory.close()
