"""The ``camsweep`` command line: parse -> call the library API -> render.

No logic lives here beyond argument handling and presentation (STYLE.md §8).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from camsweep import __version__, api
from camsweep.exports import export_record, to_csv, to_json
from fingerprints.errors import CamsweepError
from scanner.engine import DEFAULT_RATE_PPS, ScanLimits
from scanner.engine import Progress as ScanProgress
from scanner.probes.tcp import CAMERA_PORTS
from scanner.targets import DEFAULT_MAX_ADDRESSES, Scope

app = typer.Typer(
    help="camsweep finds the cameras on your networks, says who really made each one, "
    "and keeps an inventory that survives audit.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db", help="Inventory database URL or SQLite file (default: $CAMSWEEP_DB, else ./camsweep.db)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (JSON lines).")]


def _fail(exc: CamsweepError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(2)


def _parse_ports(text: str | None) -> tuple[int, ...]:
    if not text:
        return CAMERA_PORTS
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                ports.extend(range(lo, hi + 1))
            else:
                ports.append(int(part))
        except ValueError:
            raise typer.BadParameter(f"{part!r} is not a port or port range", param_hint="--ports") from None
    bad = [p for p in ports if not 0 < p < 65536]
    if bad:
        raise typer.BadParameter(f"port {bad[0]} is outside 1-65535", param_hint="--ports")
    return tuple(dict.fromkeys(ports))


def _devices_table(rows: list[dict[str, object]], title: str) -> Table:
    table = Table(title=title)
    for col in ("ip", "brand", "manufacturer", "model", "firmware", "category", "policy_flags", "confidence"):
        table.add_column(col)
    for r in rows:
        flags = r.get("policy_flags") or []
        table.add_row(
            *(str(r.get(c) or "") for c in ("ip", "brand", "manufacturer", "model", "firmware", "category")),
            "[red]" + ", ".join(map(str, flags)) + "[/]" if flags else "",  # type: ignore[call-overload]
            f"{float(r.get('confidence') or 0):.2f}",  # type: ignore[arg-type]
        )
    return table


def _run_scan(request: api.ScanRequest, db_url: str, as_json: bool) -> api.ScanOutcome:
    if as_json or not err.is_terminal:
        return api.scan(request, db_url)
    with Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[found]} responsive"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("scan", total=None, found=0)

        def on_progress(p: ScanProgress) -> None:
            bar.update(task, total=p.total, completed=p.done, found=p.responsive)

        return api.scan(request, db_url, on_progress=on_progress)


def _render_outcome(outcome: api.ScanOutcome, as_json: bool) -> None:
    rows = []
    for report, ident in outcome.devices:
        rows.append(
            {
                "ip": report.ip,
                "open_ports": report.open_ports,
                "is_camera": ident.is_camera,
                "brand": ident.brand,
                "manufacturer": ident.manufacturer,
                "model": ident.model,
                "firmware": ident.firmware,
                "category": ident.category,
                "policy_flags": list(ident.policy_flags),
                "confidence": ident.confidence,
            }
        )
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.write(
            json.dumps(
                {
                    "scan_id": outcome.scan_id,
                    "status": outcome.status,
                    "addresses": outcome.addresses,
                    "responsive": outcome.responsive,
                }
            )
            + "\n"
        )
        return
    out.print(_devices_table(rows, f"scan {outcome.scan_id}: {outcome.status}"))
    cams = sum(1 for r in rows if r["is_camera"])
    out.print(f"{outcome.addresses} addresses, {outcome.responsive} responsive, {cams} cameras identified")


@app.command()
def scan(
    targets: Annotated[
        Optional[list[str]], typer.Argument(help="Addresses, CIDRs, ranges a-b, hostnames or @file.")
    ] = None,
    db: DbOption = None,
    site: Annotated[str, typer.Option(help="Site the targets belong to.")] = "default",
    ports: Annotated[
        Optional[str], typer.Option(help="Ports to probe, e.g. 80,554,8000-8010 (default: camera set).")
    ] = None,
    allow_public: Annotated[
        bool, typer.Option("--allow-public", help="Allow public address space (only if authorised).")
    ] = False,
    max_addresses: Annotated[
        int, typer.Option(help="Refuse target sets larger than this.")
    ] = DEFAULT_MAX_ADDRESSES,
    rate: Annotated[float, typer.Option(help="New connections per second, globally.")] = DEFAULT_RATE_PPS,
    as_json: JsonOption = False,
) -> None:
    """Scan TARGETS for cameras, identify them and record them in the inventory."""
    if not targets:
        err.print(
            "error: give TARGET addresses (e.g. camsweep scan 192.168.1.0/24), "
            "or try `camsweep demo` to scan the built-in demo fleet."
        )
        raise typer.Exit(2)
    request = api.ScanRequest(
        targets=targets,
        site=site,
        ports=_parse_ports(ports),
        scope=Scope(allow_public=allow_public, max_addresses=max_addresses),
        limits=ScanLimits(rate_pps=rate),
    )
    try:
        outcome = _run_scan(request, api.resolve_db_url(db), as_json)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    _render_outcome(outcome, as_json)


@app.command()
def demo(
    db: DbOption = None,
    fleet: Annotated[str, typer.Option(help="Fleet name or file.")] = "demo",
    as_json: JsonOption = False,
) -> None:
    """Start the built-in demo fleet on loopback, scan it into the inventory, show who made what."""
    from camsweep.lab import Lab, load_fleet

    try:
        lab_fleet = load_fleet(fleet)
        with Lab(lab_fleet):
            if not as_json:
                err.print(f"demo fleet {lab_fleet.name!r}: {len(lab_fleet.devices)} devices on loopback")
            request = api.ScanRequest(targets=lab_fleet.targets, site="demo")
            outcome = _run_scan(request, api.resolve_db_url(db), as_json)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    _render_outcome(outcome, as_json)


@app.command()
def devices(
    db: DbOption = None,
    cameras_only: Annotated[
        bool, typer.Option("--cameras", help="Only devices identified as cameras.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the devices in the inventory."""
    try:
        rows = [export_record(d) for d in api.list_devices(api.resolve_db_url(db), cameras_only)]
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
        return
    out.print(_devices_table(rows, f"{len(rows)} devices"))


@app.command()
def export(
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    output: Annotated[
        Optional[Path], typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export the inventory, one record per device."""
    renderers = {"json": to_json, "csv": to_csv}
    if fmt not in renderers:
        raise typer.BadParameter(f"{fmt!r} is not one of: {', '.join(renderers)}", param_hint="--format")
    try:
        text = renderers[fmt](api.list_devices(api.resolve_db_url(db)))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if output:
        output.write_text(text, encoding="utf-8", newline="")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@app.command()
def version() -> None:
    """Print camsweep's version."""
    out.print(f"camsweep {__version__}")


# Command groups that live in their own modules register themselves here, one line each:
# each module defines ``register(app: typer.Typer) -> None``.
import camsweep.cli_worker  # noqa: E402 - command modules import this one

_COMMAND_MODULES: tuple[ModuleType, ...] = (camsweep.cli_worker,)
for _module in _COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
