"""Exports for security officers: JSON, CSV and XLSX, one record per device.

All formats take the same :class:`DeviceQuery` (the ``DeviceFilter`` of
``db.repository``, with several values allowed per field), and every export
is recorded in the audit log: who, when, which filter, how many rows.

Device-supplied strings such as model names are untrusted (OWASP "CSV
injection"): every string cell that a spreadsheet would read as a formula
(starting ``=``, ``+``, ``-``, ``@``, tab or CR) is prefixed with ``'`` in CSV
and XLSX, and XLSX cells are written with the string type explicitly, so
openpyxl never stores a formula.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from db.repository import DeviceFilter, DeviceRecord, Inventory
from fingerprints.errors import ConfigError

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
#: Every column of CSV and XLSX, in order.
TABLE_FIELDS: tuple[str, ...] = (*EXPORT_FIELDS, "is_camera", "serial", "advisories")

FORMATS = ("json", "csv", "xlsx")

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: DeviceFilter fields that accept several values (OR within a field, AND across fields).
MULTI_FIELDS: tuple[str, ...] = (
    "site",
    "brand",
    "manufacturer",
    "model",
    "category",
    "connectivity",
    "firmware",
    "policy_flag",
    "advisory",
)
#: Refuse value combinations beyond this: each is one query.
MAX_FILTER_COMBINATIONS = 256


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """What `devices`, every export and scheduled reports select.

    Each field holds the values wanted (any of them matches); empty means any.
    Expands to one ``DeviceFilter`` per combination of values.
    """

    site: tuple[str, ...] = ()
    brand: tuple[str, ...] = ()
    manufacturer: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    connectivity: tuple[str, ...] = ()
    firmware: tuple[str, ...] = ()
    policy_flag: tuple[str, ...] = ()
    advisory: tuple[str, ...] = ()
    seen_since: datetime | None = None
    cameras_only: bool = False
    flagged_only: bool = False

    @classmethod
    def from_options(
        cls,
        seen_since: datetime | None = None,
        cameras_only: bool = False,
        flagged_only: bool = False,
        **values: str | Sequence[str] | None,
    ) -> DeviceQuery:
        """Build from command-line style values: ``"Hikvision,Dahua"`` or a list of them."""
        parsed: dict[str, tuple[str, ...]] = {}
        for name, raw in values.items():
            if name not in MULTI_FIELDS:
                raise ConfigError(f"no device filter {name!r} (filters: {', '.join(MULTI_FIELDS)})")
            items = [raw] if isinstance(raw, str) else list(raw or [])
            parsed[name] = tuple(
                dict.fromkeys(v.strip() for item in items for v in item.split(",") if v.strip())
            )
        return cls(seen_since=seen_since, cameras_only=cameras_only, flagged_only=flagged_only, **parsed)

    def filters(self) -> Iterator[DeviceFilter]:
        axes = [[(name, v) for v in getattr(self, name)] or [(name, None)] for name in MULTI_FIELDS]
        combos = 1
        for axis in axes:
            combos *= len(axis)
        if combos > MAX_FILTER_COMBINATIONS:
            raise ConfigError(
                f"the filter asks for {combos} value combinations (limit {MAX_FILTER_COMBINATIONS}); "
                "give fewer values per option"
            )
        for combo in itertools.product(*axes):
            yield DeviceFilter(
                **{k: v for k, v in combo}, seen_since=self.seen_since, cameras_only=self.cameras_only
            )

    def describe(self) -> dict[str, str]:
        """The set fields, for audit records and report headers."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and value:
                out[f.name] = ",".join(value)
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            elif value is True:
                out[f.name] = "yes"
        return out


def select_devices(inventory: Inventory, query: DeviceQuery | None = None) -> list[DeviceRecord]:
    """Devices matching any expansion of ``query``, each once, ordered by address."""
    query = query or DeviceQuery()
    found: dict[int, DeviceRecord] = {}
    for where in query.filters():
        for d in inventory.devices(where):
            found.setdefault(d.id, d)
    rows = [d for d in found.values() if not query.flagged_only or d.policy_flags]
    return sorted(rows, key=lambda d: (_ip_key(d.ip), d.id))


def _ip_key(ip: str | None) -> tuple[int, str]:
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip or "")
        return (addr.version, f"{int(addr):040d}")
    except ValueError:
        return (9, ip or "")


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
    # RFC 4180 line ends: with both CR and LF in the terminator, the writer quotes any field
    # holding either, so a device string with a bare CR cannot start a new row.
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(TABLE_FIELDS)
    for d in devices:
        rec = export_record(d)
        writer.writerow([_cell(rec[k]) for k in TABLE_FIELDS])
    return buf.getvalue()


