"""``camsweep worker``: per-site scan workers, beat, and submitting chunked scans.

``run`` and ``beat`` replace this process with the Celery program (so signals
and exit codes are Celery's own); ``submit`` and ``status`` call the library API.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from camsweep import api
from camsweep.cli import DbOption, JsonOption, _fail, _parse_ports, err, out
from camsweep.config import CONFIG_ENV
from fingerprints.errors import CamsweepError
from scanner.engine import DEFAULT_RATE_PPS, ScanLimits
from scanner.targets import DEFAULT_MAX_ADDRESSES, Scope

worker_app = typer.Typer(help="Per-site scan workers (Celery) recording into one central inventory.")

BrokerOption = Annotated[
    Optional[str],
    typer.Option(
        "--broker",
        help="Broker URL, redis://... or amqp://... (default: $CAMSWEEP_BROKER_URL, else redis://127.0.0.1:6379/0).",
    ),
]


def _celery_env(db: str | None, broker: str | None) -> None:
    if db:
        os.environ["CAMSWEEP_DB"] = api.resolve_db_url(db)
    if broker:
        os.environ["CAMSWEEP_BROKER_URL"] = broker


def _exec_celery(args: list[str]) -> None:
    argv = [sys.executable, "-m", "celery", "-A", "camsweep.worker.app", *args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@worker_app.command("run")
def run(
    site: Annotated[
        str, typer.Option(help="The site this worker scans; it consumes queue camsweep.site.<site>.")
    ],
    db: DbOption = None,
    broker: BrokerOption = None,
    concurrency: Annotated[int, typer.Option(help="Chunks scanned at once on this machine.")] = 1,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork or solo.")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    name: Annotated[
        Optional[str], typer.Option(help="Worker node name (default: <site>@<hostname>).")
    ] = None,
    credentials: Annotated[
        Optional[Path],
        typer.Option(
            "--credentials",
            help="YAML file with the site's ONVIF username/password, as for `scan --credentials` "
            "(default: $CAMSWEEP_CREDENTIALS, else the configured site's reference, else "
            "$CAMSWEEP_ONVIF_USER/$CAMSWEEP_ONVIF_PASSWORD). Read on this host; never sent to the broker.",
        ),
    ] = None,
    config: Annotated[
        Optional[str],
        typer.Option(
            "--config",
            help="Configuration file whose site entry may name the credentials "
            "(default: $CAMSWEEP_CONFIG, else ./camsweep.toml if present).",
        ),
    ] = None,
) -> None:
    """Run a scan worker for SITE (wraps `celery worker` on the site's queue)."""
    from camsweep.worker import site_queue
    from camsweep.worker.credentials import CREDENTIALS_ENV, credentials_source

    if pool not in ("prefork", "solo"):
        raise typer.BadParameter("choose prefork or solo", param_hint="--pool")
    if concurrency < 1:
        raise typer.BadParameter("at least 1", param_hint="--concurrency")
    _celery_env(db, broker)
    if credentials:
        os.environ[CREDENTIALS_ENV] = str(credentials.resolve())
    if config:
        os.environ[CONFIG_ENV] = config
    try:
        # Fail here, not at the first chunk: a broken file or half-set variables.
        source = credentials_source(site)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    err.print(f"site {site}: ONVIF credentials: {source}", markup=False, highlight=False, soft_wrap=True)
    _exec_celery(
        [
            "worker",
            "-Q",
            site_queue(site),
            "-n",
            name or f"{site}@{socket.gethostname()}",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            loglevel,
            # Sites do not need to know about each other: no gossip, mingle or heartbeats.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


@worker_app.command("beat")
def beat(
    broker: BrokerOption = None,
    config: Annotated[
        Optional[str],
        typer.Option(
            "--config", help="Configuration file with the sites and jobs (default: $CAMSWEEP_CONFIG)."
        ),
    ] = None,
    schedule_file: Annotated[
        str, typer.Option("--schedule-file", help="Where beat keeps the last run time of each job.")
    ] = "celerybeat-schedule",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run Celery beat: sends each configured job, per site, to that site's queue at its cron times."""
    _celery_env(None, broker)
    if config:
        os.environ["CAMSWEEP_CONFIG"] = config
    os.environ["CAMSWEEP_BEAT"] = "1"
    _exec_celery(["beat", "--schedule", schedule_file, "--loglevel", loglevel])


@worker_app.command("submit")
def submit(
    targets: Annotated[list[str], typer.Argument(help="Addresses, CIDRs, ranges a-b, hostnames or @file.")],
    site: Annotated[str, typer.Option(help="Site whose workers scan the targets.")],
    db: DbOption = None,
    broker: BrokerOption = None,
    ports: Annotated[
        Optional[str], typer.Option(help="Ports to probe, e.g. 80,554,8000-8010 (default: camera set).")
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Addresses per chunk (one task each).")] = 256,
    rate: Annotated[float, typer.Option(help="New connections per second, per chunk.")] = DEFAULT_RATE_PPS,
    exclude: Annotated[Optional[list[str]], typer.Option(help="Networks never to scan (repeatable).")] = None,
    allow_public: Annotated[
        bool, typer.Option("--allow-public", help="Allow public address space (only if authorised).")
    ] = False,
    max_addresses: Annotated[
        int, typer.Option(help="Refuse target sets larger than this.")
    ] = DEFAULT_MAX_ADDRESSES,
    as_json: JsonOption = False,
) -> None:
    """Create a scan and queue it in chunks for SITE's workers; prints the scan id."""
    try:
        excluded = tuple(ipaddress.ip_network(n, strict=False) for n in exclude or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--exclude") from None
    request = api.ScanRequest(
        targets=targets,
        site=site,
        ports=_parse_ports(ports),
        scope=Scope(allow_public=allow_public, max_addresses=max_addresses, exclude=excluded),
        limits=ScanLimits(rate_pps=rate),
        operator="cli",
    )
    try:
        submitted = api.submit_site_scan(request, api.resolve_db_url(db), broker, chunk_size)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "scan_id": submitted.scan_id,
                    "site": submitted.site,
                    "queue": submitted.queue,
                    "addresses": submitted.addresses,
                    "chunks": submitted.chunks,
                }
            )
            + "\n"
        )
        return
    out.print(
        f"scan {submitted.scan_id}: {submitted.addresses} addresses in {submitted.chunks} chunks "
        f"queued on {submitted.queue}"
    )


@worker_app.command("status")
def status(
    scan_id: Annotated[int, typer.Argument(help="The scan id `worker submit` printed.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a distributed scan's chunks: state, attempts, worker, hosts found."""
    try:
        chunks = api.scan_chunks(scan_id, api.resolve_db_url(db))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if not chunks:
        err.print(f"scan {scan_id} has no chunks (not a worker scan, or it does not exist)")
        raise typer.Exit(1)
    if as_json:
        for c in chunks:
            sys.stdout.write(
                json.dumps(
                    {
                        "chunk": c.idx,
                        "first": c.first_ip,
                        "last": c.last_ip,
                        "addresses": c.addresses,
                        "status": c.status,
                        "attempts": c.attempts,
                        "worker": c.worker,
                        "hosts": c.hosts,
                        "error": c.error,
                    }
                )
                + "\n"
            )
        return
    table = Table(title=f"scan {scan_id}")
    for col in ("chunk", "range", "addresses", "status", "attempts", "worker", "hosts"):
        table.add_column(col)
    for c in chunks:
        table.add_row(
            str(c.idx),
            f"{c.first_ip}-{c.last_ip}",
            str(c.addresses),
            c.status,
            str(c.attempts),
            c.worker,
            str(c.hosts),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
