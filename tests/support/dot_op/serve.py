"""Starts the test OP (django-oauth-toolkit) for one test: makes its state in DOT_OP_DIR
(an RS256 key, the sqlite database with the toolkit's tables, one user, one confidential
client for the BFF), then becomes gunicorn serving it over TLS on 127.0.0.1:DOT_OP_PORT.

Environment (set by tests/support/dot_op.rs): DOT_OP_DIR, DOT_OP_PORT, DOT_OP_ISSUER,
DOT_OP_TLS_CERT, DOT_OP_TLS_KEY, DOT_OP_BFF_ORIGIN (the client's redirect and
post-logout URIs derive from it), DOT_OP_CLIENT_ID, DOT_OP_CLIENT_SECRET, DOT_OP_USER,
DOT_OP_PASSWORD, DOT_OP_DISCOVERY (see dot_op_site/urls.py).
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_key(state: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (state / "oidc-key.pem").write_bytes(pem)


def setup() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    user = get_user_model().objects.create_user(
        username=os.environ["DOT_OP_USER"],
        password=os.environ["DOT_OP_PASSWORD"],
        first_name="Dana",
        last_name="Toolkit",
        email="dana@example.test",
    )
    origin = os.environ["DOT_OP_BFF_ORIGIN"].rstrip("/")
    Application = get_application_model()
    Application.objects.create(
        name="oidc-bff under test",
        user=user,
        client_id=os.environ["DOT_OP_CLIENT_ID"],
        # Hashed on save (the toolkit's default); the BFF holds the plain value.
        client_secret=os.environ["DOT_OP_CLIENT_SECRET"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=f"{origin}/callback",
        post_logout_redirect_uris=f"{origin}/",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )


def main() -> None:
    state = Path(os.environ["DOT_OP_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    os.chdir(HERE)
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dot_op_site.settings")
    make_key(state)
    setup()
    port = os.environ["DOT_OP_PORT"]
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "dot_op_site.wsgi:application",
        "--chdir",
        str(HERE),
        "--bind",
        f"127.0.0.1:{port}",
        "--certfile",
        os.environ["DOT_OP_TLS_CERT"],
        "--keyfile",
        os.environ["DOT_OP_TLS_KEY"],
        "--workers",
        "1",
        "--threads",
        "4",
        "--graceful-timeout",
        "1",
        # Several test OPs run at once: no shared control socket in ~/.gunicorn.
        "--no-control-socket",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
