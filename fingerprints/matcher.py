"""The pure matcher: all evidence of one host -> one identification.

No I/O: the knowledge base is loaded once and passed in (or the packaged
default is used).  Each field is decided by the most certain rule that sets
it; matches that disagree are kept as contradicting evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fingerprints.evidence import Evidence, Identification, Match
from fingerprints.manufacturers import ManufacturerList, default_manufacturers
from fingerprints.rules import Rule, load_rules

log = logging.getLogger(__name__)

#: Below this combined certainty a host is not called a camera.
CAMERA_THRESHOLD = 0.5

_FIELDS = ("brand", "manufacturer", "model", "firmware", "category", "serial")


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    rules: Mapping[str, tuple[Rule, ...]]
    manufacturers: ManufacturerList


def default_kb() -> KnowledgeBase:
    return KnowledgeBase(load_rules(), default_manufacturers())


_unmatched_logged: set[tuple[str, str]] = set()


def match_evidence(ev: Evidence, kb: KnowledgeBase) -> Match | None:
    """The first rule of ``ev.key``'s file that matches, as a :class:`Match`."""
    for rule in kb.rules.get(ev.key, ()):
        sets = rule.apply(ev.value)
        if sets is not None:
            return Match(
                rule.id, ev.key, ev.value, ev.source, tuple(sets.items()), rule.certainty, rule.description
            )
    if ev.key in kb.rules and (ev.key, ev.value) not in _unmatched_logged:
        # STYLE.md §7: log once per value, in the example format of the rule files.
        _unmatched_logged.add((ev.key, ev.value))
        log.info("unmatched %s: - value: %r", ev.key, ev.value)
    return None


def identify(evidence: Iterable[Evidence], kb: KnowledgeBase | None = None) -> Identification:
    kb = kb or default_kb()
    matches = [m for ev in evidence if (m := match_evidence(ev, kb)) is not None]
    if not matches:
        return Identification()
    ranked = sorted(matches, key=lambda m: -m.certainty)
    chosen: dict[str, str] = {}
    chosen_by: dict[str, Match] = {}
    contradicting: list[Match] = []
    for m in ranked:
        for field_name, value in m.sets:
            if field_name not in chosen:
                chosen[field_name] = value
                chosen_by[field_name] = m
            elif field_name in ("brand", "manufacturer") and kb.manufacturers.canonical_brand(
                value
            ) != kb.manufacturers.canonical_brand(chosen[field_name]):
                contradicting.append(m)
    brand = kb.manufacturers.canonical_brand(chosen["brand"]) if "brand" in chosen else None
    maker = chosen.get("manufacturer") or (kb.manufacturers.maker_of(brand) if brand else None)
    if maker:
        maker = kb.manufacturers.canonical_brand(maker)
    # Combine certainties as independent signals: 1 - prod(1 - c).
    miss = 1.0
    for m in {m.rule_id: m for m in matches if m not in contradicting}.values():
        miss *= 1 - m.certainty
    confidence = round(1 - miss, 3)
    category = chosen.get("category")
    is_camera = (
        chosen.get("is_camera", "true" if category else "false") == "true" and confidence >= CAMERA_THRESHOLD
    )
    explanation = tuple(
        f"{f}={chosen[f]!r} from {chosen_by[f].key} {chosen_by[f].value!r} (rule {chosen_by[f].rule_id})"
        for f in _FIELDS
        if f in chosen
    )
    return Identification(
        is_camera=is_camera,
        brand=brand,
        manufacturer=maker,
        model=chosen.get("model"),
        firmware=chosen.get("firmware"),
        serial=chosen.get("serial"),
        category=category,
        confidence=confidence,
        policy_flags=kb.manufacturers.policy_flags(maker),
        supporting=tuple(m for m in ranked if m not in contradicting),
        contradicting=tuple(contradicting),
        explanation=explanation,
    )
