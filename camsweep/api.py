"""The library API that every front end (CLI, web, worker) calls.

Each function is one use case: parse -> scope check -> scan -> identify ->
record.  Front ends only render what these return.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fingerprints as fingerprints_pkg
from camsweep import __version__
from camsweep.audit.chain import ChainReport, Seal, seal_interrupted_scan, seal_scan, verify_chain
from camsweep.audit.report import AuditReport
from camsweep.config import Config, SiteConfig, find_config
from camsweep.exports import DeviceQuery
from db import imports
from db.records import DeviceDetail, ReidentifyChange, ScanDiff, ScanRecord, StandaloneUnit
from db.repository import DEFAULT_SITE, DeviceRecord, Inventory
from db.writer import ScanWriter
from fingerprints.errors import ConfigError
from fingerprints.evidence import EVIDENCE_KEYS, Evidence, HostReport, Identification
from fingerprints.matcher import KnowledgeBase, default_kb, identify
from fingerprints.selftest import SelfTestReport, run_selftest
from scanner.credentials import OnvifCredentials, load_credentials
from scanner.discovery import DiscoveryOptions, discover
from scanner.engine import Engine, Progress, ScanDeadlineExceeded, ScanLimits
from scanner.engine import run as run_engine
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import Scope, count_addresses, iter_addresses, parse_targets

if TYPE_CHECKING:  # the worker extra (celery) is optional; imported lazily below
    from camsweep.worker.store import ChunkRecord
    from camsweep.worker.submit import SubmittedScan

DEFAULT_DB_FILE = "camsweep.db"


def resolve_db_url(db: str | None, config_url: str | None = None) -> str:
    """``--db``, else ``$CAMSWEEP_DB``, else the configuration's ``[database] url``, else ``./camsweep.db``."""
    url = db or os.environ.get("CAMSWEEP_DB") or config_url or DEFAULT_DB_FILE
    if "://" not in url:
        url = f"sqlite:///{Path(url)}"
    return url


