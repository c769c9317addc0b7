"""The pure matcher: all evidence of one host -> one identification.

No I/O beyond loading the packaged data once: the knowledge base is loaded once
and passed in (or the packaged default is used).

Fusion (how one answer is drawn from many signals):

1. Every evidence item is matched against the rule file of its key (first rule
   wins); a MAC address is looked up in the IEEE registry (longest prefix) and
   mapped through the curated registrant table -- weak evidence, because a
   rebranded unit carries either the maker's or the brand's OUI.
2. The **manufacturer** is voted: each match proposes a maker, either directly
   (``App-webs/`` says Hikvision firmware) or through the brand it names (ONVIF
   ``LTS`` -> made by Hikvision).  Votes for one maker combine as independent
   signals, ``1 - prod(1 - certainty)``; the highest wins.
3. The **brand** is voted among name-bearing matches; with none, the brand is
   the manufacturer.  Model, firmware and serial are voted the same way.
4. The **category** comes from the model family when the model is known, else
   from the most specific category a rule set.
5. Matches that propose a different maker, brand or model are kept as
   *contradicting* evidence; the rest support the answer, and their combined
   certainty is the confidence.  A host is a camera when some supporting match
   says so (it sets a category) and the confidence reaches ``CAMERA_THRESHOLD``.
6. Policy flags come from the maker (and its parent) in the manufacturer list;
   advisories from ``data/advisories.yaml`` by maker, model and firmware.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fingerprints import oui
from fingerprints.catalog import (
    Advisory,
    ModelFamily,
    family_of,
    load_advisories,
    load_model_families,
    match_advisories,
)
from fingerprints.evidence import Evidence, Identification, Match
from fingerprints.firmware import parse_firmware
from fingerprints.manufacturers import ManufacturerList, default_manufacturers, vocab_key
from fingerprints.rules import Rule, load_rules

log = logging.getLogger(__name__)

#: Below this combined certainty a host is not called a camera.
CAMERA_THRESHOLD = 0.5
#: Certainty of an OUI that maps to a camera maker, and of any other mapped OUI.
OUI_CAMERA_MAKER_CERTAINTY = 0.3
OUI_OTHER_CERTAINTY = 0.15
#: Distinct unmatched values remembered for log-once (bounded: devices are untrusted).
MAX_UNMATCHED_REMEMBERED = 10_000

_FIELDS = ("brand", "manufacturer", "model", "firmware", "category", "serial")


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    rules: Mapping[str, tuple[Rule, ...]]
    manufacturers: ManufacturerList
    families: tuple[ModelFamily, ...] = ()
    advisories: tuple[Advisory, ...] = ()


@lru_cache(maxsize=4)
def _kb(vendor_list: Path | None) -> KnowledgeBase:
    return KnowledgeBase(
        load_rules(), default_manufacturers(vendor_list), load_model_families(), load_advisories()
    )


def default_kb(vendor_list: Path | None = None) -> KnowledgeBase:
    """The packaged knowledge (plus an organisation's vendor list, or ``$CAMSWEEP_VENDOR_LIST``)."""
    from fingerprints.manufacturers import vendor_list_from_env

    return _kb(vendor_list or vendor_list_from_env())


_unmatched_logged: set[tuple[str, str]] = set()


def unmatched_line(key: str, value: str) -> str:
    """An unmatched value in the format of the negative corpus and rule examples."""
    return "- {key: " + key + ", value: " + _yaml_str(value) + "}"


def _yaml_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _log_unmatched(ev: Evidence) -> None:
    """STYLE.md §7: log each unmatched value once, ready to paste as a test case."""
    k = (ev.key, ev.value)
    if k in _unmatched_logged or len(_unmatched_logged) >= MAX_UNMATCHED_REMEMBERED:
        return
    _unmatched_logged.add(k)
    log.info("unmatched evidence: %s", unmatched_line(ev.key, ev.value))


def match_evidence(ev: Evidence, kb: KnowledgeBase) -> Match | None:
    """The first rule of ``ev.key``'s file that matches (or the OUI), as a :class:`Match`."""
    if ev.key in ("mac.address", "onvif.mac"):
        return _match_oui(ev)
    for rule in kb.rules.get(ev.key, ()):
        sets = rule.apply(ev.value)
        if sets is not None:
            return Match(
                rule.id, ev.key, ev.value, ev.source, tuple(sets.items()), rule.certainty, rule.description
            )
    if ev.key in kb.rules:
        _log_unmatched(ev)
    return None


def _match_oui(ev: Evidence) -> Match | None:
    hit = oui.lookup(ev.value)
    if hit is None or (hit.maker is None and hit.brand is None):
        return None
    sets: tuple[tuple[str, str], ...] = (
        (("manufacturer", hit.maker),) if hit.maker else (("brand", hit.brand or ""),)
    )
    if hit.category:
        sets += (("category", hit.category),)
    certainty = hit.certainty or (OUI_CAMERA_MAKER_CERTAINTY if hit.camera_maker else OUI_OTHER_CERTAINTY)
    return Match(
        f"oui.{hit.prefix}",
        ev.key,
        ev.value,
        ev.source,
        sets,
        certainty,
        f"IEEE registrant {hit.registrant!r} (OUI {hit.prefix}; weak: rebrands carry maker's or brand's OUI)",
    )


def _combine(certainties: Iterable[float]) -> float:
    miss = 1.0
    for c in certainties:
        miss *= 1 - c
    return 1 - miss


def _model_key(model: str) -> str:
    # Dahua reports the same model with and without its "DH-"/"DHI-" brand prefix.
    return vocab_key(re.sub(r"^DHI?-", "", model.strip(), flags=re.IGNORECASE))


def _vote(proposals: list[tuple[str, str, Match]]) -> tuple[str | None, set[str]]:
    """(winning normalised key, ids of matches that proposed a different key)."""
    if not proposals:
        return None, set()
    by_key: dict[str, list[Match]] = {}
    for norm, _value, m in proposals:
        by_key.setdefault(norm, []).append(m)

    def score(norm: str) -> tuple[float, float]:
        ms = {m.rule_id: m.certainty for m in by_key[norm]}
        return (_combine(ms.values()), max(ms.values()))

    winner = max(by_key, key=score)
    losers = {id(m) for norm, _v, m in proposals if norm != winner}
    return winner, {str(x) for x in losers}


def _first_value(proposals: list[tuple[str, str, Match]], norm: str | None) -> str | None:
    best = [(m.certainty, v) for n, v, m in proposals if n == norm]
    return max(best, key=lambda t: t[0])[1] if best else None


def identify(evidence: Iterable[Evidence], kb: KnowledgeBase | None = None) -> Identification:
    """All evidence of one host -> one identification, with supporting and contradicting matches."""
    kb = kb or default_kb()
    mlist = kb.manufacturers
    matches = [m for ev in evidence if (m := match_evidence(ev, kb)) is not None]
    if not matches:
        return Identification()

    def sets(m: Match) -> dict[str, str]:
        return dict(m.sets)

    # Manufacturer: direct, or via the brand a match names.
    maker_props: list[tuple[str, str, Match]] = []
    for m in matches:
        s = sets(m)
        maker = s.get("manufacturer") or (mlist.maker_of(s["brand"]) if "brand" in s else None)
        if maker:
            canon = mlist.canonical_brand(maker)
            maker_props.append((vocab_key(mlist.maker_of(canon) or canon), canon, m))
    maker_norm, maker_losers = _vote(maker_props)
    manufacturer = _first_value(maker_props, maker_norm)
    if manufacturer:
        manufacturer = mlist.maker_of(manufacturer) or manufacturer

    # Everything else is decided among matches that agree on the maker: a banner of
    # another maker's firmware contradicts, and lends the host none of its fields.
    agreeing = [m for m in matches if str(id(m)) not in maker_losers]
    brand_props = [
        (vocab_key(mlist.canonical_brand(s["brand"])), mlist.canonical_brand(s["brand"]), m)
        for m in agreeing
        if "brand" in (s := sets(m))
    ]
    brand_norm, brand_losers = _vote(brand_props)
    # An OUI naming another brand of the same maker (an EZVIZ OUI on a unit that calls
    # itself Hikvision) does not contradict: rebrands carry either OUI.
    brand_losers -= {
        str(id(m))
        for _n, value, m in brand_props
        if m.key == "mac.address" and maker_norm and vocab_key(mlist.maker_of(value) or value) == maker_norm
    }
    brand = _first_value(brand_props, brand_norm)
    if brand is None and manufacturer and ((mk := mlist.maker(manufacturer)) is None or mk.own_brand):
        brand = manufacturer

    model_props = [(_model_key(s["model"]), s["model"], m) for m in agreeing if "model" in (s := sets(m))]
    model_norm, model_losers = _vote(model_props)
    model = _first_value(model_props, model_norm)

    fw_props = [(s["firmware"], s["firmware"], m) for m in agreeing if "firmware" in (s := sets(m))]
    # The FirmwareVersion a device reports over ONVIF is authoritative; banner versions
    # (e.g. AvigilonOnvifNvt/<ver>) only stand in when the device did not say.
    fw_props = [p for p in fw_props if p[2].key == "onvif.firmware"] or fw_props
    firmware = _first_value(fw_props, _vote(fw_props)[0])
    serial_props = [(s["serial"], s["serial"], m) for m in agreeing if "serial" in (s := sets(m))]
    serial = _first_value(serial_props, _vote(serial_props)[0])

    losers = maker_losers | brand_losers | model_losers
    contradicting = [m for m in matches if str(id(m)) in losers]
    supporting = sorted((m for m in matches if str(id(m)) not in losers), key=lambda m: -m.certainty)
    confidence = round(_combine({m.rule_id: m.certainty for m in supporting}.values()), 3)

    family = family_of(model, kb.families) if model else None
    if family is not None and manufacturer and vocab_key(family.maker) != vocab_key(manufacturer):
        family = None  # a model number in another maker's numbering is not that maker's family
    rule_categories = [(m.certainty, s["category"]) for m in supporting if "category" in (s := sets(m))]
    specific = [c for c in rule_categories if c[1] != "camera"]
    if family is not None:
        category: str | None = family.category
    elif specific:
        category = max(specific)[1]
    elif rule_categories:
        category = "camera"
    else:
        category = None
    says_not_camera = any(sets(m).get("is_camera") == "false" for m in supporting)
    is_camera = bool(rule_categories) and not says_not_camera and confidence >= CAMERA_THRESHOLD
    if not is_camera:
        category = None  # a category is a claim about a camera-system device; weak hints make none

    fw = None
    if firmware:
        hint = manufacturer.lower() if manufacturer else None
        fw = parse_firmware(firmware, hint)

    flags = mlist.policy_flags(manufacturer)
    adv_hits = match_advisories(manufacturer, model, category, fw, kb.advisories) if is_camera else []

    explanation = _explain(
        supporting,
        contradicting,
        {
            "brand": brand,
            "manufacturer": manufacturer,
            "model": model,
            "firmware": firmware,
            "category": category,
            "serial": serial,
        },
        kb,
        family,
        flags,
        adv_hits,
    )
    if fw is not None and fw.scheme != "opaque":
        parts = [f"{fw.scheme} scheme, compares as {fw.normalised}"]
        if fw.build_date:
            parts.append(f"built {fw.build_date.isoformat()}")
        if fw.oem_build:
            parts.append(f"OEM build field {fw.oem_build} (not a {manufacturer or 'maker'} general build)")
        explanation = (*explanation, "firmware: " + ", ".join(parts))
    return Identification(
        is_camera=is_camera,
        brand=brand,
        manufacturer=manufacturer,
        model=model,
        firmware=firmware,
        serial=serial,
        category=category,
        confidence=confidence,
        policy_flags=flags,
        advisories=tuple(h.advisory.id for h in adv_hits),
        capabilities=tuple(sorted({s["capability"] for m in supporting if "capability" in (s := sets(m))})),
        supporting=tuple(supporting),
        contradicting=tuple(contradicting),
        explanation=explanation,
        firmware_normalised=fw.normalised if fw else None,
        build_date=fw.build_date.isoformat() if fw and fw.build_date else None,
        oem_build=fw.oem_build if fw else None,
    )


def _explain(
    supporting: list[Match],
    contradicting: list[Match],
    chosen: dict[str, str | None],
    kb: KnowledgeBase,
    family: ModelFamily | None,
    flags: tuple[str, ...],
    adv_hits: list,  # list[AdvisoryHit]
) -> tuple[str, ...]:
    lines: list[str] = []
    for f in _FIELDS:
        value = chosen.get(f)
        if not value:
            continue
        why = [m for m in supporting if any(k == f and _same(f, v, value) for k, v in m.sets)]
        if f == "manufacturer" and not why:
            b = kb.manufacturers.brand(chosen.get("brand") or "")
            if b is not None and b.relation != "self":
                why_text = f"brand {b.name} is made by {b.maker} ({b.relation}, [{b.confidence}] {b.source})"
                lines.append(f"manufacturer={value!r}: {why_text}")
                continue
        if f == "category" and family is not None:
            lines.append(f"category={value!r}: model family {family.id} ({family.source})")
            continue
        if f == "brand" and not why:
            lines.append(f"brand={value!r}: no brand named; the manufacturer's own")
            continue
        src = "; ".join(f"{m.key} {m.value!r} (rule {m.rule_id})" for m in why[:3])
        lines.append(f"{f}={value!r} from {src}" if src else f"{f}={value!r}")
    b = kb.manufacturers.brand(chosen.get("brand") or "")
    if b is not None and b.relation not in ("self",) and chosen.get("manufacturer") == b.maker:
        lines.append(f"{b.name} -> {b.maker}: {b.relation}, [{b.confidence}] {b.evidence} ({b.source})")
    for flag in flags:
        pol = kb.manufacturers.policies[flag]
        lines.append(f"policy {flag}: {pol.title}, effective {pol.effective.isoformat()} ({pol.sources[0]})")
    for h in adv_hits:
        status = "flagged" if h.confirmed else "possible"
        lines.append(f"advisory {h.advisory.id} ({status}): {h.reason} ({h.advisory.sources[0]})")
    for m in contradicting:
        lines.append(f"contradicts: {m.key} {m.value!r} (rule {m.rule_id}) says {dict(m.sets)}")
    return tuple(lines)


def _same(field_name: str, a: str, b: str) -> bool:
    if field_name == "model":
        return _model_key(a) == _model_key(b)
    if field_name in ("brand", "manufacturer"):
        return vocab_key(a) == vocab_key(b)
    return a == b
