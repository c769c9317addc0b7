"""Done when: a lab fleet scanned into an inventory, a correct answer file gives no contradiction,
a deliberately wrong one has every wrong answer named with the devices that decide it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from camsweep.audit.answers import parse_answers
from camsweep.audit.report import CONSISTENT, CONTRADICTED, UNVERIFIABLE, AuditReport
from camsweep.audit.verify import verify_answers
from camsweep.lab import Lab
from db.repository import Inventory, utcnow
from fingerprints.manufacturers import ManufacturerList
from tests.camsweep.audit.conftest import add_device, flagged_manufacturers, lab_network, set_connectivity

CORRECT = """
force: Lab Constabulary
site_placement: {{hq: external}}
networks: {{hq: [{net}]}}
technologies:
  internal_cctv: {{in_use: false, concern_vendors_in_use: false}}
  external_cctv:
    in_use: true
    manufacturers: [Hikvision]
    concern_vendors_in_use: true
    approximate_count: 2
    connectivity: networked
    networked_count: 2
    dpia_in_place: true
    firmware_updates: Quarterly by the contractor
  anpr: {{in_use: true, manufacturers: [Dahua], concern_vendors_in_use: true, approximate_count: 1, connectivity: networked}}
  body_worn_video: {{in_use: true, manufacturers: [Reveal], concern_vendors_in_use: false, approximate_count: 1}}
  drones:
    in_use: true
    manufacturers: [DJI]
    concern_vendors_in_use: true
    approximate_count: 2
    connectivity: standalone
    standalone_count: 2
  helicopter_cameras: {{in_use: false}}
  facial_recognition: {{in_use: false}}
"""

WRONG = """
force: Lab Constabulary
site_placement: {{hq: external}}
networks: {{hq: [{net}]}}
technologies:
  external_cctv:
    in_use: true
    manufacturers: [Axis]            # wrong: Hikvision cameras and recorder are on the network
    concern_vendors_in_use: false    # wrong: Hikvision is flagged
    approximate_count: 10            # wrong: 2 seen, and the network was fully scanned
    connectivity: standalone         # wrong: they are networked
    dpia_in_place: true              # unknowable
    standalone_units:
      - {{name: Gate camera, manufacturer: Hikvision, ip: "{hik_ip}"}}   # wrong: it is on the network
  anpr: {{in_use: true, manufacturers: [Dahua], approximate_count: 0}}   # wrong count: 1 seen
  body_worn_video: {{in_use: false}}                                     # wrong: a dock is on the network
  drones: {{in_use: true, manufacturers: [DJI], concern_vendors_in_use: false, firmware_updates: Never}}
