"""Local-segment discovery: ARP, WS-Discovery multicast and mDNS, once per scan.

Runs over the interfaces whose networks intersect the targets (multicast and
ARP do not cross routers), before the per-address sweep.  Loopback is never
used: there is no ARP there and multicast on ``lo`` would be an unscoped
broadcast to every local process.  Findings are kept only for addresses the
scan was asked to look at, and merged into that address's ``HostReport`` by
the engine, so a device that answered discovery but has no open TCP port is
still reported.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fingerprints.evidence import HostReport, Observation, Status
from scanner.probes import arp, mdns, wsd
from scanner.targets import IPNetwork, TargetSpec
from scanner.udp import multicast_exchange

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """Which local-segment discoveries run, and how long each may wait."""

    arp: bool = True
    wsd: bool = True
    mdns: bool = True
    wsd_wait_s: float = 2.0  # WS-Discovery APP_MAX_DELAY is 500 ms: 2 s covers resends
    wsd_retries: int = 2
    mdns_browse_s: float = 2.0
    mdns_resolve_timeout_s: float = 1.5
    arp_timeout_s: float = 1.0
    arp_retries: int = 1
    interfaces: tuple[str, ...] | None = None  # restrict to these interface names

    @property
    def any(self) -> bool:
        return self.arp or self.wsd or self.mdns


NO_DISCOVERY = DiscoveryOptions(arp=False, wsd=False, mdns=False)


@dataclass(frozen=True, slots=True)
class LocalSegment:
    """One IPv4 interface address and its on-link network."""

    interface: str
    ip: str
    network: ipaddress.IPv4Network


@dataclass(slots=True)
class DiscoveryResult:
    hosts: dict[str, HostReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    segments: list[LocalSegment] = field(default_factory=list)


def local_segments(specs: Sequence[TargetSpec], only: tuple[str, ...] | None = None) -> list[LocalSegment]:
    """Non-loopback IPv4 interfaces whose network intersects a target."""
    import ifaddr  # a dependency of zeroconf; reads the interface list without privileges

    targets: list[IPNetwork] = [n for s in specs for n in s.networks()]
    out = []
    for adapter in ifaddr.get_adapters():
        name = str(adapter.nice_name)
        if only is not None and name not in only:
            continue
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6 entries are tuples
            try:
                net = ipaddress.IPv4Network(f"{ip.ip}/{ip.network_prefix}", strict=False)
            except ValueError:
                continue
            if net.is_loopback or ipaddress.IPv4Address(ip.ip).is_loopback:
                continue
            if any(t.version == 4 and t.overlaps(net) for t in targets):
                out.append(LocalSegment(name, ip.ip, net))
    return out


def _report(hosts: dict[str, HostReport], ip: str) -> HostReport:
    return hosts.setdefault(ip, HostReport(ip))


async def _wsd(
    seg: LocalSegment, opts: DiscoveryOptions, in_scope: Callable[[str], bool], res: DiscoveryResult
) -> None:
    try:
        replies = await multicast_exchange(
            seg.ip, wsd.MULTICAST_GROUP, wsd.PORT, wsd.build_probes(), opts.wsd_wait_s, opts.wsd_retries
        )
    except OSError as exc:
        res.warnings.append(f"WS-Discovery on {seg.interface} failed: {exc.strerror or exc}")
        return
    by_ip: dict[str, list[tuple[bytes, list[wsd.ProbeMatch]]]] = {}
    for data, src in replies:
        if in_scope(src):
            by_ip.setdefault(src, []).append((data, wsd.parse_probe_matches(data)))
    for ip, got in by_ip.items():
        obs = Observation(wsd.NAME, ip, wsd.PORT, Status.SUCCESS)
        matches = [m for _, ms in got for m in ms]
        obs.raw = b"".join(d for d, _ in got)[: 16 * 1024]
        if not matches:
            obs.status = Status.PROTOCOL_MISMATCH
        mac = wsd.add_evidence(obs, matches)
        report = _report(res.hosts, ip)
        report.observations.append(obs)
        if mac and not report.mac:
            report.mac = mdns.normalise_mac(mac)


async def _mdns(
    seg: LocalSegment, opts: DiscoveryOptions, in_scope: Callable[[str], bool], res: DiscoveryResult
) -> None:
    try:
        services = await mdns.browse(
            seg.ip, browse_s=opts.mdns_browse_s, resolve_timeout_s=opts.mdns_resolve_timeout_s
        )
    except OSError as exc:
        res.warnings.append(f"mDNS on {seg.interface} failed: {exc.strerror or exc}")
        return
    for ip, obs in mdns.to_observations(services, in_scope).items():
        report = _report(res.hosts, ip)
        report.observations.append(obs)
    for svc in services:
        mac = svc.mac
        for ip in svc.addresses:
            if mac and in_scope(ip) and not res.hosts[ip].mac:
                res.hosts[ip].mac = mac


async def _arp(
    seg: LocalSegment,
    specs: Sequence[TargetSpec],
    opts: DiscoveryOptions,
    in_scope: Callable[[str], bool],
    res: DiscoveryResult,
) -> None:
    # Sweep only the part of the segment the targets ask for.
    for spec in specs:
        for net in spec.networks():
            if net.version != 4 or not net.overlaps(seg.network):
                continue
            part = net if net.subnet_of(seg.network) else seg.network
            try:
                replies = await arp.sweep(seg.interface, part, opts.arp_timeout_s, opts.arp_retries)
            except arp.ArpUnavailable as exc:
                res.warnings.append(str(exc))
                return
            for r in replies:
                if in_scope(r.ip):
                    _report(res.hosts, r.ip).mac = r.mac


async def discover(
    specs: Sequence[TargetSpec], opts: DiscoveryOptions, in_scope: Callable[[str], bool]
) -> DiscoveryResult:
    """Run the enabled discoveries on every local segment the targets touch.

    Never raises for a device's or the network's behaviour: problems become
    ``warnings`` (each said once) and the scan goes on.
    """
    res = DiscoveryResult()
    if not opts.any:
        return res
    res.segments = local_segments(specs, opts.interfaces)
    jobs = []
    for seg in res.segments:
        if opts.wsd:
            jobs.append(_wsd(seg, opts, in_scope, res))
        if opts.mdns:
            jobs.append(_mdns(seg, opts, in_scope, res))
        if opts.arp:
            jobs.append(_arp(seg, specs, opts, in_scope, res))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, Exception):
            raise r
        if isinstance(r, Exception):
            res.warnings.append(f"discovery failed: {type(r).__name__}: {r}")
    res.warnings = list(dict.fromkeys(res.warnings))
    for w in res.warnings:
        # Returned to the caller, who shows them once (the CLI prints them); logged only at debug.
        log.debug("%s", w)
    return res
