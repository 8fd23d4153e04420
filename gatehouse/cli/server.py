"""`gatehouse init`, `check`, `migrate`, `serve` and `demo`: preparing and running a server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gatehouse import bootstrap, metrics_folder
from gatehouse import config as gatehouse_config
from gatehouse.cli.base import Add, CommandError, port, positive


def register(add: Add) -> None:
    init = add("init", cmd_init, "Write a commented gatehouse.toml and a secret key file.")
    init.add_argument("--dir", default=".", help="folder to write them in (default: .)")
    add("check", cmd_check, "Validate the configuration and say what is wrong.")
    add("migrate", cmd_migrate, "Create or upgrade the database tables.")

    serve_cmd = add("serve", cmd_serve, "Migrate the database, then serve HTTP (ASGI, granian).")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=port, default=8000, help="TCP port (default 8000)")
    serve_cmd.add_argument("--workers", type=positive, default=1, help="worker processes")

    demo = add("demo", cmd_demo, "Serve a throwaway demo organisation on SQLite.")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument(
        "--port",
        type=port,
        default=int(os.environ.get("PORT", 8000)),
        help="TCP port ($PORT, 8000)",
    )
    demo.add_argument("--dir", help="data folder (default: a new temporary folder)")


def cmd_init(args: argparse.Namespace) -> None:
    folder = Path(args.dir).resolve()
    config_path = folder / "gatehouse.toml"
    key_path = folder / "secret.key"
    for path in (config_path, key_path):
        if path.exists():
            raise CommandError(f"{path} already exists; not overwriting it")
    folder.mkdir(parents=True, exist_ok=True)
    bootstrap.write_secret_key(key_path)
    config_path.write_text(gatehouse_config.render_commented())
    print(f"wrote {config_path}")
    print(f"wrote {key_path} (mode 0600)")
    print(f"next: edit it, then `gatehouse --config {config_path} check`")


def cmd_check(args: argparse.Namespace) -> None:
    config = gatehouse_config.load()
    gatehouse_config.check(config)
    print(f"configuration OK ({config.source or 'defaults'})")
    for source in config["directory.ldap"]:
        servers = ", ".join(source.urls)
        print(f"directory source {source.name}: {source.kind} at {servers}")
    if config["directory.ldap"]:
        print("(`gatehouse directory test` connects to them)")


def cmd_migrate(args: argparse.Namespace) -> None:
    bootstrap.start(signing_key=True)
    bootstrap.migrate()
    print("database up to date")


def cmd_serve(args: argparse.Namespace) -> None:
    metrics_folder.prepare(gatehouse_config.load()["metrics.enabled"])  # before the workers
    bootstrap.start(signing_key=True)
    bootstrap.migrate()
    bootstrap.serve(args.host, args.port, args.workers)


def cmd_demo(args: argparse.Namespace) -> None:
    from gatehouse.demo import run_demo

    run_demo(host=args.host, port=args.port, folder=args.dir)
