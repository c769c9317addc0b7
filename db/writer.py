"""One batching writer per scan: many hosts per transaction, nothing committed ever lost.

A scan of thousands of addresses should not pay one transaction per host (on
SQLite every commit is an fsync of the WAL), nor hold results in memory until
the end (a killed scan would lose them all).  The writer commits every
``batch_hosts`` hosts or ``max_delay_s`` seconds, whichever comes first, and
refreshes the scan's heartbeat so other processes can tell a live scan from
one whose process died (see ``Inventory.recover_dead_scans``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from db.repository import Inventory
from fingerprints.evidence import HostReport, Identification

#: Hosts per transaction.
DEFAULT_BATCH_HOSTS = 50
#: Longest a recorded host waits in memory before it is committed.
DEFAULT_MAX_DELAY_S = 2.0
#: How often an idle scan (nothing answering) still says it is alive.
DEFAULT_HEARTBEAT_S = 30.0


class ScanWriter:
    """Buffers ``(HostReport, Identification)`` pairs of one scan and commits them in batches."""

    def __init__(
        self,
        inventory: Inventory,
        scan_id: int,
        batch_hosts: int = DEFAULT_BATCH_HOSTS,
        max_delay_s: float = DEFAULT_MAX_DELAY_S,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inventory = inventory
        self.scan_id = scan_id
        self.batch_hosts = max(1, batch_hosts)
        self.max_delay_s = max_delay_s
        self.heartbeat_s = heartbeat_s
        self._clock = clock
        self._pending: list[tuple[HostReport, Identification]] = []
        self._first_pending_at = 0.0
        self._last_write_at = clock()
        self._done: int | None = None
        self.written = 0
        self.batches = 0

    def add(self, report: HostReport, ident: Identification, done: int | None = None) -> None:
        """Queue one host; commits when the batch is full or the oldest host waited too long."""
        if not self._pending:
            self._first_pending_at = self._clock()
        self._pending.append((report, ident))
        if done is not None:
            self._done = done
        if (
            len(self._pending) >= self.batch_hosts
            or self._clock() - self._first_pending_at >= self.max_delay_s
        ):
            self.flush()

    def tick(self, done: int | None = None) -> None:
        """Call on progress: commits an overdue batch, or refreshes the heartbeat when idle."""
        if done is not None:
            self._done = done
        now = self._clock()
        if self._pending and now - self._first_pending_at >= self.max_delay_s:
            self.flush()
        elif now - self._last_write_at >= self.heartbeat_s:
            self.inventory.heartbeat(self.scan_id, self._done)
            self._last_write_at = now

    def flush(self) -> list[int]:
        """Commit everything pending in one transaction; device ids back."""
        if not self._pending:
            return []
        batch, self._pending = self._pending, []
        ids = self.inventory.record_hosts(self.scan_id, batch, done=self._done)
        assert ids is not None  # no guard, so always recorded
        self.written += len(batch)
        self.batches += 1
        self._last_write_at = self._clock()
        return ids

    def close(self) -> None:
        self.flush()
