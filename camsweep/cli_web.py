"""``camsweep serve`` and ``camsweep users ...``: the web dashboard and its accounts."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from camsweep import api
from camsweep.cli import _fail
from fingerprints.errors import CamsweepError

if TYPE_CHECKING:
    from camsweep.web.accounts import Accounts
    from db.repository import Inventory

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db", help="Inventory database URL or SQLite file (default: $CAMSWEEP_DB, else ./camsweep.db)."
    ),
]

users_app = typer.Typer(help="Accounts of the web dashboard: admin, officer, auditor.", no_args_is_help=True)


def _accounts(db: str | None) -> tuple[Inventory, Accounts]:
    # Imported here so `camsweep --help` does not pay for argon2 and the web stack.
    from camsweep.web.accounts import Accounts
    from db.repository import Inventory

    inventory = Inventory(api.resolve_db_url(db))
    return inventory, Accounts(inventory)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        # First line of stdin, for scripts: `printf '%s\n' "$PW" | camsweep users add ...`.
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin, officer or auditor.")] = "auditor",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a dashboard account; the password is asked for (never an argument)."""
    password = _read_password(password_stdin)
    try:
        inventory, accounts = _accounts(db)
        try:
            user = accounts.add_user(name, role, password)
            inventory.log_action("user-add", actor="cli", user=user.name, role=user.role)
        finally:
            inventory.close()
    except CamsweepError as exc:
        raise _fail(exc) from exc
    err.print(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list(db: DbOption = None) -> None:
    """List the dashboard accounts."""
    try:
        inventory, accounts = _accounts(db)
        try:
            users = accounts.users()
        finally:
            inventory.close()
    except CamsweepError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"{len(users)} accounts")
    for col in ("name", "role", "created (UTC)"):
        table.add_column(col)
    for u in users:
        table.add_row(u.name, u.role, u.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Disable an account and revoke its API tokens (the audit log keeps its name)."""
    try:
        inventory, accounts = _accounts(db)
        try:
            accounts.remove_user(name)
            inventory.log_action("user-remove", actor="cli", user=name)
        finally:
            inventory.close()
    except CamsweepError as exc:
        raise _fail(exc) from exc
    err.print(f"removed {name}")


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    db: DbOption = None,
) -> None:
    """Issue an API token for NAME and print it once (only its hash is stored)."""
    try:
        inventory, accounts = _accounts(db)
        try:
            token = accounts.issue_token(name, label)
            inventory.log_action("token-issue", actor="cli", user=name, label=label)
        finally:
            inventory.close()
    except CamsweepError as exc:
        raise _fail(exc) from exc
    sys.stdout.write(token + "\n")


def serve(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback unless told otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark cookies Secure (behind an HTTPS proxy).")
    ] = False,
) -> None:
    """Serve the web dashboard and its JSON API (log in with an account from `camsweep users add`).

    Sessions are signed with $CAMSWEEP_WEB_SECRET, else a random secret (logins end on restart).
    """
    import uvicorn

    from camsweep.web import create_app

    try:
        if not ipaddress.ip_address(host).is_loopback:
            err.print(f"[yellow]warning:[/] listening on {host}: the dashboard is reachable from the network")
    except ValueError:
        raise typer.BadParameter(f"{host!r} is not an IP address", param_hint="--host") from None
    if not 0 < port < 65536:
        raise typer.BadParameter(f"port {port} is outside 1-65535", param_hint="--port")
    try:
        app = create_app(
            api.resolve_db_url(db),
            secret=os.environ.get("CAMSWEEP_WEB_SECRET"),
            secure_cookies=secure_cookies,
        )
    except CamsweepError as exc:
        raise _fail(exc) from exc
    err.print(f"camsweep dashboard on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.command("serve")(serve)
