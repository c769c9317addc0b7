"""Chunk bookkeeping, and recording a chunk in exactly one transaction.

"Nothing recorded twice" rests on one rule: a chunk's observations and the
switch of its row to ``done`` commit together, and the switch is a guarded
``UPDATE ... WHERE status <> 'done'``.  On PostgreSQL a second delivery of the
same chunk blocks on that row lock until the first commits, then matches no
row and rolls back everything it would have written.  A worker that dies
mid-chunk never committed anything for it, so its redelivery starts clean.

These functions work over ``Inventory.engine`` with their own sessions; the
host-recording helper mirrors ``Inventory.record_host`` but inside the
caller's transaction (to move into ``db/`` as a batch writer).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from camsweep.audit.chain import seal_scan
from camsweep.worker.chunks import Chunk
from camsweep.worker.models import DONE, FAILED, PENDING, RUNNING, TERMINAL, ScanChunk
from db.models import Scan
from db.repository import Inventory, utcnow
from fingerprints.errors import NotFoundError
from fingerprints.evidence import HostReport, Identification

#: Deliveries of one chunk before it is given up as one that kills its worker.
MAX_CHUNK_ATTEMPTS = 5

#: Longest error text kept on a failed chunk (the column's size).
MAX_ERROR_CHARS = 1024


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    scan_id: int
    idx: int
    first_ip: str
    last_ip: str
    addresses: int
    status: str
    attempts: int
    worker: str
    hosts: int
    error: str


class ChunkStore:
    """A scan's chunks in the central inventory."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def create(self, scan_id: int, chunks: Iterable[Chunk]) -> int:
        """Add the planned chunks of a scan (all ``pending``); return how many."""
        n = 0
        with self.inventory.session() as s:
            for c in chunks:
                s.add(
                    ScanChunk(
                        scan_id=scan_id,
                        idx=c.idx,
                        first_ip=str(c.first),
                        last_ip=str(c.last),
                        addresses=c.addresses,
                        status=PENDING,
                    )
                )
                n += 1
        return n

    def start(self, scan_id: int, idx: int, worker: str) -> bool:
        """Mark a chunk taken by ``worker``; False if it must not run (already done, or given up).

        A chunk that has already been delivered ``MAX_CHUNK_ATTEMPTS`` times is
        a chunk that kills its worker (each death redelivers it): it is marked
        failed instead of taking down every worker of the site in turn.
        """
        where = (ScanChunk.scan_id == scan_id, ScanChunk.idx == idx)
        with self.inventory.session() as s:
            result: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(ScanChunk)
                .where(*where, ScanChunk.status.not_in(TERMINAL), ScanChunk.attempts < MAX_CHUNK_ATTEMPTS)
                .values(
                    status=RUNNING,
                    attempts=ScanChunk.attempts + 1,
                    worker=worker[:255],
                    started_at=utcnow(),
                )
            )
            if result.rowcount:
                # The scan lives as long as its workers do: each chunk taken is a heartbeat.
                s.execute(update(Scan).where(Scan.id == scan_id).values(heartbeat_at=utcnow()))
                return True
            chunk = s.scalar(select(ScanChunk).where(*where))
            if chunk is None:
                raise NotFoundError(f"scan {scan_id} has no chunk {idx}")
            if chunk.status not in TERMINAL:
                chunk.status = FAILED
                chunk.error = f"gave up after {chunk.attempts} deliveries: the worker died each time"
                chunk.finished_at = utcnow()
            return False

    def record(
        self, scan_id: int, idx: int, results: Sequence[tuple[HostReport, Identification]], addresses: int
    ) -> bool:
        """Record a chunk's hosts and mark it done, atomically; False if it was already done."""
        now = utcnow()

        def mark_done(s: Session) -> bool:
            # The guarded switch first: it takes the row lock that serialises deliveries.
            result: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(ScanChunk)
                .where(ScanChunk.scan_id == scan_id, ScanChunk.idx == idx, ScanChunk.status != DONE)
                .values(status=DONE, hosts=len(results), finished_at=now, error="")
            )
            if not result.rowcount:
                return False
            s.execute(
                update(Scan).where(Scan.id == scan_id).values(addresses_done=Scan.addresses_done + addresses)
            )
            return True

        # The inventory's own recording path (identity, sightings, events,
        # connectivity), in the same transaction as the chunk's switch to done.
        return self.inventory.record_hosts(scan_id, results, guard=mark_done) is not None

    def fail(self, scan_id: int, idx: int, error: str) -> None:
        """Give up on a chunk (after its retries); the scan will finish as ``partial``."""
        with self.inventory.session() as s:
            s.execute(
                update(ScanChunk)
                .where(ScanChunk.scan_id == scan_id, ScanChunk.idx == idx, ScanChunk.status != DONE)
                .values(status=FAILED, error=error[:MAX_ERROR_CHARS], finished_at=utcnow())
            )

    def finish_if_complete(self, scan_id: int) -> str | None:
        """Close the scan once every chunk is done or failed; the status, if this call closed it.

        Called after each chunk commits, so the last one to commit always sees
        every other; the ``status = 'running'`` guard makes closing happen once.
        """
        with self.inventory.session() as s:
            states = dict(
                s.execute(
                    select(ScanChunk.status, func.count())
                    .where(ScanChunk.scan_id == scan_id)
                    .group_by(ScanChunk.status)
                ).all()
            )
            if any(state not in TERMINAL for state in states):
                return None
            final = "partial" if states.get(FAILED) else "completed"
            # A chunk given up on may still be recorded by a delivery that was slow,
            # not dead: that upgrades a partial scan to completed.
            closable = ("running", "partial") if final == "completed" else ("running",)
            result: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(Scan)
                .where(Scan.id == scan_id, Scan.status.in_(closable))
                .values(status=final, finished_at=utcnow())
            )
            if not result.rowcount:
                return None
        # Closed here, once: the inventory's own close (a completed scan ages the
        # devices it should have seen into ``missing``), then the evidence seal.
        self.inventory.finish_scan(scan_id, final)
        seal_scan(self.inventory, scan_id)
        return final

    def chunks(self, scan_id: int) -> list[ChunkRecord]:
        with self.inventory.session() as s:
            rows = s.scalars(select(ScanChunk).where(ScanChunk.scan_id == scan_id).order_by(ScanChunk.idx))
            return [
                ChunkRecord(
                    r.scan_id,
                    r.idx,
                    r.first_ip,
                    r.last_ip,
                    r.addresses,
                    r.status,
                    r.attempts,
                    r.worker,
                    r.hosts,
                    r.error,
                )
                for r in rows
            ]
