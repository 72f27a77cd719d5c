"""The command line: thin commands over the library; errors become one line and an exit code here."""

from __future__ import annotations

import sys

# typer 0.29 vendors click; its exception classes live here.
from typer._click import exceptions as cli_errors

from buyerjourney.cli import (  # noqa: F401  (each module adds its commands to the app)
    audit_cmd,
    demo_cmd,
    funnel_cmd,
    import_cmd,
    info_cmd,
)
from buyerjourney.cli.app import app, err_console
from buyerjourney.errors import BuyerJourneyError


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a user mistake prints one line on stderr and exits non-zero, never a traceback."""
    try:
        result = app(args=argv, prog_name="buyerjourney", standalone_mode=False)
    except BuyerJourneyError as exc:
        _fail(exc.message, exc.exit_code)
    except cli_errors.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except cli_errors.UsageError as exc:
        message = " ".join(exc.format_message().split())
        command = exc.ctx.command_path if exc.ctx else "buyerjourney"
        _fail(f"{message} (see: {command} --help)", 2)
    except cli_errors.ClickException as exc:
        _fail(" ".join(exc.format_message().split()), exc.exit_code)
    except cli_errors.TyperException as exc:
        _fail(str(exc), 1)
    except FileNotFoundError as exc:
        _fail(f"no such file: {exc.filename}", 3)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # typer's Abort / Exit
        if type(exc).__name__ == "Abort":
            _fail("aborted", 1)
        if type(exc).__name__ == "Exit":
            sys.exit(getattr(exc, "exit_code", 0))
        raise
    sys.exit(result if isinstance(result, int) else 0)
