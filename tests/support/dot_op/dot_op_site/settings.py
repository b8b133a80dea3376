"""Settings of the test OP: django-oauth-toolkit's OpenID Connect provider as a deployer
would set it up for one confidential client (the BFF under test).

Everything variable comes from the environment that serve.py (started by
tests/support/dot_op.rs) sets: DOT_OP_DIR (a fresh temporary folder: the sqlite database
and the RS256 key made at start), DOT_OP_ISSUER (https://localhost:<port>/o) and
DOT_OP_DISCOVERY ("stock": the OIDC discovery document as the toolkit writes it;
"full": with revocation_endpoint and introspection_endpoint added, see urls.py) and
DOT_OP_RFC9700 (below).
"""

import os
from pathlib import Path

STATE = Path(os.environ["DOT_OP_DIR"])
ISSUER = os.environ["DOT_OP_ISSUER"]
BASE = Path(__file__).resolve().parent.parent

SECRET_KEY = "dot-op-test-only-" + STATE.name
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
ROOT_URLCONF = "dot_op_site.urls"
WSGI_APPLICATION = "dot_op_site.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
# A throw-away OP: a fast hasher for the user's password and the hashed client secret
# (the default PBKDF2 costs a second of CPU per token request on a busy CI machine).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/accounts/login/"
# Served over TLS by gunicorn.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OIDC_RSA_PRIVATE_KEY": (STATE / "oidc-key.pem").read_text(),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OAUTH2_VALIDATOR_CLASS": "dot_op_site.claims.Validator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Your name",
        "email": "Your e-mail address",
        # Lets a client introspect with a bearer token instead of its credentials.
        "introspection": "Introspect tokens",
    },
    "DEFAULT_SCOPES": ["openid"],
    # The BFF under test listens on http://127.0.0.1:<port> (loopback).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOWED_SCHEMES": ["http", "https"],
}
# DOT_OP_RFC9700=1: the RFC 9700 (OAuth 2.0 Security BCP) behaviour gates on, as the
# toolkit's 4.0 is to default them: `iss` on the authorization response (RFC 9207) and
# advertised, S256 only, bearer tokens in the Authorization header only, no implicit or
# password grant, hashed token storage; and refresh-token reuse protection.
if os.environ.get("DOT_OP_RFC9700") == "1":
    for gate in [
        "IMPLICIT_GRANT",
        "PASSWORD_GRANT",
        "PKCE_METHOD",
        "ACCESS_TOKEN_TRANSPORT",
        "AUTHZ_RESPONSE_ISS",
        "TOKEN_STORAGE",
        "REFRESH_TOKEN",
    ]:
        OAUTH2_PROVIDER["COMPLIANT_BCP_RFC9700_" + gate] = True
    OAUTH2_PROVIDER["REFRESH_TOKEN_REUSE_PROTECTION"] = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "oauth2_provider": {"handlers": ["stderr"], "level": "DEBUG"},
        "django.request": {"handlers": ["stderr"], "level": "INFO"},
        "django.security": {"handlers": ["stderr"], "level": "INFO"},
    },
}
