"""Import file parsers: standalone-unit CSV, the inventory's JSON export, nmap XML.

Parsing is pure and complete before anything is written: a bad row raises
:class:`ImportFileError` naming the file, the line and the field, and the
caller writes nothing (all or nothing).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from db.identity import Identity, normalise_mac
from db.records import CONNECTIVITY, DeviceRecord, StandaloneUnit
from fingerprints.errors import ConfigError, ImportFileError
from fingerprints.evidence import MAX_RAW_BYTES, HostReport, Observation, Status

#: Refuse import files larger than this: an inventory export of 100,000 devices is ~50 MiB.
MAX_IMPORT_BYTES = 256 * 1024 * 1024

#: Columns of a standalone-unit CSV (header row required, any order, all optional
#: but at least one identity field: mac, manufacturer + serial, onvif_endpoint or ip).
STANDALONE_COLUMNS = tuple(f.name for f in fields(StandaloneUnit))


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path}: {size} bytes is over the {MAX_IMPORT_BYTES}-byte import limit")
        return path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read: {exc.strerror}") from exc


def _text(path: Path) -> str:
    try:
        return _read(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConfigError(f"{value!r} is not an IP address") from None


def _check_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def standalone_unit(values: dict[str, str | None]) -> StandaloneUnit:
    """Validate one unit's fields (CLI or CSV); ConfigError names the field."""
    clean: dict[str, Any] = {}
    for name, raw in values.items():
        value = (raw or "").strip() or None
        if value is None:
            continue
        if len(value) > 1000:
            raise ConfigError(f"field {name!r}: longer than 1000 characters")
        try:
            if name == "mac":
                value = normalise_mac(value)
            elif name == "ip":
                value = _check_ip(value)
            elif name == "firmware_updated":
                value = _check_date(value)
        except ConfigError as exc:
            raise ConfigError(f"field {name!r}: {exc}") from None
        clean[name] = value
    unit = StandaloneUnit(**clean)
    if not (unit.mac or (unit.manufacturer and unit.serial) or unit.onvif_endpoint or unit.ip):
        raise ConfigError(
            "field 'mac': a unit needs an identity: mac, manufacturer + serial, onvif_endpoint or ip"
        )
    return unit


def parse_standalone_csv(path: Path) -> list[tuple[str, StandaloneUnit]]:
    """``(file:line, unit)`` for every row; a unit listed twice in the file is refused here."""
    text = _text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if not header:
        raise ImportFileError(
            f"{path}:1: empty file (expected a header row: {', '.join(STANDALONE_COLUMNS)})"
        )
    unknown = [h for h in header if h.strip() not in STANDALONE_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"{path}:1: field {unknown[0]!r}: unknown column (known: {', '.join(STANDALONE_COLUMNS)})"
        )
    units: list[tuple[str, StandaloneUnit]] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ImportFileError(f"{path}:{line}: more cells than header columns")
        try:
            unit = standalone_unit({k.strip(): v for k, v in row.items()})
        except ConfigError as exc:
            raise ImportFileError(f"{path}:{line}: {exc}") from exc
        key = f"{unit.site}/{Identity(unit.mac, unit.manufacturer, unit.serial, unit.onvif_endpoint, unit.ip).key}"
        if key in first_line:
            raise ImportFileError(f"{path}:{line}: same unit as line {first_line[key]} ({key})")
        first_line[key] = line
        units.append((f"{path}:{line}", unit))
    if not units:
        raise ImportFileError(f"{path}: no units after the header")
    return units


# -- the inventory's own JSON export ------------------------------------------------

_RECORD_FIELDS = {f.name: f for f in fields(DeviceRecord)}
_STR_FIELDS = {
    n
    for n in _RECORD_FIELDS
    if n not in {"id", "policy_flags", "advisories", "capabilities", "confidence", "is_camera"}
    and n not in {"first_seen", "last_seen", "declared_standalone", "connectivity", "site"}
}


