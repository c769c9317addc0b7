"""Pre-fill the survey answers from the inventory, for a person to check and complete.

What a scan can know is filled in (vendors, concern flags, counts, networked
or standalone); what it cannot (DPIA, firmware process) is left ``null`` with
a comment saying so.  The output is an answer file ``load_answers`` accepts,
and verifying it against the same inventory finds no contradiction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from camsweep.audit.answers import SURVEY_ID, TECHNOLOGIES
from camsweep.audit.technology import (
    NETWORKED_STATES,
    AuditDevice,
    concern_flags,
    is_recorder,
    maker_of,
    placement_of,
    policy_data_present,
    technology_of,
)
from db.repository import Inventory
from fingerprints.manufacturers import ManufacturerList, default_manufacturers


def _v(value: Any) -> str:
    # JSON is valid flow-style YAML and quotes every string safely.
    return json.dumps(value, ensure_ascii=False)


def draft_answers(
    inventory: Inventory,
    force: str,
    sites: Sequence[str] | None = None,
    site_placement: dict[str, str] | None = None,
    manufacturers: ManufacturerList | None = None,
    today: date | None = None,
) -> str:
    """An answer file (YAML text) pre-filled from the inventory."""
    manufacturers = manufacturers or default_manufacturers()
    placement = dict(site_placement or {})
    devices: list[AuditDevice] = [
        d for d in inventory.devices() if d.connectivity != "missing" and (not sites or d.site in sites)
    ]
    policy = policy_data_present(manufacturers, devices)
    by_tech: dict[str, list[AuditDevice]] = defaultdict(list)
    unplaced: list[AuditDevice] = []
    for d in devices:
        tech = technology_of(d)
        if tech == "cctv":
            where = placement_of(d, placement)
            if where is None:
                unplaced.append(d)
                continue
            tech = f"{where}_cctv"
        if tech:
            by_tech[tech].append(d)

    out = [
        f"# Survey answers drafted by `camsweep audit draft` from {inventory.safe_url}",
        f"# on {(today or date.today()).isoformat()}. Check every answer before relying on it:",
        "# a scan cannot see standalone kit, DPIAs or how firmware is updated (left null).",
        "# Format and source: examples/survey-answers.yaml.",
        f"survey: {_v(SURVEY_ID)}",
        f"force: {_v(force)}",
        f"answered_on: {_v((today or date.today()).isoformat())}",
    ]
    if sites:
        out.append(f"sites: {_v(list(sites))}")
    if placement:
        out.append("site_placement:")
        out += [f"  {_v(site)}: {_v(where)}" for site, where in sorted(placement.items())]
    if unplaced:
        makers = sorted({maker_of(d) or "unknown" for d in unplaced})
        out.append(
            f"# {len(unplaced)} CCTV device(s) on sites without a placement ({', '.join(sorted({d.site for d in unplaced}))}),"
        )
        out.append(
            f"# made by {', '.join(makers)}: re-run with --placement SITE=internal|external to sort them."
        )
    out.append("technologies:")
    for tech, label in TECHNOLOGIES.items():
        devs = by_tech.get(tech, [])
        out.append(f"  {tech}:  # {label}")
        if not devs:
            out.append("    in_use: null  # nothing of this kind in the inventory: answer yourself")
            continue
        cameras = [d for d in devs if not is_recorder(d)]
        networked = [d for d in cameras if d.connectivity in NETWORKED_STATES]
        standalone = [d for d in cameras if d.connectivity == "standalone"]
        flagged = [d for d in devs if concern_flags(d, manufacturers)]
        connectivity = "both" if networked and standalone else "standalone" if standalone else "networked"
        out += [
            "    in_use: true",
            f"    manufacturers: {_v(sorted({maker_of(d) for d in devs if maker_of(d)}))}",
            f"    concern_vendors_in_use: {_v(bool(flagged) if policy or flagged else None)}",
            f"    approximate_count: {len(cameras)}",
            f"    connectivity: {_v(connectivity)}",
            f"    networked_count: {len(networked)}",
            f"    standalone_count: {len(standalone)}",
            "    dpia_in_place: null  # a scan cannot see a DPIA",
            "    firmware_updates: null  # describe how firmware is kept up to date",
        ]
    return "\n".join(out) + "\n"
