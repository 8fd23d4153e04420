"""What every command group of the `gatehouse` command shares: the one-line refusal, the
parser class, argument types, and small look-ups by name."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, Protocol

from gatehouse import durations

EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], None]


class Add(Protocol):
    """Adds a top-level command: its name, its handler and its help (also its description)."""

    def __call__(self, name: str, handler: Handler, help: str) -> argparse.ArgumentParser: ...


class CommandError(Exception):
    """A one-line reason to refuse the command."""

    exit_code = EXIT_BAD_INPUT


class Findings(CommandError):
    """The command ran and found something wrong (`proxy-check`)."""

    exit_code = 1


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as every command promises
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def needs_action(args: argparse.Namespace) -> None:
    raise CommandError("say which action (see --help)")


def actions(command: argparse.ArgumentParser) -> argparse._SubParsersAction:
    """The ACTION subcommands of a command group (`gatehouse devices add`), one required."""
    actions = command.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    return actions


# --- argument types --------------------------------------------------------------------------


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be 1 or more")
    return value


def port(text: str) -> int:
    value = positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a TCP port (1-65535)")
    return value


def lifetime(text: str) -> int:
    try:
        return durations.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}': {exc}") from None


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


# --- look-ups --------------------------------------------------------------------------------


def actor() -> str:
    """Who the audit trail says did it."""
    return f"cli:{getpass.getuser()}"


def named(model: Any, name: str, what: str) -> Any:
    """The row of `model` called `name`, or a one-line refusal."""
    row = model.objects.filter(name=name).first()
    if row is None:
        raise CommandError(f"no {what} named '{name}'")
    return row


def find_user(username: str) -> Any:
    """The user called `username` (as imports normalise it), or a one-line refusal."""
    from gatehouse.directory.importer import normalise_username
    from gatehouse.directory.models import User

    user = User.objects.filter(username=normalise_username(username)).first()
    if user is None:
        raise CommandError(f"no user '{username}'")
    return user


def read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None