def _json_elements(text: str, path: Path) -> list[tuple[int, Any]]:
    """Records of a JSON array (the export) or JSON lines (``devices --json``), with their lines."""
    dec = json.JSONDecoder()
    out: list[tuple[int, Any]] = []

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    try:
        pos = skip(0)
        if text.startswith("[", pos):
            pos = skip(pos + 1)
            if text.startswith("]", pos):
                return out
            while True:
                obj, end = dec.raw_decode(text, pos)
                out.append((line_of(pos), obj))
                pos = skip(end)
                if text.startswith(",", pos):
                    pos = skip(pos + 1)
                    continue
                if text.startswith("]", pos):
                    break
                raise ImportFileError(f"{path}:{line_of(pos)}: expected ',' or ']'")
        else:
            while pos < len(text):
                obj, end = dec.raw_decode(text, pos)
                out.append((line_of(pos), obj))
                pos = skip(end)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
    return out


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError("not an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{value!r} is not an ISO 8601 timestamp") from None
    # Stored naive in UTC, as the inventory keeps every timestamp.
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def device_record(obj: Any) -> DeviceRecord:
    """One export record -> DeviceRecord; ConfigError names the field.  Unknown keys are ignored
    (a newer export may carry more), known ones are checked."""
    if not isinstance(obj, dict):
        raise ConfigError("record is not a JSON object")
    vals: dict[str, Any] = {"id": 0}
    for name, value in obj.items():
        if name not in _RECORD_FIELDS or name == "id":
            continue
        try:
            if name in ("first_seen", "last_seen"):
                value = _when(value)
            elif name in ("policy_flags", "advisories", "capabilities"):
                if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                    raise ConfigError("not a list of strings")
            elif name == "confidence":
                if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                    raise ConfigError("not a number from 0 to 1")
                value = float(value)
            elif name in ("is_camera", "declared_standalone"):
                if not isinstance(value, bool):
                    raise ConfigError("not true or false")
            elif name == "connectivity":
                if value not in CONNECTIVITY:
                    raise ConfigError(f"{value!r} is not one of {', '.join(CONNECTIVITY)}")
            elif name == "site":
                if not isinstance(value, str) or not value:
                    raise ConfigError("not a site name")
            elif value is not None and not isinstance(value, str):
                raise ConfigError("not a string")
            if name == "mac" and value:
                value = normalise_mac(value)
            elif name == "ip" and value:
                value = _check_ip(value)
        except ConfigError as exc:
            raise ConfigError(f"field {name!r}: {exc}") from None
        vals[name] = value
    for required in ("connectivity", "site"):
        if required not in vals:
            raise ConfigError(f"field {required!r}: missing")
    for name in (
        "ip",
        "mac",
        "brand",
        "manufacturer",
        "model",
        "firmware",
        "category",
        "first_seen",
        "last_seen",
    ):
        vals.setdefault(name, None)
    vals.setdefault("policy_flags", [])
    vals.setdefault("confidence", 0.0)
    record = DeviceRecord(**vals)
    if not (record.mac or (record.manufacturer and record.serial) or record.onvif_endpoint or record.ip):
        raise ConfigError(
            "field 'mac': a device needs an identity: mac, manufacturer + serial, endpoint or ip"
        )
    return record


def records_from_json(text: str, path: Path) -> list[DeviceRecord]:
    out = []
    for line, obj in _json_elements(text, path):
        try:
            out.append(device_record(obj))
        except ConfigError as exc:
            raise ImportFileError(f"{path}:{line}: {exc}") from exc
    return out


def parse_inventory_json(path: Path) -> list[DeviceRecord]:
    return records_from_json(_text(path), path)


# -- nmap XML -------------------------------------------------------------------------

_REALM = re.compile(r'realm="([^"]{1,200})"', re.IGNORECASE)


@dataclass(slots=True)
class NmapRun:
    """What one nmap XML file says: hosts as our HostReports, and how the scan was run."""

    reports: list[HostReport] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    version: str = ""
    args: str = ""
    started_at: datetime | None = None


