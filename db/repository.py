"""The inventory's repository: callers get plain objects, never sessions.

The URL picks the backend: ``sqlite:///path`` (default; WAL, one writer, many
readers, busy timeout) or ``postgresql+psycopg://...``.  Opening an inventory
upgrades its schema to the newest Alembic revision and marks scans left
``running`` by a dead process as ``interrupted``.  SQLAlchemy errors are
translated to :class:`StorageError` at this boundary.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.history import DeviceState, changes
from db.identity import (
    Identity,
    capabilities_of,
    covers,
    identity_key,
    identity_of,
    target_ranges,
)
from db.models import AuditLogEntry, Device, DeviceEvent, ObservationRow, Scan, Sighting, Site
from db.reads import InventoryReads, site_record
from db.records import (
    ANNOTATION_FIELDS,
    AuditEntry,
    DeviceFilter,
    DeviceRecord,
    ReidentifyChange,
    ScanRecord,
    SiteRecord,
    StandaloneUnit,
    utcnow,
)
from fingerprints.errors import ConfigError, ImportFileError, NotFoundError, StorageError
from fingerprints.evidence import Evidence, HostReport, Identification, Observation

__all__ = [
    "DEFAULT_SITE",
    "AuditEntry",
    "DeviceFilter",
    "DeviceRecord",
    "Inventory",
    "ScanRecord",
    "identity_key",
]

DEFAULT_SITE = "default"

#: A networked device not seen by this many completed scans covering its
#: address becomes ``missing`` (override: ``Inventory(missing_after=)`` or
#: ``$CAMSWEEP_MISSING_AFTER``).
DEFAULT_MISSING_AFTER = 2

#: A ``running`` scan written from another host whose heartbeat is older than
#: this is taken as dead (on this host the writer's pid is checked instead).
STALE_SCAN_AFTER = timedelta(minutes=15)

#: Devices this process creates before it first refreshes PostgreSQL's statistics.
ANALYZE_FIRST_AT = 1000

#: Tries of one batch when a concurrent scan wins a race for the same new device.
RECORD_ATTEMPTS = 3

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The newest Alembic revision under ``migrations/versions`` (a test checks they agree).
#: Kept here so that opening an up-to-date inventory does not import Alembic at all.
SCHEMA_HEAD = "0008"


def _observation_hash(row: dict[str, Any]) -> str:
    blob = json.dumps(row, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _observation_row(
    scan_id: int, device_id: int, obs: Observation, mac: str | None, via: str | None, now: datetime
) -> dict[str, Any]:
    """One ``observations`` row; ``sha256`` covers everything the probe reported."""
    evidence = [[e.key, e.value, e.source] for e in obs.evidence]
    hashed = {
        "scan_id": scan_id,
        "ip": obs.ip,
        "port": obs.port,
        "probe": obs.probe,
        "status": obs.status.value,
        "evidence": evidence,
        "raw": obs.raw.hex(),
        "detail": obs.detail,
        "mac": mac,
        "via_recorder": via,
    }
    return {
        **hashed,
        "raw": obs.raw,
        "device_id": device_id,
        "sha256": _observation_hash(hashed),
        "observed_at": now,
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def alembic_config(connection: Any | None = None) -> Any:
    """An Alembic ``Config`` for the inventory's migrations (optionally on an open connection)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _missing_after_default() -> int:
    text = os.environ.get("CAMSWEEP_MISSING_AFTER", "")
    try:
        return max(1, int(text)) if text else DEFAULT_MISSING_AFTER
    except ValueError as exc:
        raise ConfigError(f"CAMSWEEP_MISSING_AFTER={text!r} is not a whole number") from exc


