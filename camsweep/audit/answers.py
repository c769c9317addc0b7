"""The survey answer file: what a force told the commissioner, as YAML.

Modelled on the Biometrics and Surveillance Camera Commissioner's 2022 police
survey (sent June 2022 to the 43 territorial forces plus MoD Police, BTP, NCA
and CNC; 119 questions; findings published 15 Feb 2023,
https://www.gov.uk/government/publications/police-survey-2022-responses-and-key-findings).
For each technology the survey asked which vendors are used, whether kit from
vendors with security or ethical concerns is in use, how many, networked or
standalone, whether a DPIA is in place and how firmware is kept up to date.
``examples/survey-answers.yaml`` is the documented example.

The loader fails fast: every error names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from fingerprints.errors import ConfigError

#: Survey technologies, in the survey's order, with the label reports use.
TECHNOLOGIES: dict[str, str] = {
    "internal_cctv": "Internal CCTV",
    "external_cctv": "External CCTV",
    "anpr": "ANPR",
    "body_worn_video": "Body-worn video",
    "drones": "Drones",
    "helicopter_cameras": "Helicopter-borne cameras",
    "facial_recognition": "Facial recognition",
    "other": "Other",
}
CONNECTIVITY_ANSWERS = ("networked", "standalone", "both")
PLACEMENTS = ("internal", "external")
#: An answer file is a page of YAML; anything bigger is a mistake.
MAX_ANSWER_FILE_BYTES = 1024 * 1024
DEFAULT_COUNT_TOLERANCE_PERCENT = 20.0
SURVEY_ID = "bscc-police-survey-2022"

_TOP_KEYS = {
    "survey",
    "force",
    "answered_on",
    "sites",
    "count_tolerance_percent",
    "site_placement",
    "networks",
    "technologies",
}
_TECH_KEYS = {
    "in_use",
    "manufacturers",
    "concern_vendors_in_use",
    "approximate_count",
    "connectivity",
    "networked_count",
    "standalone_count",
    "dpia_in_place",
    "dpia_reference",
    "firmware_updates",
    "standalone_units",
    "notes",
}
_UNIT_KEYS = {"name", "manufacturer", "model", "firmware", "firmware_updated", "mac", "serial", "ip"}

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class StandaloneUnit:
    """A unit the force declares standalone (never on a network)."""

    name: str
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    #: ISO date of the last firmware update, ``never``, or None (not stated).
    firmware_updated: str | None = None
    mac: str | None = None
    serial: str | None = None
    ip: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class TechnologyAnswer:
    technology: str
    in_use: bool | None = None
    manufacturers: tuple[str, ...] | None = None
    concern_vendors_in_use: bool | None = None
    approximate_count: int | None = None
    connectivity: str | None = None
    networked_count: int | None = None
    standalone_count: int | None = None
    dpia_in_place: bool | None = None
    dpia_reference: str | None = None
    firmware_updates: str | None = None
    standalone_units: tuple[StandaloneUnit, ...] = ()
    notes: str | None = None
    #: field name -> line in the answer file, so findings can point at the answer.
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return TECHNOLOGIES[self.technology]


@dataclass(frozen=True, slots=True)
class AnswerFile:
    path: str
    sha256: str
    force: str
    survey: str = SURVEY_ID
    answered_on: str | None = None
    sites: tuple[str, ...] | None = None
    count_tolerance_percent: float = DEFAULT_COUNT_TOLERANCE_PERCENT
    site_placement: dict[str, str] = field(default_factory=dict)
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    technologies: dict[str, TechnologyAnswer] = field(default_factory=dict)


def _lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            out[child] = key.start_mark.line + 1
            _lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


class _Checker:
    def __init__(self, path: str, lines: dict[Path_, int]) -> None:
        self.path = path
        self.lines = lines

    def line(self, where: Path_) -> int:
        while where and where not in self.lines:
            where = where[:-1]
        return self.lines.get(where, 1)

    def fail(self, where: Path_, message: str) -> ConfigError:
        name = ".".join(str(p) for p in where) or "(top level)"
        return ConfigError(f"{self.path}:{self.line(where)}: {name}: {message}")

    def mapping(self, value: Any, where: Path_, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(where, f"key {key!r} is not text")
            if allowed is not None and key not in allowed:
                raise self.fail((*where, key), f"unknown field (known: {', '.join(sorted(allowed))})")
        return value

    def text(self, value: Any, where: Path_, optional: bool = True) -> str | None:
        if value is None and optional:
            return None
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(where, f"expected text, got {type(value).__name__}")
        text = str(value).strip()
        if not text and not optional:
            raise self.fail(where, "must not be empty")
        return text or None

    def boolean(self, value: Any, where: Path_) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self.fail(where, f"expected true, false or null (unknown), got {value!r}")

    def count(self, value: Any, where: Path_) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, f"expected a whole number >= 0 or null (unknown), got {value!r}")
        return value

    def choice(self, value: Any, where: Path_, choices: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        if value not in choices:
            raise self.fail(where, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def texts(self, value: Any, where: Path_) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return tuple(t for i, v in enumerate(value) if (t := self.text(v, (*where, i), optional=False)))


def _unit(c: _Checker, raw: Any, where: Path_) -> StandaloneUnit:
    doc = c.mapping(raw, where, _UNIT_KEYS)
    updated = c.text(doc.get("firmware_updated"), (*where, "firmware_updated"))
    if updated is not None and updated != "never":
        try:
            date.fromisoformat(updated)
        except ValueError:
            raise c.fail(
                (*where, "firmware_updated"), f"expected YYYY-MM-DD or 'never', got {updated!r}"
            ) from None
    ip = c.text(doc.get("ip"), (*where, "ip"))
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise c.fail((*where, "ip"), f"{ip!r} is not an IP address") from None
    name = c.text(doc.get("name"), (*where, "name"), optional=False)
    assert name is not None  # optional=False never returns None
    return StandaloneUnit(
        name=name,
        manufacturer=c.text(doc.get("manufacturer"), (*where, "manufacturer")),
        model=c.text(doc.get("model"), (*where, "model")),
        firmware=c.text(doc.get("firmware"), (*where, "firmware")),
        firmware_updated=updated,
        mac=(c.text(doc.get("mac"), (*where, "mac")) or "").lower().replace("-", ":") or None,
        serial=c.text(doc.get("serial"), (*where, "serial")),
        ip=ip,
        line=c.line(where),
    )


def _technology(c: _Checker, tech: str, raw: Any) -> TechnologyAnswer:
    where: Path_ = ("technologies", tech)
    doc = c.mapping(raw, where, _TECH_KEYS)

    def at(name: str) -> Path_:
        return (*where, name)

    units_raw = doc.get("standalone_units") or []
    if not isinstance(units_raw, list):
        raise c.fail(at("standalone_units"), "expected a list of units")
    return TechnologyAnswer(
        technology=tech,
        in_use=c.boolean(doc.get("in_use"), at("in_use")),
        manufacturers=c.texts(doc.get("manufacturers"), at("manufacturers")),
        concern_vendors_in_use=c.boolean(doc.get("concern_vendors_in_use"), at("concern_vendors_in_use")),
        approximate_count=c.count(doc.get("approximate_count"), at("approximate_count")),
        connectivity=c.choice(doc.get("connectivity"), at("connectivity"), CONNECTIVITY_ANSWERS),
        networked_count=c.count(doc.get("networked_count"), at("networked_count")),
        standalone_count=c.count(doc.get("standalone_count"), at("standalone_count")),
        dpia_in_place=c.boolean(doc.get("dpia_in_place"), at("dpia_in_place")),
        dpia_reference=c.text(doc.get("dpia_reference"), at("dpia_reference")),
        firmware_updates=c.text(doc.get("firmware_updates"), at("firmware_updates")),
        standalone_units=tuple(_unit(c, u, (*at("standalone_units"), i)) for i, u in enumerate(units_raw)),
        notes=c.text(doc.get("notes"), at("notes")),
        lines={k: c.line(at(k)) for k in doc},
    )


def parse_answers(text: str, path: str = "<answers>") -> AnswerFile:
    """Parse and validate an answer file's text; errors name ``path``, line and field."""
    raw_bytes = text.encode("utf-8")
    if len(raw_bytes) > MAX_ANSWER_FILE_BYTES:
        raise ConfigError(f"{path}: {len(raw_bytes)} bytes is too big for an answer file")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    lines: dict[Path_, int] = {}
    if node is not None:
        _lines(node, (), lines)
    c = _Checker(path, lines)
    top = c.mapping(doc if doc is not None else {}, (), _TOP_KEYS)
    if top.get("force") is None:
        raise c.fail(("force",), "required: the force these answers are for")
    force = c.text(top.get("force"), ("force",), optional=False)
    assert force is not None  # optional=False never returns None
    tolerance = top.get("count_tolerance_percent", DEFAULT_COUNT_TOLERANCE_PERCENT)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance <= 100:
        raise c.fail(("count_tolerance_percent",), f"expected a number from 0 to 100, got {tolerance!r}")
    placement = c.mapping(top.get("site_placement") or {}, ("site_placement",))
    for site, where in placement.items():
        c.choice(where, ("site_placement", site), PLACEMENTS)
    networks: dict[str, tuple[str, ...]] = {}
    for site, nets in c.mapping(top.get("networks") or {}, ("networks",)).items():
        checked = c.texts(nets, ("networks", site)) or ()
        for i, net in enumerate(checked):
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise c.fail(
                    ("networks", site, i), f"{net!r} is not a network (use CIDR, e.g. 10.20.0.0/24)"
                ) from None
        networks[site] = checked
    techs = c.mapping(top.get("technologies") or {}, ("technologies",), set(TECHNOLOGIES))
    sites = c.texts(top.get("sites"), ("sites",))
    return AnswerFile(
        path=path,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        force=force,
        survey=c.text(top.get("survey"), ("survey",)) or SURVEY_ID,
        answered_on=c.text(top.get("answered_on"), ("answered_on",)),
        sites=sites,
        count_tolerance_percent=float(tolerance),
        site_placement={str(k): str(v) for k, v in placement.items()},
        networks=networks,
        technologies={t: _technology(c, t, techs[t]) for t in TECHNOLOGIES if t in techs},
    )


def load_answers(path: Path) -> AnswerFile:
    try:
        size = path.stat().st_size
        if size > MAX_ANSWER_FILE_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too big for an answer file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    return parse_answers(text, str(path))
