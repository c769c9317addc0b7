"""A drafted answer file is consistent with the inventory it came from; reports are self-contained."""

from __future__ import annotations

import json
import re
from pathlib import Path

from camsweep.audit.answers import parse_answers
from camsweep.audit.draft import draft_answers
from camsweep.audit.render import to_html, to_json, to_markdown
from camsweep.audit.verify import verify_answers
from db.repository import Inventory
from tests.camsweep.audit.conftest import add_device, flagged_manufacturers


def test_draft_round_trips_with_no_contradiction(scanned: Inventory, tmp_path: Path) -> None:
    mlist = flagged_manufacturers(tmp_path)
    add_device(
        scanned, brand="DJI", manufacturer="DJI", model="Mavic 3", category="drone", connectivity="standalone"
    )
    add_device(
        scanned, site="custody", ip="10.99.1.2", brand="Annke", manufacturer="Hikvision", category="dome"
    )
    text = draft_answers(scanned, "Lab Constabulary", site_placement={"hq": "external"}, manufacturers=mlist)
    answers = parse_answers(text, "draft.yaml")
    ext = answers.technologies["external_cctv"]
    assert (
        ext.manufacturers == ("Hikvision",)
        and ext.approximate_count == 2
        and ext.concern_vendors_in_use is True
    )
    assert answers.technologies["drones"].connectivity == "standalone"
    assert answers.technologies["anpr"].in_use is None  # nothing seen: left for a person
    assert "custody" in text and "--placement" in text  # unplaced CCTV is pointed out, not guessed
    report = verify_answers(scanned, answers, manufacturers=mlist)
    assert report.contradictions() == []
    assert sum(report.counts().values()) == len(report.findings) > 5


def test_reports_are_self_contained_and_escape_device_strings(scanned: Inventory, tmp_path: Path) -> None:
    mlist = flagged_manufacturers(tmp_path)
    hostile = '<img src="http://evil.example/x.png" onerror=alert(1)>|'
    add_device(
        scanned, ip="10.99.0.9", brand="Hikvision", manufacturer="Hikvision", model=hostile, category="camera"
    )
    answers = parse_answers(
        "force: Lab\nsite_placement: {hq: internal}\ntechnologies:\n  internal_cctv: {manufacturers: [Axis]}\n",
        "a.yaml",
    )
    report = verify_answers(scanned, answers, manufacturers=mlist)
    html = to_html(report)
    assert html.count("<svg") == 3 and "manufacturers by technology" in html
    assert "<img" not in html and "&lt;img" in html
    # No external assets: the only URL is the SVG namespace.
    assert set(re.findall(r'(?:src|href|xmlns)="([^"]+)"', html)) <= {"http://www.w3.org/2000/svg"}
    assert "<script" not in html
    assert report.chain_head in html and f"Chain head: `{report.chain_head}`" in to_markdown(report)
    md = to_markdown(report)
    assert "\\|" in md and "<img" not in md
    doc = json.loads(to_json(report))
    assert doc["chain_head"] == report.chain_head and doc["counts"]["contradicted"] == 1
    [finding] = [f for f in doc["findings"] if f["verdict"] == "contradicted"]
    assert finding["question"] == "manufacturers" and any(d["model"] == hostile for d in finding["devices"])
