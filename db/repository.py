"""The inventory's repository: callers get plain objects, never sessions.

The URL picks the backend: ``sqlite:///path`` (default; WAL, one writer) or
``postgresql+psycopg://...``.  SQLAlchemy errors are translated to
:class:`StorageError` at this boundary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.models import AuditLogEntry, Base, Device, ObservationRow, Scan, Site
from fingerprints.errors import NotFoundError, StorageError
from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status

DEFAULT_SITE = "default"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device of the inventory, as exports and front ends see it."""

    id: int
    ip: str | None
    mac: str | None
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    category: str | None
    connectivity: str
    policy_flags: list[str]
    confidence: float
    site: str
    first_seen: datetime | None
    last_seen: datetime | None
    is_camera: bool = False
    serial: str | None = None
    advisories: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Filters shared by `devices`, every export format, the web UI and the API.

    Scalar fields compare case-insensitively for equality; ``firmware`` is a
    substring; list fields (``policy_flag``, ``advisory``) match one element.
    """

    site: str | None = None
    brand: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    category: str | None = None
    connectivity: str | None = None
    firmware: str | None = None
    policy_flag: str | None = None
    advisory: str | None = None
    seen_since: datetime | None = None
    cameras_only: bool = False

    def matches(self, d: DeviceRecord) -> bool:
        def eq(want: str | None, have: str | None) -> bool:
            return want is None or (have or "").casefold() == want.casefold()

        return (
            eq(self.site, d.site)
            and eq(self.brand, d.brand)
            and eq(self.manufacturer, d.manufacturer)
            and eq(self.model, d.model)
            and eq(self.category, d.category)
            and eq(self.connectivity, d.connectivity)
            and (self.firmware is None or self.firmware.casefold() in (d.firmware or "").casefold())
            and (
                self.policy_flag is None
                or any(f.casefold() == self.policy_flag.casefold() for f in d.policy_flags)
            )
            and (self.advisory is None or any(a.casefold() == self.advisory.casefold() for a in d.advisories))
            and (self.seen_since is None or (d.last_seen is not None and d.last_seen >= self.seen_since))
            and (not self.cameras_only or d.is_camera)
        )

    def describe(self) -> dict[str, str]:
        """The filter's set fields, for audit records."""
        return {k: str(v) for k, v in asdict(self).items() if v not in (None, False)}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScanRecord:
    id: int
    site: str
    targets: list[str]
    status: str
    started_at: datetime
    finished_at: datetime | None
    addresses_total: int
    addresses_done: int


def identity_key(report: HostReport, ident: Identification) -> str:
    """MAC, else manufacturer + serial, else ONVIF endpoint UUID, else IP (per site)."""
    if report.mac:
        return f"mac:{report.mac.lower()}"
    if ident.manufacturer and ident.serial:
        return f"serial:{ident.manufacturer.lower()}:{ident.serial}"
    for ev in report.evidence:
        if ev.key in ("onvif.endpoint", "wsd.endpoint"):
            return f"endpoint:{ev.value.lower()}"
    return f"ip:{report.ip}"


