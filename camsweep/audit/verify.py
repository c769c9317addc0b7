"""Judge every survey answer against the inventory: consistent, contradicted or unverifiable.

A claim of *presence* ("we use Hikvision") is confirmed by one device; a claim
of *absence* ("no Hikvision", "all standalone") is contradicted by one device
and otherwise only as good as the scans' coverage, which every such finding
states.  Things a scan cannot see (a DPIA, a firmware process) are
unverifiable, with whatever the inventory does say attached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from camsweep.audit.answers import TECHNOLOGIES, AnswerFile, StandaloneUnit, TechnologyAnswer
from camsweep.audit.chain import verify_chain
from camsweep.audit.coverage import Coverage, assess
from camsweep.audit.report import (
    CONSISTENT,
    CONTRADICTED,
    UNVERIFIABLE,
    AuditReport,
    DeviceRef,
    Finding,
    ScanRef,
    StandaloneFirmware,
)
from camsweep.audit.technology import (
    NETWORKED_STATES,
    AuditDevice,
    claim_covers,
    concern_flags,
    firmware_key,
    is_recorder,
    maker_of,
    model_key,
    placement_of,
    policy_data_present,
    technology_of,
)
from db.models import ObservationRow, Site
from db.repository import Inventory, ScanRecord, utcnow
from fingerprints.evidence import Evidence
from fingerprints.manufacturers import ManufacturerList, default_manufacturers, vocab_key
from fingerprints.matcher import default_kb, match_evidence

DEFAULT_MAX_AGE_DAYS = 90
#: Evidence items quoted per device (the full record stays in the inventory).
MAX_EVIDENCE_PER_DEVICE = 8
MAX_EVIDENCE_CHARS = 160
_NAMING_FIELDS = frozenset({"brand", "manufacturer", "model", "firmware"})
UNPLACED = "cctv"
#: Device ids per IN (...) query: old SQLite builds allow 999 bound parameters.
ID_BATCH = 500
SIBLING = {"internal_cctv": "external_cctv", "external_cctv": "internal_cctv"}


@dataclass(slots=True)
class _Result:
    verdict: str
    reason: str
    devices: list[AuditDevice] = field(default_factory=list)
    units: list[StandaloneUnit] = field(default_factory=list)
    depends_on_coverage: bool = False
    caveats: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Context:
    answers: AnswerFile
    devices: list[AuditDevice]
    manufacturers: ManufacturerList
    coverage: Coverage
    policy_present: bool
    newest_firmware: dict[str, tuple[tuple[int, ...], str]]
    unit_matches: dict[int, list[AuditDevice]]


def _names(devs: Sequence[AuditDevice]) -> str:
    return ", ".join(sorted({maker_of(d) or "unknown" for d in devs}))


def _where(devs: Sequence[AuditDevice], limit: int = 5) -> str:
    shown = [
        f"#{d.id} {d.ip or d.site} ({maker_of(d) or 'unknown'} {d.model or ''})".replace(" )", ")")
        for d in devs[:limit]
    ]
    more = f" and {len(devs) - limit} more" if len(devs) > limit else ""
    return ", ".join(shown) + more


def firmware_state(d: AuditDevice, ctx: _Context) -> str:
    key = firmware_key(d.firmware)
    mk = model_key(d.manufacturer, d.model)
    if key is None or mk is None or mk not in ctx.newest_firmware:
        return "unknown"
    return "current" if key >= ctx.newest_firmware[mk][0] else "behind"


# -- the questions ----------------------------------------------------------


def _in_use(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.in_use is None:
        return None
    if not a.in_use:
        if devs:
            return _Result(
                CONTRADICTED, f"answered not in use, but {len(devs)} device(s) are: {_where(devs)}", devs
            )
        return _Result(
            CONSISTENT, "no device of this technology is in the inventory", depends_on_coverage=True
        )
    if devs:
        return _Result(CONSISTENT, f"{len(devs)} device(s) in the inventory", devs)
    return _Result(
        UNVERIFIABLE,
        "answered in use, but no device of this technology is in the inventory "
        "(it may be standalone, undeclared, or on a network not scanned)",
        depends_on_coverage=True,
    )


def _manufacturers(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.manufacturers is None:
        return None
    claimed = a.manufacturers
    unclaimed = [d for d in devs if maker_of(d) and not claim_covers(claimed, d)]
    if unclaimed:
        return _Result(
            CONTRADICTED,
            f"kit made by {_names(unclaimed)} is in use but not in the answer: {_where(unclaimed)}",
            unclaimed,
        )
    caveats = []
    unknown = [d for d in devs if not maker_of(d)]
    if unknown:
        caveats.append(f"{len(unknown)} device(s) of unknown make: {_where(unknown)}")
    rebadged = [
        d
        for d in devs
        if d.brand
        and d.manufacturer
        and vocab_key(d.brand) != vocab_key(d.manufacturer)
        and not any(vocab_key(c) == vocab_key(d.manufacturer) for c in claimed)
    ]
    if rebadged:
        caveats.append(
            "answered by brand, but made by another maker: "
            + "; ".join(sorted({f"{d.brand} is made by {d.manufacturer}" for d in rebadged}))
        )
    unseen = [c for c in claimed if not any(claim_covers([c], d) for d in devs)]
    if unseen:
        caveats.append(f"answered but not seen: {', '.join(unseen)} (standalone, or on networks not scanned)")
    if not devs:
        if not claimed:
            return _Result(CONSISTENT, "no vendor answered and none seen", depends_on_coverage=True)
        return _Result(
            UNVERIFIABLE, "no device of this technology is in the inventory", depends_on_coverage=True
        )
    return _Result(
        CONSISTENT,
        f"every maker seen is in the answer ({_names(devs)})",
        devs,
        depends_on_coverage=True,
        caveats=caveats,
    )


def _concern(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.concern_vendors_in_use is None:
        return None
    flagged = [d for d in devs if concern_flags(d, ctx.manufacturers)]
    flags = sorted({f for d in flagged for f in concern_flags(d, ctx.manufacturers)})
    if not a.concern_vendors_in_use:
        if flagged:
            return _Result(
                CONTRADICTED,
                f"kit from vendors with concerns is in use: {_names(flagged)} (policy flags: {', '.join(flags)}): "
                f"{_where(flagged)}",
                flagged,
            )
        if not ctx.policy_present:
            return _Result(
                UNVERIFIABLE,
                "the manufacturer list carries no policy flags, so vendors with concerns cannot be recognised",
            )
        return _Result(
            CONSISTENT, "no device of a flagged vendor is in the inventory", devs, depends_on_coverage=True
        )
    if flagged:
        return _Result(
            CONSISTENT, f"{len(flagged)} device(s) from {_names(flagged)} ({', '.join(flags)})", flagged
        )
    return _Result(
        UNVERIFIABLE,
        "answered yes, but no device of a flagged vendor is in the inventory",
        depends_on_coverage=True,
    )


def _count_check(claimed: int | None, seen: list[AuditDevice], what: str, ctx: _Context) -> _Result | None:
    if claimed is None:
        return None
    tolerance = claimed * ctx.answers.count_tolerance_percent / 100
    n = len(seen)
    band = f"{claimed} ± {ctx.answers.count_tolerance_percent:g}%"
    if n > claimed + tolerance:
        return _Result(CONTRADICTED, f"{n} {what} in the inventory, more than {band}", seen)
    if n < claimed - tolerance:
        if ctx.coverage.complete:
            return _Result(
                CONTRADICTED,
                f"only {n} {what} in the inventory, fewer than {band}, though every network was scanned in time",
                seen,
            )
        return _Result(
            UNVERIFIABLE,
            f"{n} {what} in the inventory, fewer than {band}; the rest may be on networks not covered",
            seen,
            depends_on_coverage=True,
        )
    return _Result(CONSISTENT, f"{n} {what} in the inventory, within {band}", seen, depends_on_coverage=True)


def _approximate_count(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    return _count_check(
        a.approximate_count, [d for d in devs if not is_recorder(d)], "units (recorders not counted)", ctx
    )


def _networked_count(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    seen = [d for d in devs if not is_recorder(d) and d.connectivity in NETWORKED_STATES]
    return _count_check(a.networked_count, seen, "networked units", ctx)


def _connectivity(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.connectivity is None:
        return None
    networked = [d for d in devs if d.connectivity in NETWORKED_STATES]
    standalone = [d for d in devs if d.connectivity == "standalone"]
    if a.connectivity == "standalone":
        if networked:
            return _Result(
                CONTRADICTED,
                f"answered standalone, but {len(networked)} unit(s) are on a network: {_where(networked)}",
                networked,
            )
        if standalone or a.standalone_units:
            return _Result(CONSISTENT, "no unit seen on a network; standalone units are declared", standalone)
        return _Result(
            UNVERIFIABLE, "no unit seen on a network and none declared standalone", depends_on_coverage=True
        )
    if a.connectivity == "networked":
        if standalone:
            return _Result(
                CONTRADICTED,
                f"answered networked, but the inventory declares {len(standalone)} standalone unit(s): {_where(standalone)}",
                standalone,
            )
        if networked:
            return _Result(CONSISTENT, f"{len(networked)} unit(s) seen on a network", networked)
        return _Result(UNVERIFIABLE, "no unit of this technology seen on a network", depends_on_coverage=True)
    if networked and (standalone or a.standalone_units):
        return _Result(
            CONSISTENT,
            f"{len(networked)} networked unit(s) seen and standalone units declared",
            networked + standalone,
        )
    return _Result(
        UNVERIFIABLE,
        f"answered both; {len(networked)} networked unit(s) seen, "
        f"{len(standalone) + len(a.standalone_units)} standalone unit(s) declared",
        networked + standalone,
        depends_on_coverage=True,
    )


def _standalone(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    conflicts = [d for d in devs if d.connectivity == "conflict"]
    declared = [d for d in devs if d.connectivity == "standalone"]
    on_network = [u for u in a.standalone_units if ctx.unit_matches.get(id(u))]
    if not (a.standalone_units or conflicts or declared or a.standalone_count is not None):
        return None
    if conflicts or on_network:
        seen = conflicts + [d for u in on_network for d in ctx.unit_matches[id(u)]]
        parts = []
        if conflicts:
            parts.append(f"declared standalone in the inventory but seen on a network: {_where(conflicts)}")
        for u in on_network:
            parts.append(
                f"'{u.name}' (answer file line {u.line}) is declared standalone but seen on a network as "
                f"{_where(ctx.unit_matches[id(u)])}"
            )
        return _Result(CONTRADICTED, "; ".join(parts), seen, units=on_network)
    total = len(declared) + len(a.standalone_units)
    counted = _count_check(
        a.standalone_count,
        [d for d in declared if not is_recorder(d)],
        "standalone units declared in the inventory",
        ctx,
    )
    if (
        counted is not None
        and counted.verdict == CONTRADICTED
        and len(counted.devices) > (a.standalone_count or 0)
    ):
        return counted
    return _Result(
        UNVERIFIABLE,
        f"{total} standalone unit(s) declared ({len(declared)} in the inventory, {len(a.standalone_units)} in the "
        "answer file), none seen on a network; a scan cannot see a standalone unit, so its existence is as declared",
        declared,
        units=list(a.standalone_units),
    )


def _dpia(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.dpia_in_place is None:
        return None
    caveats = []
    without = [d for d in devs if hasattr(d, "dpia_reference") and not getattr(d, "dpia_reference", None)]
    if without:
        caveats.append(
            f"{len(without)} device(s) carry no DPIA reference in the inventory: {_where(without)}"
        )
    ref = f" (answer cites {a.dpia_reference})" if a.dpia_reference else ""
    return _Result(
        UNVERIFIABLE,
        f"a DPIA is a document, not something a network scan can see{ref}; check it on paper",
        without,
        caveats=caveats,
    )


def _firmware_updates(a: TechnologyAnswer, devs: list[AuditDevice], ctx: _Context) -> _Result | None:
    if a.firmware_updates is None:
        return None
    behind = [d for d in devs if firmware_state(d, ctx) == "behind"]
    never = [u for u in a.standalone_units if u.firmware_updated == "never"]
    unknown = [d for d in devs if firmware_state(d, ctx) == "unknown"]
    reason = (
        "how firmware is kept up to date is a process, not something a scan can see; "
        f"{len(behind)} of {len(devs)} device(s) run older firmware than the newest seen for their model, "
        f"{len(never)} declared unit(s) were never updated, {len(unknown)} have no comparable firmware"
    )
    caveats = [
        f"#{d.id} {d.ip or d.site}: {d.model} runs {d.firmware}, newest seen {ctx.newest_firmware[model_key(d.manufacturer, d.model) or ''][1]}"
        for d in behind
    ]
    return _Result(UNVERIFIABLE, reason, behind, units=never, caveats=caveats)


Check = Callable[[TechnologyAnswer, list[AuditDevice], _Context], _Result | None]
#: Question key -> (field whose line the finding points at, check).  Count questions
#: cannot be split between internal and external CCTV device by device.
QUESTIONS: dict[str, tuple[str, Check]] = {
    "in_use": ("in_use", _in_use),
    "manufacturers": ("manufacturers", _manufacturers),
    "concern_vendors_in_use": ("concern_vendors_in_use", _concern),
    "approximate_count": ("approximate_count", _approximate_count),
    "connectivity": ("connectivity", _connectivity),
    "networked_count": ("networked_count", _networked_count),
    "standalone_units": ("standalone_units", _standalone),
    "dpia_in_place": ("dpia_in_place", _dpia),
    "firmware_updates": ("firmware_updates", _firmware_updates),
}
_COUNT_QUESTIONS = {"approximate_count", "networked_count", "standalone_units"}


# -- assembling ------------------------------------------------------------


def _tech_key(d: AuditDevice, placement: dict[str, str]) -> str | None:
    tech = technology_of(d)
    if tech != "cctv":
        return tech
    where = placement_of(d, placement)
    return f"{where}_cctv" if where else UNPLACED


def tech_label(key: str) -> str:
    return TECHNOLOGIES.get(key, "CCTV (placement unknown)")


def _judge(
    question: str,
    check: Check,
    a: TechnologyAnswer,
    by_tech: dict[str, list[AuditDevice]],
    ctx: _Context,
) -> _Result | None:
    definite = by_tech.get(a.technology, [])
    possible = by_tech.get(UNPLACED, []) if a.technology in SIBLING else []
    first = check(a, definite, ctx)
    if first is None or not possible or first.verdict == CONTRADICTED:
        return first
    placement_caveat = (
        f"{len(possible)} CCTV device(s) have no known placement (internal or external): "
        "annotate them or set site_placement in the answer file"
    )
    joint = check(a, definite + possible, ctx)
    assert joint is not None  # the same answer field is set
    if joint.verdict != CONTRADICTED:
        joint.caveats.append(placement_caveat)
        return joint
    possible_ids = {d.id for d in possible}
    deciding = [d for d in joint.devices if d.id in possible_ids]
    if question == "standalone_units" and any(d.connectivity == "conflict" for d in deciding):
        # Declared standalone yet seen on a network contradicts the declaration itself,
        # wherever the unit is placed.
        joint.caveats.append(placement_caveat)
        return joint
    sibling = ctx.answers.technologies.get(SIBLING[a.technology])
    if question not in _COUNT_QUESTIONS and sibling is not None and deciding:
        other = check(sibling, deciding, ctx)
        if other is not None and other.verdict == CONTRADICTED:
            joint.reason = (
                f"{joint.reason}; these CCTV devices have no known placement, but the "
                f"{tech_label(sibling.technology)} answer does not allow them either"
            )
            joint.caveats.append(placement_caveat)
            return joint
    return _Result(
        UNVERIFIABLE,
        f"decided by the placement of CCTV devices whose placement is unknown: {joint.reason}",
        joint.devices,
        depends_on_coverage=joint.depends_on_coverage,
        caveats=[placement_caveat],
    )


def _device_evidence(
    inventory: Inventory, ids: Sequence[int]
) -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    scans: dict[int, set[int]] = defaultdict(set)
    evidence: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return {}, {}
    with inventory.session(read=True) as s:
        rows = (
            row
            for start in range(0, len(ids), ID_BATCH)
            for row in s.execute(
                select(ObservationRow.device_id, ObservationRow.scan_id, ObservationRow.evidence)
                .where(ObservationRow.device_id.in_(list(ids[start : start + ID_BATCH])))
                .order_by(ObservationRow.id)
            )
        )
        kb = default_kb()
        candidates: dict[int, dict[str, int]] = defaultdict(dict)
        for device_id, scan_id, ev in rows:
            if device_id is None:
                continue
            scans[device_id].add(scan_id)
            for item in ev or []:
                if not isinstance(item, list | tuple) or len(item) != 3:
                    continue
                key, value, source = (str(x) for x in item)
                text = f"{key}={value[:MAX_EVIDENCE_CHARS]} ({source})"
                if text not in candidates[device_id]:
                    # Quote first what named the maker or model, then what else a rule matched.
                    m = match_evidence(Evidence(key, value, source), kb)
                    names = m is not None and any(f in _NAMING_FIELDS for f, _ in m.sets)
                    candidates[device_id][text] = 2 if names else 1 if m is not None else 0
        for device_id, texts in candidates.items():
            ranked = sorted(texts, key=lambda t: -texts[t])  # stable: best first, then in order seen
            evidence[device_id] = ranked[:MAX_EVIDENCE_PER_DEVICE]
    return {k: sorted(v) for k, v in scans.items()}, dict(evidence)


def _site_networks(inventory: Inventory) -> dict[str, list[str]]:
    with inventory.session(read=True) as s:
        return {
            name: [str(n) for n in nets or []] for name, nets in s.execute(select(Site.name, Site.networks))
        }


def _unit_matches(
    units: Sequence[StandaloneUnit], devices: Sequence[AuditDevice]
) -> dict[int, list[AuditDevice]]:
    """Answer-file units seen on a network, by MAC, serial or address."""
    out: dict[int, list[AuditDevice]] = {}
    networked = [d for d in devices if d.connectivity in NETWORKED_STATES]
    for u in units:
        hits = [
            d
            for d in networked
            if (u.mac and d.mac and u.mac == d.mac.lower())
            or (u.serial and d.serial and u.serial == d.serial)
            or (u.ip and d.ip and u.ip == d.ip)
        ]
        if hits:
            out[id(u)] = hits
    return out


def _scan_ref(s: ScanRecord, now: datetime) -> ScanRef:
    return ScanRef(
        id=s.id,
        site=s.site,
        status=s.status,
        started_at=s.started_at.isoformat(timespec="seconds"),
        finished_at=s.finished_at.isoformat(timespec="seconds") if s.finished_at else None,
        targets=list(s.targets),
        addresses_done=s.addresses_done,
        addresses_total=s.addresses_total,
        age_days=round((now - s.finished_at).total_seconds() / 86400, 1) if s.finished_at else None,
    )


def verify_answers(
    inventory: Inventory,
    answers: AnswerFile,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    manufacturers: ManufacturerList | None = None,
    now: datetime | None = None,
) -> AuditReport:
    """Judge every answer; the report states the chain head it was computed from."""
    now = now or utcnow()
    manufacturers = manufacturers or default_manufacturers()
    chain = verify_chain(inventory)
    all_devices: list[AuditDevice] = list(inventory.devices())
    scans = inventory.scans()
    db_networks = _site_networks(inventory)
    site_names = sorted({d.site for d in all_devices} | {s.site for s in scans} | set(answers.networks))
    sites = list(answers.sites) if answers.sites else site_names
    devices = [d for d in all_devices if d.site in sites]
    present = [d for d in devices if d.connectivity != "missing"]
    scans = [s for s in scans if s.site in sites]
    networks = {site: [*answers.networks.get(site, ()), *db_networks.get(site, [])] for site in sites}
    units = [u for a in answers.technologies.values() for u in a.standalone_units]
    coverage = assess(sites, scans, devices, networks, now, max_age_days, len(units))

    newest: dict[str, tuple[tuple[int, ...], str]] = {}
    for maker, model, firmware in [(d.manufacturer, d.model, d.firmware) for d in present] + [
        (u.manufacturer, u.model, u.firmware) for u in units
    ]:
        mk, fk = model_key(maker, model), firmware_key(firmware)
        if mk and fk and firmware and (mk not in newest or fk > newest[mk][0]):
            newest[mk] = (fk, firmware)
    ctx = _Context(
        answers=answers,
        devices=present,
        manufacturers=manufacturers,
        coverage=coverage,
        policy_present=policy_data_present(manufacturers, present),
        newest_firmware=newest,
        unit_matches=_unit_matches(units, present),
    )
    by_tech: dict[str, list[AuditDevice]] = defaultdict(list)
    for d in present:
        key = _tech_key(d, answers.site_placement)
        if key:
            by_tech[key].append(d)

    surveyed = [d for ds in by_tech.values() for d in ds]
    device_scans, device_evidence = _device_evidence(inventory, [d.id for d in surveyed])
    scan_by_id = {s.id: s for s in scans}
    completed = [s for s in scans if s.status != "running"]

    def device_ref(d: AuditDevice) -> DeviceRef:
        return DeviceRef(
            id=d.id,
            site=d.site,
            ip=d.ip,
            mac=d.mac,
            brand=d.brand,
            manufacturer=d.manufacturer,
            model=d.model,
            firmware=d.firmware,
            category=d.category,
            connectivity=d.connectivity,
            policy_flags=list(concern_flags(d, manufacturers)),
            scans=device_scans.get(d.id, []),
            evidence=device_evidence.get(d.id, []),
        )

    def unit_ref(u: StandaloneUnit) -> DeviceRef:
        return DeviceRef(
            id=None,
            site="",
            ip=u.ip,
            mac=u.mac,
            brand=None,
            manufacturer=u.manufacturer,
            model=u.model,
            firmware=u.firmware,
            category=None,
            connectivity="standalone",
            policy_flags=list(manufacturers.policy_flags(u.manufacturer)),
            scans=[],
            evidence=[],
            declared_as=f"{u.name} (answer file line {u.line})",
        )

    findings: list[Finding] = []
    for tech, a in answers.technologies.items():
        for question, (field_name, check) in QUESTIONS.items():
            result = _judge(question, check, a, by_tech, ctx)
            if result is None:
                continue
            scan_ids = sorted({sid for d in result.devices for sid in device_scans.get(d.id, [])})
            refs = [scan_by_id[i] for i in scan_ids if i in scan_by_id] or (
                completed if result.depends_on_coverage else []
            )
            caveats = list(result.caveats)
            if result.depends_on_coverage:
                caveats.extend(coverage.caveats)
            findings.append(
                Finding(
                    technology=tech,
                    label=a.label,
                    question=question,
                    claimed=_claimed(a, field_name),
                    verdict=result.verdict,
                    reason=result.reason,
                    answer_line=a.lines.get(field_name),
                    devices=[device_ref(d) for d in result.devices] + [unit_ref(u) for u in result.units],
                    scans=[_scan_ref(s, now) for s in refs],
                    caveats=caveats,
                )
            )

    return AuditReport(
        generated_at=now.isoformat(timespec="seconds") + "Z",
        force=answers.force,
        survey=answers.survey,
        answers_path=answers.path,
        answers_sha256=answers.sha256,
        inventory=inventory.safe_url,
        max_age_days=max_age_days,
        sites=sites,
        chain=chain.as_dict(),
        coverage_caveats=coverage.caveats,
        findings=findings,
        standalone_firmware=_standalone_firmware(devices, units, ctx),
        manufacturers_by_technology=_tally(surveyed, answers, lambda d: maker_of(d) or "unknown"),
        connectivity_by_technology=_by_tech(devices, answers, lambda d: d.connectivity),
        firmware_by_technology=_by_tech(surveyed, answers, lambda d: firmware_state(d, ctx)),
        concern_makers={
            maker: sorted(
                {f for d in surveyed if maker_of(d) == maker for f in concern_flags(d, manufacturers)}
            )
            for maker in sorted({maker_of(d) or "unknown" for d in surveyed})
            if any(concern_flags(d, manufacturers) for d in surveyed if maker_of(d) == maker)
        },
    )


def _claimed(a: TechnologyAnswer, field_name: str) -> Any:
    value = getattr(a, field_name)
    if field_name == "standalone_units":
        if a.standalone_count is None and not a.standalone_units:
            return "not answered (the inventory's standalone declarations were checked)"
        return {"count": a.standalone_count, "units": [u.name for u in a.standalone_units]}
    return list(value) if isinstance(value, tuple) else value


def _tally(
    devs: Sequence[AuditDevice], answers: AnswerFile, key: Callable[[AuditDevice], str]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in devs:
        tech = _tech_key(d, answers.site_placement)
        if tech:
            out[key(d)][tech_label(tech)] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def _by_tech(
    devs: Sequence[AuditDevice], answers: AnswerFile, key: Callable[[AuditDevice], str]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in devs:
        tech = _tech_key(d, answers.site_placement)
        if tech:
            out[tech_label(tech)][key(d)] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def _standalone_firmware(
    devices: Sequence[AuditDevice], units: Sequence[StandaloneUnit], ctx: _Context
) -> list[StandaloneFirmware]:
    out: list[StandaloneFirmware] = []
    rows: list[tuple[str, str | None, str | None, str | None, str | None, str | None]] = [
        (f"#{d.id} {d.ip or ''}".strip(), d.site, d.manufacturer or d.brand, d.model, d.firmware, None)
        for d in devices
        if d.connectivity in ("standalone", "conflict")
    ]
    rows += [
        (
            f"{u.name} (answer file line {u.line})",
            None,
            u.manufacturer,
            u.model,
            u.firmware,
            u.firmware_updated,
        )
        for u in units
    ]
    for name, site, maker, model, firmware, updated in rows:
        mk, fk = model_key(maker, model), firmware_key(firmware)
        newest = ctx.newest_firmware.get(mk or "")
        if updated == "never":
            problem = "firmware never updated"
        elif fk is not None and newest is not None and fk < newest[0]:
            problem = f"older than the newest seen for {model} ({newest[1]})"
        else:
            continue
        out.append(
            StandaloneFirmware(
                name, site, maker, model, firmware, newest[1] if newest else None, updated, problem
            )
        )
    return out
