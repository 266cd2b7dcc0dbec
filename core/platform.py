"""Where the gateway runs — a Hugging Face Space, ZeroGPU, a Docker image or a plain machine — and what follows.

Every deployment-specific rule lives here, read from the environment the platform sets: `SPACE_ID` (every
Space), `SPACES_ZERO_GPU=true` (ZeroGPU), `GATEWAY_IN_DOCKER=1` (set by our Dockerfile), `HF_HUB_OFFLINE`
(weights only from the local cache). `listen_kwargs` passes a host or port to Gradio only when
`GATEWAY_HOST`/`GATEWAY_PORT` are set, so Gradio's own defaults and its `GRADIO_SERVER_NAME`/`GRADIO_SERVER_PORT`
variables apply otherwise (127.0.0.1 on a laptop, 0.0.0.0 on Spaces and in our image). `AbandonedEventLoops`
keeps Gradio's start-up from printing event-loop tracebacks. Only the standard library is imported: app.py asks
`on_zerogpu()` before anything may touch CUDA.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def _env(environ) -> dict:
    return os.environ if environ is None else environ


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


def space_id(environ=None) -> str:
    """The Space's `owner/name` when running on a Hugging Face Space, else ''."""
    return _env(environ).get("SPACE_ID", "").strip()


def on_space(environ=None) -> bool:
    return bool(space_id(environ))


def space_oauth(environ=None) -> bool:
    """True on a Space whose README asks for `hf_oauth: true`: Spaces then set OAUTH_CLIENT_ID, and Gradio's
    "Sign in with Hugging Face" uses the real OAuth flow only where SYSTEM=spaces (elsewhere it signs in as the
    machine's own Hugging Face login)."""
    env = _env(environ)
    return on_space(environ) and env.get("SYSTEM") == "spaces" and bool(env.get("OAUTH_CLIENT_ID"))


def on_zerogpu(environ=None) -> bool:
    """True on a ZeroGPU Space (GPU work must run inside `spaces.GPU` functions)."""
    return _env(environ).get("SPACES_ZERO_GPU", "").strip().lower() == "true"


def in_docker(environ=None) -> bool:
    return _flag(_env(environ).get("GATEWAY_IN_DOCKER")) or (environ is None and Path("/.dockerenv").exists())


def target(environ=None) -> str:
    """One word for the deployment: zerogpu, space, docker or local."""
    if on_zerogpu(environ):
        return "zerogpu"
    if on_space(environ):
        return "space"
    return "docker" if in_docker(environ) else "local"


def hub_offline(environ=None) -> bool:
    """True when the Hugging Face Hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    env = _env(environ)
    return _flag(env.get("HF_HUB_OFFLINE")) or _flag(env.get("TRANSFORMERS_OFFLINE"))


def hub_endpoint(environ=None) -> str:
    return (_env(environ).get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def listen_kwargs(settings) -> dict:
    """`server_name`/`server_port` for `launch()`, only for what GATEWAY_HOST / GATEWAY_PORT set."""
    kwargs = {}
    if (settings.host or "").strip():
        kwargs["server_name"] = settings.host.strip()
    if int(settings.port or 0) > 0:
        kwargs["server_port"] = int(settings.port)
    return kwargs


def listen_description(settings, environ=None) -> str:
    """Where the server will listen, in words, for the start-up block."""
    env = _env(environ)
    kwargs = listen_kwargs(settings)
    host = kwargs.get("server_name") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = kwargs.get("server_port") or env.get("GRADIO_SERVER_PORT") or "7860 (or the next free port)"
    source = "GATEWAY_HOST/PORT" if kwargs else "Gradio's defaults / GRADIO_SERVER_*"
    return f"{host}:{port} ({source})"


def secret_hint(environ=None) -> str:
    """Where to set GATEWAY_OWNER_SECRET on this platform, for the log when it had to be generated."""
    sid = space_id(environ)
    if sid:
        return (f"set it as a Secret (not a Variable: variables are public) under https://huggingface.co/spaces/{sid}"
                "/settings → Variables and secrets → New secret, name GATEWAY_OWNER_SECRET")
    if in_docker(environ):
        return "pass it with `docker run -e GATEWAY_OWNER_SECRET=…` (or keep the data volume, which holds it)"
    return "set GATEWAY_OWNER_SECRET in the environment to choose it yourself"


class AbandonedEventLoops:
    """Closes the asyncio event loops this thread creates and abandons between `__init__` and `close()`.

    Gradio makes its asyncio locks with `gradio.utils.safe_get_lock`, which outside a running loop creates a new
    loop and sets it as the thread's loop each time, leaving the previous one unclosed (eleven while the app is
    built and launched). When the cycle collector later finalises such a loop after its self-pipe socket, Python
    prints "Exception ignored in BaseEventLoop.__del__ … ValueError: Invalid file descriptor: -1" (three at each
    start on a Space). Closed while their sockets are still open, they finalise silently. Only loops made on this
    thread are tracked; the thread's current loop (the last one made) and running loops are left alone."""

    def __init__(self):
        self._thread = threading.get_ident()
        self._original = asyncio.new_event_loop
        self.created: list = []
        asyncio.new_event_loop = self._new_event_loop

    def _new_event_loop(self):
        loop = self._original()
        if threading.get_ident() == self._thread:
            self.created.append(loop)
        return loop

    def close(self) -> int:
        """Stop tracking; close every abandoned loop; returns how many were closed."""
        if asyncio.new_event_loop == self._new_event_loop:
            asyncio.new_event_loop = self._original
        closed = 0
        for loop in self.created[:-1]:
            if not loop.is_closed() and not loop.is_running():
                loop.close()
                closed += 1
        self.created = self.created[-1:]
        return closed
