"""The chunk task called in-process (the broker is covered by test_distributed): scan, record, refuse."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from camsweep.lab import Lab, load_fleet
from camsweep.worker.chunks import plan_chunks
from camsweep.worker.store import ChunkStore
from camsweep.worker.tasks import scan_chunk
from db.repository import Inventory
from fingerprints.errors import ConfigError
from scanner.targets import Scope, parse_targets


def _submit(db_url: str, target: str) -> tuple[Inventory, ChunkStore, int]:
    inventory = Inventory(db_url)
    store = ChunkStore(inventory)
    chunks = list(plan_chunks(parse_targets([target]), Scope(), chunk_size=256))
    scan_id = inventory.begin_scan([target], site="hq", total=sum(c.addresses for c in chunks))
    store.create(scan_id, chunks)
    return inventory, store, scan_id


def test_a_chunk_scans_the_lab_records_it_and_ignores_its_redelivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path}/inv.db"
    monkeypatch.setenv("CAMSWEEP_DB", db_url)
    net = f"127.{140 + uuid.uuid4().int % 10}.{uuid.uuid4().int % 256}.0/24"
    fleet = load_fleet("demo", network=net)
    inventory, store, scan_id = _submit(db_url, net)
    with Lab(fleet) as lab:
        ports = sorted({p for _, p in lab.listening})
        kwargs = {
            "scan_id": scan_id,
            "idx": 0,
            "first": net.replace("0/24", "0"),
            "last": net.replace("0/24", "255"),
            "addresses": 256,
            "ports": ports,
            "limits": {"rate_pps": 0},
            "exclude": [],
        }
        first = scan_chunk(**kwargs)
        again = scan_chunk(**kwargs)
    assert (first["recorded"], first["hosts"]) == (True, len(fleet.devices))
    assert again["recorded"] is False
    (chunk,) = store.chunks(scan_id)
    assert (chunk.status, chunk.attempts, chunk.hosts) == ("done", 1, len(fleet.devices))
    scan = next(s for s in inventory.scans() if s.id == scan_id)
    assert (scan.status, scan.addresses_done) == ("completed", 256)
    assert sorted(d.ip or "" for d in inventory.devices()) == sorted(fleet.targets)
    inventory.close()


@pytest.mark.parametrize(
    ("first", "last", "limits", "message"),
    [
        ("10.7.0.0", "nonsense", {}, "not a pair of addresses"),
        ("10.7.0.9", "10.7.0.0", {}, "empty"),
        ("10.7.0.0", "10.7.0.255", {"rate_ppss": 5}, "unknown scan limits"),
    ],
)
def test_a_malformed_message_fails_its_chunk_and_closes_the_scan_partial(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
    last: str,
    limits: dict[str, int],
    message: str,
) -> None:
    db_url = f"sqlite:///{tmp_path}/inv.db"
    monkeypatch.setenv("CAMSWEEP_DB", db_url)
    inventory, store, scan_id = _submit(db_url, "10.7.0.0/24")
    with pytest.raises(ConfigError, match=message):
        scan_chunk(
            scan_id=scan_id,
            idx=0,
            first=first,
            last=last,
            addresses=256,
            ports=[80],
            limits=limits,
            exclude=[],
        )
    (chunk,) = store.chunks(scan_id)
    assert chunk.status == "failed"
    assert message in chunk.error
    assert next(s for s in inventory.scans() if s.id == scan_id).status == "partial"
    inventory.close()
