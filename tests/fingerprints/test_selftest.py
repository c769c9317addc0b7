"""The generic fingerprint self-test (after Recog): every example of every rule
matches its rule, extracts exactly what it declares, and no earlier rule steals it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fingerprints.errors import FingerprintDataError
from fingerprints.rules import Rule, load_rule_file, load_rules

ALL = [(key, i, rule) for key, rules in load_rules().items() for i, rule in enumerate(rules)]


@pytest.mark.parametrize(("key", "index", "rule"), ALL, ids=[r.id for _, _, r in ALL])
def test_rule_examples(key: str, index: int, rule: Rule) -> None:
    earlier = load_rules()[key][:index]
    for ex in rule.examples:
        got = rule.apply(ex.value)
        assert got is not None, f"{rule.id}: example {ex.value!r} does not match"
        assert got == dict(ex.expect), f"{rule.id}: example {ex.value!r} extracted {got}"
        for other in earlier:
            assert other.apply(ex.value) is None, f"{rule.id}: example {ex.value!r} is shadowed by {other.id}"


def test_there_are_rules() -> None:
    assert len(ALL) >= 1


def _write(tmp: Path, text: str) -> Path:
    p = tmp / "http.server.yaml"
    p.write_text(text)
    return p


def test_bad_regex_stops_with_file_and_rule(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "key: http.server\nrules:\n  - {id: r1, description: d, pattern: '(', sets: {brand: X}, examples: [{value: a}]}\n",
    )
    with pytest.raises(FingerprintDataError, match=r"http.server.yaml, rule 'r1': bad regular expression"):
        load_rule_file(p)


def test_unknown_field_stops(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "key: http.server\nrules:\n  - {id: r1, description: d, pattern: a, sets: {colour: X}, examples: [{value: a}]}\n",
    )
    with pytest.raises(FingerprintDataError, match="unknown field"):
        load_rule_file(p)
