"""Django settings, derived entirely from the validated Gatehouse configuration."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from gatehouse import config as gatehouse_config
from gatehouse import logs

CONFIG = gatehouse_config.load()
SECRET_KEYS = CONFIG.secret_keys
SECRET_KEY = SECRET_KEYS[0]
SECRET_KEY_FALLBACKS = SECRET_KEYS[1:]
DEBUG = False

_public = urlsplit(CONFIG["server.public_url"])
PUBLIC_URL = CONFIG["server.public_url"]
ALLOWED_HOSTS = [
    _public.hostname,
    "127.0.0.1",
    "localhost",
    "[::1]",
    *CONFIG["server.allowed_hosts"],
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    # Its Swagger UI files, served from Gatehouse rather than a CDN (/api/v1/docs works offline).
    "ninja",
    "gatehouse.directory",
    "gatehouse.access",
    "gatehouse.signin",
    "gatehouse.methods",
    "gatehouse.authenticator",
    "gatehouse.enrollment",
    "gatehouse.audit",
    "gatehouse.stores",
    "gatehouse.console",
    "oauth2_provider",
    "gatehouse.providers.oidc",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "gatehouse.request_text.refuse_unstorable",
    "gatehouse.signin.middleware.ClientContextMiddleware",
    "gatehouse.api.require_json",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "gatehouse.signin.middleware.SSOSessionMiddleware",
    "gatehouse.request_log.DjangoRoute",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gatehouse.errors.MethodNotAllowedPage",
]

ROOT_URLCONF = "gatehouse.urls"
CSRF_FAILURE_VIEW = "gatehouse.errors.csrf_failure"

# Gatehouse's own page assets and the API docs' Swagger UI, served by WhiteNoise straight from
# the packages' static/ folders (no collectstatic step).
STATIC_URL = "/static/"
STATICFILES_DIRS = [Path(__file__).resolve().parent / "static"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
WHITENOISE_MAX_AGE = 3600
ASGI_APPLICATION = "gatehouse.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csrf",
                "gatehouse.branding.page_context",
            ],
            "builtins": [],
        },
    }
]


def _database(url: str) -> dict:
    if url.startswith("sqlite:///"):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(CONFIG.sqlite_path),
            # WAL and a busy timeout let concurrent sign-ins queue for the writer instead of
            # failing; IMMEDIATE takes the write lock up front so no transaction is lost mid-way.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # A pool per process: under ASGI every request may run on a thread of its own, and
        # per-thread persistent connections would exhaust the server's connection slots.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 20, "timeout": 3}},
    }


DATABASES = {"default": _database(CONFIG["database.url"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = CONFIG["cache.url"]
# Redis that does not answer within this long counts as down (503 cache_unavailable, DESIGN
# §6) rather than holding every request that asks it.
REDIS_OPTIONS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = CONFIG["email.host"]
EMAIL_PORT = CONFIG["email.port"]
EMAIL_HOST_USER = CONFIG["email.username"]
EMAIL_HOST_PASSWORD = CONFIG["email.password"]
EMAIL_USE_TLS = CONFIG["email.use_tls"]
EMAIL_USE_SSL = CONFIG["email.use_ssl"]
EMAIL_TIMEOUT = CONFIG["email.timeout"]
DEFAULT_FROM_EMAIL = SERVER_EMAIL = CONFIG["email.from_address"]

AUTH_USER_MODEL = "directory.User"
PASSWORD_HASHERS = ["gatehouse.directory.hashers.ConfiguredArgon2PasswordHasher"]
# Passwords set through Gatehouse (gatehouse/directory/passwords.py).
_VALIDATION = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATION}.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": f"{_VALIDATION}.CommonPasswordValidator"},
    {
        "NAME": f"{_VALIDATION}.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "email", "display_name")},
    },
    {"NAME": "gatehouse.directory.passwords.ContextWordsValidator"},
]
ARGON2_TIME_COST = CONFIG["passwords.argon2_time_cost"]
ARGON2_MEMORY_COST = CONFIG["passwords.argon2_memory_cost"]
ARGON2_PARALLELISM = CONFIG["passwords.argon2_parallelism"]

SECURE_COOKIES = _public.scheme == "https"
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
SESSION_COOKIE_NAME = "gatehouse_session"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The OIDC provider (django-oauth-toolkit; docs/oidc.md). Its clients follow the protected apps
# of kind "oidc" (gatehouse.providers.oidc.clients); its endpoints live under /oauth/.
OIDC_SIGNING_KEYS = CONFIG.signing_keys
LOGIN_URL = "/signin"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": PUBLIC_URL,
    "OIDC_RSA_PRIVATE_KEY": OIDC_SIGNING_KEYS[0] if OIDC_SIGNING_KEYS else "",
    # Keys retired by `gatehouse oidc rotate-key` stay in the JWKS, so that ID tokens signed
    # before the rotation still verify.
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": OIDC_SIGNING_KEYS[1:],
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # An RP that names the signed-in user's own ID token logs out without a question.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # Not every token of the user: gatehouse.providers.oidc.grants revokes those of the
    # SSO session that ends.
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "OAUTH2_VALIDATOR_CLASS": "gatehouse.providers.oidc.validator.GatehouseValidator",
    # Hands the client's address and device to the validator, which re-evaluates the app's
    # policies at every refresh.
    "OAUTH2_BACKEND_CLASS": "gatehouse.providers.oidc.backend.Backend",
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Your name and username",
        "email": "Your email address",
        "groups": "The groups you belong to",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": CONFIG["oidc.access_token_lifetime"],
    "ID_TOKEN_EXPIRE_SECONDS": CONFIG["oidc.access_token_lifetime"],
    "REFRESH_TOKEN_EXPIRE_SECONDS": CONFIG["oidc.refresh_token_lifetime"],
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Two refreshes with one token at once (or a retry of a lost answer) both succeed within
    # this many seconds, each with tokens of its own (GatehouseValidator._save_bearer_token);
    # a use after it revokes the whole chain.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 10,
    # Consent, once given to a third-party app, holds while one of its tokens is valid.
    "REQUEST_APPROVAL_PROMPT": "auto",
}

LANGUAGE_CODE = "en-gb"
# Times on pages, and the campaign's days, are in the organisation's zone; stored times are UTC.
TIME_ZONE = CONFIG["organisation.time_zone"]
USE_I18N = False
USE_TZ = True

LOGGING = logs.configure(CONFIG["log.level"], CONFIG["log.format"])
