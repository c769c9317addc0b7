"""SQLAlchemy 2 typed mappings of the inventory.

Raw *observations* (append-only, what was seen) are kept apart from *devices*
(derived state, what we concluded), so identification can be re-run when the
fingerprints improve (STYLE.md §9).  *Sightings* (one row per device per scan)
and *events* (new, gone, moved, firmware, capabilities, identification) are
append-only too: together they are a device's history.  A naming convention
for constraints keeps migrations identical on SQLite and PostgreSQL.

The schema is owned by Alembic (``db/migrations``): change a model, then add a
revision (``alembic -c db/alembic.ini revision --autogenerate``); the test
suite checks that models and migrations agree on both backends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict: JSON, list: JSON}


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    networks: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime]


class Scan(Base):
    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    targets: Mapped[list] = mapped_column(default=list)
    #: The address ranges the targets expand to, ``[[first, last], ...]``: what
    #: the scan covered, so a device that did not answer can be called missing.
    ranges: Mapped[list] = mapped_column(default=list)
    operator: Mapped[str] = mapped_column(String(128), default="")
    tool_version: Mapped[str] = mapped_column(String(64), default="")
    fingerprint_version: Mapped[str] = mapped_column(String(64), default="")
    #: running, completed, interrupted, deadline, imported
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    addresses_total: Mapped[int] = mapped_column(default=0)
    addresses_done: Mapped[int] = mapped_column(default=0)
    #: Who is writing this scan: a ``running`` scan whose process is gone (same
    #: host, pid not alive) or whose heartbeat is stale was killed, not running.
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None]
    heartbeat_at: Mapped[datetime | None]
    site: Mapped[Site] = relationship()


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "identity_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # Site lookups use the unique (site_id, identity_key) index.  The writer looks identities
    # up by their own column's index and compares the site itself (db.repository._Candidates):
    # without statistics PostgreSQL used a site index and filtered every device of the site.
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    #: mac:..., serial:maker:..., endpoint:urn:uuid:..., ip:... (weakest last).
    identity_key: Mapped[str] = mapped_column(String(255), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(17), index=True)
    # Indexed: the writer looks every host up by MAC, serial or endpoint (bench: ~75% of ingest).
    onvif_endpoint: Mapped[str | None] = mapped_column(String(255), index=True)
    brand: Mapped[str | None] = mapped_column(String(128))
    manufacturer: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    firmware: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(128), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    is_camera: Mapped[bool] = mapped_column(default=False)
    confidence: Mapped[float] = mapped_column(default=0.0)
    policy_flags: Mapped[list] = mapped_column(default=list)
    advisories: Mapped[list] = mapped_column(default=list)
    capabilities: Mapped[list] = mapped_column(default=list)
    #: The matcher's reasons: explanation, supporting and contradicting matches.
    identification: Mapped[dict] = mapped_column(default=dict)
    #: networked, recorder-attached, standalone, conflict, missing
    connectivity: Mapped[str] = mapped_column(String(24), default="networked")
    via_recorder: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    last_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"))
    #: Completed scans covering this device's address that did not see it.
    missed_scans: Mapped[int] = mapped_column(default=0)
    # What an operator declared (standalone units) ...
    declared_standalone: Mapped[bool] = mapped_column(default=False)
    declared_at: Mapped[datetime | None]
    firmware_updated: Mapped[str | None] = mapped_column(String(32))
    # ... and annotations, which no rescan overwrites.
    location: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    dpia_ref: Mapped[str | None] = mapped_column(String(128))
    procurement_ref: Mapped[str | None] = mapped_column(String(128))
    category_override: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    site: Mapped[Site] = relationship()


class ObservationRow(Base):
    """Append-only: one probe's result for one address in one scan."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_scan_ip", "scan_id", "ip"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    port: Mapped[int]
    probe: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))
    evidence: Mapped[list] = mapped_column(default=list)
    raw: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    detail: Mapped[str] = mapped_column(Text, default="")
    mac: Mapped[str | None] = mapped_column(String(17))
    via_recorder: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime]


class Sighting(Base):
    """Append-only: what one scan concluded about one device (for diffs and history)."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("scan_id", "device_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    brand: Mapped[str | None] = mapped_column(String(128))
    manufacturer: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    firmware: Mapped[str | None] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(64))
    capabilities: Mapped[list] = mapped_column(default=list)
    policy_flags: Mapped[list] = mapped_column(default=list)
    via_recorder: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime]


class DeviceEvent(Base):
    """Append-only: something that happened to a device (new, gone, moved, firmware ...)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict] = mapped_column(default=dict)


class AuditLogEntry(Base):
    """Who did what, when: exports, annotations, logins, scheduled runs (append-only)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[dict] = mapped_column(default=dict)


# -- evidence integrity (camsweep.audit.chain seals each finished scan) ------------


class ScanSeal(Base):
    """One link of a site's chain of scans, written when the scan finished.

    A killed scan is sealed only when an auditor asks (``after_interruption_*``).

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
    #: Set only when an interrupted (killed) scan was sealed after the fact by
    #: ``camsweep audit seal-interrupted``: who vouched for its rows, and why.
    #: Both are covered by ``link``, so neither can be edited or removed unnoticed.
    after_interruption_by: Mapped[str | None] = mapped_column(String(128))
    after_interruption_reason: Mapped[str | None] = mapped_column(Text)


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


# -- web dashboard accounts (camsweep.web) ------------------------------------------


class WebUser(Base):
    """A person who logs in to the dashboard.  Only an argon2 hash of the password is kept."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(default=False)


class ApiToken(Base):
    """A bearer token for scripts.  Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "web_api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class Annotation(Base):
    """An officer's note on a device (append-only; the audit log records each too)."""

    __tablename__ = "web_annotations"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


# -- distributed scans (camsweep.worker): a scan's chunks and their state ---------------


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