"""


@pytest.fixture
def fleet_inventory(scanned: Inventory, lab: Lab) -> Inventory:
    """The scanned lab (two Hikvision cameras, an nginx decoy) plus kit a scan of it cannot produce."""
    add_device(scanned, ip="10.99.0.5", brand="Dahua", manufacturer="Dahua", model="ITC237", category="anpr")
    add_device(
        scanned,
        ip="10.99.0.6",
        brand="Reveal",
        manufacturer="Reveal",
        model="DockController",
        category="body-worn-dock",
    )
    add_device(
        scanned,
        ip="10.99.0.7",
        brand="Hikvision",
        manufacturer="Hikvision",
        model="DS-7608NI",
        category="nvr",
        is_camera=False,
    )
    for fw in ("v04.01.0016", "v04.01.0022"):
        add_device(
            scanned,
            ip=None,
            brand="DJI",
            manufacturer="DJI",
            model="Matrice 30T",
            firmware=fw,
            category="drone",
            connectivity="standalone",
        )
    return scanned


def _verify(inventory: Inventory, text: str, mlist: ManufacturerList, **kw: object) -> AuditReport:
    return verify_answers(inventory, parse_answers(text, "answers.yaml"), manufacturers=mlist, **kw)  # type: ignore[arg-type]


def _verdicts(report: AuditReport) -> dict[tuple[str, str], str]:
    return {(f.technology, f.question): f.verdict for f in report.findings}


def test_correct_answers_have_no_contradiction(fleet_inventory: Inventory, lab: Lab, tmp_path: Path) -> None:
    report = _verify(fleet_inventory, CORRECT.format(net=lab_network(lab)), flagged_manufacturers(tmp_path))
    assert report.contradictions() == [], [
        (f.technology, f.question, f.reason) for f in report.contradictions()
    ]
    v = _verdicts(report)
    assert v[("external_cctv", "manufacturers")] == CONSISTENT
    assert v[("external_cctv", "approximate_count")] == CONSISTENT
    assert v[("drones", "connectivity")] == CONSISTENT
    assert v[("internal_cctv", "in_use")] == CONSISTENT
    assert v[("external_cctv", "dpia_in_place")] == UNVERIFIABLE
    assert v[("external_cctv", "firmware_updates")] == UNVERIFIABLE
    assert report.chain["ok"] and report.chain_head == report.chain["head"] and len(report.chain_head) == 64
    # The network was fully scanned moments ago: only the notes about what scans cannot see remain.
    assert not any("never scanned" in c or "days old" in c for c in report.coverage_caveats)
    hik = next(f for f in report.findings if (f.technology, f.question) == ("external_cctv", "manufacturers"))
    lab_ips = {d.ip for d in lab.fleet.devices if d.personality.brand == "Hikvision"}
    assert lab_ips <= {d.ip for d in hik.devices}
    scanned_refs = [d for d in hik.devices if d.ip in lab_ips]
    # Each device is quoted with the scans that saw it and, first, the evidence that identified it.
    identifying = ("http.server=App-webs/", "onvif.", "wsd.scope=", "tls.subject=", "http.api=", "rtsp.")
    assert all(d.scans and d.evidence and d.evidence[0].startswith(identifying) for d in scanned_refs), [
        d.evidence for d in scanned_refs
    ]
    assert hik.scans and hik.scans[0].status == "completed"
    # Standalone drones: the one behind the newest firmware seen for its model is listed.
    [stale] = report.standalone_firmware
    assert stale.firmware == "v04.01.0016" and stale.newest_seen == "v04.01.0022"


def test_wrong_answers_are_each_named_with_deciding_devices(
    fleet_inventory: Inventory, lab: Lab, tmp_path: Path
) -> None:
    hik_ip = next(d.ip for d in lab.fleet.devices if d.personality.brand == "Hikvision")
    text = WRONG.format(net=lab_network(lab), hik_ip=hik_ip)
    report = _verify(fleet_inventory, text, flagged_manufacturers(tmp_path))
    contradicted = {(f.technology, f.question) for f in report.contradictions()}
    assert contradicted == {
        ("external_cctv", "manufacturers"),
        ("external_cctv", "concern_vendors_in_use"),
        ("external_cctv", "approximate_count"),
        ("external_cctv", "connectivity"),
        ("external_cctv", "standalone_units"),
        ("anpr", "approximate_count"),
        ("body_worn_video", "in_use"),
        ("drones", "concern_vendors_in_use"),
    }
    by_q = {(f.technology, f.question): f for f in report.findings}
    makers = by_q[("external_cctv", "manufacturers")]
    assert "Hikvision" in makers.reason and {d.manufacturer for d in makers.devices} == {"Hikvision"}
    assert {d.model for d in makers.devices} >= {"DS-7608NI"}  # the recorder's maker counts too
    concern = by_q[("external_cctv", "concern_vendors_in_use")]
    assert "BSCC-SURVEY-2022" in concern.reason and all(d.policy_flags for d in concern.devices)
    gate = by_q[("external_cctv", "standalone_units")]
    assert "Gate camera" in gate.reason and hik_ip in {d.ip for d in gate.devices}
    assert any(d.declared_as and "line" in d.declared_as for d in gate.devices)
    assert by_q[("external_cctv", "approximate_count")].answer_line == 10
    drones = by_q[("drones", "concern_vendors_in_use")]
    assert {d.manufacturer for d in drones.devices} == {"DJI"}
    dpia = by_q[("external_cctv", "dpia_in_place")]
    assert dpia.verdict == UNVERIFIABLE and "scan can" in dpia.reason
    fw = by_q[("drones", "firmware_updates")]
    assert fw.verdict == UNVERIFIABLE and "v04.01.0016" in " ".join(fw.caveats)


def test_conflict_unknown_placement_and_coverage_caveats(
    fleet_inventory: Inventory, lab: Lab, tmp_path: Path
) -> None:
    mlist = flagged_manufacturers(tmp_path)
    # A camera declared standalone that a scan found on the network: the inventory says "conflict".
    conflict = add_device(
        fleet_inventory, ip="10.99.0.9", brand="Axis", manufacturer="Axis", model="M3106", category="dome"
    )
    set_connectivity(fleet_inventory, conflict, "conflict")
    add_device(
        fleet_inventory,
        ip="10.99.0.10",
        brand="Annke",
        manufacturer="Hikvision",
        model="C800",
        category="camera",
        connectivity="recorder-attached",
    )
    text = f"""
