"""The manufacturer list: OEM links, policy flags with dates, an organisation's own list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fingerprints.errors import FingerprintDataError
from fingerprints.evidence import Evidence
from fingerprints.manufacturers import MANUFACTURERS_FILE, load_manufacturers
from fingerprints.matcher import _kb, default_kb, identify

ALL_FOUR = ("BSCC-SURVEY-2022", "FCC-COVERED", "NDAA-889", "UK-WMS-2022")


def test_policies_have_dates_and_sources() -> None:
    m = load_manufacturers()
    assert set(m.policies) == set(ALL_FOUR)
    assert m.policies["NDAA-889"].effective == dt.date(2019, 8, 13)
    assert m.policies["UK-WMS-2022"].effective == dt.date(2022, 11, 24)
    assert all(p.sources and p.sources[0].startswith("http") for p in m.policies.values())


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("Hikvision", ALL_FOUR),
        ("Dahua", ALL_FOUR),
        ("Huawei", ALL_FOUR),
        ("ZTE", ("FCC-COVERED", "NDAA-889", "UK-WMS-2022")),
        ("Hytera", ("FCC-COVERED", "NDAA-889", "UK-WMS-2022")),
        ("Honeywell", ("BSCC-SURVEY-2022",)),
        ("Nuuo", ("BSCC-SURVEY-2022",)),
        ("DJI", ("BSCC-SURVEY-2022", "UK-WMS-2022")),
        ("EZVIZ", ALL_FOUR),  # subsidiary: flags of its maker
        ("Lorex", ALL_FOUR),
        ("Uniview", ("UK-WMS-2022",)),  # PRC company: the UK statement only
        ("Axis", ()),
        ("Avigilon", ()),
    ],
)
def test_policy_flags(name: str, flags: tuple[str, ...]) -> None:
    assert load_manufacturers().policy_flags(name) == flags


def test_brand_links_carry_evidence_confidence_and_source() -> None:
    m = load_manufacturers()
    lts = m.brand("lts")
    assert lts is not None and (lts.maker, lts.relation, lts.confidence) == ("Hikvision", "oem", "C")
    lorex = m.brand("LOREX")
    assert lorex is not None and lorex.maker == "Dahua" and lorex.source.startswith("https://")
    assert m.canonical_brand("hik vision") == "Hikvision"


def _org(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "our-vendors.yaml"
    p.write_text(text)
    return p


def test_organisation_list_merges_over_packaged(tmp_path: Path) -> None:
    p = _org(
        tmp_path,
        "policies:\n"
        "  - {id: FORCE-BAN, title: Our force's banned vendors, effective: 2024-01-01, sources: [https://intranet.example/ban]}\n"
        "makers:\n"
        "  - {name: Axis, country: SE, policy_flags: [FORCE-BAN], source: our review}\n"
        "brands:\n"
        "  - {name: Acme Optics, maker: Dahua, relation: oem, confidence: C, source: our teardown 2024}\n",
    )
    m = load_manufacturers(MANUFACTURERS_FILE, p)
    assert m.policy_flags("Axis") == ("FORCE-BAN",)
    assert m.maker_of("Acme Optics") == "Dahua"
    assert m.policy_flags("Hikvision") == ALL_FOUR  # packaged entries kept
    kb = default_kb(p)
    ident = identify([Evidence("onvif.manufacturer", "Acme Optics")], kb)
    assert (ident.brand, ident.manufacturer) == ("Acme Optics", "Dahua")
    _kb.cache_clear()


def test_organisation_list_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _org(tmp_path, "brands:\n  - {name: Zeta Cams, maker: Hikvision, relation: oem, source: our audit}\n")
    monkeypatch.setenv("CAMSWEEP_VENDOR_LIST", str(p))
    ident = identify([Evidence("onvif.manufacturer", "Zeta Cams")])
    assert ident.manufacturer == "Hikvision"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "brands:\n  - {name: X, maker: Nobody, relation: oem, source: s}\n",
            r"our-vendors.yaml:2, rule 'X': names unknown maker",
        ),
        ("brands:\n  - {name: X, maker: Dahua, relation: cousin, source: s}\n", "relation must be one of"),
        ("brands:\n  - {name: X, maker: Dahua, relation: oem}\n", "missing 'source'"),
        ("policies:\n  - {id: P, title: t, effective: someday, sources: [u]}\n", "must be a date"),
        ("makers:\n  - {name: Y, policy_flags: [NOPE]}\n", "policy flag 'NOPE' is not a known policy"),
        ("vendors: []\n", "unknown section"),
        ("makers: [\n", "cannot be read as YAML"),
    ],
)
def test_bad_organisation_list_is_a_clear_error(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(FingerprintDataError, match=reason):
        load_manufacturers(MANUFACTURERS_FILE, _org(tmp_path, text))


def test_names_are_unique_ignoring_case_and_punctuation(tmp_path: Path) -> None:
    text = "brands:\n  - {name: Acme, maker: Dahua, relation: oem, source: s}\n  - {name: A.C.M.E, maker: Hikvision, relation: oem, source: s}\n"
    with pytest.raises(FingerprintDataError, match=r"rule 'A.C.M.E': name clashes with 'Acme'"):
        load_manufacturers(MANUFACTURERS_FILE, _org(tmp_path, text))
