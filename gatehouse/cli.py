"""The `gatehouse` command (DESIGN §5.1). Each subcommand is a thin wrapper over the domain
modules; bad input exits 2 with a one-line reason."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gatehouse import config as gatehouse_config

EXIT_BAD_INPUT = 2


class CommandError(Exception):
    """A one-line reason to refuse the command."""


def _setup() -> gatehouse_config.Config:
    """Validate the configuration, then start Django on it."""
    config = gatehouse_config.load()
    gatehouse_config.check(config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
    import django

    django.setup()
    return config


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- commands ------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    folder = Path(args.dir).resolve()
    config_path = folder / "gatehouse.toml"
    key_path = folder / "secret.key"
    for path in (config_path, key_path):
        if path.exists():
            raise CommandError(f"{path} already exists; not overwriting it")
    folder.mkdir(parents=True, exist_ok=True)
    write_secret_key(key_path)
    config_path.write_text(gatehouse_config.render_commented())
    print(f"wrote {config_path}")
    print(f"wrote {key_path} (mode 0600)")
    print(f"next: edit it, then `gatehouse --config {config_path} check`")


def write_secret_key(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


def cmd_check(args: argparse.Namespace) -> None:
    config = gatehouse_config.load()
    gatehouse_config.check(config)
    print(f"configuration OK ({config.source or 'defaults'})")


def cmd_migrate(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    print("database up to date")


def cmd_serve(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    serve(args.host, args.port, args.workers)


def serve(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "gatehouse.asgi:application",
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGINL,
        log_access=False,
    ).serve()


def cmd_demo(args: argparse.Namespace) -> None:
    from gatehouse.demo import run_demo

    run_demo(host=args.host, port=args.port, folder=args.dir)


def cmd_createadmin(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from gatehouse.directory.admins import create_admin

    password = args.password or os.environ.get("GATEHOUSE_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CommandError("no password: pass --password or set GATEHOUSE_ADMIN_PASSWORD")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
    user = create_admin(args.username, args.email, password)
    print(f"admin '{user.username}' ready")


def cmd_users_import(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.csvimport import CsvImportError
    from gatehouse.directory.importer import import_csv

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{args.file}: not UTF-8 text") from None
    try:
        result = import_csv(text)
    except CsvImportError as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    print(f"imported {args.file}: {result.created} created, {result.updated} updated")


def cmd_signins_tail(args: argparse.Namespace) -> None:
    _setup()
    from gatehouse.signin.report import format_event, recent

    for event in reversed(recent(args.n)):
        print(format_event(event))


# --- wiring --------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be 1 or more")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a TCP port (1-65535)")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as every command promises
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gatehouse",
        description="Gatehouse: multi-factor sign-in and conditional access.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="gatehouse.toml to use (default: $GATEHOUSE_CONFIG, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], help: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    init = add("init", cmd_init, "Write a commented gatehouse.toml and a secret key file.")
    init.add_argument("--dir", default=".", help="folder to write them in (default: .)")
    add("check", cmd_check, "Validate the configuration and say what is wrong.")
    add("migrate", cmd_migrate, "Create or upgrade the database tables.")

    serve_cmd = add("serve", cmd_serve, "Migrate the database, then serve HTTP (ASGI, granian).")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    serve_cmd.add_argument("--workers", type=_positive, default=1, help="worker processes")

    demo = add("demo", cmd_demo, "Serve a throwaway demo organisation on SQLite.")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument(
        "--port",
        type=_port,
        default=int(os.environ.get("PORT", 8000)),
        help="TCP port ($PORT, 8000)",
    )
    demo.add_argument("--dir", help="data folder (default: a new temporary folder)")

    admin = add("createadmin", cmd_createadmin, "Create (or reset) an administrator account.")
    admin.add_argument("username")
    admin.add_argument("--email", default="")
    admin.add_argument("--password", help="else $GATEHOUSE_ADMIN_PASSWORD, else asked for")

    users = add("users", lambda a: None, "Manage the user directory.")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", parser_class=_Parser)
    users_sub.required = True
    users_import = users_sub.add_parser(
        "import",
        help="Create or update users from CSV",
        description="Create or update users from a CSV file with the header "
        "username,email,display_name,department,groups,password (groups ';'-separated, password "
        "optional). All rows are checked first; a bad row is reported with its line number and "
        "nothing is imported.",
    )
    users_import.add_argument("file", metavar="FILE.csv")
    users_import.set_defaults(handler=cmd_users_import)

    signins = add("signins", lambda a: None, "Read the sign-in log.")
    signins_sub = signins.add_subparsers(
        dest="signins_command", metavar="ACTION", parser_class=_Parser
    )
    signins_sub.required = True
    tail = signins_sub.add_parser("tail", help="Print the most recent sign-ins, oldest first")
    tail.add_argument("-n", type=_positive, default=20, help="how many (default 20)")
    tail.set_defaults(handler=cmd_signins_tail)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ[gatehouse_config.CONFIG_ENV] = args.config
    try:
        args.handler(args)
    except (CommandError, gatehouse_config.ConfigError) as exc:
        print(f"gatehouse {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