def summary_counts(devices: Iterable[DeviceRecord]) -> list[tuple[str, str, str, int, int]]:
    """(manufacturer, category, connectivity, devices, flagged), groups with flagged devices first."""
    total: Counter[tuple[str, str, str]] = Counter()
    flagged: Counter[tuple[str, str, str]] = Counter()
    for d in devices:
        key = (d.manufacturer or "(unknown)", d.category or "(unknown)", d.connectivity or "(unknown)")
        total[key] += 1
        if d.policy_flags:
            flagged[key] += 1
    rows = [(*k, n, flagged[k]) for k, n in total.items()]
    return sorted(rows, key=lambda r: (-r[4], -r[3], r[0].casefold(), r[1], r[2]))


def _flagged_first(devices: Sequence[DeviceRecord]) -> list[DeviceRecord]:
    return sorted(devices, key=lambda d: not d.policy_flags)  # stable: address order within each group


def to_xlsx(
    devices: Sequence[DeviceRecord], query: DeviceQuery | None = None, generated_at: datetime | None = None
) -> bytes:
    """A workbook: "Summary" (what, counts by manufacturer × category × connectivity,
    flagged devices) and "Devices" (one row per device, flagged first)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font, PatternFill

    generated_at = generated_at or datetime.now(UTC)
    bold = Font(bold=True)
    flag_fill = PatternFill("solid", start_color="FFF4CCCC", end_color="FFF4CCCC")
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "Summary"
    sheet = wb.create_sheet("Devices")

    def put(ws: Any, row: int, values: Sequence[Any], font: Font | None = None) -> None:
        for col, value in enumerate(values, 1):
            cell = ws.cell(row=row, column=col)
            if isinstance(value, bool) or value is None or isinstance(value, int | float):
                cell.value = value
            else:
                # XML 1.0 forbids most control characters (openpyxl raises on them); a device
                # may send any byte, so they become U+FFFD rather than failing the export.
                cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", _cell(value))
                cell.data_type = "s"  # never a formula, whatever the text
            if font:
                cell.font = font

    ordered = _flagged_first(devices)
    flagged = [d for d in ordered if d.policy_flags]
    row = 1
    put(summary, row, ["camsweep inventory export"], bold)
    row += 1
    put(summary, row, ["generated (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%S")])
    row += 1
    filt = (query or DeviceQuery()).describe()
    put(summary, row, ["filter", "; ".join(f"{k}={v}" for k, v in filt.items()) or "(none: every device)"])
    row += 1
    put(summary, row, ["devices", len(ordered)])
    row += 1
    put(summary, row, ["flagged devices", len(flagged)])
    row += 2
    put(summary, row, ["manufacturer", "category", "connectivity", "devices", "flagged"], bold)
    summary_header_row = row
    for counts in summary_counts(ordered):
        row += 1
        put(summary, row, counts)
        if counts[4]:
            for col in range(1, 6):
                summary.cell(row=row, column=col).fill = flag_fill
    row += 2
    put(summary, row, ["flagged devices"], bold)
    row += 1
    cols = ("ip", "site", "brand", "manufacturer", "model", "firmware", "connectivity", "policy_flags")
    put(summary, row, cols, bold)
    for d in flagged:
        row += 1
        rec = export_record(d)
        put(summary, row, [rec[c] for c in cols])
    summary.freeze_panes = summary.cell(row=summary_header_row + 1, column=1)

    put(sheet, 1, TABLE_FIELDS, bold)
    for i, d in enumerate(ordered, 2):
        rec = export_record(d)
        put(sheet, i, [rec[k] for k in TABLE_FIELDS])
        if d.policy_flags:
            for col in range(1, len(TABLE_FIELDS) + 1):
                sheet.cell(row=i, column=col).fill = flag_fill
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for ws in (summary, sheet):
        for col in range(1, ws.max_column + 1):
            ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = 18
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render(devices: Sequence[DeviceRecord], fmt: str, query: DeviceQuery | None = None) -> bytes:
    """The export in ``fmt`` (json, csv, xlsx) as bytes."""
    if fmt == "json":
        return to_json(devices).encode("utf-8")
    if fmt == "csv":
        return to_csv(devices).encode("utf-8")
    if fmt == "xlsx":
        return to_xlsx(devices, query)
    raise ConfigError(f"{fmt!r} is not an export format (formats: {', '.join(FORMATS)})")


def export_devices(
    inventory: Inventory, fmt: str, query: DeviceQuery | None = None, actor: str = "", destination: str = ""
) -> tuple[bytes, int]:
    """Select, render and record one export; returns the bytes and the row count."""
    query = query or DeviceQuery()
    if fmt not in FORMATS:
        raise ConfigError(f"{fmt!r} is not an export format (formats: {', '.join(FORMATS)})")
    devices = select_devices(inventory, query)
    data = render(devices, fmt, query)
    inventory.log_action(
        "export", actor=actor, format=fmt, filter=query.describe(), rows=len(devices), destination=destination
    )
    return data, len(devices)
