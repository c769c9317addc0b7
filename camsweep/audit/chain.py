"""Tamper-evident evidence: observations hash-chained per scan, scans chained per site.

Each observation's *content hash* is recomputed from the row's own fields
(the stored ``sha256`` column is one of those fields, never trusted on its
own).  Within a scan, in id order::

    link_0 = sha256("camsweep-observation-chain-v1:" scan_id)
    link_i = sha256(link_{i-1} || content_hash_i)          head = link_n

Per site, in seal order::

    prev_0 = sha256("camsweep-site-chain-v1:" site_id)
    link_k = sha256(prev_{k-1} || scan_fields_hash_k || head_k)

``seal_scan`` stores the links when a scan finishes.  A scan killed mid-way
(``kill -9``, power loss) never finishes, so it stays unsealed until an
auditor seals it with ``seal_interrupted_scan``: that seal also covers who
sealed it, why and when, so the scan is reported as sealed after interruption
and that statement cannot be edited away.  ``verify_chain``
recomputes everything from the rows and names the first broken link (which
scan, which observation, and whether a row was modified, deleted or
inserted).  Anyone who can rewrite both the rows *and* the seals can forge a
consistent chain, which is why every report states the chain head it was
computed from: a head quoted in an earlier report pins the evidence behind it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from camsweep.audit.models import ObservationSeal, ScanSeal
from db.models import AuditLogEntry, ObservationRow, Scan, Site
from db.repository import Inventory, utcnow
from fingerprints.errors import ConfigError, NotFoundError, StorageError

#: How often ``seal_scan`` retries when another scan of the same site sealed first.
SEAL_RETRIES = 16  # each retry means another seal of the site committed, so this converges
#: Scan statuses that mean "finished" (everything else is still running).
RUNNING = "running"
#: The status ``Inventory.recover_dead_scans`` gives a scan whose process died.
INTERRUPTED = "interrupted"


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def _ts(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def observation_content_hash(row: ObservationRow | Row[Any]) -> str:
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


@dataclass(frozen=True, slots=True)
class AfterInterruption:
    """An interrupted scan sealed after the fact: by whom, why, when (part of the sealed link)."""

    scan_id: int
    site: str
    by: str
    reason: str
    sealed_at: datetime

    def describe(self) -> str:
        return (
            f"scan {self.scan_id} (site {self.site!r}): interrupted, sealed after interruption by "
            f"{self.by} at {self.sealed_at:%Y-%m-%d %H:%M:%S}Z because: {self.reason}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan_id,
            "site": self.site,
            "by": self.by,
            "reason": self.reason,
            "sealed_at": _ts(self.sealed_at),
        }


def scan_fields_hash(scan: Scan, site_name: str, after: AfterInterruption | None = None) -> str:
    doc: dict[str, Any] = {
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
    if after is not None:
        # Only late seals carry this key, so every seal written before it existed still verifies.
        doc["sealed_after_interruption"] = {
            "by": after.by,
            "reason": after.reason,
            "at": _ts(after.sealed_at),
        }
    return _sha(_canonical(doc))


def after_interruption(seal: ScanSeal, site_name: str) -> AfterInterruption | None:
    """The late-seal statement stored with ``seal``, if it has one."""
    if seal.after_interruption_by is None and seal.after_interruption_reason is None:
        return None
    return AfterInterruption(
        seal.scan_id,
        site_name,
        seal.after_interruption_by or "",
        seal.after_interruption_reason or "",
        seal.sealed_at,
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


def _scan_rows(session: Session, scan_id: int) -> Sequence[Row[Any]]:
    """A scan's observation rows in id order, as plain rows: the ORM's per-object
    bookkeeping cost more than the hashing when a scan holds tens of thousands."""
    columns = ObservationRow.__table__.columns
    return session.execute(
        select(*columns).where(ObservationRow.scan_id == scan_id).order_by(ObservationRow.id)
    ).all()


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
    return _seal(inventory, scan_id, None)


def seal_interrupted_scan(inventory: Inventory, scan_id: int, actor: str, reason: str) -> Seal:
    """Seal what an interrupted (killed) scan committed, as ``actor`` vouching for it because ``reason``.

    The seal records that it was made after the interruption, by whom, why and
    when; the same statement goes to the audit log in the same transaction.
    Refused (``ConfigError``) for a scan that is running, finished any other
    way (it was sealed when it finished) or already sealed.
    """
    actor, reason = actor.strip(), reason.strip()
    if not actor:
        raise ConfigError("say who seals the scan (--actor NAME)")
    if not reason:
        raise ConfigError("say why the interrupted scan's rows can be vouched for (--reason TEXT)")
    return _seal(inventory, scan_id, (actor, reason))


def _seal(inventory: Inventory, scan_id: int, late: tuple[str, str] | None) -> Seal:
    for _attempt in range(SEAL_RETRIES):
        try:
            with inventory.session() as s:
                scan = s.get(Scan, scan_id)
                if scan is None:
                    raise NotFoundError(f"scan {scan_id} does not exist")
                site_name = scan.site.name
                if late is not None and scan.status == RUNNING:
                    raise ConfigError(
                        f"scan {scan_id} is still running (pid {scan.pid} on {scan.host or '?'}); only a "
                        "scan whose process died (status interrupted) can be sealed after the fact"
                    )
                if late is not None and scan.status != INTERRUPTED:
                    raise ConfigError(
                        f"scan {scan_id} is {scan.status}, not interrupted; only a killed scan is "
                        "sealed after the fact (every other scan is sealed when it finishes)"
                    )
                existing = s.scalar(select(ScanSeal).where(ScanSeal.scan_id == scan_id))
                if existing is not None:
                    if late is not None:
                        raise ConfigError(_already_sealed(existing, site_name))
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
                seals = []
                for row in rows:
                    content = observation_content_hash(row)
                    link = next_link(link, content)
                    seals.append(
                        {"observation_id": row.id, "scan_id": scan_id, "content_hash": content, "link": link}
                    )
                if seals:
                    s.execute(insert(ObservationSeal), seals)  # one executemany
                last = s.scalar(
                    select(ScanSeal)
                    .where(ScanSeal.site_id == scan.site_id)
                    .order_by(ScanSeal.seq.desc())
                    .limit(1)
                )
                prev = last.link if last is not None else site_genesis(scan.site_id)
                now = utcnow()
                after = AfterInterruption(scan_id, site_name, *late, now) if late else None
                seal = ScanSeal(
                    scan_id=scan_id,
                    site_id=scan.site_id,
                    prev_link=prev,
                    observations_head=link,
                    observation_count=len(rows),
                    link=scan_link(prev, scan_fields_hash(scan, site_name, after), link),
                    sealed_at=now,
                    after_interruption_by=after.by if after else None,
                    after_interruption_reason=after.reason if after else None,
                )
                s.add(seal)
                if after is not None:
                    s.add(
                        AuditLogEntry(
                            at=now,
                            actor=after.by,
                            action="audit.seal-interrupted",
                            detail={
                                "scan_id": scan_id,
                                "site": site_name,
                                "reason": after.reason,
                                "observations": len(rows),
                                "link": seal.link,
                            },
                        )
                    )
                s.flush()
                return Seal(scan_id, site_name, link, len(rows), seal.link)
        except StorageError as exc:
            # Another scan of this site took the same previous link first (PostgreSQL: unique
            # violation; SQLite WAL: the read snapshot went stale, "database is locked"): retry.
            if not isinstance(exc.__cause__, IntegrityError | OperationalError):
                raise
    raise StorageError(f"scan {scan_id}: could not seal after {SEAL_RETRIES} attempts (concurrent seals)")


def _already_sealed(seal: ScanSeal, site_name: str) -> str:
    after = after_interruption(seal, site_name)
    if after is not None:
        return f"scan {seal.scan_id} is already sealed: {after.describe()}"
    return f"scan {seal.scan_id} is already sealed (sealed when it finished, at {seal.sealed_at:%Y-%m-%d %H:%M:%S}Z)"


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
    #: Interrupted scans an auditor sealed after the fact (they verify, but are not ordinary).
    sealed_after_interruption: list[AfterInterruption] = field(default_factory=list)
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
            "sealed_after_interruption": [a.as_dict() for a in self.sealed_after_interruption],
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
                    after = after_interruption(seal, site_name)
                    if after is not None:
                        report.sealed_after_interruption.append(after)
                    fields = scan_fields_hash(scan, site_name, after)
                    if scan_link(seal.prev_link, fields, seal.observations_head) != seal.link:
                        report.problems.append(
                            ChainProblem(
                                "modified",
                                site_name,
                                seal.scan_id,
                                None,
                                "scan record (targets, times, status or counts) or its seal "
                                "(who sealed it after interruption, why, when) differs from what was sealed",
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
                            f"finished scan ({scan.status}) was never sealed"
                            + (
                                " (its process died; an auditor may seal what it committed with "
                                f"`camsweep audit seal-interrupted {scan.id} --reason ...`)"
                                if scan.status == INTERRUPTED
                                else ""
                            ),
                        )
                    )
    return report
