"""Target parsing and scope checks.

Targets are parsed up front (so every mistake is reported before a packet is
sent) but *expanded lazily*: a /8 is one ``TargetSpec`` and is walked one
address at a time, never held in memory.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fingerprints.errors import ConfigError, ScopeError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Refuse target sets larger than this unless the operator raises it: a typo
#: like 10.0.0.0/8 for 10.0.0.0/24 should not start a 16-million-host sweep.
DEFAULT_MAX_ADDRESSES = 1 << 16


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One parsed target: an inclusive address range, and the text it came from."""

    text: str
    first: IPAddress
    last: IPAddress

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def addresses(self) -> Iterator[IPAddress]:
        cls = type(self.first)
        for n in range(int(self.first), int(self.last) + 1):
            yield cls(n)

    def networks(self) -> Iterator[IPNetwork]:
        return ipaddress.summarize_address_range(self.first, self.last)


def _is_allowed_without_flag(net: IPNetwork) -> bool:
    """Loopback, private (RFC 1918, ULA) and link-local ranges are fine by default."""
    return bool(net.is_private or net.is_loopback or net.is_link_local)


def _parse_one(text: str, origin: str) -> list[TargetSpec]:
    text = text.strip()
    if not text:
        return []
    where = f" ({origin})" if origin else ""
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return [TargetSpec(text, net[0], net[-1])]
        if "-" in text:
            lo_txt, hi_txt = (part.strip() for part in text.split("-", 1))
            lo = ipaddress.ip_address(lo_txt)
            if hi_txt.isdigit() and isinstance(lo, ipaddress.IPv4Address):
                hi: IPAddress = ipaddress.IPv4Address(".".join([*lo_txt.split(".")[:3], hi_txt]))
            else:
                hi = ipaddress.ip_address(hi_txt)
            if type(lo) is not type(hi) or int(hi) < int(lo):
                raise ConfigError(f"target {text!r}{where}: range end is before its start")
            return [TargetSpec(text, lo, hi)]
        addr = ipaddress.ip_address(text)
        return [TargetSpec(text, addr, addr)]
    except ValueError:
        pass
    # A hostname: resolve it now, so its addresses are scope-checked like any other.
    try:
        infos = socket.getaddrinfo(text, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            f"target {text!r}{where} is not an address, CIDR, range (a-b) or resolvable hostname"
        ) from exc
    seen: dict[str, TargetSpec] = {}
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        seen.setdefault(str(ip), TargetSpec(text, ip, ip))
    return list(seen.values())


def parse_targets(items: Iterable[str]) -> list[TargetSpec]:
    """Parse addresses, CIDRs, ranges, hostnames and ``@file`` references."""
    specs: list[TargetSpec] = []
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read target file {path}: {exc.strerror}") from exc
            except UnicodeDecodeError as exc:
                raise ConfigError(f"target file {path} is not UTF-8 text") from exc
            for lineno, line in enumerate(lines, 1):
                line = line.split("#", 1)[0].strip()
                for word in line.replace(",", " ").split():
                    specs.extend(_parse_one(word, f"{path}:{lineno}"))
        else:
            for word in item.replace(",", " ").split():
                specs.extend(_parse_one(word, ""))
    if not specs:
        raise ConfigError("no targets given")
    return specs


@dataclass(frozen=True, slots=True)
class Scope:
    """What the operator allows: site networks, exclusions, public space, size."""

    allow_public: bool = False
    site_networks: tuple[IPNetwork, ...] = ()
    site_name: str | None = None
    exclude: tuple[IPNetwork, ...] = ()
    max_addresses: int = DEFAULT_MAX_ADDRESSES

    def check(self, specs: Sequence[TargetSpec]) -> None:
        """Raise :class:`ScopeError` naming the first target the scope refuses."""
        total = 0
        for spec in specs:
            total += spec.size
            for net in spec.networks():
                if not self.allow_public and not _is_allowed_without_flag(net):
                    raise ScopeError(
                        f"target {spec.text!r} includes public address space ({net}); "
                        "pass --allow-public if you are authorised to scan it"
                    )
                if self.site_networks and not any(
                    net.version == s.version and net.subnet_of(s)  # type: ignore[arg-type]
                    for s in self.site_networks
                ):
                    raise ScopeError(
                        f"target {spec.text!r} is outside the networks of site "
                        f"{self.site_name!r} ({', '.join(map(str, self.site_networks))})"
                    )
        if total > self.max_addresses:
            raise ScopeError(
                f"targets cover {total:,} addresses, more than the limit of "
                f"{self.max_addresses:,}; narrow them or raise --max-addresses"
            )

    def excluded(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.exclude)


def iter_addresses(specs: Sequence[TargetSpec], scope: Scope) -> Iterator[IPAddress]:
    """Yield each in-scope address once per spec, lazily."""
    for spec in specs:
        for ip in spec.addresses():
            if not scope.excluded(ip):
                yield ip


def count_addresses(specs: Sequence[TargetSpec], scope: Scope) -> int:
    """How many addresses ``iter_addresses`` will yield (exclusions counted exactly)."""
    # Overlapping exclusions (a /25 and a /26 inside it) must be subtracted once.
    merged: list[IPNetwork] = []
    for version in (4, 6):
        nets = [n for n in scope.exclude if n.version == version]
        merged.extend(ipaddress.collapse_addresses(nets))  # type: ignore[type-var]
    total = 0
    for spec in specs:
        total += spec.size
        for ex in merged:
            lo = max(int(spec.first), int(ex[0]))
            hi = min(int(spec.last), int(ex[-1]))
            if ex.version == spec.first.version and hi >= lo:
                total -= hi - lo + 1
    return total


def parse_networks(items: Iterable[str], what: str = "network") -> tuple[IPNetwork, ...]:
    """Addresses or CIDRs (comma or space separated) for exclusions and site networks.

    A mistake raises :class:`ConfigError` naming the item and where it came from.
    """
    out: list[IPNetwork] = []
    for item in items:
        for word in item.replace(",", " ").split():
            try:
                out.append(ipaddress.ip_network(word, strict=False))
            except ValueError as exc:
                raise ConfigError(f"{what} {word!r} is not an address or CIDR") from exc
    return tuple(out)
