"""The inventory's read side: devices, history, diffs, scans and the audit log as plain records.

``Inventory`` (``db.repository``) inherits these; they only read, through
``_session(read=True)`` (on SQLite a DEFERRED transaction, so reads never queue
behind a writing scan), apart from ``log_action``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.identity import covers, normalise_mac
from db.models import AuditLogEntry, Device, DeviceEvent, ObservationRow, Scan, Sighting, Site
from db.records import (
    AuditEntry,
    DeviceChange,
    DeviceDetail,
    DeviceFilter,
    DeviceRecord,
    EventRecord,
    ScanDiff,
    ScanRecord,
    SightingRecord,
    SiteRecord,
    utcnow,
)
from fingerprints.errors import ConfigError, NotFoundError
from fingerprints.evidence import Evidence, Observation, Status


class InventoryReads:
    """Read methods of :class:`db.repository.Inventory`."""

    def _session(self, read: bool = False) -> AbstractContextManager[Session]:
        raise NotImplementedError  # provided by Inventory

    def _scan(self, s: Session, scan_id: int) -> Scan:
        raise NotImplementedError  # provided by Inventory

    # -- reading ---------------------------------------------------------

    def devices(self, where: DeviceFilter | None = None, cameras_only: bool = False) -> list[DeviceRecord]:
        """Devices matching ``where`` (scalar fields filtered in SQL, list fields after)."""
        where = where or DeviceFilter(cameras_only=cameras_only)
        if cameras_only and not where.cameras_only:
            where = replace(where, cameras_only=True)
        with self._session(read=True) as s:
            q = select(Device, Site.name).join(Site).order_by(Device.ip, Device.id)
            if where.site:
                q = q.where(func.lower(Site.name) == where.site.lower())
            for col, want in (
                (Device.brand, where.brand),
                (Device.manufacturer, where.manufacturer),
                (Device.model, where.model),
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

    def resolve_device(self, ref: str, site: str | None = None) -> int:
        """A device id from an id, a MAC or an IP address (unique, else an error listing them)."""
        ref = ref.strip()
        if ref.isdigit():
            return int(ref)
        with self._session(read=True) as s:
            q = select(Device.id, Site.name).join(Site)
            try:
                q = q.where(Device.mac == normalise_mac(ref))
            except ConfigError:
                q = q.where(Device.ip == ref)
            if site:
                q = q.where(Site.name == site)
            rows = list(s.execute(q))
        if not rows:
            raise NotFoundError(f"no device with id, MAC or address {ref!r}")
        if len(rows) > 1:
            ids = ", ".join(f"{i} (site {name})" for i, name in rows)
            raise ConfigError(f"{ref!r} matches several devices: {ids}; give the id or --site")
        return int(rows[0][0])

    def get_device(self, device_id: int) -> DeviceRecord:
        with self._session(read=True) as s:
            return _device_record(*self._device_row(s, device_id))

    def _device_row(self, s: Session, device_id: int) -> tuple[Device, str]:
        row = s.execute(select(Device, Site.name).join(Site).where(Device.id == device_id)).first()
        if row is None:
            raise NotFoundError(f"device {device_id} does not exist")
        return row[0], row[1]

    def device_observations(self, device_id: int) -> list[Observation]:
        """Every stored observation of a device, oldest first (for re-identification)."""
        with self._session(read=True) as s:
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

    def device_events(self, device_id: int) -> list[EventRecord]:
        """A device's history, oldest first."""
        with self._session(read=True) as s:
            return self._events(s, device_id)

    def _events(self, s: Session, device_id: int) -> list[EventRecord]:
        rows = s.scalars(
            select(DeviceEvent).where(DeviceEvent.device_id == device_id).order_by(DeviceEvent.id)
        )
        return [
            EventRecord(e.id, e.device_id, e.scan_id, e.at, e.kind, e.summary, dict(e.detail)) for e in rows
        ]

    def events(self, kind: str | None = None, since_scan: int | None = None) -> list[EventRecord]:
        """Events of every device (optionally one kind, or those of scans after ``since_scan``)."""
        with self._session(read=True) as s:
            q = select(DeviceEvent).order_by(DeviceEvent.id)
            if kind:
                q = q.where(DeviceEvent.kind == kind)
            if since_scan is not None:
                q = q.where(DeviceEvent.scan_id > since_scan)
            return [
                EventRecord(e.id, e.device_id, e.scan_id, e.at, e.kind, e.summary, dict(e.detail))
                for e in s.scalars(q)
            ]

    def device_detail(self, device_id: int) -> DeviceDetail:
        with self._session(read=True) as s:
            device, site = self._device_row(s, device_id)
            sightings = [
                SightingRecord(
                    r.scan_id,
                    r.seen_at,
                    r.ip,
                    r.brand,
                    r.manufacturer,
                    r.model,
                    r.firmware,
                    r.category,
                    list(r.capabilities or []),
                    r.via_recorder,
                )
                for r in s.scalars(
                    select(Sighting).where(Sighting.device_id == device_id).order_by(Sighting.scan_id)
                )
            ]
            evidence = [
                {
                    "scan_id": r.scan_id,
                    "probe": r.probe,
                    "ip": r.ip,
                    "port": r.port,
                    "status": r.status,
                    "evidence": [{"key": k, "value": v, "source": src} for k, v, src in r.evidence],
                    "sha256": r.sha256,
                }
                for r in s.scalars(
                    select(ObservationRow).where(
                        ObservationRow.device_id == device_id, ObservationRow.scan_id == device.last_scan_id
                    )
                )
            ]
            ident = device.identification or {}
            return DeviceDetail(
                device=_device_record(device, site),
                explanation=list(ident.get("explanation", [])),
                supporting=list(ident.get("supporting", [])),
                contradicting=list(ident.get("contradicting", [])),
                evidence=evidence,
                sightings=sightings,
                events=self._events(s, device_id),
            )

    def diff_scans(self, a: int, b: int) -> ScanDiff:
        """Devices new in scan ``b``, gone since scan ``a`` (and covered by ``b``), and changed."""
        with self._session(read=True) as s:
            scan_a, scan_b = self._scan(s, a), self._scan(s, b)
            rows_a = {r.device_id: r for r in s.scalars(select(Sighting).where(Sighting.scan_id == a))}
            rows_b = {r.device_id: r for r in s.scalars(select(Sighting).where(Sighting.scan_id == b))}
            ids = set(rows_a) | set(rows_b)
            devices = {
                d.id: _device_record(d, site)
                for d, site in s.execute(select(Device, Site.name).join(Site).where(Device.id.in_(ids)))
            }
            new = [devices[i] for i in sorted(set(rows_b) - set(rows_a))]
            gone = [
                devices[i]
                for i in sorted(set(rows_a) - set(rows_b))
                if covers(scan_b.ranges, rows_a[i].ip) or scan_b.site_id != scan_a.site_id
            ]
            changed = []
            for i in sorted(set(rows_a) & set(rows_b)):
                ra, rb = rows_a[i], rows_b[i]
                diffs = {
                    f: [getattr(ra, f), getattr(rb, f)]
                    for f in ("ip", "brand", "manufacturer", "model", "firmware", "category", "via_recorder")
                    if getattr(ra, f) != getattr(rb, f)
                }
                for listed in ("capabilities", "policy_flags"):
                    old, new_ = sorted(getattr(ra, listed) or []), sorted(getattr(rb, listed) or [])
                    if old != new_:
                        diffs[listed] = [old, new_]
                if diffs:
                    changed.append(DeviceChange(devices[i], diffs))
            return ScanDiff(a, b, new, gone, changed)

    # -- audit log -------------------------------------------------------

    def log_action(self, action: str, actor: str = "", **detail: Any) -> int:
        """Append to the audit log (exports, annotations, logins, scheduled runs)."""
        with self._session() as s:
            entry = AuditLogEntry(at=utcnow(), actor=actor, action=action, detail=detail)
            s.add(entry)
            s.flush()
            return entry.id

    def actions(self, action: str | None = None) -> list[AuditEntry]:
        with self._session(read=True) as s:
            q = select(AuditLogEntry).order_by(AuditLogEntry.id)
            if action:
                q = q.where(AuditLogEntry.action == action)
            return [AuditEntry(e.id, e.at, e.actor, e.action, dict(e.detail)) for e in s.scalars(q)]

    def actions_for_device(self, device_id: int, limit: int | None = None) -> list[AuditEntry]:
        """The audit-log entries about one device (``log_action(..., device_id=N)``), oldest first.

        With ``limit``, only the latest ``limit`` of them.  ``device_id`` in an entry's detail
        is an integer, as every caller of ``log_action`` writes it.
        """
        with self._session(read=True) as s:
            q = (
                select(AuditLogEntry)
                .where(AuditLogEntry.detail["device_id"].as_integer() == device_id)
                .order_by(AuditLogEntry.id.desc())
            )
            if limit is not None:
                q = q.limit(limit)
            rows = list(s.scalars(q))
            return [AuditEntry(e.id, e.at, e.actor, e.action, dict(e.detail)) for e in reversed(rows)]

    def sites(self) -> list[SiteRecord]:
        """Every site, by name, with its declared networks (empty: none declared)."""
        with self._session(read=True) as s:
            return [site_record(x) for x in s.scalars(select(Site).order_by(Site.name))]

    def scans(self) -> list[ScanRecord]:
        with self._session(read=True) as s:
            q = select(Scan, Site.name).join(Site).order_by(Scan.id)
            return [_scan_record(sc, site) for sc, site in s.execute(q)]

    def previous_scan(self, site: str, before_scan_id: int) -> ScanRecord | None:
        """The latest scan of ``site`` begun before scan ``before_scan_id`` (any status), or None."""
        with self._session(read=True) as s:
            q = (
                select(Scan, Site.name)
                .join(Site)
                .where(Site.name == site, Scan.id < before_scan_id)
                .order_by(Scan.id.desc())
                .limit(1)
            )
            row = s.execute(q).first()
            return _scan_record(row[0], row[1]) if row else None

    def get_scan(self, scan_id: int) -> ScanRecord:
        with self._session(read=True) as s:
            scan = self._scan(s, scan_id)
            return _scan_record(scan, scan.site.name)