class Inventory(InventoryReads):
    """The asset inventory behind one database URL (reads: :class:`db.reads.InventoryReads`)."""

    def __init__(self, url: str, missing_after: int | None = None) -> None:
        self.missing_after = missing_after or _missing_after_default()
        self._devices_created = 0
        self._analyze_at = ANALYZE_FIRST_AT
        try:
            self.engine: Engine = create_engine(url)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise StorageError(f"cannot open inventory {url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling defers BEGIN and breaks DDL in
            # transactions; emit BEGIN ourselves (SQLAlchemy docs, "Serializable
            # isolation / Savepoints / Transactional DDL" for pysqlite).
            event.listen(self.engine, "begin", _sqlite_begin)
        # Reads begin DEFERRED on SQLite (many readers alongside the one writer);
        # writes begin IMMEDIATE, so two writers queue on the busy timeout instead
        # of failing with SQLITE_BUSY when a read lock cannot be upgraded.
        self._read_engine = self.engine.execution_options(camsweep_readonly=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        try:
            self._upgrade()
            self.recover_dead_scans()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise StorageError(f"cannot open inventory {self.safe_url}: {exc}") from exc

    def _upgrade(self) -> None:
        """``alembic upgrade head`` unless the database is already there."""
        with self._read_engine.connect() as conn:
            current = _schema_revision(conn)
            if current == SCHEMA_HEAD:
                return
            if current is None and inspect(conn).has_table("devices"):
                raise StorageError(
                    f"inventory {self.safe_url} was created by a camsweep without migrations; "
                    "export it with that version and import it into a new database"
                )
        from alembic import command

        with self.engine.begin() as conn:
            # Two processes opening a new database at once: the second waits for the
            # first (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), then finds
            # the schema at head.
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242061)")
            if _schema_revision(conn) != SCHEMA_HEAD:
                command.upgrade(alembic_config(conn), "head")

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, read: bool = False) -> Iterator[Session]:
        """One transaction on the inventory: committed on leaving, rolled back on any error.

        For the inventory's companions that keep their own tables in its schema (web
        accounts, worker chunks, audit seals); everyone else gets plain records from the
        methods here.  ``read=True`` begins DEFERRED on SQLite, so it never queues behind
        a writing scan.  Database errors leave as ``StorageError``.
        """
        session = self._read_sessions() if read else self._sessions()
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

    #: The repository's own name for :meth:`session`.
    _session = session

    # -- sites and scans -------------------------------------------------

    def _site(self, session: Session, name: str) -> Site:
        site = session.scalar(select(Site).where(Site.name == name))
        if site is None:
            try:
                # A savepoint: a concurrent scan may create the same site first (PostgreSQL).
                with session.begin_nested():
                    site = Site(name=name, networks=[], created_at=utcnow())
                    session.add(site)
            except IntegrityError:
                site = session.scalar(select(Site).where(Site.name == name))
                if site is None:
                    raise
        return site

    def set_site(
        self, name: str, networks: Sequence[str], actor: str = "", allow_public: bool = False
    ) -> SiteRecord:
        """Create site ``name`` or replace its declared networks; recorded in the audit log.

        A scan of a site with networks may cover nothing outside them.  Each network
        is normalised (``10.1.2.3/24`` -> ``10.1.2.0/24``); public space is refused
        unless ``allow_public``, as the scanner's scope refuses it without ``--allow-public``.
        """
        name = name.strip()
        if not name or len(name) > MAX_SITE_NAME_LEN:
            raise ConfigError(f"a site name is 1-{MAX_SITE_NAME_LEN} characters")
        nets = [_site_network(text, allow_public) for text in networks]
        if not nets:
            raise ConfigError(f"site {name!r}: give at least one network (e.g. 10.20.0.0/24)")
        clean = list(dict.fromkeys(nets))  # drop repeats, keep the operator's order
        with self._session() as s:
            site = self._site(s, name)
            site.networks = clean
            # The change and its audit entry commit together, or neither does.
            s.add(
                AuditLogEntry(
                    at=utcnow(),
                    actor=actor,
                    action="site.configure",
                    detail={"site": name, "networks": clean},
                )
            )
            s.flush()
            return site_record(site)

    def begin_scan(
        self,
        targets: Sequence[str],
        site: str = DEFAULT_SITE,
        operator: str = "",
        total: int = 0,
        tool_version: str = "",
        fingerprint_version: str = "",
        ranges: Sequence[Sequence[str]] | None = None,
        distributed: bool = False,
    ) -> int:
        """Start a scan; ``ranges`` (``[[first, last], ...]``) default to the targets' own.

        A ``distributed`` scan is written by many workers, not by this process:
        it is judged dead by its heartbeat alone, never by this process's pid.
        """
        with self._session() as s:
            scan = self._new_scan(
                s, targets, site, operator, total, tool_version, fingerprint_version, ranges
            )
            if distributed:
                scan.host, scan.pid = "", None
            return scan.id

    def _new_scan(
        self,
        s: Session,
        targets: Sequence[str],
        site: str,
        operator: str,
        total: int,
        tool_version: str,
        fingerprint_version: str,
        ranges: Sequence[Sequence[str]] | None,
        started_at: datetime | None = None,
    ) -> Scan:
        now = utcnow()
        scan = Scan(
            site=self._site(s, site),
            targets=list(targets),
            ranges=[list(r) for r in ranges] if ranges is not None else target_ranges(targets),
            operator=operator,
            status="running",
            started_at=started_at or now,
            addresses_total=total,
            tool_version=tool_version,
            fingerprint_version=fingerprint_version,
            host=socket.gethostname(),
            pid=os.getpid(),
            heartbeat_at=now,
        )
        s.add(scan)
        s.flush()
        return scan

    def heartbeat(self, scan_id: int, done: int | None = None) -> None:
        """Say this scan's writer is alive (and how far it got)."""
        with self._session() as s:
            scan = self._scan(s, scan_id)
            scan.heartbeat_at = utcnow()
            if done is not None:
                scan.addresses_done = done

    def finish_scan(self, scan_id: int, status: str = "completed", done: int | None = None) -> None:
        """Close a scan.  A ``completed`` scan also ages the devices it should have seen."""
        with self._session() as s:
            scan = self._scan(s, scan_id)
            scan.status = status
            scan.finished_at = utcnow()
            scan.heartbeat_at = scan.finished_at
            if done is not None:
                scan.addresses_done = done
            if status == "completed":
                self._age_unseen(s, scan)

    def _age_unseen(self, s: Session, scan: Scan) -> None:
        seen = set(s.scalars(select(Sighting.device_id).where(Sighting.scan_id == scan.id)))
        candidates = s.scalars(
            select(Device).where(Device.site_id == scan.site_id, Device.connectivity == "networked")
        )
        for device in candidates:
            if device.id in seen or not covers(scan.ranges, device.ip):
                continue
            device.missed_scans += 1
            if device.missed_scans >= self.missing_after:
                device.connectivity = "missing"
                self._event(
                    s,
                    device,
                    scan.id,
                    "gone",
                    f"not answering at {device.ip} in {device.missed_scans} scan(s) of site "
                    f"{scan.site.name}; last seen {device.last_seen:%Y-%m-%d %H:%M}Z",
                    {"ip": device.ip, "missed_scans": device.missed_scans},
                )

    def recover_dead_scans(self) -> list[int]:
        """Mark ``running`` scans whose writer is gone (killed, crashed) as ``interrupted``."""
        here = socket.gethostname()
        now = utcnow()
        # Look first with a read transaction: opening an inventory (web UI, every CLI
        # command) must not queue behind a scan that is writing.
        with self._session(read=True) as s:
            running = s.execute(
                select(Scan.id, Scan.host, Scan.pid, Scan.heartbeat_at).where(Scan.status == "running")
            ).all()
        dead = []
        for scan_id, host, pid, heartbeat_at in running:
            if host == here and pid is not None:
                is_dead = not _pid_alive(pid)
            else:
                is_dead = heartbeat_at is None or now - heartbeat_at > STALE_SCAN_AFTER
            if is_dead:
                dead.append(scan_id)
        if dead:
            with self._session() as s:
                for scan in s.scalars(select(Scan).where(Scan.id.in_(dead), Scan.status == "running")):
                    scan.status = "interrupted"
                    scan.finished_at = scan.heartbeat_at or now
        return dead

    def _scan(self, s: Session, scan_id: int) -> Scan:
        scan = s.get(Scan, scan_id)
        if scan is None:
            raise NotFoundError(f"scan {scan_id} does not exist")
        return scan

    # -- recording -------------------------------------------------------

    def record_host(self, scan_id: int, report: HostReport, ident: Identification) -> int:
        """Store one host's observations and update (or create) its device."""
        ids = self.record_hosts(scan_id, [(report, ident)])
        assert ids is not None  # no guard, so always recorded
        return ids[0]

    def record_hosts(
        self,
        scan_id: int,
        items: Sequence[tuple[HostReport, Identification]],
        done: int | None = None,
        guard: Callable[[Session], bool] | None = None,
    ) -> list[int] | None:
        """Store many hosts in one transaction (the batching writer's unit); device ids back.

        ``guard`` runs first in the same transaction; when it returns False
        nothing is recorded and ``None`` comes back (a distributed scan's chunk
        marks itself done this way, so a redelivered chunk is never recorded twice).

        Two scans of one site may create the same device at the same moment; the
        loser's transaction fails on the unique identity (or, on PostgreSQL, a
        deadlock between row locks) and is retried whole, finding the device.
        """
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                with self._session() as s:
                    if guard is not None and not guard(s):
                        s.rollback()
                        return None
                    scan = self._scan(s, scan_id)
                    ids = self._record_batch(s, scan, items)
                    scan.heartbeat_at = utcnow()
                    if done is not None:
                        scan.addresses_done = done
                self._analyze_if_grown()
                return ids
            except StorageError as exc:
                if attempt == RECORD_ATTEMPTS or not isinstance(
                    exc.__cause__, IntegrityError | OperationalError
                ):
                    raise
        raise AssertionError("unreachable")

    def _record_batch(
        self, s: Session, scan: Scan, items: Sequence[tuple[HostReport, Identification]]
    ) -> list[int]:
        """Record hosts in a fixed number of round trips, not a few per host.

        Every device the hosts could be is fetched in one query (:class:`_Candidates`)
        and searched in memory; new devices, their sightings and events are inserted
        together at one flush; observations go in one executemany.
        """
        with s.no_autoflush:
            idns = [identity_of(report, ident) for report, ident in items]
            batch = _Candidates(s, scan.site_id, idns)
            devices = [
                self._record(s, scan, batch, idn, report, ident)
                for idn, (report, ident) in zip(idns, items, strict=True)
            ]
        s.flush()  # the devices, so each has its id
        batch.insert(s, scan.id)
        self._devices_created += len(batch.devices) - batch.fetched
        return [d.id for d in devices]

    def _analyze_if_grown(self) -> None:
        """``ANALYZE devices`` on PostgreSQL each time this process has doubled the devices it
        created (from 1,000): a bulk load needs fresh statistics long before autovacuum (if it
        runs at all) gives them, or the planner takes the lookups of a batch's identities for
        most of the table and scans all of it (measured: 170 instead of ~1,000 hosts/s at 20,000)."""
        if self.engine.dialect.name != "postgresql" or self._devices_created < self._analyze_at:
            return
        self._analyze_at = self._devices_created * 2
        try:
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE devices")
        except SQLAlchemyError:
            pass  # statistics are an optimisation: a refused ANALYZE (permissions) changes nothing

    def _find_device(self, s: Session, site_id: int, idn: Identity) -> Device | None:
        """The device with any of these identities in this site, strongest identity first."""
        return _Candidates(s, site_id, [idn]).find(idn)

    def _record(
        self,
        s: Session,
        scan: Scan,
        batch: _Candidates,
        idn: Identity,
        report: HostReport,
        ident: Identification,
    ) -> Device:
        """Update or create the device of one host (not flushed: the batch flushes once)."""
        now = utcnow()
        caps = capabilities_of(report, ident)
        via = report.via_recorder
        device = batch.find(idn)
        if device is None:
            device = Device(
                site_id=scan.site_id,
                identity_key=idn.key,
                first_seen=now,
                connectivity="recorder-attached" if via else "networked",
                policy_flags=[],
                advisories=[],
                capabilities=[],
                identification={},
                missed_scans=0,
                confidence=0.0,
                is_camera=False,
                declared_standalone=False,
            )
            s.add(device)
            batch.add(device)
            where = f"through recorder {via}" if via else f"at {report.ip}"
            batch.event(device, scan.id, "new", f"new device {where}", {"ip": report.ip, "via": via})
        else:
            old = DeviceState(
                device.ip,
                device.brand,
                device.manufacturer,
                device.model,
                device.firmware,
                device.category,
                tuple(device.capabilities or ()),
            )
            new = DeviceState(
                report.ip,
                ident.brand,
                ident.manufacturer,
                ident.model,
                ident.firmware,
                ident.category,
                tuple(caps),
            )
            for ch in changes(old, new):
                if ch.kind == "moved" and (device.via_recorder or None) != via:
                    continue  # a recorder's channel address is not the device moving
                batch.event(device, scan.id, ch.kind, ch.summary, ch.detail)
            if device.identity_key.startswith("ip:") and idn.strong:
                device.identity_key = idn.key
            self._update_connectivity(s, device, scan.id, via, batch)
        # A recorder's channel list names the camera's address behind the recorder;
        # a direct sighting in the same scan is the better one to keep.
        seen_before_in_scan = device.last_scan_id == scan.id
        seen_directly_now = seen_before_in_scan and not device.via_recorder
        if not (via and seen_directly_now):
            device.ip = report.ip
            device.via_recorder = via
        device.mac = idn.mac or device.mac
        device.onvif_endpoint = idn.endpoint or device.onvif_endpoint
        for name in ("brand", "manufacturer", "model", "firmware", "serial", "category"):
            value = getattr(ident, name)
            if value is not None:
                setattr(device, name, value)
        if ident.confidence > 0 or device.confidence == 0:
            device.is_camera = ident.is_camera
            device.confidence = ident.confidence
        if ident.manufacturer or ident.brand:
            device.policy_flags = list(ident.policy_flags)
            device.advisories = list(ident.advisories)
        if caps:
            device.capabilities = caps
        if ident.supporting or not device.identification:
            device.identification = _identification_json(ident)
        device.last_seen = now
        device.last_scan_id = scan.id
        device.missed_scans = 0
        self._sighting(s, scan.id, batch, device, caps, via, now, seen_before_in_scan)
        batch.observed.append((device, report.observations, idn.mac, via, now))
        return device

    def _update_connectivity(
        self, s: Session, device: Device, scan_id: int, via: str | None, batch: _Candidates | None = None
    ) -> None:
        def event(kind: str, summary: str, detail: dict[str, Any]) -> None:
            if batch is not None:
                batch.event(device, scan_id, kind, summary, detail)
            else:
                self._event(s, device, scan_id, kind, summary, detail)

        before = device.connectivity
        if device.declared_standalone:
            after = "conflict"
        elif via:
            after = "networked" if before == "networked" else "recorder-attached"
        else:
            after = "networked"
        if after == before:
            return
        device.connectivity = after
        if after == "conflict":
            event(
                "conflict",
                "declared standalone but observed on a network" + (f" through recorder {via}" if via else ""),
                {"from": before, "to": after},
            )
        elif before == "missing":
            event("returned", "answering again", {"from": before, "to": after})

    def _sighting(
        self,
        s: Session,
        scan_id: int,
        batch: _Candidates,
        device: Device,
        caps: list[str],
        via: str | None,
        now: datetime,
        seen_before_in_scan: bool,
    ) -> None:
        values = {
            "ip": device.ip,
            "brand": device.brand,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "firmware": device.firmware,
            "category": device.category,
            "capabilities": list(caps or device.capabilities or []),
            "policy_flags": sorted(device.policy_flags or []),
            "via_recorder": via,
        }
        if seen_before_in_scan:  # rare: listed by a recorder and seen directly, or twice
            # A direct sighting in this scan is better than a recorder's listing:
            # a later listing never replaces it.
            pending = batch.sightings.get(id(device))
            if pending is not None:  # earlier in this batch
                if not (via and not pending[1]["via_recorder"]):
                    pending[1].update(values)
                return
            if device.id is not None:  # by an earlier batch of this scan
                row = s.scalar(
                    select(Sighting).where(Sighting.scan_id == scan_id, Sighting.device_id == device.id)
                )
                if row is not None:
                    if not (via and not row.via_recorder):
                        for name, value in values.items():
                            setattr(row, name, value)
                    return
        batch.sightings[id(device)] = (device, {"scan_id": scan_id, "seen_at": now, **values})

    def _event(
        self,
        s: Session,
        device: Device,
        scan_id: int | None,
        kind: str,
        summary: str,
        detail: dict[str, Any],
    ) -> None:
        s.add(
            DeviceEvent(
                device_id=device.id, scan_id=scan_id, at=utcnow(), kind=kind, summary=summary, detail=detail
            )
        )

    # -- standalone units, annotations, imports ---------------------------

    def register_standalone(self, unit: StandaloneUnit, actor: str = "") -> int:
        """Declare a unit standalone; one already observed on a network becomes a conflict."""
        return self.register_many([unit], actor=actor)[0]

    def register_many(
        self,
        units: Sequence[StandaloneUnit],
        actor: str = "",
        source: str = "",
        labels: Sequence[str] | None = None,
    ) -> list[int]:
        """Register several units in one transaction: all of them, or none.

        ``labels`` (``file:line`` of each unit) prefix an error, as ImportFileError.
        """
        with self._session() as s:
            ids = []
            for i, unit in enumerate(units):
                try:
                    ids.append(self._register(s, unit))
                except ConfigError as exc:
                    if labels is None:
                        raise
                    raise ImportFileError(f"{labels[i]}: {exc}") from exc
            s.add(
                AuditLogEntry(
                    at=utcnow(),
                    actor=actor,
                    action="register",
                    detail={"devices": ids, "source": source or "cli"},
                )
            )
            return ids

    def _register(self, s: Session, u: StandaloneUnit) -> int:
        idn = Identity(u.mac, u.manufacturer, u.serial, u.onvif_endpoint, u.ip)
        key = idn.key  # ConfigError when no identity field is given
        site = self._site(s, u.site)
        device = self._find_device(s, site.id, idn)
        now = utcnow()
        if device is not None and device.declared_standalone:
            raise ConfigError(f"device {device.id} ({device.identity_key}) is already registered standalone")
        if device is None:
            device = Device(
                site_id=site.id,
                identity_key=key,
                connectivity="standalone",
                policy_flags=[],
                advisories=[],
                capabilities=[],
                identification={},
                missed_scans=0,
                ip=u.ip,
                mac=u.mac,
                onvif_endpoint=u.onvif_endpoint,
                brand=u.brand,
                manufacturer=u.manufacturer,
                model=u.model,
                serial=u.serial,
                firmware=u.firmware,
                category=u.category,
            )
            s.add(device)
            s.flush()
            self._event(s, device, None, "registered", "registered as a standalone unit", {})
        else:
            before = device.connectivity
            device.connectivity = "conflict"
            self._event(
                s,
                device,
                None,
                "conflict",
                f"registered as standalone, but observed on a network ({before})",
                {"from": before, "to": "conflict"},
            )
        device.declared_standalone = True
        device.declared_at = now
        device.firmware_updated = u.firmware_updated
        for name in ("location", "owner", "notes"):
            if getattr(u, name):
                setattr(device, name, getattr(u, name))
        return device.id

    def annotate(self, device_id: int, actor: str = "", **fields: str | None) -> dict[str, list[Any]]:
        """Set annotation fields (``None`` leaves one alone, ``""`` clears it); audited."""
        unknown = set(fields) - set(ANNOTATION_FIELDS)
        if unknown:
            raise ConfigError(f"not an annotation field: {', '.join(sorted(unknown))}")
        with self._session() as s:
            device = s.get(Device, device_id)
            if device is None:
                raise NotFoundError(f"device {device_id} does not exist")
            changed: dict[str, list[Any]] = {}
            for name, value in fields.items():
                if value is None:
                    continue
                new = value or None
                old = getattr(device, name)
                if old != new:
                    setattr(device, name, new)
                    changed[name] = [old, new]
            if changed:
                s.add(
                    AuditLogEntry(
                        at=utcnow(),
                        actor=actor,
                        action="annotate",
                        detail={"device": device_id, "changes": changed},
                    )
                )
            return changed

    def import_scan(
        self,
        items: Sequence[tuple[HostReport, Identification]],
        targets: Sequence[str],
        site: str = DEFAULT_SITE,
        operator: str = "",
        tool_version: str = "",
        fingerprint_version: str = "",
        started_at: datetime | None = None,
        source: str = "",
    ) -> tuple[int, list[int]]:
        """A finished scan from elsewhere (nmap XML) in one transaction; its id and device ids back."""
        with self._session() as s:
            scan = self._new_scan(
                s,
                targets,
                site,
                operator,
                len(items),
                tool_version,
                fingerprint_version,
                None,
                started_at=started_at,
            )
            ids = self._record_batch(s, scan, items)
            scan.status = "completed"
            scan.finished_at = utcnow()
            scan.addresses_done = len(items)
            self._age_unseen(s, scan)
            s.add(
                AuditLogEntry(
                    at=utcnow(),
                    actor=operator,
                    action="import",
                    detail={"scan": scan.id, "hosts": len(items), "source": source},
                )
            )
            return scan.id, ids

    def import_records(self, records: Sequence[DeviceRecord], actor: str = "", source: str = "") -> list[int]:
        """Devices from the inventory's own JSON export, in one transaction (upsert by identity)."""
        with self._session() as s:
            ids = []
            for r in records:
                idn = Identity(r.mac, r.manufacturer, r.serial, r.onvif_endpoint, r.ip)
                site = self._site(s, r.site)
                device = self._find_device(s, site.id, idn)
                if device is None:
                    device = Device(
                        site_id=site.id,
                        identity_key=r.identity_key or idn.key,
                        identification={},
                        missed_scans=0,
                    )
                    s.add(device)
                for name in (
                    "ip",
                    "mac",
                    "onvif_endpoint",
                    "brand",
                    "manufacturer",
                    "model",
                    "firmware",
                    "serial",
                    "is_camera",
                    "confidence",
                    "connectivity",
                    "via_recorder",
                    "declared_standalone",
                    "firmware_updated",
                    "first_seen",
                    "last_seen",
                    *ANNOTATION_FIELDS,
                ):
                    setattr(device, name, getattr(r, name))
                device.category = r.category_identified if r.category_override else r.category
                device.policy_flags = list(r.policy_flags)
                device.advisories = list(r.advisories)
                device.capabilities = list(r.capabilities)
                s.flush()
                self._event(s, device, None, "imported", f"imported from {source or 'JSON'}", {})
                ids.append(device.id)
            s.add(
                AuditLogEntry(
                    at=utcnow(), actor=actor, action="import", detail={"devices": len(ids), "source": source}
                )
            )
            return ids

    def reidentify(
        self, identify: Callable[[list[Evidence]], Identification], actor: str = "", version: str = ""
    ) -> list[ReidentifyChange]:
        """Re-run identification over each device's latest stored observations; no rescan."""
        out: list[ReidentifyChange] = []
        with self._session() as s:
            for device in s.scalars(select(Device).where(Device.last_scan_id.is_not(None))):
                rows = list(
                    s.scalars(
                        select(ObservationRow).where(
                            ObservationRow.device_id == device.id,
                            ObservationRow.scan_id == device.last_scan_id,
                        )
                    )
                )
                if not rows:
                    continue
                evidence = [Evidence(k, v, src) for r in rows for k, v, src in r.evidence]
                mac = next((r.mac for r in rows if r.mac), None)
                if mac:
                    evidence.append(Evidence("mac.address", mac, "arp"))
                ident = identify(evidence)
                diffs: dict[str, list[Any]] = {}
                for name in ("brand", "manufacturer", "model", "firmware", "category", "is_camera"):
                    old, new = getattr(device, name), getattr(ident, name)
                    if old != new and (new is not None or name == "is_camera"):
                        diffs[name] = [old, new]
                        setattr(device, name, new)
                if round(device.confidence, 3) != round(ident.confidence, 3):
                    device.confidence = ident.confidence
                device.policy_flags = list(ident.policy_flags)
                device.advisories = list(ident.advisories)
                device.identification = _identification_json(ident)
                if diffs:
                    text = ", ".join(f"{k} {a} → {b}" for k, (a, b) in diffs.items())
                    self._event(
                        s,
                        device,
                        None,
                        "identification",
                        f"re-identified: {text}",
                        {"changes": diffs, "reidentify": True, "fingerprint_version": version},
                    )
                    out.append(ReidentifyChange(device.id, diffs))
            s.add(
                AuditLogEntry(
                    at=utcnow(),
                    actor=actor,
                    action="reidentify",
                    detail={"changed": len(out), "fingerprint_version": version},
                )
            )
        return out


