"""Settings for the test suite: a throwaway secret key and OIDC signing key and a cheap Argon2
cost, then the real settings. GATEHOUSE_DATABASE_URL (set by `make test-postgres` / CI) selects
PostgreSQL."""

import os
import secrets
import tempfile
from pathlib import Path

from gatehouse.crypto import new_rsa_private_key_pem

_folder = Path(tempfile.mkdtemp(prefix="gatehouse-test-"))
(_folder / "secret.key").write_text(secrets.token_urlsafe(48))
os.environ["GATEHOUSE_SECRETS_KEY_FILE"] = str(_folder / "secret.key")
(_folder / "oidc-signing.pem").write_text(new_rsa_private_key_pem())
os.environ["GATEHOUSE_OIDC_SIGNING_KEY_FILE"] = str(_folder / "oidc-signing.pem")
os.environ["GATEHOUSE_AUTHENTICATOR_VAPID_KEY_FILE"] = str(_folder / "vapid.pem")
os.environ.setdefault("GATEHOUSE_PASSWORDS_ARGON2_TIME_COST", "1")
os.environ.setdefault("GATEHOUSE_PASSWORDS_ARGON2_MEMORY_COST", "8192")
os.environ.setdefault("GATEHOUSE_PASSWORDS_ARGON2_PARALLELISM", "1")
os.environ.setdefault("GATEHOUSE_SERVER_TRUSTED_PROXIES", "127.0.0.0/8,::1/128")
os.environ.setdefault("GATEHOUSE_DATABASE_URL", f"sqlite:///{_folder}/test.sqlite3")

from gatehouse.settings import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not Django's default shared-cache in-memory database: that one locks whole tables
    # and ignores the busy timeout, unlike the SQLite Gatehouse runs on.
    DATABASES["default"]["TEST"] = {"NAME": str(_folder / "test-db.sqlite3")}  # noqa: F405
