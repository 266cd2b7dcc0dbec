"""Who owns a session: owner ids derived from a secret token, a browser token, or a logged-in user name.

The store only ever sees owner ids, which are HMACs of what the caller presented, keyed with the
`GATEWAY_OWNER_SECRET`: a leaked database does not reveal anybody's token, and two different kinds of
identity (an API token that happens to equal a user name) can never collide. The secret never leaves the
server: the browser keeps a random token in `gr.BrowserState`, whose encryption key Gradio sends to every
page, so that key is derived one-way from the secret (`browser_state_key`) and reveals nothing about it; export
file names use another derived key no client sees. API callers pass their own token; with auth the user name
is the identity. Without a configured secret, `resolve_owner_secret` generates a random one on first start and
keeps it in the data dir (the backup copies it), so identities survive restarts with zero configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core.errors import Unauthorized

MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 256
TOKEN_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'


def new_browser_token() -> str:
    """A browser's owner token: 128 random bits (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def owner_from_token(token: str, secret: str) -> str:
    token = (token or "").strip()
    if not token:
        raise Unauthorized(f"An owner token is required: pass a private random string of {MIN_TOKEN_CHARS}+ "
                           f"characters as `owner` (e.g. from `{TOKEN_HINT}`) and reuse it to see your sessions "
                           "again.")
    if not (MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS) or not token.isprintable():
        raise Unauthorized(f"The owner token must be {MIN_TOKEN_CHARS}–{MAX_TOKEN_CHARS} printable characters; "
                           f"short or guessable tokens are refused. Make one with `{TOKEN_HINT}` and keep it.")
    return _derive(secret, "token", token)


def owner_from_user(username: str, secret: str) -> str:
    if not username:
        raise Unauthorized("Not logged in.")
    return _derive(secret, "user", username)


def _derive(secret: str, kind: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}_{digest[:40]}"


SECRET_FILE = "owner_secret"


def derive_key(secret: str, purpose: str) -> str:
    """A key for one purpose, derived one-way from the secret (knowing it does not reveal the secret)."""
    if not secret:
        raise ValueError("the owner secret is empty: resolve it first (resolve_owner_secret)")
    return hmac.new(secret.encode(), f"ai-image-gateway/{purpose}".encode(), hashlib.sha256).hexdigest()


def browser_state_key(secret: str) -> str:
    """The key gr.BrowserState encrypts the browser's token with; Gradio puts it in the page and /config."""
    return derive_key(secret, "browser-state")[:32]


def export_key(secret: str) -> str:
    """The key that names the files handed to Gradio (never sent anywhere)."""
    return derive_key(secret, "export-names")


def resolve_owner_secret(configured: str, data_dir: Path) -> tuple[str, str]:
    """(secret, where it came from): the configured one, else the one kept in the data dir, else a new one."""
    if (configured or "").strip():
        return configured.strip(), "GATEWAY_OWNER_SECRET"
    path = Path(data_dir) / SECRET_FILE
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept, str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    temp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temp, path)  # never replaces a secret another process wrote first
    except FileExistsError:
        temp.unlink()
        return path.read_text().strip(), str(path)
    except OSError:  # a file system without hard links
        os.replace(temp, path)
        return secret, "generated"
    temp.unlink()
    return secret, "generated"