def site_record(site: Site) -> SiteRecord:
    return SiteRecord(site.name, [str(n) for n in site.networks or []], site.created_at)


def _scan_record(sc: Scan, site: str) -> ScanRecord:
    return ScanRecord(
        sc.id,
        site,
        list(sc.targets),
        sc.status,
        sc.started_at,
        sc.finished_at,
        sc.addresses_total,
        sc.addresses_done,
        sc.operator,
        sc.tool_version,
        sc.fingerprint_version,
    )


def _device_record(d: Device, site: str) -> DeviceRecord:
    return DeviceRecord(
        id=d.id,
        ip=d.ip,
        mac=d.mac,
        brand=d.brand,
        manufacturer=d.manufacturer,
        model=d.model,
        firmware=d.firmware,
        category=d.category_override or d.category,
        connectivity=d.connectivity,
        policy_flags=list(d.policy_flags or []),
        confidence=d.confidence,
        site=site,
        first_seen=d.first_seen,
        last_seen=d.last_seen,
        is_camera=d.is_camera,
        serial=d.serial,
        advisories=list(d.advisories or []),
        capabilities=list(d.capabilities or []),
        onvif_endpoint=d.onvif_endpoint,
        via_recorder=d.via_recorder,
        identity_key=d.identity_key,
        category_identified=d.category,
        declared_standalone=d.declared_standalone,
        firmware_updated=d.firmware_updated,
        location=d.location,
        owner=d.owner,
        dpia_ref=d.dpia_ref,
        procurement_ref=d.procurement_ref,
        category_override=d.category_override,
        notes=d.notes,
    )
