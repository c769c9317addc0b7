"""Inventory commands: device history, scan diffs, standalone units, imports, annotations.

Parse -> call ``camsweep.api`` -> render (STYLE.md §8).  Text output is plain
lines (stable for scripts and narrow terminals); ``--json`` is one JSON document.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from camsweep import api
from camsweep.cli import _fail
from db.imports import standalone_unit
from db.records import DeviceChange, DeviceDetail, DeviceRecord, EventRecord, ScanDiff, ScanRecord
from fingerprints.errors import CamsweepError

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db", help="Inventory database URL or SQLite file (default: $CAMSWEEP_DB, else ./camsweep.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (one JSON document).")]
ActorOption = Annotated[
    Optional[str],
    typer.Option(
        "--actor", help="Who is doing this, for the audit log (default: $CAMSWEEP_OPERATOR or login)."
    ),
]

SiteOption = Annotated[Optional[str], typer.Option(help="Site, when a MAC or address is in several.")]

device_app = typer.Typer(
    help="One device: identification, evidence, history, annotations.", no_args_is_help=True
)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return os.environ.get("CAMSWEEP_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return ""


def _echo(line: str = "") -> None:
    typer.echo(line)


def _dump(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def _when(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}Z" if t else "-"


def _describe(d: DeviceRecord) -> str:
    made = d.brand or d.manufacturer or "unidentified"
    if d.manufacturer and d.brand and d.manufacturer.casefold() != d.brand.casefold():
        made += f" (made by {d.manufacturer})"
    parts = [made, d.model or "", f"firmware {d.firmware}" if d.firmware else "", d.category or ""]
    return ", ".join(p for p in parts if p)


def _event_line(e: EventRecord) -> str:
    scan = f"scan {e.scan_id}" if e.scan_id else "operator"
    return f"  {_when(e.at)}  {scan:<9} {e.kind:<14} {e.summary}"


def _render_detail(detail: DeviceDetail) -> None:
    d = detail.device
    _echo(f"device {d.id}  site {d.site}  identity {d.identity_key}")
    _echo(
        f"  connectivity   {d.connectivity}"
        + (f" (through recorder {d.via_recorder})" if d.via_recorder else "")
    )
    _echo(f"  address        {d.ip or '-'}   mac {d.mac or '-'}")
    _echo(f"  identified     {_describe(d)}   confidence {d.confidence:.2f}")
    if d.serial or d.onvif_endpoint:
        _echo(f"  serial         {d.serial or '-'}   endpoint {d.onvif_endpoint or '-'}")
    if d.capabilities:
        _echo(f"  capabilities   {', '.join(d.capabilities)}")
    if d.policy_flags:
        _echo(f"  policy flags   {', '.join(d.policy_flags)}")
    if d.advisories:
        _echo(f"  advisories     {', '.join(d.advisories)}")
    _echo(f"  first seen     {_when(d.first_seen)}   last seen {_when(d.last_seen)}")
    if d.declared_standalone:
        _echo(f"  declared       standalone; firmware last updated {d.firmware_updated or 'unknown'}")
    for name, value in d.annotations.items():
        _echo(f"  {name:<14} {value}")
    if detail.explanation:
        _echo("why:")
        for line in detail.explanation:
            _echo(f"  {line}")
    for m in detail.contradicting:
        _echo(f"  contradicted by {m['key']} {m['value']!r} (rule {m['rule']})")
    if detail.evidence:
        _echo("evidence (latest scan):")
        for obs in detail.evidence:
            for ev in obs["evidence"]:
                _echo(
                    f"  scan {obs['scan_id']}  {ev['source'] or obs['probe']:<10} {ev['key']} = {ev['value']}"
                )
    if detail.sightings:
        _echo("seen by scans:")
        for s in detail.sightings:
            via = f" through recorder {s.via_recorder}" if s.via_recorder else ""
            caps = f"  [{', '.join(s.capabilities)}]" if s.capabilities else ""
            _echo(
                f"  scan {s.scan_id:<4} {_when(s.at)}  {s.ip or '-'}{via}  firmware {s.firmware or '-'}{caps}"
            )
    _echo("history:")
    for e in detail.events:
        _echo(_event_line(e))


def _device_detail(db: str | None, device: str, site: str | None) -> DeviceDetail:
    """The device an id, MAC or address names, or exit 2 saying why not."""
    try:
        return api.device_detail(api.resolve_db_url(db), device, site)
    except CamsweepError as exc:
        raise _fail(exc) from exc


@device_app.command("show")
def device_show(
    device: Annotated[str, typer.Argument(help="Device id, MAC or IP address.")],
    db: DbOption = None,
    site: SiteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one device: what it is and why, the evidence, every scan that saw it, its history."""
    detail = _device_detail(db, device, site)
    if as_json:
        _dump(detail.as_dict())
    else:
        _render_detail(detail)


