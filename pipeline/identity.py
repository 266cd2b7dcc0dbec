"""Who owns a session: owner ids derived from a secret token, a browser token, or a logged-in user name.

The store only ever sees owner ids, which are HMACs of what the caller presented, keyed with the
`GATEWAY_OWNER_SECRET`: a leaked database does not reveal anybody's token, and two different kinds of
identity (an API token that happens to equal a user name) can never collide. The browser keeps a random
token in `gr.BrowserState` (encrypted with the same fixed secret, so it survives restarts); API callers pass
their own token; with auth the user name is the identity.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.errors import Unauthorized

MIN_TOKEN_CHARS = 8
MAX_TOKEN_CHARS = 256


def new_browser_token() -> str:
    return secrets.token_urlsafe(24)


def owner_from_token(token: str, secret: str) -> str:
    token = (token or "").strip()
    if not token:
        raise Unauthorized("An owner token is required: pass any private string of 8+ characters as `owner` "
                           "and reuse it to see your sessions again.")
    if not (MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS) or not token.isprintable():
        raise Unauthorized(f"The owner token must be {MIN_TOKEN_CHARS}–{MAX_TOKEN_CHARS} printable characters.")
    return _derive(secret, "token", token)


def owner_from_user(username: str, secret: str) -> str:
    if not username:
        raise Unauthorized("Not logged in.")
    return _derive(secret, "user", username)


def _derive(secret: str, kind: str, value: str) -> str:
    digest = hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}_{digest[:40]}"
