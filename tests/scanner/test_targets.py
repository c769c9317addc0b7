"""Target parsing and scope: every refusal names the target, before any packet."""

from __future__ import annotations

import ipaddress

import pytest

from fingerprints.errors import ConfigError, ScopeError
from scanner.targets import Scope, count_addresses, iter_addresses, parse_targets


def test_forms_parse() -> None:
    specs = parse_targets(["10.0.0.1", "10.0.1.0/30", "10.0.2.5-7", "10.0.3.1-10.0.3.2", "localhost"])
    sizes = [s.size for s in specs]
    assert sizes[:4] == [1, 4, 3, 2]
    assert any(s.first.is_loopback for s in specs[4:])


def test_file_targets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "t.txt"
    f.write_text("# cameras\n10.0.0.1, 10.0.0.2\n\n192.168.0.0/31  # lobby\n")
    specs = parse_targets([f"@{f}"])
    assert [s.text for s in specs] == ["10.0.0.1", "10.0.0.2", "192.168.0.0/31"]


def test_bad_target_is_named() -> None:
    with pytest.raises(ConfigError, match="no-such-host.invalid"):
        parse_targets(["no-such-host.invalid"])
    with pytest.raises(ConfigError, match="before its start"):
        parse_targets(["10.0.0.9-10.0.0.1"])


def test_public_space_refused_unless_allowed() -> None:
    specs = parse_targets(["8.8.8.0/30"])
    with pytest.raises(ScopeError, match="8.8.8.0/30.*--allow-public"):
        Scope().check(specs)
    Scope(allow_public=True).check(specs)


def test_range_straddling_public_space_refused() -> None:
    with pytest.raises(ScopeError, match="public"):
        Scope().check(parse_targets(["10.255.255.250-11.0.0.2"]))


def test_site_networks_enforced() -> None:
    scope = Scope(site_networks=(ipaddress.ip_network("10.1.0.0/16"),), site_name="hq")
    scope.check(parse_targets(["10.1.2.0/24"]))
    with pytest.raises(ScopeError, match="outside the networks of site 'hq'"):
        scope.check(parse_targets(["10.2.0.1"]))


def test_absurd_size_refused() -> None:
    with pytest.raises(ScopeError, match="16,777,216 addresses"):
        Scope().check(parse_targets(["10.0.0.0/8"]))


def test_addresses_streamed_lazily_with_exclusions() -> None:
    specs = parse_targets(["10.0.0.0/8"])
    scope = Scope(exclude=(ipaddress.ip_network("10.0.0.0/30"),), max_addresses=1 << 25)
    it = iter_addresses(specs, scope)
    assert str(next(it)) == "10.0.0.4"  # a /8 is not materialised to get here
    assert count_addresses(specs, scope) == (1 << 24) - 4


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scanner.targets import parse_networks  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789./-:abcdef, ", max_size=40))
def test_target_and_network_parsing_fail_only_with_config_errors(text: str) -> None:
    # Any mistake is a ConfigError naming the input, never another exception.
    # (Letters outside a-f keep hostname lookups out of this test: no DNS.)
    if any(c.isalpha() and c not in "abcdef" for c in text) or any(
        w and not any(ch in w for ch in "./:-") and any(c.isalpha() for c in w)
        for w in text.replace(",", " ").split()
    ):
        return
    try:
        parse_networks([text])
    except ConfigError as exc:
        assert "is not an address or CIDR" in str(exc)


def test_parse_networks_examples() -> None:
    nets = parse_networks(["10.0.0.1, 10.1.0.0/16", "fe80::/64"])
    assert [str(n) for n in nets] == ["10.0.0.1/32", "10.1.0.0/16", "fe80::/64"]
    with pytest.raises(ConfigError, match="'10.0.0.0/33'"):
        parse_networks(["10.0.0.0/33"], "--exclude")


def test_overlapping_exclusions_are_counted_once() -> None:
    specs = parse_targets(["10.0.0.0/24"])
    scope = Scope(exclude=(ipaddress.ip_network("10.0.0.0/25"), ipaddress.ip_network("10.0.0.0/26")))
    assert count_addresses(specs, scope) == 128 == sum(1 for _ in iter_addresses(specs, scope))
