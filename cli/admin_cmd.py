"""``dropship admin ...``: users and tokens of the admin API and console, and ``serve``.

Users and tokens live in PostgreSQL (``application.accounts``): passwords hashed with argon2,
tokens stored as hashes and printed once.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from application import accounts
from application.accounts import ROLES, AccountError
from cli.common import fail, with_context
from shared.settings import load_settings


@click.group()
def admin() -> None:
    """The admin HTTP API and web console: users, tokens, serve."""


@admin.group()
def users() -> None:
    """Who may log in to the console (operators act, viewers read)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input "
              "(one line) instead of prompting.")
def add_user(name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with a role."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.check_new_user(name, role, password)
        user = with_context(lambda ctx: accounts.add_user(ctx, name, role, password))
    except AccountError as exc:
        fail(str(exc))
    click.echo(f"added {user.role} {user.name}")


@users.command("list")
def list_users() -> None:
    """Every user with their role."""
    found = with_context(accounts.list_users)
    for user in found:
        click.echo(f"{user.name:<24} {user.role:<9} added {user.created_at:%Y-%m-%d %H:%M}")
    click.echo(f"{len(found)} user(s)")


@users.command("remove")
@click.argument("name")
def remove_user(name: str) -> None:
    """Remove user NAME with their tokens and sessions."""
    if not with_context(lambda ctx: accounts.remove_user(ctx, name)):
        fail(f"no user named {name!r}")
    click.echo(f"removed {name}")


@admin.group()
def tokens() -> None:
    """API tokens (``Authorization: Bearer <token>``)."""


@tokens.command("create")
@click.argument("name")
def create_token(name: str) -> None:
    """A new API token for user NAME, printed this once (only its hash is kept)."""
    try:
        token = with_context(lambda ctx: accounts.create_token(ctx, name))
    except AccountError as exc:
        fail(str(exc))
    click.echo(token)


@admin.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
def serve(host: str, port: int) -> None:
    """Serve the admin API (/api/v1/) and the console until Ctrl-C."""
    import uvicorn

    from services.admin.app import create_app
    from shared.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = uvicorn.Config(create_app(settings), host=host, port=port, proxy_headers=True,
                            forwarded_allow_ips=settings.admin_forwarded_allow_ips,
                            log_config=None, access_log=False, timeout_graceful_shutdown=5,
                            lifespan="on")
    server = uvicorn.Server(config)

    def hang_up(signum: int, frame: FrameType | None) -> None:
        server.handle_exit(signal.SIGTERM, frame)  # a closed terminal stops it like Ctrl-C

    signal.signal(signal.SIGHUP, hang_up)
    click.echo(f"admin console on http://{host}:{port}/ (API: /api/v1/, OpenAPI: "
               "/api/v1/openapi.json)", err=True)
    server.run()
