"""The manufacturer list: makers, brands, who really makes each brand, policy flags.

The packaged list is ``data/manufacturers.yaml``.  An organisation adds its own
file (same schema; ``--vendor-list FILE`` or ``$CAMSWEEP_VENDOR_LIST``) without
touching code: its policies, makers and brands are merged over the packaged ones
(same name = replaced), and it is validated with the same clear errors.

A policy applies to a maker when the maker lists it, or when the policy names
the maker's country (the UK statement of 24 Nov 2022 is about companies subject
to the PRC National Intelligence Law, i.e. PRC companies).  A brand inherits the
flags of the maker that made the unit (NDAA §889 covers equipment *produced by*
the named companies "or any subsidiary or affiliate").
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from fingerprints.errors import FingerprintDataError
from fingerprints.rules import DATA_DIR, data_error, load_yaml, strip_lines

MANUFACTURERS_FILE = DATA_DIR / "manufacturers.yaml"
VENDOR_LIST_ENV = "CAMSWEEP_VENDOR_LIST"
RELATIONS = ("self", "subsidiary", "affiliate", "oem", "consumer-brand", "former-subsidiary")
CONFIDENCES = ("V", "C")


def vocab_key(name: str) -> str:
    """Case- and punctuation-insensitive form used to compare names (STYLE.md §6)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    title: str
    jurisdiction: str
    effective: dt.date
    sources: tuple[str, ...]
    summary: str = ""
    countries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Maker:
    name: str
    legal_name: str = ""
    country: str = ""
    aliases: tuple[str, ...] = ()
    policy_flags: tuple[str, ...] = ()
    parent: str | None = None
    source: str = ""
    own_brand: bool = True  # False: white-label only, so the maker is never assumed to be the brand


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    maker: str
    relation: str = "self"
    evidence: str = ""
    confidence: str = "V"
    source: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(slots=True)
class ManufacturerList:
    makers: dict[str, Maker] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def brand(self, name: str) -> Brand | None:
        return self.brands.get(vocab_key(name))

    def canonical_brand(self, name: str) -> str:
        b = self.brand(name)
        return b.name if b else name

    def maker_of(self, brand: str) -> str | None:
        b = self.brand(brand)
        return b.maker if b else None

    def maker(self, name: str | None) -> Maker | None:
        if not name:
            return None
        m = self.makers.get(vocab_key(name))
        if m is None and (b := self.brand(name)) is not None:
            m = self.makers.get(vocab_key(b.maker))
        return m

    def policy_flags(self, maker: str | None) -> tuple[str, ...]:
        """Policy ids that apply to ``maker`` (its own, its parent's, and by country)."""
        m = self.maker(maker)
        if m is None:
            return ()
        flags = list(m.policy_flags)
        if m.parent and (p := self.maker(m.parent)) is not None:
            flags.extend(p.policy_flags)
        for pol in self.policies.values():
            if m.country and m.country in pol.countries:
                flags.append(pol.id)
        return tuple(sorted(dict.fromkeys(f for f in flags if f in self.policies)))


