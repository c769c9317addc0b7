"""MAC address -> IEEE registrant -> maker or brand (longest prefix wins).

The registry snapshot (``data/oui/ieee-registry.txt``, source and date in
``data/oui/SOURCE.md``) holds MA-L (24-bit), MA-M (28-bit) and MA-S/IAB (36-bit)
assignments; a MAC in an MA-M or MA-S block belongs to that block's registrant,
not to the MA-L holder, so the longest prefix wins.  It is loaded lazily once
per process (the matcher runs per host).  Registrant names become makers only
through the curated table ``data/oui-registrants.yaml`` (false friends excluded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fingerprints.errors import FingerprintDataError
from fingerprints.rules import CATEGORIES, DATA_DIR, data_error, load_yaml

REGISTRY_FILE = DATA_DIR / "oui" / "ieee-registry.txt"
REGISTRANTS_FILE = DATA_DIR / "oui-registrants.yaml"
#: Prefix lengths in hex digits, longest first: MA-S/IAB, MA-M, MA-L.
PREFIX_DIGITS = (9, 7, 6)
_HEX = re.compile(r"[^0-9A-F]")


@dataclass(frozen=True, slots=True)
class RegistrantMapping:
    pattern: re.Pattern[str]
    maker: str | None
    brand: str | None
    camera_maker: bool
    category: str | None = None
    certainty: float | None = None


@dataclass(frozen=True, slots=True)
class OuiHit:
    """What the registry says about one MAC address."""

    prefix: str
    registrant: str
    maker: str | None = None
    brand: str | None = None
    camera_maker: bool = False
    category: str | None = None
    certainty: float | None = None


def normalise_mac(mac: str) -> str | None:
    """12 upper-case hex digits, or ``None`` if ``mac`` is not a MAC address."""
    digits = _HEX.sub("", mac.upper())
    if len(digits) != 12 or len(mac) > 32:
        return None
    return digits


@lru_cache(maxsize=2)
def load_registry(path: Path = REGISTRY_FILE) -> dict[str, str]:
    """Prefix (6, 7 or 9 hex digits) -> registrant name."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FingerprintDataError(f"{path}: cannot read the OUI registry snapshot: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        prefix, _, name = line.partition("\t")
        if len(prefix) not in PREFIX_DIGITS or _HEX.search(prefix) or not name:
            raise FingerprintDataError(
                f"{path}:{lineno}: expected 'PREFIX<TAB>REGISTRANT', got {line[:80]!r}"
            )
        out[prefix] = name
    return out


@lru_cache(maxsize=2)
def load_registrant_table(
    path: Path = REGISTRANTS_FILE,
) -> tuple[tuple[RegistrantMapping, ...], tuple[re.Pattern[str], ...]]:
    """The curated mappings and the excluded false friends, validated."""
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("registrants"), list):
        raise data_error(path, doc, None, "must have a list 'registrants'")
    excludes: list[re.Pattern[str]] = []
    for raw in doc.get("exclude", []) or []:
        if not isinstance(raw, dict) or not raw.get("pattern") or not raw.get("why"):
            raise data_error(path, raw, None, "each exclude needs 'pattern' and 'why'")
        excludes.append(_compile(path, raw, str(raw["pattern"])))
    mappings: list[RegistrantMapping] = []
    for raw in doc["registrants"]:
        if not isinstance(raw, dict) or not raw.get("pattern"):
            raise data_error(path, raw, None, "each registrant needs a 'pattern'")
        if bool(raw.get("maker")) == bool(raw.get("brand")):
            raise data_error(path, raw, str(raw["pattern"]), "set exactly one of 'maker' or 'brand'")
        category = raw.get("category")
        if category is not None and category not in CATEGORIES:
            raise data_error(
                path, raw, str(raw["pattern"]), f"category {category!r} is not one of {CATEGORIES}"
            )
        certainty = raw.get("certainty")
        if certainty is not None and (not isinstance(certainty, (int, float)) or not 0 < certainty <= 1):
            raise data_error(path, raw, str(raw["pattern"]), "'certainty' must be a number in (0, 1]")
        mappings.append(
            RegistrantMapping(
                _compile(path, raw, str(raw["pattern"])),
                raw.get("maker"),
                raw.get("brand"),
                bool(raw.get("camera_maker", False)),
                category,
                float(certainty) if certainty is not None else None,
            )
        )
    return tuple(mappings), tuple(excludes)


def _compile(path: Path, raw: object, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise data_error(path, raw, text, f"bad regular expression: {exc}") from exc


def map_registrant(name: str) -> RegistrantMapping | None:
    """The curated mapping of a registrant name, or ``None`` (false friends never map)."""
    mappings, excludes = load_registrant_table()
    clean = " ".join(name.split())
    if any(x.fullmatch(clean) for x in excludes):
        return None
    for m in mappings:
        if m.pattern.fullmatch(clean):
            return m
    return None


def lookup(mac: str) -> OuiHit | None:
    """The registrant of ``mac`` (longest prefix wins) and what it maps to."""
    digits = normalise_mac(mac)
    if digits is None:
        return None
    registry = load_registry()
    for n in PREFIX_DIGITS:
        name = registry.get(digits[:n])
        if name is not None:
            m = map_registrant(name)
            if m is None:
                return OuiHit(digits[:n], name)
            return OuiHit(digits[:n], name, m.maker, m.brand, m.camera_maker, m.category, m.certainty)
    return None
