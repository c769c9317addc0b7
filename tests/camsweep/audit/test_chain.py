"""Evidence integrity: a hand-altered database fails verify-chain, naming the broken link."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from camsweep.audit.chain import seal_scan, verify_chain
from camsweep.lab import Lab
from db.repository import Inventory
from tests.camsweep.audit.conftest import scan_into


def _observation_ids(inventory: Inventory) -> list[int]:
    with inventory.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT id FROM observations ORDER BY id"))]


def _exec(inventory: Inventory, sql: str, **params: object) -> None:
    with inventory.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_untouched_inventory_passes_and_heads_are_stable(scanned: Inventory) -> None:
    first = verify_chain(scanned)
    assert first.ok, first.problems
    assert first.scans_checked == 1 and first.observations_checked == len(_observation_ids(scanned)) > 0
    assert set(first.site_heads) == {"hq"}
    assert verify_chain(scanned).head == first.head
    [scan] = scanned.scans()
    assert seal_scan(scanned, scan.id).link == first.site_heads["hq"]  # sealing twice changes nothing


def test_modified_evidence_is_named(scanned: Inventory) -> None:
    target = _observation_ids(scanned)[1]
    _exec(
        scanned,
        "UPDATE observations SET evidence = :ev WHERE id = :id",
        ev=json.dumps([["http.server", "Boa/0.94", "http:80"]]),
        id=target,
    )
    report = verify_chain(scanned)
    assert not report.ok
    first = report.problems[0]
    assert (first.kind, first.observation_id) == ("modified", target)
    assert report.as_dict()["first_broken_link"].startswith(f"modified: site 'hq', scan {first.scan_id}")


def test_relinking_an_observation_to_another_device_is_not_tampering(scanned: Inventory) -> None:
    # Device links are derived state: re-identification may move them.
    target = _observation_ids(scanned)[0]
    _exec(scanned, "UPDATE observations SET device_id = NULL WHERE id = :id", id=target)
    assert verify_chain(scanned).ok


def test_stored_hash_column_is_not_trusted(scanned: Inventory) -> None:
    target = _observation_ids(scanned)[0]
    _exec(
        scanned,
        "UPDATE observations SET detail = 'forged', sha256 = :h WHERE id = :id",
        h="0" * 64,
        id=target,
    )
    [problem] = verify_chain(scanned).problems
    assert (problem.kind, problem.observation_id) == ("modified", target)


def test_deleted_observation_is_named(scanned: Inventory) -> None:
    target = _observation_ids(scanned)[-1]
    _exec(scanned, "DELETE FROM observations WHERE id = :id", id=target)
    [problem] = verify_chain(scanned).problems
    assert (problem.kind, problem.observation_id) == ("deleted", target)


def test_inserted_observation_is_named(scanned: Inventory) -> None:
    [scan] = scanned.scans()
    _exec(
        scanned,
        "INSERT INTO observations (scan_id, ip, port, probe, status, evidence, raw, detail, sha256, observed_at) "
        "VALUES (:scan, '127.150.0.9', 80, 'http', 'success', '[]', :raw, '', :h, :at)",
        scan=scan.id,
        raw=b"",
        h="1" * 64,
        at=scan.started_at,
    )
    [problem] = verify_chain(scanned).problems
    assert problem.kind == "inserted" and problem.observation_id == max(_observation_ids(scanned))


def test_changed_scan_record_and_removed_scan_break_the_site_chain(scanned: Inventory, lab: Lab) -> None:
    scan_into(scanned, lab)  # a second scan of the same site extends the chain
    first, second = scanned.scans()
    assert verify_chain(scanned).ok
    _exec(scanned, "UPDATE scans SET targets = '[\"10.0.0.0/8\"]' WHERE id = :id", id=first.id)
    [problem] = verify_chain(scanned).problems
    assert (problem.kind, problem.scan_id, problem.observation_id) == ("modified", first.id, None)
    # Removing the seal of the first scan (to hide it) breaks the link of the second.
    _exec(scanned, "DELETE FROM audit_observation_seals WHERE scan_id = :id", id=first.id)
    _exec(scanned, "DELETE FROM audit_scan_seals WHERE scan_id = :id", id=first.id)
    kinds = {(p.kind, p.scan_id) for p in verify_chain(scanned).problems}
    assert ("seal-broken", second.id) in kinds and ("inserted", first.id) in kinds


def test_concurrent_seals_of_one_site_form_one_chain(db_url: str) -> None:
    inventory = Inventory(db_url)
    try:
        ids = [inventory.begin_scan(["127.150.0.0/30"], site="hq") for _ in range(4)]
        for scan_id in ids:
            inventory.finish_scan(scan_id, done=0)
        with ThreadPoolExecutor(max_workers=4) as pool:
            seals = list(pool.map(lambda sid: seal_scan(inventory, sid), ids))
        report = verify_chain(inventory)
        assert report.ok, report.problems
        assert report.scans_checked == 4 and report.site_heads["hq"] in {s.link for s in seals}
    finally:
        inventory.close()
