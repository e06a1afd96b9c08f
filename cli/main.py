"""Entry point of the ``dropship`` command.

Subcommands are loaded lazily from their own modules, so ``dropship --help`` stays fast and one
broken subcommand cannot take the others down. Add a command by adding a line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import logging

import click

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "broker": "devtools.stack_cmd:broker",
    "migrate": "cli.stack_cmd:migrate",
    "postgres": "devtools.stack_cmd:postgres",
    "sandbox": "sandbox.cli:sandbox",
    "sunsky": "cli.sunsky_cmd:sunsky",
    "worker": "cli.worker_cmd:worker",
    "orders": "cli.orders_cmd:orders",
    "settings": "cli.settings_cmd:settings_group",
    "dev": "devtools.dev_cmd:dev",
    "ingest": "cli.ingest_cmd:ingest",
    "demo": "devtools.demo_cmd:demo",
    "topics": "cli.stack_cmd:topics",
    "replay": "cli.replay_cmd:replay",
    "admin": "cli.admin_cmd:admin",
    "outbox": "cli.outbox_cmd:outbox",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Invalid settings (the environment, or ``.dropship/dev.env``) are one clear error,
        naming each setting and what is wrong, never a traceback or a setting's value."""
        from pydantic import ValidationError

        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            if exc.title != "Settings":
                raise
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                                 for e in exc.errors())
            raise click.ClickException(f"invalid settings: {problems}") from None


@click.group(cls=LazyGroup)
@click.option("--log-level", envvar="LOG_LEVEL", default="WARNING", show_default=True,
              help="Python logging level (services and the dev stack log at INFO or LOG_LEVEL).")
def cli(log_level: str) -> None:
    """sunsky-dropship: paid Perfex invoices in, SUNSKY orders out."""
    from shared.logs import configure_logging

    configure_logging(log_level)
    logging.getLogger(__name__).debug("dropship starting")


if __name__ == "__main__":
    cli()
