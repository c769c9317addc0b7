"""Chunk planning: the chunks cover exactly the addresses a plain scan would visit."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsweep.worker.chunks import chunk_from_message, plan_chunks
from fingerprints.errors import ConfigError
from scanner.targets import Scope, iter_addresses, parse_targets


def test_a_slash_16_is_planned_without_expanding_it() -> None:
    specs = parse_targets(["10.0.0.0/16"])
    chunks = list(plan_chunks(specs, Scope(), chunk_size=256))
    assert len(chunks) == 256
    assert (str(chunks[0].first), str(chunks[0].last)) == ("10.0.0.0", "10.0.0.255")
    assert (str(chunks[-1].first), str(chunks[-1].last)) == ("10.0.255.0", "10.0.255.255")
    assert [c.idx for c in chunks] == list(range(256))


def test_exclusions_are_counted_and_wholly_excluded_ranges_skipped() -> None:
    specs = parse_targets(["10.0.0.0/24"])
    scope = Scope(exclude=(ipaddress.ip_network("10.0.0.0/26"), ipaddress.ip_network("10.0.0.200/32")))
    chunks = list(plan_chunks(specs, scope, chunk_size=64))
    assert [str(c.first) for c in chunks] == ["10.0.0.64", "10.0.0.128", "10.0.0.192"]
    assert [c.addresses for c in chunks] == [64, 64, 63]
    assert [c.idx for c in chunks] == [0, 1, 2]


def test_overlapping_exclusions_never_hide_a_chunk() -> None:
    # Two exclusions covering the same addresses must not be subtracted twice.
    specs = parse_targets(["10.0.0.0/24"])
    scope = Scope(exclude=(ipaddress.ip_network("10.0.0.0/25"), ipaddress.ip_network("10.0.0.0/26")))
    chunks = list(plan_chunks(specs, scope, chunk_size=256))
    assert [(str(c.first), c.addresses) for c in chunks] == [("10.0.0.0", 128)]


def test_bad_chunk_size_and_bad_messages_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="chunk size"):
        list(plan_chunks(parse_targets(["10.0.0.1"]), Scope(), chunk_size=0))
    with pytest.raises(ConfigError, match="not a pair of addresses"):
        chunk_from_message("10.0.0.1", "nonsense")
    with pytest.raises(ConfigError, match="empty"):
        chunk_from_message("10.0.0.9", "10.0.0.1")
    with pytest.raises(ConfigError, match="families"):
        chunk_from_message("10.0.0.1", "::1")


@settings(max_examples=60, deadline=None)
@given(
    ranges=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 300)), min_size=1, max_size=4),
    excluded=st.lists(st.tuples(st.integers(0, 900), st.integers(24, 32)), max_size=3),
    chunk_size=st.integers(1, 200),
)
def test_chunks_cover_exactly_what_a_single_machine_scan_visits(
    ranges: list[tuple[int, int]], excluded: list[tuple[int, int]], chunk_size: int
) -> None:
    base = int(ipaddress.IPv4Address("10.1.0.0"))
    targets = [
        f"{ipaddress.IPv4Address(base + lo)}-{ipaddress.IPv4Address(base + lo + n)}" for lo, n in ranges
    ]
    scope = Scope(
        exclude=tuple(
            ipaddress.ip_network(f"{ipaddress.IPv4Address(base + at)}/{plen}", strict=False)
            for at, plen in excluded
        )
    )
    specs = parse_targets(targets)
    chunks = list(plan_chunks(specs, scope, chunk_size))
    visited = [ip for c in chunks for ip in iter_addresses([c.spec], scope)]
    assert visited == list(iter_addresses(specs, scope))
    assert sum(c.addresses for c in chunks) == len(visited)
    assert all(0 < c.addresses <= chunk_size for c in chunks)