@dataclass(slots=True)
class ScanOutcome:
    """What one scan did and found."""

    scan_id: int
    status: str
    addresses: int
    responsive: int
    devices: list[tuple[HostReport, Identification]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    targets: Sequence[str]
    site: str = DEFAULT_SITE
    ports: Sequence[int] = CAMERA_PORTS
    scope: Scope = Scope()
    limits: ScanLimits = ScanLimits()
    operator: str = ""
    discovery: DiscoveryOptions = DiscoveryOptions()
    #: The one operator-supplied ONVIF account for this site; never stored or logged.
    credentials: OnvifCredentials | None = None


async def scan_async(
    request: ScanRequest,
    inventory: Inventory,
    kb: KnowledgeBase | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ScanOutcome:
    """Scan, identify and record.  Scope is checked before any packet is sent.

    The scan ends ``completed``, ``deadline`` (``limits.deadline_s`` passed) or
    ``interrupted`` (cancelled, e.g. Ctrl-C); every host recorded before the end
    stays recorded, and the scan row always gets its final status.
    """
    specs = parse_targets(request.targets)
    request.scope.check(specs)
    kb = kb or default_kb()
    total = count_addresses(specs, request.scope)
    scan_id = inventory.begin_scan(
        [s.text for s in specs],
        site=request.site,
        operator=request.operator,
        total=total,
        tool_version=__version__,
        fingerprint_version=fingerprint_data_version(),
        ranges=[[str(s.first), str(s.last)] for s in specs],
    )
    progress = Progress(total=total)
    outcome = ScanOutcome(scan_id, "running", total, 0)
    engine = Engine(ports=request.ports, limits=request.limits, credentials=request.credentials)
    scope = request.scope
    # One batching writer per scan: hosts are committed in batches, so a killed
    # scan keeps every committed batch and is later marked interrupted.
    writer = ScanWriter(inventory, scan_id)

    def progressed(p: Progress) -> None:
        writer.tick(p.done)
        if on_progress:
            on_progress(p)

    def in_scope(ip: str) -> bool:
        """Discovery replies count only for addresses this scan was asked to look at."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return not scope.excluded(addr) and any(
            s.first.version == addr.version and int(s.first) <= int(addr) <= int(s.last) for s in specs
        )

    try:
        found = await discover(specs, request.discovery, in_scope)
        outcome.warnings.extend(found.warnings)
        addresses = iter_addresses(specs, request.scope)
        async for report in engine.scan(addresses, progress, progressed, discovered=found.hosts):
            ident = identify(report.evidence, kb)
            writer.add(report, ident, done=progress.done)
            outcome.devices.append((report, ident))
        outcome.status = "completed"
    except ScanDeadlineExceeded:
        outcome.status = "deadline"
    except (asyncio.CancelledError, KeyboardInterrupt):
        outcome.status = "interrupted"
        raise
    finally:
        if outcome.status == "running":
            outcome.status = "interrupted"
        outcome.responsive = progress.responsive
        try:
            writer.close()
        finally:
            inventory.finish_scan(scan_id, outcome.status, done=progress.done)
            seal_scan(inventory, scan_id)  # tamper-evident evidence: chain this scan's observations
    return outcome


def scan(
    request: ScanRequest, db_url: str, on_progress: Callable[[Progress], None] | None = None
) -> ScanOutcome:
    inventory = Inventory(db_url)
    try:
        return run_engine(scan_async(request, inventory, on_progress=on_progress))
    finally:
        inventory.close()


def list_devices(
    db_url: str, cameras_only: bool = False, query: DeviceQuery | None = None
) -> list[DeviceRecord]:
    """Devices of the inventory; ``query`` filters them (several values per field allowed)."""
    from camsweep.exports import select_devices

    if query is None:
        query = DeviceQuery(cameras_only=cameras_only)
    elif cameras_only:
        query = replace(query, cameras_only=True)
    inventory = Inventory(db_url)
    try:
        return select_devices(inventory, query)
    finally:
        inventory.close()


# -- operations: configuration, exports, scheduled scans (issue 7) ------------


def load_config(path: str | None = None) -> Config | None:
    """``--config``, else ``$CAMSWEEP_CONFIG``, else ``./camsweep.toml`` if it exists, else ``None``."""
    return find_config(path)


def site_request(
    site: SiteConfig, ports: Sequence[int] | None = None, rate_pps: float | None = None, operator: str = ""
) -> ScanRequest:
    """A scan of a configured site: its networks, exclusions, ports and limits.

    ``rate_pps`` can only make the scan gentler than the site allows.
    """
    limits = site.limits()
    if rate_pps is not None and rate_pps < limits.rate_pps:
        limits = replace(limits, rate_pps=rate_pps)
    return ScanRequest(
        targets=site.targets,
        site=site.name,
        ports=tuple(ports) if ports else site.ports,
        scope=site.scope(),
        limits=limits,
        operator=operator,
    )


def site_credentials(site: SiteConfig, override: Path | None = None) -> OnvifCredentials | None:
    """The ONVIF credential for a configured site: ``--credentials FILE`` first, then the
    site's credential reference, then ``$CAMSWEEP_ONVIF_USER``/``$CAMSWEEP_ONVIF_PASSWORD``."""
    if override is not None:
        return load_credentials(site.name, override)
    if site.credentials is not None:
        return site.credentials.resolve(site.name)
    return load_credentials(site.name, None)


def export_devices(
    db_url: str, fmt: str, query: DeviceQuery | None = None, actor: str = "", destination: str = ""
) -> tuple[bytes, int]:
    """Render the selected devices as json, csv or xlsx and record the export; returns (bytes, rows)."""
    from camsweep.exports import export_devices as _export

    inventory = Inventory(db_url)
    try:
        return _export(inventory, fmt, query, actor=actor, destination=destination)
    finally:
        inventory.close()


# --- fingerprints: self-test, hand matching, explaining a stored device -------------------


@dataclass(frozen=True, slots=True)
class DeviceExplanation:
    """A stored device, the evidence the inventory kept for it, and identification re-run over it."""

    device: DeviceRecord
    evidence: list[Evidence]
    identification: Identification


def fingerprint_selftest() -> SelfTestReport:
    """Validate every fingerprint data file and prove every example (``camsweep fingerprints test``)."""
    return run_selftest()


def fingerprint_match(pairs: Sequence[tuple[str, str]], vendor_list: Path | None = None) -> Identification:
    """Identify a host from evidence typed by hand, e.g. ``[("http.server", "App-webs/")]``.

    Raises :class:`~fingerprints.errors.ConfigError` for an unknown evidence key.
    """
    known = set(EVIDENCE_KEYS)
    for key, _value in pairs:
        if key not in known:
            raise ConfigError(f"unknown evidence key {key!r}; known keys: {', '.join(EVIDENCE_KEYS)}")
    return identify([Evidence(k, v, "typed") for k, v in pairs], default_kb(vendor_list))


def explain_device(db_url: str, device_id: int, vendor_list: Path | None = None) -> DeviceExplanation:
    """Re-run identification over every stored observation of one device."""
    inventory = Inventory(db_url)
    try:
        device = inventory.get_device(device_id)
        evidence = [e for o in inventory.device_observations(device_id) for e in o.evidence]
    finally:
        inventory.close()
    if device.mac and not any(e.key == "mac.address" for e in evidence):
        evidence.append(Evidence("mac.address", device.mac, "inventory"))
    unique = list(dict.fromkeys(evidence))
    return DeviceExplanation(device, unique, identify(unique, default_kb(vendor_list)))


# -- audit: survey answers against the inventory (camsweep.audit) ----------


def audit_draft(
    db_url: str, force: str, sites: Sequence[str] | None = None, site_placement: dict[str, str] | None = None
) -> str:
    """An answer file pre-filled from the inventory (YAML text)."""
    from camsweep.audit.draft import draft_answers

    inventory = Inventory(db_url)
    try:
        return draft_answers(inventory, force, sites=sites, site_placement=site_placement)
    finally:
        inventory.close()


def audit_verify(db_url: str, answers_path: Path, max_age_days: int = 90, actor: str = "") -> AuditReport:
    """Judge every answer in ``answers_path``; logged in the audit log with the chain head."""
    from camsweep.audit.answers import load_answers
    from camsweep.audit.verify import verify_answers

    answers = load_answers(answers_path)
    inventory = Inventory(db_url)
    try:
        report = verify_answers(inventory, answers, max_age_days=max_age_days)
        inventory.log_action(
            "audit.verify",
            actor=actor,
            answers=str(answers_path),
            answers_sha256=answers.sha256,
            chain_head=report.chain_head,
            chain_ok=bool(report.chain["ok"]),
            **report.counts(),
        )
        return report
    finally:
        inventory.close()


def audit_verify_chain(db_url: str) -> ChainReport:
    """Recompute the evidence chains; the report names the first broken link."""
    inventory = Inventory(db_url)
    try:
        return verify_chain(inventory)
    finally:
        inventory.close()


def audit_seal_interrupted(db_url: str, scan_id: int, actor: str, reason: str) -> Seal:
    """Seal what an interrupted scan committed, marked as sealed after the fact by ``actor``
    because ``reason`` (audit log entry ``audit.seal-interrupted``)."""
    inventory = Inventory(db_url)
    try:
        return seal_interrupted_scan(inventory, scan_id, actor, reason)
    finally:
        inventory.close()


# -- the inventory: history, diffs, standalone units, imports, annotations --------------

IMPORT_FORMATS = ("standalone-csv", "json", "nmap-xml")


#: The packaged fingerprint data (rules, makers, the IEEE OUI snapshot, corpora).
FINGERPRINT_DATA = Path(fingerprints_pkg.__file__).parent / "data"


@functools.cache
def fingerprint_data_version(data: Path = FINGERPRINT_DATA) -> str:
    """A short digest of the fingerprint data files: which knowledge identified a device.

    Computed once per process and directory (the files include a 52k-line OUI snapshot and
    every scan asks), like the knowledge base itself (``matcher.default_kb``), which is
    also loaded once.
    """
    digest = hashlib.sha256()
    for path in sorted(data.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(data).as_posix().encode() + b"\0" + path.read_bytes())
    return "sha256:" + digest.hexdigest()[:12]


@contextmanager
def _open(db_url: str) -> Iterator[Inventory]:
    inventory = Inventory(db_url)
    try:
        yield inventory
    finally:
        inventory.close()


def list_scans(db_url: str) -> list[ScanRecord]:
    with _open(db_url) as inv:
        return inv.scans()


def diff_scans(db_url: str, a: int, b: int) -> ScanDiff:
    """New, gone and changed devices between scans ``a`` and ``b`` (``.new``, ``.gone``, ``.changed``)."""
    with _open(db_url) as inv:
        return inv.diff_scans(a, b)


def device_detail(db_url: str, device: int | str, site: str | None = None) -> DeviceDetail:
    """One device (by id, MAC or IP): identification with its evidence, sightings per scan,
    events, annotations."""
    with _open(db_url) as inv:
        device_id = device if isinstance(device, int) else inv.resolve_device(device, site)
        return inv.device_detail(device_id)


def register_standalone(db_url: str, unit: StandaloneUnit, actor: str = "") -> DeviceRecord:
    """Declare a standalone unit; one already observed on a network becomes a ``conflict``."""
    with _open(db_url) as inv:
        return inv.get_device(inv.register_standalone(unit, actor=actor))


@dataclass(frozen=True, slots=True)
class ImportResult:
    fmt: str
    path: str
    devices: list[int]
    scan_id: int | None = None


def import_file(
    db_url: str,
    path: Path,
    fmt: str,
    site: str = DEFAULT_SITE,
    actor: str = "",
    kb: KnowledgeBase | None = None,
) -> ImportResult:
    """Import a file, all or nothing: the whole file is parsed and checked before one transaction.

    ``standalone-csv`` registers standalone units; ``json`` reads the inventory's own
    export; ``nmap-xml`` becomes a completed scan of ``site``, identified by our fingerprints.
    """
    if fmt not in IMPORT_FORMATS:
        raise ConfigError(f"import format {fmt!r} is not one of: {', '.join(IMPORT_FORMATS)}")
    if fmt == "standalone-csv":
        rows = imports.parse_standalone_csv(path)
        units = [replace(u, site=site) if u.site == DEFAULT_SITE else u for _, u in rows]
        with _open(db_url) as inv:
            ids = inv.register_many(units, actor=actor, source=str(path), labels=[where for where, _ in rows])
            return ImportResult(fmt, str(path), ids)
    if fmt == "json":
        records = imports.parse_inventory_json(path)
        with _open(db_url) as inv:
            return ImportResult(fmt, str(path), inv.import_records(records, actor=actor, source=str(path)))
    run = imports.parse_nmap_xml(path)
    kb = kb or default_kb()
    items = [(r, identify(r.evidence, kb)) for r in run.reports]
    with _open(db_url) as inv:
        scan_id, ids = inv.import_scan(
            items,
            run.targets,
            site=site,
            operator=actor,
            tool_version=f"nmap {run.version}".strip(),
            fingerprint_version=fingerprint_data_version(),
            started_at=run.started_at,
            source=str(path),
        )
        return ImportResult(fmt, str(path), ids, scan_id)


def annotate(
    db_url: str, device: int | str, actor: str = "", site: str | None = None, **fields: str | None
) -> dict[str, list[Any]]:
    """Set annotations (location, owner, dpia_ref, procurement_ref, category_override, notes) of a
    device (by id, MAC or IP); rescans never overwrite them; every change is in the audit log."""
    with _open(db_url) as inv:
        device_id = device if isinstance(device, int) else inv.resolve_device(device, site)
        return inv.annotate(device_id, actor=actor, **fields)


def reidentify(db_url: str, actor: str = "", kb: KnowledgeBase | None = None) -> list[ReidentifyChange]:
    """Re-run the matcher over stored observations (no rescan); changes become events."""
    kb = kb or default_kb()
    with _open(db_url) as inv:
        return inv.reidentify(lambda ev: identify(ev, kb), actor=actor, version=fingerprint_data_version())


def check_scan_request(request: ScanRequest) -> None:
    """Raise ``ConfigError``/``ScopeError`` if ``request`` would be refused; nothing is recorded.

    Front ends that start a scan in the background (the web dashboard) call this
    first, so the operator sees a refusal instead of a scan that fails unseen.
    """
    request.scope.check(parse_targets(request.targets))


# -- scale-out: per-site workers (camsweep.worker; needs the ``worker`` extra) --


def submit_site_scan(
    request: ScanRequest, db_url: str, broker_url: str | None = None, chunk_size: int | None = None
) -> SubmittedScan:
    """Create the scan in the central inventory and queue its chunks for the site's workers."""
    from camsweep.worker.app import make_app
    from camsweep.worker.chunks import DEFAULT_CHUNK_SIZE
    from camsweep.worker.submit import submit_scan

    inventory = Inventory(db_url)
    celery_app = make_app(broker_url)
    try:
        return submit_scan(request, inventory, celery_app, chunk_size or DEFAULT_CHUNK_SIZE)
    finally:
        celery_app.close()
        inventory.close()


def scan_chunks(scan_id: int, db_url: str) -> list[ChunkRecord]:
    """The chunks of a distributed scan and where each one is."""
    from camsweep.worker.store import ChunkStore

    inventory = Inventory(db_url)
    try:
        return ChunkStore(inventory).chunks(scan_id)
    finally:
        inventory.close()
