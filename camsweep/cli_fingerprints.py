"""``camsweep fingerprints test|match|explain``: check the data, match by hand, explain a device.

Parse -> call :mod:`camsweep.api` -> render (STYLE.md §8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from camsweep import api
from camsweep.cli import _fail
from fingerprints.errors import CamsweepError
from fingerprints.evidence import Identification, Match

out = Console()
err = Console(stderr=True)

fingerprints_app = typer.Typer(
    help="Check the fingerprint data, match a banner typed by hand, explain a stored device.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON).")]
VendorListOption = Annotated[
    Optional[Path],
    typer.Option(
        "--vendor-list",
        help="Your organisation's vendor list (YAML, same schema as the packaged one), merged over it "
        "(default: $CAMSWEEP_VENDOR_LIST).",
        exists=True,
        dir_okay=False,
    ),
]


def _match_dict(m: Match) -> dict[str, Any]:
    return {
        "rule": m.rule_id,
        "key": m.key,
        "value": m.value,
        "source": m.source,
        "sets": dict(m.sets),
        "certainty": m.certainty,
    }


def identification_dict(ident: Identification) -> dict[str, Any]:
    """An identification as plain JSON-able data."""
    return {
        "is_camera": ident.is_camera,
        "brand": ident.brand,
        "manufacturer": ident.manufacturer,
        "model": ident.model,
        "firmware": ident.firmware,
        "firmware_normalised": ident.firmware_normalised,
        "build_date": ident.build_date,
        "oem_build": ident.oem_build,
        "serial": ident.serial,
        "category": ident.category,
        "confidence": ident.confidence,
        "policy_flags": list(ident.policy_flags),
        "advisories": list(ident.advisories),
        "supporting": [_match_dict(m) for m in ident.supporting],
        "contradicting": [_match_dict(m) for m in ident.contradicting],
        "explanation": list(ident.explanation),
    }


def _render(ident: Identification) -> None:
    table = Table(show_header=False, box=None)
    for name in ("is_camera", "brand", "manufacturer", "model", "firmware", "category", "serial"):
        value = getattr(ident, name)
        if value not in (None, ""):
            table.add_row(name, str(value))
    if ident.firmware_normalised and ident.firmware_normalised != ident.firmware:
        table.add_row("firmware (normalised)", ident.firmware_normalised)
    if ident.build_date:
        table.add_row("build date", ident.build_date)
    if ident.oem_build:
        table.add_row("OEM build", ident.oem_build)
    table.add_row("confidence", f"{ident.confidence:.2f}")
    if ident.policy_flags:
        table.add_row("policy flags", "[red]" + ", ".join(ident.policy_flags) + "[/]")
    if ident.advisories:
        table.add_row("advisories", "[red]" + ", ".join(ident.advisories) + "[/]")
    out.print(table)
    if ident.supporting:
        out.print("[bold]Supporting evidence[/] (strongest first):")
        for m in ident.supporting:
            out.print(
                f"  {m.certainty:.2f}  {m.key} {m.value!r} -> {dict(m.sets)}  [dim]{m.rule_id}[/]",
                markup=True,
            )
    if ident.contradicting:
        out.print("[bold]Contradicting evidence:[/]")
        for m in ident.contradicting:
            out.print(f"  {m.certainty:.2f}  {m.key} {m.value!r} -> {dict(m.sets)}  [dim]{m.rule_id}[/]")
    if ident.explanation:
        out.print("[bold]Why:[/]")
        for line in ident.explanation:
            out.print(f"  {line}", markup=False, highlight=False)
    if not ident.supporting:
        out.print("no rule matched: not identified")


@fingerprints_app.command("test")
def test_cmd(as_json: JsonOption = False) -> None:
    """Validate all fingerprint data and prove every example; exit 1 naming file, rule and reason."""
    report = api.fingerprint_selftest()
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "ok": report.ok,
                    "rules": report.rules,
                    "examples": report.examples,
                    "negative_hosts": report.negative_hosts,
                    "positive_hosts": report.positive_hosts,
                    "problems": [str(p) for p in report.problems],
                }
            )
        )
    else:
        for p in report.problems:
            err.print(f"[bold red]FAIL[/] {p}", markup=True, highlight=False)
        verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        out.print(
            f"fingerprints: {report.rules} rules, {report.examples} examples, "
            f"{report.positive_hosts} camera hosts, {report.negative_hosts} negative hosts: {verdict}"
        )
    if not report.ok:
        raise typer.Exit(1)


@fingerprints_app.command("match")
def match_cmd(
    pairs: Annotated[list[str], typer.Argument(help="KEY VALUE [KEY VALUE ...], e.g. http.server App-webs/")],
    vendor_list: VendorListOption = None,
    as_json: JsonOption = False,
) -> None:
    """Identify a host from evidence typed by hand."""
    if len(pairs) % 2:
        raise typer.BadParameter("give evidence as KEY VALUE pairs", param_hint="PAIRS")
    try:
        ident = api.fingerprint_match(list(zip(pairs[::2], pairs[1::2], strict=True)), vendor_list)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        out.print_json(json.dumps(identification_dict(ident)))
    else:
        _render(ident)


@fingerprints_app.command("explain")
def explain_cmd(
    device_id: Annotated[int, typer.Argument(help="Device id (see `camsweep devices`).")],
    db: Annotated[
        Optional[str],
        typer.Option(
            "--db", help="Inventory database URL or SQLite file (default: $CAMSWEEP_DB, else ./camsweep.db)."
        ),
    ] = None,
    vendor_list: VendorListOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run identification over a stored device's observations and show why."""
    try:
        result = api.explain_device(api.resolve_db_url(db), device_id, vendor_list)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        payload = identification_dict(result.identification)
        payload["device"] = {"id": result.device.id, "ip": result.device.ip, "mac": result.device.mac}
        payload["evidence"] = [{"key": e.key, "value": e.value, "source": e.source} for e in result.evidence]
        out.print_json(json.dumps(payload))
        return
    d = result.device
    out.print(f"[bold]Device {d.id}[/] {d.ip or ''} {d.mac or ''} (site {d.site})")
    out.print(f"{len(result.evidence)} stored evidence item(s)")
    _render(result.identification)


def register(app: typer.Typer) -> None:
    app.add_typer(fingerprints_app, name="fingerprints")
