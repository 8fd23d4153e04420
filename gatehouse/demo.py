"""`gatehouse demo`: a throwaway demo organisation on SQLite (Riverside Health)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gatehouse import bootstrap
from gatehouse import config as gatehouse_config

ORGANISATION = "Riverside Health (demo)"
HELPDESK = "the Riverside IT helpdesk, extension 4357 (demo)"
TRUST_SITES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128"]
CAMPAIGN_DAYS = 14
WEBMAIL_HOST = "mail.demo.test"
LOGO = Path(__file__).resolve().parent / "static" / "gatehouse" / "riverside-logo.svg"
# A trust computer: send this as X-Client-Cert-SHA256 from loopback (a trusted proxy).
WARD_PC = "7d0c5b1e8a4f3c2b9e6d1a0f5c8b7e4d3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
# A public OIDC client (PKCE) to try the provider with, e.g. an RP listening on port 8765.
PORTAL = "demo-portal"
PORTAL_REDIRECT_URI = "http://127.0.0.1:8765/callback"
# username, display name, department, groups, password, admin
USERS = [
    ("alice", "Alice Adeyemi", "Clinical", ["Clinical staff"], "riverside-alice", False),
    ("bob", "Bob Brennan", "Estates", ["Estates"], "riverside-bob", False),
    (
        "carol",
        "Carol Chen",
        "Community nursing",
        ["Clinical staff", "Community"],
        "riverside-carol",
        False,
    ),
    ("helpdesk", "Harper (IT helpdesk)", "IT", ["Helpdesk"], "riverside-helpdesk", False),
    ("admin", "Ada (security admin)", "IT", ["Security admins"], "riverside-admin", True),
]


def write_config(folder: Path, host: str, port: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "secret.key"
    if not key_path.exists():
        bootstrap.write_secret_key(key_path)
    config_path = folder / "gatehouse.toml"
    config_path.write_text(
        gatehouse_config.render_commented(
            {
                "server": {
                    "public_url": f"http://{host}:{port}",
                    "trusted_proxies": ["127.0.0.0/8", "::1/128"],
                },
                "database": {"url": "sqlite:///gatehouse.sqlite3"},
                "organisation": {
                    "name": ORGANISATION,
                    "helpdesk": HELPDESK,
                    "time_zone": "Europe/London",
                    "logo": str(LOGO),
                    "accent_colour": "#005eb8",
                },
                # The learning links are left at their defaults: Gatehouse's own help pages
                # (/help/get-started, /help/iphone, /help/android); no video ships.
                # Someone is reading the demo's terminal: plain lines, not JSON.
                "log": {"format": "text"},
            }
        )
    )
    return config_path


def seed() -> None:
    """Create (or reset) the demo organisation; running it twice changes nothing."""
    from dataclasses import replace
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from gatehouse.access import policies
    from gatehouse.access.models import (
        FORWARD_AUTH,
        OIDC,
        ManagedDevice,
        NamedLocation,
        ProtectedApp,
    )
    from gatehouse.access.policyfile import default_policies
    from gatehouse.directory.models import User
    from gatehouse.enrollment.campaign import start_campaign

    with transaction.atomic():
        NamedLocation.objects.update_or_create(
            name="Trust sites", defaults={"trusted": True, "ranges": TRUST_SITES}
        )
        for username, name, department, groups, password, admin in USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.display_name = name
            user.department = department
            user.email = f"{username}@riverside.demo.test"
            user.is_staff = user.is_superuser = admin
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
        ManagedDevice.objects.update_or_create(
            fingerprint=WARD_PC, defaults={"name": "Ward 7 PC", "compliant": True}
        )
        # The mission's rule: a password alone only on a trust computer at a trust site.
        policies.replace_all([replace(p, state="on") for p in default_policies()], actor="demo")
        start_campaign(timezone.localdate() + timedelta(days=CAMPAIGN_DAYS), actor="demo")
        # Saving the app registers its OIDC client (gatehouse.providers.oidc.clients).
        ProtectedApp.objects.update_or_create(
            name=PORTAL, defaults={"kind": OIDC, "redirect_uris": [PORTAL_REDIRECT_URI]}
        )
        ProtectedApp.objects.update_or_create(
            name="Webmail", defaults={"kind": FORWARD_AUTH, "hosts": [WEBMAIL_HOST]}
        )


def banner(url: str, config_path: Path, throwaway: bool = True) -> str:
    lines = [
        "",
        f"Gatehouse demo: {ORGANISATION}",
        f"  URL: {url}/signin",
        "  Sign-ins (username / password):",
        *(f"    {u} / {p}" for u, _, _, _, p, _ in USERS),
        "  Point every other gatehouse command at this demo by exporting:",
        f"GATEHOUSE_CONFIG={config_path}",
        "  Simulate home: -H 'X-Forwarded-For: 203.0.113.7'; a trust computer (Ward 7 PC):",
        f"    -H 'X-Client-Cert-SHA256: {WARD_PC}'",
        "  A registration campaign runs: staff must add an authenticator app within "
        f"{CAMPAIGN_DAYS} days.",
        "  To add one: sign in at the URL above (this machine is a trust site), choose",
        "  'Set it up now', scan the QR code with Microsoft or Google Authenticator (or type",
        "  the setup key) and enter the 6-digit code. Or go to /security-info once signed in.",
        "  Helpdesk: gatehouse tap issue carol  (a Temporary Access Pass: for staff with no phone)",
        f"  OIDC: discovery at {url}/.well-known/openid-configuration; public client {PORTAL}",
        f"    (PKCE, redirect URI {PORTAL_REDIRECT_URI}; docs/oidc.md)",
        f"  Forward auth: the app 'Webmail' is {WEBMAIL_HOST}; ask as nginx would:",
        f"    curl -i {url}/api/authz/auth-request -H 'X-Original-Method: GET' \\",
        f"         -H 'X-Original-URL: https://{WEBMAIL_HOST}/'   (docs/proxies/nginx.md)",
        "  Stop with Ctrl-C"
        + (
            " (the demo data folder is then deleted)."
            if throwaway
            else f" (data kept in {config_path.parent})."
        ),
        "",
    ]
    return "\n".join(lines)


def run_demo(host: str, port: int, folder: str | None) -> None:
    throwaway = folder is None
    data = Path(folder or tempfile.mkdtemp(prefix="gatehouse-demo-")).resolve()
    try:
        config_path = write_config(data, host, port)
        os.environ[gatehouse_config.CONFIG_ENV] = str(config_path)
        bootstrap.start(signing_key=True)
        bootstrap.migrate()
        seed()
        print(banner(f"http://{host}:{port}", config_path, throwaway), flush=True)
        bootstrap.serve(host, port, workers=1)
    finally:
        if throwaway:
            shutil.rmtree(data, ignore_errors=True)
