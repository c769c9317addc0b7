"""The generic fingerprint self-test (after Recog): every example of every rule
matches its rule, extracts exactly what it declares, and no earlier rule steals it;
the negative corpus never comes out as a camera; bad data stops with file, rule, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from fingerprints.errors import FingerprintDataError
from fingerprints.evidence import EVIDENCE_KEYS
from fingerprints.matcher import identify
from fingerprints.rules import RULES_DIR, Rule, load_rule_file, load_rules
from fingerprints.selftest import check_rule, load_negative_corpus, run_selftest

ALL = [(key, i, rule) for key, rules in load_rules().items() for i, rule in enumerate(rules)]
NEGATIVE = load_negative_corpus()


@pytest.mark.parametrize(("key", "index", "rule"), ALL, ids=[r.id for _, _, r in ALL])
def test_rule_examples(key: str, index: int, rule: Rule) -> None:
    assert check_rule(rule, load_rules()[key][:index]) == []
    assert rule.source, f"{rule.id} names no source"


def test_whole_selftest_passes_and_covers_every_rule() -> None:
    report = run_selftest()
    assert report.problems == []
    assert report.rules == len(ALL)
    assert report.examples >= report.rules
    assert report.negative_hosts == len(NEGATIVE) >= 15


def test_every_rule_file_is_an_evidence_key_and_the_core_keys_have_rules() -> None:
    files = {p.stem for p in RULES_DIR.glob("*.yaml")}
    assert files <= set(EVIDENCE_KEYS)
    assert {
        "http.server",
        "http.realm",
        "http.title",
        "http.favicon",
        "tls.subject",
        "rtsp.server",
        "rtsp.realm",
        "onvif.manufacturer",
        "onvif.model",
        "onvif.firmware",
        "wsd.scope",
        "mdns.service",
        "port.open",
    } <= files


@pytest.mark.parametrize("host", NEGATIVE, ids=[h.name for h in NEGATIVE])
def test_negative_corpus_is_never_a_camera(host) -> None:  # type: ignore[no-untyped-def]
    assert not identify(host.evidence).is_camera
    for ev in host.evidence:
        assert not identify([ev]).is_camera, ev


def test_selftest_catches_a_shadowed_example(tmp_path: Path) -> None:
    p = tmp_path / "http.server.yaml"
    p.write_text(
        "key: http.server\nrules:\n"
        "  - {id: broad, description: d, source: s, pattern: '^App', sets: {manufacturer: Hikvision},"
        " examples: [{value: App, expect: {manufacturer: Hikvision}}]}\n"
        "  - {id: narrow, description: d, source: s, pattern: '^App-webs/', sets: {manufacturer: Hikvision},"
        " examples: [{value: App-webs/, expect: {manufacturer: Hikvision}}]}\n"
    )
    rules = load_rule_file(p)
    assert check_rule(rules[0], ()) == []
    assert "shadowed by earlier rule 'broad'" in check_rule(rules[1], (rules[0],))[0]


def test_selftest_catches_wrong_extraction_and_counter_example(tmp_path: Path) -> None:
    p = tmp_path / "http.server.yaml"
    p.write_text(
        "key: http.server\nrules:\n"
        "  - id: r1\n    description: d\n    source: s\n    pattern: '^uc-httpd (?P<v>[0-9.]+)'\n"
        "    sets: {firmware: '{v}'}\n    examples: [{value: uc-httpd 1.0.0, expect: {firmware: '2.0'}}]\n"
        "    counter_examples: [uc-httpd 9]\n"
    )
    (rule,) = load_rule_file(p)
    problems = check_rule(rule, ())
    assert any("extracted {'firmware': '1.0.0'}" in x for x in problems)
    assert any("counter-example 'uc-httpd 9' matches" in x for x in problems)


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "http.server.yaml"
    p.write_text(text)
    return p


def test_bad_regex_stops_with_file_line_and_rule(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "key: http.server\nrules:\n"
        "  - {id: r1, description: d, source: s, pattern: '(', sets: {brand: X}, examples: [{value: a}]}\n",
    )
    with pytest.raises(FingerprintDataError, match=r"http.server.yaml:3, rule 'r1': bad regular expression"):
        load_rule_file(p)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {colour: X}, examples: [{value: a}]}",
            "unknown field",
        ),
        (
            "{id: r1, description: d, pattern: a, sets: {brand: X}, examples: [{value: a}]}",
            "missing 'source'",
        ),
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {brand: X}, examples: []}",
            "missing 'examples'",
        ),
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {category: toaster}, examples: [{value: a}]}",
            "category 'toaster' is not one of",
        ),
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {model: '{m}'}, examples: [{value: a}]}",
            r"uses \['m'\], not named groups",
        ),
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {brand: X}, certainty: 2, examples: [{value: a}]}",
            "'certainty' must be a number",
        ),
        (
            "{id: r1, description: d, source: s, pattern: a, sets: {brand: X}, bogus: 1, examples: [{value: a}]}",
            "bogus",
        ),
    ],
)
def test_bad_rule_stops_with_reason(tmp_path: Path, rule: str, reason: str) -> None:
    p = _write(tmp_path, f"key: http.server\nrules:\n  - {rule}\n")
    with pytest.raises(FingerprintDataError, match=reason):
        load_rule_file(p)


def test_file_named_for_another_key_stops(tmp_path: Path) -> None:
    p = _write(tmp_path, "key: rtsp.server\nrules: []\n")
    with pytest.raises(FingerprintDataError, match="file is named for 'http.server'"):
        load_rule_file(p)


def test_unreadable_yaml_stops_with_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "key: [unclosed\n")
    with pytest.raises(FingerprintDataError, match="http.server.yaml: cannot be read as YAML"):
        load_rule_file(p)
