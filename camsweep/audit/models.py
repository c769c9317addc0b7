"""The audit's own tables: sealed chain links, kept apart from the inventory's rows.

They sit on ``db.models.Base`` so ``Inventory`` creates them with the rest
(``create_all`` is idempotent); an Alembic migration must add them to
migrated databases (see the audit section of docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base


class ScanSeal(Base):
    """One link of a site's chain of scans, written when the scan finished.

    ``seq`` orders the seals of all sites; ``prev_link`` is unique per site,
    so two scans of one site sealed at once cannot both extend the same link.
    """

    __tablename__ = "audit_scan_seals"
    __table_args__ = (UniqueConstraint("site_id", "prev_link", name="uq_audit_scan_seals_site_prev"),)
    seq: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    prev_link: Mapped[str] = mapped_column(String(64))
    observations_head: Mapped[str] = mapped_column(String(64))
    observation_count: Mapped[int]
    link: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]


class ObservationSeal(Base):
    """Each observation's content hash and chain link at seal time.

    The head alone proves *that* a scan changed; these say *which* row was
    modified, deleted or inserted.
    """

    __tablename__ = "audit_observation_seals"
    __table_args__ = (Index("ix_audit_observation_seals_scan", "scan_id"),)
    observation_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    scan_id: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    link: Mapped[str] = mapped_column(String(64))