def _parser() -> etree.XMLParser:
    # No entities, no DTD, no network: nmap XML needs none, and a hostile file
    # could otherwise expand entities or fetch URLs (XXE).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _script_text(script: etree._Element, elem_key: str | None = None) -> str:
    if elem_key:
        for e in script.iter("elem"):
            if e.get("key") == elem_key and e.text:
                return e.text.strip()
    return (script.get("output") or "").strip()


def _port_observations(ip: str, port_el: etree._Element, path: Path) -> list[Observation]:
    where = f"{path}:{port_el.sourceline}"
    try:
        port = int(port_el.get("portid", ""))
    except ValueError:
        raise ImportFileError(f"{where}: field 'portid': {port_el.get('portid')!r} is not a port") from None
    if not 0 < port < 65536:
        raise ImportFileError(f"{where}: field 'portid': {port} is outside 1-65535")
    state = port_el.find("state")
    if state is None or state.get("state") != "open" or port_el.get("protocol", "tcp") != "tcp":
        return []
    raw = etree.tostring(port_el)[:MAX_RAW_BYTES]
    tcp = Observation("tcp", ip, port, Status.SUCCESS, detail="nmap")
    tcp.add("port.open", str(port))
    svc = Observation("nmap", ip, port, Status.SUCCESS, raw=raw, detail="nmap service and script output")
    service = port_el.find("service")
    if service is not None:
        svc.add("nmap.service", service.get("name"))
        product = " ".join(filter(None, (service.get("product"), service.get("version"))))
        svc.add("nmap.product", product)
        svc.add("nmap.extrainfo", service.get("extrainfo"))
    for script in port_el.iter("script"):
        sid = script.get("id", "")
        if sid == "http-server-header":
            for e in script.iter("elem"):
                svc.add("http.server", (e.text or "").strip())
            if not script.findall("elem"):
                svc.add("http.server", _script_text(script))
        elif sid == "http-title":
            svc.add("http.title", _script_text(script, "title"))
        elif sid in ("http-auth", "rtsp-methods", "http-headers"):
            realm = _REALM.search(script.get("output") or "")
            if realm:
                svc.add("rtsp.realm" if sid.startswith("rtsp") else "http.realm", realm.group(1))
    return [tcp, svc] if svc.evidence else [tcp]


def parse_nmap_xml(path: Path) -> NmapRun:
    data = _read(path)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise ImportFileError(f"{path}:{line}: not well-formed XML: {exc.msg}") from exc
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        # Left unresolved, an entity would still slip through as a reference in the text;
        # nmap never declares entities, so a file that does is refused outright.
        raise ImportFileError(
            f"{path}:1: field 'DOCTYPE': entity declarations are refused (nmap XML has none)"
        )
    if root.tag != "nmaprun":
        raise ImportFileError(f"{path}:{root.sourceline}: root element is <{root.tag}>, not <nmaprun>")
    run = NmapRun(version=root.get("version", ""), args=root.get("args", ""))
    start = root.get("start")
    if start and start.isdigit():
        try:
            run.started_at = datetime.fromtimestamp(int(start), UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            # A start time past year 9999 (or past time_t) is not a time nmap wrote.
            raise ImportFileError(
                f"{path}:{root.sourceline}: field 'start': {start[:20]!r} is not a Unix time"
            ) from None
    for host in root.iter("host"):
        where = f"{path}:{host.sourceline}"
        status = host.find("status")
        if status is not None and status.get("state") != "up":
            continue
        ip = mac = None
        for addr in host.findall("address"):
            kind, value = addr.get("addrtype"), addr.get("addr", "")
            try:
                if kind in ("ipv4", "ipv6"):
                    ip = _check_ip(value)
                elif kind == "mac":
                    mac = normalise_mac(value)
            except ConfigError as exc:
                raise ImportFileError(f"{where}: field 'address': {exc}") from exc
        if ip is None:
            raise ImportFileError(f"{where}: field 'address': host without an IPv4/IPv6 address")
        observations: list[Observation] = []
        for port_el in host.iter("port"):
            observations.extend(_port_observations(ip, port_el, path))
        if observations or mac:
            run.reports.append(HostReport(ip, observations, mac=mac))
            run.targets.append(ip)
    return run
