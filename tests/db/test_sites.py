"""Site configuration in the inventory: declared networks, validated and audited (both backends)."""

from __future__ import annotations

import pytest

from camsweep.audit.coverage import assess
from camsweep.audit.verify import _site_networks
from db.records import utcnow
from db.repository import Inventory
from fingerprints.errors import ConfigError


def test_set_site_creates_then_replaces_networks_and_audits_each_change(db_url: str) -> None:
    with Inventory(db_url) as inv:
        made = inv.set_site("hq", ["10.20.0.7/24", "fd00:1::/64", "10.20.0.0/24"], actor="ada")
        assert made.name == "hq"
        assert made.networks == ["10.20.0.0/24", "fd00:1::/64"]  # normalised, repeats dropped
        inv.set_site("depot", ["192.168.5.0/24"], actor="ada")
        replaced = inv.set_site("hq", ["172.16.0.0/16"], actor="bob")
        assert replaced.networks == ["172.16.0.0/16"]
        assert replaced.created_at == made.created_at
    with Inventory(db_url) as inv:  # what was committed, read back by a fresh connection
        assert [(s.name, s.networks) for s in inv.sites()] == [
            ("depot", ["192.168.5.0/24"]),
            ("hq", ["172.16.0.0/16"]),
        ]
        log = [(a.actor, a.detail) for a in inv.actions("site.configure")]
        assert log == [
            ("ada", {"site": "hq", "networks": ["10.20.0.0/24", "fd00:1::/64"]}),
            ("ada", {"site": "depot", "networks": ["192.168.5.0/24"]}),
            ("bob", {"site": "hq", "networks": ["172.16.0.0/16"]}),
        ]


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        (["10.0.0.0/8", "8.8.8.0/24"], "'8.8.8.0/24'"),
        (["10.0.0.0/33"], "'10.0.0.0/33' is not a network"),
        (["hq-lan"], "'hq-lan' is not a network"),
        ([], "at least one network"),
    ],
)
def test_bad_networks_are_refused_naming_the_culprit_and_change_nothing(
    db_url: str, networks: list[str], message: str
) -> None:
    with Inventory(db_url) as inv:
        inv.set_site("hq", ["10.20.0.0/24"], actor="ada")
        with pytest.raises(ConfigError, match=message):
            inv.set_site("hq", networks, actor="ada")
        assert [s.networks for s in inv.sites()] == [["10.20.0.0/24"]]
        assert len(inv.actions("site.configure")) == 1


def test_public_space_needs_the_explicit_flag(db_url: str) -> None:
    with Inventory(db_url) as inv:
        with pytest.raises(ConfigError, match="public address space"):
            inv.set_site("dmz", ["81.2.69.0/24"])
        assert inv.set_site("dmz", ["81.2.69.0/24"], allow_public=True).networks == ["81.2.69.0/24"]


def test_the_audit_coverage_sees_the_networks_a_site_declares(db_url: str) -> None:
    with Inventory(db_url) as inv:
        inv.set_site("hq", ["10.20.0.0/24", "10.21.0.0/24"], actor="ada")
        scan = inv.begin_scan(["10.20.0.0/24"], site="hq", total=256)
        inv.finish_scan(scan, "completed", done=256)
        networks = _site_networks(inv)  # the audit's own reader of sites.networks
        assert networks == {"hq": ["10.20.0.0/24", "10.21.0.0/24"]}
        cov = assess(["hq"], inv.scans(), [], networks, utcnow(), max_age_days=30, declared_units=0)
    assert "site 'hq': network 10.21.0.0/24 never scanned" in cov.gaps
    assert not any("10.20.0.0/24" in g for g in cov.gaps), cov.gaps