MAX_SITE_NAME_LEN = 128  # sites.name is String(128)


class _Candidates:
    """The devices one batch of hosts may be, fetched in one query and searched in memory.

    The query asks for every device of the site that shares any identity with any
    host of the batch (identity key, MAC, serial, ONVIF endpoint, or the address
    key of a device known only by address), ``FOR UPDATE`` on PostgreSQL so a
    concurrent scan updating one of them waits; SQLite's writer lock already
    serialises.  Devices the batch creates are added, so a host seen twice in one
    batch finds the device made for the first sighting.
    """

    #: Identities per query: far below SQLite's bound-parameter limit.
    CHUNK = 400

    def __init__(self, s: Session, site_id: int, idns: Sequence[Identity]) -> None:
        self.devices: list[Device] = []
        self.fetched = 0
        self.sightings: dict[int, tuple[Device, dict[str, Any]]] = {}
        self.events: list[tuple[Device, dict[str, Any]]] = []
        self.observed: list[tuple[Device, list[Observation], str | None, str | None, datetime]] = []
        for i in range(0, len(idns), self.CHUNK):
            self.devices.extend(self._fetch(s, site_id, idns[i : i + self.CHUNK]))
        self.fetched = len(self.devices)

    @staticmethod
    def _fetch(s: Session, site_id: int, idns: Sequence[Identity]) -> Iterator[Device]:
        """One query per identity column, each with one obvious index.

        One query OR-ing the columns, or one adding ``site_id`` to the conditions, let
        PostgreSQL pick a site index and filter every device of the site for each batch
        whenever its statistics were stale (a fresh database, or autovacuum off): the
        ingest slowed as the site grew.  So each column is looked up by its own index
        and the site is compared here.  ``FOR UPDATE`` on PostgreSQL (a device of another
        site sharing a MAC or serial is locked for the transaction too; harmless).
        """
        keys = {k for idn in idns for k in idn.keys()}
        macs = {idn.mac for idn in idns if idn.mac}
        serials = {idn.serial for idn in idns if idn.manufacturer and idn.serial}
        endpoints = {idn.endpoint for idn in idns if idn.endpoint}
        found: dict[int, Device] = {}
        for column, values in (
            (Device.identity_key, keys),
            (Device.mac, macs),
            (Device.serial, serials),  # the manufacturer is compared in find()
            (Device.onvif_endpoint, endpoints),
        ):
            if values:
                for device in s.scalars(select(Device).where(column.in_(values)).with_for_update()):
                    if device.site_id == site_id:
                        found[device.id] = device
        return iter(found.values())

    def add(self, device: Device) -> None:
        self.devices.append(device)

    def find(self, idn: Identity) -> Device | None:
        """The device with any of these identities, strongest first (MAC, serial, other)."""
        strong = {k for k in idn.keys() if not k.startswith("ip:")}
        maker = idn.manufacturer.lower() if idn.manufacturer and idn.serial else None

        def same(d: Device) -> bool:
            if idn.mac and d.mac and d.mac != idn.mac:
                # Two different MACs are two devices, whatever serial they claim
                # (cloned or placeholder serials are common on OEM firmware).
                return False
            return (
                d.identity_key in strong
                or bool(idn.mac and d.mac == idn.mac)
                or bool(maker and d.serial == idn.serial and (d.manufacturer or "").lower() == maker)
                or bool(idn.endpoint and d.onvif_endpoint == idn.endpoint)
            )

        found = [d for d in self.devices if same(d)]
        if found:

            def rank(d: Device) -> int:
                if idn.mac and d.mac == idn.mac:
                    return 0
                if idn.serial and d.serial == idn.serial:
                    return 1
                return 2

            return min(found, key=rank)
        if idn.ip:
            # A device known only by its address is adopted by the first strong identity
            # seen there: an address was never a strong identity to begin with.
            ip_key = f"ip:{idn.ip}"
            return next((d for d in self.devices if d.identity_key == ip_key), None)
        return None

    def event(
        self, device: Device, scan_id: int | None, kind: str, summary: str, detail: dict[str, Any]
    ) -> None:
        """An event of a device that may not have its id yet (inserted by :meth:`insert`)."""
        row = {"scan_id": scan_id, "at": utcnow(), "kind": kind, "summary": summary, "detail": detail}
        self.events.append((device, row))

    def insert(self, s: Session, scan_id: int) -> None:
        """After the flush that gave every device its id: sightings, events and observations
        in multi-row INSERTs (append-only rows need none of the ORM's bookkeeping)."""
        for model, rows in (
            (Sighting, [{**row, "device_id": d.id} for d, row in self.sightings.values()]),
            (DeviceEvent, [{**row, "device_id": d.id} for d, row in self.events]),
            (ObservationRow, self.observation_rows(scan_id)),
        ):
            if rows:
                # A plain executemany: psycopg pipelines one prepared statement per row.
                # (Multi-row VALUES, by hand or SQLAlchemy's insertmanyvalues, measured
                # slower: every batch is a new statement to compile and to convert.)
                s.execute(insert(model), rows)

    def observation_rows(self, scan_id: int) -> list[dict[str, Any]]:
        """The batch's observation rows, once every device has its id."""
        return [
            _observation_row(scan_id, device.id, obs, mac, via, now)
            for device, observations, mac, via, now in self.observed
            for obs in observations
        ]


