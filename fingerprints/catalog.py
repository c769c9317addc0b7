"""Model families (model number -> category) and advisories, loaded from data files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fingerprints.firmware import Firmware, in_range, parse_firmware
from fingerprints.rules import CATEGORIES, DATA_DIR, data_error, load_yaml

MODELS_FILE = DATA_DIR / "models.yaml"
ADVISORIES_FILE = DATA_DIR / "advisories.yaml"


@dataclass(frozen=True, slots=True)
class ModelFamily:
    id: str
    maker: str
    pattern: re.Pattern[str]
    category: str
    source: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Affected:
    model: re.Pattern[str] | None
    category: re.Pattern[str] | None
    low: Firmware | None
    high: Firmware | None


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    title: str
    maker: str
    known_exploited: bool
    sources: tuple[str, ...]
    affected: tuple[Affected, ...]


@dataclass(frozen=True, slots=True)
class AdvisoryHit:
    advisory: Advisory
    confirmed: bool  # True: firmware in a published range; False: family matches, range unknown
    reason: str


def _regex(path: Path, raw: Any, entry: str, text: object) -> re.Pattern[str]:
    try:
        return re.compile(str(text), re.IGNORECASE)
    except re.error as exc:
        raise data_error(path, raw, entry, f"bad regular expression: {exc}") from exc


@lru_cache(maxsize=2)
def load_model_families(path: Path = MODELS_FILE) -> tuple[ModelFamily, ...]:
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("families"), list):
        raise data_error(path, doc, None, "must have a list 'families'")
    out: list[ModelFamily] = []
    for raw in doc["families"]:
        fid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
        if not fid or not all(raw.get(k) for k in ("maker", "pattern", "category", "source", "examples")):
            raise data_error(
                path, raw, fid or None, "needs id, maker, pattern, category, source and examples"
            )
        if raw["category"] not in CATEGORIES:
            raise data_error(
                path, raw, fid, f"category {raw['category']!r} is not one of {', '.join(CATEGORIES)}"
            )
        fam = ModelFamily(
            fid,
            str(raw["maker"]),
            _regex(path, raw, fid, raw["pattern"]),
            str(raw["category"]),
            str(raw["source"]),
            tuple(str(e) for e in raw["examples"]),
        )
        out.append(fam)
    return tuple(out)


def family_of(model: str, families: tuple[ModelFamily, ...] | None = None) -> ModelFamily | None:
    for fam in families if families is not None else load_model_families():
        if fam.pattern.search(model):
            return fam
    return None


@lru_cache(maxsize=2)
def load_advisories(path: Path = ADVISORIES_FILE) -> tuple[Advisory, ...]:
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("advisories"), list):
        raise data_error(path, doc, None, "must have a list 'advisories'")
    out: list[Advisory] = []
    for raw in doc["advisories"]:
        aid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
        if not aid or not all(raw.get(k) for k in ("title", "maker", "sources", "affected")):
            raise data_error(path, raw, aid or None, "needs id, title, maker, sources and affected")
        affected: list[Affected] = []
        for a in raw["affected"]:
            if not isinstance(a, dict) or not (a.get("model") or a.get("category")):
                raise data_error(path, a, aid, "each affected entry needs 'model' or 'category'")
            low = parse_firmware(str(a["from"])) if a.get("from") else None
            high = parse_firmware(str(a["to"])) if a.get("to") else None
            for bound in (low, high):
                if bound is not None and bound.scheme == "opaque":
                    raise data_error(path, a, aid, f"firmware bound {bound.raw!r} cannot be compared")
            affected.append(
                Affected(
                    _regex(path, a, aid, a["model"]) if a.get("model") else None,
                    _regex(path, a, aid, a["category"]) if a.get("category") else None,
                    low,
                    high,
                )
            )
        out.append(
            Advisory(
                aid,
                str(raw["title"]),
                str(raw["maker"]),
                bool(raw.get("known_exploited", False)),
                tuple(str(s) for s in raw["sources"]),
                tuple(affected),
            )
        )
    return tuple(out)


def match_advisories(
    maker: str | None,
    model: str | None,
    category: str | None,
    firmware: Firmware | None,
    advisories: tuple[Advisory, ...] | None = None,
) -> list[AdvisoryHit]:
    """Advisories that apply to a device; a firmware outside every published range clears it."""
    hits: list[AdvisoryHit] = []
    if not maker:
        return hits
    for adv in advisories if advisories is not None else load_advisories():
        if adv.maker.lower() != maker.lower():
            continue
        for a in adv.affected:
            if a.model is not None and not (model and a.model.search(model)):
                continue
            if a.category is not None and not (category and a.category.search(category)):
                continue
            what = f"model {model}" if a.model is not None else f"{maker} {category}"
            if a.low is None and a.high is None:
                hits.append(
                    AdvisoryHit(adv, False, f"{what} is in an affected family; firmware range not published")
                )
                break
            verdict = in_range(firmware, a.low, a.high) if firmware is not None else None
            span = f"{a.low.raw if a.low else '...'} to {a.high.raw if a.high else '...'}"
            if verdict is True:
                hits.append(
                    AdvisoryHit(adv, True, f"{what} firmware {firmware.raw if firmware else ''} in {span}")
                )
                break
            if verdict is None:
                hits.append(AdvisoryHit(adv, False, f"{what} is affected in {span}; firmware unknown"))
                break
    return hits
