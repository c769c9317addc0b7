"""The generic fingerprint self-test (after Recog's fingerprint_self_test_spec).

One function walks all the data: every rule file loads; every example matches
its rule, extracts exactly what it declares and is not claimed by an earlier
rule of the same file; counter-examples do not match; literal brand and maker
names are in the manufacturer list; model families, advisories and the OUI
registrant table hold together; and no host of the negative corpus (ordinary
routers, printers, NAS, web and media servers) comes out as a camera.

Used by ``camsweep fingerprints test`` and by the test suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fingerprints import oui
from fingerprints.catalog import family_of, load_advisories, load_model_families
from fingerprints.errors import FingerprintDataError
from fingerprints.evidence import Evidence
from fingerprints.manufacturers import ManufacturerList, default_manufacturers
from fingerprints.matcher import KnowledgeBase, identify
from fingerprints.rules import DATA_DIR, RULES_DIR, Rule, load_rules, load_yaml, strip_lines

NEGATIVE_DIR = DATA_DIR / "negative"
POSITIVE_DIR = DATA_DIR / "positive"
#: Identification fields a positive host may state.
EXPECTABLE = frozenset(
    {
        "brand",
        "manufacturer",
        "model",
        "firmware",
        "firmware_normalised",
        "build_date",
        "oem_build",
        "serial",
        "category",
        "policy_flags",
        "advisories",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    entry: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.entry}: {self.reason}" if self.entry else f"{self.file}: {self.reason}"


@dataclass(slots=True)
class SelfTestReport:
    rules: int = 0
    examples: int = 0
    negative_hosts: int = 0
    positive_hosts: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class NegativeHost:
    name: str
    source: str
    evidence: tuple[Evidence, ...]
    file: str


def check_rule(rule: Rule, earlier: tuple[Rule, ...]) -> list[str]:
    """Why ``rule``'s examples fail (empty when they all hold)."""
    out: list[str] = []
    for ex in rule.examples:
        got = rule.apply(ex.value)
        if got is None:
            out.append(f"example {ex.value!r} does not match")
            continue
        if got != dict(ex.expect):
            out.append(f"example {ex.value!r} extracted {got}, expected {dict(ex.expect)}")
        for other in earlier:
            if other.apply(ex.value) is not None:
                out.append(f"example {ex.value!r} is shadowed by earlier rule {other.id!r}")
    for value in rule.counter_examples:
        if rule.apply(value) is not None:
            out.append(f"counter-example {value!r} matches")
    return out


def _names_known(rule: Rule, mlist: ManufacturerList) -> list[str]:
    out = []
    for f in ("brand", "manufacturer"):
        value = rule.sets.get(f)
        if value and "{" not in value and mlist.brand(value) is None:
            out.append(f"{f} {value!r} is not in the manufacturer list")
    return out


@dataclass(frozen=True, slots=True)
class PositiveHost:
    name: str
    evidence: tuple[Evidence, ...]
    expect: dict[str, object]
    file: str


def load_positive_corpus(directory: Path = POSITIVE_DIR) -> list[PositiveHost]:
    hosts: list[PositiveHost] = []
    for path in sorted(directory.glob("*.yaml")):
        doc = strip_lines(load_yaml(path))
        if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list):
            raise FingerprintDataError(f"{path}: must have a list 'hosts'")
        for raw in doc["hosts"]:
            if not isinstance(raw, dict) or not raw.get("name") or not raw.get("evidence"):
                raise FingerprintDataError(f"{path}: each host needs name, evidence and expect")
            expect = raw.get("expect")
            if not isinstance(expect, dict) or not expect or set(expect) - EXPECTABLE:
                raise FingerprintDataError(
                    f"{path}: host {raw['name']!r}: 'expect' may hold {sorted(EXPECTABLE)}"
                )
            evs = tuple(Evidence(str(e["key"]), str(e["value"]), "positive-corpus") for e in raw["evidence"])
            hosts.append(PositiveHost(str(raw["name"]), evs, expect, str(path)))
    return hosts


def check_positive(host: PositiveHost, kb: KnowledgeBase | None = None) -> list[str]:
    """How the identification of ``host`` differs from what it expects (empty when right)."""
    ident = identify(host.evidence, kb)
    out = [] if ident.is_camera else ["not identified as a camera"]
    for name, want in host.expect.items():
        got = getattr(ident, name)
        if isinstance(want, list):
            got, want = sorted(got), sorted(str(w) for w in want)
        elif want is not None:
            want = str(want)
        if got != want:
            out.append(f"{name} is {got!r}, expected {want!r}")
    return out


