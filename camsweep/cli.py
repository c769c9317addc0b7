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
from rich.table import Table

from camsweep import __version__, api, cli_audit, cli_fingerprints, cli_inventory, cli_lab
from camsweep.exports import export_record, to_csv, to_json
from fingerprints.errors import CamsweepError
from scanner.credentials import load_credentials
from scanner.discovery import DiscoveryOptions
from scanner.engine import DEFAULT_PER_HOST, DEFAULT_RATE_PPS, ScanLimits
from scanner.probes.tcp import CAMERA_PORTS
from scanner.progress import PlainReporter, Reporter, RichReporter, SilentReporter
from scanner.targets import DEFAULT_MAX_ADDRESSES, Scope, parse_networks

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


def _reporter(as_json: bool, progress: str) -> Reporter:
    """rich bar on a terminal, a line every few seconds with ``--progress plain``, else nothing."""
    if progress == "none" or (as_json and progress == "auto"):
        return SilentReporter()
    if progress == "plain" or (progress == "auto" and not err.is_terminal):
        return PlainReporter(sys.stderr) if progress == "plain" else SilentReporter()
    return RichReporter(err)


def _run_scan(
    request: api.ScanRequest, db_url: str, as_json: bool, progress: str = "auto"
) -> api.ScanOutcome:
    reporter = _reporter(as_json, progress)
    try:
        outcome = api.scan(request, db_url, on_progress=reporter.update)
    except KeyboardInterrupt:
        reporter.close()
        err.print("[yellow]interrupted:[/] the scan is marked interrupted; hosts found so far are recorded")
        raise typer.Exit(130) from None
    reporter.close()
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/] {warning}")
    return outcome


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
    rate: Annotated[
        float, typer.Option(help="New connections per second, globally (0: no limit).")
    ] = DEFAULT_RATE_PPS,
    exclude: Annotated[
        Optional[list[str]], typer.Option("--exclude", help="Address or CIDR never to probe (repeatable).")
    ] = None,
    site_network: Annotated[
        Optional[list[str]],
        typer.Option(
            "--site-network", help="A network the site declares (repeatable); targets outside are refused."
        ),
    ] = None,
    deadline: Annotated[
        Optional[float], typer.Option(help="Stop the whole scan after this many seconds (status 'deadline').")
    ] = None,
    per_host: Annotated[
        int,
        typer.Option("--per-host", min=1, help="Connections to one address at once (cameras are fragile)."),
    ] = DEFAULT_PER_HOST,
    concurrency: Annotated[int, typer.Option(min=1, help="Addresses in flight at once.")] = 256,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for a TCP connect.")] = 1.5,
    read_timeout: Annotated[float, typer.Option(help="Seconds to wait for a reply.")] = 3.0,
    credentials: Annotated[
        Optional[Path],
        typer.Option(
            "--credentials",
            help="YAML file with the ONVIF username/password for this site (else "
            "$CAMSWEEP_ONVIF_USER/$CAMSWEEP_ONVIF_PASSWORD). Never stored or logged.",
        ),
    ] = None,
    arp: Annotated[
        bool, typer.Option("--arp/--no-arp", help="ARP sweep of local segments (needs root).")
    ] = True,
    wsd: Annotated[
        bool, typer.Option("--wsd/--no-wsd", help="WS-Discovery multicast on local segments.")
    ] = True,
    mdns: Annotated[
        bool, typer.Option("--mdns/--no-mdns", help="mDNS/DNS-SD browse on local segments.")
    ] = True,
    interface: Annotated[
        Optional[list[str]],
        typer.Option("--interface", help="Run local-segment discovery only on these interfaces."),
    ] = None,
    progress: Annotated[
        str, typer.Option(help="Progress display: auto (bar on a terminal), rich, plain or none.")
    ] = "auto",
    as_json: JsonOption = False,
) -> None:
    """Scan TARGETS for cameras, identify them and record them in the inventory."""
    if progress not in ("auto", "rich", "plain", "none"):
        raise typer.BadParameter(
            f"{progress!r} is not one of: auto, rich, plain, none", param_hint="--progress"
        )
    if not targets and site_network:
        targets = list(site_network)  # no targets: scan the site's declared networks
    if not targets:
        err.print(
            "error: give TARGET addresses (e.g. camsweep scan 192.168.1.0/24), "
            "or --site-network to scan a site's networks, "
            "or try `camsweep demo` to scan the built-in demo fleet."
        )
        raise typer.Exit(2)
    try:
        request = api.ScanRequest(
            targets=targets,
            site=site,
            ports=_parse_ports(ports),
            scope=Scope(
                allow_public=allow_public,
                max_addresses=max_addresses,
                exclude=parse_networks(exclude or [], "--exclude"),
                site_networks=parse_networks(site_network or [], "--site-network"),
                site_name=site,
            ),
            limits=ScanLimits(
                rate_pps=rate,
                deadline_s=deadline,
                per_host_concurrency=per_host,
                concurrency=concurrency,
                connect_timeout_s=connect_timeout,
                read_timeout_s=read_timeout,
            ),
            discovery=DiscoveryOptions(
                arp=arp, wsd=wsd, mdns=mdns, interfaces=tuple(interface) if interface else None
            ),
            credentials=load_credentials(site, credentials),
        )
        outcome = _run_scan(request, api.resolve_db_url(db), as_json, progress)
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
_COMMAND_MODULES: tuple[ModuleType, ...] = (cli_fingerprints, cli_audit, cli_lab, cli_inventory)
for _module in _COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