def _site_network(text: str, allow_public: bool) -> str:
    text = text.strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ConfigError(f"{text!r} is not a network (e.g. 10.20.0.0/24 or fd00::/64)") from exc
    # The same rule as scanner.targets: loopback, private and link-local are fine without the flag.
    if not allow_public and not (net.is_private or net.is_loopback or net.is_link_local):
        raise ConfigError(
            f"network {text!r} ({net}) is public address space; "
            "a site may declare it only if you are authorised to scan it (allow_public)"
        )
    return str(net)


def _schema_revision(conn: Any) -> str | None:
    """The database's Alembic revision (None when it has no ``alembic_version`` table)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _identification_json(ident: Identification) -> dict[str, Any]:
    def m(x: Any) -> dict[str, Any]:
        return {
            "rule": x.rule_id,
            "key": x.key,
            "value": x.value,
            "source": x.source,
            "certainty": x.certainty,
            "sets": dict(x.sets),
        }

    return {
        "explanation": list(ident.explanation),
        "supporting": [m(x) for x in ident.supporting],
        "contradicting": [m(x) for x in ident.contradicting],
    }


def _sqlite_begin(conn: Any) -> None:
    mode = "DEFERRED" if conn.get_execution_options().get("camsweep_readonly") else "IMMEDIATE"
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy (the "begin" listener) own transactions: pysqlite's implicit
    # BEGIN would otherwise be deferred and let two writers deadlock on upgrade.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
    # With WAL, NORMAL never corrupts; a killed process loses no committed
    # transaction (a power cut may lose the last few: the scan is then incomplete).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")  # a second writer waits its turn instead of failing
    cur.close()
