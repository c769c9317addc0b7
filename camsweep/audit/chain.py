"""Tamper-evident evidence: observations hash-chained per scan, scans chained per site.

Each observation's *content hash* is recomputed from the row's own fields
(the stored ``sha256`` column is one of those fields, never trusted on its
own).  Within a scan, in id order::

    link_0 = sha256("camsweep-observation-chain-v1:" scan_id)
    link_i = sha256(link_{i-1} || content_hash_i)          head = link_n

Per site, in seal order::

    prev_0 = sha256("camsweep-site-chain-v1:" site_id)
    link_k = sha256(prev_{k-1} || scan_fields_hash_k || head_k)

``seal_scan`` stores the links when a scan finishes; ``verify_chain``
recomputes everything from the rows and names the first broken link (which
scan, which observation, and whether a row was modified, deleted or
inserted).  Anyone who can rewrite both the rows *and* the seals can forge a
consistent chain, which is why every report states the chain head it was
computed from: a head quoted in an earlier report pins the evidence behind it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from camsweep.audit.models import ObservationSeal, ScanSeal
from db.models import ObservationRow, Scan, Site
from db.repository import Inventory, utcnow
from fingerprints.errors import NotFoundError, StorageError

#: How often ``seal_scan`` retries when another scan of the same site sealed first.
SEAL_RETRIES = 16  # each retry means another seal of the site committed, so this converges
#: Scan statuses that mean "finished" (everything else is still running).
RUNNING = "running"


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def _ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def observation_content_hash(row: ObservationRow) -> str:
    """The hash of what one observation row says was seen, recomputed from the row.

    ``device_id`` is left out on purpose: it links the raw observation to
    *derived* state (STYLE.md §9), which re-identification and device merges
    may legitimately change; everything seen on the wire is covered.
    """
    return _sha(
        _canonical(
            {
                "id": row.id,
                "scan_id": row.scan_id,
                "ip": row.ip,
                "port": row.port,
                "probe": row.probe,
                "status": row.status,
                "evidence": row.evidence,
                "raw": bytes(row.raw or b"").hex(),
                "detail": row.detail,
                "sha256": row.sha256,
                "observed_at": _ts(row.observed_at),
            }
        )
    )


def scan_fields_hash(scan: Scan, site_name: str) -> str:
    return _sha(
        _canonical(
            {
                "id": scan.id,
                "site": site_name,
                "targets": scan.targets,
                "operator": scan.operator,
                "tool_version": scan.tool_version,
                "fingerprint_version": scan.fingerprint_version,
                "status": scan.status,
                "started_at": _ts(scan.started_at),
                "finished_at": _ts(scan.finished_at),
                "addresses_total": scan.addresses_total,
                "addresses_done": scan.addresses_done,
            }
        )
    )


def observation_genesis(scan_id: int) -> str:
    return _sha(f"camsweep-observation-chain-v1:{scan_id}".encode())


def site_genesis(site_id: int) -> str:
    return _sha(f"camsweep-site-chain-v1:{site_id}".encode())


def next_link(prev: str, content_hash: str) -> str:
    return _sha(prev.encode(), content_hash.encode())


def scan_link(prev: str, fields_hash: str, observations_head: str) -> str:
    return _sha(prev.encode(), fields_hash.encode(), observations_head.encode())


def combined_head(site_heads: dict[str, str]) -> str:
    """One hash over every site's head, for reports that cover several sites."""
    return _sha("".join(f"{site}={head}\n" for site, head in sorted(site_heads.items())).encode())


def _scan_rows(session: Session, scan_id: int) -> list[ObservationRow]:
    return list(
        session.scalars(
            select(ObservationRow).where(ObservationRow.scan_id == scan_id).order_by(ObservationRow.id)
        )
    )


@dataclass(frozen=True, slots=True)
class Seal:
    scan_id: int
    site: str
    observations_head: str
    observation_count: int
    link: str


