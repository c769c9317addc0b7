"""ARP sweep of a local segment for MAC addresses (scapy; RFC 826).

Needs raw sockets (root or CAP_NET_RAW).  Without them the sweep is skipped
with one warning and the scan goes on: MACs are strong evidence but not
required.  Raw frames leave through the interface named, so tests only ever
run this inside a network namespace they created.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.probes.mdns import normalise_mac

NAME = "arp"
#: Largest network swept in one go: ARP requests are broadcasts, keep them gentle.
MAX_SWEEP_ADDRESSES = 4096

log = logging.getLogger(__name__)


class ArpUnavailable(Exception):
    """Raw sockets are not permitted here; the message says why (shown once)."""


@dataclass(frozen=True, slots=True)
class ArpReply:
    ip: str
    mac: str


def has_privileges() -> bool:
    """CAP_NET_RAW in the effective set (Linux; root without it cannot send raw frames either)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 13))  # CAP_NET_RAW = 13
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


def build_requests(network: ipaddress.IPv4Network) -> list[Any]:
    """Broadcast who-has frames for every host address of ``network`` (bounded)."""
    from scapy.layers.l2 import ARP, Ether

    hosts = list(network.hosts()) if network.num_addresses > 2 else list(network)
    return [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=str(ip)) for ip in hosts[:MAX_SWEEP_ADDRESSES]]


def parse_replies(pairs: Iterable[tuple[str | None, str | None]]) -> list[ArpReply]:
    """``(psrc, hwsrc)`` pairs of is-at replies -> validated, deduplicated replies."""
    out: dict[str, ArpReply] = {}
    for psrc, hwsrc in pairs:
        if not psrc or not hwsrc:
            continue
        try:
            ip = ipaddress.IPv4Address(psrc)
        except ValueError:
            continue
        mac = normalise_mac(hwsrc)
        if mac is None or mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            continue
        out.setdefault(str(ip), ArpReply(str(ip), mac))
    return list(out.values())


def _sweep_blocking(
    iface: str, network: ipaddress.IPv4Network, timeout_s: float, retries: int
) -> list[ArpReply]:
    from scapy.config import conf
    from scapy.sendrecv import srp

    conf.verb = 0
    try:
        answered, _ = srp(
            build_requests(network), iface=iface, timeout=timeout_s, retry=retries, verbose=False
        )
    except PermissionError as exc:
        raise ArpUnavailable(f"ARP sweep needs raw sockets (root or CAP_NET_RAW): {exc}") from exc
    except OSError as exc:
        raise ArpUnavailable(f"ARP sweep on {iface} failed: {exc}") from exc
    return parse_replies((getattr(r, "psrc", None), getattr(r, "hwsrc", None)) for _, r in answered)


async def sweep(
    iface: str, network: ipaddress.IPv4Network, timeout_s: float = 1.0, retries: int = 1
) -> list[ArpReply]:
    """ARP-sweep ``network`` out of ``iface``; raises :class:`ArpUnavailable` without privileges."""
    if not has_privileges():
        raise ArpUnavailable("ARP sweep skipped: it needs root or CAP_NET_RAW")
    if network.num_addresses > MAX_SWEEP_ADDRESSES:
        log.warning("ARP sweep of %s limited to its first %d addresses", network, MAX_SWEEP_ADDRESSES)
    # scapy blocks; run it in a thread so the loop (and the other discovery) keeps going.
    return await asyncio.to_thread(_sweep_blocking, iface, network, timeout_s, retries)
