"""The ``camsweep`` command line: parse -> call the library API -> render.

No logic lives here beyond argument handling and presentation (STYLE.md §8).
"""

from __future__ import annotations

import functools
import getpass
import inspect
import ipaddress
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from camsweep import __version__, api
from camsweep.config import Config
from camsweep.exports import FORMATS, DeviceQuery, export_record
from fingerprints.errors import CamsweepError, ConfigError
from scanner.credentials import OnvifCredentials, Secret, load_credentials
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
ConfigOption = Annotated[
    Optional[str],
    typer.Option(
        "--config",
        help="Configuration file (default: $CAMSWEEP_CONFIG, else ./camsweep.toml if present).",
    ),
]
FailOnOption = Annotated[
    Optional[str],
    typer.Option(
        "--fail-on",
        help="Exit 1 if any device found has: policy (a policy flag), advisory, or camera.",
    ),
]
_FAIL_ON = ("policy", "advisory", "camera")

#: Exit codes (README "Exit codes"): 0 ok; 1 --fail-on found something; 2 usage, configuration,
#: scope or data error; 3 a scheduled job failed (scan or notification).
EXIT_FOUND = 1
EXIT_ERROR = 2
EXIT_JOB_FAILED = 3


def _filter_option(name: str, what: str) -> Any:
    return typer.Option(name, help=f"Only devices whose {what} is one of these (comma-separated).")


SiteFilter = Annotated[Optional[list[str]], _filter_option("--site", "site")]
BrandFilter = Annotated[Optional[list[str]], _filter_option("--brand", "brand (the name on the box)")]
MakerFilter = Annotated[
    Optional[list[str]], _filter_option("--manufacturer", "real manufacturer, e.g. Hikvision,Dahua")
]
ModelFilter = Annotated[Optional[list[str]], _filter_option("--model", "model")]
CategoryFilter = Annotated[Optional[list[str]], _filter_option("--category", "category")]
ConnectivityFilter = Annotated[
    Optional[list[str]], _filter_option("--connectivity", "connectivity (networked, standalone, ...)")
]
FirmwareFilter = Annotated[
    Optional[list[str]],
    typer.Option("--firmware", help="Only devices whose firmware contains one of these (comma-separated)."),
]
PolicyFilter = Annotated[Optional[list[str]], _filter_option("--policy-flag", "policy flags include")]
AdvisoryFilter = Annotated[Optional[list[str]], _filter_option("--advisory", "advisories include")]
SinceFilter = Annotated[
    Optional[str],
    typer.Option("--since", help="Only devices seen since: an ISO date/time (UTC) or an age like 7d, 12h."),
]
CamerasFilter = Annotated[bool, typer.Option("--cameras", help="Only devices identified as cameras.")]
FlaggedFilter = Annotated[bool, typer.Option("--flagged", help="Only devices with a policy flag.")]


