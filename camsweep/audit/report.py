"""The audit report as plain data: findings with the devices, scans and evidence that decide them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CONSISTENT = "consistent"
CONTRADICTED = "contradicted"
UNVERIFIABLE = "unverifiable"
VERDICTS = (CONSISTENT, CONTRADICTED, UNVERIFIABLE)


@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: int | None
    site: str
    ip: str | None
    mac: str | None
    brand: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    category: str | None
    connectivity: str
    policy_flags: list[str]
    scans: list[int]
    evidence: list[str]
    #: For units declared only in the answer file.
    declared_as: str | None = None


@dataclass(frozen=True, slots=True)
class ScanRef:
    id: int
    site: str
    status: str
    started_at: str
    finished_at: str | None
    targets: list[str]
    addresses_done: int
    addresses_total: int
    age_days: float | None


@dataclass(slots=True)
class Finding:
    technology: str
    label: str
    question: str
    claimed: Any
    verdict: str
    reason: str
    answer_line: int | None = None
    devices: list[DeviceRef] = field(default_factory=list)
    scans: list[ScanRef] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StandaloneFirmware:
    """A standalone unit whose firmware is older than the newest seen for its model, or never updated."""

    name: str
    site: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    newest_seen: str | None
    firmware_updated: str | None
    problem: str


@dataclass(slots=True)
class AuditReport:
    generated_at: str
    force: str
    survey: str
    answers_path: str
    answers_sha256: str
    inventory: str
    max_age_days: int
    sites: list[str]
    chain: dict[str, Any]
    coverage_caveats: list[str]
    findings: list[Finding]
    standalone_firmware: list[StandaloneFirmware]
    #: Chart data: maker -> technology -> count; technology -> connectivity -> count;
    #: technology -> firmware state -> count; makers with concern flags.
    manufacturers_by_technology: dict[str, dict[str, int]]
    connectivity_by_technology: dict[str, dict[str, int]]
    firmware_by_technology: dict[str, dict[str, int]]
    concern_makers: dict[str, list[str]]

    @property
    def chain_head(self) -> str:
        return str(self.chain["head"])

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for f in self.findings if f.verdict == v) for v in VERDICTS}

    def contradictions(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict == CONTRADICTED]

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["chain_head"] = self.chain_head
        doc["counts"] = self.counts()
        return doc
