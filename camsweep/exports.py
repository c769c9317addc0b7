"""Exports for security officers: JSON and CSV, one record per device.

Every field that a spreadsheet would read as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or CR) is neutralised in CSV: device-supplied strings
such as model names are untrusted (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from db.repository import DeviceRecord

#: The export record's keys, in order (issue 2's interface; extend, keep stable).
EXPORT_FIELDS: tuple[str, ...] = (
    "ip",
    "mac",
    "brand",
    "manufacturer",
    "model",
    "firmware",
    "category",
    "connectivity",
    "policy_flags",
    "confidence",
    "site",
    "first_seen",
    "last_seen",
)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export_record(device: DeviceRecord) -> dict[str, Any]:
    d = device.as_dict()
    out = {k: d[k] for k in EXPORT_FIELDS}
    for k in ("first_seen", "last_seen"):
        v = out[k]
        out[k] = v.isoformat() + "Z" if isinstance(v, datetime) else None
    out["is_camera"] = device.is_camera
    out["serial"] = device.serial
    out["advisories"] = list(device.advisories)
    return out


def to_json(devices: Iterable[DeviceRecord]) -> str:
    return json.dumps([export_record(d) for d in devices], indent=2, ensure_ascii=False) + "\n"


def neutralise_cell(value: str) -> str:
    """Prefix a would-be formula with ``'`` so spreadsheets show it as text."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(map(str, value))
    return neutralise_cell(str(value))


def to_csv(devices: Iterable[DeviceRecord]) -> str:
    buf = io.StringIO()
    fields = (*EXPORT_FIELDS, "is_camera", "serial", "advisories")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for d in devices:
        rec = export_record(d)
        writer.writerow([_cell(rec[k]) for k in fields])
    return buf.getvalue()
