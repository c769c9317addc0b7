"""The worker's one table: a scan's chunks and their state.

It lives on the shared ``db.models.Base`` so ``create_all`` and the inventory's
migrations see it.  ``(scan_id, idx)`` is unique, and a chunk's switch to
``done`` is written in the same transaction as its observations: that row is
what makes a redelivered chunk a no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base

#: Chunk states.  ``pending`` → ``running`` (a worker took it; may repeat after
#: a redelivery) → ``done`` (recorded) or ``failed`` (gave up after retries).
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
TERMINAL = (DONE, FAILED)


class ScanChunk(Base):
    __tablename__ = "worker_chunks"
    __table_args__ = (UniqueConstraint("scan_id", "idx"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), index=True)
    idx: Mapped[int]
    first_ip: Mapped[str] = mapped_column(String(64))
    last_ip: Mapped[str] = mapped_column(String(64))
    addresses: Mapped[int]  # in-scope addresses of the range (exclusions subtracted)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str] = mapped_column(String(255), default="")
    hosts: Mapped[int] = mapped_column(default=0)  # responsive addresses recorded
    error: Mapped[str] = mapped_column(String(1024), default="")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
