"""The manufacturer list: makers, brands, who really makes each brand, policy flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from fingerprints.errors import FingerprintDataError
from fingerprints.rules import DATA_DIR

MANUFACTURERS_FILE = DATA_DIR / "manufacturers.yaml"


def vocab_key(name: str) -> str:
    """Case- and punctuation-insensitive form used to compare names (STYLE.md §6)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True, slots=True)
class Maker:
    name: str
    legal_name: str = ""
    country: str = ""
    policy_flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    maker: str


@dataclass(slots=True)
class ManufacturerList:
    makers: dict[str, Maker] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)

    def canonical_brand(self, name: str) -> str:
        b = self.brands.get(vocab_key(name))
        return b.name if b else name

    def maker_of(self, brand: str) -> str | None:
        b = self.brands.get(vocab_key(brand))
        return b.maker if b else None

    def policy_flags(self, maker: str | None) -> tuple[str, ...]:
        if not maker:
            return ()
        m = self.makers.get(vocab_key(maker))
        return m.policy_flags if m else ()


def load_manufacturers(path: Path = MANUFACTURERS_FILE) -> ManufacturerList:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FingerprintDataError(f"{path}: cannot be read: {exc}") from exc
    out = ManufacturerList()
    for raw in doc.get("makers", []):
        m = Maker(
            name=raw["name"],
            legal_name=raw.get("legal_name", ""),
            country=raw.get("country", ""),
            policy_flags=tuple(raw.get("policy_flags", [])),
        )
        k = vocab_key(m.name)
        if k in out.makers:
            raise FingerprintDataError(f"{path}: maker {m.name!r} listed twice")
        out.makers[k] = m
        out.brands.setdefault(k, Brand(m.name, m.name))
    for raw in doc.get("brands", []):
        b = Brand(raw["name"], raw["maker"])
        if vocab_key(b.maker) not in out.makers:
            raise FingerprintDataError(f"{path}: brand {b.name!r} names unknown maker {b.maker!r}")
        out.brands[vocab_key(b.name)] = b
    return out


@lru_cache(maxsize=1)
def default_manufacturers() -> ManufacturerList:
    return load_manufacturers()