def _parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    age = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if age:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2)]
        return datetime.now(UTC).replace(tzinfo=None) - timedelta(**{unit: int(age.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO date/time (2026-11-01) nor an age (7d, 12h, 30m)",
            param_hint="--since",
        ) from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


#: The device filters `devices` and `export` share, declared once: parameter name -> (option, default).
_QUERY_OPTIONS: dict[str, tuple[Any, Any]] = {
    "site": (SiteFilter, None),
    "brand": (BrandFilter, None),
    "manufacturer": (MakerFilter, None),
    "model": (ModelFilter, None),
    "category": (CategoryFilter, None),
    "connectivity": (ConnectivityFilter, None),
    "firmware": (FirmwareFilter, None),
    "policy_flag": (PolicyFilter, None),
    "advisory": (AdvisoryFilter, None),
    "since": (SinceFilter, None),
    "cameras_only": (CamerasFilter, False),
    "flagged": (FlaggedFilter, False),
}


#: The default a decorated command's ``query`` parameter shows; the decorator always passes one.
_ANY_DEVICE = DeviceQuery()


def _query(
    since: str | None = None, cameras_only: bool = False, flagged: bool = False, **values: list[str] | None
) -> DeviceQuery:
    return DeviceQuery.from_options(
        seen_since=_parse_since(since), cameras_only=cameras_only, flagged_only=flagged, **values
    )


def _with_device_query(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` the shared filter options in place of its ``query: DeviceQuery`` parameter.

    Typer reads a command's options from its signature, so the wrapper shows the twelve filter
    parameters where ``query`` was and builds the ``DeviceQuery`` from them before calling.
    """
    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        if parameter.name != "query":
            parameters.append(parameter)
            continue
        parameters += [
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=option
            )
            for name, (option, default) in _QUERY_OPTIONS.items()
        ]

    @functools.wraps(command)
    def with_query(**kwargs: Any) -> None:
        filters = {name: kwargs.pop(name) for name in _QUERY_OPTIONS}
        try:
            query = _query(**filters)
        except CamsweepError as exc:
            raise _fail(exc) from exc
        command(query=query, **kwargs)

    with_query.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_query.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_query


def _check_fail_on(value: str | None) -> str | None:
    if value is not None and value not in _FAIL_ON:
        raise typer.BadParameter(f"{value!r} is not one of: {', '.join(_FAIL_ON)}", param_hint="--fail-on")
    return value


def _fail_on_found(fail_on: str | None, rows: list[dict[str, Any]]) -> None:
    """Exit 1 when ``--fail-on`` names something these device rows have."""
    if fail_on is None:
        return
    key = {"policy": "policy_flags", "advisory": "advisories", "camera": "is_camera"}[fail_on]
    hits = [r for r in rows if r.get(key)]
    if hits:
        err.print(
            f"--fail-on {fail_on}: {len(hits)} device(s) found ({', '.join(str(r.get('ip')) for r in hits[:5])}"
            + (", ..." if len(hits) > 5 else "")
            + ")",
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(EXIT_FOUND)


def _config(option: str | None) -> Config | None:
    try:
        return api.load_config(option)
    except CamsweepError as exc:
        raise _fail(exc) from exc


def _db_url(db: str | None, cfg: Config | None) -> str:
    return api.resolve_db_url(db, cfg.database_url if cfg else None)


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return os.environ.get("CAMSWEEP_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _fail(exc: CamsweepError) -> typer.Exit:
    # soft_wrap: an error is one line however wide, so scripts and logs can grep it
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(EXIT_ERROR)


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
    # Device-supplied strings are escaped: a model called "[/]" must print, not crash rich's markup.
    text_cols = ["ip", "brand", "manufacturer", "model", "firmware", "category"]
    if any("site" in r for r in rows):  # inventory rows (not a fresh scan's) say where and how
        text_cols += ["site", "connectivity"]
    table = Table(title=escape(title))
    for col in (*text_cols, "policy_flags", "confidence"):
        table.add_column(col)
    for r in sorted(rows, key=_ip_sort_key):
        flags = [str(f) for f in r.get("policy_flags") or []]  # type: ignore[attr-defined]
        # One line per device: the first flag and how many more (all of them: --json, export).
        shown = flags[0] + (f" +{len(flags) - 1}" if len(flags) > 1 else "") if flags else ""
        table.add_row(
            *(escape(str(r.get(c) or "")) for c in text_cols),
            "[red]" + escape(shown) + "[/]" if shown else "",
            f"{float(r.get('confidence') or 0):.2f}",  # type: ignore[arg-type]
        )
    return table


def _ip_sort_key(row: dict[str, object]) -> tuple[int, int, str]:
    try:
        addr = ipaddress.ip_address(str(row.get("ip") or ""))
    except ValueError:
        return (9, 0, str(row.get("ip") or ""))
    return (addr.version, int(addr), "")


def _made_by_summary(rows: list[dict[str, Any]]) -> list[str]:
    """Who really made the cameras found, with the brands each maker's kit was sold under."""
    makers: dict[str, tuple[int, set[str]]] = {}
    for r in rows:
        if not r.get("is_camera") or not r.get("manufacturer"):
            continue
        count, brands = makers.get(r["manufacturer"], (0, set()))
        makers[r["manufacturer"]] = (count + 1, brands | ({r["brand"]} if r.get("brand") else set()))
    lines = []
    for maker, (count, brands) in sorted(makers.items(), key=lambda kv: (-kv[1][0], kv[0])):
        others = sorted(b for b in brands if b != maker)
        sold_as = f" (sold as {', '.join(others)})" if others else ""
        lines.append(f"{count:>3} made by {maker}{sold_as}")
    return lines


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


#: Rows of the table a scan prints; the rest are in the inventory.
SCAN_TABLE_ROWS = 100


def _scan_table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a scan's table shows: cameras first, at most :data:`SCAN_TABLE_ROWS`."""
    return sorted(rows, key=lambda r: not r["is_camera"])[:SCAN_TABLE_ROWS]


def _render_outcome(outcome: api.ScanOutcome, as_json: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
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
                "advisories": list(ident.advisories),
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
        return rows
    # A sweep of a large network finds thousands of hosts: the terminal gets the first
    # rows (cameras first), the inventory and --json get all of them.
    shown = _scan_table_rows(rows)
    out.print(_devices_table(shown, f"scan {outcome.scan_id}: {outcome.status}"))
    if len(rows) > len(shown):
        out.print(
            f"(showing {len(shown)} of {len(rows)} responsive hosts; all are in the inventory: "
            f"camsweep devices, or scan --json)"
        )
    cams = sum(1 for r in rows if r["is_camera"])
    out.print(f"{outcome.addresses} addresses, {outcome.responsive} responsive, {cams} cameras identified")
    return rows


@app.command()
def scan(
    targets: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Addresses, CIDRs, ranges a-b, hostnames or @file (default: the configured sites)."
        ),
    ] = None,
    db: DbOption = None,
    site: Annotated[
        Optional[str],
        typer.Option(help="Site the targets belong to; with a configuration, only that site's networks."),
    ] = None,
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
    config: ConfigOption = None,
    fail_on: FailOnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Scan TARGETS (or the sites of the configuration) for cameras, identify and record them."""
    if progress not in ("auto", "rich", "plain", "none"):
        raise typer.BadParameter(
            f"{progress!r} is not one of: auto, rich, plain, none", param_hint="--progress"
        )
    _check_fail_on(fail_on)
    cfg = _config(config)
    try:
        limits = ScanLimits(
            rate_pps=rate,
            deadline_s=deadline,
            per_host_concurrency=per_host,
            concurrency=concurrency,
            connect_timeout_s=connect_timeout,
            read_timeout_s=read_timeout,
        )
        discovery = DiscoveryOptions(
            arp=arp, wsd=wsd, mdns=mdns, interfaces=tuple(interface) if interface else None
        )
        if not targets and site_network:
            targets = list(site_network)  # no targets: scan the networks declared on the command line
        if not targets:
            if cfg is None or not cfg.sites:
                err.print(
                    "error: give TARGET addresses (e.g. camsweep scan 192.168.1.0/24), or configure sites "
                    "in camsweep.toml (see examples/camsweep.toml; --config FILE), or --site-network, "
                    "or try `camsweep demo` to scan the built-in demo fleet."
                )
                raise typer.Exit(EXIT_ERROR)
            sites = [cfg.site(site)] if site else list(cfg.sites.values())
            requests = [
                replace(
                    api.site_request(
                        s, ports=_parse_ports(ports) if ports else None, rate_pps=rate, operator=_actor(None)
                    ),
                    discovery=discovery,
                    credentials=api.site_credentials(s, credentials),
                )
                for s in sites
            ]
        else:
            scope = Scope(
                allow_public=allow_public,
                max_addresses=max_addresses,
                exclude=parse_networks(exclude or [], "--exclude"),
                site_networks=parse_networks(site_network or [], "--site-network"),
                site_name=site,
            )
            if site and cfg is not None and cfg.sites:
                # A configured site's networks are its scope: targets outside them are refused.
                site_scope = cfg.site(site).scope()
                scope = Scope(
                    allow_public=allow_public or site_scope.allow_public,
                    site_networks=site_scope.site_networks + scope.site_networks,
                    site_name=site,
                    exclude=site_scope.exclude + scope.exclude,
                    max_addresses=max_addresses,
                )
            requests = [
                api.ScanRequest(
                    targets=targets,
                    site=site or "default",
                    ports=_parse_ports(ports),
                    scope=scope,
                    limits=limits,
                    discovery=discovery,
                    credentials=load_credentials(site or "default", credentials),
                )
            ]
        db_url = _db_url(db, cfg)
        rows: list[dict[str, Any]] = []
        for request in requests:
            rows.extend(_render_outcome(_run_scan(request, db_url, as_json, progress), as_json))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    _fail_on_found(fail_on, rows)


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
            # The lab's cameras share one ONVIF account; an operator gives theirs with --credentials.
            user, password = lab_fleet.devices[0].credentials
            request = api.ScanRequest(
                targets=lab_fleet.targets,
                site="demo",
                credentials=OnvifCredentials(user, Secret(password)),
            )
            outcome = _run_scan(request, api.resolve_db_url(db), as_json)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    rows = _render_outcome(outcome, as_json)
    if not as_json:
        out.print("Who really made the cameras:")
        for line in _made_by_summary(rows):
            out.print(escape(line))


@app.command()
@_with_device_query
def devices(
    db: DbOption = None,
    query: DeviceQuery = _ANY_DEVICE,
    config: ConfigOption = None,
    fail_on: FailOnOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the devices in the inventory, filtered (each filter takes comma-separated values)."""
    _check_fail_on(fail_on)
    cfg = _config(config)
    try:
        rows = [export_record(d) for d in api.list_devices(_db_url(db, cfg), query=query)]
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
    else:
        out.print(_devices_table(rows, f"{len(rows)} devices"))
    _fail_on_found(fail_on, rows)


@app.command()
@_with_device_query
def export(
    db: DbOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="json, csv or xlsx (a spreadsheet with a summary).")
    ] = "json",
    output: Annotated[
        Optional[Path], typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    query: DeviceQuery = _ANY_DEVICE,
    actor: Annotated[
        Optional[str],
        typer.Option(
            "--actor", help="Who exports, for the audit log (default: $CAMSWEEP_ACTOR, else your login)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Export the inventory, one record per device, with the same filters as `devices`; recorded in the audit log."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of: {', '.join(FORMATS)}", param_hint="--format")
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise typer.BadParameter("a spreadsheet is binary: give -o FILE.xlsx", param_hint="--output")
    cfg = _config(config)
    try:
        data, count = api.export_devices(
            _db_url(db, cfg), fmt, query, actor=_actor(actor), destination=str(output) if output else "stdout"
        )
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if output:
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise _fail(ConfigError(f"cannot write {output}: {exc.strerror}")) from exc
        err.print(f"wrote {count} devices to {output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@app.command()
def version() -> None:
    """Print camsweep's version."""
    out.print(f"camsweep {__version__}")


# Command groups that live in their own modules register themselves here, one line each:
# each module defines ``register(app: typer.Typer) -> None``.
from camsweep import (  # noqa: E402 - they import the helpers above (so enter through camsweep.cli)
    cli_audit,
    cli_fingerprints,
    cli_inventory,
    cli_lab,
    cli_ops,
    cli_web,
    cli_worker,
)

_COMMAND_MODULES: tuple[ModuleType, ...] = (
    cli_fingerprints,
    cli_audit,
    cli_lab,
    cli_inventory,
    cli_ops,
    cli_web,
    cli_worker,
)
for _module in _COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    # CAMSWEEP_LOG_LEVEL=DEBUG for troubleshooting; credentials stay out of every level
    # (tests/security/test_secrets.py scans with credentials at DEBUG).
    level = os.environ.get("CAMSWEEP_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
    )
    app()
