"""One login gate for every route when GATEWAY_AUTH is set: the page, the API, and the MCP server.

Gradio checks its own login (a cookie it sets after its login form) on the page and API routes, but it mounts
the MCP server beside them without that check, so with `auth=` set an agent could still chat, list and store
through MCP. `AuthGate` is an ASGI middleware in front of the whole app:
- a request with HTTP Basic credentials of a configured account is signed in as that user: the gate adds
  Gradio's own login cookie for it (so every route, including the queued calls the MCP server makes back into
  the app, sees the login) and records the user in the request state (read by ui/handlers.py for MCP calls
  that do not pass through Gradio's queue);
- wrong Basic credentials are refused (401) and counted per client (ui/throttle.py);
- an MCP route (tool calls, the tool list, `/gradio_api/mcp/schema`) without a valid login cookie or Basic
  credentials is refused with 401 and `WWW-Authenticate: Basic`, which MCP clients can answer by sending an
  `Authorization` header.
Without GATEWAY_AUTH the gate is not installed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from core.errors import RateLimited
from ui.throttle import MissThrottle

MCP_PATH = "/gradio_api/mcp"


def auth_launch_kwargs(settings) -> dict:
    """What `launch()` needs for GATEWAY_AUTH: Gradio's own login for the page and the gate in front of all."""
    accounts = accounts_from(settings.auth)
    if not accounts:
        return {}
    from starlette.middleware import Middleware

    return {"auth": list(accounts.items()),
            "app_kwargs": {"middleware": [Middleware(AuthGate, accounts=accounts, secret=settings.owner_secret)]}}


def accounts_from(setting: str) -> dict[str, str]:
    """GATEWAY_AUTH's 'user:password,user2:password2' as {user: password}."""
    pairs = (pair.split(":", 1) for pair in (setting or "").split(",") if ":" in pair)
    return {user.strip(): password for user, password in pairs if user.strip()}


class AuthGate:
    def __init__(self, app, accounts: dict[str, str], secret: str, throttle: MissThrottle | None = None):
        self.app = app
        self.accounts = dict(accounts)
        self._key = hashlib.sha256(f"gateway-auth-gate:{secret}".encode()).digest()
        self.throttle = throttle or MissThrottle(limit=20)

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or not self.accounts:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        client = (scope.get("client") or ("", 0))[0] or ""
        basic = _basic_credentials(headers.get(b"authorization", b""))
        if basic is not None:
            try:
                self.throttle.check(client)
            except RateLimited as exc:
                return await _refuse(send, exc.message, status=429)
            user = self._check(*basic)
            if user is None:
                self.throttle.miss(client)
                return await _refuse(send, "Wrong user name or password.")
            scope = self._signed_in(scope, user)
        elif MCP_PATH in scope.get("path", ""):
            user = self._cookie_user(scope, headers)
            if user is None:
                return await _refuse(send, "This server needs a login: send HTTP Basic credentials of a "
                                           "GATEWAY_AUTH account in an Authorization header.")
            scope.setdefault("state", {})["gateway_user"] = user
        return await self.app(scope, receive, send)

    def _check(self, user: str, password: str) -> str | None:
        expected = self.accounts.get(user)
        if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
            return user
        return None

    def _signed_in(self, scope, user: str):
        """The scope with Gradio's login cookie for `user` added (a token derived from the user, kept in the
        app's own token table, so repeated calls reuse one entry)."""
        app = scope.get("app")
        scope = dict(scope)
        scope["state"] = dict(scope.get("state") or {}, gateway_user=user)
        cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None)
        if cookie_id is None or tokens is None:
            return scope
        token = hmac.new(self._key, user.encode(), hashlib.sha256).hexdigest()
        tokens[token] = user
        cookie = f"access-token-{cookie_id}={token}".encode()
        headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"cookie"]
        old = dict(scope.get("headers") or []).get(b"cookie")
        headers.append((b"cookie", cookie + (b"; " + old if old else b"")))
        scope["headers"] = headers
        return scope

    @staticmethod
    def _cookie_user(scope, headers) -> str | None:
        app = scope.get("app")
        cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None) or {}
        if cookie_id is None:
            return None
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}") and value in tokens:
                return tokens[value]
        return None


def _basic_credentials(value: bytes) -> tuple[str, str] | None:
    scheme, _, encoded = value.decode("latin-1").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")  # malformed: a failed login
    return (user, password) if sep else ("", "")


async def _refuse(send, message: str, status: int = 401) -> None:
    body = json.dumps({"error": "unauthorized" if status == 401 else "rate_limited", "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Basic realm="AI image gateway", charset="UTF-8"')]})
    await send({"type": "http.response.body", "body": body})
