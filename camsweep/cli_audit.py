"""``camsweep audit ...``: draft survey answers, verify them, verify the evidence chain, seal a killed scan.

Parse -> call ``camsweep.api`` -> render (STYLE.md §8).  Exit codes: 0 all
clear, 1 the audit found contradictions or a broken chain, 2 a usage or data error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from camsweep import api
from camsweep.cli import _fail
from camsweep.cli_inventory import ActorOption
from camsweep.cli_inventory import _actor as resolve_actor
from fingerprints.errors import CamsweepError

audit_app = typer.Typer(
    help="Check survey answers against the inventory; verify the evidence chain.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db", help="Inventory database URL or SQLite file (default: $CAMSWEEP_DB, else ./camsweep.db)."
    ),
]
VERDICT_STYLE = {"consistent": "green", "contradicted": "bold red", "unverifiable": "yellow"}


def _placements(values: list[str] | None) -> dict[str, str]:
    out_map: dict[str, str] = {}
    for v in values or []:
        site, _, where = v.partition("=")
        if not site or where not in ("internal", "external"):
            raise typer.BadParameter(f"{v!r}: use SITE=internal or SITE=external", param_hint="--placement")
        out_map[site] = where
    return out_map


@audit_app.command("draft")
def draft(
    force: Annotated[str, typer.Option("--force", help="The force the answers are for.")],
    db: DbOption = None,
    site: Annotated[
        Optional[list[str]], typer.Option("--site", help="Only these sites (repeatable).")
    ] = None,
    placement: Annotated[
        Optional[list[str]],
        typer.Option("--placement", help="SITE=internal|external: where a site's CCTV is (repeatable)."),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Pre-fill the survey answers from the inventory (YAML), for a person to check and complete."""
    try:
        text = api.audit_draft(
            api.resolve_db_url(db), force, sites=site, site_placement=_placements(placement)
        )
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


@audit_app.command("verify")
def verify(
    answers: Annotated[
        Path, typer.Argument(help="The answer file (YAML; see examples/survey-answers.yaml).")
    ],
    db: DbOption = None,
    html: Annotated[
        Optional[Path], typer.Option("--html", help="Write the HTML report (with charts) here.")
    ] = None,
    md: Annotated[Optional[Path], typer.Option("--md", help="Write the Markdown report here.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report here.")] = None,
    max_age_days: Annotated[
        int, typer.Option("--max-age-days", min=1, help="Scans older than this are a coverage caveat.")
    ] = 90,
) -> None:
    """Judge every answer consistent, contradicted or unverifiable, with the deciding devices and scans."""
    # Imported here so other commands do not pay for Jinja2 at start-up.
    from camsweep.audit.render import to_html, to_json, to_markdown

    try:
        report = api.audit_verify(api.resolve_db_url(db), answers, max_age_days=max_age_days)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    for path, render in ((html, to_html), (md, to_markdown), (json_out, to_json)):
        if path:
            path.write_text(render(report), encoding="utf-8")
            err.print(f"wrote {path}")
    if not (html or md or json_out):
        sys.stdout.write(to_markdown(report))
    else:
        table = Table(title=f"survey audit: {report.force}")
        for col in ("technology", "question", "verdict", "why"):
            table.add_column(col)
        for f in report.findings:
            style = VERDICT_STYLE[f.verdict]
            table.add_row(f.label, f.question, f"[{style}]{f.verdict}[/]", f.reason)
        out.print(table)
        counts = report.counts()
        out.print(
            f"{counts['contradicted']} contradicted, {counts['consistent']} consistent, "
            f"{counts['unverifiable']} unverifiable; chain head {report.chain_head}"
            + ("" if report.chain["ok"] else f" [bold red]BROKEN[/]: {report.chain['first_broken_link']}")
        )
    if report.contradictions() or not report.chain["ok"]:
        raise typer.Exit(1)


@audit_app.command("verify-chain")
def verify_chain(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Recompute the hash chains over observations and scans; name the first broken link."""
    try:
        report = api.audit_verify_chain(api.resolve_db_url(db))
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        out.print(
            f"{report.scans_checked} scans, {report.observations_checked} observations checked; "
            f"chain head {report.head}",
            highlight=False,
        )
        for site, head in sorted(report.site_heads.items()):
            out.print(f"  site {site}: {head}", highlight=False, markup=False)
        if report.running_scans:
            out.print(f"  not yet sealed (still running): {', '.join(map(str, report.running_scans))}")
        for late in report.sealed_after_interruption:
            out.print(f"  {late.describe()}", markup=False, highlight=False, soft_wrap=True)
        if report.ok:
            out.print("[green]chain intact[/]")
        else:
            out.print(
                f"[bold red]chain broken[/]: first broken link: {report.problems[0].describe()}",
                highlight=False,
            )
            for p in report.problems[1:]:
                out.print(f"  also: {p.describe()}", markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("seal-interrupted")
def seal_interrupted(
    scan_id: Annotated[int, typer.Argument(help="The interrupted scan (see `camsweep scans`).")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why its committed rows can be vouched for (kept in the seal and the audit log)."
        ),
    ],
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Seal what a killed scan committed, marked as sealed after interruption by ACTOR because REASON."""
    try:
        seal = api.audit_seal_interrupted(api.resolve_db_url(db), scan_id, resolve_actor(actor), reason)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    out.print(
        f"scan {seal.scan_id} (site {seal.site!r}) sealed after interruption: "
        f"{seal.observation_count} observations, link {seal.link}",
        markup=False,
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