def _observation_hash(row: dict[str, Any]) -> str:
    blob = json.dumps(row, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class Inventory:
    """The asset inventory behind one database URL."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise StorageError(f"cannot open inventory {url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open inventory {self.safe_url}: {exc}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"inventory {self.safe_url}: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- sites and scans -------------------------------------------------

    def _site(self, session: Session, name: str) -> Site:
        site = session.scalar(select(Site).where(Site.name == name))
        if site is None:
            site = Site(name=name, networks=[], created_at=utcnow())
            session.add(site)
            session.flush()
        return site

    def begin_scan(
        self,
        targets: Sequence[str],
        site: str = DEFAULT_SITE,
        operator: str = "",
        total: int = 0,
        tool_version: str = "",
        fingerprint_version: str = "",
    ) -> int:
        with self._session() as s:
            scan = Scan(
                site=self._site(s, site),
                targets=list(targets),
                operator=operator,
                status="running",
                started_at=utcnow(),
                addresses_total=total,
                tool_version=tool_version,
                fingerprint_version=fingerprint_version,
            )
            s.add(scan)
            s.flush()
            return scan.id

    def finish_scan(self, scan_id: int, status: str = "completed", done: int | None = None) -> None:
        with self._session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise NotFoundError(f"scan {scan_id} does not exist")
            scan.status = status
            scan.finished_at = utcnow()
            if done is not None:
                scan.addresses_done = done

    # -- recording -------------------------------------------------------

    def record_host(self, scan_id: int, report: HostReport, ident: Identification) -> int:
        """Store a host's observations and update (or create) its device."""
        now = utcnow()
        with self._session() as s:
            scan = s.get(Scan, scan_id)
            if scan is None:
                raise NotFoundError(f"scan {scan_id} does not exist")
            key = identity_key(report, ident)
            device = s.scalar(
                select(Device).where(Device.site_id == scan.site_id, Device.identity_key == key)
            )
            if device is None:
                device = Device(site_id=scan.site_id, identity_key=key, first_seen=now)
                s.add(device)
            device.ip = report.ip
            device.mac = report.mac or device.mac
            device.brand = ident.brand
            device.manufacturer = ident.manufacturer
            device.model = ident.model
            device.firmware = ident.firmware
            device.serial = ident.serial
            device.category = ident.category
            device.is_camera = ident.is_camera
            device.confidence = ident.confidence
            device.policy_flags = list(ident.policy_flags)
            device.advisories = list(ident.advisories)
            device.identification = {"explanation": list(ident.explanation)}
            device.connectivity = "networked"
            device.last_seen = now
            device.last_scan_id = scan_id
            s.flush()
            for obs in report.observations:
                row = {
                    "scan_id": scan_id,
                    "ip": obs.ip,
                    "port": obs.port,
                    "probe": obs.probe,
                    "status": obs.status.value,
                    "evidence": [[e.key, e.value, e.source] for e in obs.evidence],
                    "raw": obs.raw.hex(),
                    "detail": obs.detail,
                }
                s.add(
                    ObservationRow(
                        scan_id=scan_id,
                        device_id=device.id,
                        ip=obs.ip,
                        port=obs.port,
                        probe=obs.probe,
                        status=obs.status.value,
                        evidence=row["evidence"],
                        raw=obs.raw,
                        detail=obs.detail,
                        sha256=_observation_hash(row),
                        observed_at=now,
                    )
                )
            return device.id

    # -- reading ---------------------------------------------------------

    def devices(self, where: DeviceFilter | None = None, cameras_only: bool = False) -> list[DeviceRecord]:
        """Devices matching ``where`` (scalar fields filtered in SQL, list fields after)."""
        where = where or DeviceFilter(cameras_only=cameras_only)
        if cameras_only and not where.cameras_only:
            where = replace(where, cameras_only=True)
        with self._session() as s:
            q = select(Device, Site.name).join(Site).order_by(Device.ip, Device.id)
            if where.site:
                q = q.where(func.lower(Site.name) == where.site.lower())
            for col, want in (
                (Device.brand, where.brand),
                (Device.manufacturer, where.manufacturer),
                (Device.model, where.model),
                (Device.category, where.category),
                (Device.connectivity, where.connectivity),
            ):
                if want is not None:
                    q = q.where(func.lower(col) == want.lower())
            if where.cameras_only:
                q = q.where(Device.is_camera.is_(True))
            if where.seen_since is not None:
                q = q.where(Device.last_seen >= where.seen_since)
            records = (_device_record(d, site) for d, site in s.execute(q))
            return [r for r in records if where.matches(r)]

    def get_device(self, device_id: int) -> DeviceRecord:
        with self._session() as s:
            row = s.execute(select(Device, Site.name).join(Site).where(Device.id == device_id)).first()
            if row is None:
                raise NotFoundError(f"device {device_id} does not exist")
            return _device_record(row[0], row[1])

    def device_observations(self, device_id: int) -> list[Observation]:
        """Every stored observation of a device, oldest first (for re-identification)."""
        with self._session() as s:
            rows = s.scalars(
                select(ObservationRow)
                .where(ObservationRow.device_id == device_id)
                .order_by(ObservationRow.id)
            )
            return [
                Observation(
                    probe=r.probe,
                    ip=r.ip,
                    port=r.port,
                    status=Status(r.status),
                    evidence=[Evidence(k, v, src) for k, v, src in r.evidence],
                    raw=r.raw,
                    detail=r.detail,
                )
                for r in rows
            ]

    # -- audit log -------------------------------------------------------

    def log_action(self, action: str, actor: str = "", **detail: Any) -> int:
        """Append to the audit log (exports, annotations, logins, scheduled runs)."""
        with self._session() as s:
            entry = AuditLogEntry(at=utcnow(), actor=actor, action=action, detail=detail)
            s.add(entry)
            s.flush()
            return entry.id

    def actions(self, action: str | None = None) -> list[AuditEntry]:
        with self._session() as s:
            q = select(AuditLogEntry).order_by(AuditLogEntry.id)
            if action:
                q = q.where(AuditLogEntry.action == action)
            return [AuditEntry(e.id, e.at, e.actor, e.action, dict(e.detail)) for e in s.scalars(q)]

    def scans(self) -> list[ScanRecord]:
        with self._session() as s:
            q = select(Scan, Site.name).join(Site).order_by(Scan.id)
            return [
                ScanRecord(
                    sc.id,
                    site,
                    list(sc.targets),
                    sc.status,
                    sc.started_at,
                    sc.finished_at,
                    sc.addresses_total,
                    sc.addresses_done,
                )
                for sc, site in s.execute(q)
            ]


def _device_record(d: Device, site: str) -> DeviceRecord:
    return DeviceRecord(
        id=d.id,
        ip=d.ip,
        mac=d.mac,
        brand=d.brand,
        manufacturer=d.manufacturer,
        model=d.model,
        firmware=d.firmware,
        category=d.category,
        connectivity=d.connectivity,
        policy_flags=list(d.policy_flags or []),
        confidence=d.confidence,
        site=site,
        first_seen=d.first_seen,
        last_seen=d.last_seen,
        is_camera=d.is_camera,
        serial=d.serial,
        advisories=list(d.advisories or []),
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