def _as_date(path: Path, raw: Any, entry: str, value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise data_error(path, raw, entry, f"'effective' must be a date YYYY-MM-DD, not {value!r}") from exc


def _str_list(path: Path, raw: Any, entry: str, name: str) -> tuple[str, ...]:
    value = raw.get(name, []) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise data_error(path, raw, entry, f"'{name}' must be a list of strings")
    return tuple(value)


def _check_fields(path: Path, raw: Any, entry: str, allowed: set[str], required: set[str]) -> None:
    if not isinstance(raw, dict):
        raise data_error(path, raw, None, f"entry {entry!r} must be a mapping")
    unknown = set(raw) - allowed - {"__line__"}
    if unknown:
        raise data_error(path, raw, entry, f"unknown field(s) {sorted(unknown)}")
    for r in sorted(required):
        if not raw.get(r):
            raise data_error(path, raw, entry, f"missing '{r}'")


def merge_manufacturer_file(out: ManufacturerList, path: Path) -> ManufacturerList:
    """Validate ``path`` and merge it over ``out`` (same name replaces)."""
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise data_error(path, doc, None, "must be a mapping with 'policies', 'makers' and/or 'brands'")
    unknown = set(doc) - {"policies", "makers", "brands", "__line__"}
    if unknown:
        raise data_error(path, doc, None, f"unknown section(s) {sorted(unknown)}")
    # STYLE.md §6: one vocabulary, unique ignoring case and punctuation, within a file.
    seen: dict[str, str] = {}

    def claim(raw: Any, name: str) -> None:
        key = vocab_key(name)
        if not key:
            raise data_error(path, raw, name, "a name needs letters or digits")
        if key in seen:
            raise data_error(
                path,
                raw,
                name,
                f"name clashes with {seen[key]!r} (names compare ignoring case and punctuation)",
            )
        seen[key] = name

    for raw in doc.get("policies", []) or []:
        pid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
        _check_fields(
            path,
            raw,
            pid,
            {"id", "title", "jurisdiction", "effective", "sources", "summary", "countries"},
            {"id", "title", "effective", "sources"},
        )
        out.policies[pid] = Policy(
            id=pid,
            title=str(raw["title"]),
            jurisdiction=str(raw.get("jurisdiction", "")),
            effective=_as_date(path, raw, pid, raw["effective"]),
            sources=_str_list(path, raw, pid, "sources"),
            summary=str(raw.get("summary", "")).strip(),
            countries=_str_list(path, raw, pid, "countries"),
        )
    for raw in doc.get("makers", []) or []:
        name = str(raw.get("name", "")) if isinstance(raw, dict) else ""
        _check_fields(
            path,
            raw,
            name,
            {"name", "legal_name", "country", "aliases", "policy_flags", "parent", "source", "own_brand"},
            {"name"},
        )
        m = Maker(
            name=name,
            legal_name=str(raw.get("legal_name", "")),
            country=str(raw.get("country", "")),
            aliases=_str_list(path, raw, name, "aliases"),
            policy_flags=_str_list(path, raw, name, "policy_flags"),
            parent=raw.get("parent"),
            source=str(raw.get("source", "")),
            own_brand=raw.get("own_brand", True) is not False,
        )
        for flag in m.policy_flags:
            if flag not in out.policies:
                raise data_error(path, raw, name, f"policy flag {flag!r} is not a known policy")
        out.makers[vocab_key(name)] = m
        for alias in {vocab_key(a): a for a in (name, *m.aliases)}.values():
            claim(raw, alias)
            out.brands[vocab_key(alias)] = Brand(name, name, "self", source=m.source)
    for raw in doc.get("brands", []) or []:
        name = str(raw.get("name", "")) if isinstance(raw, dict) else ""
        _check_fields(
            path,
            raw,
            name,
            {"name", "maker", "relation", "evidence", "confidence", "source", "aliases"},
            {"name", "maker", "relation", "source"},
        )
        if vocab_key(str(raw["maker"])) not in out.makers:
            raise data_error(path, raw, name, f"names unknown maker {raw['maker']!r}")
        if raw["relation"] not in RELATIONS:
            raise data_error(path, raw, name, f"relation must be one of {', '.join(RELATIONS)}")
        conf = str(raw.get("confidence", "V"))
        if conf not in CONFIDENCES:
            raise data_error(path, raw, name, "confidence must be V (verified) or C (community capture)")
        b = Brand(
            name=name,
            maker=out.makers[vocab_key(str(raw["maker"]))].name,
            relation=str(raw["relation"]),
            evidence=str(raw.get("evidence", "")),
            confidence=conf,
            source=str(raw["source"]),
            aliases=_str_list(path, raw, name, "aliases"),
        )
        for alias in {vocab_key(a): a for a in (name, *b.aliases)}.values():
            claim(raw, alias)
            out.brands[vocab_key(alias)] = b
    for m in out.makers.values():
        if m.parent and vocab_key(m.parent) not in out.makers:
            raise FingerprintDataError(f"{path}: maker {m.name!r} names unknown parent {m.parent!r}")
    out.files = (*out.files, str(path))
    return out


def load_manufacturers(path: Path = MANUFACTURERS_FILE, extra: Path | None = None) -> ManufacturerList:
    """The packaged list (or ``path``), with an organisation's ``extra`` file merged over it."""
    out = merge_manufacturer_file(ManufacturerList(), path)
    if extra is not None:
        merge_manufacturer_file(out, extra)
    return out


def vendor_list_from_env() -> Path | None:
    value = os.environ.get(VENDOR_LIST_ENV, "").strip()
    return Path(value) if value else None


@lru_cache(maxsize=4)
def _cached(extra: Path | None) -> ManufacturerList:
    return load_manufacturers(MANUFACTURERS_FILE, extra)


def default_manufacturers(extra: Path | None = None) -> ManufacturerList:
    """The packaged list merged with ``extra`` or ``$CAMSWEEP_VENDOR_LIST`` (cached)."""
    return _cached(extra or vendor_list_from_env())


__all__ = [
    "Brand",
    "Maker",
    "ManufacturerList",
    "Policy",
    "default_manufacturers",
    "load_manufacturers",
    "strip_lines",
    "vocab_key",
]