def seal_scan(inventory: Inventory, scan_id: int) -> Seal:
    """Chain a finished scan's observations and append the scan to its site's chain.

    Idempotent: sealing an already sealed scan returns the stored seal.
    """
    for _attempt in range(SEAL_RETRIES):
        try:
            with inventory.session() as s:
                scan = s.get(Scan, scan_id)
                if scan is None:
                    raise NotFoundError(f"scan {scan_id} does not exist")
                site_name = scan.site.name
                existing = s.scalar(select(ScanSeal).where(ScanSeal.scan_id == scan_id))
                if existing is not None:
                    return Seal(
                        scan_id,
                        site_name,
                        existing.observations_head,
                        existing.observation_count,
                        existing.link,
                    )
                if scan.status == RUNNING:
                    raise StorageError(f"scan {scan_id} is still running; seal it after finish_scan")
                link = observation_genesis(scan_id)
                rows = _scan_rows(s, scan_id)
                for row in rows:
                    content = observation_content_hash(row)
                    link = next_link(link, content)
                    s.add(
                        ObservationSeal(
                            observation_id=row.id, scan_id=scan_id, content_hash=content, link=link
                        )
                    )
                last = s.scalar(
                    select(ScanSeal)
                    .where(ScanSeal.site_id == scan.site_id)
                    .order_by(ScanSeal.seq.desc())
                    .limit(1)
                )
                prev = last.link if last is not None else site_genesis(scan.site_id)
                seal = ScanSeal(
                    scan_id=scan_id,
                    site_id=scan.site_id,
                    prev_link=prev,
                    observations_head=link,
                    observation_count=len(rows),
                    link=scan_link(prev, scan_fields_hash(scan, site_name), link),
                    sealed_at=utcnow(),
                )
                s.add(seal)
                s.flush()
                return Seal(scan_id, site_name, link, len(rows), seal.link)
        except StorageError as exc:
            # Another scan of this site took the same previous link first (PostgreSQL: unique
            # violation; SQLite WAL: the read snapshot went stale, "database is locked"): retry.
            if not isinstance(exc.__cause__, IntegrityError | OperationalError):
                raise
    raise StorageError(f"scan {scan_id}: could not seal after {SEAL_RETRIES} attempts (concurrent seals)")


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One broken link: ``kind`` is modified, deleted, inserted, unsealed or seal-broken."""

    kind: str
    site: str
    scan_id: int
    observation_id: int | None
    detail: str

    def describe(self) -> str:
        where = f"site {self.site!r}, scan {self.scan_id}"
        if self.observation_id is not None:
            where += f", observation {self.observation_id}"
        return f"{self.kind}: {where}: {self.detail}"


@dataclass(slots=True)
class ChainReport:
    site_heads: dict[str, str] = field(default_factory=dict)
    scans_checked: int = 0
    observations_checked: int = 0
    running_scans: list[int] = field(default_factory=list)
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def head(self) -> str:
        return combined_head(self.site_heads)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "head": self.head,
            "site_heads": dict(sorted(self.site_heads.items())),
            "scans_checked": self.scans_checked,
            "observations_checked": self.observations_checked,
            "running_scans": list(self.running_scans),
            "problems": [
                {
                    "kind": p.kind,
                    "site": p.site,
                    "scan_id": p.scan_id,
                    "observation_id": p.observation_id,
                    "detail": p.detail,
                }
                for p in self.problems
            ],
            "first_broken_link": self.problems[0].describe() if self.problems else None,
        }


def _check_observations(
    s: Session, seal: ScanSeal, site: str, report: ChainReport
) -> tuple[str, list[ChainProblem]]:
    problems: list[ChainProblem] = []
    rows = _scan_rows(s, seal.scan_id)
    stored = {
        o.observation_id: o
        for o in s.scalars(
            select(ObservationSeal)
            .where(ObservationSeal.scan_id == seal.scan_id)
            .order_by(ObservationSeal.observation_id)
        )
    }
    link = observation_genesis(seal.scan_id)
    seen: set[int] = set()
    for row in rows:
        report.observations_checked += 1
        content = observation_content_hash(row)
        link = next_link(link, content)
        seen.add(row.id)
        kept = stored.get(row.id)
        if kept is None:
            problems.append(
                ChainProblem(
                    "inserted", site, seal.scan_id, row.id, f"{row.probe} {row.ip}:{row.port} was not sealed"
                )
            )
        elif kept.content_hash != content:
            problems.append(
                ChainProblem(
                    "modified",
                    site,
                    seal.scan_id,
                    row.id,
                    f"{row.probe} {row.ip}:{row.port} differs from what was sealed",
                )
            )
    for oid in sorted(set(stored) - seen):
        problems.append(ChainProblem("deleted", site, seal.scan_id, oid, "sealed observation is gone"))
    if len(rows) != seal.observation_count and not problems:
        problems.append(
            ChainProblem(
                "seal-broken",
                site,
                seal.scan_id,
                None,
                f"{len(rows)} observations, the seal says {seal.observation_count}",
            )
        )
    if link != seal.observations_head and not problems:
        problems.append(
            ChainProblem(
                "seal-broken", site, seal.scan_id, None, "observation head differs from the sealed head"
            )
        )
    problems.sort(key=lambda p: p.observation_id or 0)
    return link, problems


def verify_chain(inventory: Inventory) -> ChainReport:
    """Recompute every chain from the rows; report each broken link, first one first."""
    report = ChainReport()
    with inventory.session(read=True) as s:
        sites = {site.id: site.name for site in s.scalars(select(Site).order_by(Site.id))}
        scans = {scan.id: scan for scan in s.scalars(select(Scan).order_by(Scan.id))}
        seals = list(s.scalars(select(ScanSeal).order_by(ScanSeal.seq)))
        sealed_ids = {seal.scan_id for seal in seals}
        for site_id, site_name in sites.items():
            prev = site_genesis(site_id)
            for seal in (x for x in seals if x.site_id == site_id):
                report.scans_checked += 1
                if seal.prev_link != prev:
                    report.problems.append(
                        ChainProblem(
                            "seal-broken",
                            site_name,
                            seal.scan_id,
                            None,
                            "the scan before this one in the site's chain was removed or reordered",
                        )
                    )
                scan = scans.get(seal.scan_id)
                if scan is None:
                    report.problems.append(
                        ChainProblem("deleted", site_name, seal.scan_id, None, "sealed scan record is gone")
                    )
                else:
                    _head, problems = _check_observations(s, seal, site_name, report)
                    report.problems.extend(problems)
                    fields = scan_fields_hash(scan, site_name)
                    if scan_link(seal.prev_link, fields, seal.observations_head) != seal.link:
                        report.problems.append(
                            ChainProblem(
                                "modified",
                                site_name,
                                seal.scan_id,
                                None,
                                "scan record (targets, times, status or counts) differs from what was sealed",
                            )
                        )
                prev = seal.link
            if prev != site_genesis(site_id):
                report.site_heads[site_name] = prev
            for scan in (x for x in scans.values() if x.site_id == site_id and x.id not in sealed_ids):
                if scan.status == RUNNING:
                    report.running_scans.append(scan.id)
                else:
                    report.problems.append(
                        ChainProblem(
                            "inserted",
                            site_name,
                            scan.id,
                            None,
                            f"finished scan ({scan.status}) was never sealed",
                        )
                    )
    return report
