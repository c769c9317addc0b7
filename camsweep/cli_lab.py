"""``camsweep lab up|down|status|upgrade|fleets``: run the emulated camera fleet in the background."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from camsweep.cli import _fail
from camsweep.lab import control
from camsweep.lab.fleet import known_fleets, load_fleet, load_personalities
from fingerprints.errors import CamsweepError

lab_app = typer.Typer(
    help="The camera lab: an emulated fleet of real-world camera personalities.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

FleetOption = Annotated[
    str, typer.Option("--fleet", help="Fleet name (see `camsweep lab fleets`) or a .yaml file.")
]
ModeOption = Annotated[
    str,
    typer.Option("--mode", help="loopback: 127.x addresses in one process; netns: one namespace per device."),
]
InstanceOption = Annotated[str, typer.Option("--name", help="Lab instance name (several labs can run).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")


@lab_app.command("up")
def up(
    fleet: FleetOption = "demo",
    mode: ModeOption = "loopback",
    network: Annotated[
        Optional[str], typer.Option(help="Address block (loopback CIDR, or private for netns).")
    ] = None,
    name: InstanceOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Start FLEET in the background and print the targets to scan."""
    try:
        state = control.up(fleet, mode, network, name)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json(state)
        return
    err.print(
        f"lab {name!r}: fleet {state['fleet']!r}, {len(state['targets'])} devices ({state['mode']}, "
        f"{state['network']}), pid {state['pid']}"
    )
    if state.get("scanner_ns"):
        err.print(f"scan from the scanner namespace: ip netns exec {state['scanner_ns']} camsweep scan ...")
    out.print(" ".join(state["targets"]), soft_wrap=True)


@lab_app.command("status")
def status(
    name: InstanceOption = "default",
    as_json: JsonOption = False,
    scanner_ns: Annotated[
        bool, typer.Option("--scanner-ns", help="Print only the scanner namespace (netns mode).")
    ] = False,
    targets: Annotated[bool, typer.Option("--targets", help="Print only the targets, one per line.")] = False,
) -> None:
    """Show the running lab: fleet, mode, devices and their current firmware."""
    try:
        state = control.status(name)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if state is not None and scanner_ns:
        if not state.get("scanner_ns"):
            err.print("this lab runs on loopback: there is no scanner namespace")
            raise typer.Exit(1)
        sys.stdout.write(state["scanner_ns"] + "\n")
        return
    if state is not None and targets:
        sys.stdout.write("".join(t + "\n" for t in state["targets"]))
        return
    if state is None:
        if as_json:
            _json({"running": False})
        else:
            err.print("no lab is running (start one with `camsweep lab up`)")
        raise typer.Exit(1)
    if as_json:
        _json({"running": True, **state})
        return
    table = Table(title=f"lab {name!r}: fleet {state['fleet']!r} ({state['mode']}, pid {state['pid']})")
    for col in ("device", "ip", "mac", "brand", "manufacturer", "model", "firmware", "category"):
        table.add_column(col)
    for d in state["devices"]:
        table.add_row(
            d["name"],
            d["ip"],
            d["mac"],
            *(str(d.get(k) or "") for k in ("brand", "manufacturer", "model", "firmware", "category")),
        )
    out.print(table)


@lab_app.command("down")
def down(name: InstanceOption = "default", as_json: JsonOption = False) -> None:
    """Stop the lab and remove every namespace and link it made."""
    try:
        result = control.down(name)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json(result)
    elif result["stopped"]:
        extra = (
            f", removed {len(result['namespaces_removed'])} leftover namespaces"
            if result["namespaces_removed"]
            else ""
        )
        err.print(f"lab {name!r} stopped (fleet {result.get('fleet')!r}){extra}")
    else:
        err.print("no lab was running")


@lab_app.command("upgrade")
def upgrade(
    device: Annotated[str, typer.Argument(help="Device name, as `camsweep lab status` lists it.")],
    firmware: Annotated[str, typer.Option("--firmware", help="Firmware version the personality knows.")],
    name: InstanceOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Change a running device's firmware and capability set, as a real update does."""
    try:
        result = control.upgrade(device, firmware, name)
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json(result)
        return
    out.print(
        f"{result['device']}: {result['from']} -> {result['to']} (capabilities: {', '.join(result['capabilities'])})"
    )


@lab_app.command("fleets")
def fleets(as_json: JsonOption = False) -> None:
    """List the built-in fleets and personalities (with each personality's firmware versions)."""
    try:
        rows = [{"fleet": n, "devices": len(load_fleet(n).devices)} for n in known_fleets()]
        people = load_personalities()
    except CamsweepError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json(
            {
                "fleets": rows,
                "personalities": {k: [f.version for f in p.firmwares] for k, p in people.items()},
            }
        )
        return
    for r in rows:
        out.print(f"{r['fleet']}: {r['devices']} devices")
    for k, p in people.items():
        out.print(
            f"  {k}: {p.brand or '-'} / {p.manufacturer or '-'} {p.model or ''} [{', '.join(f.version for f in p.firmwares)}]"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
