"""Operations commands: ``schedule run``, ``schedule show`` and ``config check``.

Parse -> call the library -> render, like every command (STYLE.md §8).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from camsweep import api, schedule
from camsweep.cli import (
    EXIT_JOB_FAILED,
    ConfigOption,
    DbOption,
    JsonOption,
    _actor,
    _db_url,
    _fail,
    err,
    out,
)
from camsweep.config import Config
from fingerprints.errors import CamsweepError, ConfigError
from scanner.engine import Progress as ScanProgress

schedule_app = typer.Typer(
    help="Scheduled scans: the jobs of the configuration file, in cron syntax.", no_args_is_help=True
)
config_app = typer.Typer(help="The configuration file (TOML).", no_args_is_help=True)

#: Devices listed per site under a scheduled run's diff counts (the JSON output has them all).
MAX_DIFF_LINES = 20

NowOption = Annotated[
    Optional[str],
    typer.Option(
        "--now",
        help="Act as if it were this time (ISO 8601, e.g. 2026-12-01T01:35; without an offset, the schedule's "
        "time zone): to test a schedule or catch up.",
    ),
]


def _require_config(option: str | None) -> Config:
    try:
        cfg = api.load_config(option)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if cfg is None:
        raise _fail(
            ConfigError(
                "no configuration: write camsweep.toml (start from examples/camsweep.toml) "
                "or pass --config FILE / set $CAMSWEEP_CONFIG"
            )
        )
    return cfg


def _render_run(run: schedule.JobRun, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(run.as_dict(), default=str) + "\n")
        return

    def say(text: str) -> None:
        out.print(text, soft_wrap=True)

    colour = {"ok": "green", "skipped": "yellow"}.get(run.status, "red")
    say(f"job [bold]{run.job}[/] at {run.clock.isoformat(timespec='minutes')}: [{colour}]{run.status}[/]")
    for s in run.sites:
        diff = s.diff.counts() if s.diff else None
        base = f"since scan {s.diff.previous_scan_id}" if s.diff and s.diff.previous_scan_id else "first scan"
        say(
            f"  site {s.site}: scan {s.scan_id} {s.status}, {s.devices} devices, "
            f"{len(s.flagged)} flagged ({len(s.new_flagged)} new)"
            + (f"; {base}: {diff['new']} new, {diff['gone']} gone, {diff['changed']} changed" if diff else "")
        )
        if s.error:
            say(f"    [red]{escape(s.error)}[/]")
        if s.diff and s.diff.previous_scan_id:  # on a first scan every device is new: counts are enough
            changes = [("new", d) for d in s.diff.new] + [("gone", d) for d in s.diff.gone]
            changes += [("changed", d) for d in s.diff.changed]
            for kind, d in changes[:MAX_DIFF_LINES]:
                what = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in d.get("changes", {}).items())
                say(
                    escape(
                        f"    {kind:7} {d.get('ip')} {d.get('brand') or ''} made by "
                        f"{d.get('manufacturer') or '?'} {d.get('model') or ''} {what}"
                    )
                )
            if len(changes) > MAX_DIFF_LINES:
                say(f"    ... and {len(changes) - MAX_DIFF_LINES} more (--json has them all)")
    for n in run.notified:
        say(f"  notified: {n}")
    for e in run.errors:
        if not any(e.endswith(s.error or "\0") for s in run.sites):
            say(f"  [red]{escape(e)}[/]")


def _schedule_run(
    db: DbOption = None,
    config: ConfigOption = None,
    job: Annotated[
        Optional[list[str]],
        typer.Option(
            "--job", help="Run this job now, due or not (what cron/systemd entries call). Repeatable."
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run the due jobs once and exit (the default).")
    ] = False,
    loop: Annotated[
        bool, typer.Option("--loop", help="Keep running: check for due jobs at least every minute.")
    ] = False,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the jobs that are due (their cron time has come since their last run), each under a lock."""
    if once and loop:
        raise typer.BadParameter("give --once or --loop, not both", param_hint="--loop")
    if loop and now:
        raise typer.BadParameter("--now is for a single pass (--once)", param_hint="--now")
    cfg = _require_config(config)
    if not cfg.jobs:
        raise _fail(ConfigError(f"{cfg.path} has no [[jobs]]; see examples/camsweep.toml"))
    db_url = _db_url(db, cfg)
    actor = _actor(None)

    # A progress bar per site scan on a terminal; plain lines otherwise (logs, --json: nothing).
    bar = (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        if err.is_terminal and not as_json
        else None
    )
    task: list[TaskID] = []

    def on_site(name: str) -> None:
        if bar is not None:
            task[:] = [bar.add_task(f"site {name}", total=None)]
        elif not as_json:
            err.print(f"scanning site {name} ...")

    def on_progress(p: ScanProgress) -> None:
        if bar is not None and task:
            bar.update(task[0], total=p.total, completed=p.done)

    worst = 0
    try:
        tz = schedule.schedule_tz(cfg)
        while True:
            clock = schedule.parse_now(now, tz)
            if bar is not None:
                bar.start()
            try:
                runs = schedule.run_due(
                    cfg, db_url, clock, only=job or (), actor=actor, on_site=on_site, on_progress=on_progress
                )
            finally:
                if bar is not None:
                    bar.stop()
            if not runs and not as_json and not loop:
                out.print(f"no job is due at {clock.isoformat(timespec='minutes')}")
            for run in runs:
                _render_run(run, as_json)
                if run.status in ("failed", "notify-failed"):
                    worst = EXIT_JOB_FAILED
            if not loop:
                break
            schedule.sleep_bounded(schedule.seconds_until_next(cfg, schedule.parse_now(None, tz)))
    except KeyboardInterrupt:
        err.print("stopped")
    except CamsweepError as exc:
        raise _fail(exc) from exc
    raise typer.Exit(worst)


