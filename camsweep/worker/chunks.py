"""Split targets into address-range chunks, arithmetically.

A /16 is never expanded to plan its chunks: each ``TargetSpec`` is an
inclusive integer range, cut into ranges of ``chunk_size`` addresses.
Exclusions are applied when a chunk is scanned (``iter_addresses``) and
counted exactly when it is planned, overlapping exclusions merged first (so a
chunk is never skipped because two exclusions covered the same address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fingerprints.errors import ConfigError
from scanner.targets import IPAddress, IPNetwork, Scope, TargetSpec

#: Addresses per chunk by default: small enough that a redelivered chunk
#: repeats little work, large enough that the broker is not the bottleneck.
DEFAULT_CHUNK_SIZE = 256


@dataclass(frozen=True, slots=True)
class Chunk:
    """One unit of work: an inclusive address range of one scan."""

    idx: int
    first: IPAddress
    last: IPAddress
    addresses: int  # in scope, exclusions subtracted

    @property
    def spec(self) -> TargetSpec:
        return TargetSpec(f"{self.first}-{self.last}", self.first, self.last)


def _merged(exclude: Sequence[IPNetwork], version: int) -> list[tuple[int, int]]:
    nets = [n for n in exclude if n.version == version]
    return [(int(n[0]), int(n[-1])) for n in ipaddress.collapse_addresses(nets)]  # type: ignore[type-var]


def _in_scope(lo: int, hi: int, excluded: Sequence[tuple[int, int]]) -> int:
    """Addresses of ``lo..hi`` outside the (disjoint, merged) excluded ranges."""
    total = hi - lo + 1
    for ex_lo, ex_hi in excluded:
        overlap = min(hi, ex_hi) - max(lo, ex_lo) + 1
        if overlap > 0:
            total -= overlap
    return total


def plan_chunks(
    specs: Sequence[TargetSpec], scope: Scope, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[Chunk]:
    """Yield the chunks of ``specs`` in order; ranges wholly excluded are skipped."""
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1 (got {chunk_size})")
    merged = {4: _merged(scope.exclude, 4), 6: _merged(scope.exclude, 6)}
    idx = 0
    for spec in specs:
        cls = type(spec.first)
        lo, hi = int(spec.first), int(spec.last)
        while lo <= hi:
            end = min(hi, lo + chunk_size - 1)
            n = _in_scope(lo, end, merged[spec.first.version])
            if n > 0:
                yield Chunk(idx, cls(lo), cls(end), n)
                idx += 1
            lo = end + 1


def chunk_from_message(first: str, last: str) -> TargetSpec:
    """The range a chunk task was given, validated (messages cross a trust boundary)."""
    try:
        lo, hi = ipaddress.ip_address(first), ipaddress.ip_address(last)
    except ValueError as exc:
        raise ConfigError(f"chunk range {first!r}-{last!r} is not a pair of addresses") from exc
    if type(lo) is not type(hi) or int(hi) < int(lo):
        raise ConfigError(f"chunk range {first}-{last} is empty or mixes address families")
    return TargetSpec(f"{lo}-{hi}", lo, hi)
