"""The plain objects the inventory hands out: no sessions, no lazy loading."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The connectivity vocabulary (the 2022 survey's question: networked or standalone?).
CONNECTIVITY = ("networked", "recorder-attached", "standalone", "conflict", "missing")

#: Event kinds, in the words the CLI prints.
EVENT_KINDS = (
    "new",
    "gone",
    "returned",
    "moved",
    "firmware",
    "capabilities",
    "identification",
    "conflict",
    "registered",
    "imported",
)

#: Annotation fields: an operator's, never overwritten by a rescan.
ANNOTATION_FIELDS = ("location", "owner", "dpia_ref", "procurement_ref", "category_override", "notes")


def utcnow() -> datetime:
    """Now, in UTC, naive: how the inventory stores every timestamp (same on both backends)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(v: Any) -> Any:
    return v.isoformat() + "Z" if isinstance(v, datetime) else v


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """A site and its declared networks (what a scan of it may cover)."""

    name: str
    networks: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device of the inventory, as exports and front ends see it.

    ``category`` is the effective category: an operator's ``category_override``
    when set, else the identified one (``category_identified``).
    """

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
    capabilities: list[str] = field(default_factory=list)
    onvif_endpoint: str | None = None
    via_recorder: str | None = None
    identity_key: str = ""
    category_identified: str | None = None
    declared_standalone: bool = False
    firmware_updated: str | None = None
    location: str | None = None
    owner: str | None = None
    dpia_ref: str | None = None
    procurement_ref: str | None = None
    category_override: str | None = None
    notes: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def annotations(self) -> dict[str, str]:
        return {k: v for k in ANNOTATION_FIELDS if (v := getattr(self, k))}


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
    operator: str = ""
    tool_version: str = ""
    fingerprint_version: str = ""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One thing that happened to a device: ``kind`` from :data:`EVENT_KINDS`."""

    id: int
    device_id: int
    scan_id: int | None
    at: datetime
    kind: str
    summary: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class SightingRecord:
    """What one scan concluded about one device."""

    scan_id: int
    at: datetime
    ip: str | None
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    category: str | None
    capabilities: list[str]
    via_recorder: str | None

    def as_dict(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    """Everything ``device show`` prints: the record, why, what was seen, what happened."""

    device: DeviceRecord
    explanation: list[str]
    supporting: list[dict[str, Any]]
    contradicting: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    sightings: list[SightingRecord]
    events: list[EventRecord]

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": {k: _iso(v) for k, v in self.device.as_dict().items()},
            "explanation": self.explanation,
            "supporting": self.supporting,
            "contradicting": self.contradicting,
            "evidence": self.evidence,
            "sightings": [s.as_dict() for s in self.sightings],
            "events": [e.as_dict() for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class DeviceChange:
    """One device seen in both scans of a diff, and what differs (field -> [old, new])."""

    device: DeviceRecord
    changes: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class ScanDiff:
    """Devices new in scan ``b``, gone since scan ``a``, and changed between them."""

    a: int
    b: int
    new: list[DeviceRecord]
    gone: list[DeviceRecord]
    changed: list[DeviceChange]

    def as_dict(self) -> dict[str, Any]:
        def dev(d: DeviceRecord) -> dict[str, Any]:
            return {k: _iso(v) for k, v in d.as_dict().items()}

        return {
            "a": self.a,
            "b": self.b,
            "new": [dev(d) for d in self.new],
            "gone": [dev(d) for d in self.gone],
            "changed": [{"device": dev(c.device), "changes": c.changes} for c in self.changed],
        }


@dataclass(frozen=True, slots=True)
class StandaloneUnit:
    """A unit an operator declares (CLI or CSV): identity fields plus what the survey asks."""

    site: str = "default"
    mac: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    onvif_endpoint: str | None = None
    ip: str | None = None
    brand: str | None = None
    model: str | None = None
    category: str | None = None
    firmware: str | None = None
    firmware_updated: str | None = None
    location: str | None = None
    owner: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class ReidentifyChange:
    """One device whose identification changed when re-run over its stored observations."""

    device_id: int
    changes: dict[str, list[Any]]