def history(
    device: Annotated[str, typer.Argument(help="Device id, MAC or IP address.")],
    db: DbOption = None,
    site: SiteOption = None,
    as_json: JsonOption = False,
) -> None:
    """A device's events: new, moved, firmware and capability changes, gone, conflicts."""
    detail = _device_detail(db, device, site)
    if as_json:
        _dump([e.as_dict() for e in detail.events])
        return
    _echo(f"device {detail.device.id}: {_describe(detail.device)}")
    for e in detail.events:
        _echo(_event_line(e))


def scans(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the scans in the inventory (ids for `camsweep diff`)."""
    try:
        rows = api.list_scans(api.resolve_db_url(db))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump([_scan_dict(r) for r in rows])
        return
    for r in rows:
        _echo(
            f"scan {r.id:<4} {r.status:<11} site {r.site:<12} {_when(r.started_at)}  "
            f"{r.addresses_done}/{r.addresses_total} addresses  {' '.join(r.targets)[:60]}"
        )


def _scan_dict(r: ScanRecord) -> dict[str, Any]:
    return {k: (v.isoformat() + "Z" if isinstance(v, datetime) else v) for k, v in asdict(r).items()}


def _change_text(c: DeviceChange) -> str:
    return "; ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in c.changes.items())


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v) if v is not None else "-"


def diff(
    scan_a: Annotated[int, typer.Argument(help="The earlier scan id.")],
    scan_b: Annotated[int, typer.Argument(help="The later scan id.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Devices new in SCAN_B, gone since SCAN_A, and changed between them."""
    try:
        result: ScanDiff = api.diff_scans(api.resolve_db_url(db), scan_a, scan_b)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump(result.as_dict())
        return
    _echo(
        f"scan {scan_a} → scan {scan_b}: {len(result.new)} new, {len(result.gone)} gone, "
        f"{len(result.changed)} changed"
    )
    for d in result.new:
        _echo(f"  new      device {d.id:<5} {d.ip or '-':<16} {_describe(d)}")
    for d in result.gone:
        _echo(f"  gone     device {d.id:<5} {d.ip or '-':<16} {_describe(d)}")
    for c in result.changed:
        _echo(f"  changed  device {c.device.id:<5} {c.device.ip or '-':<16} {_change_text(c)}")


def register_unit(
    db: DbOption = None,
    site: Annotated[str, typer.Option(help="Site the unit belongs to.")] = "default",
    mac: Annotated[Optional[str], typer.Option(help="MAC address (the strongest identity).")] = None,
    manufacturer: Annotated[
        Optional[str], typer.Option(help="Manufacturer (with --serial, an identity).")
    ] = None,
    serial: Annotated[Optional[str], typer.Option(help="Serial number.")] = None,
    onvif_endpoint: Annotated[
        Optional[str], typer.Option(help="ONVIF endpoint reference (urn:uuid:...).")
    ] = None,
    ip: Annotated[Optional[str], typer.Option(help="IP address, if it has one (weakest identity).")] = None,
    brand: Annotated[Optional[str], typer.Option(help="Brand on the box.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model.")] = None,
    category: Annotated[
        Optional[str], typer.Option(help="Category (fixed camera, PTZ, NVR/DVR, ANPR ...).")
    ] = None,
    firmware: Annotated[Optional[str], typer.Option(help="Firmware version.")] = None,
    firmware_updated: Annotated[
        Optional[str], typer.Option(help="Date of the last firmware update (YYYY-MM-DD).")
    ] = None,
    location: Annotated[Optional[str], typer.Option(help="Where it is.")] = None,
    owner: Annotated[Optional[str], typer.Option(help="Who is responsible for it.")] = None,
    notes: Annotated[Optional[str], typer.Option(help="Free text.")] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a standalone unit (not on any network); if it is ever seen on one, it becomes a conflict."""
    fields = {
        "site": site,
        "mac": mac,
        "manufacturer": manufacturer,
        "serial": serial,
        "onvif_endpoint": onvif_endpoint,
        "ip": ip,
        "brand": brand,
        "model": model,
        "category": category,
        "firmware": firmware,
        "firmware_updated": firmware_updated,
        "location": location,
        "owner": owner,
        "notes": notes,
    }
    try:
        unit = standalone_unit(fields)
        record = api.register_standalone(api.resolve_db_url(db), unit, actor=_actor(actor))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump({"id": record.id, "connectivity": record.connectivity, "identity_key": record.identity_key})
        return
    note = (
        " (already observed on a network: recorded as a conflict)"
        if record.connectivity == "conflict"
        else ""
    )
    _echo(f"registered device {record.id} ({record.identity_key}) as {record.connectivity}{note}")


def import_(
    file: Annotated[Path, typer.Argument(help="The file to import.")],
    fmt: Annotated[str, typer.Option("--format", help="standalone-csv, json (our export) or nmap-xml.")],
    db: DbOption = None,
    site: Annotated[str, typer.Option(help="Site for nmap-xml scans and CSV rows without one.")] = "default",
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a file, all or nothing: a bad row names file, line and field, and nothing is written."""
    if fmt not in api.IMPORT_FORMATS:
        raise typer.BadParameter(
            f"{fmt!r} is not one of: {', '.join(api.IMPORT_FORMATS)}", param_hint="--format"
        )
    try:
        result = api.import_file(api.resolve_db_url(db), file, fmt, site=site, actor=_actor(actor))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump(
            {"format": result.fmt, "file": result.path, "devices": result.devices, "scan_id": result.scan_id}
        )
        return
    scan = f" as scan {result.scan_id}" if result.scan_id else ""
    _echo(f"imported {len(result.devices)} devices from {file}{scan}")


def annotate(
    device: Annotated[str, typer.Argument(help="Device id, MAC or IP address.")],
    db: DbOption = None,
    site: SiteOption = None,
    location: Annotated[Optional[str], typer.Option(help="Where it is.")] = None,
    owner: Annotated[Optional[str], typer.Option(help="Who is responsible for it.")] = None,
    dpia: Annotated[Optional[str], typer.Option(help="Data protection impact assessment reference.")] = None,
    procurement: Annotated[Optional[str], typer.Option(help="Procurement reference.")] = None,
    category: Annotated[Optional[str], typer.Option(help="Category override.")] = None,
    notes: Annotated[Optional[str], typer.Option(help="Free text.")] = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Annotate a device (an empty value clears a field); rescans keep annotations; audited."""
    try:
        changed = api.annotate(
            api.resolve_db_url(db),
            device,
            actor=_actor(actor),
            site=site,
            location=location,
            owner=owner,
            dpia_ref=dpia,
            procurement_ref=procurement,
            category_override=category,
            notes=notes,
        )
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump({"device": device, "changes": changed})
        return
    if not changed:
        _echo(f"device {device}: nothing changed")
    for name, (old, new) in changed.items():
        _echo(f"device {device}: {name} {_fmt(old)} → {_fmt(new)}")


def reidentify(db: DbOption = None, actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Re-run identification over stored observations with the current fingerprints (no rescan)."""
    try:
        changes = api.reidentify(api.resolve_db_url(db), actor=_actor(actor))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _dump([{"device": c.device_id, "changes": c.changes} for c in changes])
        return
    _echo(f"{len(changes)} devices re-identified")
    for c in changes:
        text = "; ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in c.changes.items())
        _echo(f"  device {c.device_id}: {text}")


def register(app: typer.Typer) -> None:
    """Add the inventory commands to the ``camsweep`` app."""
    app.add_typer(device_app, name="device")
    app.command("history")(history)
    app.command("scans")(scans)
    app.command("diff")(diff)
    app.command("register")(register_unit)
    app.command("import")(import_)
    app.command("annotate")(annotate)
    app.command("reidentify")(reidentify)
