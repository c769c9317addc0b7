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
    # Field by field, not DeviceRecord.as_dict(): its deep copy of every field (the
    # identification document included) was most of the cost of a 100,000-row export.
    out = {k: getattr(device, k) for k in EXPORT_FIELDS}
    for k in ("first_seen", "last_seen"):
        v = out[k]
        out[k] = v.isoformat() + "Z" if isinstance(v, datetime) else None
    out["policy_flags"] = list(device.policy_flags)
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
    flagged devices) and "Devices" (one row per device, flagged first).

    Written in openpyxl's write-only (streaming) mode: a 100,000-device workbook
    in the default mode kept 1.6 million cell objects in memory and took a minute.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    generated_at = generated_at or datetime.now(UTC)
    bold = Font(bold=True)
    flag_fill = PatternFill("solid", start_color="FFF4CCCC", end_color="FFF4CCCC")
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Summary")
    sheet = wb.create_sheet("Devices")

    def cells(ws: Any, values: Sequence[Any], font: Font | None = None, fill: Any = None) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, bool) or value is None or isinstance(value, int | float):
                cell = WriteOnlyCell(ws, value=value)
            else:
                # XML 1.0 forbids most control characters (openpyxl raises on them); a device
                # may send any byte, so they become U+FFFD rather than failing the export.
                cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", _cell(value)))
                cell.data_type = "s"  # never a formula, whatever the text
            if font:
                cell.font = font
            if fill:
                cell.fill = fill
            out.append(cell)
        return out

    ordered = _flagged_first(devices)
    flagged = [d for d in ordered if d.policy_flags]
    for ws, ncols in ((summary, 8), (sheet, len(TABLE_FIELDS))):
        for col in range(1, ncols + 1):
            ws.column_dimensions[get_column_letter(col)].width = 18
    filt = (query or DeviceQuery()).describe()
    head = [
        cells(summary, ["camsweep inventory export"], bold),
        cells(summary, ["generated (UTC)", generated_at.strftime("%Y-%m-%d %H:%M:%S")]),
        cells(summary, ["filter", "; ".join(f"{k}={v}" for k, v in filt.items()) or "(none: every device)"]),
        cells(summary, ["devices", len(ordered)]),
        cells(summary, ["flagged devices", len(flagged)]),
        [],
        cells(summary, ["manufacturer", "category", "connectivity", "devices", "flagged"], bold),
    ]
    summary.freeze_panes = f"A{len(head) + 1}"
    for values in head:
        summary.append(values)
    for counts in summary_counts(ordered):
        summary.append(cells(summary, counts, fill=flag_fill if counts[4] else None))
    summary.append([])
    summary.append(cells(summary, ["flagged devices"], bold))
    cols = ("ip", "site", "brand", "manufacturer", "model", "firmware", "connectivity", "policy_flags")
    summary.append(cells(summary, cols, bold))
    for d in flagged:
        rec = export_record(d)
        summary.append(cells(summary, [rec[c] for c in cols]))

    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(TABLE_FIELDS))}{len(ordered) + 1}"
    sheet.append(cells(sheet, TABLE_FIELDS, bold))
    for d in ordered:
        rec = export_record(d)
        sheet.append(cells(sheet, [rec[k] for k in TABLE_FIELDS], fill=flag_fill if d.policy_flags else None))
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
