"""The ``courrier`` command's entry point: ``courrier run STAGE`` without loading every other command.

A stage process is long-lived and counted against a memory budget: importing the whole CLI (benches, HTTP servers,
exports, S3, reports…) only to run one stage cost it tens of MB for its whole life. ``run`` is answered from
``courrier.run_cli`` alone; every other command (and ``courrier --help``) from ``courrier.cli``. Both print usage
mistakes and Courrier's own errors as one line, not a traceback.
"""
from __future__ import annotations

import sys

import click
import typer

from common.errors import CourrierError


def main(argv: list[str] | None = None) -> None:
    """``courrier …``: the stage runner when the command is ``run``, the whole CLI otherwise."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from courrier.run_cli import app

        invoke(app, args[1:], "courrier run")
    else:
        from courrier.cli import app

        invoke(app, args, "courrier")


def invoke(app: typer.Typer, args: list[str], prog_name: str) -> None:
    """Run a Typer app on ``args``: clean one-line errors for usage mistakes and unreachable parts."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as exc:
        hint = f" (try `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        print(f"courrier: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(2)
    except click.ClickException as exc:
        print(f"courrier: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except CourrierError as exc:
        print(f"courrier: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(result, int):  # typer.Exit(code) comes back as the return value when click is not standalone
        sys.exit(result)


if __name__ == "__main__":
    main()
