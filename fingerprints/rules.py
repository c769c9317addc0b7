"""Load and validate fingerprint data files (after Rapid7 Recog).

Rules live in ``fingerprints/data/rules/<evidence key>.yaml``.  Each rule has
an id, a description, a source, a regular expression, what it sets (values
may use ``{name}`` for a named group), a certainty, and examples with the
values they must extract.  A malformed file stops start-up with the file, the
rule and the reason: never a silent skip (STYLE.md §4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from fingerprints.errors import FingerprintDataError
from fingerprints.evidence import EVIDENCE_KEYS

DATA_DIR = Path(__file__).parent / "data"
RULES_DIR = DATA_DIR / "rules"

#: Fields a rule may set on an identification.
SETTABLE = frozenset(
    {"brand", "manufacturer", "model", "firmware", "category", "serial", "capability", "is_camera"}
)
_RULE_FIELDS = frozenset({"id", "description", "source", "pattern", "flags", "sets", "certainty", "examples"})


@dataclass(frozen=True, slots=True)
class Example:
    value: str
    expect: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One fingerprint: a pattern over one evidence key and what a match sets."""

    id: str
    key: str
    description: str
    source: str
    pattern: re.Pattern[str]
    sets: Mapping[str, str]
    certainty: float
    examples: tuple[Example, ...]
    file: str

    def apply(self, value: str) -> dict[str, str] | None:
        """The fields this rule sets for ``value``, or ``None`` if it does not match."""
        m = self.pattern.search(value)
        if m is None:
            return None
        groups = {k: (v or "").strip() for k, v in m.groupdict().items()}
        out: dict[str, str] = {}
        for field_name, template in self.sets.items():
            try:
                filled = template.format(**groups).strip()
            except (KeyError, IndexError):
                filled = template
            if filled:
                out[field_name] = filled
        return out


def _fail(path: Path, rule_id: str | None, reason: str) -> FingerprintDataError:
    where = f"{path}" + (f", rule {rule_id!r}" if rule_id else "")
    return FingerprintDataError(f"{where}: {reason}")


def load_rule_file(path: Path) -> list[Rule]:
    """Parse and validate one rule file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fail(path, None, f"cannot be read as YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise _fail(path, None, "must be a mapping with 'key' and a list 'rules'")
    key = doc.get("key")
    if key != path.stem:
        raise _fail(path, None, f"'key' is {key!r} but the file is named for {path.stem!r}")
    if key not in EVIDENCE_KEYS:
        raise _fail(path, None, f"unknown evidence key {key!r}")
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw in doc["rules"]:
        rules.append(_parse_rule(path, key, raw, seen))
    return rules


def _parse_rule(path: Path, key: str, raw: Any, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(path, None, "each rule must be a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid:
        raise _fail(path, None, "a rule has no 'id'")
    if rid in seen:
        raise _fail(path, rid, "duplicate id")
    seen.add(rid)
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise _fail(path, rid, f"unknown field(s) {sorted(unknown)}")
    for required in ("description", "pattern", "sets", "examples"):
        if required not in raw:
            raise _fail(path, rid, f"missing '{required}'")
    flags = 0
    for letter in str(raw.get("flags", "")):
        if letter not in "ims":
            raise _fail(path, rid, f"unknown regex flag {letter!r} (use i, m, s)")
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[letter]
    try:
        pattern = re.compile(str(raw["pattern"]), flags)
    except re.error as exc:
        raise _fail(path, rid, f"bad regular expression: {exc}") from exc
    sets = raw["sets"]
    if not isinstance(sets, dict) or not sets:
        raise _fail(path, rid, "'sets' must be a non-empty mapping")
    bad = set(sets) - SETTABLE
    if bad:
        raise _fail(path, rid, f"'sets' has unknown field(s) {sorted(bad)}")
    certainty = raw.get("certainty", 0.5)
    if not isinstance(certainty, (int, float)) or not 0 < certainty <= 1:
        raise _fail(path, rid, "'certainty' must be a number in (0, 1]")
    examples_raw = raw["examples"]
    if not isinstance(examples_raw, list) or not examples_raw:
        raise _fail(path, rid, "needs at least one example")
    examples = []
    for ex in examples_raw:
        if not isinstance(ex, dict) or "value" not in ex:
            raise _fail(path, rid, "each example needs a 'value'")
        expect = ex.get("expect", {}) or {}
        examples.append(Example(str(ex["value"]), {k: str(v) for k, v in expect.items()}))
    return Rule(
        id=rid,
        key=key,
        description=str(raw["description"]),
        source=str(raw.get("source", "")),
        pattern=pattern,
        sets={k: str(v) for k, v in sets.items()},
        certainty=float(certainty),
        examples=tuple(examples),
        file=str(path),
    )


@lru_cache(maxsize=4)
def load_rules(rules_dir: Path = RULES_DIR) -> dict[str, tuple[Rule, ...]]:
    """All rule files, by evidence key."""
    out: dict[str, tuple[Rule, ...]] = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        out[path.stem] = tuple(load_rule_file(path))
    return out