def load_negative_corpus(directory: Path = NEGATIVE_DIR) -> list[NegativeHost]:
    hosts: list[NegativeHost] = []
    for path in sorted(directory.glob("*.yaml")):
        doc = strip_lines(load_yaml(path))
        if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list):
            raise FingerprintDataError(f"{path}: must have a list 'hosts'")
        for raw in doc["hosts"]:
            if (
                not isinstance(raw, dict)
                or not raw.get("name")
                or not raw.get("source")
                or not raw.get("evidence")
            ):
                raise FingerprintDataError(f"{path}: each host needs name, source and evidence")
            evs = []
            for e in raw["evidence"]:
                if not isinstance(e, dict) or "key" not in e or "value" not in e:
                    raise FingerprintDataError(f"{path}: host {raw['name']!r}: evidence needs key and value")
                evs.append(Evidence(str(e["key"]), str(e["value"]), "negative-corpus"))
            hosts.append(NegativeHost(str(raw["name"]), str(raw["source"]), tuple(evs), str(path)))
    return hosts


def run_selftest(rules_dir: Path = RULES_DIR, negative_dir: Path = NEGATIVE_DIR) -> SelfTestReport:
    """Check all fingerprint data; every failure is a :class:`Problem` naming file, entry and reason."""
    report = SelfTestReport()
    try:
        rules = load_rules(rules_dir)
        mlist = default_manufacturers()
        families = load_model_families()
        advisories = load_advisories()
        mappings, excludes = oui.load_registrant_table()
        registry = oui.load_registry()
        negative = load_negative_corpus(negative_dir)
        positive = load_positive_corpus()
    except FingerprintDataError as exc:
        report.problems.append(Problem("fingerprint data", "", str(exc)))
        return report

    for rules_of_key in rules.values():
        for i, rule in enumerate(rules_of_key):
            report.rules += 1
            report.examples += len(rule.examples)
            where = f"{rule.file}:{rule.line}" if rule.line else rule.file
            for reason in check_rule(rule, rules_of_key[:i]) + _names_known(rule, mlist):
                report.problems.append(Problem(where, f"rule {rule.id!r}", reason))

    for fam in families:
        report.examples += len(fam.examples)
        if mlist.brand(fam.maker) is None:
            report.problems.append(Problem("models.yaml", fam.id, f"maker {fam.maker!r} is not in the list"))
        for ex in fam.examples:
            got = family_of(ex, families)
            if got is None or got.id != fam.id:
                who = got.id if got else "no family"
                report.problems.append(Problem("models.yaml", fam.id, f"example {ex!r} falls in {who}"))

    for adv in advisories:
        if mlist.brand(adv.maker) is None:
            report.problems.append(
                Problem("advisories.yaml", adv.id, f"maker {adv.maker!r} is not in the list")
            )

    registrants = set(registry.values())
    for m in mappings:
        name = m.maker or m.brand or ""
        if mlist.brand(name) is None:
            report.problems.append(
                Problem("oui-registrants.yaml", m.pattern.pattern, f"{name!r} is not in the list")
            )
        if not any(m.pattern.fullmatch(r) for r in registrants):
            report.problems.append(
                Problem(
                    "oui-registrants.yaml", m.pattern.pattern, "matches no registrant in the IEEE snapshot"
                )
            )
        for x in excludes:
            if m.pattern.fullmatch(x.pattern.replace("\\", "").rstrip(".*")):
                report.problems.append(
                    Problem(
                        "oui-registrants.yaml", m.pattern.pattern, f"also maps false friend {x.pattern!r}"
                    )
                )

    kb = KnowledgeBase(rules, mlist, families, advisories)
    for host in negative:
        report.negative_hosts += 1
        ident = identify(host.evidence, kb)
        if ident.is_camera:
            report.problems.append(
                Problem(host.file, host.name, f"identified as a camera ({ident.explanation[:2]})")
            )
        for ev in host.evidence:
            if identify([ev], kb).is_camera:
                report.problems.append(
                    Problem(host.file, host.name, f"{ev.key} {ev.value!r} alone is a camera")
                )
    for phost in positive:
        report.positive_hosts += 1
        for reason in check_positive(phost, kb):
            report.problems.append(Problem(phost.file, phost.name, reason))
    return report


__all__ = [
    "NegativeHost",
    "PositiveHost",
    "Problem",
    "SelfTestReport",
    "check_positive",
    "check_rule",
    "load_negative_corpus",
    "load_positive_corpus",
    "run_selftest",
]
