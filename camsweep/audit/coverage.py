"""What the scans did and did not cover: never-scanned networks, old scans, blind spots.

Every caveat is a sentence an auditor can act on.  ``gaps`` are the ones that
make an absence unprovable (a network never scanned, a scan too old or cut
short); ``notes`` describe kit a scan cannot see by nature (declared-only
standalone units, cameras behind recorders).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from camsweep.audit.technology import AuditDevice, is_recorder
from db.repository import ScanRecord

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class Coverage:
    gaps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def caveats(self) -> list[str]:
        return [*self.gaps, *self.notes]


def _target_networks(targets: Sequence[str]) -> list[Network]:
    out: list[Network] = []
    for t in targets:
        try:
            if "-" in t:
                lo, hi = t.split("-", 1)
                first = ipaddress.ip_address(lo.strip())
                last_text = hi.strip()
                if "." not in last_text and ":" not in last_text:  # 10.0.0.5-9: last octet only
                    last_text = lo.strip().rsplit(".", 1)[0] + "." + last_text
                out.extend(ipaddress.summarize_address_range(first, ipaddress.ip_address(last_text)))
            else:
                out.append(ipaddress.ip_network(t, strict=False))
        except (ValueError, TypeError):
            continue  # a hostname: its address is not known here, so it covers no declared network
    return out


def _covered(net: Network, blocks: Sequence[Network]) -> int:
    """Addresses of ``net`` inside ``blocks`` (blocks are collapsed, so they do not overlap)."""
    total = 0
    for b in blocks:
        if b.version != net.version:
            continue
        if b.supernet_of(net):  # type: ignore[arg-type]
            return net.num_addresses
        if net.supernet_of(b):  # type: ignore[arg-type]
            total += b.num_addresses
    return total


def _fmt(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts else "never"


def assess(
    sites: Sequence[str],
    scans: Sequence[ScanRecord],
    devices: Sequence[AuditDevice],
    networks: Mapping[str, Sequence[str]],
    now: datetime,
    max_age_days: int,
    declared_units: int,
) -> Coverage:
    cov = Coverage()
    limit = now - timedelta(days=max_age_days)
    for site in sites:
        of_site = [s for s in scans if s.site == site]
        done = [s for s in of_site if s.status == "completed" and s.finished_at is not None]
        if not done:
            cov.gaps.append(
                f"site {site!r}: never scanned to completion, so nothing there can be confirmed absent"
            )
        else:
            newest = max(done, key=lambda s: s.finished_at or s.started_at)
            if newest.finished_at is not None and newest.finished_at < limit:
                age = (now - newest.finished_at).days
                cov.gaps.append(
                    f"site {site!r}: newest completed scan (#{newest.id}, {_fmt(newest.finished_at)}) "
                    f"is {age} days old, older than the {max_age_days}-day limit"
                )
        for s in of_site:
            if s.status not in ("completed", "running"):
                cov.gaps.append(
                    f"site {site!r}: scan #{s.id} ({_fmt(s.started_at)}) stopped early ({s.status}) after "
                    f"{s.addresses_done} of {s.addresses_total} addresses"
                )
        recent = [s for s in done if s.finished_at is not None and s.finished_at >= limit]
        blocks = list(
            ipaddress.collapse_addresses(
                [n for s in recent for n in _target_networks(s.targets) if n.version == 4]
            )
        )
        blocks6 = list(
            ipaddress.collapse_addresses(
                [n for s in recent for n in _target_networks(s.targets) if n.version == 6]
            )
        )
        for text in networks.get(site, ()):
            net = ipaddress.ip_network(text, strict=False)
            got = _covered(net, blocks if net.version == 4 else blocks6)
            if got == 0:
                ever = any(_covered(net, _target_networks(s.targets)) for s in of_site)
                when = f"not scanned in the last {max_age_days} days" if ever else "never scanned"
                cov.gaps.append(f"site {site!r}: network {net} {when}")
            elif got < net.num_addresses:
                cov.gaps.append(
                    f"site {site!r}: network {net} only partly scanned in the last {max_age_days} days "
                    f"({got} of {net.num_addresses} addresses)"
                )
    attached = [d for d in devices if d.connectivity == "recorder-attached"]
    recorders = [d for d in devices if is_recorder(d) and d.connectivity != "standalone"]
    if attached:
        cov.notes.append(
            f"{len(attached)} camera(s) were seen only through a recorder's channel list, which needs the "
            "recorder's credentials: a scan without them would not see these"
        )
    elif recorders:
        cov.notes.append(
            f"{len(recorders)} recorder(s) seen but no camera behind one: cameras on a recorder's own PoE "
            "ports are invisible to a network scan unless its channel list is read with credentials"
        )
    standalone = [d for d in devices if d.connectivity == "standalone"]
    if standalone or declared_units:
        cov.notes.append(
            f"{len(standalone) + declared_units} standalone unit(s) are declared only (inventory: "
            f"{len(standalone)}, answer file: {declared_units}): no scan can see them, so their make, model "
            "and firmware are as declared"
        )
    missing = [d for d in devices if d.connectivity == "missing"]
    if missing:
        cov.notes.append(
            f"{len(missing)} device(s) no longer answer on a scanned network (missing) and are not counted"
        )
    return cov
