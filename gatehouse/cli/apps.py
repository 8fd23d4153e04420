"""`gatehouse apps`: the apps Gatehouse protects."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, named, needs_action


def register(add: Add) -> None:
    apps_cmd = add("apps", needs_action, "Apps protected by Gatehouse (what policies target).")
    apps_sub = actions(apps_cmd)
    app_add = apps_sub.add_parser(
        "add",
        help="Add an app: forward-auth (--host, one or more) or OIDC (--redirect-uri)",
    )
    app_add.add_argument("name", help="what policies call it: letters, digits, . _ -")
    app_add.add_argument("--kind", choices=["forward_auth", "oidc"], required=True)
    app_add.add_argument("--host", action="append", help="host the proxy serves it at")
    app_add.add_argument("--redirect-uri", action="append", help="OIDC redirect URI")
    app_add.add_argument("--third-party", action="store_true", help="ask users for consent (OIDC)")
    app_add.add_argument(
        "--confidential",
        action="store_true",
        help="OIDC client with a secret (printed once), for server-side apps; else public (PKCE)",
    )
    app_add.add_argument(
        "--native",
        action="store_true",
        help="OIDC public client run on people's own computers (RFC 8252): its loopback redirect "
        "URIs may name any port; else every redirect URI matches exactly",
    )
    app_add.set_defaults(handler=cmd_apps_add)
    reissue_help = "Give a confidential OIDC client a new secret (printed once; the old one stops)"
    app_secret = apps_sub.add_parser("secret", help=reissue_help, description=reissue_help)
    app_secret.add_argument("name")
    app_secret.set_defaults(handler=cmd_apps_secret)
    apps_sub.add_parser("list", help="List the apps").set_defaults(handler=cmd_apps_list)
    app_remove = apps_sub.add_parser("remove", help="Remove an app")
    app_remove.add_argument("name")
    app_remove.set_defaults(handler=cmd_apps_remove)


def cmd_apps_add(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import protected_apps
    from gatehouse.access.models import OIDC

    try:
        app = protected_apps.save(
            actor(),
            args.name,
            args.kind,
            hosts=args.host or [],
            redirect_uris=args.redirect_uri or [],
            first_party=not args.third_party,
            confidential=args.confidential,
            native=args.native,
        )
    except protected_apps.AppError as exc:
        raise CommandError(str(exc)) from None
    print(f"added {app.kind} app {app.name}")
    if app.kind == OIDC:
        from django.conf import settings

        kind = "confidential" if app.confidential else "public, PKCE S256"
        kind += ", native: any loopback port" if app.native else ""
        print(f"client_id {app.name} ({kind}); issuer {settings.PUBLIC_URL} (docs/oidc.md)")
    if app.confidential:
        _print_client_secret(app)


def _print_client_secret(app) -> None:
    from gatehouse.providers.oidc import clients

    print(f"client secret of {app.name} (shown once; `gatehouse apps secret` makes a new one):")
    print(clients.new_secret(app))


def cmd_apps_secret(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access.models import ProtectedApp
    from gatehouse.audit import trail

    app = named(ProtectedApp, args.name, "app")
    if not app.confidential:
        raise CommandError(f"'{app.name}' is not a confidential OIDC client; it has no secret")
    trail.record(actor(), "app.secret", f"app:{app.pk}")
    _print_client_secret(app)


def cmd_apps_list(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access.models import ProtectedApp

    for app in ProtectedApp.objects.all():
        where = ", ".join(app.hosts or app.redirect_uris)
        print(f"{app.name:<24} {app.kind:<13} {where}")


def cmd_apps_remove(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import protected_apps
    from gatehouse.access.models import ProtectedApp

    protected_apps.delete(actor(), named(ProtectedApp, args.name, "app"))
    print(f"removed app {args.name}")
