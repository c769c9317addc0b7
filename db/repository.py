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
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.models import Base, Device, ObservationRow, Scan, Site
from fingerprints.errors import NotFoundError, StorageError
from fingerprints.evidence import HostReport, Identification

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

    def devices(self, cameras_only: bool = False) -> list[DeviceRecord]:
        with self._session() as s:
            q = select(Device, Site.name).join(Site).order_by(Device.ip, Device.id)
            if cameras_only:
                q = q.where(Device.is_camera.is_(True))
            return [_device_record(d, site) for d, site in s.execute(q)]

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