def _schedule_show(
    db: DbOption = None,
    config: ConfigOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (jobs, last and next run), cron, systemd or json.")
    ] = "table",
    command: Annotated[
        Optional[str],
        typer.Option(
            "--command", help="camsweep command to put in cron/systemd entries (default: this one)."
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Show the jobs, or print equivalent crontab lines or systemd .service/.timer units."""
    formats = ("table", "cron", "systemd", "json")
    if fmt not in formats:
        raise typer.BadParameter(f"{fmt!r} is not one of: {', '.join(formats)}", param_hint="--format")
    cfg = _require_config(config)
    try:
        if fmt == "cron":
            sys.stdout.write(schedule.render_cron(cfg, command))
            return
        if fmt == "systemd":
            sys.stdout.write(schedule.render_systemd(cfg, command))
            return
        rows = schedule.job_status(cfg, _db_url(db, cfg), schedule.parse_now(now, schedule.schedule_tz(cfg)))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if fmt == "json":
        for r in rows:
            sys.stdout.write(json.dumps(r) + "\n")
        return
    table = Table(title=f"jobs in {cfg.path}")
    for col in ("job", "sites", "cron", "last run", "next run", "due", "notify"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["job"],
            ", ".join(r["sites"]),
            r["cron"],
            (r["last_run"] or "never")[:16],
            r["next_run"][:16],
            "yes" if r["due"] else "no",
            ", ".join(r["notify"]),
        )
    out.print(table)


def _config_check(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate the configuration file and summarise its sites and jobs."""
    cfg = _require_config(config)
    summary: dict[str, Any] = {
        "path": str(cfg.path),
        "database": cfg.database_url,
        "sites": {
            n: {"networks": [str(x) for x in s.networks], "ports": list(s.ports), "rate_pps": s.rate_pps}
            for n, s in cfg.sites.items()
        },
        "jobs": {n: {"sites": list(j.sites), "cron": j.cron} for n, j in cfg.jobs.items()},
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    out.print(f"{cfg.path}: OK, {len(cfg.sites)} sites, {len(cfg.jobs)} jobs")
    for n, s in summary["sites"].items():
        out.print(f"  site {n}: {', '.join(s['networks'])} ({len(s['ports'])} ports, {s['rate_pps']:g}/s)")
    for n, j in summary["jobs"].items():
        out.print(f"  job {n}: {j['cron']} -> {', '.join(j['sites'])}")


def register(app: typer.Typer) -> None:
    schedule_app.command("run")(_schedule_run)
    schedule_app.command("show")(_schedule_show)
    config_app.command("check")(_config_check)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(config_app, name="config")
