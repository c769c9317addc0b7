"""Load and validate fingerprint rule files (after Rapid7 Recog).

Rules live in ``fingerprints/data/rules/<evidence key>.yaml``.  Each rule has
an id, a description, a source, a regular expression, what it sets (values
may use ``{name}`` for a named group), a certainty, and examples with the
values they must extract; ``counter_examples`` are values it must not match.
A malformed file stops start-up with the file, the line, the rule and the
reason: never a silent skip (STYLE.md §4).
"""

from __future__ import annotations

import re
import string
import urllib.parse
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

#: The controlled category vocabulary (STYLE.md §6).  ``camera`` means "a
#: camera-system device of unknown form"; ``recorder`` an NVR or DVR not yet told apart.
CATEGORIES: tuple[str, ...] = (
    "camera",
    "fixed",
    "dome",
    "ptz",
    "recorder",
    "nvr",
    "dvr",
    "anpr",
    "body-worn-dock",
    "thermal",
    "encoder",
    "intercom",
    "drone-dock",
)

_RULE_FIELDS = frozenset(
    {"id", "description", "source", "pattern", "flags", "sets", "certainty", "examples", "counter_examples"}
)
_LINE = "__line__"
#: Longest evidence value matched; devices are untrusted and banners can be huge.
MAX_VALUE_CHARS = 1024
#: Longest pattern accepted; patterns run on every banner of every host.
MAX_PATTERN_CHARS = 2000


#: libyaml's safe loader when PyYAML was built with it (the usual wheel): the rule files
#: load in a fifth of the time, which every scan pays at start-up.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that remembers the line of every mapping (for error messages)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Parse ``path`` safely; every mapping carries its line under ``__line__``."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # a SafeLoader subclass
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FingerprintDataError(f"{path}: cannot be read as YAML: {exc}") from exc


def strip_lines(value: Any) -> Any:
    """``value`` without the ``__line__`` bookkeeping keys."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != _LINE}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def line_of(raw: Any) -> int | None:
    return raw.get(_LINE) if isinstance(raw, dict) else None


def data_error(path: Path | str, raw: Any, entry: str | None, reason: str) -> FingerprintDataError:
    """An error naming file, line, entry and reason."""
    line = line_of(raw)
    where = f"{path}" + (f":{line}" if line else "") + (f", rule {entry!r}" if entry else "")
    return FingerprintDataError(f"{where}: {reason}")


def normalise_value(key: str, value: str) -> str:
    """The form of an evidence value that rules see.

    WS-Discovery scope values are URL-encoded (ONVIF Core 7.3.2.2; ``%20`` in
    ``name/HIKVISION%20DS-2CD2143G0-I``) and Axis pads them with whitespace
    (fingerprint-facts C.0), so scopes are decoded and stripped first.
    """
    value = value[:MAX_VALUE_CHARS]
    if key == "wsd.scope":
        value = urllib.parse.unquote(value)
    return value.strip()


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
    counter_examples: tuple[str, ...] = ()
    line: int = 0

    def apply(self, value: str) -> dict[str, str] | None:
        """The fields this rule sets for ``value``, or ``None`` if it does not match."""
        m = self.pattern.search(normalise_value(self.key, value))
        if m is None:
            return None
        groups = {k: (v or "").strip() for k, v in m.groupdict().items()}
        out: dict[str, str] = {}
        for field_name, template in self.sets.items():
            filled = template.format(**groups).strip()
            if filled:
                out[field_name] = filled
        return out


def load_rule_file(path: Path) -> list[Rule]:
    """Parse and validate one rule file."""
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise data_error(path, doc, None, "must be a mapping with 'key' and a list 'rules'")
    key = doc.get("key")
    if key != path.stem:
        raise data_error(path, doc, None, f"'key' is {key!r} but the file is named for {path.stem!r}")
    if key not in EVIDENCE_KEYS:
        raise data_error(path, doc, None, f"unknown evidence key {key!r}")
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw in doc["rules"]:
        rules.append(_parse_rule(path, key, raw, seen))
    return rules


def _parse_rule(path: Path, key: str, raw: Any, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise data_error(path, raw, None, "each rule must be a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid:
        raise data_error(path, raw, None, "a rule has no 'id'")

    def fail(reason: str) -> FingerprintDataError:
        return data_error(path, raw, rid, reason)

    if rid in seen:
        raise fail("duplicate id")
    seen.add(rid)
    unknown = set(raw) - _RULE_FIELDS - {_LINE}
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}")
    for required in ("description", "source", "pattern", "sets", "examples"):
        if not raw.get(required):
            raise fail(f"missing '{required}'")
    flags = 0
    for letter in str(raw.get("flags", "")):
        if letter not in "ims":
            raise fail(f"unknown regex flag {letter!r} (use i, m, s)")
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[letter]
    text = str(raw["pattern"])
    if len(text) > MAX_PATTERN_CHARS:
        raise fail(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    try:
        pattern = re.compile(text, flags)
    except re.error as exc:
        raise fail(f"bad regular expression: {exc}") from exc
    sets = strip_lines(raw["sets"])
    if not isinstance(sets, dict) or not sets:
        raise fail("'sets' must be a non-empty mapping")
    bad = set(sets) - SETTABLE
    if bad:
        raise fail(f"'sets' has unknown field(s) {sorted(bad)}")
    sets = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in sets.items()}
    for field_name, template in sets.items():
        try:
            names = {n for _, n, _, _ in string.Formatter().parse(template) if n is not None}
        except ValueError as exc:
            raise fail(f"'sets.{field_name}' is not a valid template: {exc}") from exc
        missing = names - set(pattern.groupindex)
        if missing:
            raise fail(f"'sets.{field_name}' uses {sorted(missing)}, not named groups of the pattern")
    if "category" in sets and sets["category"] not in CATEGORIES:
        raise fail(f"category {sets['category']!r} is not one of {', '.join(CATEGORIES)}")
    if "is_camera" in sets and sets["is_camera"] not in ("true", "false"):
        raise fail("'is_camera' must be true or false")
    certainty = raw.get("certainty", 0.5)
    if isinstance(certainty, bool) or not isinstance(certainty, (int, float)) or not 0 < certainty <= 1:
        raise fail("'certainty' must be a number in (0, 1]")
    examples_raw = raw["examples"]
    if not isinstance(examples_raw, list) or not examples_raw:
        raise fail("needs at least one example")
    examples = []
    for ex in examples_raw:
        if not isinstance(ex, dict) or "value" not in ex:
            raise fail("each example needs a 'value'")
        expect = strip_lines(ex.get("expect", {}) or {})
        if not isinstance(expect, dict):
            raise fail("an example's 'expect' must be a mapping")
        examples.append(
            Example(
                str(ex["value"]),
                {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in expect.items()},
            )
        )
    counter = raw.get("counter_examples", []) or []
    if not isinstance(counter, list):
        raise fail("'counter_examples' must be a list of values")
    return Rule(
        id=rid,
        key=key,
        description=str(raw["description"]),
        source=str(raw["source"]),
        pattern=pattern,
        sets=sets,
        certainty=float(certainty),
        examples=tuple(examples),
        file=str(path),
        counter_examples=tuple(str(c) for c in counter),
        line=line_of(raw) or 0,
    )


@lru_cache(maxsize=4)
def load_rules(rules_dir: Path = RULES_DIR) -> dict[str, tuple[Rule, ...]]:
    """All rule files, by evidence key."""
    out: dict[str, tuple[Rule, ...]] = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        out[path.stem] = tuple(load_rule_file(path))
    return out
