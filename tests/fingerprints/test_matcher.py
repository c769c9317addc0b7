"""Fusion: all evidence of a host -> one explained identification."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fingerprints.evidence import Evidence
from fingerprints.matcher import identify, unmatched_line
from fingerprints.selftest import check_positive, load_positive_corpus

POSITIVE = load_positive_corpus()


def ev(*pairs: tuple[str, str]) -> list[Evidence]:
    return [Evidence(k, v, "test") for k, v in pairs]


@pytest.mark.parametrize("host", POSITIVE, ids=[h.name for h in POSITIVE])
def test_positive_corpus_identified_right(host) -> None:  # type: ignore[no-untyped-def]
    assert check_positive(host) == []


def test_positive_check_can_fail() -> None:
    host = POSITIVE[0]
    wrong = replace(host, expect={**host.expect, "manufacturer": "Dahua"})
    assert check_positive(wrong) == ["manufacturer is 'Hikvision', expected 'Dahua'"]


def test_oem_brand_resolves_to_maker_with_reason() -> None:
    ident = identify(ev(("http.server", "App-webs/"), ("onvif.manufacturer", "LTS")))
    assert (ident.brand, ident.manufacturer, ident.is_camera) == ("LTS", "Hikvision", True)
    assert any(line.startswith("LTS -> Hikvision: oem") for line in ident.explanation)
    assert "NDAA-889" in ident.policy_flags


def test_contradicting_evidence_is_kept_and_explained() -> None:
    ident = identify(
        ev(
            ("http.server", "App-webs/"),
            ("onvif.manufacturer", "HIKVISION"),
            ("rtsp.server", "Dahua Rtsp Server"),
        )
    )
    assert ident.manufacturer == "Hikvision"
    assert [m.rule_id for m in ident.contradicting] == ["rtsp.server.dahua"]
    assert any(line.startswith("contradicts: rtsp.server") for line in ident.explanation)
    assert all(m.rule_id != "rtsp.server.dahua" for m in ident.supporting)


def test_oui_alone_is_weak() -> None:
    ident = identify(ev(("mac.address", "54:c4:15:00:00:01")))
    assert ident.manufacturer == "Hikvision" and not ident.is_camera and ident.category is None
    assert ident.confidence < 0.5


def test_rebrand_with_makers_oui_keeps_brand() -> None:
    # Montavue camera with a Dahua OUI (CamioCam/rtsp #118)
    ident = identify(ev(("mac.address", "3c:ef:8c:00:00:01"), ("onvif.manufacturer", "Montavue")))
    assert (ident.brand, ident.manufacturer) == ("Montavue", "Dahua")
    assert ident.contradicting == ()


def test_unknown_brand_keeps_name_without_maker() -> None:
    ident = identify(ev(("onvif.manufacturer", "Acme Optics"), ("onvif.model", "X1")))
    assert ident.is_camera and ident.brand == "Acme Optics" and ident.manufacturer is None
    assert ident.policy_flags == ()


def test_no_evidence_is_unknown() -> None:
    assert not identify([]).is_camera


def test_unmatched_logged_once_in_corpus_format(caplog: pytest.LogCaptureFixture) -> None:
    value = "nginx/1.99.0-once-only"
    with caplog.at_level(logging.INFO, logger="fingerprints.matcher"):
        identify(ev(("http.server", value)))
        identify(ev(("http.server", value)))
    lines = [r.getMessage() for r in caplog.records if value in r.getMessage()]
    assert lines == ["unmatched evidence: " + unmatched_line("http.server", value)]
    assert unmatched_line("http.title", "it's") == "- {key: http.title, value: 'it''s'}"


def test_huge_and_hostile_values_do_not_break_matching() -> None:
    ident = identify(ev(("http.server", "App-webs/" + "A" * 1_000_000), ("onvif.manufacturer", "\x00" * 10)))
    assert ident.manufacturer == "Hikvision"


KEYS = [
    "http.server",
    "http.realm",
    "http.title",
    "rtsp.server",
    "onvif.manufacturer",
    "onvif.model",
    "onvif.firmware",
    "wsd.scope",
    "mac.address",
    "tls.subject",
    "port.open",
    "http.api",
]


@given(st.lists(st.tuples(st.sampled_from(KEYS), st.text(max_size=300)), max_size=12))
def test_any_evidence_identifies_without_error(pairs: list[tuple[str, str]]) -> None:
    ident = identify(ev(*pairs))
    assert 0.0 <= ident.confidence <= 1.0
    assert not (ident.category and not ident.is_camera)


def test_sibling_brand_oui_does_not_contradict() -> None:
    ident = identify(ev(("mac.address", "0c:a6:4c:00:00:01"), ("onvif.manufacturer", "HIKVISION")))
    assert (ident.brand, ident.manufacturer) == ("Hikvision", "Hikvision")
    assert ident.contradicting == ()


def test_contradicting_match_lends_no_fields() -> None:
    ident = identify(
        ev(
            ("onvif.firmware", "V2.620.00AC000.3.R, Build Date: 2019-12-18"),
            ("rtsp.server", "Dahua Rtsp Server"),
            ("onvif.serial", "DS-2CD2142FWD-I20160101AAWRC12345678"),
        )
    )
    assert (ident.brand, ident.manufacturer, ident.oem_build) == ("Amcrest", "Dahua", "00AC000")
    assert ident.model is None and ident.serial is None
    assert [m.rule_id for m in ident.contradicting] == ["onvif.serial.hikvision"]
    assert any("OEM build field 00AC000" in line for line in ident.explanation)


def test_hikvision_serial_names_the_model() -> None:
    ident = identify(
        ev(("http.server", "App-webs/"), ("onvif.serial", "DS-2CD2142FWD-I20160101AAWRC12345678"))
    )
    assert (ident.model, ident.category) == ("DS-2CD2142FWD-I", "fixed")