force: Lab Constabulary
networks: {{hq: [{lab_network(lab)}, 10.99.0.0/24]}}
technologies:
  internal_cctv: {{in_use: true, manufacturers: [Axis, Annke]}}
  external_cctv: {{in_use: true, manufacturers: [Axis], standalone_count: 1}}
"""
    later = utcnow() + timedelta(days=120)
    report = _verify(fleet_inventory, text, mlist, now=later)
    v = _verdicts(report)
    # No site placement: Hikvision (App-webs) cameras could be internal or external.  Internal does not
    # list Hikvision by maker (Annke covers only the Annke-branded unit), nor does external: contradicted.
    assert v[("internal_cctv", "manufacturers")] == CONTRADICTED
    f = next(f for f in report.findings if (f.technology, f.question) == ("internal_cctv", "manufacturers"))
    assert "does not allow them either" in f.reason and any("placement" in c for c in f.caveats)
    assert v[("external_cctv", "standalone_units")] == CONTRADICTED
    caveats = " ".join(report.coverage_caveats)
    assert "network 10.99.0.0/24 never scanned" in caveats
    assert "days old" in caveats and "120" in caveats
    assert "through a recorder" in caveats
    assert "standalone unit(s) are declared only" in caveats


def test_unplaced_cctv_is_unverifiable_when_the_other_answer_allows_it(
    scanned: Inventory, tmp_path: Path
) -> None:
    text = """
force: F
technologies:
  internal_cctv: {in_use: true, manufacturers: [Hikvision]}
  external_cctv: {in_use: true, manufacturers: [Axis]}
"""
    report = _verify(scanned, text, flagged_manufacturers(tmp_path))
    v = _verdicts(report)
    assert v[("internal_cctv", "manufacturers")] == CONSISTENT
    assert v[("external_cctv", "manufacturers")] == UNVERIFIABLE


def test_no_policy_data_means_concern_answer_is_unverifiable(db_url: str) -> None:
    inventory = Inventory(db_url)
    try:
        add_device(inventory, manufacturer="Hikvision", brand="Hikvision", category="fixed", policy_flags=[])
        report = _verify(
            inventory,
            "force: F\ntechnologies:\n  internal_cctv: {concern_vendors_in_use: false}\n",
            ManufacturerList(),
        )
    finally:
        inventory.close()
    assert {f.verdict for f in report.findings} == {UNVERIFIABLE}
    assert "no policy flags" in report.findings[0].reason


def test_rebadged_kit_counts_as_its_real_maker(scanned: Inventory, tmp_path: Path) -> None:
    add_device(
        scanned,
        site="custody",
        ip="10.99.2.2",
        brand="Annke",
        manufacturer="Hikvision",
        model="C800",
        category="dome",
    )
    text = """
force: F
sites: [custody]
site_placement: {custody: internal}
technologies:
  internal_cctv: {manufacturers: [Annke], concern_vendors_in_use: false, approximate_count: 1}
"""
    report = _verify(scanned, text, flagged_manufacturers(tmp_path))
    assert report.sites == ["custody"]  # the scanned lab in "hq" is out of scope
    by_q = {f.question: f for f in report.findings}
    assert by_q["manufacturers"].verdict == CONSISTENT
    assert any("Annke is made by Hikvision" in c for c in by_q["manufacturers"].caveats)
    concern = by_q["concern_vendors_in_use"]
    assert concern.verdict == CONTRADICTED and "Hikvision" in concern.reason
    assert [d.brand for d in concern.devices] == ["Annke"]
    assert by_q["approximate_count"].verdict == CONSISTENT
